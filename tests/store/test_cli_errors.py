"""The command line's manners: one clear line on errors, tracebacks behind --debug,
exit 2 on misuse, and help that lists every command."""

from __future__ import annotations

import subprocess
import sys
from typing import Any

import pytest
import typer.main
from store_support import assert_refused

from consentgate.cli.app import app

ROOT: Any = typer.main.get_command(app)
GROUPS = {name: command for name, command in ROOT.commands.items() if hasattr(command, "commands")}


def consentgate(*args: str, cwd: object = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "consentgate", *args], capture_output=True, text=True, cwd=cwd, timeout=60
    )


def test_a_store_in_a_missing_folder_is_one_clear_line(tmp_path):
    result = consentgate("--db", "nonexistent-folder/x.db", "init", cwd=tmp_path)
    assert_refused(result, "nonexistent-folder", "does not exist")
    assert not (tmp_path / "nonexistent-folder").exists()


def test_debug_shows_the_traceback(tmp_path):
    result = consentgate("--db", "nonexistent-folder/x.db", "--debug", "init", cwd=tmp_path)
    assert result.returncode != 0
    assert "Traceback (most recent call last)" in result.stderr
    assert "StoreError" in result.stderr


@pytest.mark.parametrize(
    "args",
    [("load", "missing.jsonl"), ("audit", "verify"), ("audit", "head")],
    ids=["unreadable file", "verify", "head"],
)
def test_errors_are_one_line_without_traceback(bare_cli, args):
    assert_refused(bare_cli(*args), "consentgate: error: ")


@pytest.mark.parametrize(
    "args",
    [("load",), ("no-such-command",), ("load", "--no-such-option", "x")],
    ids=["missing argument", "unknown command", "unknown option"],
)
def test_misuse_exits_2(bare_cli, args):
    result = bare_cli(*args)
    assert result.returncode == 2
    assert "Traceback" not in result.stderr


def test_help_lists_every_command():
    shown = consentgate("--help")
    assert shown.returncode == 0
    assert {"init", "load", "audit"} <= set(ROOT.commands)
    for name in ROOT.commands:
        assert f" {name} " in shown.stdout, name


@pytest.mark.parametrize("group", sorted(GROUPS))
def test_help_of_a_group_lists_its_commands(group):
    shown = consentgate(group, "--help")
    assert shown.returncode == 0
    for name in GROUPS[group].commands:
        assert f" {name} " in shown.stdout, name
