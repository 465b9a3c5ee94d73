"""Opening a store: SQLite (a file, WAL mode) or PostgreSQL, by URL.

Writers are serialised so the log never forks: on SQLite a write transaction starts with
``BEGIN IMMEDIATE``; on PostgreSQL it takes a transaction-level advisory lock first.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from sqlalchemy import Connection, Engine, create_engine, event, select, text
from sqlalchemy.exc import OperationalError, ProgrammingError, SQLAlchemyError

from ..errors import StoreError
from ..ledger import GENESIS
from .schema import log

DEFAULT_URL = "sqlite:///consentgate.db"
_WRITE_LOCK_ID = 0x636F6E73  # any constant shared by every writer of a store
# How long a SQLite writer waits for another to finish before giving up.
BUSY_TIMEOUT_MS = 60_000
SCHEMA_HEAD = "0003"


def normalize_url(url: str | None) -> str:
    """The SQLAlchemy URL for a store URL or a path to a SQLite file.

    >>> normalize_url("postgresql://postgres@127.0.0.1/cg")
    'postgresql+psycopg://postgres@127.0.0.1/cg'
    >>> normalize_url("data/x.db")
    'sqlite:///data/x.db'
    """
    url = url or os.environ.get("CONSENTGATE_DB") or DEFAULT_URL
    if url.startswith(("postgresql://", "postgres://")):
        return "postgresql+psycopg://" + url.split("://", 1)[1]
    if "://" not in url:
        return f"sqlite:///{url}"
    return url


class Store:
    """A consentgate store: an engine plus the write discipline around it."""

    def __init__(self, url: str | None = None) -> None:
        self.url = normalize_url(url)
        self.is_sqlite = self.url.startswith("sqlite")
        try:
            self.engine: Engine = create_engine(self.url)
        except (SQLAlchemyError, ImportError, ValueError) as exc:
            raise StoreError(f"cannot open the store {self.display_url}: {exc}") from None
        if self.is_sqlite:
            self._configure_sqlite()

    @property
    def display_url(self) -> str:
        """The URL without a password, for messages."""
        return self.engine.url.render_as_string(hide_password=True) if hasattr(self, "engine") else self.url

    def _configure_sqlite(self) -> None:
        database = self.engine.url.database
        if database and database != ":memory:":
            folder = Path(database).parent
            if not folder.exists():
                raise StoreError(f"cannot open the store {self.url}: folder {folder} does not exist")

        @event.listens_for(self.engine, "connect")
        def _on_connect(dbapi_connection: Any, _record: Any) -> None:
            # Manage transactions ourselves so that writers can say BEGIN IMMEDIATE.
            dbapi_connection.isolation_level = None
            cursor = dbapi_connection.cursor()
            # The timeout first: switching to WAL waits for the lock like any writer.
            cursor.execute(f"PRAGMA busy_timeout={BUSY_TIMEOUT_MS}")
            cursor.execute("PRAGMA journal_mode=WAL")
            cursor.execute("PRAGMA synchronous=FULL")
            # Index pages of a growing store stay in memory during a long import.
            cursor.execute("PRAGMA cache_size=-131072")
            cursor.close()

        @event.listens_for(self.engine, "begin")
        def _on_begin(connection: Connection) -> None:
            write = connection.get_execution_options().get("consentgate_write")
            connection.exec_driver_sql("BEGIN IMMEDIATE" if write else "BEGIN")

    @contextmanager
    def read(self) -> Iterator[Connection]:
        """A read transaction."""
        try:
            with self.engine.connect() as connection, connection.begin():
                yield connection
        except OperationalError as exc:
            raise StoreError(f"cannot read the store {self.display_url}: {exc.orig}") from None

    @contextmanager
    def write(self) -> Iterator[Connection]:
        """A write transaction holding the store's single-writer lock; commits on success."""
        try:
            with self.engine.connect().execution_options(consentgate_write=True) as connection, connection.begin():
                if not self.is_sqlite:
                    connection.execute(text("SELECT pg_advisory_xact_lock(:k)"), {"k": _WRITE_LOCK_ID})
                yield connection
        except OperationalError as exc:
            raise StoreError(f"cannot write the store {self.display_url}: {exc.orig}") from None

    def schema_version(self) -> str | None:
        """The migration the store is at, or None when it was never initialized."""
        try:
            with self.read() as connection:
                return connection.execute(text("SELECT version_num FROM alembic_version")).scalar()
        except (OperationalError, ProgrammingError, StoreError):
            return None

    def require_ready(self) -> None:
        """Raise :class:`StoreError` unless ``init`` has brought the store to this version."""
        version = self.schema_version()
        if version is None:
            raise StoreError(f"the store {self.display_url} is not initialized: run `consentgate init`")
        if version != SCHEMA_HEAD:
            raise StoreError(
                f"the store {self.display_url} is at schema {version}, expected {SCHEMA_HEAD}: "
                "run `consentgate init` to migrate it"
            )

    def dispose(self) -> None:
        """Close every pooled connection."""
        self.engine.dispose()

    def checkpoint(self) -> None:
        """Fold SQLite's write-ahead log into the database file and empty it.

        After a large import the log holds every page it wrote, and until it is emptied
        each page a reader reads is first looked up in the log's index: reads over a
        store of millions of events just loaded take about half as long again. It never
        waits: with readers still busy (a build reading the state, say) it copies what it
        can, and the rest is left to SQLite's own later checkpoints. A no-op on
        PostgreSQL.
        """
        if not self.is_sqlite:
            return
        connection = self.engine.raw_connection()  # in autocommit: no transaction around it
        try:
            cursor = connection.cursor()
            # Without a busy handler a TRUNCATE checkpoint that meets a reader goes on as a
            # PASSIVE one instead of waiting (up to the timeout) for the reader to finish.
            cursor.execute("PRAGMA busy_timeout=0")
            try:
                cursor.execute("PRAGMA wal_checkpoint(TRUNCATE)").fetchall()
            finally:  # the connection goes back to the pool: writers wait for the lock again
                cursor.execute(f"PRAGMA busy_timeout={BUSY_TIMEOUT_MS}")
        finally:
            connection.close()


# Below this many log entries (or new entries since the columns kept, see ``bulk._kept``)
# the rows come faster through the caller's own connection than a second connection (on
# SQLite, a second process) can be set up; from this many on, the store's event columns
# are read through ADBC and kept for the next read, and a load this large keeps them too.
COLUMNAR_FROM = 100_000


def read_head(connection: Connection) -> tuple[int, str]:
    """The log's head: last sequence number and hash (0 and the genesis hash when empty)."""
    row = connection.execute(select(log.c.seq, log.c.hash).order_by(log.c.seq.desc()).limit(1)).first()
    return (row[0], row[1]) if row else (0, GENESIS)
