"""Appending rows and log entries: the one way anything enters the store.

The import appends events in batches; datasets and models append one record at a
time. Both go through :func:`insert_rows` and extend the same hash chain.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import Connection, Table

from ..ledger import canonical_json, digest_of, link
from ..model.times import parse_time, to_micros
from .engine import read_head
from .rows import record_doc
from .schema import Kind, RecordSpec, log


def insert_rows(connection: Connection, table: Table, rows: list[tuple[Any, ...]]) -> None:
    """Insert rows given as tuples in the table's column order.

    PostgreSQL gets ``COPY`` (inside the caller's transaction), SQLite the driver's
    executemany: SQLAlchemy's per-row parameter processing would cost more than the insert.
    """
    if not rows:
        return
    names = [column.name for column in table.columns]
    if connection.dialect.name == "postgresql":
        columns = ", ".join(f'"{name}"' for name in names)
        driver: Any = connection.connection.driver_connection
        with driver.cursor() as cursor, cursor.copy(f'COPY "{table.name}" ({columns}) FROM STDIN') as copy:
            for row in rows:
                copy.write_row(row)
        return
    compiled = table.insert().compile(dialect=connection.dialect)
    if compiled.positiontup is not None:
        assert list(compiled.positiontup) == names
        connection.exec_driver_sql(str(compiled), rows)
    else:
        connection.exec_driver_sql(str(compiled), [dict(zip(names, row)) for row in rows])


def doc_values(spec: RecordSpec, doc: dict[str, Any]) -> list[Any]:
    """Column values (``spec.fields`` then ``extra``) of a record given as a JSON document."""
    values: list[Any] = []
    for field, kind in spec.fields:
        value = doc.get(field)
        if value is not None:
            if kind is Kind.TIME:
                value = to_micros(parse_time(value))
            elif kind is Kind.JSON:
                value = canonical_json(value).decode()
        values.append(value)
    known = {field for field, _ in spec.fields} | {"type"}
    extra = {key: value for key, value in doc.items() if key not in known}
    values.append(canonical_json(extra).decode() if extra else None)
    return values


def append_record(connection: Connection, spec: RecordSpec, doc: dict[str, Any]) -> int:
    """Store one record and its log entry in the caller's write transaction; return its seq.

    The digest is taken over the document re-derived from the row, exactly as the
    verifier will re-derive it.
    """
    values = doc_values(spec, doc)
    digest = digest_of(canonical_json(record_doc(spec, tuple(values))))
    seq, previous = read_head(connection)
    seq += 1
    key = str(doc[spec.key]) if spec.key else digest
    insert_rows(connection, spec.table, [(seq, digest, *values)])
    insert_rows(connection, log, [(seq, spec.type, key, digest, link(previous, seq, digest))])
    return seq
