"""Event tables read as Arrow columns: through ADBC, or row by row through the driver.

ADBC (Arrow Database Connectivity) hands a query's result over as Arrow arrays built in
C — SQLite's own driver, PostgreSQL's binary COPY — so no row ever becomes a Python
tuple. It needs a connection of its own, beside the caller's SQLAlchemy one, and so a
snapshot of its own. (On SQLite that connection lives in a short-lived process, see
``_sqlite_reader``; it also reads ahead on the second core.) What makes the two agree
is that event tables are append-only and written one transaction at a time, in log
order: every committed state of the store holds exactly the events whose ``seq`` is at
most its log head. So the log head is read on the caller's connection (inside its
transaction), or given by the caller who read it there, and the ADBC reads keep only
the rows with ``seq`` at or below it: whatever was committed since is dropped, and what
is left is exactly the caller's state. The ADBC connection also reads in one
transaction (``REPEATABLE READ`` on PostgreSQL), so its tables agree among themselves.

Stores ADBC cannot open (an in-memory SQLite database, another backend) are read row by
row through the caller's own connection, into the same Arrow tables.
"""

from __future__ import annotations

import json
import subprocess
import sys
import tempfile
import threading
from collections.abc import Callable, Iterator, Mapping
from contextlib import ExitStack, contextmanager
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
from sqlalchemy import Connection, func, select

from ..errors import StoreError
from ..store import COLUMNAR_FROM
from ..store.schema import EVENT_SPECS, Kind, log
from ._kept import Kept, KeptWriter, read_kept
from ._tables import whole


class Reader:
    """``read(type_)``: ``seq`` and the fields asked for of one event table, in log order.

    Safe to call from several threads (one table is fetched at a time). ``ahead`` is true
    when the tables come from a connection of their own, which reads the next ones while
    the caller works: a table asked for early on another thread is then ready sooner.
    """

    def __init__(self, fetch: Callable[[str], pa.Table], head: int, ahead: bool,
                 keep: KeptWriter | None = None, file: Callable[[str], Path | None] | None = None) -> None:
        self._fetch, self._head, self.ahead, self._keep = fetch, head, ahead, keep
        self._file = file
        self._lock = threading.Lock()

    def __call__(self, type_: str) -> pa.Table:
        with self._lock:
            fetched = self._fetch(type_)
            table = _as_of(fetched, self._head)
            if self._keep is not None:
                # A file that holds exactly this table is linked into the copy, not written.
                same = self._file(type_) if self._file is not None and table is fetched else None
                self._keep.add(type_, table, same)
        return table


_ARROW = {Kind.STR: pa.string(), Kind.INT: pa.int64(), Kind.BOOL: pa.bool_(), Kind.TIME: pa.int64(),
          Kind.JSON: pa.string()}
_CHUNK = 50_000
_READING = ".reading-"


def arrow_schema(type_: str, fields: tuple[str, ...]) -> pa.Schema:
    """The Arrow schema of ``seq`` and ``fields`` of one event type (times as int64 µs)."""
    kinds = dict(EVENT_SPECS[type_].fields)
    return pa.schema([("seq", pa.int64()), *((name, _ARROW[kinds[name]]) for name in fields)])


def _statement(connection: Connection, type_: str, fields: tuple[str, ...], after: int = 0,
               until: int | None = None) -> str:
    """The query of ``seq`` and ``fields`` of one event table (events after log entry
    ``after``, up to ``until`` where given)."""
    table = EVENT_SPECS[type_].table
    query = select(table.c.seq, *(table.c[name] for name in fields))
    if after:
        query = query.where(table.c.seq > after)
    if until is not None:
        query = query.where(table.c.seq <= until)
    return str(query.compile(dialect=connection.dialect, compile_kwargs={"literal_binds": True}))


def _typed(result: pa.Table, schema: pa.Schema) -> pa.Table:
    """A driver's result with the event type's column names and types (a column that
    has its type already is used as it is)."""
    columns = [whole(column) for column in result.columns]
    return pa.Table.from_arrays([column if column.type == field.type else column.cast(field.type)
                                 for column, field in zip(columns, schema)], schema=schema)


def _as_of(table: pa.Table, head: int) -> pa.Table:
    """The rows up to log entry ``head``, in log order."""
    seq = table["seq"].to_numpy()
    if len(seq) and seq.max() > head:
        table = table.filter(pc.less_equal(table["seq"], head))
        seq = table["seq"].to_numpy()
    if len(seq) > 1 and not np.all(seq[1:] > seq[:-1]):
        table = table.take(pa.array(np.argsort(seq, kind="stable")))
    return table


def _read_rows(connection: Connection, type_: str, fields: tuple[str, ...], after: int = 0) -> pa.Table:
    """One event table (its events after log entry ``after``) fetched row by row on the
    connection's own driver cursor."""
    schema = arrow_schema(type_, fields)
    cursor = connection.connection.cursor()
    try:
        cursor.execute(_statement(connection, type_, fields, after))
        columns: list[list[Any]] = [[] for _ in schema]
        while rows := cursor.fetchmany(_CHUNK):
            for column, values in zip(columns, zip(*rows)):
                column.extend(values)
    finally:
        cursor.close()
    arrays = [pa.array([None if v is None else bool(v) for v in values] if field.type == pa.bool_() else values,
                       field.type) for values, field in zip(columns, schema)]
    return pa.Table.from_arrays(arrays, schema=schema)


def _postgresql(connection: Connection, stack: ExitStack) -> Callable[[str], pa.Table]:
    """Queries on an ADBC connection of their own, all in one REPEATABLE READ transaction."""
    import adbc_driver_manager
    import adbc_driver_postgresql

    uri = connection.engine.url.set(drivername="postgresql").render_as_string(hide_password=False)
    database = adbc_driver_postgresql.connect(uri)
    stack.callback(database.close)
    adbc = adbc_driver_manager.AdbcConnection(database)
    stack.callback(adbc.close)  # closing ends the transaction: it only read

    def query(sql: str) -> pa.Table:
        statement = adbc_driver_manager.AdbcStatement(adbc)
        try:
            statement.set_sql_query(sql)
            stream, _ = statement.execute_query()
            return pa.RecordBatchReader._import_from_c(stream.address).read_all()
        finally:
            statement.close()

    query("BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY")
    return query


def _sqlite(database: str, queries: list[str], schemas: list[pa.Schema], stack: ExitStack,
            near: Path | None = None) -> tuple[Callable[[int], pa.Table], Callable[[int], Path]]:
    """The queries' results in ``schemas``, read by ``_sqlite_reader`` in a process of its
    own, and the Arrow file each is read from (in a folder inside ``near`` where given,
    so that a kept copy can link the files rather than write them again)."""
    folder = Path(stack.enter_context(tempfile.TemporaryDirectory(prefix=_READING, dir=near)))
    child = subprocess.Popen(
        [sys.executable, str(Path(__file__).with_name("_sqlite_reader.py"))],
        stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )
    stack.enter_context(child)  # closes its pipes and waits for it
    stack.callback(child.kill)  # first: a no-op once it has finished
    assert child.stdin is not None and child.stdout is not None and child.stderr is not None
    child.stdin.write(json.dumps({"database": database, "folder": str(folder), "queries": queries,
                                  "schemas": [schema.serialize().to_pybytes().hex() for schema in schemas]}))
    child.stdin.close()
    done = -1

    def result(number: int) -> pa.Table:
        nonlocal done
        while done < number:
            line = child.stdout.readline() if child.stdout else ""
            if not line:
                message = (child.stderr.read().strip().splitlines() or ["it stopped"])[-1] if child.stderr else ""
                raise StoreError(f"cannot read the store {database}: {message}")
            done = int(line)
        with pa.memory_map(str(file(number))) as source:
            return pa.ipc.open_file(source).read_all()

    def file(number: int) -> Path:
        return folder / f"{number}.arrow"

    return result, file


def _sqlite_file(connection: Connection) -> str | None:
    database = connection.engine.url.database
    if not database or database == ":memory:" or database.startswith("file:") or not Path(database).exists():
        return None
    return str(Path(database).resolve())


@contextmanager
def event_reader(
    connection: Connection, reads: Mapping[str, tuple[str, ...]], columnar: bool | None = None,
    head: int | None = None, keep: Path | None = None, leave: bool = True,
) -> Iterator[Reader]:
    """A reader of the event tables ``reads`` names, as of one log entry.

    Args:
        connection: an open SQLAlchemy connection inside a transaction.
        reads: the fields to read of each event type the reader will be asked for (a
            SQLite store's are read ahead, in this order, while the first are used).
        columnar: True reads through ADBC where the store allows it; False reads every
            table row by row through ``connection`` itself; None (the default) chooses
            ADBC for stores of at least ``COLUMNAR_FROM`` log entries.
        head: the log entry to read the state at; by default the log head the
            connection's transaction sees now (on PostgreSQL's READ COMMITTED, a later
            statement may see a later head: pass the one read before to pin it).
        keep: a folder where the columns are kept between reads (see ``_kept``): where
            it holds a copy the log vouches for, only the events logged since are read
            from the store; a columnar read of ``COLUMNAR_FROM`` or more new events
            leaves a new copy there once every table of ``reads`` was read. Row-by-row
            reads (``columnar`` False) neither use nor leave one.
        leave: False never leaves a new copy (a read of a few event types, whose copy
            would stand in for the wider one kept).

    Raises:
        StoreError: the store could not be read.
    """
    if head is None:
        head = connection.execute(select(func.coalesce(func.max(log.c.seq), 0))).scalar_one()
    at: int = head
    if columnar is None:
        columnar = at >= COLUMNAR_FROM
    kept = Kept(keep) if keep is not None and columnar and at else None
    copy = kept.latest(connection, reads, at) if kept else None
    since = copy[0] if copy else 0
    # A few new events come faster row by row than through a connection of their own.
    columnar = columnar and (copy is None or at - since >= COLUMNAR_FROM)
    numbers = {type_: number for number, type_ in enumerate(reads)}
    with ExitStack() as stack:
        backend = connection.dialect.name
        sqlite_file = _sqlite_file(connection) if backend == "sqlite" else None
        writer = kept.writer() if kept is not None and columnar and leave else None
        if writer is not None:
            stack.callback(writer.discard)  # a no-op once committed
        file: Callable[[str], Path | None] | None = None
        if columnar and sqlite_file:
            queries = [_statement(connection, type_, fields, since, at) for type_, fields in reads.items()]
            schemas = [arrow_schema(type_, fields) for type_, fields in reads.items()]
            results, files = _sqlite(sqlite_file, queries, schemas, stack, writer.kept.folder if writer else None)
            # The reader gives each table in its schema already.
            fetch: Callable[[str], pa.Table] = lambda type_: results(numbers[type_])  # noqa: E731
            if copy is None:  # the reader's files are the copy's tables as they stand
                file = lambda type_: files(numbers[type_])  # noqa: E731
        elif columnar and backend == "postgresql":
            query = _postgresql(connection, stack)
            fetch = lambda type_: _typed(  # noqa: E731
                query(_statement(connection, type_, reads[type_], since)), arrow_schema(type_, reads[type_]))
        else:
            fetch = lambda type_: _read_rows(connection, type_, reads[type_], since)  # noqa: E731
        if copy is not None:
            new, path = fetch, copy[1]
            fetch = lambda type_: pa.concat_tables([read_kept(path, type_, reads[type_]), new(type_)])  # noqa: E731
        # Kept columns are at hand at once, as tables read ahead are.
        ahead = copy is not None or bool(columnar and (sqlite_file or backend == "postgresql"))
        reader = Reader(fetch, at, ahead=ahead, keep=writer, file=file)
        yield reader
        if writer is not None and set(writer.fields) == set(reads):
            hash_ = connection.execute(select(log.c.hash).where(log.c.seq == at)).scalar()
            if hash_ is not None:
                writer.commit(at, hash_)
