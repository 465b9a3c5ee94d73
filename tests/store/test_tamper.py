"""Raw SQL edits to the store: `audit verify` names the first bad entry and what is wrong.

The story is loaded into an empty store, so its event n is log entry n (see STORY).
"""

from __future__ import annotations

import json
import re
from typing import Any

import pytest
from sqlalchemy import Connection, text
from store_support import STORY, assert_refused, preload, raw_sql

N = len(STORY)


def _swap_seq(table: str, a: int, b: int) -> list[str]:
    # Through a free number: the seq columns are unique, checked row by row.
    return [
        f"UPDATE {table} SET seq = -1 WHERE seq = {a}",
        f"UPDATE {table} SET seq = {a} WHERE seq = {b}",
        f"UPDATE {table} SET seq = {b} WHERE seq = -1",
    ]


def _edit_section_text(connection: Connection) -> None:
    sections = json.loads(connection.execute(text("SELECT sections FROM terms")).scalar_one())
    sections[0]["text"] = "Content may train models."
    connection.execute(text("UPDATE terms SET sections = :s"), {"s": json.dumps(sections)})


def _flip_setting(connection: Connection) -> None:
    value = connection.execute(text("SELECT value FROM settings WHERE seq = 5")).scalar_one()
    connection.execute(text("UPDATE settings SET value = :v WHERE seq = 5"), {"v": not value})


_CONTENT_COLUMNS = "seq, digest, id, kind, account, owner, created_at, derived_from"
_INTRUDER = f"'{'0' * 64}', 'intruder', 'audio', 'acme', 'ann', 0, '[]'"

# name -> (raw SQL, or a function of a connection; the entry named; the word that says what is wrong)
TAMPERING = {
    "consent field edited": ("UPDATE consents SET status = 'refused' WHERE id = 'c1'", 10, "edited"),
    "setting value edited": (_flip_setting, 5, "edited"),
    "terms section JSON edited": (_edit_section_text, 1, "edited"),
    "content row deleted": ("DELETE FROM contents WHERE id = 'm1-audio'", 11, "deleted"),
    "log entry deleted": ("DELETE FROM log WHERE seq = 7", 7, "missing"),
    "two rows reordered": (_swap_seq("contents", 11, 12), 11, "out of order"),
    "two log entries swapped": (_swap_seq("log", 8, 9), 8, "out of order"),
    "log hash edited": (f"UPDATE log SET hash = '{'f' * 64}' WHERE seq = 6", 6, "edited"),
    "row inserted past the head": (
        f"INSERT INTO accounts (seq, digest, id) VALUES ({N + 1}, '{'0' * 64}', 'intruder')",
        N + 1,
        "inserted",
    ),
}
# Subtler cases, where only the verifier's logic is at stake: one backend is enough.
MORE_TAMPERING = {
    "terms section JSON broken": ("UPDATE terms SET sections = '[{'", 1, "edited"),
    "extra data added": ("UPDATE accounts SET extra = '{\"x\": 1}'", 2, "edited"),
    "erasure row deleted": ("DELETE FROM erasures", 14, "deleted"),
    "last log entry deleted": (f"DELETE FROM log WHERE seq = {N}", N, "deleted"),
    "rows of two tables reordered": (
        ["UPDATE accounts SET seq = -1", "UPDATE groups SET seq = 2", "UPDATE accounts SET seq = 3"],
        2,
        "out of order",
    ),
    "row inserted on a taken entry, read after it": (
        f"INSERT INTO contents ({_CONTENT_COLUMNS}) VALUES (4, {_INTRUDER})",
        4,
        "inserted",
    ),
    "row inserted on a taken entry, read before it": (
        f"INSERT INTO accounts (seq, digest, id) VALUES (12, '{'0' * 64}', 'intruder')",
        12,
        "inserted",
    ),
}


def _tamper(url: str, tamper: Any) -> None:
    with raw_sql(url) as connection:
        if callable(tamper):
            tamper(connection)
        else:
            for statement in [tamper] if isinstance(tamper, str) else tamper:
                connection.execute(text(statement))


def _assert_names(result: Any, entry: int, what: str) -> None:
    message = assert_refused(result, what)
    assert re.findall(r"entry (\d+)", message)[0] == str(entry), message


def test_untouched_store_verifies(cli):
    preload(cli.url, STORY)
    assert f"log verified: {N} entries" in cli("audit", "verify", check=True).stdout


@pytest.mark.parametrize(("tamper", "entry", "what"), TAMPERING.values(), ids=TAMPERING.keys())
def test_verify_names_the_tampered_entry(cli, tamper, entry, what):
    preload(cli.url, STORY)
    _tamper(cli.url, tamper)
    _assert_names(cli("audit", "verify"), entry, what)


@pytest.mark.parametrize(("tamper", "entry", "what"), MORE_TAMPERING.values(), ids=MORE_TAMPERING.keys())
def test_verify_names_the_entry_of_subtler_tampering(sqlite_cli, tamper, entry, what):
    preload(sqlite_cli.url, STORY)
    _tamper(sqlite_cli.url, tamper)
    _assert_names(sqlite_cli("audit", "verify"), entry, what)
