"""Every reason code, and the rules around consent, time and purposes, in a small world."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest

from consentgate.core import Policy, decide

CONTENT_KINDS = ["audio", "video", "chat", "transcript", "summary", "file"]


def day(n: int) -> str:
    return f"2024-02-{n:02d}T00:00:00Z"


def when(n: int) -> datetime:
    return datetime(2024, 2, n, tzinfo=UTC)


BASE: list[dict[str, Any]] = [
    {"type": "account", "id": "acme", "region": "US"},
    {"type": "account", "id": "lumen", "region": "EU"},
    {
        "type": "terms",
        "version": "v1",
        "effective_at": "2024-01-01T00:00:00Z",
        "sections": [
            {"id": "1", "grants": [{"purpose": "service.provision", "data": CONTENT_KINDS}]},
            {
                "id": "2",
                "grants": [
                    {"purpose": "ai.training", "data": CONTENT_KINDS, "requires": ["consent", "setting:ai"]}
                ],
            },
            {
                "id": "3",
                "grants": [
                    {
                        "purpose": "service.value_added.recording",
                        "data": ["audio"],
                        "requires": ["notice:recording"],
                    }
                ],
            },
            {
                "id": "4",
                "grants": [
                    {"purpose": "service.improvement", "data": ["telemetry"]},
                    {"purpose": "service.improvement", "data": ["chat"], "requires": ["setting:improve"]},
                    {"purpose": "service.improvement", "data": ["chat"], "requires": ["consent"]},
                ],
            },
        ],
    },
    {"type": "terms_acceptance", "account": "acme", "version": "v1", "at": "2024-01-02T00:00:00Z"},
    {"type": "terms_acceptance", "account": "lumen", "version": "v1", "at": "2024-01-02T00:00:00Z"},
    {"type": "user", "id": "ann", "account": "acme"},
    {"type": "user", "id": "eve", "account": "lumen"},
    {
        "type": "setting",
        "scope": "account",
        "target": "acme",
        "key": "ai",
        "value": True,
        "at": "2024-01-03T00:00:00Z",
    },
    {
        "type": "setting",
        "scope": "account",
        "target": "lumen",
        "key": "ai",
        "value": True,
        "at": "2024-01-03T00:00:00Z",
    },
    {"type": "meeting", "id": "m1", "account": "acme"},
    {"type": "meeting", "id": "m2", "account": "acme"},
    {"type": "participant", "meeting": "m1", "subject": "ann", "notified": ["recording"]},
    {"type": "participant", "meeting": "m1", "subject": "zoe", "notified": []},
    {
        "type": "content",
        "id": "chat",
        "kind": "chat",
        "account": "acme",
        "owner": "ann",
        "created_at": day(1),
    },
    {
        "type": "content",
        "id": "audio",
        "kind": "audio",
        "account": "acme",
        "owner": "ann",
        "meeting": "m1",
        "created_at": day(1),
    },
    {
        "type": "content",
        "id": "late",
        "kind": "chat",
        "account": "acme",
        "owner": "ann",
        "created_at": day(6),
    },
    {
        "type": "content",
        "id": "old",
        "kind": "chat",
        "account": "acme",
        "owner": "ann",
        "created_at": "2023-12-01T00:00:00Z",
    },
    {
        "type": "content",
        "id": "eu-chat",
        "kind": "chat",
        "account": "lumen",
        "owner": "eve",
        "created_at": day(1),
    },
    {
        "type": "service_data",
        "id": "tel",
        "kind": "telemetry",
        "account": "acme",
        "user": "ann",
        "at": day(1),
    },
]


def consent(cid: str, subject: str, status: str = "given", at: int = 2, **fields: Any) -> dict[str, Any]:
    event = {
        "type": "consent",
        "id": cid,
        "subject": subject,
        "purpose": "ai.training",
        "status": status,
        "at": day(at),
    }
    return event | fields


ANN = consent("c-ann", "ann")
ZOE = consent("c-zoe", "zoe")

CASES = [
    # (case, extra events, item, purpose, day asked, expected reasons; empty = allowed)
    ("allowed with every condition true", [ANN], "chat", "ai.training", 5, set()),
    ("unknown item", [], "nope", "ai.training", 5, {("item.unknown", None)}),
    ("item created after T does not exist yet", [ANN], "late", "ai.training", 5, {("item.unknown", None)}),
    (
        "erased before T",
        [{"type": "delete", "item": "chat", "at": day(4)}],
        "chat",
        "service.provision",
        5,
        {("item.deleted", None)},
    ),
    (
        "erased after T",
        [{"type": "delete", "item": "chat", "at": day(6)}],
        "chat",
        "service.provision",
        5,
        set(),
    ),
    (
        "erased exactly at T",
        [{"type": "delete", "item": "chat", "at": day(5)}],
        "chat",
        "service.provision",
        5,
        {("item.deleted", None)},
    ),
    (
        "terms not yet accepted",
        [],
        "old",
        "service.provision",
        datetime(2024, 1, 1, 12, tzinfo=UTC),
        {("terms.not_accepted", None)},
    ),
    ("unknown purpose", [], "chat", "marketing", 5, {("purpose.not_granted", None)}),
    ("grant for P.x does not cover P", [], "chat", "service", 5, {("purpose.not_granted", None)}),
    ("grant for P covers P.x", [], "chat", "service.provision.search", 5, set()),
    ("grant not covering the kind", [], "tel", "ai.training", 5, {("purpose.not_granted", None)}),
    ("consent missing", [], "chat", "ai.training", 5, {("consent.missing", "ann")}),
    (
        "consent refused",
        [consent("c1", "ann", "refused")],
        "chat",
        "ai.training",
        5,
        {("consent.refused", "ann")},
    ),
    (
        "consent withdrawn",
        [ANN, consent("c2", "ann", "withdrawn", at=4)],
        "chat",
        "ai.training",
        5,
        {("consent.withdrawn", "ann")},
    ),
    (
        "consent given after T",
        [consent("c1", "ann", at=6)],
        "chat",
        "ai.training",
        5,
        {("consent.missing", "ann")},
    ),
    (
        "consent expired",
        [consent("c1", "ann", expires_at=day(4))],
        "chat",
        "ai.training",
        5,
        {("consent.expired", "ann")},
    ),
    (
        "consent expiring exactly at T",
        [consent("c1", "ann", expires_at=day(5))],
        "chat",
        "ai.training",
        5,
        {("consent.expired", "ann")},
    ),
    ("consent expiring after T", [consent("c1", "ann", expires_at=day(6))], "chat", "ai.training", 5, set()),
    ("consent for P covers P.x", [consent("c1", "ann", purpose="ai")], "chat", "ai.training", 5, set()),
    (
        "consent for P.x does not cover P",
        [consent("c1", "ann", purpose="ai.training.llm")],
        "chat",
        "ai.training",
        5,
        {("consent.missing", "ann")},
    ),
    (
        "consent of other kinds",
        [consent("c1", "ann", kinds=["audio"])],
        "chat",
        "ai.training",
        5,
        {("consent.missing", "ann")},
    ),
    (
        "withdrawal of other kinds leaves it",
        [ANN, consent("c2", "ann", "withdrawn", at=3, kinds=["audio"])],
        "chat",
        "ai.training",
        5,
        set(),
    ),
    (
        "setting off",
        [
            ANN,
            {"type": "setting", "scope": "user", "target": "ann", "key": "ai", "value": False, "at": day(3)},
        ],
        "chat",
        "ai.training",
        5,
        {("setting.off", "ai")},
    ),
    (
        "every failing condition listed",
        [{"type": "setting", "scope": "user", "target": "ann", "key": "ai", "value": False, "at": day(3)}],
        "chat",
        "ai.training",
        5,
        {("setting.off", "ai"), ("consent.missing", "ann")},
    ),
    ("every participant must consent", [ANN], "audio", "ai.training", 5, {("consent.missing", "zoe")}),
    ("participants' consent counts", [ANN, ZOE], "audio", "ai.training", 5, set()),
    (
        "consent limited to the meeting",
        [ANN, consent("c-zoe", "zoe", meeting="m1")],
        "audio",
        "ai.training",
        5,
        set(),
    ),
    (
        "consent limited to another meeting",
        [ANN, consent("c-zoe", "zoe", meeting="m2")],
        "audio",
        "ai.training",
        5,
        {("consent.missing", "zoe")},
    ),
    (
        "meeting consent does not cover items outside meetings",
        [consent("c1", "ann", meeting="m1")],
        "chat",
        "ai.training",
        5,
        {("consent.missing", "ann")},
    ),
    (
        "on behalf in a self-consent-only region",
        [consent("c1", "eve", method="admin_on_behalf")],
        "eu-chat",
        "ai.training",
        5,
        {("consent.not_self", "eve")},
    ),
    (
        "by someone else in a self-consent-only region",
        [consent("c1", "eve", by="boss")],
        "eu-chat",
        "ai.training",
        5,
        {("consent.not_self", "eve")},
    ),
    (
        "on behalf elsewhere counts",
        [consent("c1", "ann", method="admin_on_behalf", by="boss")],
        "chat",
        "ai.training",
        5,
        set(),
    ),
    ("self in a self-consent-only region", [consent("c1", "eve")], "eu-chat", "ai.training", 5, set()),
    (
        "refused comes before not given by the subject",
        [consent("c1", "eve", "refused", by="boss")],
        "eu-chat",
        "ai.training",
        5,
        {("consent.refused", "eve")},
    ),
    (
        "a tie goes to the later line: withdrawn",
        [ANN, consent("c2", "ann", "withdrawn")],
        "chat",
        "ai.training",
        5,
        {("consent.withdrawn", "ann")},
    ),
    (
        "a tie goes to the later line: given",
        [consent("c2", "ann", "withdrawn"), ANN],
        "chat",
        "ai.training",
        5,
        set(),
    ),
    (
        "a tie across purposes goes to the later line: given",
        [consent("c2", "ann", "withdrawn", purpose="ai"), ANN],
        "chat",
        "ai.training",
        5,
        set(),
    ),
    (
        "a tie across purposes goes to the later line: withdrawn",
        [ANN, consent("c2", "ann", "withdrawn", purpose="ai")],
        "chat",
        "ai.training",
        5,
        {("consent.withdrawn", "ann")},
    ),
    (
        "the latest consent decides, whatever the line order",
        [consent("c2", "ann", "withdrawn", at=4), ANN],
        "chat",
        "ai.training",
        5,
        {("consent.withdrawn", "ann")},
    ),
    ("notice missing", [], "audio", "service.value_added.recording", 5, {("notice.missing", "zoe")}),
    ("notice holds outside meetings", [], "chat", "service.provision", 5, set()),
    (
        "failing conditions of every covering grant",
        [],
        "chat",
        "service.improvement",
        5,
        {("setting.off", "improve"), ("consent.missing", "ann")},
    ),
    (
        "one covering grant holding is enough",
        [consent("c1", "ann", purpose="service.improvement")],
        "chat",
        "service.improvement",
        5,
        set(),
    ),
]


@pytest.mark.parametrize(
    ("extra", "item", "purpose", "asked", "expected"),
    [case[1:] for case in CASES],
    ids=[case[0] for case in CASES],
)
def test_reasons(world_of, reasons, extra, item, purpose, asked, expected):
    at = asked if isinstance(asked, datetime) else when(asked)
    decision = decide(world_of(*BASE, *extra), item, purpose, at, Policy())
    assert reasons(decision) == expected
    assert decision.allowed is (not expected)


def test_created_at_t_exists_but_before_t_does_not(world_of):
    world = world_of(*BASE)
    assert decide(world, "chat", "service.provision", when(1), Policy()).allowed
    before = datetime(2024, 1, 31, 23, 59, tzinfo=UTC)
    assert decide(world, "chat", "service.provision", before, Policy()).codes == ("item.unknown",)


@pytest.mark.parametrize("regions", [frozenset(), frozenset({"US"})])
def test_self_consent_only_regions_come_from_the_policy(world_of, reasons, regions):
    world = world_of(
        *BASE, consent("c1", "ann", method="admin_on_behalf"), consent("c2", "eve", method="admin_on_behalf")
    )
    policy = Policy(self_consent_only_regions=regions)
    assert decide(world, "chat", "ai.training", when(5), policy).allowed is ("US" not in regions)
    assert decide(world, "eu-chat", "ai.training", when(5), policy).allowed


def test_setting_off_names_key_and_level(world_of):
    denied = decide(world_of(*BASE), "chat", "service.improvement", when(5), Policy())
    setting = next(r for r in denied.reasons if r.code == "setting.off")
    assert (setting.key, setting.level) == ("improve", "default")


def test_consent_reasons_name_subject_and_meeting(world_of):
    decision = decide(world_of(*BASE, ANN), "audio", "ai.training", when(5), Policy())
    assert [r.message for r in decision.reasons] == [
        "zoe has not consented to ai.training for audio in meeting m1"
    ]


def test_standalone_denials_stand_alone(world_of):
    signed = {
        "type": "content",
        "id": "signed",
        "kind": "chat",
        "account": "acme",
        "owner": "ann",
        "created_at": day(1),
        "signals": {"tdm_reservation": 1},
        "derived_from": ["gone"],
    }
    gone = {
        "type": "content",
        "id": "gone",
        "kind": "chat",
        "account": "acme",
        "owner": "ann",
        "created_at": day(1),
    }
    world = world_of(*BASE, gone, signed, {"type": "delete", "item": "gone", "at": day(2)})
    assert decide(world, "signed", "ai", when(5), Policy()).codes == ("purpose.not_granted",)
    world = world_of(*BASE, gone, signed, {"type": "delete", "item": "signed", "at": day(2)})
    assert decide(world, "signed", "ai.training", when(5), Policy()).codes == ("item.deleted",)
