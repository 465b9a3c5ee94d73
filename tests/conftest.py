"""Real stores for the tests: SQLite files, and a real PostgreSQL server.

PostgreSQL: the server at 127.0.0.1:5432 (user postgres, trust) when it answers, else a
throwaway server started from the installed binaries for this test session. Each test
gets its own database. Tests that take the ``store_url`` fixture run on both backends.
"""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest

ROOT = Path(__file__).resolve().parents[1]
EXAMPLES = ROOT.parent / "shared" / "examples"
BACKENDS = os.environ.get("CONSENTGATE_TEST_BACKENDS", "sqlite,postgresql").split(",")


def _answers(host: str, port: int) -> bool:
    try:
        import psycopg

        with psycopg.connect(host=host, port=port, user="postgres", dbname="postgres", connect_timeout=3):
            return True
    except Exception:
        return False


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _pg_binary(name: str) -> str:
    found = shutil.which(name)
    if found:
        return found
    for folder in sorted(Path("/usr/lib/postgresql").glob("*/bin"), reverse=True):
        if (folder / name).exists():
            return str(folder / name)
    raise RuntimeError(f"PostgreSQL's {name} is not installed")


def _as_postgres(command: list[str]) -> list[str]:
    # initdb and postgres refuse to run as root; run them as the postgres user then.
    if os.geteuid() == 0:
        return ["runuser", "-u", "postgres", "--", *command]
    return command


@pytest.fixture(scope="session")
def pg_server() -> Iterator[tuple[str, int]]:
    """A PostgreSQL server for this session: (host, port)."""
    if _answers("127.0.0.1", 5432):
        yield "127.0.0.1", 5432
        return
    folder = Path(tempfile.mkdtemp(prefix="consentgate-pg-"))
    if os.geteuid() == 0:
        shutil.chown(folder, "postgres")
    data, port = folder / "data", _free_port()
    subprocess.run(
        _as_postgres([_pg_binary("initdb"), "-D", str(data), "-U", "postgres", "-A", "trust"]),
        check=True, capture_output=True,
    )
    subprocess.run(
        _as_postgres([_pg_binary("pg_ctl"), "-D", str(data), "-l", str(folder / "log"), "-w",
                      "-o", f"-p {port} -k {folder} -c listen_addresses=127.0.0.1", "start"]),
        check=True, capture_output=True,
    )
    try:
        deadline = time.monotonic() + 30
        while not _answers("127.0.0.1", port):
            if time.monotonic() > deadline:
                raise RuntimeError("the throwaway PostgreSQL server did not start")
            time.sleep(0.2)
        yield "127.0.0.1", port
    finally:
        subprocess.run(_as_postgres([_pg_binary("pg_ctl"), "-D", str(data), "-m", "immediate", "stop"]),
                       capture_output=True)
        shutil.rmtree(folder, ignore_errors=True)


def _pg_database(server: tuple[str, int]) -> Iterator[str]:
    import psycopg

    host, port = server
    name = f"cg_{uuid.uuid4().hex[:12]}"
    with psycopg.connect(host=host, port=port, user="postgres", dbname="postgres", autocommit=True) as c:
        c.execute(f'CREATE DATABASE "{name}"')
    try:
        yield f"postgresql://postgres@{host}:{port}/{name}"
    finally:
        with psycopg.connect(host=host, port=port, user="postgres", dbname="postgres", autocommit=True) as c:
            c.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@pytest.fixture
def pg_databases(pg_server: tuple[str, int]) -> Any:
    """Makes fresh PostgreSQL databases on the session's server: ``with pg_databases() as url``
    (dropped when the block ends), for tests that need a new one per example."""
    return lambda: contextmanager(_pg_database)(pg_server)


@pytest.fixture(params=BACKENDS)
def store_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """An empty, not yet initialized store on each backend: a SQLite file, a PostgreSQL database."""
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'store.db'}"
    else:
        yield from _pg_database(request.getfixturevalue("pg_server"))


@pytest.fixture
def sqlite_url(tmp_path: Path) -> str:
    """A SQLite store file, for tests that are about the command line rather than the backend."""
    return f"sqlite:///{tmp_path / 'store.db'}"


class Cli:
    """Runs the real ``consentgate`` command in a subprocess against one store."""

    def __init__(self, url: str, cwd: Path) -> None:
        self.url, self.cwd = url, cwd

    def __call__(self, *args: str, input: str | None = None, check: bool = False) -> subprocess.CompletedProcess[str]:
        result = subprocess.run(
            [sys.executable, "-m", "consentgate", "--db", self.url, *args],
            capture_output=True, text=True, input=input, cwd=self.cwd, timeout=300,
        )
        if check and result.returncode != 0:
            raise AssertionError(f"consentgate {' '.join(args)} exited {result.returncode}: {result.stderr}")
        return result

    def popen(self, *args: str, **kwargs: Any) -> subprocess.Popen[str]:
        return subprocess.Popen(
            [sys.executable, "-m", "consentgate", "--db", self.url, *args], cwd=self.cwd, text=True, **kwargs
        )


def _initialized(url: str) -> str:
    # In-process: the same migration `consentgate init` runs, without a second interpreter.
    from consentgate import Store, init_store

    opened = Store(url)
    try:
        init_store(opened)
    finally:
        opened.dispose()
    return url


@pytest.fixture
def cli(store_url: str, tmp_path: Path) -> Cli:
    """The command line on an initialized store of each backend."""
    return Cli(_initialized(store_url), tmp_path)


@pytest.fixture
def sqlite_cli(sqlite_url: str, tmp_path: Path) -> Cli:
    """The command line on an initialized SQLite store."""
    return Cli(_initialized(sqlite_url), tmp_path)


@pytest.fixture
def bare_cli(sqlite_url: str, tmp_path: Path) -> Cli:
    """The command line on a SQLite store that was never initialized."""
    return Cli(sqlite_url, tmp_path)


@pytest.fixture
def examples() -> Path:
    """The public examples folder; tests that need it skip where it does not exist."""
    if not EXAMPLES.is_dir():
        pytest.skip("the public examples (../shared/examples) are not beside this checkout")
    return EXAMPLES


def _opened_store(url: str) -> Iterator[Any]:
    from consentgate import Store, init_store

    opened = Store(url)
    init_store(opened)
    yield opened
    opened.dispose()


@pytest.fixture
def store(store_url: str) -> Iterator[Any]:
    """An initialized :class:`consentgate.Store` on each backend, closed after the test."""
    yield from _opened_store(store_url)


@pytest.fixture
def sqlite_store(sqlite_url: str) -> Iterator[Any]:
    """An initialized SQLite :class:`consentgate.Store`, closed after the test."""
    yield from _opened_store(sqlite_url)
