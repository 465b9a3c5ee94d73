"""Decision speed, in process and end to end, beside Cedar (cedarpy) in the same run.

    python benchmarks/bench_decide.py [--subjects 100000 --items 1000000 --consents 2000000]

A synthetic world (``consentgate synth``) is built in memory for the in-process figures
and loaded into a SQLite store for ``decide --batch``. Cedar gets an equivalent, simpler
policy — an item may be used for ai.training when its account turned the setting on and
every participant consented — over entities for a sample of the same world: the
reference a user would otherwise pick, run in the two ways its Python binding allows,
in a process of its own (its calls then pay for no other heap than theirs).
"""

from __future__ import annotations

import argparse
import json
import os
import random
import statistics
import subprocess
import sys
import time
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

from _common import OUT, fresh_name, machine, run_cli, table, timed

from consentgate.core import Evaluator, Policy, World, decide, decide_many
from consentgate.core.collector import collector_paused
from consentgate.model import parse_event
from consentgate.runtime import use_huge_pages
from consentgate.synth import WorldSize, iter_world, write_world

AT = datetime(2023, 12, 1, tzinfo=UTC)
PURPOSES = ("ai.training", "service.provision", "service.value_added.recording")


def build_world(size: WorldSize) -> World:
    world = World()
    for doc in iter_world(size):
        world.apply(parse_event(doc))
    return world


def questions(size: WorldSize, count: int, seed: int = 3) -> list[tuple[str, str, datetime]]:
    rng = random.Random(seed)
    return [(f"item-{rng.randrange(size.items)}", rng.choice(PURPOSES), AT) for _ in range(count)]


def single_rates(
    world: World, policy: Policy, asked: list, rounds: int = 5, between: Callable[[], Any] | None = None
) -> tuple[list[float], list[Any], list[float]]:
    """Decisions one ``decide`` call at a time, as a service answers them once it has run a
    while: the first of ``rounds + 1`` equal parts of ``asked`` is not counted. After each
    part, ``between`` (a round of the reference) runs, so that the two alternate in time
    and meet the same state of the machine. Returns each round's rate, the reference's
    rate after each round, and the latencies in ms of every counted call, sorted."""
    size = len(asked) // (rounds + 1)
    for item, purpose, at in asked[:size]:
        decide(world, item, purpose, at, policy)
    if between is not None:
        between()
    rates, others, latencies = [], [], []
    for part in range(1, rounds + 1):
        spent = []
        for item, purpose, at in asked[part * size : (part + 1) * size]:
            start = time.perf_counter()
            decide(world, item, purpose, at, policy)
            spent.append(time.perf_counter() - start)
        rates.append(len(spent) / sum(spent))
        latencies += spent
        if between is not None:
            others.append(between())
    latencies.sort()
    return rates, others, [latency * 1e3 for latency in latencies]


def evaluator_batch(world: World, asked: list, policy: Policy) -> list:
    """The batch answered one question at a time by one Evaluator, sharing sub-results."""
    evaluator = Evaluator(world, policy, memory=len(asked) * 4)
    with collector_paused():
        return [evaluator.decide(item, purpose, at) for item, purpose, at in asked]


class Cedar:
    """Cedar (cedarpy) in a process of its own, on an equivalent simpler policy: an item may
    be used for ai.training when its account turned the setting on and every participant
    consented, over entities for a sample of the same world.

    The process makes the world's events again and prepares its requests and entities
    once, then runs rounds when asked, so that its rounds alternate with consentgate's.
    Beside the world built here (about 20 million objects), Cedar's calls would pay for
    the garbage collector's full passes over it, which are this process's cost, not
    Cedar's: its single calls on a shared entity store ran at 1,800/s instead of 15,000/s.

    Its Python binding is used in the two ways it allows. ``request``: each call is given
    the entities its request needs (the item, its subjects, the principal), as Cedar
    applications supply them, and a batch is given the union of its requests' entities.
    ``shared``: one entity store of the whole sample, parsed once and reused by every
    call, Cedar's fastest from Python.
    """

    def __init__(self, size: WorldSize, sample: int) -> None:
        import multiprocessing

        context = multiprocessing.get_context("spawn")
        self._conn, theirs = context.Pipe()
        self._process = context.Process(target=_cedar_serve, args=(theirs, size, sample), daemon=True)
        self._process.start()
        self.requests = self._conn.recv()  # sent once the process is ready

    def rate(self, mode: str) -> float:
        """Decisions per second of one round: ``request``, ``request_batch``, ``shared``
        or ``shared_batch``."""
        self._conn.send(mode)
        return self._conn.recv()

    def use_huge_pages(self) -> int:
        """Move Cedar's process onto 2 MiB pages, as consentgate's is."""
        self._conn.send("huge_pages")
        return self._conn.recv()

    def close(self) -> None:
        self._conn.send("stop")
        self._process.join()


def _cedar_serve(conn: Any, size: WorldSize, sample: int) -> None:
    import cedarpy

    docs = list(iter_world(size))
    accounts_on = {d["target"] for d in docs if d["type"] == "setting" and d["scope"] == "account"
                   and d["key"] == "ai_training.customer_content" and d["value"]}
    consented: dict[str, bool] = {}
    for d in docs:
        if d["type"] == "consent":
            consented[d["subject"]] = d["status"] == "given"
    people: dict[str, list[str]] = {}
    for d in docs:
        if d["type"] == "participant":
            people.setdefault(d["meeting"], []).append(d["subject"])
    items = [d for d in docs if d["type"] == "content"][:sample]
    del docs
    trainer = {"uid": {"type": "Trainer", "id": "trainer"}, "attrs": {}, "parents": []}
    entities: dict[str, dict] = {}
    needs: list[list[dict]] = []
    for d in items:
        subjects = list(dict.fromkeys([d["owner"], *people.get(d.get("meeting"), [])]))
        for subject in subjects:
            entities[subject] = {"uid": {"type": "Subject", "id": subject},
                                 "attrs": {"consented": consented.get(subject, False)}, "parents": []}
        # Cedar has no "every element satisfies" over a set; consent of every subject is
        # a flag computed from the subjects' own flags.
        entities[d["id"]] = {"uid": {"type": "Item", "id": d["id"]}, "parents": [], "attrs": {
            "account_on": d["account"] in accounts_on,
            "all_consented": all(consented.get(s, False) for s in subjects),
            "subjects": [{"__entity": {"type": "Subject", "id": s}} for s in subjects]}}
        needs.append([trainer, entities[d["id"]], *(entities[s] for s in subjects)])
    policy = """permit(principal, action == Action::"ai.training", resource)
                when { resource.account_on && resource.all_consented };"""
    policies = cedarpy.PolicySet.from_str(policy)
    requests = [{"principal": 'Trainer::"trainer"', "action": 'Action::"ai.training"',
                 "resource": f'Item::"{d["id"]}"', "context": {}} for d in items]
    union = [trainer, *entities.values()]
    store = cedarpy.Entities.from_json_str(json.dumps(union))
    rounds = {
        "request": lambda: [cedarpy.is_authorized(r, policies, e) for r, e in zip(requests, needs)],
        "request_batch": lambda: cedarpy.is_authorized_batch(requests, policies, union),
        "shared": lambda: [cedarpy.is_authorized(r, policies, store) for r in requests],
        "shared_batch": lambda: cedarpy.is_authorized_batch(requests, policies, store),
    }
    rounds["shared"]()  # a warm-up, as consentgate's first part is not counted
    conn.send(len(requests))
    while (mode := conn.recv()) != "stop":
        if mode == "huge_pages":
            conn.send(use_huge_pages())
        else:
            spent, _ = timed(rounds[mode])
            conn.send(len(requests) / spent)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--subjects", type=int, default=100_000)
    parser.add_argument("--items", type=int, default=1_000_000)
    parser.add_argument("--consents", type=int, default=2_000_000)
    parser.add_argument("--meetings", type=int, default=200_000)
    parser.add_argument("--questions", type=int, default=100_000)
    parser.add_argument("--skip-store", action="store_true", help="skip the end-to-end decide --batch figure")
    args = parser.parse_args()
    size = WorldSize(args.subjects, args.items, args.consents, args.meetings, seed=5)
    policy = Policy.default()
    build_s, world = timed(lambda: build_world(size))
    asked = questions(size, args.questions)
    cedar = Cedar(size, 20_000)
    # Each round of single decisions is followed by rounds of Cedar's single calls: the two
    # alternate, so that each pair of rounds meets the same state of the machine (whose
    # speed changes by up to half between hours), and the ratio is the median of the pairs'.
    rates, theirs, latencies = single_rates(
        world, policy, questions(size, 60_000, seed=4), between=lambda: (cedar.rate("shared"), cedar.rate("request"))
    )
    single = Singles(rates, [shared for shared, _ in theirs], latencies, [request for _, request in theirs])
    # A long-running process moves its view onto 2 MiB pages once it is built; Cedar's too.
    huge_pages_s, moved = timed(use_huge_pages)
    cedar.use_huge_pages()
    rates, theirs, latencies = single_rates(
        world, policy, questions(size, 60_000, seed=6), between=lambda: cedar.rate("shared")
    )
    huge = Singles(rates, theirs, latencies)
    evaluator_s, by_evaluator = timed(lambda: evaluator_batch(world, asked, policy))
    columns_s, _ = timed(world.columns)
    batch_s, decisions = timed(lambda: decide_many(world, asked, policy))
    cedar_batch = {mode: cedar.rate(mode) for mode in ("request_batch", "shared_batch")}
    again_s, _ = timed(lambda: decide_many(world, asked, policy))
    cedar.close()
    allowed = sum(d.allowed for d in decisions)
    assert [d.to_json() for d in decisions[:20_000]] == [d.to_json() for d in by_evaluator[:20_000]]
    del by_evaluator
    batch_rate = len(asked) / batch_s
    rows = [
        ("single decisions in process (`decide`, one call per question; median of 5 rounds of 10,000)",
         f"{single.rate:,.0f}/s",
         f"p50 {single.p50:.3f} ms, p99 {single.p99:.3f} ms", "≥ 50,000/s, p99 ≤ 1 ms",
         f"Cedar single: {single.request:,.0f}/s (entities per request); "
         f"{single.shared:,.0f}/s (one shared entity store)"),
        (f"the same, the view moved onto 2 MiB pages (use_huge_pages: {moved / 2**30:.1f} GiB in "
         f"{huge_pages_s:.1f} s)", f"{huge.rate:,.0f}/s", f"p50 {huge.p50:.3f} ms, p99 {huge.p99:.3f} ms",
         "≥ 50,000/s, p99 ≤ 1 ms", f"Cedar single, shared store on 2 MiB pages: {huge.shared:,.0f}/s"),
        (f"batch in process, column-wise ({len(asked):,} questions, {allowed:,} allowed)", f"{batch_rate:,.0f}/s",
         f"{batch_s:.2f} s", "≥ 200,000/s",
         f"Cedar batch: {cedar_batch['request_batch']:,.0f}/s (the batch's entities); "
         f"{cedar_batch['shared_batch']:,.0f}/s (one shared entity store)"),
        ("the same batch again, column-wise", f"{len(asked) / again_s:,.0f}/s", f"{again_s:.2f} s", "",
         "a second run of the same questions"),
        ("building the view's columns (once per state of the view)", "", f"{columns_s:.2f} s", "",
         "Cedar: parsing its shared entity store, not timed"),
        ("batch in process, one question at a time (Evaluator)", f"{len(asked) / evaluator_s:,.0f}/s",
         f"{evaluator_s:.2f} s", "", "the same decisions (checked)"),
    ]
    if not args.skip_store:
        OUT.mkdir(exist_ok=True)
        world_path = OUT / f"decide-world-{args.items}.jsonl"
        with world_path.open("wb") as out:
            events = write_world(size, out)
        url = f"sqlite:///{OUT / fresh_name('decide')}.db"
        run_cli(url, "init")
        load_s = run_cli(url, "load", str(world_path))
        ask_path = OUT / "questions.jsonl"
        ask_path.write_text("".join(json.dumps({"item": i, "purpose": p, "at": "2023-12-01T00:00:00Z"}) + "\n"
                                    for i, p, _ in asked))
        # The load's last pages are written out first, so that the command is not timed
        # beside the system writing them; then it runs three times on the same store.
        os.sync()
        runs = []
        for _ in range(3):
            start = time.perf_counter()
            done = subprocess.run([sys.executable, "-m", "consentgate", "--db", url, "decide", "--batch",
                                   str(ask_path)], check=True, capture_output=True)
            runs.append(time.perf_counter() - start)
            assert len(done.stdout.splitlines()) == len(asked)
        cli_s = statistics.median(runs)
        rows.append((f"decide --batch of {len(asked):,} questions, end to end (SQLite), median of 3 runs",
                     f"{len(asked) / cli_s:,.0f}/s", f"{cli_s:.2f} s ({', '.join(f'{r:.2f}' for r in runs)})",
                     "≤ 5 s", f"(store of {events:,} events, loaded in {load_s:.0f} s)"))
    print(f"## Decisions ({args.subjects:,} subjects, {args.items:,} items, {args.consents:,} consents)\n")
    print(f"Machine: {machine()}. World built in memory in {build_s:.0f} s.\n")
    print(table(rows, ("what", "rate", "time", "goal", "Cedar (cedarpy) in the same run")))
    print(f"\nRatio to Cedar, the median of the ratios of alternating rounds: with entities per request, as "
          f"Cedar applications supply them, single {single.ratio_request:.1f}x, batch "
          f"{batch_rate / cedar_batch['request_batch']:.1f}x; with one entity store parsed once and shared by "
          f"every call: single {single.ratio:.1f}x, batch {batch_rate / cedar_batch['shared_batch']:.1f}x "
          f"(goal ≥ 5x); both on 2 MiB pages: single {huge.ratio:.1f}x. Cedar's policy is simpler: no terms, "
          "tiers, notices, derivation or time.\n")
    print(table(
        [(str(n), f"{ours:,.0f}/s", f"{shared:,.0f}/s", f"{ours / shared:.1f}x", f"{ours_huge:,.0f}/s",
          f"{shared_huge:,.0f}/s", f"{ours_huge / shared_huge:.1f}x")
         for n, (ours, shared, ours_huge, shared_huge)
         in enumerate(zip(single.rates, single.theirs, huge.rates, huge.theirs), 1)],
        ("round", "single", "Cedar shared", "ratio", "single, 2 MiB pages", "Cedar shared, 2 MiB pages", "ratio"),
    ))


class Singles:
    """Rounds of single decisions and the reference's rounds that alternated with them."""

    def __init__(self, rates: list[float], theirs: list[float], latencies: list[float],
                 requests: list[float] | None = None) -> None:
        self.rates, self.theirs = rates, theirs
        self.rate, self.shared = statistics.median(rates), statistics.median(theirs)
        self.ratio = statistics.median(ours / other for ours, other in zip(rates, theirs))
        self.p50, self.p99 = latencies[len(latencies) // 2], latencies[int(len(latencies) * 0.99)]
        if requests:
            self.request = statistics.median(requests)
            self.ratio_request = statistics.median(ours / other for ours, other in zip(rates, requests))

if __name__ == "__main__":
    main()
