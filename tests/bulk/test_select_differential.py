"""On random worlds, ``select`` on DuckDB judges every item exactly as ``decide`` does."""

from __future__ import annotations

from bulk_worlds import (
    assert_allowed_share_equals_select,
    assert_select_equals_decide,
    kind_filters,
    policies,
    questions,
    world_of,
    worlds,
)
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from consentgate.bulk import state_tables_from_world

DIFFERENTIAL = settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])


def _each_question_judged_alike(events, asked, policy, **options):
    world = world_of(events)
    tables = state_tables_from_world(world)
    for purpose, at in asked:
        assert_select_equals_decide(world, tables, purpose, at, policy, **options)


@DIFFERENTIAL
@given(worlds(), questions, policies)
def test_select_equals_decide_for_every_item(events, asked, policy):
    _each_question_judged_alike(events, asked, policy)


@settings(max_examples=80, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(worlds(), questions, policies, kind_filters)
def test_a_kinds_filter_lists_only_those_kinds_and_judges_them_the_same(events, asked, policy, kinds):
    _each_question_judged_alike(events, asked, policy, kinds=kinds)


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(worlds(), questions, policies, st.integers(1, 3))
def test_big_meetings_rank_their_later_participants_the_same_way(events, asked, policy, packed_lines):
    # Only the first lines of a meeting travel as columns; fewer of them here sends the
    # rest of every meeting through the per-item path for big meetings.
    _each_question_judged_alike(events, asked, policy, packed_lines=packed_lines)


@settings(max_examples=80, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(worlds(), questions, policies, st.integers(1, 4))
def test_items_judged_a_share_at_a_time_are_judged_the_same_way(events, asked, policy, chunk_rows):
    # Each share of the items takes its account's, owner's and meeting's columns by
    # position on its own; shares of a few rows cut every world into many.
    _each_question_judged_alike(events, asked, policy, chunk_rows=chunk_rows)


@settings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(worlds(), questions, policies, st.one_of(st.none(), kind_filters))
def test_a_datasets_share_is_the_selections_allowed_rows_and_counted_reasons(events, asked, policy, kinds):
    tables = state_tables_from_world(world_of(events))
    for purpose, at in asked:
        assert_allowed_share_equals_select(tables, purpose, at, policy, kinds)
