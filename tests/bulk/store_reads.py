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
