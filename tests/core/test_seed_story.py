"""The public seed story: every query's answer matches the expected one."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from consentgate.core import Policy, World, decide, decide_many
from consentgate.model import parse_event
from consentgate.model.times import parse_time

EXAMPLES = Path(__file__).resolve().parents[2].parent / "shared" / "examples"
pytestmark = pytest.mark.skipif(not EXAMPLES.is_dir(), reason="the public examples are not here")


def _lines(name: str) -> list[str]:
    return [line for line in (EXAMPLES / name).read_text().splitlines() if line.strip()]


def _normalized(reasons: list[dict[str, str]]) -> set[tuple[str, ...]]:
    # As the examples' checker compares them: the code with its subject, key or source.
    out: set[tuple[str, ...]] = set()
    for reason in reasons:
        detail = reason.get("subject") or reason.get("key") or reason.get("source")
        out.add((reason["code"], detail) if detail else (reason["code"],))
    return out


def _cases() -> list[tuple[dict[str, str], dict[str, object]]]:
    if not EXAMPLES.is_dir():
        return []
    queries = [json.loads(line) for line in _lines("seed-story.queries.jsonl")]
    expected = [json.loads(line) for line in _lines("seed-story.expected.jsonl")]
    return list(zip(queries, expected, strict=True))


@pytest.fixture(scope="module")
def seed_world() -> World:
    world = World()
    world.apply_many(parse_event(line) for line in _lines("seed-story.jsonl"))
    return world


@pytest.mark.parametrize(
    ("query", "expected"), _cases(), ids=lambda case: f"{case['item']}-{case['purpose']}-{case['at']}"
)
def test_seed_story_answer(seed_world, query, expected):
    decision = decide(seed_world, query["item"], query["purpose"], parse_time(query["at"]), Policy.default())
    answer = decision.to_json()
    assert answer["allowed"] == expected["allowed"]
    assert _normalized(answer["reasons"]) == _normalized(expected["reasons"])


def test_seed_story_batch_equals_single_answers(seed_world):
    questions = [(q["item"], q["purpose"], parse_time(q["at"])) for q, _ in _cases()]
    policy = Policy.default()
    batch = decide_many(seed_world, questions, policy)
    assert [d.to_json() for d in batch] == [decide(seed_world, *q, policy).to_json() for q in questions]
