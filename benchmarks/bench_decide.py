"""Decision speed, in process and end to end, beside Cedar (cedarpy) in the same run.

    python benchmarks/bench_decide.py [--subjects 100000 --items 1000000 --consents 2000000]

A synthetic world (``consentgate synth``) is built in memory for the in-process figures
and loaded into a SQLite store for ``decide --batch``. Cedar gets an equivalent, simpler
policy — an item may be used for ai.training when its account turned the setting on and
every participant consented — over entities for a sample of the same world: the
reference a user would otherwise pick, run the way its Python binding allows.
"""

from __future__ import annotations

import argparse
import json
import random
import subprocess
import sys
import time
from datetime import UTC, datetime

from _common import OUT, fresh_name, machine, run_cli, table, timed

from consentgate.core import Evaluator, Policy, World, decide_many
from consentgate.model import parse_event
from consentgate.synth import WorldSize, iter_world, write_world

AT = datetime(2023, 12, 1, tzinfo=UTC)
PURPOSES = ("ai.training", "service.provision", "service.value_added.recording")


def build_world(size: WorldSize) -> tuple[World, list]:
    world, events = World(), []
    for doc in iter_world(size):
        event = parse_event(doc)
        world.apply(event)
        if doc["type"] in ("content", "participant", "consent", "setting", "user", "account"):
            events.append(doc)
    return world, events


def questions(size: WorldSize, count: int, seed: int = 3) -> list[tuple[str, str, datetime]]:
    rng = random.Random(seed)
    return [(f"item-{rng.randrange(size.items)}", rng.choice(PURPOSES), AT) for _ in range(count)]


def single_rate(world: World, policy: Policy, asked: list) -> tuple[float, float, float]:
    """Decisions one call at a time, a fresh evaluator per call: rate, p50 and p99 in ms."""
    latencies = []
    for item, purpose, at in asked:
        start = time.perf_counter()
        Evaluator(world, policy).decide(item, purpose, at)
        latencies.append(time.perf_counter() - start)
    latencies.sort()
    rate = len(latencies) / sum(latencies)
    return rate, latencies[len(latencies) // 2] * 1e3, latencies[int(len(latencies) * 0.99)] * 1e3


def cedar_rates(docs: list, sample: int) -> tuple[float, float]:
    import cedarpy

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
    entities: dict[str, dict] = {}
    for d in items:
        subjects = people.get(d.get("meeting"), []) + [d["owner"]]
        for subject in subjects:
            entities[subject] = {"uid": {"type": "Subject", "id": subject},
                                 "attrs": {"consented": consented.get(subject, False)}, "parents": []}
        entities[d["id"]] = {"uid": {"type": "Item", "id": d["id"]}, "parents": [], "attrs": {
            "account_on": d["account"] in accounts_on,
            "subjects": [{"__entity": {"type": "Subject", "id": s}} for s in subjects]}}
    entities["trainer"] = {"uid": {"type": "Trainer", "id": "trainer"}, "attrs": {}, "parents": []}
    # Cedar has no "every element satisfies" over a set; consent of every subject is
    # expressed as a precomputed flag on each subject, checked for owner and participants.
    policy = """permit(principal, action == Action::"ai.training", resource)
                when { resource.account_on && resource.all_consented };"""
    for d in items:
        attrs = entities[d["id"]]["attrs"]
        attrs["all_consented"] = all(entities[s["__entity"]["id"]]["attrs"]["consented"] for s in attrs["subjects"])
    # Parsed once, reused by every call: Cedar at its fastest from Python.
    policies = cedarpy.PolicySet.from_str(policy)
    store = cedarpy.Entities.from_json_str(json.dumps(list(entities.values())))
    requests = [{"principal": 'Trainer::"trainer"', "action": 'Action::"ai.training"',
                 "resource": f'Item::"{d["id"]}"', "context": {}} for d in items]
    single_s, _ = timed(lambda: [cedarpy.is_authorized(r, policies, store) for r in requests])
    batch_s, _ = timed(lambda: cedarpy.is_authorized_batch(requests, policies, store))
    return len(requests) / single_s, len(requests) / batch_s


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
    build_s, (world, docs) = timed(lambda: build_world(size))
    asked = questions(size, args.questions)
    rate, p50, p99 = single_rate(world, policy, asked[:20_000])
    batch_s, decisions = timed(lambda: decide_many(world, asked, policy))
    allowed = sum(d.allowed for d in decisions)
    cedar_single, cedar_batch = cedar_rates(docs, 20_000)
    rows = [
        ("single decisions in process (fresh evaluator per call)", f"{rate:,.0f}/s",
         f"p50 {p50:.3f} ms, p99 {p99:.3f} ms", "≥ 50,000/s, p99 ≤ 1 ms", f"Cedar single: {cedar_single:,.0f}/s"),
        (f"batch in process ({len(asked):,} questions, {allowed:,} allowed)", f"{len(asked) / batch_s:,.0f}/s",
         f"{batch_s:.2f} s", "≥ 200,000/s", f"Cedar batch: {cedar_batch:,.0f}/s"),
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
        start = time.perf_counter()
        done = subprocess.run([sys.executable, "-m", "consentgate", "--db", url, "decide", "--batch", str(ask_path)],
                              check=True, capture_output=True)
        cli_s = time.perf_counter() - start
        assert len(done.stdout.splitlines()) == len(asked)
        rows.append((f"decide --batch of {len(asked):,} questions, end to end (SQLite)", f"{len(asked) / cli_s:,.0f}/s",
                     f"{cli_s:.2f} s", "≤ 5 s", f"(store of {events:,} events, loaded in {load_s:.0f} s)"))
    print(f"## Decisions ({args.subjects:,} subjects, {args.items:,} items, {args.consents:,} consents)\n")
    print(f"Machine: {machine()}. World built in memory in {build_s:.0f} s.\n")
    print(table(rows, ("what", "rate", "time", "goal", "Cedar (cedarpy) in the same run")))
    print(f"\nRatio to Cedar: single {rate / cedar_single:.1f}x, batch {len(asked) / batch_s / cedar_batch:.1f}x "
          f"(goal ≥ 5x). Cedar's policy is simpler: no terms, tiers, notices, derivation or time.")


if __name__ == "__main__":
    main()
