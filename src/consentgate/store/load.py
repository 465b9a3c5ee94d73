"""Importing JSON Lines of events: validate, deduplicate, resolve references, log.

A file is one transaction: every line is checked, stored and logged, or nothing is.
Lines stream through in batches, so memory stays bounded by the batch size and by the
number of references that point forward in the file.
"""

from __future__ import annotations

import math
import multiprocessing
import os
import re
import threading
import time
from collections import Counter, deque
from collections.abc import Callable, Iterable
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ValidationError
from sqlalchemy import Connection, select

from ..errors import InvalidInput
from ..ledger import digest_of, link
from ..model.events import EVENT_ADAPTER, EVENT_CLASSES
from .append import insert_rows
from .engine import Store, read_head
from .rows import event_record
from .schema import EVENT_SPECS, RecordSpec, log

BATCH_LINES = 2000
_QUERY_CHUNK = 500

# field -> the record types a reference in it may name; "*" marks a list of references.
REFERENCES: dict[str, tuple[tuple[str, tuple[str, ...], bool], ...]] = {
    "group": (("account", ("account",), False),),
    "user": (("account", ("account",), False), ("groups", ("group",), True)),
    "terms_acceptance": (("account", ("account",), False), ("version", ("terms",), False)),
    "consent": (("meeting", ("meeting",), False),),
    "meeting": (("account", ("account",), False),),
    "participant": (("meeting", ("meeting",), False),),
    "content": (
        ("account", ("account",), False),
        ("meeting", ("meeting",), False),
        ("derived_from", ("content",), True),
    ),
    "service_data": (("account", ("account",), False),),
    "delete": (("item", ("content", "service_data"), False),),
}
# (event type, field) of the references that may name an item of a catalog outside the
# store: an erasure's item. (Content in the store derives from content in the store.)
_CATALOG_REFERENCES = frozenset({("delete", "item")})
_SETTING_TARGETS: dict[str, tuple[str, ...]] = {"account": ("account",), "group": ("group",)}
_TYPE_NAMES = ", ".join(EVENT_CLASSES)
_SAFE_INT = 2**53 - 1


@dataclass
class LoadResult:
    """What a load stored: new events per type, lines already stored, the new head."""

    stored: Counter[str] = field(default_factory=Counter)
    unchanged: int = 0
    head_seq: int = 0
    head_hash: str = ""

    @property
    def total(self) -> int:
        return sum(self.stored.values())


@dataclass
class _Reference:
    line: int
    type_: str  # of the event that holds it
    field: str
    targets: tuple[str, ...]
    value: str

    @property
    def may_be_in_catalog(self) -> bool:
        return (self.type_, self.field) in _CATALOG_REFERENCES


def _where(source: str, line: int, field_name: str | None = None) -> str:
    place = f"{source}, line {line}"
    return f"{place}, field `{field_name}`" if field_name else place


def _validation_message(source: str, line: int, error: ValidationError) -> str:
    first = error.errors(include_url=False)[0]
    kind, loc, msg = first["type"], first["loc"], first["msg"]
    if kind == "json_invalid":
        # The parser counts the line's own newline as a second line: an error there is at
        # the end of the line, not at its column 0.
        detail = re.sub(
            r" at line (\d+) column (\d+)",
            lambda m: " at column " + m[2] if m[1] == "1" else " at the end of the line",
            msg.removeprefix("Invalid JSON: "),
        )
        return f"{_where(source, line)}: not valid JSON ({detail})"
    if kind in {"dict_type", "model_type", "model_attributes_type"} and not loc:
        return f"{_where(source, line)}: expected a JSON object"
    if kind == "union_tag_not_found":
        return f"{_where(source, line, 'type')}: missing; expected one of {_TYPE_NAMES}"
    if kind == "union_tag_invalid":
        got = first.get("ctx", {}).get("tag", "")
        return f"{_where(source, line, 'type')}: unknown type {got!r}; expected one of {_TYPE_NAMES}"
    path = ""
    for part in loc[1:]:
        path += f"[{part}]" if isinstance(part, int) else (f".{part}" if path else str(part))
    if kind == "missing":
        return f"{_where(source, line, path)}: required, missing"
    msg = msg.removeprefix("Value error, ")
    value = first.get("input")
    shown = f" (got {value!r})" if isinstance(value, (str, int, float, bool)) or value is None else ""
    return f"{_where(source, line, path)}: {msg[:1].lower() + msg[1:]}{shown}"


@cache
def _key_width(spec: RecordSpec) -> int:
    """How many characters an id may have: the width of the table's key column."""
    return int(getattr(spec.table.c[spec.key].type, "length", None) or 2**31)  # type: ignore[index]


def _unstorable(value: Any, path: str = "") -> tuple[str, str] | None:
    """The first value under ``value`` that the store cannot keep as given: (path, why)."""
    if isinstance(value, str):
        return (path, "text cannot hold the NUL character (\\u0000)") if "\x00" in value else None
    if isinstance(value, float):
        return None if math.isfinite(value) else (path, "NaN and infinities are not JSON numbers")
    if isinstance(value, int) and not isinstance(value, bool):
        if -_SAFE_INT <= value <= _SAFE_INT:
            return None
        return path, f"integers beyond ±{_SAFE_INT} cannot be kept exactly (RFC 8785)"
    if isinstance(value, BaseModel):
        items: Iterable[tuple[Any, Any]] = iter(value)
    elif isinstance(value, dict):
        items = value.items()
    elif isinstance(value, list):
        items = enumerate(value)
    else:
        return None
    for name, item in items:
        shown = name.replace("\x00", "\\u0000") if isinstance(name, str) else name
        inner = f"{path}[{name}]" if isinstance(name, int) else (f"{path}.{shown}" if path else str(shown))
        found = _unstorable(name, inner) if isinstance(name, str) else None
        found = found or _unstorable(item, inner)
        if found:
            return found
    return None


# One prepared line: number, type, column values, digest, key, references (field,
# target types, value). Preparing is pure, so it can run in a worker process.
_Prepared = tuple[int, str, list[Any], str, str, list[tuple[str, tuple[str, ...], str]]]


def _refuse_unstorable(source: str, number: int, event: BaseModel) -> None:
    found = _unstorable(event)
    if found:
        raise InvalidInput(f"{_where(source, number, found[0])}: {found[1]}")


def _references(type_: str, event: Any) -> list[tuple[str, tuple[str, ...], str]]:
    if type_ == "setting":
        targets = _SETTING_TARGETS.get(event.scope)
        return [("target", targets, event.target)] if targets else []
    found: list[tuple[str, tuple[str, ...], str]] = []
    for field_name, targets, many in REFERENCES.get(type_, ()):
        value = getattr(event, field_name)
        if value is not None:
            found.extend((field_name, targets, one) for one in (value if many else (value,)))
    return found


def prepare_lines(source: str, batch: list[tuple[int, bytes]]) -> list[_Prepared]:
    """Validate lines and derive each event's row, digest, key and references.

    Raises:
        InvalidInput: at the first bad line, naming it and the field.
    """
    prepared: list[_Prepared] = []
    for number, raw in batch:
        try:
            event = EVENT_ADAPTER.validate_json(raw)
        except ValidationError as error:
            raise InvalidInput(_validation_message(source, number, error)) from None
        # Bytes that may announce a value no store keeps as given (NUL, NaN, infinities):
        # only the rare line holding one is walked value by value.
        if b"\\u0000" in raw or b"NaN" in raw or b"Infinity" in raw:
            _refuse_unstorable(source, number, event)
        spec = EVENT_SPECS[event.type]
        try:
            values, canonical = event_record(spec, event)
        except ValueError:  # a number RFC 8785 cannot carry
            _refuse_unstorable(source, number, event)
            raise
        digest = digest_of(canonical)
        key = str(getattr(event, spec.key)) if spec.key else digest
        if spec.key and len(key) > _key_width(spec):
            raise InvalidInput(
                f"{_where(source, number, spec.key)}: at most {_key_width(spec)} characters (got {len(key)})"
            )
        prepared.append((number, spec.type, values, digest, key, _references(spec.type, event)))
    return prepared


_WORKER_FROM_BATCH = 4  # a worker costs a second to start: only long files get one


def _follow_parent(parent: int) -> None:
    """In a worker: exit as soon as the loading process is gone, however it ended."""

    def watch() -> None:
        while os.getppid() == parent:
            time.sleep(0.5)
        os._exit(1)

    threading.Thread(target=watch, daemon=True).start()


class _Preparer:
    """Prepares batches of lines, in a worker process once a file proves long.

    Validation and canonical JSON take most of a load's time and need nothing from the
    store, so a second core does them for the next batch while this one stores the last.
    """

    AHEAD = 3  # batches in flight: enough to keep the worker busy, bounded memory

    def __init__(self, source: str) -> None:
        self.source = source
        self.pool: Any = None
        self.futures: deque[Any] = deque()
        self.batches = 0

    def __enter__(self) -> _Preparer:
        return self

    def __exit__(self, *_exc: object) -> None:
        if self.pool is not None:
            for future in self.futures:
                future.cancel()
            self.pool.shutdown(wait=True, cancel_futures=True)

    def submit(self, batch: list[tuple[int, bytes]]) -> list[list[_Prepared]]:
        """Hand over a batch; return the batches prepared so far, in order."""
        self.batches += 1
        if self.pool is None and self.batches == _WORKER_FROM_BATCH:
            # A fresh interpreter, not a fork: a forked worker would hold this process's
            # database connection open, and with it the write lock, if this one were killed.
            context = multiprocessing.get_context("spawn")
            self.pool = ProcessPoolExecutor(1, mp_context=context, initializer=_follow_parent,
                                            initargs=(os.getpid(),))
        if self.pool is None:
            return [prepare_lines(self.source, batch)]
        self.futures.append(self.pool.submit(prepare_lines, self.source, batch))
        done = []
        while len(self.futures) >= self.AHEAD:
            done.append(self.futures.popleft().result())
        return done

    def finish(self, batch: list[tuple[int, bytes]]) -> list[list[_Prepared]]:
        """The remaining prepared batches, the last one included."""
        done = [future.result() for future in self.futures]
        self.futures.clear()
        return done + [prepare_lines(self.source, batch)]


class _Loader:
    def __init__(self, connection: Connection, source: str, catalog: str | Path | None = None) -> None:
        self.connection = connection
        self.source = source
        self.catalog = catalog
        self.result = LoadResult()
        self.seq, self.hash = read_head(connection)
        self.known: dict[tuple[str, ...], set[str]] = {}
        self.pending: list[_Reference] = []  # references of the batch being stored
        self.deferred: list[_Reference] = []  # references to something later in the file

    def run(self, lines: Iterable[bytes], progress: Callable[[int], None] | None) -> LoadResult:
        batch: list[tuple[int, bytes]] = []
        seen_any = False
        with _Preparer(self.source) as preparer:
            for number, raw in enumerate(lines, start=1):
                if progress is not None:
                    progress(len(raw))
                if not raw.strip():
                    continue
                seen_any = True
                batch.append((number, raw))
                if len(batch) >= BATCH_LINES:
                    for prepared in preparer.submit(batch):
                        self._store_batch(prepared)
                    batch = []
            if not seen_any:
                raise InvalidInput(f"{self.source}: holds no events (an empty file is not a load)")
            for prepared in preparer.finish(batch):
                self._store_batch(prepared)
        self._resolve_deferred()
        self.result.head_seq, self.result.head_hash = self.seq, self.hash
        return self.result

    def _existing(self, spec: RecordSpec, keys: list[str]) -> dict[str, str]:
        column = spec.table.c[spec.key] if spec.key else spec.table.c.digest
        found: dict[str, str] = {}
        for start in range(0, len(keys), _QUERY_CHUNK):
            chunk = keys[start : start + _QUERY_CHUNK]
            rows = self.connection.execute(select(column, spec.table.c.digest).where(column.in_(chunk)))
            found.update((row[0], row[1]) for row in rows)
        return found

    def _store_batch(self, prepared: list[_Prepared]) -> None:
        keys_by_type: dict[str, list[str]] = {}
        for item in prepared:
            keys_by_type.setdefault(item[1], []).append(item[4])
        existing = {
            type_: self._existing(EVENT_SPECS[type_], sorted(set(keys))) for type_, keys in keys_by_type.items()
        }
        rows_by_table: dict[str, list[tuple[Any, ...]]] = {}
        log_rows: list[tuple[Any, ...]] = []
        for number, type_, values, digest, key, references in prepared:
            spec = EVENT_SPECS[type_]
            stored = existing[type_]
            if key in stored:
                if stored[key] != digest:
                    raise InvalidInput(
                        f"{_where(self.source, number, spec.key)}: {spec.type} {key!r} already exists "
                        "with other fields (events are immutable: record a change as a new event)"
                    )
                self.result.unchanged += 1
                continue
            stored[key] = digest
            self.seq += 1
            self.hash = link(self.hash, self.seq, digest)
            rows_by_table.setdefault(spec.type, []).append((self.seq, digest, *values))
            log_rows.append((self.seq, spec.type, key, digest, self.hash))
            self.result.stored[type_] += 1
            self.pending.extend(_Reference(number, type_, *reference) for reference in references)
        for type_, rows in rows_by_table.items():
            insert_rows(self.connection, EVENT_SPECS[type_].table, rows)
        if log_rows:
            insert_rows(self.connection, log, log_rows)
        self._check_references()

    def _lookup(self, targets: tuple[str, ...], values: set[str]) -> set[str]:
        known = self.known.setdefault(targets, set())
        missing = sorted(values - known)
        for target in targets:
            if not missing:
                break
            spec = EVENT_SPECS[target]
            found = set(self._existing(spec, missing))
            known.update(found)
            missing = [value for value in missing if value not in found]
        if len(known) > 200_000:  # bounded memory: forget and ask the store again
            known.clear()
        return set(missing)

    def _check_references(self) -> None:
        pending, self.pending = self.pending, []
        by_targets: dict[tuple[str, ...], set[str]] = {}
        for reference in pending:
            by_targets.setdefault(reference.targets, set()).add(reference.value)
        missing = {targets: self._lookup(targets, values) for targets, values in by_targets.items()}
        self.deferred.extend(r for r in pending if r.value in missing[r.targets])

    def _resolve_deferred(self) -> None:
        if not self.deferred:
            return
        self.known.clear()
        self.pending, self.deferred = self.deferred, []
        self._check_references()
        if self.deferred and self.catalog is not None:
            self.deferred = _outside_catalog(self.deferred, self.catalog)
        if self.deferred:
            bad = min(self.deferred, key=lambda reference: reference.line)
            what = " or ".join(bad.targets)
            where = "in the store, nor anywhere in this file"
            if self.catalog is not None and bad.may_be_in_catalog:
                where += f", nor in the catalog {self.catalog}"
            raise InvalidInput(f"{_where(self.source, bad.line, bad.field)}: {what} {bad.value!r} does not exist "
                               f"(not {where})")


def _outside_catalog(references: list[_Reference], catalog: str | Path) -> list[_Reference]:
    """``references`` less the erasures of items of ``catalog`` (items kept outside the
    store, judged by ``dataset build --catalog``)."""
    from ..bulk import catalog_ids_among

    asked = {reference.value for reference in references if reference.may_be_in_catalog}
    if not asked:
        return references
    try:
        found = catalog_ids_among(catalog, sorted(asked))
    except ValueError as exc:
        raise InvalidInput(f"--catalog {catalog}: {exc}") from None
    return [reference for reference in references if not reference.may_be_in_catalog or reference.value not in found]


def load_lines(
    store: Store,
    lines: Iterable[bytes],
    source: str,
    progress: Callable[[int], None] | None = None,
    catalog: str | Path | None = None,
) -> LoadResult:
    """Import JSON Lines of events into ``store`` as one transaction.

    Args:
        store: an initialized store.
        lines: the file's lines, as bytes.
        source: the file's name, for error messages.
        progress: called with the byte length of each line read.
        catalog: a Parquet content catalog kept outside the store (as ``dataset build
            --catalog`` reads it): an erasure (``delete``) may name one of its items.

    Raises:
        InvalidInput: naming the line, the field and what was expected; nothing is stored.
    """
    store.require_ready()
    if catalog is not None and not Path(catalog).exists():
        raise InvalidInput(f"--catalog {catalog}: no such file or folder")
    with store.write() as connection:
        if not store.is_sqlite:
            # A load can add millions of rows in one transaction, while the planner's
            # statistics still describe the tables before it: without this it would
            # choose sequential scans for the per-batch id lookups, quadratic in all.
            connection.exec_driver_sql("SET LOCAL enable_seqscan = off")
        result = _Loader(connection, source, catalog).run(lines, progress)
    store.checkpoint()
    return result
