"""Fixtures of the store tests (helpers live in ``store_support``)."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from store_support import STORY, jsonl


@pytest.fixture
def write(tmp_path: Path) -> Callable[[str, list[Any]], Path]:
    """Write a JSON Lines file into the test's folder; return its path."""

    def _write(name: str, lines: list[Any]) -> Path:
        path = tmp_path / name
        path.write_text(jsonl(lines), encoding="utf-8")
        return path

    return _write


@pytest.fixture
def story(write: Callable[[str, list[Any]], Path]) -> Path:
    """The story as a file."""
    return write("story.jsonl", STORY)
