"""Loads running at once append to one chain: none fails, none forks the log."""

from __future__ import annotations

import json
import subprocess

from store_support import head

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
