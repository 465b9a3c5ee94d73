"""Derived content is usable only if every item it was made from is usable too."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest

from consentgate.core import Policy, decide, decide_many

AT = datetime(2024, 2, 1, tzinfo=UTC)
KINDS = ["audio", "transcript", "summary", "embedding"]


def item(item_id: str, kind: str, *sources: str, **extra: Any) -> dict[str, Any]:
    return {
        "type": "content",
        "id": item_id,
        "kind": kind,
        "account": "acme",
        "owner": "ann",
        "created_at": "2024-01-02T00:00:00Z",
        "derived_from": list(sources),
    } | extra


WORLD: list[dict[str, Any]] = [
    {"type": "account", "id": "acme"},
    {
        "type": "terms",
        "version": "v",
        "effective_at": "2024-01-01T00:00:00Z",
        "sections": [
            {
                "id": "1",
                "grants": [
                    {"purpose": "ai.training", "data": KINDS, "requires": ["consent"]},
                    {"purpose": "service", "data": KINDS},
                ],
            }
        ],
    },
    {"type": "terms_acceptance", "account": "acme", "version": "v", "at": "2024-01-01T00:00:00Z"},
    {
        "type": "consent",
        "id": "c",
        "subject": "ann",
        "purpose": "ai.training",
        "status": "given",
        "at": "2024-01-01T00:00:00Z",
    },
    item("audio", "audio"),
    item("transcript", "transcript", "audio"),
    item("summary", "summary", "transcript"),
]

CASES = [
    # (case, extra events, item asked, expected reasons)
    ("a clean chain is usable", [], "summary", set()),
    (
        "a signal on the root stops the chain at the next link",
        [item("audio", "audio", signals={"tdm_reservation": 1})],
        "transcript",
        {("source.ineligible", "audio")},
    ),
    (
        "only the direct source is named",
        [item("audio", "audio", signals={"tdm_reservation": 1})],
        "summary",
        {("source.ineligible", "transcript")},
    ),
    (
        "an erased source",
        [{"type": "delete", "item": "audio", "at": "2024-01-10T00:00:00Z"}],
        "transcript",
        {("source.ineligible", "audio")},
    ),
    (
        "a source created after T",
        [item("late", "audio", created_at="2024-03-01T00:00:00Z"), item("made", "summary", "late", "audio")],
        "made",
        {("source.ineligible", "late")},
    ),
    (
        "each bad source is named",
        [
            item("bad", "audio", signals={"tdm_reservation": 1}),
            item("emb", "embedding", "audio", "bad", "gone"),
        ],
        "emb",
        {("source.ineligible", "bad"), ("source.ineligible", "gone")},
    ),
    (
        "sources are listed with failing conditions",
        [
            {
                "type": "consent",
                "id": "w",
                "subject": "ann",
                "purpose": "ai.training",
                "status": "withdrawn",
                "kinds": ["transcript"],
                "at": "2024-01-05T00:00:00Z",
            },
            item("audio", "audio", signals={"tdm_reservation": 1}),
        ],
        "transcript",
        {("consent.withdrawn", "ann"), ("source.ineligible", "audio")},
    ),
    (
        "a derivation cycle is never usable",
        [item("x", "summary", "y"), item("y", "summary", "x")],
        "x",
        {("source.ineligible", "y")},
    ),
]


@pytest.mark.parametrize(("extra", "asked", "expected"), [c[1:] for c in CASES], ids=[c[0] for c in CASES])
def test_derived_items(world_of, reasons, extra, asked, expected):
    decision = decide(world_of(*WORLD, *extra), asked, "ai.training", AT, Policy())
    assert reasons(decision) == expected


def test_source_usability_is_for_the_same_purpose(world_of):
    world = world_of(*WORLD, item("audio", "audio", signals={"tdm_reservation": 1}))
    assert decide(world, "summary", "service.provision", AT, Policy()).allowed
    assert not decide(world, "summary", "ai.training", AT, Policy()).allowed


def test_allowed_basis_names_the_sources(world_of):
    decision = decide(world_of(*WORLD), "transcript", "ai.training", AT, Policy())
    assert decision.basis[-1] == {"source": "audio"}


def test_batch_answers_for_a_chain_equal_single_answers(world_of):
    world = world_of(*WORLD, item("audio", "audio", signals={"tdm_reservation": 1}))
    questions = [(name, "ai.training", AT) for name in ("summary", "transcript", "audio", "summary")]
    batch = decide_many(world, questions, Policy())
    assert [d.to_json() for d in batch] == [decide(world, *q, Policy()).to_json() for q in questions]
