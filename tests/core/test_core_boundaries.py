"""The core's public names, and its promise to import nothing else of the package."""

from __future__ import annotations

import ast
from pathlib import Path

import consentgate.core

CORE = Path(consentgate.core.__file__).parent


def test_all_is_sorted_and_resolves():
    assert consentgate.core.__all__ == sorted(consentgate.core.__all__)
    assert all(getattr(consentgate.core, name) for name in consentgate.core.__all__)


def test_core_imports_only_itself_the_model_and_the_standard_library():
    for path in CORE.glob("*.py"):
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.ImportFrom) and node.level:
                assert node.level == 1 or (node.module or "").startswith("model"), (
                    f"{path.name}: {node.module}"
                )
            elif isinstance(node, ast.ImportFrom | ast.Import):
                names = [node.module] if isinstance(node, ast.ImportFrom) else [a.name for a in node.names]
                assert not any((name or "").startswith("consentgate") for name in names), path.name
