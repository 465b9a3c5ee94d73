"""What the store tests share: a small story of every event type, raw SQL on a store,
the log head read from outside, and the shape of a refused load."""

from __future__ import annotations

import io
import json
import re
import subprocess
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from sqlalchemy import Connection, create_engine, text

from consentgate.store import normalize_url

T0 = "2023-08-07T09:00:00Z"

# One event of every type; loaded into an empty store, event n is log entry n.
STORY: list[dict[str, Any]] = [
    {
        "type": "terms",
        "version": "t1",
        "effective_at": T0,
        "sections": [
            {
                "id": "10.4",
                "text": "Content may train models with consent.",
                "grants": [{"purpose": "ai.training", "data": ["audio", "summary"], "requires": ["consent"]}],
            }
        ],
    },
    {"type": "account", "id": "acme", "region": "US"},
    {"type": "group", "id": "acme-eng", "account": "acme", "priority": 1},
    {"type": "user", "id": "ann", "account": "acme", "groups": ["acme-eng"]},
    {"type": "setting", "scope": "account", "target": "acme", "key": "ai", "value": True, "at": T0},
    {"type": "setting", "scope": "group", "target": "acme-eng", "key": "ai", "value": False, "at": T0},
    {"type": "terms_acceptance", "account": "acme", "version": "t1", "at": T0},
    {"type": "meeting", "id": "m1", "account": "acme", "host": "ann"},
    {"type": "participant", "meeting": "m1", "subject": "ann", "notified": ["recording"]},
    {"type": "consent", "id": "c1", "subject": "ann", "purpose": "ai.training", "status": "given", "at": T0},
    {
        "type": "content",
        "id": "m1-audio",
        "kind": "audio",
        "account": "acme",
        "owner": "ann",
        "meeting": "m1",
        "created_at": T0,
    },
    {
        "type": "content",
        "id": "m1-summary",
        "kind": "summary",
        "account": "acme",
        "owner": "ann",
        "meeting": "m1",
        "created_at": T0,
        "derived_from": ["m1-audio"],
    },
    {"type": "service_data", "id": "sd1", "kind": "telemetry", "account": "acme", "user": "ann", "at": T0},
    {"type": "delete", "item": "m1-summary", "at": "2023-09-01T00:00:00Z"},
    {
        "type": "consent",
        "id": "c2",
        "subject": "ann",
        "purpose": "ai.training",
        "status": "withdrawn",
        "at": "2023-09-02T00:00:00Z",
    },
]

HEAD = re.compile(r"^(\d+) ([0-9a-f]{64})$")


def jsonl(lines: list[Any]) -> str:
    """JSON Lines text: dicts are dumped, strings are taken as the line itself."""
    return "".join((line if isinstance(line, str) else json.dumps(line)) + "\n" for line in lines)


@contextmanager
def raw_sql(url: str) -> Iterator[Connection]:
    """A plain SQLAlchemy connection to the store, outside consentgate; commits on exit."""
    engine = create_engine(normalize_url(url))
    try:
        with engine.begin() as connection:
            yield connection
    finally:
        engine.dispose()


def head(cli: Any) -> tuple[int, str]:
    """The log head as `audit head` prints it."""
    result = cli("audit", "head", check=True)
    match = HEAD.match(result.stdout.strip())
    assert match, result.stdout
    return int(match[1]), match[2]


def assert_refused(result: subprocess.CompletedProcess[str], *needles: str) -> str:
    """Exit 1 with one line on stderr, no traceback, holding every needle; return the line."""
    assert result.returncode == 1, (result.returncode, result.stdout, result.stderr)
    lines = result.stderr.splitlines()
    assert len(lines) == 1, result.stderr
    assert "Traceback" not in result.stderr
    for needle in needles:
        assert needle in lines[0], (needle, lines[0])
    return lines[0]


def preload(url: str, lines: list[Any]) -> tuple[int, str]:
    """Load events into an initialized store in-process; return the new head."""
    from consentgate import Store
    from consentgate.service import load_events

    store = Store(url)
    try:
        result = load_events(store, io.BytesIO(jsonl(lines).encode()), "preload")
    finally:
        store.dispose()
    return result.head_seq, result.head_hash


def count_rows(url: str, table: str, where: str = "1 = 1", **params: Any) -> int:
    """How many rows of ``table`` match, read with raw SQL."""
    with raw_sql(url) as connection:
        return int(
            connection.execute(text(f"SELECT count(*) FROM {table} WHERE {where}"), params).scalar_one()
        )
