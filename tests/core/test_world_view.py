"""The world: events in any valid-time order, lookups, and what other parts read."""

from __future__ import annotations

import gc
import weakref
from datetime import UTC, datetime

import pytest

from consentgate.core import Policy, World, decide
from consentgate.model import parse_event

TERMS = {
    "type": "terms",
    "version": "v",
    "effective_at": "2024-01-01T00:00:00Z",
    "sections": [{"id": "1", "grants": [{"purpose": "service", "data": ["chat", "audio", "telemetry"]}]}],
}
EVENTS = [
    {"type": "account", "id": "acme"},
    {"type": "meeting", "id": "m1", "account": "acme"},
    {"type": "participant", "meeting": "m1", "subject": "ann"},
    {"type": "participant", "meeting": "m1", "subject": "zoe"},
    {"type": "participant", "meeting": "m1", "subject": "zoe", "notified": ["recording"]},
    {
        "type": "content",
        "id": "a",
        "kind": "audio",
        "account": "acme",
        "owner": "ann",
        "meeting": "m1",
        "created_at": "2024-01-02T00:00:00Z",
    },
    {
        "type": "content",
        "id": "c",
        "kind": "chat",
        "account": "acme",
        "owner": "bob",
        "created_at": "2024-01-02T00:00:00Z",
    },
    {"type": "service_data", "id": "s", "kind": "telemetry", "account": "acme", "at": "2024-01-02T00:00:00Z"},
]
AT = datetime(2024, 2, 1, tzinfo=UTC)


def test_items_are_listed_in_arrival_order(world_of):
    assert [item.id for item in world_of(*EVENTS).items()] == ["a", "c", "s"]


@pytest.mark.parametrize(("item", "subjects"), [("a", ("ann", "zoe")), ("c", ("bob",)), ("s", ()), ("x", ())])
def test_consent_subjects_of_item(world_of, item, subjects):
    assert world_of(*EVENTS).consent_subjects_of_item(item) == subjects


def test_lookups(world_of):
    world = world_of(*EVENTS, TERMS)
    assert world.item("c").owner == "bob"
    assert world.item("nope") is None
    assert world.terms("v").version == "v"
    assert len(world.participants("m1")) == 3
    assert world.meeting("m1").account == "acme"


def test_terms_arriving_after_a_decision_are_seen(world_of):
    world = world_of(
        *EVENTS, {"type": "terms_acceptance", "account": "acme", "version": "v", "at": "2024-01-01T00:00:00Z"}
    )
    assert decide(world, "c", "service.provision", AT, Policy()).codes == ("terms.not_accepted",)
    world.apply(parse_event(TERMS))
    assert decide(world, "c", "service.provision", AT, Policy()).allowed


def test_an_acceptance_arriving_after_a_decision_is_seen(world_of):
    world = world_of(*EVENTS, TERMS)
    assert decide(world, "c", "service.provision", AT, Policy()).codes == ("terms.not_accepted",)
    world.apply(parse_event({"type": "terms_acceptance", "account": "acme", "version": "v",
                             "at": "2024-01-15T00:00:00Z"}))
    assert decide(world, "c", "service.provision", AT, Policy()).allowed


def test_the_terms_in_force_change_when_a_later_version_is_both_accepted_and_effective(world_of):
    later = {**TERMS, "version": "v2", "effective_at": "2024-03-01T00:00:00Z",
             "sections": [{"id": "9", "grants": [{"purpose": "service", "data": ["chat"]}]}]}
    world = world_of(*EVENTS, TERMS, later,
                     {"type": "terms_acceptance", "account": "acme", "version": "v2", "at": "2024-01-10T00:00:00Z"},
                     {"type": "terms_acceptance", "account": "acme", "version": "v", "at": "2024-01-20T00:00:00Z"})
    sections = {}
    for day in ("2024-01-15", "2024-02-01", "2024-03-01", "2024-04-01"):
        at = datetime.fromisoformat(day + "T00:00:00+00:00")
        decision = decide(world, "c", "service.provision", at, Policy())
        sections[day] = decision.basis[0]["terms"] if decision.allowed else decision.codes
    # v2 was accepted first but is effective only from March; v, accepted later, is in
    # force from its acceptance until then.
    assert sections == {"2024-01-15": ("terms.not_accepted",), "2024-02-01": "v", "2024-03-01": "v2",
                        "2024-04-01": "v2"}


def test_records_share_one_string_per_id(world_of):
    # Each event is parsed from its own text, so equal ids arrive as distinct strings.
    def fresh(text):
        return "".join(list(text))

    world = world_of(
        {"type": "account", "id": fresh("acme")},
        {"type": "participant", "meeting": fresh("m1"), "subject": fresh("ann")},
        *({"type": "content", "id": f"i{n}", "kind": fresh("audio"), "account": fresh("acme"),
           "owner": fresh("ann"), "meeting": fresh("m1"), "created_at": "2024-01-02T00:00:00Z"} for n in range(2)),
        {"type": "consent", "id": "c1", "subject": fresh("ann"), "purpose": fresh("ai"), "status": "given",
         "meeting": fresh("m1"), "at": "2024-01-03T00:00:00Z"},
    )
    first, second = world.item_record("i0"), world.item_record("i1")
    assert first.account is second.account and first.subject is second.subject
    assert first.meeting is second.meeting and first.kind is second.kind
    [consent] = world.consents_of("ann")
    assert consent.subject is first.subject and consent.meeting is first.meeting
    assert world.consent_subjects(first.subject, first.meeting)[0] is first.subject
    assert next(key for key in world.consent_index() if key == "ann") is first.subject


def test_consents_of_a_subject_in_valid_time_order(world_of):
    consents = [
        {
            "type": "consent",
            "id": f"c{day}",
            "subject": "ann",
            "purpose": purpose,
            "status": "given",
            "at": f"2024-01-0{day}T00:00:00Z",
        }
        for day, purpose in ((3, "ai"), (1, "ai.training"), (2, "ai"))
    ]
    assert [c.id for c in world_of(*consents).consents_of("ann")] == ["c1", "c2", "c3"]


def test_only_events_can_be_applied():
    with pytest.raises(TypeError, match="not an event"):
        World().apply({"type": "account", "id": "a"})


def test_a_naive_time_is_refused(world_of):
    with pytest.raises(ValueError, match="time zone"):
        decide(world_of(*EVENTS), "c", "service", datetime(2024, 2, 1), Policy())


def test_a_discarded_world_is_freed_without_the_cycle_collector(world_of):
    world = world_of(*EVENTS)
    gone = weakref.ref(world)
    enabled = gc.isenabled()
    gc.disable()
    try:
        del world
        assert gone() is None
    finally:
        if enabled:
            gc.enable()


def test_the_world_lists_every_entity_it_holds():
    from consentgate.model import parse_event

    world = World()
    for doc in (
        {"type": "account", "id": "a1", "region": "EU"},
        {"type": "group", "id": "g1", "account": "a1", "priority": 1},
        {"type": "user", "id": "u1", "account": "a1", "groups": ["g1"]},
        {"type": "meeting", "id": "m1", "account": "a1", "host": "u1", "started_at": "2023-01-01T00:00:00Z"},
        {"type": "participant", "meeting": "m1", "subject": "u1"},
        {"type": "participant", "meeting": "m1", "subject": "guest-1"},
        {"type": "content", "id": "i1", "kind": "chat", "account": "a1", "owner": "u1", "meeting": "m1",
         "created_at": "2023-01-01T00:00:00Z"},
        {"type": "terms", "version": "v1", "effective_at": "2023-01-01T00:00:00Z", "sections": []},
        {"type": "terms_acceptance", "account": "a1", "version": "v1", "at": "2023-01-02T00:00:00Z"},
        {"type": "delete", "item": "i1", "at": "2023-03-01T00:00:00Z"},
    ):
        world.apply(parse_event(doc))
    assert [a.id for a in world.accounts()] == ["a1"]
    assert [g.id for g in world.groups()] == ["g1"]
    assert [u.id for u in world.users()] == ["u1"]
    assert [m.id for m in world.meetings()] == ["m1"]
    assert [r.id for r in world.item_records()] == ["i1"]
    assert [(item, at) for item, at in world.erasures()] == [("i1", 1677628800000000)]
    assert [r.version for r in world.terms_records()] == ["v1"]
    assert list(world.acceptance_index()["a1"].records) == ["v1"]
    assert [(m, [line.subject for line in lines]) for m, lines in world.participant_lines()] == [
        ("m1", ["u1", "guest-1"])
    ]


def test_an_evaluator_that_remembers_nothing_follows_the_world_as_it_changes(world_of):
    from consentgate.core import Evaluator

    consented = {"type": "consent", "id": "k1", "subject": "bob", "purpose": "ai.training", "status": "given",
                 "kinds": ["chat"], "at": "2024-01-01T00:00:00Z"}
    terms = {**TERMS, "sections": [{"id": "1", "grants": [
        {"purpose": "ai.training", "data": ["chat"], "requires": ["consent"]}]}]}
    world = world_of(*EVENTS, terms, consented,
                     {"type": "terms_acceptance", "account": "acme", "version": "v", "at": "2024-01-01T00:00:00Z"})
    single, remembering = Evaluator(world, Policy.default(), memory=0), Evaluator(world, Policy.default())
    assert single.decide("c", "ai.training", AT).allowed
    assert remembering.decide("c", "ai.training", AT).allowed
    world.apply(parse_event({**consented, "id": "k2", "status": "withdrawn", "at": "2024-01-20T00:00:00Z"}))
    assert single.decide("c", "ai.training", AT).codes == ("consent.withdrawn",)
    # An evaluator that remembers answers from memory until it is made again (as documented).
    assert remembering.decide("c", "ai.training", AT).allowed
    assert Evaluator(world, Policy.default()).decide("c", "ai.training", AT).codes == ("consent.withdrawn",)
