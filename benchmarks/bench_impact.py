"""Impact of one subject's withdrawal: 10,000 items across 20 datasets.

    python benchmarks/bench_impact.py [--items 10000 --datasets 20]

One person owns N chat items in a small synthetic world; 20 datasets are built from the
store; the person withdraws; ``impact --subject`` is timed in process (the service call
an API worker makes, cold and with a warm Decider) and as a command, end to end. The
floor beside it: reading the candidates out of the 20 manifests alone.
"""

from __future__ import annotations

import argparse
import io
import json
import subprocess
import sys
from collections.abc import Callable
from typing import Any

from _common import OUT, fresh_name, machine, table, timed

from consentgate import Decider, Store, init_store, load_events, service
from consentgate.core import Policy
from consentgate.datasets.impact import _candidates
from consentgate.model.times import parse_time
from consentgate.synth import WorldSize, write_world

REPEATS = 5


def best_of(times: int, function: Callable[[], Any]) -> tuple[float, Any]:
    """The shortest of ``times`` calls, and what the last call returned: the machine is shared."""
    runs = [timed(function) for _ in range(times)]
    return min(seconds for seconds, _ in runs), runs[-1][1]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--items", type=int, default=10_000)
    parser.add_argument("--datasets", type=int, default=20)
    args = parser.parse_args()
    OUT.mkdir(exist_ok=True)
    store = Store(f"sqlite:///{OUT / fresh_name('impact')}.db")
    init_store(store)
    world = io.BytesIO()
    write_world(WorldSize(subjects=1000, items=20_000, consents=5000, meetings=500, seed=2), world)
    world.seek(0)
    load_events(store, world, "world")
    star = [{"type": "consent", "id": "star-yes", "subject": "user-1", "purpose": "ai.training",
             "status": "given", "at": "2023-01-05T00:00:00Z"}]
    star += [{"type": "content", "id": f"star-{n}", "kind": "chat", "account": "acct-1", "owner": "user-1",
              "created_at": "2023-02-01T00:00:00Z"} for n in range(args.items)]
    load_events(store, io.BytesIO("".join(json.dumps(e) + "\n" for e in star).encode()), "star")
    policy = Policy.default()
    folders = []
    for n in range(args.datasets):
        folder = OUT / fresh_name(f"ds{n}")
        service.build_dataset(store, f"d{n}", "ai.training", folder, policy, at=parse_time("2023-06-01T00:00:00Z"))
        folders.append(folder)
    withdrawal = {"type": "consent", "id": "star-no", "subject": "user-1", "purpose": "ai.training",
                  "status": "withdrawn", "at": "2023-07-01T00:00:00Z"}
    load_events(store, io.BytesIO(json.dumps(withdrawal).encode()), "withdrawal")
    at = parse_time("2023-08-01T00:00:00Z")
    seconds, result = best_of(REPEATS, lambda: service.impact(store, policy, subject="user-1", at=at))
    affected = sum(d["count"] for d in result["datasets"])
    decider = Decider(store, policy)
    warm_s, warm = best_of(REPEATS, lambda: service.impact(store, policy, subject="user-1", at=at, decider=decider))
    assert warm == result
    floor_s, _ = best_of(REPEATS, lambda: [_candidates(str(f), "user-1", [], None) for f in folders])
    command = [sys.executable, "-m", "consentgate", "--db", str(store.engine.url), "impact", "--subject", "user-1",
               "--at", "2023-08-01T00:00:00Z", "--json"]
    cli_s, _ = best_of(3, lambda: subprocess.run(command, check=True, capture_output=True))
    start_s, _ = best_of(3, lambda: subprocess.run([sys.executable, "-c", "pass"], check=True))
    rows = [
        (f"impact --subject, in process ({affected:,} dataset items found; best of {REPEATS})",
         f"{seconds * 1000:.0f} ms", "≤ 200 ms",
         f"reading the candidates from {args.datasets} manifests: {floor_s * 1000:.0f} ms"),
        ("impact --subject, in process with a warm Decider (an API worker's)", f"{warm_s * 1000:.0f} ms", "", ""),
        ("impact --subject, the command end to end (best of 3)", f"{cli_s * 1000:.0f} ms", "",
         f"starting Python alone: {start_s * 1000:.0f} ms"),
    ]
    print(f"## Impact ({args.items:,} items of one subject across {args.datasets} datasets)\n")
    print(f"Machine: {machine()}\n")
    print(table(rows, ("what", "time", "goal", "floor in the same run")))


if __name__ == "__main__":
    main()
