"""Run as a script: read queries from a SQLite file through ADBC into Arrow IPC files.

    python _sqlite_reader.py < {"database": PATH, "folder": DIR, "queries": [SQL, ...],
                                "schemas": [HEX, ...]}

Writes ``DIR/N.arrow`` for the N-th query and prints N once the file is complete, all
in one read transaction. The N-th schema (an Arrow schema, serialized, in hex) names
and types the N-th result's columns, so the file holds the table as it is used (and as
a kept copy of the store's columns keeps it). It runs in a process of its own because the ADBC driver links
its own copy of SQLite: two copies in one process forget each other's POSIX locks on
the same file (closing one's descriptor drops the other's locks), which SQLite's
documentation lists among the ways to corrupt a database. It imports nothing of the
package, so it starts in a fraction of a second.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

import adbc_driver_manager
import adbc_driver_sqlite
import pyarrow as pa
import pyarrow.ipc

# The driver infers each column's type from the first batch of rows; one batch for the
# whole result means a column that starts with nulls still gets its real type.
ONE_BATCH = {"adbc.sqlite.query.batch_rows": str(10**9)}


def typed(result: pa.Table, schema: pa.Schema) -> pa.Table:
    """The driver's result with the schema's names and types (SQLite has no booleans:
    they come as integers)."""
    columns = []
    for column, field in zip(result.columns, schema, strict=True):
        array = column.chunk(0) if column.num_chunks == 1 else column.combine_chunks()
        columns.append(array if array.type == field.type else array.cast(field.type))
    return pa.Table.from_arrays(columns, schema=schema)


def main() -> None:
    request = json.load(sys.stdin)
    folder = Path(request["folder"])
    schemas = [pa.ipc.read_schema(pa.py_buffer(bytes.fromhex(text))) for text in request["schemas"]]
    database = adbc_driver_sqlite.connect(request["database"])
    connection = adbc_driver_manager.AdbcConnection(database)
    connection.set_autocommit(False)  # one (deferred) read transaction for every query
    try:
        for number, sql in enumerate(request["queries"]):
            statement = adbc_driver_manager.AdbcStatement(connection)
            try:
                statement.set_options(**ONE_BATCH)
                statement.set_sql_query(sql)
                stream, _ = statement.execute_query()
                table = typed(pa.RecordBatchReader._import_from_c(stream.address).read_all(), schemas[number])
            finally:
                statement.close()
            partial = folder / f"{number}.partial"
            with pa.OSFile(str(partial), "wb") as sink, pyarrow.ipc.new_file(sink, table.schema) as writer:
                writer.write_table(table)
            partial.rename(folder / f"{number}.arrow")
            print(number, flush=True)
    finally:
        connection.rollback()
        connection.close()
        database.close()


if __name__ == "__main__":
    main()
