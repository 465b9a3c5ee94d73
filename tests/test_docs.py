"""Docs that fall behind the code fail here."""

from __future__ import annotations

import tomllib
from pathlib import Path

import pytest

from consentgate.cli.app import app
from consentgate.core.decision import SETTING_LEVELS
from consentgate.model.vocab import REASON_CODES

ROOT = Path(__file__).resolve().parents[1]
INTERFACE = (ROOT / "docs" / "interface.md").read_text()


def _command_names() -> list[str]:
    names = [command.name or command.callback.__name__ for command in app.registered_commands]
    for group in app.registered_groups:
        names += [f"{group.name} {c.name}" for c in group.typer_instance.registered_commands]
    return names


@pytest.mark.parametrize("command", _command_names())
def test_every_command_is_documented(command):
    assert f"`{command}" in INTERFACE


@pytest.mark.parametrize("code", REASON_CODES)
def test_every_reason_code_is_documented(code):
    assert f"`{code}`" in INTERFACE


@pytest.mark.parametrize("level", SETTING_LEVELS)
def test_every_setting_level_is_documented(level):
    assert f"`{level}`" in INTERFACE


def test_every_policy_key_is_documented():
    policy = tomllib.loads((ROOT / "src" / "consentgate" / "default_policy.toml").read_text())
    for section, values in policy.items():
        for key in values:
            documented = f"`{section}.{key}`" in INTERFACE or f"`{section}.{key}." in INTERFACE
            assert documented or section == "settings", f"{section}.{key}"
    assert "`settings.defaults.\"KEY\"`" in INTERFACE


def test_readme_quick_start_is_the_two_commands():
    readme = (ROOT / "README.md").read_text()
    assert "make demo" in readme and "make test" in readme
    assert (ROOT / ".ci" / "run").read_text().strip().endswith("make test")
