"""Where the plan runs: DuckDB in this process, or Spark (PySpark) for large catalogs.

Both executors take the same statements, written in DuckDB's dialect; the Spark one has
sqlglot transpile them. An executor registers Arrow tables under a name, materializes a
query as a named table (the fixed point of derived content reads the previous round), and
fetches a query's result as Arrow.
"""

from __future__ import annotations

import os
import threading
from functools import lru_cache
from pathlib import Path
from typing import Any, Protocol

import pyarrow as pa

ENGINES = ("duckdb", "spark")


class Executor(Protocol):
    """What the selection needs from an engine."""

    # Whether the tables live in this process, where looking rows up by position in
    # Arrow is cheaper than a join in the engine.
    in_process: bool

    def load(self, name: str, table: pa.Table) -> None:
        """Make ``table`` readable as ``name``."""

    def materialize(self, name: str, sql: str) -> None:
        """Make the rows of ``sql`` a table called ``name``, computed at most once."""

    def count(self, name: str) -> int:
        """The number of rows of a table made by :meth:`materialize`."""

    def collect(self, name: str, sql: str) -> pa.Table:
        """Run ``sql`` into a table called ``name`` and also return its rows."""

    def fetch(self, sql: str) -> pa.Table:
        """Run ``sql`` and return its rows."""

    def drop(self, *names: str) -> None:
        """Forget tables made by :meth:`materialize` or :meth:`load` that no later step
        reads (their memory is freed at once)."""

    def close(self) -> None:
        """Drop everything this executor made."""


class DuckDBExecutor:
    """An in-memory DuckDB database of its own, scanning the Arrow tables in place.

    Intermediate results are kept as Arrow tables too: DuckDB scans them without a copy,
    which is faster than writing them into its own (compressed) table storage.
    """

    in_process = True

    def __init__(self) -> None:
        import duckdb

        self._connection = duckdb.connect(":memory:", config={"preserve_insertion_order": False})
        self._results: dict[str, pa.Table] = {}

    def load(self, name: str, table: pa.Table) -> None:
        self._connection.register(name, table)

    def materialize(self, name: str, sql: str) -> None:
        self.collect(name, sql)

    def count(self, name: str) -> int:
        return int(self._results[name].num_rows)

    def collect(self, name: str, sql: str) -> pa.Table:
        result = self.fetch(sql)
        self._results[name] = result  # registered tables must outlive their use
        self._connection.register(name, result)
        return result

    def fetch(self, sql: str) -> pa.Table:
        # Streamed in batches: the rows are never held in DuckDB's own form and as Arrow
        # at the same time, which would double the peak for the per-item results.
        reader = self._connection.sql(sql).to_arrow_reader(1 << 20)
        return pa.Table.from_batches(reader, reader.schema)

    def drop(self, *names: str) -> None:
        for name in names:
            self._connection.unregister(name)
            self._results.pop(name, None)

    def close(self) -> None:
        self._connection.close()
        self._results.clear()


@lru_cache(maxsize=256)
def to_spark_sql(sql: str) -> str:
    """``sql`` in Spark's dialect (transpiled once per distinct statement)."""
    import sqlglot

    return str(sqlglot.transpile(sql, read="duckdb", write="spark")[0])


_SESSION_LOCK = threading.Lock()
_SPARK_RUN_LOCK = threading.Lock()


# Spark logs errors only (see the file): its start-up notices stay off a command's stderr.
_LOG_CONFIG = Path(__file__).with_name("spark-log4j2.properties")


def spark_session() -> Any:
    """The shared local SparkSession, started on first use (it takes a few seconds).

    ``local[2]`` with the UI off and few shuffle partitions: the selection's tables are
    small per partition, and the default 200 partitions would cost more than the work.
    An already running session (``SparkSession.getActiveSession()``) is reused as is.
    """
    with _SESSION_LOCK:
        from pyspark.sql import SparkSession

        active = SparkSession.getActiveSession()
        if active is not None:
            return active
        memory = os.environ.get("CONSENTGATE_SPARK_DRIVER_MEMORY", "6g")
        session = (
            SparkSession.builder.master(os.environ.get("CONSENTGATE_SPARK_MASTER", "local[2]"))
            .appName("consentgate-bulk")
            .config("spark.ui.enabled", "false")
            .config("spark.ui.showConsoleProgress", "false")
            .config("spark.sql.shuffle.partitions", "4")
            .config("spark.default.parallelism", "4")
            .config("spark.driver.memory", memory)
            .config("spark.sql.execution.arrow.pyspark.enabled", "true")
            .config("spark.sql.session.timeZone", "UTC")
            .config("spark.driver.extraJavaOptions", f"-Dlog4j2.configurationFile={_LOG_CONFIG.as_uri()}")
            .getOrCreate()
        )
        session.sparkContext.setLogLevel("ERROR")
        return session


# Below this many items, Spark spends far longer generating and compiling code for each
# query than running it; interpreting the plan instead makes small selections (tests, a
# team's store) several times faster. Large ones keep Spark's defaults.
SMALL_INPUT = 200_000
_SMALL_CONF = {
    "spark.sql.codegen.wholeStage": "false",
    "spark.sql.codegen.factoryMode": "NO_CODEGEN",
    "spark.sql.adaptive.enabled": "false",
    "spark.sql.shuffle.partitions": "2",
}


def _decoded(table: pa.Table) -> pa.Table:
    """``table`` with dictionary columns (and lists of them) as plain values: Spark's
    Arrow conversion takes no dictionaries."""
    def plain(kind: pa.DataType) -> pa.DataType:
        if pa.types.is_dictionary(kind):
            return plain(kind.value_type)
        if pa.types.is_list(kind):
            return pa.list_(plain(kind.value_type))
        return kind

    schema = pa.schema([field.with_type(plain(field.type)) for field in table.schema])
    return table if schema == table.schema else table.cast(schema)


class SparkExecutor:
    """Temporary views in the shared SparkSession; one selection at a time per process,
    because views are named the same in every selection."""

    in_process = False

    def __init__(self, rows: int = 0) -> None:
        self._spark = spark_session()
        _SPARK_RUN_LOCK.acquire()
        self._names: list[str] = []
        self._frames: dict[str, Any] = {}
        self._counts: dict[str, int] = {}
        self._saved: dict[str, str | None] = {}
        if rows < SMALL_INPUT:
            for key, value in _SMALL_CONF.items():
                self._saved[key] = self._spark.conf.get(key, None)
                self._spark.conf.set(key, value)

    def load(self, name: str, table: pa.Table) -> None:
        frame = self._spark.createDataFrame(_decoded(table))
        frame.createOrReplaceTempView(name)
        self._names.append(name)

    def materialize(self, name: str, sql: str) -> None:
        # A local checkpoint computes the rows once and cuts the lineage: later steps
        # read them instead of planning (and recomputing) every step before them, which
        # costs Spark more than it saves.
        frame = self._spark.sql(to_spark_sql(sql)).localCheckpoint()
        frame.createOrReplaceTempView(name)
        self._names.append(name)
        self._frames[name] = frame
        self._counts[name] = int(frame.count())

    def count(self, name: str) -> int:
        return self._counts[name]

    def collect(self, name: str, sql: str) -> pa.Table:
        self.materialize(name, sql)
        result: pa.Table = self._spark.table(name).toArrow()
        return result

    def fetch(self, sql: str) -> pa.Table:
        result: pa.Table = self._spark.sql(to_spark_sql(sql)).toArrow()
        return result

    def drop(self, *names: str) -> None:
        for name in names:
            self._spark.catalog.dropTempView(name)
            self._names.remove(name)
            frame = self._frames.pop(name, None)
            if frame is not None:
                frame.unpersist()

    def close(self) -> None:
        try:
            for name in self._names:
                self._spark.catalog.dropTempView(name)
            for frame in self._frames.values():
                frame.unpersist()
            for key, value in self._saved.items():
                if value is None:
                    self._spark.conf.unset(key)
                else:
                    self._spark.conf.set(key, value)
        finally:
            _SPARK_RUN_LOCK.release()


def executor(engine: str, rows: int = 0) -> Executor:
    """A fresh executor for ``engine`` ("duckdb" or "spark") for ``rows`` items.

    Raises:
        ValueError: an unknown engine name.
    """
    if engine == "duckdb":
        return DuckDBExecutor()
    if engine == "spark":
        return SparkExecutor(rows)
    raise ValueError(f"unknown engine {engine!r}; expected one of {', '.join(ENGINES)}")
