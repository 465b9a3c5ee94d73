"""Content items as Arrow: from the store's rows, or from a Parquet content catalog.

A catalog is a Parquet file or a folder of Parquet files with the columns of a
``content`` event (CONTRACT.md §1):

==============  ==========================================================================
``id``          string, unique
``kind``        string, a customer-content kind
``account``     string
``owner``       string
``meeting``     string or null (optional column)
``created_at``  timestamp with a time zone (any unit; e.g. pandas' ``datetime64[ns, UTC]``)
``uri``         string or null (optional)
``sha256``      string or null (optional)
``derived_from`` list of strings (optional; null means none)
``signals``     string or null (optional): the ``signals`` object as JSON text
==============  ==========================================================================

Signals are parsed exactly as the policy core parses them, once per item while reading.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import TYPE_CHECKING, Any, NamedTuple

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.dataset as ds
import pyarrow.parquet as pq
from pydantic import ValidationError

from ..core.signals import training_reservation
from ..model import Signals
from ._tables import raw_schema, whole

if TYPE_CHECKING:
    from duckdb import DuckDBPyConnection

_STRS = pa.list_(pa.string())
REQUIRED = ("id", "kind", "account", "owner", "created_at")
OPTIONAL = ("meeting", "uri", "sha256", "derived_from", "signals")
# What the rules read; the rest is read only for the items a selection keeps.
# Read apart, joined to the people and meetings they name (``catalog_refs``).
APART = ("owner", "meeting")
RULE_COLUMNS = ("id", "kind", "account", "owner", "meeting", "created_at", "derived_from", "signals")
# Columns of a few distinct values, read as the dictionaries Parquet stores them in:
# millions of rows then need no hashing, only each row group's dictionary does.
FEW_VALUES = ("kind", "account")
FILE_COLUMNS = ("uri", "sha256")


def _reserved(item_ids: Any, signals: pa.Array) -> np.ndarray:
    """Whether each item's signals reserve AI training.

    Catalogs repeat a few signals texts over millions of items, so each distinct text is
    parsed once (in order of first appearance, so an invalid one names its first item).
    """
    encoded = pc.dictionary_encode(signals)
    reserving = np.zeros(len(encoded.dictionary), dtype=bool)
    for code, text in enumerate(encoded.dictionary.to_pylist()):
        try:
            parsed = Signals.model_validate_json(text)
        except ValidationError as exc:
            row = pc.index(encoded.indices, code).as_py()
            raise ValueError(f"item {item_ids[row]}: signals are not valid: "
                             f"{exc.errors()[0].get('msg', exc)}") from None
        reserving[code] = training_reservation(parsed) is not None
    flags: np.ndarray = pc.fill_null(pa.array(reserving).take(encoded.indices), False).to_numpy(zero_copy_only=False)
    return flags


def _unique_lists(lists: pa.Array) -> pa.ListArray:
    """Each list without repeats, first occurrence kept (as ``derived_from`` is read)."""
    filled = pc.fill_null(lists, pa.scalar([], _STRS)) if lists.null_count else lists
    filled = filled.cast(_STRS)
    flat = pc.list_flatten(filled)
    if len(flat) == 0:
        return filled
    # Only lists of two or more can repeat a source: the rest need not be hashed.
    lengths = pc.list_value_length(filled).to_numpy(zero_copy_only=False)
    several = np.repeat(lengths >= 2, lengths)
    if not several.any():
        return filled
    parents = pc.list_parent_indices(filled).filter(pa.array(several))
    pairs = pa.table({"p": parents, "s": flat.filter(pa.array(several))}).group_by(["p", "s"]).aggregate([])
    if pairs.num_rows == len(parents):
        return filled
    values = filled.to_pylist()
    return pa.array([list(dict.fromkeys(v)) for v in values], _STRS)


def content_items(rows: pa.Table) -> pa.Table:
    """Content rows read from the store as items plus ``seq`` and ``source_list`` (the
    de-duplicated ``derived_from``).

    ``rows`` has the content event's columns (times in microseconds, ``derived_from`` a
    list of strings, ``signals`` JSON text) and ``seq``.
    """
    names = ("id", "kind", "account", "owner", "meeting", "created_at", "uri", "sha256", "derived_from", "signals",
             "seq")
    return _table(*(whole(rows[name]) for name in names))


def _table(*columns: Any) -> pa.Table:
    ids, kinds, accounts, owners, meetings, created, uris, sha256s, derived_from, signals, seq = columns
    sources = _unique_lists(derived_from)
    lengths = pc.fill_null(pc.list_value_length(sources), 0)
    schema = raw_schema("items")
    for name, column in (("kind", kinds), ("account", accounts)):
        if pa.types.is_dictionary(column.type):  # as read from a catalog: kept a dictionary
            schema = schema.set(schema.get_field_index(name), pa.field(name, column.type))
    table = pa.table({
        "item_id": ids, "kind": kinds, "account": accounts, "owner": owners, "meeting": meetings,
        "created": created, "uri": uris, "sha256": sha256s,
        "derived": pc.greater(lengths, 0), "train_reserved": pa.array(_reserved(ids, signals)),
    }, schema=schema)
    return table.append_column("seq", seq).append_column("source_list", sources)


def is_text(kind: pa.DataType) -> bool:
    """Whether a column of this type holds text (plain, large, a dictionary of it, or
    nothing at all)."""
    if pa.types.is_dictionary(kind):
        kind = kind.value_type
    return bool(pa.types.is_string(kind) or pa.types.is_large_string(kind) or pa.types.is_null(kind))


def read_catalog(path: str | Path, files: Sequence[str] | None = None, people_apart: bool = False) -> pa.Table:
    """Read a content catalog (see the module docstring) as content items (of ``files``
    alone, some of its files, where given). ``people_apart`` leaves ``owner`` and
    ``meeting`` null (their types are still checked): the caller reads them apart, as
    :func:`catalog_refs` does.

    Only the columns the rules read are read: ``uri`` and ``sha256`` are left null here
    and read for the selected items alone (:func:`catalog_files`). Columns stay in the
    chunks Parquet gives, so no column is copied whole. That ids do not repeat is
    checked where they are first hashed, when items are merged (``_store``).

    Raises:
        ValueError: the path holds no Parquet data, a required column is missing, a
            column has the wrong type or a signals value is not valid.
    """
    try:
        dictionaries = ds.ParquetFileFormat(read_options=ds.ParquetReadOptions(dictionary_columns=FEW_VALUES))
        dataset = ds.dataset(list(files) if files is not None else str(path), format=dictionaries)
        if not dataset.files:
            raise ValueError(f"the catalog {path} holds no Parquet files")
        present = set(dataset.schema.names)
        missing = [name for name in REQUIRED if name not in present]
        if missing:
            raise ValueError(f"the catalog {path} lacks column(s) {', '.join(missing)}")
        apart = APART if people_apart else ()
        for name in apart:
            kind = dataset.schema.field(name).type if name in present else pa.string()
            if not is_text(kind):
                raise ValueError(f"catalog column {name} must be {pa.string()}, not {kind}")
        table = dataset.to_table(columns=[name for name in RULE_COLUMNS if name in present and name not in apart])
    except (OSError, pa.ArrowInvalid) as exc:
        raise ValueError(f"cannot read the catalog {path}: {exc}") from None
    n = table.num_rows

    def column(name: str, kind: pa.DataType) -> Any:
        if name not in table.column_names:
            return pa.chunked_array([pa.nulls(n, kind)], kind)
        values = table[name]
        if values.type == kind:
            return values
        if name in FEW_VALUES and values.type == pa.dictionary(pa.int32(), kind):
            return values
        try:
            return values.cast(kind)
        except (pa.ArrowInvalid, pa.ArrowNotImplementedError):
            raise ValueError(f"catalog column {name} must be {kind}, not {table.schema.field(name).type}") from None

    created = table["created_at"].type
    if not pa.types.is_timestamp(created) or created.tz is None:
        raise ValueError(f"catalog column created_at must be a timestamp with a time zone, not {created}")
    # Python datetimes (and so decide) stop at microseconds: finer parts are dropped.
    micros = pc.cast(table["created_at"], pa.timestamp("us", tz="UTC"), safe=False).cast(pa.int64())
    nulls = pa.chunked_array([pa.nulls(n, pa.string())], pa.string())
    return _table(
        column("id", pa.string()), column("kind", pa.string()), column("account", pa.string()),
        column("owner", pa.string()), column("meeting", pa.string()), micros, nulls, nulls,
        whole(column("derived_from", _STRS)), whole(column("signals", pa.string())),
        pa.array(np.arange(n, dtype=np.int64)),
    )


# Each id's 64-bit hash, worked out by DuckDB on every core: distinct hashes prove that
# no id repeats (a repeated id repeats its hash), checked on integers rather than strings.
_HASHES = "SELECT hash(id) AS hash FROM ids"


def all_distinct(ids: pa.ChunkedArray) -> bool:
    """Whether a column of ids has no null and no repeat.

    Millions of content ids, which repeat only in a faulty catalog: their hashes, sorted,
    show a repeat as two equal neighbours, faster than grouping the strings themselves,
    hashing them all into one dictionary or counting distinct hashes in a hash table
    (10,000,000 ids: 0.6 s against 0.9 s for the count, on two cores). Only where hashes repeat (a
    repeated id, or two ids of one hash) are the ids themselves grouped.
    """
    if ids.null_count:
        return False
    import duckdb

    with duckdb.connect(":memory:") as connection:
        connection.register("ids", pa.table({"id": ids}))
        hashes = connection.sql(_HASHES).to_arrow_table()["hash"].to_numpy()
        # Equal hashes share their top bit: each half is sorted on a core of its own.
        top = hashes >= np.uint64(1 << 63)
        with ThreadPoolExecutor(max_workers=2) as pool:
            halves = list(pool.map(np.sort, (hashes[~top], hashes[top])))
        if not any((half[1:] == half[:-1]).any() for half in halves):
            return True
        repeated = connection.execute("SELECT 1 FROM ids GROUP BY id HAVING count(*) > 1 LIMIT 1").fetchone()
    return repeated is None


# Each row's place in its file and its owner's and meeting's rows among ``people`` and
# ``meetings``; the ids of those not there (or null).
_REFS = """
    SELECT f.file_row_number::INTEGER AS pos, p.row::INTEGER AS owner_row, m.row::INTEGER AS meeting_row,
           CASE WHEN p.row IS NULL THEN {owner} END AS owner, CASE WHEN m.row IS NULL THEN {meeting} END AS meeting
    FROM read_parquet($file, file_row_number = true) f
    LEFT JOIN {people} p ON p.id = {owner} LEFT JOIN {meetings} m ON m.id = {meeting}"""


class CatalogRefs(NamedTuple):
    """A catalog's owners or meetings as rows of a table: each item's row (-1: none) and,
    in item order, the items (``missing``) whose id is not there, and those ids."""

    rows: np.ndarray
    missing: np.ndarray
    ids: pa.Array


def catalog_refs(files: Sequence[str], people: pa.Array | pa.ChunkedArray,
                 meetings: pa.Array | pa.ChunkedArray) -> dict[str, CatalogRefs]:
    """The owners and meetings of the catalog's ``files`` (their rows one after another)
    as rows of the ids ``people`` and ``meetings`` (each id's first row), by name.

    DuckDB reads the two columns and joins them to the ids as it reads, on every core:
    their millions of strings are never decoded into Arrow, nor hashed here.

    Raises:
        ValueError: a file cannot be read (or a column is not text).
    """
    import duckdb

    try:
        n = sum(pq.ParquetFile(file).metadata.num_rows for file in files)
    except (OSError, pa.ArrowException) as exc:
        raise ValueError(f"cannot read the catalog: {exc}") from None
    rows = {name: np.full(n, -1, dtype=np.int32) for name in APART}
    names: dict[str, list[pa.Array]] = {name: [] for name in APART}
    positions: dict[str, list[np.ndarray]] = {name: [] for name in APART}
    with duckdb.connect(":memory:") as connection:
        for name, ids in (("people", people), ("meetings", meetings)):
            connection.register(name, pa.table({"id": ids, "row": np.arange(len(ids), dtype=np.int64)}))
            connection.execute(f"CREATE VIEW first_{name} AS SELECT id, min(row) AS row FROM {name} GROUP BY id")
        start = 0
        for file in files:
            try:
                parquet = pq.ParquetFile(file)
                size, present = parquet.metadata.num_rows, set(parquet.schema_arrow.names)
                columns = {name: f"f.{name}" if name in present else "NULL::VARCHAR" for name in APART}
                found = connection.sql(_REFS.format(people="people", meetings="meetings", **columns),
                                       params={"file": file}).to_arrow_table()
                if found.num_rows != size:  # an id is more than one row's: each id's first row
                    found = connection.sql(_REFS.format(people="first_people", meetings="first_meetings", **columns),
                                           params={"file": file}).to_arrow_table()
            except (OSError, pa.ArrowException, duckdb.Error) as exc:
                raise _unreadable(file, exc) from None
            at = start + found["pos"].to_numpy().astype(np.int64)
            for name, column in (("owner", "owner_row"), ("meeting", "meeting_row")):
                rows[name][at] = pc.fill_null(found[column], -1).to_numpy()
                unknown = pc.is_valid(found[name])
                positions[name].append(pc.filter(pa.array(at), unknown).to_numpy())
                names[name].append(whole(pc.filter(found[name], unknown)))
            start += size
    refs = {}
    for name in APART:
        at = np.concatenate(positions[name]) if positions[name] else np.zeros(0, dtype=np.int64)
        order = np.argsort(at, kind="stable")
        ids = pa.concat_arrays(names[name]).take(pa.array(order)) if names[name] else pa.array([], pa.string())
        refs[name] = CatalogRefs(rows[name], at[order], ids.cast(pa.string()))
    return refs


def catalog_ids_among(path: str | Path, ids: Sequence[str]) -> set[str]:
    """Which of ``ids`` are the ids of items of the catalog at ``path`` (its ``id`` column
    alone is read, filtered as it is read).

    Raises:
        ValueError: the path holds no Parquet data or no ``id`` column of strings.
    """
    try:
        dataset = ds.dataset(str(path), format="parquet")
        if not dataset.files:
            raise ValueError(f"the catalog {path} holds no Parquet files")
        if "id" not in dataset.schema.names:
            raise ValueError(f"the catalog {path} lacks column(s) id")
        kind = dataset.schema.field("id").type
        if not (pa.types.is_string(kind) or pa.types.is_large_string(kind)):
            raise ValueError(f"catalog column id must be {pa.string()}, not {kind}")
        found = dataset.to_table(columns=["id"], filter=pc.field("id").isin(pa.array(sorted(ids), kind)))
    except (OSError, pa.ArrowInvalid) as exc:
        raise ValueError(f"cannot read the catalog {path}: {exc}") from None
    return set(found["id"].to_pylist())


def catalog_files(path: str | Path, rows: np.ndarray) -> pa.Table:
    """``uri`` and ``sha256`` of the catalog's rows ``rows`` (ascending), in that order.

    Only the rows asked for are decoded (see :func:`catalog_file_batches`).

    Raises:
        ValueError: as :func:`catalog_file_batches`.
    """
    parts = [files for _, files in catalog_file_batches(path, rows)]
    if parts:
        return pa.concat_tables(parts)
    return pa.table({name: pa.array([], pa.string()) for name in FILE_COLUMNS})


# A catalog's rows are numbered across its files in this order; ``read_catalog`` reads
# them so. The rows asked of one file are joined to its row numbers in DuckDB, a share at
# a time: it skips the row groups without any and decodes ``uri`` and ``sha256`` for those
# rows alone, on every core.
_FILE_ROWS = ("SELECT file_row_number AS row, {columns} FROM read_parquet($file, file_row_number = true) "
              "WHERE file_row_number IN (SELECT row FROM wanted)")
# Rows of a share: the caller writes one while the next is read.
SHARE_ROWS = 1 << 18


def catalog_file_batches(path: str | Path, rows: np.ndarray) -> Iterator[tuple[int, pa.Table]]:
    """:func:`catalog_files` a share at a time, one file of the catalog after another:
    how many of ``rows`` each share answers, and their ``uri`` and ``sha256`` (string
    columns, null where the file has no such column).

    Raises:
        ValueError: a file of the catalog cannot be read.
    """
    import duckdb

    start = 0
    for file in ds.dataset(str(path), format="parquet").files:
        try:
            meta = pq.read_metadata(file)
        except (OSError, pa.ArrowException) as exc:
            raise _unreadable(file, exc) from None
        end = start + meta.num_rows
        low, high = np.searchsorted(rows, [start, end])
        wanted = np.asarray(rows[low:high], dtype=np.int64) - start
        start = end
        if not len(wanted):
            continue
        names = [name for name in FILE_COLUMNS if name in meta.schema.to_arrow_schema().names]
        try:
            with duckdb.connect(":memory:") as connection:
                for share in range(0, len(wanted), SHARE_ROWS):
                    yield _file_rows(connection, file, wanted[share:share + SHARE_ROWS], names)
        except duckdb.Error as exc:
            raise _unreadable(file, exc) from None


def _unreadable(file: str, exc: Exception) -> ValueError:
    return ValueError(f"cannot read the catalog file {file}: {str(exc).splitlines()[0]}")


def _file_rows(connection: DuckDBPyConnection, file: str, wanted: np.ndarray, names: list[str]) -> tuple[int, pa.Table]:
    """The ``uri`` and ``sha256`` of one file's rows ``wanted`` (ascending), in that order;
    ``names`` are those of the two the file has (the others are null)."""
    connection.register("wanted", pa.table({"row": wanted}))
    columns = ", ".join(f'"{name}"' for name in names) if names else "NULL AS none"
    found = connection.sql(_FILE_ROWS.format(columns=columns), params={"file": file}).to_arrow_table()
    # The engine gives the rows in no set order: each goes to its place among ``wanted``.
    order = np.empty(len(wanted), dtype=np.int64)
    order[np.searchsorted(wanted, found["row"].to_numpy())] = np.arange(len(wanted))
    found = found.take(pa.array(order))
    return len(wanted), pa.table({name: found[name].cast(pa.string()) if name in names else
                                  pa.nulls(len(wanted), pa.string()) for name in FILE_COLUMNS})
