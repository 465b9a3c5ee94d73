"""The always-current in-memory view: warm answers equal answers from a fresh read."""

from __future__ import annotations

import io
import json
import os
from pathlib import Path

import pytest

from consentgate import Decider, decide, decide_questions, load_events, load_policy
from consentgate.model.times import parse_time
from consentgate.synth import WorldSize, write_world


def _questions(examples: Path) -> list[tuple[str, str, object]]:
    lines = (examples / "seed-story.queries.jsonl").read_text().splitlines()
    return [(q["item"], q["purpose"], parse_time(q["at"])) for q in map(json.loads, lines)]


def _answers(decisions: list) -> list[dict]:
    return [decision.to_json() for decision in decisions]


def test_warm_view_equals_fresh_view_after_every_append(store, examples):
    decider = Decider(store)
    questions = _questions(examples)
    lines = (examples / "seed-story.jsonl").read_bytes().splitlines(keepends=True)
    for start in range(0, len(lines), 6):
        load_events(store, io.BytesIO(b"".join(lines[start : start + 6])), "part")
        warm = _answers(decider.decide_many(questions))
        fresh = _answers(decide_questions(store, questions, load_policy(None)))
        assert warm == fresh
        assert _answers([decider.decide(*question) for question in questions]) == fresh
    assert decider.seq == len(lines)
    assert any(answer["allowed"] for answer in warm)


def test_refresh_applies_only_new_events(sqlite_store, examples):
    store = sqlite_store
    load_events(store, io.BytesIO((examples / "seed-story.jsonl").read_bytes()), "seed")
    decider = Decider(store)
    assert decider.refresh() == 0
    load_events(store, io.BytesIO(b'{"type": "account", "id": "late"}\n'), "late")
    assert decider.refresh() == 1


@pytest.mark.parametrize("collecting", [True, False])
def test_the_view_is_read_with_the_collector_paused(sqlite_store, examples, monkeypatch, collecting):
    import gc

    from consentgate.core import World

    load_events(sqlite_store, io.BytesIO((examples / "seed-story.jsonl").read_bytes()), "seed")
    seen: list[bool] = []
    apply = World.apply
    monkeypatch.setattr(World, "apply", lambda world, event: (seen.append(gc.isenabled()), apply(world, event)))
    (gc.enable if collecting else gc.disable)()
    try:
        decider = Decider(sqlite_store)
        assert gc.isenabled() is collecting
    finally:
        gc.enable()
    # Each applied event was applied while the collector was paused, and no event is lost.
    assert seen and not any(seen)
    assert decider.seq == len(seen)


def test_warm_view_follows_a_withdrawal(store, examples):
    load_events(store, io.BytesIO((examples / "seed-story.jsonl").read_bytes()), "seed")
    decider = Decider(store)
    at = parse_time("2023-09-10T00:00:00Z")
    assert decider.decide("m-100-chat", "ai.training", at).allowed
    withdrawal = {"type": "consent", "id": "c-ben-2", "subject": "ben", "purpose": "ai.training",
                  "status": "withdrawn", "at": "2023-09-05T00:00:00Z"}
    load_events(store, io.BytesIO(json.dumps(withdrawal).encode()), "withdrawal")
    decision = decider.decide("m-100-chat", "ai.training", at)
    assert not decision.allowed
    assert [(r.code, r.subject) for r in decision.reasons] == [("consent.withdrawn", "ben")]


@pytest.mark.parametrize("seed", [1, 2])
def test_partial_view_equals_whole_view_on_a_synthetic_world(sqlite_store, seed):
    store = sqlite_store
    buffer = io.BytesIO()
    write_world(WorldSize(subjects=40, items=300, consents=200, meetings=30, seed=seed), buffer)
    buffer.seek(0)
    load_events(store, buffer, "world")
    at = parse_time("2023-11-01T00:00:00Z")
    questions = [(f"item-{n}", purpose, at) for n in range(0, 300, 7) for purpose in ("ai.training", "service")]
    whole = Decider(store).decide_many(questions)
    partial = decide_questions(store, questions, load_policy(None))
    assert _answers(whole) == _answers(partial)
    assert {d.allowed for d in whole} == {True, False}


def test_a_partial_view_reads_what_the_asked_purposes_need(sqlite_store, examples):
    from consentgate.service import build_world

    load_events(sqlite_store, io.BytesIO((examples / "seed-story.jsonl").read_bytes()), "seed")
    at = parse_time("2023-09-10T00:00:00Z")
    # The terms grant service.provision of content with no condition: nothing about people is read.
    plain = build_world(sqlite_store, ["m-100-summary"], [at], purposes={"m-100-summary": ["service.provision"]})
    assert plain.consent_index() == {} and plain.participants("m-100") == () and plain.user("ana") is None
    assert plain.item_record("m-100-audio") is not None  # its sources are still read
    # ai.training needs consent of everyone in the meeting: asked of the summary, it is
    # asked of the transcript and audio it was made from too.
    training = build_world(sqlite_store, ["m-100-summary"], [at], purposes={"m-100-summary": ["ai.training"]})
    assert {line.subject for line in training.participants("m-100")} <= set(training.consent_index())
    assert training.user("ana") is not None
    questions = [(item, purpose, at) for item in ("m-100-summary", "m-100-transcript", "m-100-audio")
                 for purpose in ("ai.training", "service.provision", "service.value_added.recording")]
    whole = _answers(Decider(sqlite_store).decide_many(questions))
    assert _answers(decide_questions(sqlite_store, questions, load_policy(None))) == whole
    for item, purpose, _ in questions:
        alone = decide_questions(sqlite_store, [(item, purpose, at)], load_policy(None))
        assert _answers(alone) == [answer for answer in whole if (answer["item"], answer["purpose"]) == (item, purpose)]
    assert {answer["allowed"] for answer in whole} == {True, False}


def test_an_item_made_from_another_meeting_asks_that_meeting_too(sqlite_store, examples):
    # Notes outside any meeting, made from m-100's audio: asked about ai.training, the
    # audio is asked it too, so m-100's participants and their consents must be read.
    load_events(sqlite_store, io.BytesIO((examples / "seed-story.jsonl").read_bytes()), "seed")
    notes = {"type": "content", "id": "ana-notes", "kind": "file", "account": "northwind", "owner": "ana",
             "created_at": "2023-08-25T00:00:00Z", "derived_from": ["m-100-audio"]}
    load_events(sqlite_store, io.BytesIO(json.dumps(notes).encode()), "notes")
    answers = {}
    for day in ("2023-08-30", "2023-09-10"):  # before and after guest-zoe consented
        questions = [("ana-notes", "ai.training", parse_time(f"{day}T00:00:00Z"))]
        [whole] = _answers(Decider(sqlite_store).decide_many(questions))
        assert _answers(decide_questions(sqlite_store, questions, load_policy(None))) == [whole]
        answers[day] = [reason["code"] for reason in whole["reasons"]]
    assert answers == {"2023-08-30": ["source.ineligible"], "2023-09-10": []}


def test_decide_function_reads_a_store_by_url(sqlite_store, sqlite_url, examples):
    load_events(sqlite_store, io.BytesIO((examples / "seed-story.jsonl").read_bytes()), "seed")
    decision = decide("m-100-audio", "ai.training", parse_time("2023-09-02T00:00:00Z"), store=sqlite_url)
    assert decision.allowed and decision.reasons == ()


@pytest.mark.parametrize("distinct_times", [1, 3, 40])
def test_reading_only_deciding_consents_changes_no_answer(sqlite_store, distinct_times):
    # A long consent history per subject, asked about at several times: the partial view
    # reads only the latest consent per group and time, and must answer as the whole view.
    buffer = io.BytesIO()
    write_world(WorldSize(subjects=30, items=200, consents=1500, meetings=20, seed=9), buffer)
    buffer.seek(0)
    load_events(sqlite_store, buffer, "world")
    moments = [parse_time(f"2023-{12 - n % 6:02d}-{1 + n % 28:02d}T{n % 24:02d}:00:00Z")
               for n in range(distinct_times)]
    questions = [(f"item-{n}", "ai.training", moments[n % distinct_times]) for n in range(200)]
    whole = _answers(Decider(sqlite_store).decide_many(questions))
    assert _answers(decide_questions(sqlite_store, questions, load_policy(None))) == whole
    assert len({(a["allowed"], tuple(r["code"] for r in a["reasons"])) for a in whole}) > 3


def test_partial_view_of_many_items_at_once_equals_whole_view(store):
    # More items than one statement would bind as separate parameters, on both backends.
    buffer = io.BytesIO()
    write_world(WorldSize(subjects=60, items=1500, consents=300, meetings=40, seed=4), buffer)
    buffer.seek(0)
    load_events(store, buffer, "world")
    questions = [(f"item-{n}", "ai.training", parse_time("2023-11-01T00:00:00Z")) for n in range(1500)]
    whole = _answers(Decider(store).decide_many(questions))
    assert _answers(decide_questions(store, questions, load_policy(None))) == whole
    assert {answer["allowed"] for answer in whole} == {True, False}


def test_a_batch_shared_between_processes_answers_as_one_process(store):
    from consentgate.service import decide_questions_json

    buffer = io.BytesIO()
    write_world(WorldSize(subjects=50, items=400, consents=300, meetings=30, seed=6), buffer)
    buffer.seek(0)
    load_events(store, buffer, "world")
    at = parse_time("2023-11-01T00:00:00Z")
    questions = [(f"item-{n}", purpose, at) for n in range(400) for purpose in ("ai.training", "service")]
    one = _answers(decide_questions(store, questions, load_policy(None), workers=1))
    shared = _answers(decide_questions(store, questions, load_policy(None), workers=2))
    assert shared == one
    assert [(a["item"], a["purpose"]) for a in shared] == [(i, p) for i, p, _ in questions]
    assert {answer["allowed"] for answer in one} == {True, False}
    lines = list(decide_questions_json(store, questions, load_policy(None), workers=2))
    assert [json.loads(line) for line in lines] == one
    assert all(line.endswith(b"\n") and line.count(b"\n") == 1 for line in lines)


def test_workers_started_before_a_batch_share_it(store):
    from consentgate.service import BatchWorkers, batch_workers, decide_questions_json

    assert batch_workers(100) is None  # too small to share: no process is started
    buffer = io.BytesIO()
    write_world(WorldSize(subjects=40, items=300, consents=200, meetings=20, seed=8), buffer)
    buffer.seek(0)
    load_events(store, buffer, "world")
    at = parse_time("2023-11-01T00:00:00Z")
    # 40,000 questions: enough for a share of 20,000 each.
    questions = [(f"item-{n % 300}", ("ai.training", "service")[n % 2], at) for n in range(40_000)]
    one = [json.loads(line) for line in decide_questions_json(store, questions, load_policy(None), workers=1)]
    with BatchWorkers(1) as workers:
        shared = [json.loads(line) for line in decide_questions_json(store, questions, load_policy(None), pool=workers)]
        pids = {future.result() for future in [workers.pool.submit(os.getpid) for _ in range(3)]}
    assert shared == one
    assert {answer["allowed"] for answer in one} == {True, False}
    assert len(pids) == 1 and os.getpid() not in pids


def test_a_batch_split_while_workers_start_gives_this_process_the_larger_share():
    from consentgate.service import BatchWorkers, _split

    questions = list(range(100_000))
    even = _split(questions, 2, 0.0)
    assert [len(share) for share in even] == [50_000, 50_000]
    ahead = _split(questions, 3, 0.07)
    assert [len(share) for share in ahead] == [35_667, 32_167, 32_166]
    assert [q for share in ahead for q in share] == questions  # in order, each once
    assert [len(share) for share in _split([1, 2], 2, 0.07)] == [1, 1]
    assert [len(share) for share in _split([1, 2], 2, 1.0)] == [2]  # all to the first: no empty share
    with BatchWorkers(1) as workers:
        workers.pool.submit(int).result()  # a task done: the process has started
        assert workers.ready()


def test_a_view_as_of_a_sequence_number_ignores_later_events(sqlite_store, examples):
    from consentgate.service import build_world

    load_events(sqlite_store, io.BytesIO((examples / "seed-story.jsonl").read_bytes()), "seed")
    head = Decider(sqlite_store).seq
    withdrawal = {"type": "consent", "id": "c-ben-2", "subject": "ben", "purpose": "ai.training",
                  "status": "withdrawn", "at": "2023-09-05T00:00:00Z"}
    load_events(sqlite_store, io.BytesIO(json.dumps(withdrawal).encode()), "withdrawal")
    at = parse_time("2023-09-10T00:00:00Z")
    policy = load_policy(None)
    before = build_world(sqlite_store, ["m-100-chat"], [at], upto=head)
    after = build_world(sqlite_store, ["m-100-chat"], [at])
    from consentgate.core import decide as decide_in

    assert decide_in(before, "m-100-chat", "ai.training", at, policy).allowed
    assert [r.code for r in decide_in(after, "m-100-chat", "ai.training", at, policy).reasons] == ["consent.withdrawn"]


def test_a_partial_view_breaks_a_tie_of_consents_by_the_later_line(store, examples):
    # Two consents of one group at the same time: the later line decides, as in the whole
    # view; a meeting-limited consent at that time is a group of its own.
    load_events(store, io.BytesIO((examples / "seed-story.jsonl").read_bytes()), "seed")
    same_time = "2023-09-06T00:00:00Z"
    lines = [
        {"type": "consent", "id": "tie-1", "subject": "ben", "purpose": "ai.training", "status": "withdrawn",
         "at": same_time},
        {"type": "consent", "id": "tie-2", "subject": "ben", "purpose": "ai.training", "status": "given",
         "at": same_time},
        {"type": "consent", "id": "tie-3", "subject": "ben", "purpose": "ai.training", "status": "refused",
         "meeting": "m-100", "at": same_time},
        {"type": "consent", "id": "tie-4", "subject": "ben", "purpose": "ai.training", "status": "given",
         "meeting": "m-100", "at": "2023-09-07T00:00:00Z"},
    ]
    load_events(store, io.BytesIO("".join(json.dumps(line) + "\n" for line in lines).encode()), "ties")
    questions = [(item, "ai.training", parse_time(at)) for item in ("m-100-chat", "m-100-audio")
                 for at in ("2023-09-06T12:00:00Z", "2023-09-08T00:00:00Z")]
    whole = _answers(Decider(store).decide_many(questions))
    for at in ("2023-09-06T12:00:00Z", "2023-09-08T00:00:00Z"):
        asked = [q for q in questions if q[2] == parse_time(at)]
        assert _answers(decide_questions(store, asked, load_policy(None))) == [
            answer for answer, q in zip(whole, questions) if q[2] == parse_time(at)
        ]
    codes = {(a["item"], a["at"]): [r["code"] for r in a["reasons"]] for a in whole}
    assert "consent.refused" in codes[("m-100-chat", "2023-09-06T12:00:00Z")]
    assert "consent.refused" not in codes[("m-100-chat", "2023-09-08T00:00:00Z")]
