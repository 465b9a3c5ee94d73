"""The decision object of CONTRACT.md §2."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

from consentgate.core import Decision, Policy, Reason, decide

WORLD = [
    {"type": "account", "id": "acme"},
    {"type": "user", "id": "ann", "account": "acme"},
    {
        "type": "terms",
        "version": "v",
        "effective_at": "2024-01-01T00:00:00Z",
        "sections": [
            {
                "id": "10.4",
                "grants": [
                    {"purpose": "ai.training", "data": ["chat"], "requires": ["consent", "setting:ai"]}
                ],
            }
        ],
    },
    {"type": "terms_acceptance", "account": "acme", "version": "v", "at": "2024-01-01T00:00:00Z"},
    {
        "type": "setting",
        "scope": "account",
        "target": "acme",
        "key": "ai",
        "value": True,
        "at": "2024-01-01T00:00:00Z",
    },
    {
        "type": "consent",
        "id": "c-1",
        "subject": "ann",
        "purpose": "ai.training",
        "status": "given",
        "at": "2024-01-01T00:00:00Z",
    },
    {
        "type": "content",
        "id": "chat",
        "kind": "chat",
        "account": "acme",
        "owner": "ann",
        "created_at": "2024-01-02T00:00:00Z",
    },
]


def test_allowed_decision_names_its_basis(world_of):
    at = datetime(2024, 2, 1, 1, tzinfo=timezone(timedelta(hours=1)))
    policy = Policy()
    assert decide(world_of(*WORLD), "chat", "ai.training", at, policy).to_json() == {
        "item": "chat",
        "purpose": "ai.training",
        "at": "2024-02-01T00:00:00Z",
        "allowed": True,
        "reasons": [],
        "basis": [
            {"terms": "v", "section": "10.4"},
            {"consent": "c-1", "subject": "ann"},
            {"setting": "ai", "level": "account", "target": "acme", "value": True},
        ],
        "policy": policy.digest,
    }


def test_reason_json_has_only_the_fields_it_carries():
    reason = Reason("consent.missing", "ann has not consented", subject="ann")
    assert reason.to_json() == {
        "code": "consent.missing",
        "subject": "ann",
        "message": "ann has not consented",
    }
    assert list(Reason("setting.off", "off", key="k", level="user").to_json()) == [
        "code",
        "key",
        "level",
        "message",
    ]


def test_denial_has_reasons_and_no_basis(world_of):
    decision = decide(world_of(*WORLD), "chat", "ai.training", datetime(2024, 1, 1, tzinfo=UTC), Policy())
    assert isinstance(decision, Decision)
    assert decision.to_json()["basis"] == []
    assert decision.to_json()["reasons"] == [
        {"code": "item.unknown", "message": "no item chat exists as of 2024-01-01T00:00:00Z"}
    ]


def test_to_json_copies_the_basis(world_of):
    decision = decide(world_of(*WORLD), "chat", "ai.training", datetime(2024, 2, 1, tzinfo=UTC), Policy())
    decision.to_json()["basis"][0]["terms"] = "changed"
    assert decision.basis[0]["terms"] == "v"
