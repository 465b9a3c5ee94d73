"""Column-wise batches (consentgate.core.batch) give exactly the evaluator's decisions."""

from __future__ import annotations

import importlib
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta, timezone

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from test_decide_properties import histories, policies, question
from test_decide_properties import world_of as world_from_events

from consentgate.core import Evaluator, Policy, World, columns, decide, decide_many
from consentgate.core.batch import decide_columnar
from consentgate.model import parse_event
from consentgate.synth import WorldSize, iter_world

many_questions = st.lists(question, min_size=1, max_size=40)


def _json(decisions):
    return [decision.to_json() for decision in decisions]


@contextmanager
def _packed(packed: bool) -> Iterator[None]:
    """Views' columns built in it are packed (pandas index, Arrow ids) or not, whatever
    their size."""
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(columns, "PACKED_FROM", 0 if packed else 10**9)
        yield


@settings(max_examples=300, deadline=None)
@given(histories(), many_questions, policies, st.booleans())
def test_columnar_batches_equal_single_decisions(events, asked, policy, packed):
    world = world_from_events(events)
    with _packed(packed):
        got = _json(decide_columnar(world, asked, policy))
        assert world.columns().packed is packed
    assert got == [decide(world, *q, policy).to_json() for q in asked]


def _synth_world() -> World:
    world = World()
    for doc in iter_world(WorldSize(subjects=300, items=4_000, consents=3_000, meetings=600, seed=11)):
        world.apply(parse_event(doc))
    # A few shapes the generator does not make: consents limited to a meeting or to kinds,
    # given on someone's behalf, and service data with and without a user.
    extra = [
        {"type": "account", "id": "acct-0", "region": "EU"},
        {"type": "consent", "id": "lim-1", "subject": "user-1", "purpose": "ai", "status": "given",
         "meeting": "meet-3", "at": "2023-06-01T00:00:00Z"},
        {"type": "consent", "id": "lim-2", "subject": "user-2", "purpose": "ai.training", "status": "given",
         "kinds": ["audio"], "at": "2023-06-01T00:00:00Z"},
        {"type": "user", "id": "solo", "account": "acct-0", "groups": []},
        {"type": "content", "id": "solo-1", "kind": "audio", "account": "acct-0", "owner": "solo",
         "created_at": "2023-02-01T00:00:00Z"},
        {"type": "consent", "id": "boss-1", "subject": "solo", "purpose": "ai.training", "status": "given",
         "by": "boss", "method": "admin_on_behalf", "at": "2023-03-01T00:00:00Z"},
        {"type": "account", "id": "acct-x", "region": "US"},
        {"type": "content", "id": "x-1", "kind": "audio", "account": "acct-x", "owner": "solo",
         "created_at": "2023-02-01T00:00:00Z"},
        {"type": "service_data", "id": "svc-1", "kind": "telemetry", "account": "acct-0", "user": "user-0",
         "at": "2023-02-01T00:00:00Z"},
        {"type": "service_data", "id": "svc-2", "kind": "telemetry", "account": "acct-0",
         "at": "2023-02-01T00:00:00Z"},
    ]
    world.apply_many(parse_event(doc) for doc in extra)
    return world


@pytest.mark.parametrize("packed", [False, True], ids=["small", "packed"])
def test_columnar_batches_equal_single_decisions_on_a_generated_world(packed):
    world = _synth_world()
    with _packed(packed):
        assert world.columns().packed is packed
    policy = Policy(frozenset({"EU"}), {})
    items = [record.id for record in world.item_records()] + ["nope"]
    times = [datetime(2023, 1, 1, tzinfo=UTC) + timedelta(days=d) for d in (0, 5, 120, 300, 500)]
    purposes = ["ai.training", "ai", "service.provision", "service.value_added.recording", "service", "x.y"]
    asked = [(item, purposes[n % len(purposes)], times[(n // 7) % len(times)]) for n, item in enumerate(items * 3)]
    asked += [(item, purpose, at) for item in ("solo-1", "x-1", "svc-1", "svc-2") for purpose in purposes
              for at in times]
    got = _json(decide_columnar(world, asked, policy))
    want = [decide(world, *question, policy).to_json() for question in asked]
    assert got == want
    codes = {reason["code"] for decision in got for reason in decision["reasons"]}
    # The comparison covers every way a decision is made here, not only the easy ones.
    assert {"item.unknown", "item.deleted", "terms.not_accepted", "purpose.not_granted", "consent.missing",
            "consent.refused", "consent.withdrawn", "consent.expired", "consent.not_self", "setting.off",
            "notice.missing", "source.ineligible", "signal.reserved"} <= codes
    assert sum(decision["allowed"] for decision in got) > len(got) // 10
    relied_on = {next(iter(entry)) for decision in got for entry in decision["basis"]}
    assert relied_on == {"terms", "consent", "setting", "notice", "source"}


def test_decide_many_answers_column_wise_once_the_columns_are_built(world_of):
    world = world_of(
        {"type": "account", "id": "a1", "region": "US"},
        {"type": "terms", "version": "v1", "effective_at": "2024-01-01T00:00:00Z",
         "sections": [{"id": "1", "grants": [{"purpose": "ai", "data": ["audio"], "requires": ["consent"]}]}]},
        {"type": "terms_acceptance", "account": "a1", "version": "v1", "at": "2024-01-01T00:00:00Z"},
        {"type": "content", "id": "i1", "kind": "audio", "account": "a1", "owner": "u1",
         "created_at": "2024-01-01T00:00:00Z"},
    )
    at = datetime(2024, 2, 1, tzinfo=UTC)
    assert not world.has_columns()
    assert world.columns() is world.columns()
    assert world.has_columns()
    [denied] = decide_many(world, [("i1", "ai.training", at)], Policy.default())
    assert denied.codes == ("consent.missing",)
    world.apply(parse_event({"type": "consent", "id": "c1", "subject": "u1", "purpose": "ai", "status": "given",
                             "at": "2024-01-15T00:00:00Z"}))
    assert not world.has_columns()  # an event makes the columns stale
    world.columns()
    [allowed] = decide_many(world, [("i1", "ai.training", at)], Policy.default())
    assert allowed.allowed and allowed.basis[1] == {"consent": "c1", "subject": "u1"}


def test_decide_many_builds_the_columns_only_for_a_batch_that_repays_them(monkeypatch):
    decide_module = importlib.import_module("consentgate.core.decide")  # the name is the function's too
    world = _synth_world()
    items = [record.id for record in world.item_records()]
    monkeypatch.setattr(decide_module, "COLUMNAR_MIN", len(items))
    at = datetime(2023, 6, 1, tzinfo=UTC)
    few = [(item, "ai.training", at) for item in items]  # one question an item: one at a time
    assert _json(decide_many(world, few, Policy.default())) == _json(Evaluator(world, Policy.default()).decide(*q)
                                                                       for q in few)
    assert not world.has_columns()
    many = few + few[: len(few) // 4]  # 1.25 questions an item: column-wise
    assert _json(decide_many(world, many, Policy.default())) == _json(decide(world, *q, Policy.default())
                                                                        for q in many)
    assert world.has_columns()
    monkeypatch.setattr(decide_module, "COLUMNAR_MIN", len(items) + 1)  # too small a world for columns
    fresh = _synth_world()
    decide_many(fresh, many * 2, Policy.default())
    assert not fresh.has_columns()


def test_times_in_any_zone_share_a_group_and_keep_their_own_at(world_of):
    world = world_of({"type": "account", "id": "a1"})
    utc = datetime(2024, 2, 1, 12, tzinfo=UTC)
    paris = utc.astimezone(timezone(timedelta(hours=1)))
    decisions = decide_columnar(world, [("x", "ai", utc), ("x", "ai", paris)], Policy.default())
    assert [d.at for d in decisions] == [utc, paris]
    assert decisions[0].reasons == decisions[1].reasons
    with pytest.raises(ValueError, match="time zone"):
        decide_columnar(world, [("x", "ai", datetime(2024, 2, 1))], Policy.default())
    assert decide_columnar(world, [], Policy.default()) == []


def test_items_naming_no_person_each_name_themselves_in_one_batch(world_of):
    world = world_of(
        {"type": "account", "id": "a1"},
        {"type": "terms", "version": "v1", "effective_at": "2024-01-01T00:00:00Z",
         "sections": [{"id": "1", "grants": [{"purpose": "ai", "data": ["telemetry"], "requires": ["consent"]}]}]},
        {"type": "terms_acceptance", "account": "a1", "version": "v1", "at": "2024-01-01T00:00:00Z"},
        {"type": "service_data", "id": "s1", "kind": "telemetry", "account": "a1", "at": "2024-01-02T00:00:00Z"},
        {"type": "service_data", "id": "s2", "kind": "telemetry", "account": "a1", "at": "2024-01-02T00:00:00Z"},
    )
    at = datetime(2024, 2, 1, tzinfo=UTC)
    asked = [("s1", "ai", at), ("s2", "ai", at)]
    for decisions in (decide_columnar(world, asked, Policy.default()),
                      [Evaluator(world, Policy.default()).decide(*q) for q in asked][:1]
                      + [Evaluator(world, Policy.default()).decide(*q) for q in asked][1:],
                      decide_many(world, asked, Policy.default())):
        assert [d.reasons[0].message for d in decisions] == [
            "s1 names no person whose consent to ai could count",
            "s2 names no person whose consent to ai could count",
        ]
    shared = Evaluator(world, Policy.default())
    assert shared.decide("s2", "ai", at).reasons[0].message.startswith("s2 ")
    assert shared.decide("s1", "ai", at).reasons[0].message.startswith("s1 ")


def test_json_lines_of_a_batch_equal_each_decisions_json():
    import orjson

    from consentgate.service import _json_lines

    world = _synth_world()
    instants = [datetime(2023, 6, 1, tzinfo=UTC), datetime(2023, 6, 1, 2, tzinfo=timezone(timedelta(hours=2))),
                datetime(2023, 9, 1, 0, 0, 0, 250, tzinfo=UTC)]
    asked = [(record.id, purpose, at) for record in world.item_records()
             for purpose, at in zip(("ai.training", "service", "ai"), instants, strict=True)]
    decisions = decide_many(world, asked, Policy(frozenset({"EU"}), {}))
    text = _json_lines(decisions)
    assert text == b"".join(orjson.dumps(d.to_json(), option=orjson.OPT_APPEND_NEWLINE) for d in decisions)
    # Many kinds of reasons, so that texts shared between lines are put to the test.
    assert len({reason.code for d in decisions for reason in d.reasons}) >= 8
    assert b".000250Z" in text and b"T02:00:00" not in text
