"""Spark runs the same plan: on random worlds and the seed story, it judges as decide does.

Spark is slow to start and to plan, so these take fewer examples than the DuckDB ones;
the plan is the same text, transpiled.
"""

from __future__ import annotations

import json

import pytest
from bulk_worlds import (
    assert_allowed_share_equals_select,
    assert_select_equals_decide,
    policies,
    questions,
    world_of,
    worlds,
)
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from consentgate.bulk import select, state_tables_from_world
from consentgate.core import Policy, World
from consentgate.model import parse_event
from consentgate.model.times import parse_time

pytestmark = pytest.mark.slow

SPARK = settings(max_examples=10, deadline=None, suppress_health_check=[HealthCheck.too_slow,
                                                                         HealthCheck.function_scoped_fixture])


@SPARK
@given(worlds(), questions.map(lambda asked: asked[:1]), policies, st.booleans())
def test_spark_select_equals_decide_for_every_item(spark, events, asked, policy, filtered):
    world = world_of(events)
    kinds = ["audio", "chat", "telemetry"] if filtered else None
    for purpose, at in asked:
        assert_select_equals_decide(world, state_tables_from_world(world), purpose, at, policy, kinds, "spark")


@pytest.mark.parametrize(
    ("purpose", "at"),
    [("ai.training", "2023-08-25T00:00:00Z"), ("ai.training", "2023-09-02T00:00:00Z"),
     ("ai.training", "2023-10-02T00:00:00Z"), ("service.provision", "2023-08-25T00:00:00Z")],
)
def test_spark_judges_the_seed_story_as_decide_does(spark, examples, purpose, at):
    world = World()
    world.apply_many(parse_event(line) for line in (examples / "seed-story.jsonl").read_text().splitlines() if line)
    assert_select_equals_decide(world, state_tables_from_world(world), purpose, parse_time(at), Policy.default(),
                                engine="spark")


def test_spark_and_duckdb_return_the_same_table(spark, examples):
    world = World()
    world.apply_many(parse_event(line) for line in (examples / "seed-story.jsonl").read_text().splitlines() if line)
    tables = state_tables_from_world(world)
    at = parse_time("2023-09-02T00:00:00Z")
    on_spark = select(tables, "ai.training", at, Policy.default(), engine="spark")
    on_duckdb = select(tables, "ai.training", at, Policy.default())
    assert on_spark.equals(on_duckdb)
    assert json.dumps(on_spark.schema.names) == json.dumps(on_duckdb.schema.names)


def test_spark_gives_a_datasets_share_as_its_selection_does(spark, examples):
    world = World()
    world.apply_many(parse_event(line) for line in (examples / "seed-story.jsonl").read_text().splitlines() if line)
    # A time when some items are allowed and others denied for several reasons.
    assert_allowed_share_equals_select(state_tables_from_world(world), "ai.training",
                                       parse_time("2023-09-02T00:00:00Z"), Policy.default(), engine="spark")
