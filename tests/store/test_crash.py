"""A load killed with SIGKILL half-way leaves the store as it was; running it again completes it."""

from __future__ import annotations

import json
import signal
import subprocess
import time
from pathlib import Path

import pytest
from sqlalchemy import text
from store_support import STORY, head, preload, raw_sql

# Several seconds of loading on this machine (about 40k events/s): the kill comes after
# about one, so the load is always caught in the middle.
EVENTS = 200_000
ACCOUNTS = 500


@pytest.fixture(scope="module")
def big_file(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("crash") / "big.jsonl"
    with path.open("w") as out:
        for i in range(ACCOUNTS):
            out.write(json.dumps({"type": "account", "id": f"acct-{i}"}) + "\n")
        for i in range(EVENTS - ACCOUNTS):
            out.write(
                json.dumps(
                    {
                        "type": "content",
                        "id": f"item-{i}",
                        "kind": "chat",
                        "account": f"acct-{i % ACCOUNTS}",
                        "owner": f"user-{i % 997}",
                        "created_at": "2023-08-10T08:00:00Z",
                    }
                )
                + "\n"
            )
    return path


def _wal_size(wal: Path) -> int:
    return wal.stat().st_size if wal.exists() else 0


def _writing(url: str, wal: Path, wal_before: int) -> bool:
    """Whether a load holds the store's write transaction and has sent it rows."""
    if url.startswith("sqlite"):
        return _wal_size(wal) > wal_before + 1_000_000
    with raw_sql(url) as connection:
        return bool(
            connection.execute(
                text(
                    # A transaction with an id of its own has written rows.
                    "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database()"
                    " AND backend_xid IS NOT NULL AND pid <> pg_backend_pid()"
                )
            ).scalar_one()
        )


def _kill_midway(process: subprocess.Popen[str], url: str, wal: Path, wal_before: int) -> None:
    started = time.monotonic()
    while time.monotonic() < started + 60:
        if process.poll() is not None:
            pytest.fail("inconclusive: the load finished before it could be killed; make the file bigger")
        if time.monotonic() - started >= 0.5 and _writing(url, wal, wal_before):
            process.send_signal(signal.SIGKILL)
            process.wait()
            return
        time.sleep(0.02)
    process.kill()
    pytest.fail("the load never started writing")


def test_killed_load_leaves_the_store_as_it_was(cli, big_file, tmp_path):
    before = preload(cli.url, STORY)
    wal = tmp_path / "store.db-wal"
    wal_before = _wal_size(wal)
    load = cli.popen("load", str(big_file), stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    _kill_midway(load, cli.url, wal, wal_before)
    assert load.returncode == -signal.SIGKILL
    assert head(cli) == before
    assert f"log verified: {len(STORY)} entries" in cli("audit", "verify", check=True).stdout
    again = cli("load", str(big_file), check=True)
    assert f"loaded {EVENTS} new event(s)" in again.stdout
    assert f"log verified: {len(STORY) + EVENTS} entries" in cli("audit", "verify", check=True).stdout
