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
import resource
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


def best_of(times: int, function: Callable[[], Any]) -> tuple[float, float, Any]:
    """The shortest of ``times`` calls, the CPU seconds of that call (this process's and its
    children's), and what the last call returned: the machine is shared, so the CPU time
    shows what waiting for a core added."""
    runs = []
    for _ in range(times):
        before = _cpu()
        seconds, value = timed(function)
        runs.append((seconds, _cpu() - before, value))
    seconds, cpu, _ = min(runs, key=lambda run: run[0])
    return seconds, cpu, runs[-1][2]


def _cpu() -> float:
    own, children = resource.getrusage(resource.RUSAGE_SELF), resource.getrusage(resource.RUSAGE_CHILDREN)
    return own.ru_utime + own.ru_stime + children.ru_utime + children.ru_stime


def _ms(seconds: float, cpu: float) -> str:
    return f"{seconds * 1000:.0f} ms (CPU {cpu * 1000:.0f} ms)"


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
    seconds, cpu, result = best_of(REPEATS, lambda: service.impact(store, policy, subject="user-1", at=at))
    affected = sum(d["count"] for d in result["datasets"])
    decider = Decider(store, policy)
    warm = best_of(REPEATS, lambda: service.impact(store, policy, subject="user-1", at=at, decider=decider))
    assert warm[2] == result
    floor_s, _, _ = best_of(REPEATS, lambda: [_candidates(str(f), "user-1", [], None) for f in folders])
    command = [sys.executable, "-m", "consentgate", "--db", str(store.engine.url), "impact", "--subject", "user-1",
               "--at", "2023-08-01T00:00:00Z", "--json"]
    cli = best_of(3, lambda: subprocess.run(command, check=True, capture_output=True))
    start_s, _, _ = best_of(3, lambda: subprocess.run([sys.executable, "-c", "pass"], check=True))
    rows = [
        (f"impact --subject, in process ({affected:,} dataset items found; best of {REPEATS})",
         _ms(seconds, cpu), "≤ 200 ms",
         f"reading the candidates from {args.datasets} manifests: {floor_s * 1000:.0f} ms"),
        ("impact --subject, in process with a warm Decider (an API worker's)", _ms(*warm[:2]), "", ""),
        ("impact --subject, the command end to end (best of 3)", _ms(*cli[:2]), "",
         f"starting Python alone: {start_s * 1000:.0f} ms"),
    ]
    print(f"## Impact ({args.items:,} items of one subject across {args.datasets} datasets)\n")
    print(f"Machine: {machine()}\n")
    print(table(rows, ("what", "time", "goal", "floor in the same run")))


if __name__ == "__main__":
    main()
