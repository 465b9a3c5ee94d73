"""Run as a script: read queries from a SQLite file through ADBC into Arrow IPC files.

    python _sqlite_reader.py < {"database": PATH, "folder": DIR, "queries": [SQL, ...]}

Writes ``DIR/N.arrow`` for the N-th query and prints N once the file is complete, all
in one read transaction. It runs in a process of its own because the ADBC driver links
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


def main() -> None:
    request = json.load(sys.stdin)
    folder = Path(request["folder"])
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
                table = pa.RecordBatchReader._import_from_c(stream.address).read_all()
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
