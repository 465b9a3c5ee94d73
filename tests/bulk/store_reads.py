"""Helpers of the tests that read a store's state as tables."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from consentgate.bulk import state_tables_from_store


def seed_lines(examples: Path) -> list[bytes]:
    return [line for line in (examples / "seed-story.jsonl").read_bytes().splitlines() if line.strip()]


def state_of(store: Any, **options: Any) -> Any:
    with store.read() as connection:
        return state_tables_from_store(connection, **options)


def assert_same_tables(one: Any, other: Any) -> None:
    for name, table in one.as_dict().items():
        assert table.equals(other.as_dict()[name]), name


# The table each reference column of a state points into (settings' by their scope).
_POINTS_TO = {
    ("items", "account_ref"): "accounts", ("items", "owner_ref"): "people", ("items", "meeting_ref"): "meetings",
    ("user_groups", "user_ref"): "people", ("user_groups", "group_ref"): "groups",
    ("acceptances", "account_ref"): "accounts", ("consents", "subject_ref"): "people",
    ("consents", "meeting_ref"): "meetings", ("participants", "meeting_ref"): "meetings",
    ("participants", "subject_ref"): "people",
}
_KEYED = ("people", "meetings", "accounts", "groups")


def _plain(table: Any) -> list[dict[str, Any]]:
    return [{name: value for name, value in row.items()} for row in table.to_pylist()]


def _resolved(tables: Any) -> dict[str, Any]:
    """A state's tables as rows whose references are the ids referred to (and the keyed
    tables as each id's first row): the same for two states that number things apart."""
    state = tables.as_dict()
    ids = {name: state[name]["id"].to_pylist() for name in _KEYED}
    resolved: dict[str, Any] = {}
    for name in _KEYED:
        firsts: dict[str, Any] = {}
        for row in _plain(state[name]):
            firsts.setdefault(row["id"], row)
        resolved[name] = firsts
    for name, table in state.items():
        if name in _KEYED:
            continue
        rows = _plain(table)
        for row in rows:
            for column in list(row):
                target = _POINTS_TO.get((name, column))
                if name == "settings" and column == "target_ref":
                    target = {"account": "accounts", "group": "groups"}.get(row["scope"], "people")
                if target is not None and row[column] is not None:
                    row[column] = ids[target][row[column]]
        resolved[name] = rows
    return resolved


def assert_same_state(one: Any, other: Any) -> None:
    """``one`` and ``other`` hold the same state, whatever rows their people, meetings,
    accounts and groups take."""
    first, second = _resolved(one), _resolved(other)
    for name in first:
        assert first[name] == second[name], name
