"""The store's state read as Arrow columns (ADBC) is the state read row by row, as of one log entry.

Small stores are read row by row unless asked otherwise, so every test here asks.
"""

from __future__ import annotations

import json
from typing import Any

import pytest
from store_reads import assert_same_tables, seed_lines, state_of

from consentgate.bulk import state_tables_from_store
from consentgate.store import load_lines, read_head


def line(**event: Any) -> bytes:
    return json.dumps(event).encode()


@pytest.mark.backends
def test_columns_and_rows_read_the_same_tables(store, examples):
    load_lines(store, seed_lines(examples), "seed-story.jsonl")
    assert_same_tables(state_of(store, columnar=True), state_of(store, columnar=False))


@pytest.mark.backends
def test_a_column_that_starts_with_nulls_keeps_its_later_values(store):
    # SQLite's driver infers a column's type from the rows it reads first: thousands of
    # consents without a meeting, expiry or method come before one that has them.
    plain = [line(type="consent", id=f"c{n}", subject=f"u{n}", purpose="ai.training", status="given",
                  at="2023-01-01T00:00:00Z") for n in range(3000)]
    events = [line(type="account", id="a1"), line(type="meeting", id="m1", account="a1"), *plain,
              line(type="consent", id="last", subject="u1", purpose="ai.training", status="given", meeting="m1",
                   by="admin", method="admin_on_behalf", at="2023-01-02T00:00:00Z",
                   expires_at="2024-01-01T00:00:00Z")]
    load_lines(store, events, "consents.jsonl")
    consents = state_of(store, columnar=True).consents.to_pylist()
    assert consents[-1]["meeting"] == "m1"
    assert consents[-1]["expires"] is not None
    assert consents[-1]["self_given"] is False
    assert_same_tables(state_of(store, columnar=True), state_of(store, columnar=False))


@pytest.mark.backends
@pytest.mark.parametrize("columnar", [True, False])
def test_the_state_is_the_one_at_the_log_head_read_before(store, examples, columnar):
    lines = seed_lines(examples)
    load_lines(store, lines[:40], "first-part.jsonl")
    with store.read() as connection:
        seq, _ = read_head(connection)
        before = state_tables_from_store(connection, head=seq, columnar=columnar)
        load_lines(store, lines[40:], "the-rest.jsonl")  # committed by another connection
        again = state_tables_from_store(connection, head=seq, columnar=columnar)
    assert_same_tables(again, before)
    assert state_of(store).items.num_rows > before.items.num_rows


@pytest.mark.parametrize("ahead", [False, True])
def test_the_store_is_read_in_the_order_its_tables_are_used(store, examples, ahead):
    """The reader reads ahead in the order of ``_READS``: a table asked for before the
    ones listed ahead of it would wait for them all. Where it reads ahead, the lines are
    asked for on a thread of their own, still in that order."""
    from consentgate.bulk import _store
    from consentgate.bulk._columnar import event_reader

    load_lines(store, seed_lines(examples), "seed-story.jsonl")
    asked: list[str] = []
    with store.read() as connection, event_reader(connection, _store._READS, columnar=False) as read:
        class Recording:
            def __call__(self, type_: str) -> Any:
                asked.append(type_)
                return read(type_)

        recording = Recording()
        recording.ahead = ahead  # type: ignore[attr-defined]
        tables = _store._state_tables(recording, None)  # type: ignore[arg-type]
    assert_same_tables(tables, state_of(store))
    assert asked == list(_store._READS)
