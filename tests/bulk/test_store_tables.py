"""State read straight from the store (and from a Parquet catalog) selects as the world does."""

from __future__ import annotations

import json
import tempfile
from datetime import datetime
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from bulk_worlds import assert_select_equals_decide, policies, questions, world_of, worlds
from hypothesis import HealthCheck, given, settings

from consentgate import Store, init_store
from consentgate.bulk import select, state_tables_from_store, state_tables_from_world
from consentgate.core import Policy, World
from consentgate.datasets.build import allowed_rows
from consentgate.model import parse_event
from consentgate.model.times import parse_time
from consentgate.store import load_lines

AT = parse_time("2023-09-02T00:00:00Z")


def seed_lines(examples: Path) -> list[bytes]:
    return [line for line in (examples / "seed-story.jsonl").read_bytes().splitlines() if line.strip()]


def seed_world(examples: Path) -> World:
    return world_of([parse_event(line) for line in seed_lines(examples)])


def state_of(store: Any, catalog: Path | None = None) -> Any:
    with store.read() as connection:
        return state_tables_from_store(connection, catalog)


def rows(tables: Any, purpose: str = "ai.training", at: datetime = AT) -> list[dict[str, Any]]:
    return sorted(select(tables, purpose, at, Policy.default()).to_pylist(), key=lambda row: row["item_id"])


@pytest.mark.backends
def test_the_store_selects_the_seed_story_as_decide_does(store, examples):
    load_lines(store, seed_lines(examples), "seed-story.jsonl")
    world, tables = seed_world(examples), state_of(store)
    queries = [json.loads(line) for line in (examples / "seed-story.queries.jsonl").read_text().splitlines()]
    for purpose, at in sorted({(query["purpose"], query["at"]) for query in queries}):
        assert_select_equals_decide(world, tables, purpose, parse_time(at), Policy.default())


@settings(max_examples=12, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(worlds(loadable=True), questions, policies)
def test_random_stores_select_as_their_worlds_decide(events, asked, policy):
    with tempfile.TemporaryDirectory() as folder:
        store = Store(f"sqlite:///{folder}/store.db")
        try:
            init_store(store)
            load_lines(store, [event.model_dump_json(exclude_none=True).encode() for event in events], "w.jsonl")
            tables = state_of(store)
        finally:
            store.dispose()
    world = world_of(events)
    for purpose, at in asked:
        assert_select_equals_decide(world, tables, purpose, at, policy)


def write_catalog(world: World, path: Path, **changes: Any) -> None:
    content = [item for item in world.items() if item.type == "content"]
    columns: dict[str, Any] = {
        "id": [item.id for item in content],
        "kind": [item.kind for item in content],
        "account": [item.account for item in content],
        "owner": [item.owner for item in content],
        "meeting": [item.meeting for item in content],
        "created_at": pa.array([item.created_at for item in content], pa.timestamp("ns", tz="UTC")),
        "uri": [item.uri for item in content],
        "sha256": [item.sha256 for item in content],
        "derived_from": pa.array([item.derived_from for item in content], pa.list_(pa.string())),
        "signals": [None if item.signals is None else item.signals.model_dump_json(exclude_none=True)
                    for item in content],
    }
    columns.update(changes)
    pq.write_table(pa.table(columns), path)


def test_a_catalog_of_the_same_content_selects_the_same(sqlite_store, examples, tmp_path):
    load_lines(sqlite_store, seed_lines(examples), "seed-story.jsonl")
    write_catalog(seed_world(examples), tmp_path / "catalog.parquet")
    # A catalog's uri and sha256 are read for the kept items alone, as the manifest is written.
    def ruled(tables: Any) -> list[dict[str, Any]]:
        return [{k: v for k, v in row.items() if k not in ("uri", "sha256")} for row in rows(tables)]

    assert ruled(state_of(sqlite_store, tmp_path / "catalog.parquet")) == ruled(state_of(sqlite_store))


def test_a_catalog_folder_replaces_the_stores_content(sqlite_store, examples, tmp_path):
    load_lines(sqlite_store, seed_lines(examples), "seed-story.jsonl")
    (tmp_path / "catalog").mkdir()
    write_catalog(seed_world(examples), tmp_path / "catalog" / "part-0.parquet")
    table = pq.read_table(tmp_path / "catalog" / "part-0.parquet")
    pq.write_table(table.slice(0, 2), tmp_path / "catalog" / "part-0.parquet")
    listed = {row["item_id"] for row in rows(state_of(sqlite_store, tmp_path / "catalog"))}
    service = {item.id for item in seed_world(examples).items() if item.type == "service_data"}
    assert listed == set(table["id"].to_pylist()[:2]) | service


@pytest.mark.parametrize(
    ("column", "values", "message"),
    [
        ("created_at", pa.array([datetime(2023, 1, 1)], pa.timestamp("us")), "time zone"),
        ("id", ["same"], "repeats an id"),
        ("signals", ['{"tdm_reservation": 7}'], "signals are not valid"),
        ("derived_from", [7], "derived_from must be"),
    ],
)
def test_a_bad_catalog_is_refused_with_the_reason(sqlite_store, examples, tmp_path, column, values, message):
    load_lines(sqlite_store, seed_lines(examples), "seed-story.jsonl")
    world = seed_world(examples)
    size = sum(item.type == "content" for item in world.items())
    repeated = pa.concat_arrays([values] * size) if isinstance(values, pa.Array) else values * size
    write_catalog(world, tmp_path / "catalog.parquet", **{column: repeated})
    with pytest.raises(ValueError, match=message):
        state_of(sqlite_store, tmp_path / "catalog.parquet")


def test_a_catalog_without_a_required_column_is_refused(sqlite_store, tmp_path):
    pq.write_table(pa.table({"id": ["x"]}), tmp_path / "catalog.parquet")
    with pytest.raises(ValueError, match="lacks column"):
        state_of(sqlite_store, tmp_path / "catalog.parquet")


def test_a_catalog_folder_without_parquet_files_is_refused_as_such(sqlite_store, tmp_path):
    (tmp_path / "catalog").mkdir()
    (tmp_path / "catalog" / "_SUCCESS").write_text("")  # what a Spark job leaves beside its files
    with pytest.raises(ValueError, match="holds no Parquet files"):
        state_of(sqlite_store, tmp_path / "catalog")


def test_world_and_store_tables_hold_the_same_items(sqlite_store, examples):
    load_lines(sqlite_store, seed_lines(examples), "seed-story.jsonl")
    from_store, from_world = state_of(sqlite_store), state_tables_from_world(seed_world(examples))
    assert sorted(from_store.items.to_pylist(), key=str) == sorted(from_world.items.to_pylist(), key=str)


@pytest.mark.parametrize("at", [AT, parse_time("2023-08-21T00:00:00Z")])  # every item exists; only some do
def test_allowed_rows_of_a_catalog_carry_its_uri_and_sha256(sqlite_store, examples, tmp_path, at):
    load_lines(sqlite_store, seed_lines(examples), "seed-story.jsonl")
    write_catalog(seed_world(examples), tmp_path / "catalog.parquet")
    from_catalog, from_store = state_of(sqlite_store, tmp_path / "catalog.parquet"), state_of(sqlite_store)
    chosen = [allowed_rows(select(tables, "service.provision", at, Policy.default()), tables.items, catalog)
              for tables, catalog in ((from_catalog, tmp_path / "catalog.parquet"), (from_store, None))]
    assert chosen[0].num_rows and any(row["uri"] for row in chosen[0].to_pylist())
    assert chosen[0].to_pylist() == chosen[1].to_pylist()


def test_a_catalog_in_many_files_and_row_groups_gives_each_item_its_own_files(sqlite_store, examples, tmp_path):
    load_lines(sqlite_store, seed_lines(examples), "seed-story.jsonl")
    write_catalog(seed_world(examples), tmp_path / "catalog.parquet")
    table = pq.read_table(tmp_path / "catalog.parquet")
    (tmp_path / "parts").mkdir()
    half = table.num_rows // 2
    for number, part in enumerate((table.slice(0, half), table.slice(half))):
        pq.write_table(part, tmp_path / "parts" / f"part-{number}.parquet", row_group_size=2)
    chosen = []
    for catalog in (tmp_path / "catalog.parquet", tmp_path / "parts"):
        tables = state_of(sqlite_store, catalog)
        chosen.append(allowed_rows(select(tables, "service.provision", AT, Policy.default()), tables.items, catalog))
    by_id = dict(zip(table["id"].to_pylist(), zip(table["uri"].to_pylist(), table["sha256"].to_pylist())))
    assert sum(row["item_id"] in by_id for row in chosen[1].to_pylist()) >= 3
    assert all((row["uri"], row["sha256"]) == by_id[row["item_id"]] for row in chosen[1].to_pylist()
               if row["item_id"] in by_id)
    assert chosen[0].to_pylist() == chosen[1].to_pylist()


def test_store_items_name_their_references_as_dictionaries(sqlite_store, examples):
    load_lines(sqlite_store, seed_lines(examples), "seed-story.jsonl")
    items = state_of(sqlite_store).items
    for name in ("account", "owner", "meeting"):
        assert pa.types.is_dictionary(items[name].type)
        assert items[name].combine_chunks().indices.equals(items[f"{name}_ref"].combine_chunks())


def _partition(codes: Any) -> list[list[int]]:
    """Which places share a number (and which have none), whatever the numbers are."""
    import numpy as np

    flat = np.concatenate(codes)
    groups: dict[int, list[int]] = {}
    for place, code in enumerate(flat.tolist()):
        groups.setdefault(code, []).append(place)
    nulls = groups.pop(-1, [])
    return sorted(groups.values()) + [[-1, *nulls]]


@pytest.mark.parametrize("content_ids", [["a", "b", "c", "d"], ["a", "b", "a", "d"], ["a", None, "c", "d"]])
def test_item_ids_are_numbered_alike_whether_content_ids_repeat_or_not(content_ids):
    """Distinct content ids take the joined path, others the one dictionary: both number
    each id once, content rows first."""
    import numpy as np
    import pyarrow.compute as pc

    from consentgate.bulk._store import _item_codes

    content = pa.table({"item_id": pa.chunked_array([content_ids[:2], content_ids[2:]], pa.string())})
    service = pa.table({"item_id": pa.array(["s1", "c", None, "s1", "s2"], pa.string())})
    links = pa.array([["b", "x"], [], None, ["x", "d", "s2"]], pa.list_(pa.string()))
    erased = pa.chunked_array([pa.array(["d", "y", "s1", None], pa.string())])
    codes = _item_codes(content, service, links, erased)
    ids = [*content_ids, *service["item_id"].to_pylist(), *pc.list_flatten(links).to_pylist(), *erased.to_pylist()]
    by_id: dict[Any, list[int]] = {}
    for place, item in enumerate(ids):
        by_id.setdefault(item, []).append(place)
    expected = sorted(places for item, places in by_id.items() if item is not None)
    expected.append([-1, *by_id.get(None, [])])
    assert _partition(codes) == expected
    assert [len(part) for part in codes] == [4, 5, 5, 4]
    if len(set(content_ids)) == 4 and None not in content_ids:
        assert np.array_equal(codes[0], np.arange(4))


@pytest.mark.parametrize("ids", [["a", "b", "c", "dd"], ["a", "b", "a", "dd"]], ids=["distinct", "repeated"])
@pytest.mark.parametrize("hashes", ["as DuckDB hashes", "colliding"])
def test_ids_are_found_distinct_exactly_even_where_their_hashes_collide(ids, hashes, monkeypatch):
    from consentgate.bulk import _catalog

    if hashes == "colliding":  # every id of one length shares a "hash"
        monkeypatch.setattr(_catalog, "_HASHES", "SELECT length(id)::UBIGINT AS hash FROM ids")
    column = pa.chunked_array([ids[:2], ids[2:]], pa.string())
    assert _catalog.all_distinct(column) is (len(set(ids)) == len(ids))


def test_store_participant_lines_name_their_references_as_dictionaries(sqlite_store, examples):
    load_lines(sqlite_store, seed_lines(examples), "seed-story.jsonl")
    tables = state_of(sqlite_store)
    lines = tables.participants
    keys = {"meeting": tables.meetings["id"], "subject": tables.people["id"]}
    for name in ("meeting", "subject"):
        column = lines[name].combine_chunks()
        assert pa.types.is_dictionary(column.type)
        assert column.indices.equals(lines[f"{name}_ref"].combine_chunks())
        # Each line names the id its reference points at.
        assert column.to_pylist() == keys[name].combine_chunks().take(column.indices).to_pylist()
    expected = {(line.meeting, line.subject) for _, meeting_lines in seed_world(examples).participant_lines()
                for line in meeting_lines}
    assert set(zip(lines["meeting"].to_pylist(), lines["subject"].to_pylist())) == expected


def test_ids_and_references_come_from_one_numbering():
    import pyarrow.compute as pc

    from consentgate.bulk._refs import _leads, _numbered
    from consentgate.bulk._tables import distinct

    described = pa.chunked_array([["m1", "m2"], ["m3"]], pa.string())
    lines = pc.dictionary_encode(pa.array(["m4", "m2", "m4", "m5"]))
    items = pc.dictionary_encode(pa.array(["m5", None, "m1", "m6"]))
    others = pa.array(["m7", None, "m3"])
    ids, (line_rows, item_rows) = _numbered(described, lines, others, items)
    assert ids.to_pylist() == distinct(described, lines.dictionary, others, items.dictionary).to_pylist()
    assert ids.to_pylist() == ["m1", "m2", "m3", "m4", "m5", "m7", "m6"]
    for rows, column in ((line_rows, lines), (item_rows, items)):
        assert rows.to_pylist() == pc.index_in(column.dictionary_decode(), value_set=ids).to_pylist()
    assert _leads(ids, described)
    repeated = pa.array(["m1", "m2", "m1"])
    assert not _leads(_numbered(repeated, lines)[0], repeated)
    with_null = pa.array(["m1", None])
    assert not _leads(_numbered(with_null, lines)[0], with_null)


@pytest.mark.parametrize("first", [["m1", "m2", "m3"], ["m1", "m2", "m1"], ["m1", None, "m3"]],
                         ids=["distinct", "repeated", "with a null"])
def test_a_dictionary_of_the_first_part_s_ids_is_numbered_as_they_are(first, monkeypatch):
    # Lines and items that list the meetings described, in their order, are not hashed
    # again: they must still come out as a hash of every id would number them.
    import pyarrow.compute as pc

    from consentgate.bulk import _refs
    from consentgate.bulk._tables import distinct

    described = pa.chunked_array([first[:2], first[2:]], pa.string())
    same = pa.DictionaryArray.from_arrays(pa.array([2, 0, 0, 1, None], pa.int32()), pa.array(first))
    other = pc.dictionary_encode(pa.array(["m9", "m3", "m9"]))
    ids, (same_rows, other_rows) = _refs._numbered(described, same, other)
    hashed: list[int] = []
    original = pc.dictionary_encode
    monkeypatch.setattr(_refs.pc, "dictionary_encode", lambda values: hashed.append(len(values)) or original(values))
    assert _refs._numbered(described, same, other)[0].equals(ids)
    assert hashed == [len(first) + len(other.dictionary)]  # the first part's ids and the other dictionary only
    expected = distinct(described, same.dictionary, other.dictionary)
    assert ids.equals(expected)
    for rows, column in ((same_rows, same), (other_rows, other)):
        assert rows.to_pylist() == pc.index_in(column.dictionary_decode(), value_set=ids).to_pylist()


def test_a_repeated_meeting_row_leaves_every_reference_on_the_first(sqlite_store, examples, monkeypatch):
    # The store refuses a meeting id with other fields, but state tables may be given
    # one twice: references then point at its first row, from items, lines and consents.
    from consentgate.bulk import _store

    load_lines(sqlite_store, seed_lines(examples), "seed-story.jsonl")
    consent = {"type": "consent", "id": "c-in-m-200", "subject": "ben", "purpose": "ai.training",
               "status": "given", "meeting": "m-200", "at": "2023-09-01T00:00:00Z"}
    load_lines(sqlite_store, [json.dumps(consent).encode()], "meeting-consent")
    plain = state_of(sqlite_store)
    with_references = _store.with_references

    def repeating(raw: dict, compact: bool = False) -> Any:
        meetings = raw["meetings"]
        return with_references(dict(raw, meetings=pa.concat_tables([meetings, meetings.slice(1, 1)])), compact)

    monkeypatch.setattr(_store, "with_references", repeating)
    repeated = state_of(sqlite_store)
    assert repeated.meetings.num_rows == plain.meetings.num_rows + 1
    for table in ("items", "participants", "consents"):
        refs = getattr(repeated, table)["meeting_ref"].combine_chunks().cast(pa.int64())
        assert refs.equals(getattr(plain, table)["meeting_ref"].combine_chunks().cast(pa.int64())), table
    assert repeated.consents["meeting_ref"].drop_null().to_pylist()  # a consent names a meeting


def test_participant_lines_mark_each_subjects_first_line_in_each_meeting():
    from consentgate.bulk._raw import participant_lines

    rows = pa.table({"meeting": ["m1", "m1", "m2", "m1", "m2", "m2", "m1"],
                     "subject": ["ana", "ben", "ana", "ana", "ana", "cy", "cy"],
                     "notified": pa.array(['["recording"]', "[]", None, "[]", "[]", "[]", '["recording"]'])})
    lines = participant_lines(rows)
    assert lines["first"].to_pylist() == [True, True, True, False, False, True, True]
    assert lines["pos"].to_pylist() == [0, 1, 0, 2, 1, 2, 3]
    assert lines["notified"].to_pylist() == [["recording"], [], [], [], [], [], ["recording"]]
    assert lines["meeting"].to_pylist() == rows["meeting"].to_pylist()
    assert lines["subject"].to_pylist() == rows["subject"].to_pylist()


@pytest.mark.parametrize("dictionary_pages", [True, False])
def test_a_catalogs_kinds_and_accounts_are_read_as_dictionaries(sqlite_store, examples, tmp_path, dictionary_pages):
    # Two files, so each has a dictionary of its own; the store adds its service data.
    from consentgate.bulk._catalog import read_catalog

    load_lines(sqlite_store, seed_lines(examples), "seed-story.jsonl")
    write_catalog(seed_world(examples), tmp_path / "whole.parquet")
    whole = pq.read_table(tmp_path / "whole.parquet")
    (tmp_path / "catalog").mkdir()
    half = whole.num_rows // 2
    for number, part in enumerate((whole.slice(0, half), whole.slice(half))):
        pq.write_table(part, tmp_path / "catalog" / f"part-{number}.parquet", use_dictionary=dictionary_pages)
    content = read_catalog(tmp_path / "catalog")
    for name in ("kind", "account"):
        assert pa.types.is_dictionary(content[name].type)
        assert content[name].to_pylist() == whole[name].to_pylist()
    items = state_of(sqlite_store, tmp_path / "catalog").items
    from_store = state_of(sqlite_store).items
    for name in ("kind", "account"):
        assert dict(zip(items["item_id"].to_pylist(), items[name].to_pylist())) == \
            dict(zip(from_store["item_id"].to_pylist(), from_store[name].to_pylist()))
    assert {"telemetry"} & set(items["kind"].to_pylist())  # a service-data kind joined the dictionary


@pytest.mark.parametrize("offset", [0, 1, 3])
@pytest.mark.parametrize("given_parents", [False, True])
def test_list_positions_count_each_element_within_its_own_list(offset, given_parents):
    import pyarrow.compute as pc

    from consentgate.bulk._raw import list_positions

    lists = [["a", "b"], [], None, ["c"], ["d", "e", "f"], [], ["g", "h"]]
    links = pa.array(lists, pa.list_(pa.string())).slice(offset)
    parents = pc.list_parent_indices(links).to_numpy() if given_parents else None
    expected = [place for values in lists[offset:] for place in range(len(values or []))]
    assert list_positions(links, parents).tolist() == expected
    assert len(expected) == len(pc.list_flatten(links))
