"""The operations every adapter calls: init, load, decide, verify, head.

Each is a plain function over a :class:`~consentgate.store.Store`; the CLI, the REST API
and the web UI only parse input, call one of these and render what comes back.
"""

from __future__ import annotations

import multiprocessing
import os
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from concurrent.futures import ProcessPoolExecutor
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any, BinaryIO

from .errors import InvalidInput
from .ledger import VerifyReport, verify_entries
from .runtime import no_last_collection
from .store import COLUMNAR_FROM, LoadResult, Store, load_lines, read_head

_PARALLEL_FROM = 100_000  # below this many entries, starting workers costs more than it saves
_CHUNK = 50_000

if TYPE_CHECKING:
    from .core import Decision, Policy, World
    from .decider import Decider


def init_store(store: Store) -> str:
    """Create or migrate the store (idempotent); return its schema version."""
    from .store.migrate import upgrade

    return upgrade(store)


def load_events(
    store: Store,
    stream: BinaryIO,
    source: str,
    progress: Callable[[int], None] | None = None,
    catalog: str | Path | None = None,
    keep: bool = True,
) -> LoadResult:
    """Import a JSON Lines stream of events, all or nothing (see :func:`store.load_lines`);
    an erasure may name an item of ``catalog``, a Parquet content catalog outside the store.

    A large load also keeps the store's event columns and state for the next dataset
    build (see :func:`keep_loaded_columns`), unless ``keep`` is false: a caller that
    reports the load first then calls that itself.
    """
    result = load_lines(store, stream, source, progress, catalog)
    if keep:
        keep_loaded_columns(store, result.total)
    return result


def keep_loaded_columns(store: Store, loaded: int) -> bool:
    """Keep the store's event columns and its state where dataset builds look for them
    (:func:`~consentgate.bulk.kept_folder`), after a load of ``loaded`` new events:
    only a load of ``COLUMNAR_FROM`` events or more keeps anything (see
    :func:`~consentgate.bulk.keep_columns`): after a smaller one the next build reads the
    new events row by row anyway, and this returns at once, without loading the libraries
    of the bulk path. The next build then starts from the kept state: as it is without a
    catalog, with a catalog's items added to it where the store holds no content.

    The events are stored already: a copy that cannot be kept (a full disk, a folder that
    cannot be written) is left for the next build to make, and the load stands.
    Whether a copy was kept.
    """
    if loaded < COLUMNAR_FROM:
        return False
    import pyarrow as pa

    from .bulk import keep_columns, kept_folder
    from .errors import StoreError

    folder = kept_folder(store.url)
    if folder is None:
        return False
    try:
        with store.read() as connection:
            return keep_columns(connection, folder)
    except (OSError, ValueError, StoreError, pa.ArrowException):
        return False


def verify_log(store: Store, workers: int | None = None) -> VerifyReport:
    """Re-derive every log entry from the stored rows and check the chain.

    Large logs are re-derived in parallel by ``workers`` processes (default: one per
    core) while this process checks the chain in order.

    Raises:
        LogTampered: naming the first bad entry and what is wrong with it.
    """
    from .store.read import find_logged_digest, iter_log, iter_records, record_digests

    store.require_ready()
    workers = os.cpu_count() or 1 if workers is None else workers
    with store.read() as connection:
        head_seq, _ = read_head(connection)
        find = lambda digest: find_logged_digest(connection, digest)  # noqa: E731
        if workers < 2 or head_seq < _PARALLEL_FROM:
            return verify_entries(iter_log(connection), iter_records(connection), find)
        # Rows past the head read here are checked by the last range, which is open-ended.
        bounds = [(low, low + _CHUNK - 1) for low in range(1, head_seq + 1, _CHUNK)]
        bounds[-1] = (bounds[-1][0], 2**62)
        url = store.engine.url.render_as_string(hide_password=False)
        context = multiprocessing.get_context("spawn")
        with ProcessPoolExecutor(workers, mp_context=context) as pool:
            chunks = pool.map(record_digests, [url] * len(bounds), *zip(*bounds))
            records = (record for chunk in chunks for record in chunk)
            return verify_entries(iter_log(connection), records, find)


def count_events(store: Store) -> dict[str, int]:
    """How many events of each type the store holds."""
    from sqlalchemy import func, select

    from .store.schema import EVENT_SPECS

    store.require_ready()
    with store.read() as connection:
        return {
            type_: connection.execute(select(func.count()).select_from(spec.table)).scalar_one()
            for type_, spec in EVENT_SPECS.items()
        }


def log_head(store: Store) -> tuple[int, str]:
    """The log's head: its last sequence number and hash."""
    store.require_ready()
    with store.read() as connection:
        return read_head(connection)


def load_policy(path: str | Path | None) -> Policy:
    """The policy in a TOML file, or the shipped default when ``path`` is None."""
    from .core import Policy

    if path is None:
        return Policy.default()
    try:
        text = Path(path).read_text(encoding="utf-8")
    except OSError as exc:
        raise InvalidInput(f"cannot read the policy file {path}: {exc.strerror}") from None
    try:
        return Policy.from_toml(text)
    except ValueError as exc:
        raise InvalidInput(f"policy file {path}: {exc}") from None


def build_world(
    store: Store,
    items: Iterable[str] | None = None,
    times: Sequence[datetime] | None = None,
    upto: int | None = None,
    purposes: Mapping[str, Iterable[str]] | None = None,
) -> World:
    """An in-memory view of the store: all of it, or only what decisions on ``items``
    (as of ``times``, when given; about ``purposes``, each item's, when given) read;
    with ``upto``, as of that log sequence number (only with ``items``)."""
    from .core import World
    from .core.collector import collector_paused
    from .model.times import to_micros
    from .store.read import iter_events, iter_events_for_items

    store.require_ready()
    world = World()
    moments = [to_micros(moment) for moment in times] if times else None
    with store.read() as connection, collector_paused():
        events = iter_events(connection) if items is None else \
            iter_events_for_items(connection, items, moments, upto, purposes)
        world.apply_many(events)
    return world


_SPLIT_FROM = 20_000  # questions per process at least: below this, a second one costs more than it saves
# Processes still starting when a batch is split begin their shares about half a second
# after this one (a tenth of a 50,000-question share): this one then takes this much
# more than an even share, and the others less, so that all finish together.
_HEAD_START = 0.07


class BatchWorkers:
    """Processes that share the questions of large batches with this one.

    A process takes about half a second to start and import what it needs; started
    before a batch is read, it does that while the caller reads. Use it as a context
    manager and pass it to :func:`decide_questions` or :func:`decide_questions_json`.
    """

    def __init__(self, processes: int) -> None:
        self.processes = processes
        self.pool = ProcessPoolExecutor(
            processes, mp_context=multiprocessing.get_context("spawn"), initializer=no_last_collection
        )
        self._starting = [self.pool.submit(_started) for _ in range(processes)]

    def ready(self) -> bool:
        """Whether every process has started and imported what it needs."""
        return all(future.done() for future in self._starting)

    def close(self) -> None:
        """Stop the processes (waiting for any task still running)."""
        self.pool.shutdown(cancel_futures=True)

    def __enter__(self) -> BatchWorkers:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def batch_workers(questions: int) -> BatchWorkers | None:
    """Workers for a batch of about ``questions`` questions, started now; None when a
    batch that size is answered faster by this process alone."""
    workers = _workers_for(questions)
    return BatchWorkers(workers - 1) if workers > 1 else None


def _started() -> None:
    """A task that only makes a pool start its process (and import this module)."""


def _workers_for(questions: int) -> int:
    return max(1, min(os.cpu_count() or 1, questions // _SPLIT_FROM))


def decide_questions(
    store: Store,
    questions: Sequence[tuple[str, str, datetime]],
    policy: Policy,
    workers: int | None = None,
    pool: BatchWorkers | None = None,
) -> list[Decision]:
    """Decide each (item, purpose, time) question, in order, from one consistent view.

    A large batch is shared between processes (``workers``; by default one per core,
    each with at least 20,000 questions, or this process and those of ``pool``, from
    :func:`batch_workers`). Each reads only what its share depends on, as of the same
    log sequence number, so every answer sees the same log.
    """
    return [decision for share in _shares(store, questions, policy, workers, pool, False) for decision in share]


def decide_questions_json(
    store: Store,
    questions: Sequence[tuple[str, str, datetime]],
    policy: Policy,
    workers: int | None = None,
    pool: BatchWorkers | None = None,
) -> Iterator[bytes]:
    """:func:`decide_questions`, each decision as one line of JSON (CONTRACT.md §2), in
    order; processes sharing a batch send their lines, not decision objects."""
    for text in decide_questions_jsonl(store, questions, policy, workers, pool):
        yield from text.splitlines(keepends=True)


def decide_questions_jsonl(
    store: Store,
    questions: Sequence[tuple[str, str, datetime]],
    policy: Policy,
    workers: int | None = None,
    pool: BatchWorkers | None = None,
) -> Iterator[bytes]:
    """The lines of :func:`decide_questions_json`, in order, as a few large texts (one
    per share of the batch) to write out whole: written line by line to an unbuffered
    output (``PYTHONUNBUFFERED``, as many containers set), 100,000 lines would be
    100,000 system calls."""
    return _shares(store, questions, policy, workers, pool, True)


def _shares(
    store: Store,
    questions: Sequence[tuple[str, str, datetime]],
    policy: Policy,
    workers: int | None,
    pool: BatchWorkers | None,
    as_json: bool,
) -> Iterator[Any]:
    if pool is not None:
        workers = min(1 + pool.processes, _workers_for(len(questions)))
    elif workers is None:
        workers = _workers_for(len(questions))
    if workers < 2 or len(questions) < 2:
        yield _decide_share(store, questions, policy, None, as_json)
        return
    store.require_ready()
    with store.read() as connection:
        head, _ = read_head(connection)
    helpers = pool or BatchWorkers(workers - 1)
    shares = _split(questions, workers, 0.0 if helpers.ready() else _HEAD_START)
    url = store.engine.url.render_as_string(hide_password=False)
    try:
        others = [helpers.pool.submit(decide_share, url, share, policy, head, as_json) for share in shares[1:]]
        yield _decide_share(store, shares[0], policy, head, as_json)
        for future in others:
            yield future.result()
    finally:
        if pool is None:
            helpers.close()


def _split(questions: Sequence[Any], parts: int, lead: float) -> list[Sequence[Any]]:
    """``questions`` in ``parts`` consecutive shares: the first ``lead`` (a fraction) more
    than an even share, the others even."""
    first = min(len(questions), round(len(questions) / parts * (1 + lead)))
    size = max(1, -(-(len(questions) - first) // (parts - 1)))
    return [questions[:first]] + [questions[start : start + size] for start in range(first, len(questions), size)]


def _decide_share(
    store: Store, questions: Sequence[tuple[str, str, datetime]], policy: Policy, upto: int | None, as_json: bool
) -> Any:
    from .core import decide_many

    asked: dict[str, set[str]] = {}
    for item, purpose, _ in questions:
        asked.setdefault(item, set()).add(purpose)
    world = build_world(store, asked, [at for _, _, at in questions], upto, asked)
    decisions = decide_many(world, questions, policy)
    return _json_lines(decisions) if as_json else decisions


def _json_lines(decisions: Sequence[Decision]) -> bytes:
    """Each decision's JSON (``Decision.to_json``) as one line, all in one text.

    The text of a time and of a tuple of reasons is made once and shared by the lines
    that repeat it, and basis entries are written as they are, not copied first.
    """
    import orjson

    from .model.times import format_time

    dumps, newline = orjson.dumps, orjson.OPT_APPEND_NEWLINE
    times: dict[datetime, str] = {}
    reasons: dict[tuple[Any, ...], list[dict[str, str]]] = {(): []}
    lines = []
    for decision in decisions:
        at = times.get(decision.at)
        if at is None:
            at = times[decision.at] = format_time(decision.at)
        said = reasons.get(decision.reasons)
        if said is None:
            said = reasons[decision.reasons] = [reason.to_json() for reason in decision.reasons]
        lines.append(dumps({"item": decision.item, "purpose": decision.purpose, "at": at,
                            "allowed": decision.allowed, "reasons": said, "basis": decision.basis,
                            "policy": decision.policy}, option=newline))
    # One text of lines: orjson's own buffers are several times the size of a line, so
    # each is copied into the text and freed at once; one text also crosses between
    # processes faster than a list of lines.
    return b"".join(lines)


def decide_share(
    url: str, questions: Sequence[tuple[str, str, datetime]], policy: Policy, upto: int, as_json: bool
) -> Any:
    """Decide a share of a batch in a worker process, as of log sequence number ``upto``:
    the decisions, or (``as_json``) their JSON lines as one text."""
    store = Store(url)
    try:
        return _decide_share(store, questions, policy, upto, as_json)
    finally:
        store.dispose()


def build_dataset(
    store: Store,
    name: str,
    purpose: str,
    out: str | Path,
    policy: Policy,
    kinds: list[str] | None = None,
    at: datetime | None = None,
    engine: str = "duckdb",
    catalog: str | Path | None = None,
) -> dict[str, Any]:
    """Select every eligible item into a registered dataset (see :mod:`consentgate.datasets.build`)."""
    from .datasets.build import build_dataset as build

    return build(store, name, purpose, out, policy, kinds, at, engine, catalog)


def rebuild_dataset(
    store: Store,
    name: str,
    policy: Policy,
    out: str | Path | None = None,
    at: datetime | None = None,
    engine: str = "duckdb",
) -> dict[str, Any]:
    """A new version of a dataset without the items that lost eligibility."""
    from .datasets.build import rebuild_dataset as rebuild

    return rebuild(store, name, policy, out, at, engine)


def list_datasets(store: Store) -> list[dict[str, Any]]:
    """Every registered dataset version, oldest first."""
    from .datasets import registry

    store.require_ready()
    with store.read() as connection:
        return [record.doc for record in registry.datasets(connection)]


def register_model(store: Store, name: str, dataset: str, shards: int = 1) -> dict[str, Any]:
    """Record a model trained on a dataset, its items split into ``shards`` shards."""
    from .datasets.models import register_model as register

    return register(store, name, dataset, shards)


def impact(
    store: Store,
    policy: Policy,
    subject: str | None = None,
    item: str | None = None,
    at: datetime | None = None,
    decider: Decider | None = None,
) -> dict[str, Any]:
    """Registered dataset items no longer eligible as of ``at``, and model shards to retrain.

    A warm ``decider`` of the same store and policy (an API worker's) answers for the
    items in the store from memory, brought up to date first.
    """
    from .datasets.impact import impact as find_impact

    return find_impact(store, policy, subject, item, at, decider)
