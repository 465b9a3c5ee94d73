"""Loads running at once append to one chain: none fails, none forks the log."""

from __future__ import annotations

import json
import subprocess

from store_support import head

from consentgate import Store, init_store
from consentgate.store import load_lines, read_head
from consentgate.store.engine import BUSY_TIMEOUT_MS

LOADS = 4
EVENTS = 4500  # more than two batches each, so the loads' transactions overlap


def test_four_loads_at_once_keep_one_chain(cli, tmp_path):
    paths = []
    for n in range(LOADS):
        path = tmp_path / f"part-{n}.jsonl"
        lines = [{"type": "account", "id": f"acct-{n}"}]
        lines += [
            {
                "type": "content",
                "id": f"item-{n}-{i}",
                "kind": "chat",
                "account": f"acct-{n}",
                "owner": f"user-{i % 50}",
                "created_at": "2023-08-10T08:00:00Z",
            }
            for i in range(EVENTS - 1)
        ]
        path.write_text("".join(json.dumps(line) + "\n" for line in lines))
        paths.append(path)
    loads = [cli.popen("load", str(path), stdout=subprocess.PIPE, stderr=subprocess.PIPE) for path in paths]
    outcomes = [(load.communicate(timeout=120)[1], load.returncode) for load in loads]
    assert outcomes == [("", 0)] * LOADS
    assert f"log verified: {LOADS * EVENTS} entries" in cli("audit", "verify", check=True).stdout
    assert head(cli)[0] == LOADS * EVENTS


def test_a_load_beside_a_reader_leaves_writers_waiting_for_the_lock(tmp_path):
    """A load's closing checkpoint does not wait for readers; the connection it used
    goes back to the pool still waiting for the lock as every writer does."""
    store = Store(f"sqlite:///{tmp_path / 'store.db'}")
    init_store(store)
    try:
        with store.read() as connection:
            read_head(connection)
            load_lines(store, [json.dumps({"type": "account", "id": "a1"}).encode()], "one.jsonl")
            assert read_head(connection)[0] == 0  # the reader's snapshot is unchanged
        for _ in range(3):  # every pooled connection
            with store.write() as connection:
                assert connection.exec_driver_sql("PRAGMA busy_timeout").scalar() == BUSY_TIMEOUT_MS
    finally:
        store.dispose()
