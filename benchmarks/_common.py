"""Shared helpers for the benchmarks: timing, PostgreSQL, machine facts, a results table."""

from __future__ import annotations

import os
import platform
import subprocess
import sys
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
OUT = ROOT / "bench-out"
sys.path.insert(0, str(ROOT / "tests"))


def machine() -> str:
    """One line on the machine the figures come from."""
    cpu = platform.processor() or platform.machine()
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    memory = ""
    try:
        kib = int(Path("/proc/meminfo").read_text().split()[1])
        memory = f", {kib / 2**20:.0f} GiB"
    except (OSError, ValueError, IndexError):
        pass
    return f"{os.cpu_count()} cores ({cpu}){memory}, Python {platform.python_version()}, {platform.system()}"


def timed(function: Callable[[], Any]) -> tuple[float, Any]:
    """Seconds taken by one call, and what it returned."""
    start = time.perf_counter()
    value = function()
    return time.perf_counter() - start, value


@contextmanager
def postgres_url() -> Iterator[str]:
    """A fresh PostgreSQL database on the test suite's server (local one or throwaway)."""
    import conftest  # the tests' server logic: the same real server the tests use

    servers = conftest.pg_server.__wrapped__()  # type: ignore[attr-defined]
    server = next(servers)
    try:
        databases = conftest._pg_database(server)
        url = next(databases)
        try:
            yield url
        finally:
            next(databases, None)
    finally:
        next(servers, None)


def run_cli(url: str, *args: str) -> float:
    """Seconds taken by one ``consentgate`` command run in a subprocess (checked)."""
    start = time.perf_counter()
    subprocess.run([sys.executable, "-m", "consentgate", "--db", url, *args], check=True,
                   stdout=subprocess.DEVNULL)
    return time.perf_counter() - start


def table(rows: list[tuple[str, ...]], header: tuple[str, ...]) -> str:
    """A Markdown table."""
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    lines += ["| " + " | ".join(row) + " |" for row in rows]
    return "\n".join(lines)


def fresh_name(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4().hex[:8]}"
