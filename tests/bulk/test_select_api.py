"""The shape of ``select``'s answer, its refusals, and corners the random worlds rarely hit."""

from __future__ import annotations

from datetime import UTC, datetime

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pytest
from bulk_worlds import assert_select_equals_decide, world_of

import consentgate.bulk as bulk
from consentgate.bulk import RESULT_SCHEMA, StateTables, select, state_tables_from_world
from consentgate.bulk._select import judge_all
from consentgate.core import Policy, World
from consentgate.model import parse_event
from consentgate.model.times import parse_time

AT = datetime(2024, 1, 5, tzinfo=UTC)
TERMS = {"type": "terms", "version": "v1", "effective_at": "2024-01-01T00:00:00Z", "sections": [
    {"id": "10.4", "grants": [{"purpose": "ai.training", "data": ["audio", "chat"], "requires": ["consent"]}]}]}


def world(*extra: dict) -> object:
    events = [{"type": "account", "id": "a1", "region": "US"}, TERMS,
              {"type": "terms_acceptance", "account": "a1", "version": "v1", "at": "2024-01-01T00:00:00Z"},
              {"type": "content", "id": "i1", "kind": "audio", "account": "a1", "owner": "u1",
               "created_at": "2024-01-02T00:00:00Z", "uri": "s3://x/i1", "sha256": "ab" * 32},
              {"type": "content", "id": "i2", "kind": "chat", "account": "a1", "owner": "u1",
               "created_at": "2024-01-09T00:00:00Z"},
              {"type": "consent", "id": "c1", "subject": "u1", "purpose": "ai", "status": "given",
               "at": "2024-01-01T00:00:00Z"}, *extra]
    return world_of([parse_event(event) for event in events])


def test_the_answer_has_the_documented_columns_and_basis():
    result = select(state_tables_from_world(world()), "ai.training", AT, Policy())
    assert result.schema == RESULT_SCHEMA
    assert result.to_pylist() == [{
        "item_id": "i1", "kind": "audio", "account": "a1", "owner": "u1", "meeting": None, "uri": "s3://x/i1",
        "sha256": "ab" * 32, "allowed": True, "reasons": [], "terms_version": "v1", "section": "10.4",
        "consent_ids": ["c1"],
    }]


def test_items_created_after_the_time_are_not_listed_at_all():
    tables = state_tables_from_world(world())
    assert select(tables, "ai.training", AT, Policy())["item_id"].to_pylist() == ["i1"]
    later = datetime(2024, 1, 10, tzinfo=UTC)
    assert select(tables, "ai.training", later, Policy())["item_id"].to_pylist() == ["i1", "i2"]


@pytest.mark.parametrize(
    ("arguments", "message"),
    [
        ({"at": datetime(2024, 1, 5)}, "time zone"),
        ({"engine": "sqlite"}, "unknown engine"),
        ({"kinds": ["audio", "podcast"]}, "unknown data kind"),
    ],
)
def test_a_bad_request_is_refused_with_the_reason(arguments, message):
    request = {"tables": state_tables_from_world(world()), "purpose": "ai.training", "at": AT,
               "policy": Policy(), **arguments}
    with pytest.raises(ValueError, match=message):
        select(**request)


def test_an_acceptance_of_terms_that_do_not_exist_counts_for_nothing():
    state = world({"type": "terms_acceptance", "account": "a1", "version": "v9", "at": "2024-01-02T00:00:00Z"})
    assert assert_select_equals_decide(state, state_tables_from_world(state), "ai.training", AT, Policy()) == 1


def test_a_denied_item_has_no_section_and_no_consents():
    state = world({"type": "consent", "id": "c2", "subject": "u1", "purpose": "ai.training", "status": "withdrawn",
                   "at": "2024-01-03T00:00:00Z"})
    row = select(state_tables_from_world(state), "ai.training", AT, Policy()).to_pylist()[0]
    assert (row["allowed"], row["reasons"], row["section"], row["consent_ids"]) == (
        False, ["consent.withdrawn"], None, [])
    assert row["terms_version"] == "v1"


def test_state_tables_must_have_every_column():
    tables = state_tables_from_world(world()).as_dict()
    tables["consents"] = tables["consents"].drop_columns(["seq"])
    with pytest.raises(ValueError, match="consents lacks column"):
        StateTables(**tables)


def test_an_empty_world_selects_nothing():
    result = select(state_tables_from_world(world_of([])), "ai.training", AT, Policy())
    assert result.num_rows == 0 and result.schema == RESULT_SCHEMA


def test_the_package_exports_a_sorted_list_of_names_that_resolve():
    assert bulk.__all__ == sorted(bulk.__all__)
    assert all(getattr(bulk, name) is not None for name in bulk.__all__)
    assert isinstance(bulk.SCHEMAS["items"], pa.Schema)


def _seed_story(examples) -> tuple[object, StateTables]:
    state = World()
    state.apply_many(parse_event(line) for line in (examples / "seed-story.jsonl").read_text().splitlines() if line)
    return state, state_tables_from_world(state)


def _narrowed(tables: StateTables) -> StateTables:
    """The same state with strings as dictionaries and row numbers as int32, as a large
    deployment may keep it."""
    def narrow(table: pa.Table) -> pa.Table:
        columns = [pc.dictionary_encode(column) if pa.types.is_string(column.type)
                   else column.cast(pa.int32()) if name.endswith("_ref") or name in ("pos", "item_row", "source_row")
                   else column for name, column in zip(table.column_names, table.columns, strict=True)]
        return pa.table(columns, names=table.column_names)
    return StateTables(**{name: narrow(table) for name, table in tables.as_dict().items()})


def test_narrower_column_types_give_the_same_answer(examples):
    _, tables = _seed_story(examples)
    at = datetime(2023, 9, 2, tzinfo=UTC)
    plain = select(tables, "ai.training", at, Policy.default())
    narrow = select(_narrowed(tables), "ai.training", at, Policy.default())
    assert narrow.to_pylist() == plain.to_pylist()
    assert pa.types.is_dictionary(narrow.schema.field("owner").type)  # passed through, not copied


def test_consents_out_of_log_order_rely_on_the_same_consents(examples):
    state, tables = _seed_story(examples)
    consents = tables.consents.take(pa.array(list(reversed(range(tables.consents.num_rows)))))
    shuffled = StateTables(**{**tables.as_dict(), "consents": consents})
    for at in ("2023-08-25T00:00:00Z", "2023-09-02T00:00:00Z", "2023-10-02T00:00:00Z"):
        assert_select_equals_decide(state, shuffled, "ai.training", parse_time(at), Policy.default())


def test_participant_lines_out_of_meeting_order_rely_on_the_same_consents(examples):
    # A store lists a meeting's lines together; other states may not. Reversed, the lines
    # are out of meeting order, and the consents relied on are still found per meeting.
    state, tables = _seed_story(examples)
    lines = tables.participants
    reversed_lines = lines.take(pa.array(list(reversed(range(lines.num_rows)))))
    meetings = pc.fill_null(reversed_lines.column("meeting_ref"), -1).to_numpy()
    assert np.any(meetings[1:] < meetings[:-1])  # the case this test is about
    shuffled = StateTables(**{**tables.as_dict(), "participants": reversed_lines})
    for at in ("2023-08-25T00:00:00Z", "2023-09-02T00:00:00Z", "2023-10-02T00:00:00Z"):
        assert_select_equals_decide(state, shuffled, "ai.training", parse_time(at), Policy.default())
    assert select(shuffled, "ai.training", parse_time("2023-09-02T00:00:00Z"), Policy.default()).to_pylist() == \
        select(tables, "ai.training", parse_time("2023-09-02T00:00:00Z"), Policy.default()).to_pylist()


@pytest.mark.parametrize("numbering", ["ranks", "sparse"])
def test_consents_numbered_by_rank_or_sparsely_rely_on_the_same_consents(examples, numbering):
    # A store's state numbers consents 0..n-1 by rank (no sort needed); other states may
    # number them with gaps. Both, with the rows out of that order, answer as decide does.
    state, tables = _seed_story(examples)
    seq = tables.consents.column("seq").to_numpy()
    ranks = np.empty(len(seq), dtype=np.int64)
    ranks[np.argsort(seq, kind="stable")] = np.arange(len(seq))
    numbers = ranks if numbering == "ranks" else ranks * 3 + 7
    consents = tables.consents.set_column(tables.consents.schema.get_field_index("seq"), "seq", pa.array(numbers))
    consents = consents.take(pa.array(list(reversed(range(consents.num_rows)))))
    renumbered = StateTables(**{**tables.as_dict(), "consents": consents})
    for at in ("2023-08-25T00:00:00Z", "2023-09-02T00:00:00Z", "2023-10-02T00:00:00Z"):
        assert_select_equals_decide(state, renumbered, "ai.training", parse_time(at), Policy.default())


@pytest.mark.parametrize("packed_lines", [1, 2])
def test_a_later_line_alone_refusing_denies_the_meetings_items(examples, packed_lines):
    # m-100's lines: ana (0), ben (1), guest-zoe (2). Zoe alone refuses later: her line is
    # one of the lines after those that travel as columns, and still counts.
    state = World()
    lines = (examples / "seed-story.jsonl").read_text().splitlines()
    refusal = ('{"type": "consent", "id": "c-zoe-2", "subject": "guest-zoe", "purpose": "ai.training", '
               '"status": "refused", "meeting": "m-100", "method": "ui", "at": "2023-09-01T09:00:00Z"}')
    state.apply_many(parse_event(line) for line in [*lines, refusal] if line)
    tables = state_tables_from_world(state)
    at = parse_time("2023-09-02T00:00:00Z")
    assert assert_select_equals_decide(state, tables, "ai.training", at, Policy.default(), packed_lines=packed_lines)
    result = judge_all(tables, "ai.training", at, Policy.default(), packed_lines=packed_lines)
    audio = result.filter(pc.equal(result["item_id"], "m-100-audio")).to_pylist()[0]
    assert not audio["allowed"]
    assert audio["reasons"] == ["consent.refused"]


SETTING_TERMS = {"type": "terms", "version": "v1", "effective_at": "2024-01-01T00:00:00Z", "sections": [
    {"id": "10.4", "grants": [{"purpose": "ai.training", "data": ["audio"],
                               "requires": ["setting:ai_training.customer_content"]}]}]}


@pytest.mark.parametrize(("memberships", "locked", "allowed"), [
    # By priority (1 first), not list order: p1 says yes, p2 no.
    (["p2", "p1"], (), True),
    (["p1", "p2"], (), True),
    # Groups without a priority rank last; among them, list order decides.
    (["none-no", "p2"], (), False),
    (["none-yes", "none-no"], (), True),
    (["none-no", "none-yes"], (), False),
    # The first locked group wins over the person's own value and any unlocked group.
    (["p1", "p2"], ("p2",), False),
    (["p1", "p2", "none-yes"], ("p2", "none-yes"), False),
    (["p2", "none-yes"], ("none-yes",), True),
])
def test_a_persons_groups_rank_by_priority_then_list_order(memberships, locked, allowed):
    values = {"p1": True, "p2": False, "none-yes": True, "none-no": False}
    priorities = {"p1": 1, "p2": 2, "none-yes": None, "none-no": None}
    events = [{"type": "account", "id": "a1", "region": "US"}, SETTING_TERMS,
              {"type": "terms_acceptance", "account": "a1", "version": "v1", "at": "2024-01-01T00:00:00Z"},
              *({"type": "group", "id": g, "account": "a1", "priority": priorities[g]} for g in values),
              {"type": "user", "id": "u1", "account": "a1", "groups": memberships},
              *({"type": "setting", "scope": "group", "target": g, "key": "ai_training.customer_content",
                 "value": value, "locked": g in locked, "at": "2024-01-01T00:00:00Z"} for g, value in values.items()),
              # The person's own value, which only a locked group overrides.
              {"type": "setting", "scope": "user", "target": "u1", "key": "ai_training.customer_content",
               "value": not allowed, "at": "2024-01-01T00:00:00Z"},
              {"type": "content", "id": "i1", "kind": "audio", "account": "a1", "owner": "u1",
               "created_at": "2024-01-02T00:00:00Z"}]
    if not locked:  # without a lock the person's own value decides; drop it to see the groups'
        events = [event for event in events if event.get("scope") != "user"]
    state = world_of([parse_event(event) for event in events])
    tables = state_tables_from_world(state)
    assert assert_select_equals_decide(state, tables, "ai.training", AT, Policy.default()) == 1
    result = select(tables, "ai.training", AT, Policy.default())
    assert result["allowed"].to_pylist() == [allowed]
