"""Do-not-train signals: each form, the purposes they reserve, and how they are listed."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest

from consentgate.core import Policy, decide
from consentgate.core.signals import parse_ai_preferences, reserves_purpose, training_reservation
from consentgate.model import Signals, parse_event


def mining(name: str, **entry: Any) -> dict[str, Any]:
    return {"training_mining": {"entries": {name: entry}}}


@pytest.mark.parametrize(
    ("signals", "reserved"),
    [
        ({"tdm_reservation": 1}, True),
        ({"tdm_reservation": 0}, False),
        (mining("c2pa.ai_training", use="notAllowed"), True),
        (mining("c2pa.ai_generative_training", use="notAllowed"), True),
        (mining("cawg.ai_training", use="notAllowed"), True),
        (mining("cawg.ai_generative_training", use="constrained"), True),
        (mining("c2pa.ai_training", use="constrained", constraint_info="research only"), False),
        (mining("c2pa.ai_training", use="allowed"), False),
        (mining("c2pa.data_mining", use="notAllowed"), False),
        ({"training_mining": {"c2pa.ai_training": {"use": "notAllowed"}}}, False),
        ({"ai_preferences": "train-ai=n"}, True),
        ({"ai_preferences": "train-ai=n, search=y"}, True),
        ({"ai_preferences": "  search=y ,TRAIN-AI = N;reason=x"}, True),
        ({"ai_preferences": "train-ai=y"}, False),
        ({"ai_preferences": "search=n, train-genai=n"}, False),
        ({"ai_preferences": "train-ai=n, train-ai=y"}, False),
        ({"ai_preferences": ""}, False),
        ({}, False),
    ],
)
def test_training_reservation(signals, reserved):
    assert (training_reservation(Signals(**signals)) is not None) is reserved


def test_parse_ai_preferences_reads_every_member():
    assert parse_ai_preferences('train-ai="n", search, ,=y') == {"train-ai": "n", "search": "y"}


@pytest.mark.parametrize(
    ("purpose", "reserved"),
    [
        ("ai.training", True),
        ("ai.training.finetune", True),
        ("ai", True),
        ("ai.inference", False),
        ("service.provision", False),
        ("aix", False),
    ],
)
def test_reserved_purposes(purpose, reserved):
    assert reserves_purpose(purpose) is reserved


def _world(world_of, **extra: Any):
    return world_of(
        {"type": "account", "id": "acme"},
        {
            "type": "terms",
            "version": "v",
            "effective_at": "2024-01-01T00:00:00Z",
            "sections": [
                {
                    "id": "1",
                    "grants": [
                        {"purpose": "ai", "data": ["file"], "requires": ["consent"]},
                        {"purpose": "service", "data": ["file"]},
                    ],
                }
            ],
        },
        {"type": "terms_acceptance", "account": "acme", "version": "v", "at": "2024-01-01T00:00:00Z"},
        {
            "type": "content",
            "id": "f",
            "kind": "file",
            "account": "acme",
            "owner": "ann",
            "created_at": "2024-01-02T00:00:00Z",
            "signals": {"tdm_reservation": 1},
        }
        | extra,
    )


AT = datetime(2024, 2, 1, tzinfo=UTC)
GIVEN = {
    "type": "consent",
    "id": "c",
    "subject": "ann",
    "purpose": "ai",
    "status": "given",
    "at": "2024-01-03T00:00:00Z",
}


def test_signal_alone_denies_what_consent_allows(world_of, reasons):
    world = _world(world_of)
    world.apply(parse_event(GIVEN))
    assert reasons(decide(world, "f", "ai.training", AT, Policy())) == {("signal.reserved", None)}


def test_signal_is_listed_with_other_failing_conditions(world_of, reasons):
    decision = decide(_world(world_of), "f", "ai", AT, Policy())
    assert reasons(decision) == {("signal.reserved", None), ("consent.missing", "ann")}


def test_signal_does_not_touch_other_purposes(world_of):
    assert decide(_world(world_of), "f", "service.provision", AT, Policy()).allowed


def test_signal_reason_says_which_signal(world_of):
    decision = decide(
        _world(world_of, signals={"ai_preferences": "train-ai=n"}), "f", "ai.training", AT, Policy()
    )
    assert "train-ai=n" in decision.reasons[-1].message
