"""A kept state brought forward over the events logged since it was kept.

Event tables only grow (see ``_columnar``), so the state as of a later log entry is the
kept one and what the new events add. The tables of millions of rows take the new rows
alone: participant lines and erasures are appended (an erasure marked on its item), and
the people, meetings, accounts and groups the new events name are added after the kept
ones, so every reference the kept state holds stays what it was. The millions of kept
people and meetings are gone over once for all the ids that the new events and catalog
files name. The small tables (users and their groups, settings, terms and acceptances,
consents) are worked out again from their kept columns and the new events, their
references looked up among the grown tables.

A catalog's new files (after its kept ones, which are unchanged) add their items after
the kept catalog's, before the store's service data: a catalog's rows are its files'
rows in order. A state of the store alone, where the store holds no content, takes a
whole catalog the same way, as files after none kept; their millions of owners and
meetings are joined to the kept people and meetings by DuckDB as it reads the files
(``_catalog.catalog_refs``), beside Arrow's read of the rest. New content or service
data in the store has the state worked out afresh.
"""

from __future__ import annotations

from collections.abc import Mapping
from concurrent.futures import Future, ThreadPoolExecutor
from pathlib import Path
from typing import NamedTuple, cast

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.dataset as ds
import pyarrow.parquet as pq
from sqlalchemy import Connection, select

from ..model import DATA_KINDS
from ..store import COLUMNAR_FROM
from ..store.schema import EVENT_SPECS
from ._catalog import APART, CatalogRefs, all_distinct, catalog_refs, is_text, read_catalog
from ._columnar import event_reader
from ._kept import EarlierState, Kept, StateBase
from ._raw import (
    acceptances_table,
    accounts_table,
    consents_table,
    groups_table,
    json_lists,
    list_positions,
    meetings_table,
    settings_table,
    terms_grants_table,
    user_groups_table,
    users_table,
)
from ._refs import extend, with_columns
from ._tables import SCHEMAS, StateTables, build, strings, whole

# Event types whose new events have the state worked out afresh.
_AFRESH = frozenset({"content", "service_data"})
# From this many keys on, ids are looked up among them by a join in DuckDB.
_JOINED_FROM = 1_000_000
# From this many ids on (a whole catalog's owners, say), they are joined to a table in
# DuckDB rather than hashed here (``_Growing.rows_of``).
_JOIN_IDS_FROM = 1_000_000
_JOINED_ROWS = "SELECT ids.pos, keys.row FROM ids JOIN keys USING (id)"
_JOINED_FIRST_ROWS = """SELECT ids.pos, k.row FROM ids
                         JOIN (SELECT id, min(row) AS row FROM keys GROUP BY id) k USING (id)"""
# What working a table out again reads besides its own events.
_ALSO = {"terms": ("terms_acceptance",), "terms_acceptance": ("terms",)}


def advanced(
    connection: Connection, earlier: EarlierState, reads: Mapping[str, tuple[str, ...]], head: int, keep: Path,
    catalog: str | Path | None = None, base: StateBase | None = None,
) -> tuple[StateTables, set[str]] | None:
    """The state ``earlier`` brought to ``head`` (and to every file of ``catalog`` as
    ``base`` lists them), and the names of the tables that changed; None where it is to
    be worked out afresh (see the module docstring).

    Where the columns kept in ``keep`` lag ``COLUMNAR_FROM`` events or more behind
    ``head`` (the events of several reads add up), every event type is read, so that
    they come up to ``head`` too.
    """
    seq, tables = earlier.seq, earlier.tables
    logged = {type_ for type_ in reads if _logged_since(connection, type_, seq, head)}
    if logged & _AFRESH or not pa.types.is_dictionary(tables["participants"].schema.field("meeting").type):
        return None
    copy = Kept(keep).latest(connection, reads, head)
    many = copy is None or head - copy[0] >= COLUMNAR_FROM
    wanted = {type_ for type_ in reads if many or type_ in logged or set(_ALSO.get(type_, ())) & logged}
    events: dict[str, pa.Table] = {}
    if wanted:
        with event_reader(connection, {type_: reads[type_] for type_ in reads if type_ in wanted}, True, head, keep,
                          leave=many) as read:
            events = {type_: read(type_) for type_ in reads if type_ in wanted}
    files = [entry[0] for entry in (base.catalog or ())] if base is not None else []
    added_files = files[earlier.catalog_files:] if catalog is not None else []
    # Many new items (a whole catalog over a state of the store alone) have their owners
    # and meetings joined to the people and meetings as they are read (``catalog_refs``).
    apart = _apart(added_files)
    content = read_catalog(cast(Path, catalog), added_files) if added_files and not apart else None
    # The tables of millions of rows take the new events alone.
    new: dict[str, pa.Table] = {type_: _since(events[type_], seq)
                                for type_ in ("meeting", "consent", "participant", "delete") if type_ in logged}
    state = _Growing(tables)
    _expect(state, logged, events, new, content)
    if "account" in logged:
        state.describe("accounts", accounts_table(events["account"]))
    if "group" in logged:
        groups = groups_table(events["group"])
        state.describe("groups", groups)
        state.rows_of("accounts", groups["account"])
    if "meeting" in logged:
        state.describe("meetings", meetings_table(new["meeting"]))
        state.rows_of("accounts", new["meeting"]["account"])
    if "user" in logged:
        _users(state, events["user"])
    if "setting" in logged:
        _settings(state, events["setting"])
    if logged & {"terms", "terms_acceptance"}:
        terms = events["terms"]
        acceptances = acceptances_table(events["terms_acceptance"], terms)
        state.set("terms_grants", terms_grants_table(terms))
        state.set("acceptances", with_columns(acceptances, "acceptances", {
            "account_ref": state.rows_of("accounts", acceptances["account"])}))
    if "consent" in logged:
        _consents(state, new["consent"])
    if "participant" in logged:
        _lines(state, new["participant"])
    if "delete" in logged:
        _erasures(state, new["delete"])
    kept_files = files[:earlier.catalog_files]
    if apart:
        people, meetings = state.tables["people"]["id"], state.tables["meetings"]["id"]
        with ThreadPoolExecutor(max_workers=1) as pool:
            refs = pool.submit(catalog_refs, added_files, people, meetings)
            content = read_catalog(cast(Path, catalog), added_files, people_apart=True)
            if not _catalog_items(state, kept_files, content, refs):
                return None
    elif content is not None and not _catalog_items(state, kept_files, content):
        return None
    return StateTables(**state.tables), state.changed


def _apart(files: list[str]) -> bool:
    """Whether the catalog ``files`` are to have their owners and meetings read apart
    (``catalog_refs``): ``_JOIN_IDS_FROM`` rows or more, whose owners and meetings are
    text (other types, which a read casts, are read with the rest). False where a file
    cannot be read: reading the catalog says why."""
    try:
        rows, types = 0, []
        for file in files:
            parquet = pq.ParquetFile(file)
            rows += parquet.metadata.num_rows
            schema = parquet.schema_arrow
            types += [schema.field(name).type for name in APART if name in schema.names]
    except (OSError, pa.ArrowException):
        return False
    return bool(files) and rows >= _JOIN_IDS_FROM and all(is_text(kind) for kind in types)


def _expect(state: _Growing, logged: set[str], events: Mapping[str, pa.Table], new: Mapping[str, pa.Table],
            content: pa.Table | None) -> None:
    """The people and meetings that the new events and catalog files name, looked up at
    once: each is named by several kinds of them."""
    named: dict[str, list[pa.ChunkedArray]] = {"people": [], "meetings": []}
    if "user" in logged:
        named["people"].append(events["user"]["id"])
    if "setting" in logged:
        named["people"].append(events["setting"]["target"])
    if "meeting" in logged:
        named["meetings"].append(new["meeting"]["id"])
    for type_ in ("consent", "participant"):
        if type_ in logged:
            named["people"].append(new[type_]["subject"])
            named["meetings"].append(new[type_]["meeting"])
    if content is not None:
        named["people"].append(content["owner"])
        named["meetings"].append(content["meeting"])
    for name, ids in named.items():
        if ids:
            state.expect(name, *ids)


def _logged_since(connection: Connection, type_: str, seq: int, head: int) -> bool:
    table = EVENT_SPECS[type_].table
    return connection.execute(select(table.c.seq).where(table.c.seq > seq, table.c.seq <= head).limit(1)).first() \
        is not None


def _since(rows: pa.Table, seq: int) -> pa.Table:
    """The rows logged after ``seq`` (rows come in log order)."""
    return rows.slice(int(np.searchsorted(rows["seq"].to_numpy(), seq, side="right")))


class _Growing:
    """The tables of a state being brought forward, and the names of those changed."""

    def __init__(self, tables: Mapping[str, pa.Table]) -> None:
        self.tables = dict(tables)
        self.changed: set[str] = set()
        self._known: dict[str, _Known] = {}

    def expect(self, name: str, *ids: pa.Array | pa.ChunkedArray) -> None:
        """Look ``ids`` up at once among the rows of the table ``name`` (ids the new
        events name, several times over), so that ``rows_of`` finds them without going
        over the table's millions of ids each time."""
        keys = self.tables[name]["id"]
        if len(keys) >= _JOINED_FROM:
            wanted, found = _first_rows(keys, whole(strings(*ids)))
            self._known[name] = _Known(wanted, found, len(keys))

    def set(self, name: str, table: pa.Table) -> None:
        self.tables[name] = table
        self.changed.add(name)

    def rows_of(self, name: str, ids: pa.Array | pa.ChunkedArray) -> pa.Array:
        """Each of ``ids``'s row in the table ``name`` (people, meetings, accounts or
        groups; null for null), the ids it lacks added after its rows.

        Dictionary columns (a catalog's accounts, say) have their dictionaries looked up
        alone; ``_JOIN_IDS_FROM`` ids or more (a whole catalog's owners) are joined to the
        table in DuckDB, on every core, rather than hashed here."""
        if pa.types.is_dictionary(ids.type):
            values, codes = _codes(ids)
            return self.rows_of(name, values).take(codes)
        if len(ids) >= _JOIN_IDS_FROM and len(ids):
            return self._joined(name, whole(strings(ids)))
        grown, rows = added(self.tables[name], name, ids, self._known.get(name))
        if grown.num_rows != self.tables[name].num_rows:
            self.set(name, grown)
        return rows

    def found(self, name: str, refs: CatalogRefs) -> np.ndarray:
        """The rows ``refs`` found in the table ``name`` (-1: null), the ids it lacks
        added after its rows in order of first appearance."""
        rows = refs.rows
        if len(refs.missing):
            table = self.tables[name]
            extra = pc.dictionary_encode(refs.ids)
            self.set(name, extend(table, name, extra.dictionary, all_new=True))
            rows[refs.missing] = table.num_rows + extra.indices.to_numpy(zero_copy_only=False)
        return rows

    def _joined(self, name: str, ids: pa.Array) -> pa.Array:
        found = _joined_rows(self.tables[name]["id"], ids)
        missing = np.flatnonzero((found < 0) & pc.is_valid(ids).to_numpy(zero_copy_only=False))
        rows = self.found(name, CatalogRefs(found, missing, ids.take(pa.array(missing))))
        return pa.array(rows, mask=rows < 0)

    def describe(self, name: str, described: pa.Table) -> None:
        """Give each row of the table ``name`` the columns of its id's first row in
        ``described`` (events describing it), adding the ids it lacks. (The store takes
        one event per id: a row described now was only named before, by an item of a
        catalog, say.)"""
        rows = self.rows_of(name, described["id"]).to_numpy(zero_copy_only=False)
        table = self.tables[name]
        first = np.full(table.num_rows, -1, dtype=np.int64)
        first[rows[::-1]] = np.arange(len(rows) - 1, -1, -1)  # the first row of each id wins
        targets = np.flatnonzero(first >= 0)
        if not len(targets):
            return
        # Each row takes its own value, or (for those described now) the event's.
        where = np.arange(table.num_rows, dtype=np.int64)
        where[targets] = table.num_rows + np.arange(len(targets))
        picked = pa.array(first[targets])
        self.set(name, pa.table({
            column: table["id"] if column == "id" else pa.concat_arrays([
                whole(table[column]), whole(described[column]).take(picked)]).take(where)
            for column in SCHEMAS[name].names}, schema=SCHEMAS[name]))


def added(table: pa.Table, name: str, ids: pa.Array | pa.ChunkedArray,
          known: _Known | None = None) -> tuple[pa.Table, pa.Array]:
    """``table`` (of distinct ids, or each id's first row counting) with a row for each of
    ``ids`` it lacks, after its own rows, and each of ``ids``'s row (int64, null for null)."""
    ids = whole(ids)
    wanted, found = _first_rows(table["id"], ids, known)
    missing = np.flatnonzero(found < 0)
    if len(missing):
        table = extend(table, name, wanted.take(pa.array(missing)), all_new=True)
        found[missing] = table.num_rows - len(missing) + np.arange(len(missing))
    return table, pa.array(found).take(pc.index_in(ids, value_set=wanted))


class _Known(NamedTuple):
    """Ids looked up among a table's first ``rows`` ids, and each one's first row there
    (-1: none)."""

    ids: pa.Array
    found: np.ndarray
    rows: int


def _first_rows(keys: pa.ChunkedArray, ids: pa.Array, known: _Known | None = None) -> tuple[pa.Array, np.ndarray]:
    """The distinct non-null ``ids`` and each one's first row among ``keys`` (-1: none).
    Where ``known`` holds every one of them, only the keys after its rows are gone over."""
    wanted = pc.unique(pc.drop_null(ids)) if len(ids) else pa.array([], pa.string())
    if not len(wanted):
        return wanted, np.full(0, -1, dtype=np.int64)
    if known is not None and len(wanted) <= len(known.ids):
        # The known ids are looked up among the wanted, which are fewer, so that only
        # these are hashed.
        at = pc.index_in(known.ids, value_set=wanted.cast(pa.string()))
        hit = pc.is_valid(at).to_numpy(zero_copy_only=False)
        if hit.sum() == len(wanted):  # every wanted id is known (both are distinct)
            found = np.empty(len(wanted), dtype=np.int64)
            found[pc.filter(at, pa.array(hit)).to_numpy()] = known.found[hit]
            later = np.flatnonzero(found < 0)
            if len(later) and len(keys) > known.rows:
                rows = _found_in(keys.slice(known.rows), wanted.take(pa.array(later)))
                found[later] = np.where(rows >= 0, rows + known.rows, -1)
            return wanted, found
    return wanted, _found_in(keys, wanted)


def _joined_rows(keys: pa.ChunkedArray | pa.Array, ids: pa.Array | pa.ChunkedArray,
                 numbers: np.ndarray | None = None) -> np.ndarray:
    """Each of ``ids``'s first row among ``keys`` (-1: none, or a null id), or the least
    of its keys' ``numbers`` where given, joined in DuckDB: the keys are hashed and every
    id looked up among them (or the other way round, whichever are fewer), on every
    core. Keys that repeat an id (which a state's people, meetings and items do not) are
    grouped to their first rows first."""
    import duckdb

    rows = np.arange(len(keys), dtype=np.int64) if numbers is None else numbers
    found = np.full(len(ids), -1, dtype=np.int64)
    if not len(ids) or not len(keys):
        return found
    with duckdb.connect(":memory:") as connection:
        connection.register("keys", pa.table({"id": strings(keys), "row": rows}))
        connection.register("ids", pa.table({"id": strings(ids), "pos": np.arange(len(ids), dtype=np.int64)}))
        hits = connection.sql(_JOINED_ROWS).to_arrow_table()
        positions = hits["pos"].to_numpy()
        found[positions] = hits["row"].to_numpy()
        if np.count_nonzero(found >= 0) != len(positions):  # an id found twice: a key repeats
            found[:] = -1
            hits = connection.sql(_JOINED_FIRST_ROWS).to_arrow_table()
            found[hits["pos"].to_numpy()] = hits["row"].to_numpy()
    return found


def _found_in(keys: pa.ChunkedArray, wanted: pa.Array) -> np.ndarray:
    """Each of the distinct ``wanted`` ids' first row among ``keys`` (-1: none).

    Only the few ``wanted`` are hashed; the millions of ``keys`` are looked up among them,
    by DuckDB on every core where they are many (an item's ids, say).
    """
    if len(keys) >= _JOINED_FROM:
        return _joined_rows(keys, wanted)
    found = np.full(len(wanted), -1, dtype=np.int64)
    hits = pc.index_in(keys, value_set=wanted)
    valid = pc.is_valid(hits).to_numpy(zero_copy_only=False)
    found[pc.filter(hits, pa.array(valid)).to_numpy()[::-1]] = np.flatnonzero(valid)[::-1]  # the first wins
    return found


def _users(state: _Growing, rows: pa.Table) -> None:
    """Users and their groups worked out again; the people, accounts and groups they
    name found (or added)."""
    user_groups = user_groups_table(rows)
    state.rows_of("people", rows["id"])
    state.rows_of("accounts", rows["account"])
    state.set("users", users_table(rows).cast(SCHEMAS["users"]))
    state.set("user_groups", with_columns(user_groups, "user_groups", {
        "user_ref": state.rows_of("people", user_groups["user_id"]),
        "group_ref": state.rows_of("groups", user_groups["group_id"]),
    }))


def _settings(state: _Growing, rows: pa.Table) -> None:
    """Settings worked out again, each target found (or added) by its scope."""
    settings = settings_table(rows)
    scope = settings["scope"]
    personal = pc.invert(pc.is_in(scope, value_set=pa.array(["account", "group"])))
    target_ref = np.full(settings.num_rows, -1, dtype=np.int64)
    for table, chosen in (("accounts", pc.equal(scope, "account")), ("groups", pc.equal(scope, "group")),
                          ("people", personal)):
        where = np.flatnonzero(pc.fill_null(chosen, False).to_numpy(zero_copy_only=False))
        if len(where):
            found = state.rows_of(table, settings["target"].take(pa.array(where)))
            target_ref[where] = pc.fill_null(found, -1).to_numpy(zero_copy_only=False)
    state.set("settings", with_columns(settings, "settings", {
        "target_ref": pa.array(target_ref, mask=target_ref < 0)}))


def _consents(state: _Growing, rows: pa.Table) -> None:
    """The new consents (``rows``) after the kept ones, their people and meetings found
    (or added). Every consent's ``seq`` ranks it among all by (time, log order): a kept
    one moves up by the new ones of an earlier time, a new one follows the kept ones of
    its time or earlier (logged before it) and the new ones ranked before it."""
    kept, new = state.tables["consents"], consents_table(rows)
    kept_rank, kept_at = _numbers(kept["seq"]), kept["at"].to_numpy()
    order = np.empty_like(kept_rank)
    order[kept_rank] = np.arange(len(kept_rank))
    new_at, new_rank = new["at"].to_numpy(), new["seq"].to_numpy()
    ranks = {
        "kept": kept_rank + np.searchsorted(np.sort(new_at), kept_at, side="left"),
        "new": np.searchsorted(kept_at[order], new_at, side="right") + new_rank,
    }
    new = with_columns(new.drop_columns(["seq"]).append_column("seq", pa.array(ranks["new"])), "consents", {
        "subject_ref": state.rows_of("people", new["subject"]),
        "meeting_ref": state.rows_of("meetings", new["meeting"]),
    })
    kept = kept.set_column(kept.schema.get_field_index("seq"), "seq", pa.array(ranks["kept"]))
    state.set("consents", pa.concat_tables([kept.cast(new.schema), new]))


def _inserted(column: pa.ChunkedArray, new: pa.Array, at: int | None = None) -> pa.ChunkedArray:
    """``column`` with ``new`` (cast to its type) after its first ``at`` rows (None: after
    all), the kept rows not copied."""
    at = len(column) if at is None else at
    return pa.chunked_array([*column.slice(0, at).chunks, new.cast(column.type), *column.slice(at).chunks],
                            column.type)


def _over(indices: pa.ChunkedArray, keys: pa.ChunkedArray | pa.Array) -> pa.ChunkedArray:
    """Row numbers as a dictionary column over ``keys`` (each chunk's indices uncopied)."""
    dictionary = whole(keys)
    return pa.chunked_array([pa.DictionaryArray.from_arrays(chunk, dictionary) for chunk in indices.chunks],
                            pa.dictionary(indices.type, dictionary.type))


def _numbers(column: pa.ChunkedArray | pa.Array) -> np.ndarray:
    """Row numbers as a new int64 array, -1 for null."""
    numbers: np.ndarray = pc.fill_null(column, -1).to_numpy(zero_copy_only=False).astype(np.int64)
    return numbers


def _lines(state: _Growing, rows: pa.Table) -> None:
    """New participant lines after the kept ones, in the compact form (see ``_refs``):
    a line's place counts its meeting's kept lines, and a subject's first line in a
    meeting is first only where no kept line has the pair."""
    lines = state.tables["participants"]
    meeting = _numbers(state.rows_of("meetings", rows["meeting"]))
    subject = _numbers(state.rows_of("people", rows["subject"]))
    kept_meeting, kept_subject = _numbers(lines["meeting_ref"]), _numbers(lines["subject_ref"])
    n_meetings, width = state.tables["meetings"].num_rows, state.tables["people"].num_rows + 1
    before = np.bincount(kept_meeting[kept_meeting >= 0], minlength=n_meetings + 1)
    order = np.argsort(meeting, kind="stable")
    ordered = meeting[order]
    starts = np.r_[0, np.flatnonzero(np.diff(ordered)) + 1]
    places = np.empty(len(order), dtype=np.int64)
    places[order] = np.arange(len(order)) - np.repeat(starts, np.diff(np.r_[starts, len(order)]))
    # A null meeting (-1) counts in the spare last slot, as no kept line has one.
    places += before[meeting]
    pairs = (meeting + 1) * width + (subject + 1)
    named = np.zeros(n_meetings + 1, dtype=bool)
    named[meeting] = True
    same_meeting = named[kept_meeting]
    kept_pairs = (kept_meeting[same_meeting] + 1) * width + (kept_subject[same_meeting] + 1)
    first = np.zeros(len(pairs), dtype=bool)
    first[np.unique(pairs, return_index=True)[1]] = True
    first &= ~np.isin(pairs, kept_pairs)
    meeting_ref = _inserted(lines["meeting_ref"], pa.array(meeting, mask=meeting < 0))
    subject_ref = _inserted(lines["subject_ref"], pa.array(subject, mask=subject < 0))
    columns = {
        "meeting": _over(meeting_ref, state.tables["meetings"]["id"]),
        "subject": _over(subject_ref, state.tables["people"]["id"]),
        "pos": _inserted(lines["pos"], pa.array(places)),
        "notified": _inserted(lines["notified"], json_lists(rows["notified"])),
        "first": _inserted(lines["first"], pa.array(first)),
        "meeting_ref": meeting_ref, "subject_ref": subject_ref,
    }
    state.set("participants", pa.table({name: columns[name] for name in SCHEMAS["participants"].names}))


def _erasures(state: _Growing, rows: pa.Table) -> None:
    """New erasures after the kept ones, each marked on its item where it is the first."""
    items = state.tables["items"]
    ids = whole(rows["item"])
    wanted, first = _first_rows(items["item_id"], ids)
    found = pa.array(first, mask=first < 0).take(pc.index_in(ids, value_set=wanted))
    state.set("erasures", pa.concat_tables([
        state.tables["erasures"],
        build("erasures", {"item_id": rows["item"], "item_row": found, "at": rows["at"]}),
    ]))
    known = pc.is_valid(found).to_numpy(zero_copy_only=False)
    if not known.any():
        return
    never = np.iinfo(np.int64).max
    erased = pc.fill_null(items["erased"], never).to_numpy(zero_copy_only=False).copy()
    np.minimum.at(erased, found.to_numpy(zero_copy_only=False)[known].astype(np.int64),
                  rows["at"].to_numpy()[known])
    index = items.schema.get_field_index("erased")
    state.set("items", items.set_column(index, "erased", pa.array(erased, pa.int64(), mask=erased == never)))


def _catalog_items(state: _Growing, kept: list[str], content: pa.Table,
                   refs: Future[dict[str, CatalogRefs]] | None = None) -> bool:
    """The items of a catalog's new files (``content``) after those of its ``kept`` ones (and
    before the store's service data, whose rows move up), their sources found, and
    sources and erasures that named them before found too. False where the state is to
    be worked out afresh: a new id repeats, is empty or is already an item's (reading
    it whole says which). ``refs`` gives the new items' owners and meetings where
    ``content`` leaves them out.

    The new ids (a day's file, or a whole catalog over a state of the store alone) and
    the names that may point at them are joined in DuckDB (``_joined_rows``), on every
    core, rather than hashed here. The checks on the new ids and the join of their
    sources run on threads while the items' columns are made here, which leaves a core
    idle otherwise; a check that fails makes what was done meanwhile moot.
    """
    ids = whole(content["item_id"])
    if not len(ids):
        return True
    items = state.tables["items"]
    n_old = ds.dataset(kept, format="parquet").count_rows() if kept else 0
    if n_old > items.num_rows:
        return False
    n_new = len(ids)
    kept_ids = strings(items["item_id"])
    links = whole(content["source_list"])
    named = pc.list_flatten(links)
    new_rows = np.arange(n_old, n_old + n_new, dtype=np.int64)

    def moved(rows: pa.ChunkedArray | pa.Array, names: pa.ChunkedArray | pa.Array | None = None) -> np.ndarray:
        """Rows of items as they are after the new ones went in: service rows move up,
        and a null row whose id in ``names`` is a new item's takes that item's row."""
        numbers = _numbers(rows)
        numbers[numbers >= n_old] += n_new
        missing = np.flatnonzero(numbers < 0)
        if names is not None and len(missing):
            numbers[missing] = _joined_rows(ids, whole(names).take(pa.array(missing)), new_rows)
        return numbers

    def fresh() -> bool:
        """Whether the new ids are distinct and none is already an item's."""
        return all_distinct(ids) and not (_joined_rows(kept_ids, ids) >= 0).any()

    with ThreadPoolExecutor(max_workers=2) as pool:
        checked = pool.submit(fresh)
        # The new items' own sources: among all the items, as they are once the new went in.
        found = pool.submit(_joined_rows, strings(kept_ids, ids), named,
                            np.concatenate([moved(pa.array(np.arange(items.num_rows, dtype=np.int64))), new_rows]))
        erasures = state.tables["erasures"]
        erased_rows = moved(erasures["item_row"], erasures["item_id"])
        # A new item's first erasure, among those that named it before it was there.
        never = np.iinfo(np.int64).max
        erased = np.full(n_new, never, dtype=np.int64)
        mine = (erased_rows >= n_old) & (erased_rows < n_old + n_new)
        np.minimum.at(erased, erased_rows[mine] - n_old, erasures["at"].to_numpy()[mine])
        grown = _items_with(state, items, content, n_old, pa.array(erased, mask=erased == never),
                            refs.result() if refs is not None else None)
        if not checked.result():
            return False
        sources = state.tables["sources"]
        source_rows = moved(sources["source_row"], sources["source"])
        item_rows = moved(sources["item_row"])
        found_rows = found.result()
    sources_of_new = build("sources", {
        "item_row": pa.array(n_old + pc.list_parent_indices(links).to_numpy(zero_copy_only=False).astype(np.int64)),
        "source": named, "source_row": pa.array(found_rows, mask=found_rows < 0), "pos": list_positions(links),
    })
    state.set("erasures", erasures.set_column(erasures.schema.get_field_index("item_row"), "item_row",
                                              pa.array(erased_rows, mask=erased_rows < 0)))
    state.set("sources", pa.concat_tables([
        pa.table({"item_row": pa.array(item_rows), "source": sources["source"],
                  "source_row": pa.array(source_rows, mask=source_rows < 0), "pos": sources["pos"]},
                 schema=sources.schema),
        sources_of_new.cast(sources.schema),
    ]))
    state.set("items", grown)
    return True


def _codes(column: pa.Array | pa.ChunkedArray) -> tuple[pa.Array, pa.Array]:
    """A string column's distinct values and each row's index among them (null for
    null). A dictionary column (a catalog's kinds) has its dictionaries looked up alone."""
    if not pa.types.is_dictionary(column.type):
        encoded = pc.dictionary_encode(whole(column))
        return encoded.dictionary, encoded.indices
    chunks = column.chunks if isinstance(column, pa.ChunkedArray) else [column]
    dictionaries = [chunk.dictionary.cast(pa.string()) for chunk in chunks]
    values = pc.unique(pa.concat_arrays(dictionaries)) if chunks else pa.array([], pa.string())
    return values, pa.concat_arrays([pc.index_in(dictionary, value_set=values).take(chunk.indices)
                                     for chunk, dictionary in zip(chunks, dictionaries, strict=True)]) \
        if chunks else pa.array([], pa.int32())


def _items_with(state: _Growing, items: pa.Table, content: pa.Table, n_old: int, erased: pa.Array,
                refs: dict[str, CatalogRefs] | None = None) -> pa.Table:
    """``items`` (in the compact form, see ``_refs``) with ``content``'s rows after its
    first ``n_old`` (their first erasures ``erased``), the kept rows not copied; their
    people, accounts and meetings found (or added), or taken from ``refs``."""
    columns: dict[str, pa.ChunkedArray] = {}
    for name, table in (("account", "accounts"), ("owner", "people"), ("meeting", "meetings")):
        rows = state.found(table, refs[name]) if refs is not None and name in refs else \
            _numbers(state.rows_of(table, content[name]))
        columns[f"{name}_ref"] = _inserted(items[f"{name}_ref"], pa.array(rows, mask=rows < 0), n_old)
        columns[name] = _over(columns[f"{name}_ref"], state.tables[table]["id"])
    kinds = items["kind"]
    values, codes = _codes(content["kind"])
    vocabulary = kinds.chunk(0).dictionary if kinds.num_chunks else pa.array([], pa.string())
    vocabulary = pa.concat_arrays([vocabulary, values.filter(pc.invert(pc.is_in(values, value_set=vocabulary)))])
    indices = pa.chunked_array([chunk.indices for chunk in kinds.chunks], kinds.type.index_type)
    if len(vocabulary) > 127:  # more kinds than narrow indices hold
        indices = indices.cast(pa.int32())
    new_indices = pc.index_in(values, value_set=vocabulary).take(codes)
    columns["kind"] = _over(_inserted(indices, new_indices, n_old), vocabulary)
    new_codes = pc.index_in(values, value_set=pa.array(DATA_KINDS)).take(codes)
    columns["kind_code"] = _inserted(items["kind_code"], new_codes, n_old)
    for name in ("item_id", "created", "uri", "sha256", "derived", "train_reserved"):
        columns[name] = _inserted(items[name], whole(content[name]), n_old)
    columns["erased"] = _inserted(items["erased"], erased, n_old)
    table = pa.table({name: columns[name] for name in items.column_names})
    # Where the new rows are most of them (a whole catalog), each column is made one
    # chunk now, once, rather than by each step that reads it whole (and by the file
    # that keeps it); a day's few rows leave the kept millions uncopied.
    return table.combine_chunks() if content.num_rows > items.num_rows else table
