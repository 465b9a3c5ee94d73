"""What a read of a large store keeps for the next one: its event columns and whole states.

Event tables are append-only and every committed state holds exactly the events whose
``seq`` is at most its log head (see ``_columnar``). So the columns read at head H are,
for good, the store's events up to H: a later read takes them from the kept files and
asks the store only for the events logged after H. The files are Arrow IPC, memory-mapped
when read — no parsing, no copy: a store of ten million events is ready in milliseconds
instead of the seconds its rows take to come out of SQLite.

A kept copy is used only where the store's own log vouches for it: the copy names the
log entry it was read at and that entry's hash, and the store's entry at that ``seq``
must carry the same hash. The log is hash-chained, so the same hash there means the same
history up to it; a store that was replaced, restored from another history or started
again simply has its columns read afresh. A copy ahead of the reader's own view (kept
by a later read elsewhere) is not used either.

Layout of the folder (by default ``<file>.columns`` beside a SQLite store, see
:func:`kept_folder`)::

    at-<seq>/<event type>.arrow   one file per event type: seq and the fields kept
    at-<seq>/kept.json            {"seq", "hash", "fields": {type: [field, ...]}},
                                  written last: a folder without it is not a copy
    state-<key>/<table>.arrow     a whole state (:class:`KeptStates`): every state table
    state-<key>/<table>.<n>.arrow rows a later state added to a table (see below)
    state-<key>/<table>@<column>.arrow  a column kept apart from its table's rows
    state-<key>/kept.json         {"key", "base", "seq", "hash", "tables", "parts",
                                  "packed", "apart"}: "parts" lists the files of the
                                  tables kept in several, in order; "packed" names the
                                  columns a read makes again (see ``_packed``), by file;
                                  "apart", by table, its columns in order, those kept
                                  apart named
    .staging-*/, .reading-*/      being written: a copy or state, a SQLite reader's
                                  tables (linked into the copy, see ``_columnar``)

A whole state is kept under a key of the last event read (its ``seq`` and hash), the
catalog's files (path, size, last change) and the code that worked it out, and is
vouched for by the log in the same way. A read at a later event over the same catalog
and code starts from the newest such state (see ``_advance``).

A state brought forward from a kept one mostly adds rows to its large tables (a day's
participant lines, consents and items): where a table's rows begin with every row of the
earlier state's, its files are linked and only the rows after them are written, as a
file of their own (up to ``_MOST_PARTS`` files; then the table is written whole again).
Where the table's dictionary columns grew, the earlier files' indices are read against
the last file's dictionary, which begins with theirs. A column whose kept rows a later
state changes (a consent's rank, see ``_APART``) is kept in a file of its own, written
whole, so that the rest of its table still takes the new rows alone.

A new copy is written into a staging folder and renamed into place, then older copies
are removed; a reader that still maps one keeps its pages until it is done. Files are
never changed in place. Deleting the whole folder is always safe: the next read writes
it again.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import tempfile
import threading
import time
from collections.abc import Collection, Mapping
from concurrent.futures import Future, ThreadPoolExecutor, wait
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any

import orjson
import pyarrow as pa
import pyarrow.dataset as ds
from sqlalchemy import Connection, make_url, select

from ..store.schema import log
from ._tables import whole

_META = "kept.json"
_PREFIX = "at-"


def kept_folder(url: str) -> Path | None:
    """Where the event columns of the store at ``url`` are kept, or None for none.

    ``CONSENTGATE_COLUMNS`` names a folder that holds one folder per store (named by a
    hash of its URL without the password), or ``off`` to keep nothing; otherwise a SQLite
    file's columns are kept beside it (``<file>.columns``), and a server's are not kept.
    """
    chosen = os.environ.get("CONSENTGATE_COLUMNS")
    if chosen:
        if chosen.lower() == "off":
            return None
        parts = make_url(url)
        name = repr((parts.drivername, parts.username, parts.host, parts.port, parts.database))
        return Path(chosen) / hashlib.sha256(name.encode()).hexdigest()[:16]
    if not url.startswith("sqlite"):
        return None
    database = url.split(":///", 1)[1] if ":///" in url else ""
    if not database or database == ":memory:" or database.startswith("file:"):
        return None
    path = Path(database)
    return path.with_name(path.name + ".columns")


class Kept:
    """A folder of kept event columns (see the module docstring)."""

    def __init__(self, folder: Path) -> None:
        self.folder = folder

    def latest(self, connection: Connection, reads: Mapping[str, tuple[str, ...]],
               head: int) -> tuple[int, Path] | None:
        """The newest copy that holds every field of ``reads`` and that the store's log
        vouches for at or before ``head``: its ``seq`` and folder."""
        for seq, path in self._copies():
            if seq > head:
                continue
            found = connection.execute(select(log.c.hash).where(log.c.seq == seq)).scalar()
            if found is None or found != _meta(path).get("hash"):
                shutil.rmtree(path, ignore_errors=True)  # of another history: never of use here
                continue
            if _holds(path, reads):
                return seq, path
        return None

    def _copies(self) -> list[tuple[int, Path]]:
        """Every copy's (seq, folder), newest first."""
        copies = []
        try:
            entries = list(self.folder.iterdir())
        except OSError:
            return []
        for entry in entries:
            if entry.name.startswith(_PREFIX) and entry.name[len(_PREFIX):].isdigit():
                copies.append((int(entry.name[len(_PREFIX):]), entry))
        return sorted(copies, reverse=True)

    def writer(self) -> KeptWriter | None:
        """A new copy being written (None when the folder cannot be written).

        Staging folders a read left behind a day or more ago (it was killed) go first.
        """
        try:
            self.folder.mkdir(parents=True, exist_ok=True)
            for stale in [*self.folder.glob(".staging-*"), *self.folder.glob(".reading-*")]:
                if time.time() - stale.stat().st_mtime > 86_400:
                    shutil.rmtree(stale, ignore_errors=True)
            return KeptWriter(self, Path(tempfile.mkdtemp(prefix=".staging-", dir=self.folder)))
        except OSError:
            return None


def read_kept(path: Path, type_: str, fields: tuple[str, ...]) -> pa.Table:
    """``seq`` and ``fields`` of one event type from a kept copy, memory-mapped."""
    with pa.memory_map(str(path / f"{type_}.arrow")) as source:
        table = pa.ipc.open_file(source).read_all()
    return table.select(["seq", *fields])


class KeptWriter:
    """Event tables written one at a time into a staging folder, then made the newest
    copy by :meth:`commit` (or dropped by :meth:`discard`).

    Each table is written on a thread of its own while the reader goes on: keeping a
    copy then costs the read little more than the copy's files. A table that cannot be
    written leaves no copy at all; the read itself goes on unharmed."""

    def __init__(self, kept: Kept, staging: Path) -> None:
        self.kept, self.staging = kept, staging
        self.fields: dict[str, list[str]] = {}
        self._pool = ThreadPoolExecutor(max_workers=1)
        self._writes: list[Future[None]] = []

    def add(self, type_: str, table: pa.Table, file: Path | None = None) -> None:
        """Keep ``table`` of ``type_``: ``file``, where given, is an Arrow file that
        holds exactly that table, linked rather than written again where it can be."""
        self.fields[type_] = [name for name in table.column_names if name != "seq"]
        self._writes.append(self._pool.submit(self._write, type_, table, file))

    def _write(self, type_: str, table: pa.Table, file: Path | None = None) -> None:
        if file is not None:
            try:
                os.link(file, self.staging / f"{type_}.arrow")
                return
            except OSError:
                pass  # another file system, say: written below
        with pa.OSFile(str(self.staging / f"{type_}.arrow"), "wb") as sink, \
                pa.ipc.new_file(sink, table.schema) as writer:
            writer.write_table(table)

    def _written(self) -> bool:
        """Wait for the tables added so far to be written; whether all were."""
        done = True
        for write in self._writes:
            try:
                write.result()
            except (OSError, pa.ArrowException):
                done = False
        self._writes.clear()
        self._pool.shutdown(wait=True)
        return done

    def commit(self, seq: int, hash_: str) -> None:
        """Make the staged tables the copy at ``seq``; older copies are removed."""
        if not self._written():
            self.discard()
            return
        meta = {"seq": seq, "hash": hash_, "fields": self.fields}
        (self.staging / _META).write_bytes(orjson.dumps(meta))
        target = self.kept.folder / f"{_PREFIX}{seq}"
        try:
            self.staging.rename(target)
        except OSError:  # a copy at the same seq exists: kept if it is as good
            if _meta(target).get("hash") == hash_ and _holds(target, self.fields):
                self.discard()
                return
            shutil.rmtree(target, ignore_errors=True)
            try:
                self.staging.rename(target)
            except OSError:
                self.discard()
                return
        for other_seq, path in self.kept._copies():
            if other_seq < seq:
                shutil.rmtree(path, ignore_errors=True)

    def discard(self) -> None:
        self._written()
        shutil.rmtree(self.staging, ignore_errors=True)


def _meta(path: Path) -> dict[str, Any]:
    """A copy's ``kept.json`` (empty when it has none: not a copy)."""
    try:
        meta = orjson.loads((path / _META).read_bytes())
    except (OSError, orjson.JSONDecodeError):
        return {}
    return meta if isinstance(meta, dict) else {}


def _holds(path: Path, fields: Mapping[str, Any]) -> bool:
    """Whether the copy in ``path`` keeps every field of ``fields``."""
    kept = _meta(path).get("fields", {})
    return all(type_ in kept and set(wanted) <= set(kept[type_]) for type_, wanted in fields.items())


# The modules whose code turns events and a catalog into state tables: a kept state is
# used only by the same code that made it.
_STATE_CODE = (
    "_store.py", "_raw.py", "_advance.py", "_refs.py", "_catalog.py", "_tables.py", "_columnar.py", "_kept.py",
)
# The states kept: the most recently used few, and besides them the most recently used
# of each other source (a catalog, or the store's own content), up to a few more.
_STATES_KEPT = 2
_SOURCES_KEPT = 4
# Files a kept table may take, its first and those of rows added after it by later states.
_MOST_PARTS = 8
# Columns whose kept rows a later state changes while it only adds rows to the rest: a
# consent's rank (``seq``) moves up by the new consents of an earlier time. They are
# kept in a file of their own, written whole each time (a few bytes per row), so the
# rest of the table takes the new rows alone.
_APART = {"consents": ("seq",)}


@cache
def _code_digest() -> str:
    digest = hashlib.sha256()
    for name in _STATE_CODE:
        digest.update((Path(__file__).with_name(name)).read_bytes())
    return digest.hexdigest()


def _catalog_files(catalog: str | Path) -> list[tuple[str, int, int]]:
    """Each file of a catalog: its path, size and time of last change (ns)."""
    files = []
    for name in sorted(ds.dataset(str(catalog), format="parquet").files):
        info = os.stat(name)
        files.append((str(Path(name).resolve()), info.st_size, info.st_mtime_ns))
    return files


@dataclass(frozen=True)
class StateBase:
    """What a kept state stands for besides the events: the catalog's files as they were
    (path, size, time of last change; None: no catalog) and the code that made it."""

    catalog: tuple[tuple[str, int, int], ...] | None
    code: str

    def digest(self) -> str:
        return hashlib.sha256(orjson.dumps({"catalog": self.catalog, "code": self.code})).hexdigest()

    def about(self) -> dict[str, Any]:
        """What ``kept.json`` records of it."""
        return {"base": self.digest(), "catalog": self.catalog, "code": self.code}

    def grows(self, meta: Mapping[str, Any]) -> bool:
        """Whether a state kept with ``meta`` was made by the same code over the same
        catalog or a first part of its files (the rest added since, after them), or, for
        a catalog, over the store alone when the store held no content."""
        if meta.get("code") != self.code:
            return False
        kept = meta.get("catalog")
        if self.catalog is None:
            return kept is None
        if kept is None:
            # A state of the store alone that holds no content: a catalog's items are
            # added to it as a new file's are.
            return meta.get("content") is False
        kept = tuple(tuple(entry) for entry in kept)
        return 0 < len(kept) <= len(self.catalog) and self.catalog[:len(kept)] == kept


def state_base(catalog: str | Path | None) -> StateBase:
    """The base of a state read now over ``catalog`` (see :class:`StateBase`)."""
    return StateBase(tuple(_catalog_files(catalog)) if catalog is not None else None, _code_digest())


def state_key(base: StateBase, seq: int, hash_: str) -> str:
    """The key of the state made with ``base`` as of log entry ``seq`` (and its hash)."""
    return hashlib.sha256(orjson.dumps({"base": base.digest(), "seq": seq, "hash": hash_})).hexdigest()


@dataclass(frozen=True)
class EarlierState:
    """A kept state to bring forward: as of log entry ``seq``, over the first
    ``catalog_files`` of the catalog's files (0: no catalog), kept in ``path``."""

    seq: int
    tables: dict[str, pa.Table]
    path: Path
    catalog_files: int


# Whole states written on a thread of their own while the reader goes on (see
# ``KeptStates.keep``), by the folder they go into. The thread is not a daemon: a process
# that ends first still finishes them.
_PENDING: dict[Path, list[Future[None]]] = {}
_PENDING_LOCK = threading.Lock()
_LATER: list[ThreadPoolExecutor] = []


def _later() -> ThreadPoolExecutor:
    with _PENDING_LOCK:
        if not _LATER:
            _LATER.append(ThreadPoolExecutor(max_workers=1, thread_name_prefix="consentgate-keep"))
        return _LATER[0]


def kept_written(folder: Path | None = None) -> None:
    """Wait until the whole states being kept in the background (into ``folder``, or
    anywhere) are written, or given up (a state that cannot be written is not kept)."""
    with _PENDING_LOCK:
        pending = [future for path, futures in _PENDING.items() if folder is None or path == folder
                   for future in futures]
    wait(pending)
    with _PENDING_LOCK:
        for path in list(_PENDING):
            _PENDING[path] = [future for future in _PENDING[path] if not future.done()]
            if not _PENDING[path]:
                del _PENDING[path]


class KeptStates:
    """Whole states (every state table) kept by :func:`state_key`, the newest few.

    A build of another dataset, or at another time, over the same store and catalog
    reads the state the previous build worked out instead of working it out again.
    """

    def __init__(self, folder: Path) -> None:
        self.folder = folder

    def read(self, key: str) -> dict[str, pa.Table] | None:
        """The tables kept under ``key`` (memory-mapped), or None."""
        kept_written(self.folder)
        path = self.folder / f"state-{key[:32]}"
        if _meta(path).get("key") != key:
            return None
        return self._tables(path)

    def earlier(self, connection: Connection, base: StateBase, seq: int) -> EarlierState | None:
        """The newest state kept before the state at ``seq`` over ``base`` that the
        store's log vouches for: as of an earlier event, or over fewer of the catalog's
        files (see :meth:`StateBase.grows`), or both. For a catalog, a state over some of
        its files comes before a newer state of the store alone: bringing it forward
        over the events since adds rows, where the store's state takes every item."""
        kept_written(self.folder)
        found = []
        files = len(base.catalog or ())
        for path in self.folder.glob("state-*"):
            meta = _meta(path)
            kept_seq, kept_files = meta.get("seq"), len(meta.get("catalog") or ())
            if isinstance(kept_seq, int) and (kept_seq, kept_files) < (seq, files) and kept_seq <= seq \
                    and base.grows(meta):
                found.append((kept_seq, kept_files, meta.get("hash"), path))
        for kept_seq, kept_files, hash_, path in sorted(found, key=lambda f: (f[1] > 0, f[0], f[1]), reverse=True):
            if connection.execute(select(log.c.hash).where(log.c.seq == kept_seq)).scalar() == hash_:
                tables = self._tables(path)
                return EarlierState(kept_seq, tables, path, kept_files) if tables is not None else None
        return None

    def _tables(self, path: Path) -> dict[str, pa.Table] | None:
        tables = {}
        try:
            meta = _meta(path)
            packing = meta.get("packed", {})
            for name in meta["tables"]:
                pieces = []
                for part in _files(meta, name):
                    with pa.memory_map(str(path / f"{part}.arrow")) as source:
                        pieces.append(_unpacked(pa.ipc.open_file(source).read_all(), packing.get(part)))
                tables[name] = _with_apart(path, _joined(pieces), meta.get("apart", {}).get(name), packing)
            os.utime(path)  # the most recently used are the ones kept
        except (OSError, pa.ArrowException):
            return None
        return tables

    def keep(self, key: str, tables: Mapping[str, pa.Table], about: Mapping[str, Any] | None = None,
             later: bool = False, earlier: EarlierState | None = None, unchanged: Collection[str] = ()) -> None:
        """Keep ``tables`` under ``key`` (``about`` is recorded beside it: ``base``,
        ``seq``, ``hash``); only the most recently used states stay.

        ``earlier`` is the state these were brought forward from: the files of its tables
        named in ``unchanged`` are linked rather than written again, and so are those of
        a table whose rows these tables' begin with, the rows after them written alone.

        ``later`` writes them on a thread while the caller goes on (a gigabyte or so of
        files at ten million items, about a second); :func:`kept_written` waits for
        them, as reading a kept state does."""
        if later:
            future = _later().submit(self._keep, key, dict(tables), about, earlier, unchanged)
            with _PENDING_LOCK:
                _PENDING.setdefault(self.folder, []).append(future)
            return
        kept_written(self.folder)
        self._keep(key, tables, about, earlier, unchanged)

    def _keep(self, key: str, tables: Mapping[str, pa.Table], about: Mapping[str, Any] | None,
              earlier: EarlierState | None, unchanged: Collection[str]) -> None:
        try:
            self.folder.mkdir(parents=True, exist_ok=True)
            staging = Path(tempfile.mkdtemp(prefix=".staging-", dir=self.folder))
        except OSError:
            return
        try:
            before = _meta(earlier.path) if earlier is not None else {}
            packing: dict[str, dict[str, Any]] = {}
            parts: dict[str, list[str]] = {}
            apart: dict[str, dict[str, Any]] = {}
            for name, table in tables.items():
                columns = [column for column in _APART.get(name, ()) if column in table.column_names]
                body = table.drop_columns(columns)  # the rows, without the columns kept apart
                files: list[str] = []
                if earlier is not None and name in earlier.tables and (name in unchanged or (
                        len(_files(before, name)) < _MOST_PARTS
                        and _begins_with(body, earlier.tables[name].drop_columns(columns)))) \
                        and _linked(earlier.path, before, staging, _files(before, name), packing):
                    files = _files(before, name)
                rows = earlier.tables[name].num_rows if earlier is not None and files else 0  # in the linked files
                if rows < body.num_rows or not files:
                    file = f"{name}.{len(files)}" if files else name
                    _write(staging / f"{file}.arrow", body.slice(rows), file, packing)
                    files.append(file)
                if files != [name]:
                    parts[name] = files
                if columns:
                    apart[name] = {"names": table.column_names, "files": {}}
                    for column in columns:
                        file = apart[name]["files"][column] = f"{name}@{column}"
                        if not (earlier is not None and name in unchanged and file in _apart_files(before, name)
                                and _linked(earlier.path, before, staging, [file], packing)):
                            _write(staging / f"{file}.arrow", table.select([column]), file, packing)
            (staging / _META).write_bytes(orjson.dumps({**(about or {}), "key": key, "tables": list(tables),
                                                        "parts": parts, "packed": packing, "apart": apart}))
            target = self.folder / f"state-{key[:32]}"
            shutil.rmtree(target, ignore_errors=True)
            staging.rename(target)
        except (OSError, pa.ArrowException):
            shutil.rmtree(staging, ignore_errors=True)
            return
        for old in _evicted(sorted(self.folder.glob("state-*"), key=lambda path: path.stat().st_mtime,
                                   reverse=True)):
            shutil.rmtree(old, ignore_errors=True)


def _evicted(states: list[Path]) -> list[Path]:
    """The ``states`` (the most recently used first) that are not kept: those of other
    code, which this code never uses; after the ``_STATES_KEPT`` most recently used,
    each but the most recently used of a source no state kept is over; and any beyond
    ``_SOURCES_KEPT`` in all.

    So builds that go back and forth between catalogs (or a catalog and the store's own
    content) each find their own state, brought forward as events are logged."""
    kept: list[Path] = []
    sources: set[str | None] = set()
    evicted = []
    for path in states:
        meta = _meta(path)
        catalog = meta.get("catalog")
        source = str(catalog[0][0]) if catalog else None  # a catalog grows by files after its first
        if meta.get("code") == _code_digest() and (
                len(kept) < _STATES_KEPT or (source not in sources and len(kept) < _SOURCES_KEPT)):
            kept.append(path)
            sources.add(source)
        else:
            evicted.append(path)
    return evicted


def _linked(source: Path, meta: Mapping[str, Any], staging: Path, files: list[str],
            packing: dict[str, dict[str, Any]]) -> bool:
    """Link ``files`` of the state kept in ``source`` (whose ``kept.json`` is ``meta``)
    into ``staging``, their packing recorded in ``packing``; whether all were linked
    (else none is, and what they hold is written instead)."""
    try:
        for file in files:
            os.link(source / f"{file}.arrow", staging / f"{file}.arrow")
    except OSError:
        for file in files:
            (staging / f"{file}.arrow").unlink(missing_ok=True)
        return False
    for file in files:
        how = meta.get("packed", {}).get(file)
        if how:
            packing[file] = how
    return True


def _files(meta: Mapping[str, Any], name: str) -> list[str]:
    """The files (by name, without ``.arrow``) of table ``name`` of the state whose
    ``kept.json`` is ``meta``, in order."""
    return list(meta.get("parts", {}).get(name, [name]))


def _apart_files(meta: Mapping[str, Any], name: str) -> list[str]:
    """The files of the columns of table ``name`` kept apart in the state whose
    ``kept.json`` is ``meta``."""
    return list(meta.get("apart", {}).get(name, {}).get("files", {}).values())


def _with_apart(path: Path, table: pa.Table, apart: Mapping[str, Any] | None,
                packing: Mapping[str, Any]) -> pa.Table:
    """``table`` with its columns kept apart (as ``kept.json`` lists them under "apart")
    read from their files of the state at ``path`` (packed as ``packing`` says), in the
    table's order."""
    if not apart:
        return table
    columns = {field.name: (field, table.column(field.name)) for field in table.schema}
    for column, file in apart["files"].items():
        with pa.memory_map(str(path / f"{file}.arrow")) as source:
            kept = _unpacked(pa.ipc.open_file(source).read_all(), packing.get(file))
        if kept.num_rows != table.num_rows:
            raise pa.ArrowInvalid(f"{file}: {kept.num_rows} rows where its table has {table.num_rows}")
        columns[column] = (kept.schema.field(column), kept.column(column))
    names = apart["names"]
    return pa.Table.from_arrays([columns[name][1] for name in names],
                                schema=pa.schema([columns[name][0] for name in names],
                                                 metadata=table.schema.metadata))


def _write(path: Path, table: pa.Table, file: str, packing: dict[str, dict[str, Any]]) -> None:
    """Write ``table`` to the Arrow file ``path`` as it is kept (see ``_packed``), its
    packing recorded in ``packing`` under ``file``."""
    table, how = _packed(_one_dictionary_each(table))
    if how:
        packing[file] = how
    with pa.OSFile(str(path), "wb") as sink, pa.ipc.new_file(sink, table.schema) as writer:
        writer.write_table(table)


def _begins_with(table: pa.Table, earlier: pa.Table) -> bool:
    """Whether ``table``'s first rows are ``earlier``'s, column by column, with at least
    one row more, where a dictionary column's dictionary begins with the earlier one's
    (its earlier indices then still mean the same values)."""
    n = earlier.num_rows
    if not 0 < n < table.num_rows or table.schema != earlier.schema:
        return False
    for index, field in enumerate(table.schema):
        column, before = table.column(index).slice(0, n), earlier.column(index)
        if pa.types.is_dictionary(field.type):
            values, earlier_values = _dictionary(table.column(index)), _dictionary(before)
            if values is None or earlier_values is None \
                    or not values.slice(0, len(earlier_values)).equals(earlier_values):
                return False
            column, before = _indices(column), _indices(before)
        if not column.equals(before):
            return False
    return True


def _dictionary(column: pa.ChunkedArray) -> pa.Array | None:
    """A dictionary column's dictionary, where every chunk has the same one (else None)."""
    if not column.num_chunks:
        return pa.array([], column.type.value_type)
    first = column.chunk(0).dictionary
    for chunk in column.chunks[1:]:
        if not chunk.dictionary.equals(first):
            return None
    return first


def _indices(column: pa.ChunkedArray) -> pa.ChunkedArray:
    return pa.chunked_array([chunk.indices for chunk in column.chunks], column.type.index_type)


def _joined(pieces: list[pa.Table]) -> pa.Table:
    """A kept table from its files' tables, in order: each dictionary column's indices read
    against the last file's dictionary, which begins with the others' (see
    ``_begins_with``)."""
    if len(pieces) == 1:
        return pieces[0]
    last = pieces[-1]
    columns = []
    for index, field in enumerate(last.schema):
        chunks = [chunk for piece in pieces for chunk in piece.column(index).chunks]
        if pa.types.is_dictionary(field.type) and last.column(index).num_chunks:
            dictionary = last.column(index).chunk(0).dictionary  # one chunk: a file holds one dictionary
            chunks = [pa.DictionaryArray.from_arrays(chunk.indices, dictionary) for chunk in chunks]
        columns.append(pa.chunked_array(chunks, field.type))
    return pa.Table.from_arrays(columns, schema=last.schema)


def _packed(table: pa.Table) -> tuple[pa.Table, dict[str, Any] | None]:
    """``table`` without the columns a read makes again from the rest (see
    :func:`_unpacked`), and how to make them; None where every column is written.

    Those are a reference column ``X_ref`` that holds exactly the indices of the
    dictionary column ``X`` beside it (the compact items and participant lines carry
    both, one buffer in memory but two in a file), and a string column with no value
    at all (the files of a catalog's items, read only for the items selected). At ten
    million items that is about a fifth of a state's bytes not written, and not read.
    """
    refs, nulls = {}, []
    for field in table.schema:
        name, referred = field.name, field.name.removesuffix("_ref")
        if referred != name and referred in table.column_names:
            source = table.column(referred)
            if pa.types.is_dictionary(source.type) and source.num_chunks == 1 \
                    and field == pa.field(name, source.type.index_type) \
                    and source.chunk(0).indices.equals(whole(table.column(name))):
                refs[name] = referred
        elif field == pa.field(name, pa.string()) and 0 < table.num_rows == table.column(name).null_count:
            nulls.append(name)
    if not refs and not nulls:
        return table, None
    return table.drop_columns([*refs, *nulls]), {"names": table.column_names, "refs": refs, "nulls": nulls}


def _unpacked(table: pa.Table, how: Mapping[str, Any] | None) -> pa.Table:
    """A table as :func:`_packed` had it, from what it wrote and ``how``."""
    if not how:
        return table
    columns = {field.name: (field, table.column(field.name)) for field in table.schema}
    for name, source in how["refs"].items():
        values = columns[source][1]
        index_type = values.type.index_type
        columns[name] = (pa.field(name, index_type),
                         pa.chunked_array([chunk.indices for chunk in values.chunks], index_type))
    for name in how["nulls"]:
        columns[name] = (pa.field(name, pa.string()), pa.chunked_array([pa.nulls(table.num_rows, pa.string())]))
    schema = pa.schema([columns[name][0] for name in how["names"]], metadata=table.schema.metadata)
    return pa.Table.from_arrays([columns[name][1] for name in how["names"]], schema=schema)


def _one_dictionary_each(table: pa.Table) -> pa.Table:
    """``table`` with each dictionary column in one chunk (an Arrow file holds one
    dictionary per column)."""
    for index, field in enumerate(table.schema):
        if pa.types.is_dictionary(field.type) and table.column(index).num_chunks > 1:
            table = table.set_column(index, field, pa.chunked_array([whole(table.column(index))]))
    return table
