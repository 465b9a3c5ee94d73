"""A kept state brought forward over the events logged since: it selects as the whole
world decides, without working the whole state out again."""

from __future__ import annotations

import json
import tempfile
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from bulk_worlds import assert_select_equals_decide, policies, questions, world_of, worlds
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from store_reads import assert_same_state, seed_lines, state_of

from consentgate import Store, init_store
from consentgate.bulk import _advance, _store
from consentgate.store import load_lines

# Where each event type's references point: (field, event type named).
_POINTS_TO: dict[str, tuple[tuple[str, str], ...]] = {
    "group": (("account", "account"),),
    "user": (("account", "account"), ("groups", "group")),
    "terms_acceptance": (("account", "account"), ("version", "terms")),
    "consent": (("meeting", "meeting"),),
    "meeting": (("account", "account"),),
    "participant": (("meeting", "meeting"),),
    "content": (("account", "account"), ("meeting", "meeting"), ("derived_from", "content")),
    "service_data": (("account", "account"),),
    "delete": (("item", "content"), ("item", "service_data")),
}


def _named(event: Any) -> set[tuple[str, str]]:
    """The (event type, key) pairs ``event``'s references name."""
    named = set()
    for field, type_ in _POINTS_TO.get(event.type, ()):
        values = getattr(event, field)
        named |= {(type_, value) for value in (values if isinstance(values, list) else [values]) if value}
    if event.type == "setting" and event.scope in ("account", "group"):
        named.add((event.scope, event.target))
    return named


def _key(event: Any) -> tuple[str, str] | None:
    value = getattr(event, "version" if event.type == "terms" else "id", None)
    return (event.type, value) if isinstance(value, str) else None


def split(events: list[Any], late: list[bool]) -> tuple[list[Any], list[Any]]:
    """The events in two loads: items always in the first, and whatever an event of the
    first names there too (so that each load's references resolve)."""
    early = [not flag or event.type in ("content", "service_data") for event, flag in zip(events, late, strict=True)]
    while True:
        needed = set().union(*(_named(event) for event, first in zip(events, early, strict=True) if first))
        moved = [not first and _key(event) in needed for event, first in zip(events, early, strict=True)]
        if not any(moved):
            break
        early = [first or move for first, move in zip(early, moved, strict=True)]
    return ([event for event, first in zip(events, early, strict=True) if first],
            [event for event, first in zip(events, early, strict=True) if not first])


def lines(events: list[Any]) -> list[bytes]:
    return [event.model_dump_json(exclude_none=True).encode() for event in events]


def not_afresh(*args: Any, **kwargs: Any) -> Any:
    raise AssertionError("the whole state was worked out again")


def brought_forward(store: Any, joined: bool, **options: Any) -> Any:
    """The state read over a kept one (never worked out afresh), the same as a read row
    by row; ``joined``: ids looked up at once and joined to tables in DuckDB, or not."""
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(_store, "_state_tables", not_afresh)
        patch.setattr(_advance, "_JOINED_FROM", 0 if joined else 10**9)
        patch.setattr(_advance, "_JOIN_IDS_FROM", 0 if joined else 10**9)
        tables = state_of(store, columnar=True, **options)
    options.pop("keep")
    assert_same_state(tables, state_of(store, columnar=False, **options))
    return tables


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(worlds(loadable=True).flatmap(lambda events: st.tuples(
    st.just(events), st.lists(st.booleans(), min_size=len(events), max_size=len(events)))), questions, policies,
    st.booleans())
def test_a_state_brought_forward_over_new_events_selects_as_the_whole_world_decides(drawn, asked, policy, joined):
    first, then = split(*drawn)
    with tempfile.TemporaryDirectory() as folder:
        store = Store(f"sqlite:///{folder}/store.db")
        try:
            init_store(store)
            load_lines(store, lines(first), "first.jsonl")
            state_of(store, columnar=True, keep=Path(folder) / "kept")
            if then:
                load_lines(store, lines(then), "then.jsonl")
            tables = brought_forward(store, joined, keep=Path(folder) / "kept")
        finally:
            store.dispose()
    world = world_of(first + then)
    for purpose, at in asked:
        assert_select_equals_decide(world, tables, purpose, at, policy)


def test_the_split_keeps_every_reference_of_the_first_load_within_it():
    from consentgate.model import parse_event

    events = [parse_event(event) for event in (
        {"type": "account", "id": "a1"}, {"type": "meeting", "id": "m1", "account": "a1"},
        {"type": "meeting", "id": "m2", "account": "a1"},
        {"type": "content", "id": "i1", "kind": "audio", "account": "a1", "owner": "u1", "meeting": "m1",
         "created_at": "2024-01-01T00:00:00Z"},
        {"type": "participant", "meeting": "m2", "subject": "u1"})]
    first, then = split(events, [True] * len(events))
    assert [event.type for event in first] == ["account", "meeting", "content"]
    assert [event.type for event in then] == ["meeting", "participant"]


def event(**fields: Any) -> bytes:
    return json.dumps(fields).encode()


@pytest.mark.backends
def test_new_meetings_lines_settings_and_erasures_bring_the_kept_state_forward(store, examples, tmp_path):
    keep = tmp_path / "kept"
    load_lines(store, seed_lines(examples), "seed-story.jsonl")
    before = state_of(store, columnar=True, keep=keep)
    item = before.items["item_id"][0].as_py()
    load_lines(store, [
        event(type="meeting", id="m-new", account="northwind"),
        event(type="participant", meeting="m-new", subject="newcomer", notified=["recording"]),
        event(type="setting", scope="user", target="someone-else", key="ai.training", value=False, locked=False,
              at="2023-08-20T00:00:00Z"),
        event(type="delete", item=item, at="2023-08-21T00:00:00Z"),
    ], "more.jsonl")
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(_store, "_state_tables", not_afresh)
        after = state_of(store, columnar=True, keep=keep)
    people, meetings = after.people["id"].to_pylist(), after.meetings["id"].to_pylist()
    assert people[:before.people.num_rows] == before.people["id"].to_pylist()
    assert {"newcomer", "someone-else"} <= set(people) and meetings[-1] == "m-new"
    assert after.meetings["account"][-1].as_py() == "northwind"
    assert after.participants["subject"][-1].as_py() == "newcomer" and after.participants["first"][-1].as_py()
    assert after.erasures["item_row"][-1].as_py() == 0 and after.items["erased"][0].is_valid
    assert_same_state(after, state_of(store, columnar=False))


def test_new_content_has_the_state_worked_out_afresh(sqlite_store, examples, tmp_path):
    keep = tmp_path / "kept"
    load_lines(sqlite_store, seed_lines(examples), "seed-story.jsonl")
    before = state_of(sqlite_store, columnar=True, keep=keep)
    load_lines(sqlite_store, [event(type="service_data", id="s-new", kind="telemetry", account="northwind",
                                    at="2023-08-20T00:00:00Z")], "more.jsonl")
    after = state_of(sqlite_store, columnar=True, keep=keep)
    assert after.items.num_rows == before.items.num_rows + 1
    assert after.items.equals(state_of(sqlite_store, columnar=False).items)


def test_an_account_and_a_meeting_a_catalog_named_first_are_described_by_their_new_events(sqlite_store, examples,
                                                                                        tmp_path):
    keep, catalog = tmp_path / "kept", tmp_path / "catalog.parquet"
    pq.write_table(pa.table({"id": ["c1"], "kind": ["audio"], "account": ["acme"], "owner": ["ana"],
                             "meeting": ["m-new"], "created_at": pa.array([0], pa.timestamp("s", tz="UTC"))}), catalog)
    load_lines(sqlite_store, seed_lines(examples), "seed-story.jsonl")
    before = state_of(sqlite_store, catalog=catalog, columnar=True, keep=keep)
    assert before.meetings["account"][before.meetings["id"].to_pylist().index("m-new")].as_py() is None
    load_lines(sqlite_store, [event(type="account", id="acme", region="EU"),
                              event(type="meeting", id="m-new", account="acme")], "described.jsonl")
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(_store, "_state_tables", not_afresh)
        after = state_of(sqlite_store, catalog=catalog, columnar=True, keep=keep)
    assert after.meetings["account"][before.meetings["id"].to_pylist().index("m-new")].as_py() == "acme"
    assert_same_state(after, state_of(sqlite_store, catalog=catalog, columnar=False))


def write_items(items: list[Any], path: Path) -> None:
    """Content events as a catalog file."""
    pq.write_table(pa.table({
        **{name: pa.array([getattr(item, name) for item in items], pa.string())
           for name in ("id", "kind", "account", "owner")},
        "meeting": pa.array([item.meeting for item in items], pa.string()),
        "created_at": pa.array([item.created_at for item in items], pa.timestamp("us", tz="UTC")),
        "derived_from": pa.array([item.derived_from for item in items], pa.list_(pa.string())),
        "signals": pa.array([None if item.signals is None else item.signals.model_dump_json(exclude_none=True)
                             for item in items], pa.string()),
    }), path)


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(worlds(loadable=True).flatmap(lambda events: st.tuples(
    st.just(events), st.lists(st.booleans(), min_size=len(events), max_size=len(events)), st.integers(1, 6))),
    questions, policies, st.booleans(), st.booleans())
def test_a_state_brought_forward_over_new_catalog_files_and_events_selects_as_the_whole_world_decides(
        drawn, asked, policy, joined, alone):
    """``alone``: the kept state is the store's alone (the store holds no content), to
    which the whole catalog is added, rather than the catalog's first file's."""
    events, late, cut = drawn
    content = [event for event in events if event.type == "content"]
    # Erasures of the catalog's items are loaded with the catalog: those of the new
    # file's items once it is there.
    added = {item.id for item in content[cut:]}
    stored = [(event, flag or (event.type == "delete" and event.item in added))
              for event, flag in zip(events, late, strict=True) if event.type != "content"]
    first, then = split([event for event, _ in stored], [flag for _, flag in stored])
    with tempfile.TemporaryDirectory() as folder:
        catalog, keep = Path(folder) / "catalog", Path(folder) / "kept"
        catalog.mkdir()
        write_items(content[:cut], catalog / "part-0.parquet")
        store = Store(f"sqlite:///{folder}/store.db")
        try:
            init_store(store)
            if alone and content[cut:]:
                write_items(content[cut:], catalog / "part-1.parquet")
            load_lines(store, lines(first), "first.jsonl", catalog=catalog)
            state_of(store, catalog=None if alone else catalog, columnar=True, keep=keep)
            if content[cut:] and not alone:
                write_items(content[cut:], catalog / "part-1.parquet")
            if then:
                load_lines(store, lines(then), "then.jsonl", catalog=catalog)
            tables = brought_forward(store, joined, catalog=catalog, keep=keep)
        finally:
            store.dispose()
    world = world_of(first + then + content)
    for purpose, at in asked:
        assert_select_equals_decide(world, tables, purpose, at, policy)


def content_item(id_: str, **fields: Any) -> Any:
    from consentgate.model import parse_event

    return parse_event({"type": "content", "id": id_, "kind": "audio", "account": "northwind", "owner": "ana",
                        "created_at": "2023-08-20T00:00:00Z", **fields})


def test_new_catalog_files_add_their_items_before_the_stores_service_data(sqlite_store, examples, tmp_path):
    keep, catalog = tmp_path / "kept", tmp_path / "catalog"
    catalog.mkdir()
    write_items([content_item("c1"), content_item("c2", kind="summary", derived_from=["c3"])],
                catalog / "part-0.parquet")
    load_lines(sqlite_store, seed_lines(examples), "seed-story.jsonl")
    # c3 is in the store before it is in the catalog, and erased there.
    load_lines(sqlite_store, [content_item("c3").model_dump_json(exclude_none=True).encode(),
                              event(type="delete", item="c3", at="2023-08-22T00:00:00Z")], "c3.jsonl")
    before = state_of(sqlite_store, catalog=catalog, columnar=True, keep=keep)
    service = before.items["item_id"].to_pylist()[2:]
    assert service and before.sources["source_row"].to_pylist() == [None]
    write_items([content_item("c3", kind="transcript", derived_from=["c1", service[0]], meeting="m-new",
                              owner="newcomer")], catalog / "part-1.parquet")
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(_store, "_state_tables", not_afresh)
        after = state_of(sqlite_store, catalog=catalog, columnar=True, keep=keep)
    assert after.items["item_id"].to_pylist() == ["c1", "c2", "c3", *service]
    assert after.sources["source_row"].to_pylist() == [2, 0, 3]
    assert after.erasures["item_row"].to_pylist()[-1] == 2 and after.items["erased"][2].is_valid
    assert_same_state(after, state_of(sqlite_store, catalog=catalog, columnar=False))


@pytest.mark.parametrize("ids", [["c1"], ["c2", "c2"], ["c2", "c3", "c1"]],
                         ids=["a kept item's", "its own", "a kept item's, after new ones"])
def test_a_new_catalog_file_that_repeats_an_id_is_refused_as_a_whole_read_refuses_it(sqlite_store, examples,
                                                                                    tmp_path, ids):
    keep, catalog = tmp_path / "kept", tmp_path / "catalog"
    catalog.mkdir()
    write_items([content_item("c1")], catalog / "part-0.parquet")
    load_lines(sqlite_store, seed_lines(examples), "seed-story.jsonl")
    state_of(sqlite_store, catalog=catalog, columnar=True, keep=keep)
    write_items([content_item(id_) for id_ in ids], catalog / "part-1.parquet")
    with pytest.raises(ValueError, match="repeats an id"):
        state_of(sqlite_store, catalog=catalog, columnar=True, keep=keep)


def test_the_kept_columns_come_forward_once_many_events_were_logged_since_them(sqlite_store, examples, tmp_path,
                                                                                 monkeypatch):
    from consentgate.bulk import _advance, _columnar

    keep = tmp_path / "kept"
    load_lines(sqlite_store, seed_lines(examples), "seed-story.jsonl")
    state_of(sqlite_store, columnar=True, keep=keep)
    (copy,) = keep.glob("at-*")
    for module in (_advance, _columnar):
        monkeypatch.setattr(module, "COLUMNAR_FROM", 5)
    monkeypatch.setattr(_store, "_state_tables", not_afresh)
    for batch, kept_since in ((range(3), [copy.name]), (range(3, 6), None)):  # 3 events, then 6 since the copy
        load_lines(sqlite_store, [event(type="participant", meeting="m-100", subject=f"p{n}") for n in batch],
                   f"lines-{batch[0]}.jsonl")
        after = state_of(sqlite_store, columnar=True, keep=keep)
        copies = [path.name for path in keep.glob("at-*")]
        assert copies == kept_since if kept_since else copies != [copy.name]
    monkeypatch.undo()
    assert_same_state(after, state_of(sqlite_store, columnar=False))


@pytest.mark.slow
def test_a_state_brought_forward_selects_the_same_on_spark(spark, sqlite_store, examples, tmp_path):
    from datetime import UTC, datetime

    from consentgate.bulk import select
    from consentgate.core import Policy

    keep, catalog = tmp_path / "kept", tmp_path / "catalog"
    catalog.mkdir()
    write_items([content_item("c1", meeting="m-100"), content_item("c2", kind="summary", derived_from=["c1"])],
                catalog / "part-0.parquet")
    load_lines(sqlite_store, seed_lines(examples), "seed-story.jsonl")
    state_of(sqlite_store, catalog=catalog, columnar=True, keep=keep)
    write_items([content_item("c3", kind="chat", owner="newcomer", meeting="m-new")], catalog / "part-1.parquet")
    load_lines(sqlite_store, [
        event(type="meeting", id="m-new", account="northwind"),
        event(type="participant", meeting="m-new", subject="newcomer", notified=["recording"]),
        event(type="consent", id="c-new", subject="newcomer", purpose="ai.training", status="given",
              at="2023-08-20T00:00:00Z"),
    ], "more.jsonl")
    tables = state_of(sqlite_store, catalog=catalog, columnar=True, keep=keep)
    assert tables.items["owner"].num_chunks > 1  # the kept rows and the new ones, uncopied
    at, policy = datetime(2023, 9, 2, tzinfo=UTC), Policy.default()
    assert select(tables, "ai.training", at, policy, engine="spark").equals(select(tables, "ai.training", at, policy))


@pytest.mark.parametrize("joined_from", [0, 10**9])
def test_ids_are_found_at_their_first_row_whether_joined_or_looked_up(monkeypatch, joined_from):
    monkeypatch.setattr(_advance, "_JOINED_FROM", joined_from)
    keys = pa.chunked_array([["a", "b", None], ["c", "b", "a"]])
    wanted, found = _advance._first_rows(keys, pa.array(["b", None, "z", "a", "b", "c"]))
    assert wanted.to_pylist() == ["b", "z", "a", "c"] and found.tolist() == [1, -1, 0, 3]


@pytest.mark.parametrize("keys", [["a", "b", None, "c"], ["a", "b", None, "c", "b", "a"]],
                         ids=["distinct keys", "repeated keys"])
def test_ids_joined_to_a_table_are_found_at_their_first_row(keys):
    found = _advance._joined_rows(pa.chunked_array([keys[:2], keys[2:]], pa.string()),
                                  pa.array(["b", None, "z", "a", "b", "c"]))
    assert found.tolist() == [1, -1, -1, 0, 1, 3]


def test_ids_looked_up_at_once_are_found_where_a_lookup_of_the_whole_table_finds_them(monkeypatch):
    """A state brought forward looks up the people (or meetings) every new event names at
    once; each later lookup goes over the rows added since, and finds what a lookup of
    the whole table finds."""
    monkeypatch.setattr(_advance, "_JOINED_FROM", 0)
    people = _advance.added(pa.table({"id": pa.array([], pa.string())}), "people",
                            pa.array(["ana", "ben", "cy", "ben"]))[0]
    gone_over = []  # the number of keys each lookup went over
    found_in = _advance._found_in

    def counted(keys: Any, wanted: Any) -> Any:
        gone_over.append(len(keys))
        return found_in(keys, wanted)

    monkeypatch.setattr(_advance, "_found_in", counted)
    state = _advance._Growing({"people": people})
    state.expect("people", pa.array(["cy", "dee", None]), pa.chunked_array([["eve", "ana"]]))
    asked = [pa.array(["dee", "cy", None]), pa.array(["eve", "dee", "ana"]), pa.array(["fay", "ben"])]
    rows = [state.rows_of("people", ids).to_pylist() for ids in asked]
    # The whole table once; "dee" was not there; "eve" is looked for in the row added
    # since; "fay" was not expected, so the whole table (five rows by then) is gone over.
    assert gone_over == [3, 1, 5]
    assert rows == [[3, 2, None], [4, 3, 0], [5, 1]]
    assert state.tables["people"]["id"].to_pylist() == ["ana", "ben", "cy", "dee", "eve", "fay"]
    alone = _advance._Growing({"people": people})
    assert [alone.rows_of("people", ids).to_pylist() for ids in asked] == rows


def counting_afresh(patch: pytest.MonkeyPatch) -> list[int]:
    """Count the reads that work the whole state out again."""
    calls: list[int] = []
    afresh = _store._state_tables

    def counted(*args: Any, **kwargs: Any) -> Any:
        calls.append(1)
        return afresh(*args, **kwargs)

    patch.setattr(_store, "_state_tables", counted)
    return calls


def test_a_state_of_a_store_that_holds_content_does_not_start_a_catalogs(sqlite_store, examples, tmp_path,
                                                                         monkeypatch):
    keep, catalog = tmp_path / "kept", tmp_path / "catalog.parquet"
    write_items([content_item("c1")], catalog)
    load_lines(sqlite_store, seed_lines(examples), "seed-story.jsonl")  # the seed story holds content
    state_of(sqlite_store, columnar=True, keep=keep)
    calls = counting_afresh(monkeypatch)
    tables = state_of(sqlite_store, catalog=catalog, columnar=True, keep=keep)
    assert calls == [1] and "c1" in tables.items["item_id"].to_pylist()
    assert_same_state(tables, state_of(sqlite_store, catalog=catalog, columnar=False))


def test_a_large_load_keeps_the_state_a_build_over_a_catalog_starts_from(sqlite_store, examples, tmp_path,
                                                                         monkeypatch):
    from consentgate.bulk import keep_columns

    keep, catalog = tmp_path / "kept", tmp_path / "catalog.parquet"
    write_items([content_item("c1", meeting="m-new", owner="newcomer"), content_item("c2", derived_from=["c1"])],
                catalog)
    load_lines(sqlite_store, [line for line in seed_lines(examples) if json.loads(line)["type"] not in
                              ("content", "delete")], "seed-story.jsonl")
    with sqlite_store.read() as connection:
        assert keep_columns(connection, keep)
    calls = counting_afresh(monkeypatch)
    alone = state_of(sqlite_store, columnar=True, keep=keep)  # kept whole by the load
    over = state_of(sqlite_store, catalog=catalog, columnar=True, keep=keep)  # the catalog added to it
    assert calls == []
    assert over.items["item_id"].to_pylist()[:2] == ["c1", "c2"]
    assert over.items.num_rows == alone.items.num_rows + 2
    assert over.sources["source_row"].to_pylist()[-1] == 0
    assert "newcomer" in over.people["id"].to_pylist() and "m-new" in over.meetings["id"].to_pylist()
    assert_same_state(over, state_of(sqlite_store, catalog=catalog, columnar=False))


@pytest.mark.parametrize("owners", ["text", "a dictionary", "numbers"])
def test_a_catalogs_owners_of_any_type_a_read_takes_are_added_to_the_stores_state(sqlite_store, examples, tmp_path,
                                                                                  monkeypatch, owners):
    """Text owners (plain or a dictionary) are joined as DuckDB reads them; owners of
    another type, which a read casts to text, are read with the rest."""
    from consentgate.bulk import keep_columns

    keep, catalog = tmp_path / "kept", tmp_path / "catalog.parquet"
    values = {"text": pa.array(["ana", "ben"]), "a dictionary": pa.array(["ana", "ben"]).dictionary_encode(),
              "numbers": pa.array([7, 8])}[owners]
    pq.write_table(pa.table({"id": ["c1", "c2"], "kind": ["audio", "chat"], "account": ["northwind"] * 2,
                             "owner": values, "meeting": ["m-new", None],
                             "created_at": pa.array([0, 0], pa.timestamp("s", tz="UTC"))}), catalog)
    load_lines(sqlite_store, [line for line in seed_lines(examples) if json.loads(line)["type"] not in
                              ("content", "delete")], "seed-story.jsonl")
    with sqlite_store.read() as connection:
        assert keep_columns(connection, keep)
    joined: list[int] = []
    refs = _advance.catalog_refs
    monkeypatch.setattr(_advance, "catalog_refs", lambda *args: joined.append(1) or refs(*args))
    over = brought_forward(sqlite_store, True, catalog=catalog, keep=keep)
    assert joined == ([] if owners == "numbers" else [1])
    owner = over.items["owner"].to_pylist()[:2]
    assert owner == (["7", "8"] if owners == "numbers" else ["ana", "ben"])


def test_a_catalogs_own_state_is_brought_forward_before_a_newer_state_of_the_store(sqlite_store, examples, tmp_path,
                                                                                  monkeypatch):
    """After a build over a catalog, a large load keeps the store's state at its new head;
    the next build over the catalog brings the catalog's own state forward over the new
    events instead of adding every item of the catalog to the store's."""
    from consentgate.bulk import keep_columns

    keep, catalog = tmp_path / "kept", tmp_path / "catalog.parquet"
    write_items([content_item("c1", meeting="m-new"), content_item("c2", derived_from=["c1"])], catalog)
    load_lines(sqlite_store, [line for line in seed_lines(examples) if json.loads(line)["type"] not in
                              ("content", "delete")], "seed-story.jsonl")
    state_of(sqlite_store, catalog=catalog, columnar=True, keep=keep)
    load_lines(sqlite_store, [event(type="meeting", id="m-new", account="northwind"),
                              event(type="participant", meeting="m-new", subject="newcomer"),
                              event(type="delete", item="c2", at="2023-08-21T00:00:00Z")], "more.jsonl",
               catalog=catalog)
    with sqlite_store.read() as connection:
        assert keep_columns(connection, keep)  # as a large load does
    added: list[int] = []
    items = _advance._catalog_items
    monkeypatch.setattr(_advance, "_catalog_items", lambda *args: added.append(1) or items(*args))
    over = brought_forward(sqlite_store, False, catalog=catalog, keep=keep)
    assert added == []
    assert over.erasures["item_row"].to_pylist()[-1] == 1 and "newcomer" in over.people["id"].to_pylist()
