"""The store's columns kept between reads: used only where the log vouches for them,
topped up with the events logged since, and the same tables as a read of the store."""

from __future__ import annotations

import json
import shutil
import threading
import time
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from store_reads import assert_same_tables, seed_lines, state_of

from consentgate import Store, init_store
from consentgate.bulk import _columnar, kept_folder, state_tables_from_store
from consentgate.datasets.registry import register_model
from consentgate.store import load_lines, read_head


def copies(folder: Path) -> list[str]:
    """The kept copies of event columns."""
    return sorted(path.name for path in folder.iterdir() if path.name.startswith("at-"))


def states(folder: Path) -> list[Path]:
    """The kept states."""
    return sorted(folder.glob("state-*"))


def head_of(store: Any) -> int:
    with store.read() as connection:
        return read_head(connection)[0]


@pytest.mark.backends
def test_a_columnar_read_keeps_the_columns_and_the_next_read_adds_what_was_logged_since(store, examples, tmp_path):
    lines = seed_lines(examples)
    keep = tmp_path / "kept"
    load_lines(store, lines[:40], "first-part.jsonl")
    first = state_of(store, columnar=True, keep=keep)
    assert copies(keep) == [f"at-{head_of(store)}"]
    assert_same_tables(first, state_of(store, columnar=False))

    load_lines(store, lines[40:], "the-rest.jsonl")
    again = state_of(store, columnar=True, keep=keep)
    assert_same_tables(again, state_of(store, columnar=False))
    assert again.items.num_rows > first.items.num_rows


@pytest.mark.backends
def test_the_kept_columns_are_what_a_later_read_uses(store, examples, tmp_path):
    """A line added to the kept participants (and nowhere in the store) shows in the
    next read: the copy, not the store, gave those rows."""
    keep = tmp_path / "kept"
    load_lines(store, seed_lines(examples), "seed-story.jsonl")
    state_of(store, columnar=True, keep=keep)
    for state in states(keep):  # else the state kept whole answers a read at the same head
        shutil.rmtree(state)
    (copy,) = [keep / name for name in copies(keep)]
    file = copy / "participant.arrow"
    lines = pa.ipc.open_file(pa.BufferReader(file.read_bytes())).read_all()
    extra = pa.table({"seq": [0], "meeting": ["m-kept-only"], "subject": ["u-kept-only"], "notified": [None]},
                     schema=lines.schema)
    edited = copy / "edited.arrow"  # a new file in its place, as the copy is only ever mapped
    with pa.OSFile(str(edited), "wb") as sink, pa.ipc.new_file(sink, lines.schema) as writer:
        writer.write_table(pa.concat_tables([extra, lines]))
    edited.replace(file)
    people = state_of(store, columnar=True, keep=keep).people["id"].to_pylist()
    assert "u-kept-only" in people
    assert "u-kept-only" not in state_of(store, columnar=False).people["id"].to_pylist()


def test_columns_kept_from_another_history_are_read_again(examples, tmp_path):
    """Two stores whose logs differ at the kept entry: the second never uses the first's
    copy, and leaves one of its own."""
    keep = tmp_path / "kept"
    lines = seed_lines(examples)
    one = Store(f"sqlite:///{tmp_path / 'one.db'}")
    init_store(one)
    load_lines(one, lines, "seed-story.jsonl")
    state_of(one, columnar=True, keep=keep)
    kept_at = head_of(one)
    one.dispose()
    other = Store(f"sqlite:///{tmp_path / 'other.db'}")
    init_store(other)
    # One more event first: every later log entry, the kept one too, hashes differently.
    extra = [json.dumps({"type": "account", "id": f"extra-{n}"}).encode() for n in range(3)]
    load_lines(other, extra[:1] + lines + extra[1:], "other-story.jsonl")
    assert head_of(other) > kept_at
    assert_same_tables(state_of(other, columnar=True, keep=keep), state_of(other, columnar=False))
    assert copies(keep) == [f"at-{head_of(other)}"]
    other.dispose()


@pytest.mark.backends
def test_a_read_at_an_earlier_head_than_the_copy_does_not_use_it(store, examples, tmp_path):
    keep = tmp_path / "kept"
    lines = seed_lines(examples)
    load_lines(store, lines[:40], "first-part.jsonl")
    with store.read() as connection:
        seq, _ = read_head(connection)
        before = state_tables_from_store(connection, head=seq, columnar=False)
        load_lines(store, lines[40:], "the-rest.jsonl")  # committed by another connection
        state_of(store, columnar=True, keep=keep)  # a copy of the later state
        again = state_tables_from_store(connection, head=seq, columnar=True, keep=keep)
    assert_same_tables(again, before)


def test_many_new_events_leave_a_new_copy_and_the_older_one_goes(store, examples, tmp_path, monkeypatch):
    keep = tmp_path / "kept"
    lines = seed_lines(examples)
    load_lines(store, lines[:40], "first-part.jsonl")
    state_of(store, columnar=True, keep=keep)
    first = copies(keep)
    load_lines(store, lines[40:], "the-rest.jsonl")
    state_of(store, columnar=True, keep=keep)
    assert copies(keep) == first  # a few events: read row by row, not kept again
    monkeypatch.setattr(_columnar, "COLUMNAR_FROM", 5)
    for state in states(keep):  # else the state kept whole answers a read at the same head
        shutil.rmtree(state)
    state_of(store, columnar=True, keep=keep)
    assert copies(keep) == [f"at-{head_of(store)}"] != first


def test_a_read_that_uses_fewer_tables_keeps_fewer_and_a_wider_read_replaces_it(store, examples, tmp_path):
    """A build over a catalog reads no content from the store; a later build without one
    needs it, so it reads the store whole again and keeps the wider copy."""
    keep = tmp_path / "kept"
    load_lines(store, seed_lines(examples), "seed-story.jsonl")
    catalog = tmp_path / "catalog.parquet"
    pq.write_table(pa.table({"id": ["c1"], "kind": ["chat"], "account": ["acme"], "owner": ["u-1"],
                             "created_at": pa.array([0], pa.timestamp("s", tz="UTC"))}), catalog)
    state_of(store, catalog=catalog, columnar=True, keep=keep)
    (copy,) = [keep / name for name in copies(keep)]
    assert not (copy / "content.arrow").exists()
    assert_same_tables(state_of(store, columnar=True, keep=keep), state_of(store, columnar=False))
    (copy,) = [keep / name for name in copies(keep)]
    assert (copy / "content.arrow").exists()
    assert_same_tables(state_of(store, catalog=catalog, columnar=True, keep=keep),
                       state_of(store, catalog=catalog, columnar=False))


def test_where_the_columns_are_kept(monkeypatch, tmp_path):
    monkeypatch.delenv("CONSENTGATE_COLUMNS", raising=False)
    assert kept_folder(f"sqlite:///{tmp_path}/s.db") == tmp_path / "s.db.columns"
    assert kept_folder("sqlite:///relative/s.db") == Path("relative/s.db.columns")
    assert kept_folder("sqlite:///:memory:") is None
    assert kept_folder("postgresql+psycopg://postgres@127.0.0.1/cg") is None
    monkeypatch.setenv("CONSENTGATE_COLUMNS", str(tmp_path / "elsewhere"))
    one, other = kept_folder("postgresql+psycopg://postgres@127.0.0.1/cg"), kept_folder(f"sqlite:///{tmp_path}/s.db")
    assert one is not None and other is not None and one != other
    assert one.parent == other.parent == tmp_path / "elsewhere"
    assert kept_folder("postgresql+psycopg://postgres:secret@127.0.0.1/cg") == one  # not by its password
    monkeypatch.setenv("CONSENTGATE_COLUMNS", "off")
    assert kept_folder(f"sqlite:///{tmp_path}/s.db") is None


def write_catalog(path: Path, owner: str) -> None:
    pq.write_table(pa.table({"id": ["c1", "c2"], "kind": ["chat", "audio"], "account": ["acme", "acme"],
                             "owner": [owner, "u-2"], "created_at": pa.array([0, 1], pa.timestamp("s", tz="UTC"))}),
                   path)


@pytest.mark.backends
@pytest.mark.parametrize("with_catalog", [False, True])
def test_a_read_at_the_same_head_over_the_same_catalog_reads_nothing_again(store, examples, tmp_path, monkeypatch,
                                                                           with_catalog):
    from consentgate.bulk import _store

    keep = tmp_path / "kept"
    catalog = tmp_path / "catalog.parquet" if with_catalog else None
    if catalog:
        write_catalog(catalog, "u-1")
    load_lines(store, seed_lines(examples), "seed-story.jsonl")
    first = state_of(store, catalog=catalog, columnar=True, keep=keep)
    assert len(states(keep)) == 1

    def no_store_read(*args: Any, **kwargs: Any) -> Any:
        raise AssertionError("the store was read again")

    monkeypatch.setattr(_store, "event_reader", no_store_read)
    # A log entry that is no event (a model registered) leaves the state as it was.
    with store.write() as connection:
        register_model(connection, {"id": "m", "dataset": "none", "shards": 1, "shard_counts": [0],
                                    "registered_at": "2024-01-01T00:00:00Z"})
    again = state_of(store, catalog=catalog, columnar=True, keep=keep)
    assert_same_tables(again, first)
    monkeypatch.undo()
    assert_same_tables(again, state_of(store, catalog=catalog, columnar=False))


def test_a_kept_state_leaves_out_what_a_read_makes_again(sqlite_store, examples, tmp_path, monkeypatch):
    from consentgate.bulk import _store

    keep, catalog = tmp_path / "kept", tmp_path / "catalog.parquet"
    write_catalog(catalog, "u-1")
    load_lines(sqlite_store, seed_lines(examples), "seed-story.jsonl")
    first = state_of(sqlite_store, catalog=catalog, columnar=True, keep=keep)
    (kept,) = states(keep)

    def written(name: str) -> list[str]:
        with pa.memory_map(str(kept / f"{name}.arrow")) as source:
            return pa.ipc.open_file(source).schema.names

    # The references that are their dictionary's indices, and the catalog's files (read
    # only for the items selected), are not in the files.
    packed = json.loads((kept / "kept.json").read_text())["packed"]
    assert packed["items"]["refs"] == {"account_ref": "account", "owner_ref": "owner", "meeting_ref": "meeting"}
    assert packed["items"]["nulls"] == ["uri", "sha256"]
    assert packed["participants"]["refs"] == {"meeting_ref": "meeting", "subject_ref": "subject"}
    assert not {"account_ref", "owner_ref", "meeting_ref", "uri", "sha256"} & set(written("items"))
    assert not {"meeting_ref", "subject_ref"} & set(written("participants"))
    assert "subject_ref" in written("consents")  # no dictionary beside it: written as it is

    monkeypatch.setattr(_store, "event_reader", lambda *args, **kwargs: pytest.fail("the store was read again"))
    again = state_of(sqlite_store, catalog=catalog, columnar=True, keep=keep)
    assert_same_tables(again, first)
    assert again.items.schema == first.items.schema and again.participants.schema == first.participants.schema
    monkeypatch.undo()
    assert_same_tables(again, state_of(sqlite_store, catalog=catalog, columnar=False))


def test_only_columns_a_read_can_make_again_are_left_out():
    from consentgate.bulk._kept import _packed, _unpacked

    owner = pa.DictionaryArray.from_arrays(pa.array([0, 1, None, 0], pa.int32()), pa.array(["u-1", "u-2"]))
    table = pa.table({
        "owner": owner,
        "owner_ref": pa.array([0, 1, None, 0], pa.int32()),  # its indices: left out
        "meeting": pa.DictionaryArray.from_arrays(pa.array([0, 0, 0, 0], pa.int32()), pa.array(["m-1"])),
        "meeting_ref": pa.array([0, 0, 0, 1], pa.int32()),  # not its indices: kept
        "account_ref": pa.array([0, 0, 0, 0], pa.int32()),  # no dictionary beside it: kept
        "uri": pa.nulls(4, pa.string()),  # no value at all: left out
        "sha256": pa.array([None, None, "ab", None]),  # one value: kept
    })
    written, how = _packed(table)
    assert written.column_names == ["owner", "meeting", "meeting_ref", "account_ref", "sha256"]
    assert how == {"names": table.column_names, "refs": {"owner_ref": "owner"}, "nulls": ["uri"]}
    back = _unpacked(written, how)
    assert back.equals(table) and back.schema == table.schema
    assert _packed(table.select(["sha256"])) == (table.select(["sha256"]), None)


def test_a_state_kept_in_the_background_is_written_by_the_time_it_is_read_or_waited_for(store, examples, tmp_path,
                                                                                        monkeypatch):
    from consentgate.bulk import _kept, _store, kept_written

    keep = tmp_path / "kept"
    load_lines(store, seed_lines(examples), "seed-story.jsonl")
    # The write waits until the reader has returned, so the read cannot have waited for it.
    returned = threading.Event()
    original = _kept.KeptStates._keep
    monkeypatch.setattr(_kept.KeptStates, "_keep", lambda *args: returned.wait(30) and original(*args))
    first = state_of(store, columnar=True, keep=keep, keep_in_background=True)
    assert states(keep) == []
    returned.set()
    kept_written(keep)
    assert len(states(keep)) == 1

    # A read right after one that keeps in the background waits for the state and uses
    # it, even where writing it takes a while.
    shutil.rmtree(keep)
    monkeypatch.setattr(_kept.KeptStates, "_keep", lambda *args: time.sleep(0.5) or original(*args))
    state_of(store, columnar=True, keep=keep, keep_in_background=True)
    monkeypatch.setattr(_store, "event_reader", lambda *args, **kwargs: pytest.fail("the state was read again"))
    assert_same_tables(state_of(store, columnar=True, keep=keep), first)


def test_a_kept_state_is_not_used_once_the_catalog_or_the_code_changed(store, examples, tmp_path, monkeypatch):
    from consentgate.bulk import _kept

    keep, catalog = tmp_path / "kept", tmp_path / "catalog.parquet"
    load_lines(store, seed_lines(examples), "seed-story.jsonl")
    write_catalog(catalog, "u-1")
    state_of(store, catalog=catalog, columnar=True, keep=keep)
    write_catalog(catalog, "u-changed")
    changed = state_of(store, catalog=catalog, columnar=True, keep=keep)
    assert changed.items.column("owner").to_pylist()[0] == "u-changed"
    assert_same_tables(changed, state_of(store, catalog=catalog, columnar=False))
    assert len(states(keep)) == 2

    state_of(store, columnar=True, keep=keep)  # a third state: the least recently used goes
    assert len(states(keep)) == 2
    monkeypatch.setattr(_kept, "_code_digest", lambda: "other code")
    calls: list[str] = []
    original = _kept.KeptStates.keep
    monkeypatch.setattr(_kept.KeptStates, "keep", lambda self, key, *rest, **options: calls.append(key) or original(
        self, key, *rest, **options))
    state_of(store, catalog=catalog, columnar=True, keep=keep)
    assert len(calls) == 1  # worked out again, and kept


def test_builds_keep_the_state_and_a_withdrawal_after_one_reaches_the_next(sqlite_store, examples, tmp_path,
                                                                           monkeypatch):
    """Builds through the product's own path: the first keeps the store's columns and
    state beside the SQLite file, a build of the same events reads nothing again, and a
    withdrawal logged after them is in the next build."""
    from datetime import UTC, datetime

    from consentgate.bulk import _store
    from consentgate.core import Policy
    from consentgate.datasets.build import build_dataset

    monkeypatch.delenv("CONSENTGATE_COLUMNS", raising=False)
    monkeypatch.setattr(_store, "COLUMNAR_FROM", 1)  # the seed story counts as a large store
    at, policy = datetime(2023, 9, 2, tzinfo=UTC), Policy.default()
    load_lines(sqlite_store, seed_lines(examples), "seed-story.jsonl")

    def build(number: int) -> set[str]:
        out = tmp_path / f"ds{number}"
        build_dataset(sqlite_store, "seed", "ai.training", out, policy, at=at)
        return set(pq.read_table(out / "manifest.parquet")["item_id"].to_pylist())

    first = build(1)
    kept = kept_folder(sqlite_store.url)
    assert kept is not None and kept.parent == tmp_path
    assert copies(kept) and states(kept)
    assert "m-100-audio" in first

    def no_store_read(*args: Any, **kwargs: Any) -> Any:
        raise AssertionError("the store was read again")

    with monkeypatch.context() as patch:
        patch.setattr(_store, "event_reader", no_store_read)
        assert build(2) == first  # the first build's registration is no event

    withdrawal = {"type": "consent", "id": "c-ana-2", "subject": "ana", "purpose": "ai.training",
                  "status": "withdrawn", "at": "2023-08-20T00:00:00Z"}
    load_lines(sqlite_store, [json.dumps(withdrawal).encode()], "withdrawal.jsonl")
    after = build(3)
    assert "m-100-audio" not in after and after < first
    with sqlite_store.read() as connection:
        fresh = state_tables_from_store(connection, columnar=False)
    from consentgate.bulk import select

    selection = select(fresh, "ai.training", at, policy)
    assert after == set(selection.filter(selection["allowed"])["item_id"].to_pylist())


def test_nothing_is_kept_when_told_so(sqlite_store, examples, tmp_path, monkeypatch):
    from datetime import UTC, datetime

    from consentgate.bulk import _store
    from consentgate.core import Policy
    from consentgate.datasets.build import build_dataset

    monkeypatch.setenv("CONSENTGATE_COLUMNS", "off")
    monkeypatch.setattr(_store, "COLUMNAR_FROM", 1)
    load_lines(sqlite_store, seed_lines(examples), "seed-story.jsonl")
    build_dataset(sqlite_store, "seed", "ai.training", tmp_path / "ds", Policy.default(),
                  at=datetime(2023, 9, 2, tzinfo=UTC))
    assert not [path for path in tmp_path.iterdir() if path.name.endswith(".columns")]


def consent(**fields: Any) -> bytes:
    return json.dumps({"type": "consent", "purpose": "ai.training", "at": "2023-08-20T00:00:00Z", **fields}).encode()


@pytest.mark.backends
def test_consents_logged_after_a_kept_state_update_it_without_working_the_rest_out_again(store, examples, tmp_path,
                                                                                        monkeypatch):
    from consentgate.bulk import _store

    keep = tmp_path / "kept"
    load_lines(store, seed_lines(examples), "seed-story.jsonl")
    before = state_of(store, columnar=True, keep=keep)
    load_lines(store, [consent(id="c-ana-2", subject="ana", status="withdrawn")], "withdrawal.jsonl")

    def worked_out_again(*args: Any, **kwargs: Any) -> Any:
        raise AssertionError("the whole state was worked out again")

    with monkeypatch.context() as patch:
        patch.setattr(_store, "_state_tables", worked_out_again)
        updated = state_of(store, columnar=True, keep=keep)
    assert_same_tables(updated, state_of(store, columnar=False))
    assert "c-ana-2" in updated.consents["id"].to_pylist()
    # the updated state is kept too, its unchanged files shared
    first, second = sorted(states(keep), key=lambda path: json.loads((path / "kept.json").read_text())["seq"])
    assert (first / "items.arrow").stat().st_ino == (second / "items.arrow").stat().st_ino
    # The new consent ranks before kept ones, so their ranks moved: the ranks are kept
    # apart and written whole, the kept rows' other columns linked, the new row alone.
    kept = before.consents.num_rows
    assert updated.consents["seq"].slice(0, kept) != before.consents["seq"]
    assert json.loads((second / "kept.json").read_text())["parts"]["consents"] == ["consents", "consents.1"]
    assert (first / "consents.arrow").stat().st_ino == (second / "consents.arrow").stat().st_ino
    assert (first / "consents@seq.arrow").stat().st_ino != (second / "consents@seq.arrow").stat().st_ino
    again = state_of(store, columnar=True, keep=keep)  # read back from the files
    assert again.consents.equals(updated.consents) and again.consents.schema == updated.consents.schema


def test_builds_that_go_back_and_forth_between_catalogs_each_find_their_own_state(sqlite_store, examples, tmp_path,
                                                                                    monkeypatch):
    from consentgate.bulk import _kept, _store

    keep = tmp_path / "kept"
    catalogs = [tmp_path / f"catalog-{n}.parquet" for n in range(6)]
    for n, catalog in enumerate(catalogs):
        write_catalog(catalog, f"u-{n}")
    load_lines(sqlite_store, seed_lines(examples), "seed-story.jsonl")
    state_of(sqlite_store, catalog=catalogs[0], columnar=True, keep=keep)
    state_of(sqlite_store, catalog=catalogs[1], columnar=True, keep=keep)
    # A new event, and the second catalog's state brought forward: the first's is kept.
    load_lines(sqlite_store, [consent(id="c-ana-2", subject="ana", status="withdrawn")], "withdrawal.jsonl")
    state_of(sqlite_store, catalog=catalogs[1], columnar=True, keep=keep)
    assert len(states(keep)) == 3
    with monkeypatch.context() as patch:
        patch.setattr(_store, "_state_tables", lambda *args, **kwargs: pytest.fail("worked out again"))
        forward = state_of(sqlite_store, catalog=catalogs[0], columnar=True, keep=keep)
    assert_same_tables(forward, state_of(sqlite_store, catalog=catalogs[0], columnar=False))
    # Other catalogs' states: no more than four states are kept in all.
    for catalog in catalogs[2:]:
        state_of(sqlite_store, catalog=catalog, columnar=True, keep=keep)
    kept_sources = [json.loads((path / "kept.json").read_text())["catalog"][0][0] for path in states(keep)]
    assert sorted(kept_sources) == sorted(str(catalog.resolve()) for catalog in catalogs[-4:])
    # A state of other code is never used again, so it goes at once.
    monkeypatch.setattr(_kept, "_code_digest", lambda: "other code")
    state_of(sqlite_store, columnar=True, keep=keep)
    assert len(states(keep)) == 1


def test_new_ids_are_added_after_a_table_and_a_repeated_id_refers_to_its_first_row():
    from consentgate.bulk._advance import added
    from consentgate.bulk._tables import SCHEMAS

    meetings = pa.table({"id": ["m1", "m2", "m1"], "account": ["a", "b", "c"]}, schema=SCHEMAS["meetings"])
    extended, rows = added(meetings, "meetings", pa.chunked_array([["m2", None, "m9", "m1", "m9"]]))
    assert extended["id"].to_pylist() == ["m1", "m2", "m1", "m9"]
    assert rows.to_pylist() == [1, None, 3, 0, 3]
    same, none = added(meetings, "meetings", pa.chunked_array([[None]], pa.string()))
    assert same.num_rows == 3 and none.to_pylist() == [None]


def test_a_consent_naming_new_people_and_meetings_adds_them_after_the_kept_ones(store, examples, tmp_path):
    from datetime import UTC, datetime

    from consentgate.bulk import select
    from consentgate.core import Policy

    keep = tmp_path / "kept"
    load_lines(store, seed_lines(examples), "seed-story.jsonl")
    before = state_of(store, columnar=True, keep=keep)
    load_lines(store, [consent(id="c-new-1", subject="newcomer", status="given"),
                       consent(id="c-ana-3", subject="ana", status="withdrawn", meeting="m-100")], "new.jsonl")
    updated = state_of(store, columnar=True, keep=keep)
    fresh = state_of(store, columnar=False)
    people = updated.people["id"].to_pylist()
    assert people[:before.people.num_rows] == before.people["id"].to_pylist() and "newcomer" in people
    at, policy = datetime(2023, 9, 2, tzinfo=UTC), Policy.default()
    one, other = select(updated, "ai.training", at, policy), select(fresh, "ai.training", at, policy)
    assert one.to_pylist() == other.to_pylist()


def test_columns_that_cannot_be_written_leave_no_copy_and_the_read_goes_on(sqlite_store, examples, tmp_path):
    """The columns are written on a thread while the read goes on: a table that cannot
    be written (here its staging folder is gone) costs the copy, never the read."""
    from consentgate.bulk import _store

    keep = tmp_path / "kept"
    load_lines(sqlite_store, seed_lines(examples), "seed-story.jsonl")
    with sqlite_store.read() as connection, \
            _columnar.event_reader(connection, _store._READS, columnar=True, keep=keep) as read:
        for staging in keep.glob(".staging-*"):
            shutil.rmtree(staging)
        tables = {type_: read(type_) for type_ in _store._READS}
    assert copies(keep) == []
    with sqlite_store.read() as connection, _columnar.event_reader(connection, _store._READS, columnar=False) as read:
        assert all(tables[type_].equals(read(type_)) for type_ in _store._READS)
    # The next read keeps its columns as usual.
    assert_same_tables(state_of(sqlite_store, columnar=True, keep=keep), state_of(sqlite_store, columnar=False))
    assert copies(keep) == [f"at-{head_of(sqlite_store)}"]


def test_a_sqlite_stores_columns_are_kept_as_the_files_the_reader_wrote(sqlite_store, examples, tmp_path,
                                                                       monkeypatch):
    """The reader process writes each table as it is used; the copy links those files
    rather than writing the same bytes again, and nothing of the reader stays behind."""
    from consentgate.bulk import _kept, _store

    linked: list[tuple[Path, Path]] = []
    link = _kept.os.link
    monkeypatch.setattr(_kept.os, "link", lambda source, target: (linked.append((Path(source), Path(target))),
                                                                  link(source, target))[1])
    keep = tmp_path / "kept"
    load_lines(sqlite_store, seed_lines(examples), "seed-story.jsonl")
    with sqlite_store.read() as connection, \
            _columnar.event_reader(connection, _store._READS, columnar=True, keep=keep) as read:
        tables = {type_: read(type_) for type_ in _store._READS}
    assert sorted(target.name for _, target in linked) == sorted(f"{type_}.arrow" for type_ in _store._READS)
    assert all(source.parent.parent == keep and source.parent.name.startswith(".reading-") for source, _ in linked)
    assert not list(keep.glob(".reading-*")) and not list(keep.glob(".staging-*"))
    (copy,) = [keep / name for name in copies(keep)]
    for type_, table in tables.items():
        with pa.memory_map(str(copy / f"{type_}.arrow")) as source:
            assert pa.ipc.open_file(source).read_all().equals(table)
    with sqlite_store.read() as connection, _columnar.event_reader(connection, _store._READS, columnar=False) as read:
        assert all(tables[type_].equals(read(type_)) for type_ in _store._READS)


def test_columns_that_cannot_be_linked_are_written(sqlite_store, examples, tmp_path, monkeypatch):
    """Where the reader's files cannot be linked (another file system), the copy is
    written as before, and the next read uses it."""
    from consentgate.bulk import _kept

    def refused(source: Any, target: Any) -> None:
        raise OSError(18, "Invalid cross-device link")

    monkeypatch.setattr(_kept.os, "link", refused)
    keep = tmp_path / "kept"
    load_lines(sqlite_store, seed_lines(examples), "seed-story.jsonl")
    first = state_of(sqlite_store, columnar=True, keep=keep)
    assert copies(keep) == [f"at-{head_of(sqlite_store)}"]
    for state in states(keep):
        shutil.rmtree(state)
    assert_same_tables(state_of(sqlite_store, columnar=True, keep=keep), first)
    assert_same_tables(first, state_of(sqlite_store, columnar=False))


def load(store: Any, lines: list[bytes], source: str) -> Any:
    """Load ``lines`` as ``consentgate load`` does (through the service)."""
    import io

    from consentgate import service

    return service.load_events(store, io.BytesIO(b"\n".join(lines)), source)


@pytest.mark.backends
def test_a_large_load_keeps_the_columns_the_next_build_reads(store, examples, tmp_path, monkeypatch):
    """A load of ``COLUMNAR_FROM`` new events or more keeps the store's columns at its
    head where builds look for them (beside a SQLite store; under ``CONSENTGATE_COLUMNS``
    for PostgreSQL's); the next read takes them, not the store (whose columnar read fails
    here), and gives the tables a read of the store gives. A smaller load keeps nothing."""
    from consentgate import service

    if store.engine.dialect.name != "sqlite":
        monkeypatch.setenv("CONSENTGATE_COLUMNS", str(tmp_path / "columns"))
    monkeypatch.setattr(service, "COLUMNAR_FROM", 10)
    lines = seed_lines(examples)
    keep = kept_folder(store.url)
    assert keep is not None
    load(store, lines[:9], "first-part.jsonl")
    assert not keep.exists() or copies(keep) == []
    assert load(store, lines[9:], "the-rest.jsonl").total >= 10
    assert copies(keep) == [f"at-{head_of(store)}"]

    def no_store_read(*args: Any) -> Any:
        raise AssertionError("the store's columns were read again")

    with monkeypatch.context() as patched:
        patched.setattr(_columnar, "_sqlite", no_store_read)
        patched.setattr(_columnar, "_postgresql", no_store_read)
        kept = state_of(store, columnar=True, keep=keep)
    assert_same_tables(kept, state_of(store, columnar=False))


@pytest.mark.parametrize("trouble", ["a file where the folder would be", "the store cannot be read"])
def test_a_load_stands_where_its_columns_cannot_be_kept(sqlite_store, examples, tmp_path, monkeypatch, trouble):
    from consentgate import service
    from consentgate.errors import StoreError

    monkeypatch.setattr(service, "COLUMNAR_FROM", 1)
    if trouble == "a file where the folder would be":
        blocked = tmp_path / "blocked"
        blocked.write_text("not a folder")
        monkeypatch.setenv("CONSENTGATE_COLUMNS", str(blocked))
    else:
        def unreadable(*args: Any) -> Any:
            raise StoreError("cannot read the store: it stopped")

        monkeypatch.setattr(_columnar, "_sqlite", unreadable)
    lines = seed_lines(examples)
    result = load(sqlite_store, lines, "seed-story.jsonl")
    assert result.total == len(lines) and result.head_seq == head_of(sqlite_store)
    assert service.keep_loaded_columns(sqlite_store, result.total) is False
    keep = kept_folder(sqlite_store.url)
    assert keep is None or not keep.is_dir() or (copies(keep) == [] and not list(keep.glob(".staging-*")))
    monkeypatch.undo()  # and the store reads and keeps as usual
    assert service.keep_loaded_columns(sqlite_store, result.total) is False  # below the usual size
    assert_same_tables(state_of(sqlite_store, columnar=True, keep=tmp_path / "kept"),
                       state_of(sqlite_store, columnar=False))


def test_the_load_command_keeps_the_columns_of_a_large_import(sqlite_cli, tmp_path):
    """``consentgate load`` of 100,000 events or more, as a user runs it: the events are
    reported, and the store's columns at the head it reports are kept beside the store."""
    world = tmp_path / "world.jsonl"
    sqlite_cli("synth", "--subjects", "2000", "--items", "60000", "--consents", "30000", "--meetings", "2000",
               "--out", str(world), check=True)
    events = len(world.read_bytes().splitlines())
    assert events >= 100_000
    done = sqlite_cli("load", str(world), check=True)
    assert f"loaded {events} new event(s)" in done.stdout
    head = int(done.stdout.split("log head ")[1].split()[0])
    keep = kept_folder(sqlite_cli.url)
    assert keep is not None and copies(keep) == [f"at-{head}"]
    assert not list(keep.glob(".staging-*")) and not list(keep.glob(".reading-*"))
    # And the store's own state at that head, which the next build starts from.
    states = [json.loads((path / "kept.json").read_text()) for path in keep.glob("state-*")]
    assert [(state["catalog"], state["seq"], state["content"]) for state in states] == [(None, head, True)]
    # A load of a few more events keeps nothing new: the next build reads them row by row.
    extra = tmp_path / "extra.jsonl"
    extra.write_text(json.dumps({"type": "account", "id": "acme-extra", "region": "EU"}) + "\n")
    sqlite_cli("load", str(extra), check=True)
    assert copies(keep) == [f"at-{head}"]


def _kept_table(values: list[str], ids: list[str], numbers: list[int]) -> pa.Table:
    """A state table with a dictionary column (indices into ``values``), as the compact
    items and participant lines are."""
    indices = pa.array([values.index(one) for one in ids], pa.int32())
    return pa.table({"id": pa.DictionaryArray.from_arrays(indices, pa.array(values)), "id_ref": indices,
                     "n": pa.array(numbers, pa.int64())})


def _about(seq: int) -> dict[str, Any]:
    from consentgate.bulk._kept import _code_digest

    return {"seq": seq, "code": _code_digest()}  # a state of other code would go at once


def _files(path: Path) -> dict[str, int]:
    return {file.name: file.stat().st_ino for file in path.glob("*.arrow")}


def test_rows_added_to_a_kept_table_are_written_alone_and_read_after_its_files(tmp_path):
    from consentgate.bulk._kept import EarlierState, KeptStates

    states_ = KeptStates(tmp_path / "kept")
    first = {"lines": _kept_table(["a", "b"], ["a", "b", "a"], [1, 2, 3]), "other": pa.table({"x": [1, 2]})}
    states_.keep("k1" * 16, first, _about(1))
    (one,) = states(tmp_path / "kept")
    earlier = EarlierState(1, states_.read("k1" * 16), one, 0)
    # Two rows more, one naming a value the dictionary gained after its kept values; and
    # a table whose kept rows changed.
    second = {"lines": _kept_table(["a", "b", "c"], ["a", "b", "a", "c", "b"], [1, 2, 3, 4, 5]),
              "other": pa.table({"x": [9, 2, 3]})}
    states_.keep("k2" * 16, second, _about(2), earlier=earlier)
    two = next(path for path in states(tmp_path / "kept") if path != one)
    meta = json.loads((two / "kept.json").read_text())
    assert meta["parts"] == {"lines": ["lines", "lines.1"]}
    assert _files(two)["lines.arrow"] == _files(one)["lines.arrow"]  # linked, not written
    assert _files(two)["other.arrow"] != _files(one)["other.arrow"]  # written whole
    with pa.memory_map(str(two / "lines.1.arrow")) as source:
        assert pa.ipc.open_file(source).read_all().num_rows == 2
    back = states_.read("k2" * 16)
    for name, table in second.items():
        assert back[name].equals(table) and back[name].schema == table.schema, name
    # Each chunk reads the one dictionary: the earlier file's indices against the new one.
    assert all(chunk.dictionary.to_pylist() == ["a", "b", "c"] for chunk in back["lines"]["id"].chunks)

    # A third state adds a file more; the two before are linked.
    third = {"lines": _kept_table(["a", "b", "c"], ["a", "b", "a", "c", "b", "c"], [1, 2, 3, 4, 5, 6]),
             "other": second["other"]}
    states_.keep("k3" * 16, third, _about(3), earlier=EarlierState(2, back, two, 0), unchanged={"other"})
    three = tmp_path / "kept" / f"state-{('k3' * 16)[:32]}"
    assert json.loads((three / "kept.json").read_text())["parts"] == {"lines": ["lines", "lines.1", "lines.2"]}
    assert _files(three)["lines.1.arrow"] == _files(two)["lines.1.arrow"]
    assert _files(three)["other.arrow"] == _files(two)["other.arrow"]
    again = states_.read("k3" * 16)
    assert all(again[name].equals(table) for name, table in third.items())


def test_a_column_whose_kept_rows_change_is_kept_apart_and_the_rest_takes_the_new_rows_alone(tmp_path,
                                                                                             monkeypatch):
    from consentgate.bulk import _kept
    from consentgate.bulk._kept import EarlierState, KeptStates

    monkeypatch.setattr(_kept, "_APART", {"consents": ("seq",)})

    def consents(ids: list[str], seq: list[int]) -> pa.Table:
        return pa.table({"id": ids, "seq": pa.array(seq, pa.int64()), "at": pa.array(range(len(ids)), pa.int64())})

    states_ = KeptStates(tmp_path / "kept")
    first = {"consents": consents(["c1", "c2"], [0, 1]), "other": pa.table({"x": [1]})}
    states_.keep("k1" * 16, first, _about(1))
    one = tmp_path / "kept" / f"state-{('k1' * 16)[:32]}"
    assert set(_files(one)) == {"consents.arrow", "consents@seq.arrow", "other.arrow"}
    with pa.memory_map(str(one / "consents.arrow")) as source:
        assert pa.ipc.open_file(source).read_all().column_names == ["id", "at"]
    # A consent ranked before the kept ones: their ranks move up, the rest of their rows stay.
    second = {"consents": consents(["c1", "c2", "c3"], [1, 2, 0]), "other": first["other"]}
    states_.keep("k2" * 16, second, _about(2), earlier=EarlierState(1, states_.read("k1" * 16), one, 0),
                 unchanged={"other"})
    two = tmp_path / "kept" / f"state-{('k2' * 16)[:32]}"
    meta = json.loads((two / "kept.json").read_text())
    assert meta["parts"] == {"consents": ["consents", "consents.1"]}
    assert meta["apart"] == {"consents": {"names": ["id", "seq", "at"], "files": {"seq": "consents@seq"}}}
    assert _files(two)["consents.arrow"] == _files(one)["consents.arrow"]
    assert _files(two)["consents@seq.arrow"] != _files(one)["consents@seq.arrow"]
    back = states_.read("k2" * 16)
    for name, table in second.items():
        assert back[name].equals(table) and back[name].schema == table.schema, name
    # Unchanged, the table links its rows and its column kept apart alike.
    states_.keep("k3" * 16, second, _about(3), earlier=EarlierState(2, back, two, 0), unchanged={"consents", "other"})
    three = tmp_path / "kept" / f"state-{('k3' * 16)[:32]}"
    assert {name: inode for name, inode in _files(three).items() if name.startswith("consents")} == \
        {name: inode for name, inode in _files(two).items() if name.startswith("consents")}
    assert states_.read("k3" * 16)["consents"].equals(second["consents"])
    # A column kept apart that does not match its table's rows is not read as it.
    (three / "consents@seq.arrow").unlink()
    _kept._write(three / "consents@seq.arrow", pa.table({"seq": pa.array([0], pa.int64())}), "consents@seq", {})
    assert states_.read("k3" * 16) is None


def test_a_kept_table_is_written_whole_where_its_rows_changed_or_its_files_are_many(tmp_path, monkeypatch):
    from consentgate.bulk import _kept
    from consentgate.bulk._kept import EarlierState, KeptStates

    states_ = KeptStates(tmp_path / "kept")
    first = {"lines": _kept_table(["a", "b"], ["a", "b"], [1, 2])}
    states_.keep("k1" * 16, first, _about(1))
    path = tmp_path / "kept" / f"state-{('k1' * 16)[:32]}"
    earlier = EarlierState(1, states_.read("k1" * 16), path, 0)
    kept_file = _files(path)["lines.arrow"]
    changed = {
        # a kept row's value changed
        "value": _kept_table(["a", "b"], ["a", "b", "b"], [1, 7, 3]),
        # a dictionary that no longer begins with the kept one: the same values, re-ordered
        "dictionary": _kept_table(["b", "a"], ["a", "b", "b"], [1, 2, 3]),
        # the same rows, none added
        "rows": _kept_table(["a", "b"], ["a", "b"], [1, 2]),
    }
    for number, (why, table) in enumerate(changed.items()):
        key = f"c{number}" * 16
        states_.keep(key, {"lines": table}, _about(2), earlier=earlier)
        kept = tmp_path / "kept" / f"state-{key[:32]}"
        assert "lines" not in json.loads((kept / "kept.json").read_text())["parts"], why
        assert _files(kept)["lines.arrow"] != kept_file, why
        back = states_.read(key)["lines"]
        assert back.equals(table) and back.schema == table.schema, why

    # A table already in as many files as are kept for one is written whole again.
    monkeypatch.setattr(_kept, "_MOST_PARTS", 2)
    states_ = KeptStates(tmp_path / "other")
    states_.keep("k1" * 16, first, _about(1))
    path = tmp_path / "other" / f"state-{('k1' * 16)[:32]}"
    grown = {"lines": _kept_table(["a", "b"], ["a", "b", "a"], [1, 2, 3])}
    states_.keep("g1" * 16, grown, _about(2), earlier=EarlierState(1, states_.read("k1" * 16), path, 0))
    two = tmp_path / "other" / f"state-{('g1' * 16)[:32]}"
    assert json.loads((two / "kept.json").read_text())["parts"] == {"lines": ["lines", "lines.1"]}
    more = {"lines": _kept_table(["a", "b"], ["a", "b", "a", "b"], [1, 2, 3, 4])}
    states_.keep("g2" * 16, more, _about(3), earlier=EarlierState(2, states_.read("g1" * 16), two, 0))
    three = tmp_path / "other" / f"state-{('g2' * 16)[:32]}"
    assert json.loads((three / "kept.json").read_text())["parts"] == {}
    assert set(_files(three)) == {"lines.arrow"} and _files(three)["lines.arrow"] != _files(two)["lines.arrow"]
    assert states_.read("g2" * 16)["lines"].equals(more["lines"])


@pytest.mark.backends
def test_a_state_brought_forward_over_new_lines_keeps_them_alone_and_reads_back_the_same(store, examples,
                                                                                        tmp_path, monkeypatch):
    from datetime import UTC, datetime

    from consentgate.bulk import _store, select
    from consentgate.core import Policy

    keep = tmp_path / "kept"
    load_lines(store, seed_lines(examples), "seed-story.jsonl")
    state_of(store, columnar=True, keep=keep)
    (first,) = states(keep)
    day = [json.dumps({"type": "meeting", "id": "m-new", "account": "northwind"}).encode(),
           *(json.dumps({"type": "participant", "meeting": "m-new", "subject": subject,
                         "notified": ["recording"]}).encode() for subject in ("ana", "newcomer"))]
    load_lines(store, day, "day.jsonl")
    forward = state_of(store, columnar=True, keep=keep)
    (second,) = [path for path in states(keep) if path != first]
    parts = json.loads((second / "kept.json").read_text())["parts"]
    # The new participant lines (and the new person their dictionary gained) come alone.
    assert parts["participants"] == ["participants", "participants.1"]
    assert _files(second)["participants.arrow"] == _files(first)["participants.arrow"]
    with monkeypatch.context() as patch:
        patch.setattr(_store, "event_reader", lambda *args, **kwargs: pytest.fail("the store was read again"))
        again = state_of(store, columnar=True, keep=keep)
    assert_same_tables(again, forward)
    assert all(again.as_dict()[name].schema == table.schema for name, table in forward.as_dict().items())
    # A state worked out afresh numbers the new person elsewhere: it selects the same.
    at, policy = datetime(2023, 9, 2, tzinfo=UTC), Policy.default()
    assert select(again, "ai.training", at, policy).to_pylist() == \
        select(state_of(store, columnar=False), "ai.training", at, policy).to_pylist()
