"""Import and verification speed, beside the floors measured in the same run.

    python benchmarks/bench_load.py [--events 1000000]

Writes a synthetic world of about N events (``consentgate synth``), then measures:
``consentgate load`` into SQLite and into PostgreSQL with the log chained, ``consentgate
audit verify`` on both; and the floors: plain sqlite3 executemany of the same lines in
1,000-row transactions, psycopg COPY of the same lines, canonical JSON + SHA-256 alone.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import sqlite3
import sys

import orjson
import rfc8785
from _common import OUT, fresh_name, machine, postgres_url, run_cli, table, timed

from consentgate.synth import WorldSize, write_world


def world_for(events: int) -> WorldSize:
    # About 1 subject, 10 items, 10 consents, 1 meeting (3 participants) per 25 events.
    unit = max(1, events // 25)
    return WorldSize(subjects=unit, items=10 * unit, consents=10 * unit, meetings=unit, seed=11)


def floor_sqlite(lines: list[bytes], path: str) -> float:
    def run() -> None:
        connection = sqlite3.connect(path)
        connection.execute("PRAGMA journal_mode=WAL")
        connection.execute("CREATE TABLE events (seq INTEGER PRIMARY KEY, type TEXT, body TEXT)")
        for start in range(0, len(lines), 1000):
            with connection:
                connection.executemany(
                    "INSERT INTO events VALUES (?, ?, ?)",
                    [(start + i, "event", line.decode()) for i, line in enumerate(lines[start : start + 1000])],
                )
        connection.close()

    return timed(run)[0]


def floor_copy(lines: list[bytes], url: str) -> float:
    import psycopg

    def run() -> None:
        with psycopg.connect(url.replace("postgresql+psycopg", "postgresql")) as connection:
            connection.execute("CREATE TABLE events (seq bigint PRIMARY KEY, type text, body text)")
            with connection.cursor().copy("COPY events (seq, type, body) FROM STDIN") as copy:
                for seq, line in enumerate(lines):
                    copy.write_row((seq, "event", line.decode()))

    return timed(run)[0]


def floor_canonical(lines: list[bytes]) -> tuple[float, float]:
    docs = [orjson.loads(line) for line in lines]

    def fast() -> None:
        previous = b"\0" * 32
        for doc in docs:
            previous = hashlib.sha256(previous + orjson.dumps(doc, option=orjson.OPT_SORT_KEYS)).digest()

    def plain() -> None:
        previous = b"\0" * 32
        for doc in docs:
            text = json.dumps(doc, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode()
            previous = hashlib.sha256(previous + text).digest()

    sample = docs[: min(len(docs), 100_000)]

    def reference() -> None:
        for doc in sample:
            hashlib.sha256(rfc8785.dumps(doc)).digest()

    ref_seconds = timed(reference)[0] * len(docs) / len(sample)
    return timed(fast)[0], min(timed(plain)[0], ref_seconds)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--events", type=int, default=1_000_000)
    args = parser.parse_args()
    OUT.mkdir(exist_ok=True)
    path = OUT / f"world-{args.events}.jsonl"
    with path.open("wb") as out:
        count = write_world(world_for(args.events), out)
    lines = path.read_bytes().splitlines()
    rows: list[tuple[str, ...]] = []

    def rate(seconds: float) -> str:
        return f"{count / seconds:,.0f}/s"

    sqlite_url = f"sqlite:///{OUT / fresh_name('load')}.db"
    run_cli(sqlite_url, "init")
    load_s = run_cli(sqlite_url, "load", str(path))
    verify_s = run_cli(sqlite_url, "audit", "verify")
    floor_s = floor_sqlite(lines, str(OUT / fresh_name("floor")) + ".db")
    rows.append(("load into SQLite (log chained)", f"{load_s:.1f} s", rate(load_s), "≥ 20,000/s",
                 f"sqlite3 executemany, 1,000-row transactions: {rate(floor_s)}"))
    rows.append(("audit verify (SQLite)", f"{verify_s:.1f} s", rate(verify_s), "≥ 100,000/s", ""))
    with postgres_url() as pg_url:
        run_cli(pg_url, "init")
        pg_load_s = run_cli(pg_url, "load", str(path))
        pg_verify_s = run_cli(pg_url, "audit", "verify")
        copy_s = floor_copy(lines, pg_url)
    rows.append(("load into PostgreSQL (log chained)", f"{pg_load_s:.1f} s", rate(pg_load_s), "≥ 20,000/s",
                 f"psycopg COPY: {rate(copy_s)}"))
    rows.append(("audit verify (PostgreSQL)", f"{pg_verify_s:.1f} s", rate(pg_verify_s), "≥ 100,000/s", ""))
    fast_s, plain_s = floor_canonical(lines)
    rows.append(("canonical JSON + SHA-256 alone (orjson, as the log uses)", f"{fast_s:.1f} s", rate(fast_s), "",
                 f"json.dumps(sort_keys) or rfc8785, the faster: {rate(plain_s)}"))
    print(f"## Import and log ({count:,} events)\n")
    print(f"Machine: {machine()}\n")
    print(table(rows, ("what", "time", "rate", "goal", "floor in the same run")))
    sys.stdout.flush()


if __name__ == "__main__":
    main()
