"""A whole ``dataset build`` at 10,000,000 items: state read, select, manifest, registration.

    python benchmarks/bench_build.py [--items 10000000] [--repeat 3] [--fresh]

The items live in a Parquet content catalog (``--catalog``), as catalogs that size do;
the store holds the rest of the world as events loaded with the product's own import:
N/10 subjects (70 % of them users in groups), N/5 meetings of 3 participants, N/5
consents, tiered settings, two terms versions and their acceptances (about 1.1 N
events). Event lines and the catalog are written vectorised (Arrow string kernels, no
Python loop per row). The store is kept in ``bench-out/`` and reused by later runs of
the same size (``--fresh`` loads it again).

Then, at T after every item exists, for ai.training:

- reading the state (store + catalog) as columns through ADBC, and row by row through
  the SQLAlchemy connection, in the same run, best of ``--repeat``; then with the
  store's columns kept by an earlier read (the state worked out again from them and
  the catalog), and with the whole state kept by an earlier read of the same events and
  catalog files;
- ``select`` on DuckDB; writing ``manifest.parquet`` alone;
- the whole build in process (``build_dataset``: read, select, manifest, dataset.json,
  registration in the log, lineage event), best of ``--repeat``, with nothing kept
  (the store's kept folder removed before each), after a large ``load`` kept the
  store's columns and its own state (the catalog's items then added to that state),
  after a build before it, and after a
  build before it and one consent withdrawn since (an item owner's, loaded before each
  run and left in the store), and after a build before it and a day since: N/500 new
  meetings with their lines, N/1000 consents and N/10000 settings loaded, and the
  meetings' items (four each) written as a new file of the catalog, now a folder whose
  first file is the catalog above;
- ``consentgate dataset build`` as a command, end to end, and its peak RSS, the first
  three ways.
"""

from __future__ import annotations

import argparse
import gc
import json
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any

from consentgate.runtime import return_freed_memory

return_freed_memory()  # as the command does, before Arrow is first loaded

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq
import sqlalchemy as sa
from _common import OUT, fresh_name, machine, table, timed
from bench_select import AI_KEY, AT, CONTENT, SHARING_KEY, T0, T1, choice, ids, peak_while, rss_mib, sha256s

from consentgate import Store, init_store
from consentgate.bulk import kept_folder, select, state_tables_from_store
from consentgate.core import Policy
from consentgate.datasets import manifest
from consentgate.datasets.build import allowed_rows, build_dataset
from consentgate.model.times import format_time
from consentgate.service import keep_loaded_columns
from consentgate.store import load_lines, read_head
from consentgate.store.schema import EVENT_SPECS

PURPOSE = "ai.training"
_FILE_LINES = 1_000_000


def text(*parts: Any) -> pa.Array:
    """Each row's parts joined (literal strings or string arrays), vectorised."""
    return pc.binary_join_element_wise(*parts, "")


def times(rng: np.random.Generator, n: int, low: int = T0, high: int = T1) -> pa.Array:
    """``n`` ISO 8601 times (whole seconds, UTC) between two instants in microseconds."""
    seconds = rng.integers(low // 10**6, high // 10**6, n) * 10**6
    return pc.strftime(pa.array(seconds).cast(pa.timestamp("us", tz="UTC")), format="%Y-%m-%dT%H:%M:%SZ")


def json_list(values: list[str]) -> str:
    return "[" + ",".join(f'"{v}"' for v in values) + "]"


def events(n: int, seed: int = 7) -> list[pa.Array]:
    """The store's events as JSON lines (one array per part, in an order that loads)."""
    rng = np.random.default_rng(seed)
    n_meetings, n_subjects, n_accounts = max(1, n // 5), max(3, n // 10), max(1, n // 500)
    n_groups = 5 * n_accounts
    parts: list[pa.Array] = []
    grants = {
        "v1": [("10.2", "service.provision", list(CONTENT), []),
               ("10.4", "ai.training", list(CONTENT), ["consent", f"setting:{AI_KEY}"])],
        "v2": [("10.2", "service.provision", list(CONTENT), []),
               ("10.4", "ai.training", list(CONTENT), ["consent", f"setting:{AI_KEY}", "notice:ai_training"]),
               ("10.6", "service.improvement", ["telemetry", "usage"], [f"setting:{SHARING_KEY}"])],
    }
    effective = {"v1": "2023-01-01T00:00:00Z", "v2": "2024-06-01T00:00:00Z"}
    parts.append(pa.array([json.dumps({
        "type": "terms", "version": version, "effective_at": effective[version],
        "sections": [{"id": section, "grants": [{"purpose": purpose, "data": data, "requires": requires}]}
                     for section, purpose, data, requires in g]}) for version, g in grants.items()]))
    accounts = np.arange(n_accounts)
    parts.append(text('{"type":"account","id":"', ids("a", accounts), '","region":"',
                      choice(rng, ["EU", "US", "UK"], n_accounts, [0.35, 0.55, 0.10]), '"}'))
    priority = choice(rng, [',"priority":1', ',"priority":2', ',"priority":3', ""], n_groups)
    parts.append(text('{"type":"group","id":"', ids("g", np.arange(n_groups)), '","account":"',
                      ids("a", np.arange(n_groups) // 5), '"', priority, "}"))
    subject_account = np.arange(n_subjects) % n_accounts
    users = np.flatnonzero(rng.random(n_subjects) < 0.7)
    group_of = subject_account[users] * 5 + rng.integers(0, 5, len(users))
    parts.append(text('{"type":"user","id":"', ids("u", users), '","account":"', ids("a", subject_account[users]),
                      '","groups":["', ids("g", group_of), '"]}'))
    for version, share in (("v1", 0.95), ("v2", 0.70)):
        accepted = np.flatnonzero(rng.random(n_accounts) < share)
        at = "2023-01-02T00:00:00Z" if version == "v1" else "2024-06-02T00:00:00Z"
        parts.append(text('{"type":"terms_acceptance","account":"', ids("a", accepted),
                          f'","version":"{version}","at":"{at}"}}'))
    for scope, prefix, targets, value_p, lock_p in (
        ("account", "a", accounts, 0.85, 0.10),
        ("group", "g", rng.choice(n_groups, n_groups * 3 // 10, replace=False), 0.7, 0.2),
        ("user", "u", rng.choice(users, len(users) // 5, replace=False), 0.6, 0.0),
    ):
        k = len(targets)
        parts.append(text(f'{{"type":"setting","scope":"{scope}","target":"', ids(prefix, targets),
                          f'","key":"{AI_KEY}","value":', choice(rng, ["true", "false"], k, [value_p, 1 - value_p]),
                          ',"locked":', choice(rng, ["true", "false"], k, [lock_p, 1 - lock_p]),
                          ',"at":"', times(rng, k, T0, T0 + 10**13), '"}'))
    meeting_account = rng.integers(0, n_accounts, n_meetings)
    host = rng.integers(0, n_subjects, n_meetings)
    parts.append(text('{"type":"meeting","id":"', ids("m", np.arange(n_meetings)), '","account":"',
                      ids("a", meeting_account), '","host":"', ids("u", host), '"}'))
    # The host and two others per meeting; most were told of everything.
    offset = rng.integers(1, n_subjects - 2, n_meetings)
    people = np.stack([host, (host + offset) % n_subjects, (host + offset + 1) % n_subjects], 1).reshape(-1)
    notified = choice(rng, ['["recording","ai_training"]', '["recording"]', "[]"], 3 * n_meetings, [0.9, 0.07, 0.03])
    parts.append(text('{"type":"participant","meeting":"', ids("m", np.repeat(np.arange(n_meetings), 3)),
                      '","subject":"', ids("u", people), '","notified":', notified, "}"))
    k = n // 5
    spoken = json_list(["audio", "video", "chat", "transcript"])
    limited = pa.array(rng.random(k) < 0.03)
    expiring = pa.array(rng.random(k) < 0.1)
    parts.append(text(
        '{"type":"consent","id":"', ids("c", np.arange(k)), '","subject":"', ids("u", rng.integers(0, n_subjects, k)),
        '","purpose":"', choice(rng, ["ai.training", "ai", "service.improvement"], k, [0.7, 0.1, 0.2]),
        '","status":"', choice(rng, ["given", "refused", "withdrawn"], k, [0.8, 0.12, 0.08]),
        '","kinds":', choice(rng, [json_list(list(CONTENT)), spoken], k, [0.85, 0.15]),
        pc.if_else(limited, text(',"meeting":"', ids("m", rng.integers(0, n_meetings, k)), '"'), ""),
        pc.if_else(expiring, text(',"expires_at":"', times(rng, k, T1, T1 + 10**14), '"'), ""),
        ',"at":"', times(rng, k), '"}'))
    return parts


def a_days_events(n: int, day: int) -> list[bytes]:
    """A day's new events for the store of ``n`` items: N/500 new meetings of 3 lines
    each (existing people), N/1000 consents given or withdrawn, N/10000 user settings."""
    rng = np.random.default_rng(1000 + day)
    n_subjects, n_accounts = max(3, n // 10), max(1, n // 500)
    k_meetings, k_consents, k_settings = max(1, n // 500), max(1, n // 1000), max(1, n // 10_000)
    meetings = text(f"d{day}-", ids("m", np.arange(k_meetings)))
    people = rng.integers(0, n_subjects, 3 * k_meetings)
    parts = [
        text('{"type":"meeting","id":"', meetings, '","account":"', ids("a", rng.integers(0, n_accounts, k_meetings)),
             '"}'),
        text('{"type":"participant","meeting":"', meetings.take(pa.array(np.repeat(np.arange(k_meetings), 3))),
             '","subject":"', ids("u", people), '","notified":["recording","ai_training"]}'),
        text('{"type":"consent","id":"', text(f"d{day}-", ids("c", np.arange(k_consents))), '","subject":"',
             ids("u", rng.integers(0, n_subjects, k_consents)), '","purpose":"ai.training","status":"',
             choice(rng, ["given", "withdrawn"], k_consents, [0.7, 0.3]), '","at":"', times(rng, k_consents), '"}'),
        text('{"type":"setting","scope":"user","target":"', ids("u", rng.integers(0, n_subjects, k_settings)),
             f'","key":"{AI_KEY}","value":', choice(rng, ["true", "false"], k_settings, [0.5, 0.5]),
             ',"locked":false,"at":"', times(rng, k_settings), '"}'),
    ]
    return [line.encode() for part in parts for line in part.to_pylist()]


def a_days_items(n: int, day: int) -> pa.Table:
    """The content of a day's new meetings (see :func:`a_days_events`) as a catalog file:
    four items per meeting, as :func:`catalog` makes them, owned by its host."""
    rng = np.random.default_rng(2000 + day)
    k_meetings, n_accounts = max(1, n // 500), max(1, n // 500)
    meeting = np.repeat(np.arange(k_meetings), 4)
    slot = np.tile(np.arange(4), k_meetings)
    item_ids = text(f"d{day}-", ids("i", np.arange(len(meeting))))
    derived = (slot == 1) | (slot == 2)
    previous = text(f"d{day}-", ids("i", np.maximum(np.arange(len(meeting)) - 1, 0)))
    return pa.table({
        "id": item_ids,
        "kind": pa.array(np.array(["audio", "transcript", "summary", "chat"])[slot]),
        "account": ids("a", rng.integers(0, n_accounts, len(meeting))),
        "owner": ids("u", rng.integers(0, max(3, n // 10), len(meeting))),
        "meeting": text(f"d{day}-", ids("m", meeting)),
        "created_at": pa.array(rng.integers(T0, T1, len(meeting))).cast(pa.timestamp("us", tz="UTC")),
        "uri": text("s3://content/", item_ids),
        "sha256": sha256s(rng, len(meeting)),
        "derived_from": pa.ListArray.from_arrays(
            pa.array(np.r_[0, np.cumsum(derived)].astype(np.int32)), previous.filter(pa.array(derived))),
        "signals": pa.nulls(len(meeting), pa.string()),
    })


def catalog_folder(path: Path) -> Path:
    """A catalog folder whose first file is the catalog ``path`` (linked, not copied),
    to which a day's items are added as files of their own."""
    folder = path.with_suffix(".catalog")
    shutil.rmtree(folder, ignore_errors=True)
    folder.mkdir()
    (folder / "part-00000.parquet").hardlink_to(path)
    return folder


def catalog(n: int, path: Path, seed: int = 7) -> None:
    """N content items as a Parquet catalog: four per meeting (audio, a transcript of it,
    a summary of that, chat), the rest files, whiteboards, chat, video and screen shares."""
    rng = np.random.default_rng(seed + 1)
    n_meetings, n_subjects, n_accounts = max(1, n // 5), max(3, n // 10), max(1, n // 500)
    n_meeting_items = min(n, 4 * n_meetings)
    meeting = np.arange(n_meeting_items) // 4
    slot = np.arange(n_meeting_items) % 4
    item = np.arange(n)
    in_meeting = item < n_meeting_items
    kinds = np.concatenate([np.array(["audio", "transcript", "summary", "chat"])[slot],
                            rng.choice(np.array(["file", "whiteboard", "chat", "video", "screen_share"]),
                                       n - n_meeting_items)])
    owners = rng.integers(0, n_subjects, n)
    item_ids = ids("i", item)
    derived = np.r_[(slot == 1) | (slot == 2), np.zeros(n - n_meeting_items, bool)]
    previous = ids("i", np.maximum(item - 1, 0))
    table = pa.table({
        "id": item_ids,
        "kind": pa.array(kinds),
        "account": ids("a", np.r_[meeting % n_accounts, owners[n_meeting_items:] % n_accounts]),
        "owner": ids("u", owners),
        "meeting": pc.if_else(pa.array(in_meeting), ids("m", np.r_[meeting, np.zeros(n - n_meeting_items, int)]),
                              pa.nulls(n, pa.string())),
        "created_at": pa.array(rng.integers(T0, T1, n)).cast(pa.timestamp("us", tz="UTC")),
        "uri": text("s3://content/", item_ids),
        "sha256": sha256s(rng, n),
        "derived_from": pa.ListArray.from_arrays(
            pa.array(np.r_[0, np.cumsum(derived)].astype(np.int32)), previous.filter(pa.array(derived))),
        "signals": pc.if_else(pa.array(rng.random(n) < 0.01), '{"tdm_reservation":1}', pa.nulls(n, pa.string())),
    })
    pq.write_table(table, path, row_group_size=1 << 20)


def write_lines(part: pa.Array, path: Path) -> int:
    """Write one part's lines to a file; the number of lines."""
    lines = text(part, "\n").combine_chunks() if isinstance(part, pa.ChunkedArray) else text(part, "\n")
    offsets = np.frombuffer(lines.buffers()[1], dtype=np.int32)[lines.offset:lines.offset + len(lines) + 1]
    data = lines.buffers()[2]
    path.write_bytes(memoryview(data)[offsets[0]:offsets[-1]])
    return len(lines)


def prepare(n: int, fresh: bool) -> tuple[Store, Path, int, float]:
    """The store and catalog for ``n`` items (loaded now, or kept from an earlier run):
    the store, the catalog, the number of events, the seconds the load took (0 if kept)."""
    OUT.mkdir(exist_ok=True)
    base = OUT / f"build-{n}"
    database, path, done = base.with_suffix(".db"), base.with_suffix(".parquet"), base.with_suffix(".loaded")
    if done.exists() and not fresh:
        store = Store(f"sqlite:///{database}")
        init_store(store)  # brings a kept store to this version's schema
        return store, path, int(done.read_text()), 0.0
    for stale in (database, Path(f"{database}-wal"), Path(f"{database}-shm"), done):
        stale.unlink(missing_ok=True)
    catalog(n, path)
    store = Store(f"sqlite:///{database}")
    init_store(store)
    count, seconds = 0, 0.0
    with tempfile.TemporaryDirectory(dir=OUT) as folder:
        # Files of at most a million lines, as a large import is best split: a file loads
        # whole or not at all, in one transaction.
        chunks = [part.slice(start, _FILE_LINES) for part in events(n) for start in range(0, len(part), _FILE_LINES)]
        for number, chunk in enumerate(chunks):
            file = Path(folder) / f"part-{number}.jsonl"
            lines = write_lines(chunk, file)
            with file.open("rb") as stream:
                took, _ = timed(lambda stream=stream, name=file.name: load_lines(store, stream, name))
            file.unlink()
            count, seconds = count + lines, seconds + took
            print(f"loaded {count:,} events in {seconds:.0f} s", file=sys.stderr, flush=True)
    done.write_text(str(count))
    return store, path, count, seconds


def best(repeat: int, function: Any, before: Any = None) -> tuple[float, float, Any]:
    """Best seconds of ``repeat`` runs, the peak RSS (MiB) over them, the last value
    (``before`` is called, untimed, before each run).

    Only the last run's value is kept: a run never holds an earlier run's tables.
    """
    seconds, peaks, value = [], [], None
    for _ in range(repeat):
        value = None
        if before is not None:
            before()
        gc.collect()
        elapsed, peak, value = peak_while(function)
        seconds.append(elapsed)
        peaks.append(peak)
    return min(seconds), max(peaks), value


def next_day(store: Store, day: int) -> int:
    """The next day whose events the store does not hold yet (a kept store may hold
    those of earlier runs)."""
    day += 1
    meetings = EVENT_SPECS["meeting"].table
    with store.read() as connection:
        while connection.execute(sa.select(meetings.c.id).where(meetings.c.id == f"d{day}-m0")).first():
            day += 1
    return day


def read_state(store: Store, path: Path, columnar: bool, keep: Path | None = None) -> Any:
    with store.read() as connection:
        seq, _ = read_head(connection)
        return state_tables_from_store(connection, path, head=seq, columnar=columnar, keep=keep)


def forget(kept: Path, states_only: bool = False) -> None:
    """Drop what earlier reads kept of the store: the whole states, or everything."""
    for path in kept.glob("state-*") if states_only else [kept]:
        shutil.rmtree(path, ignore_errors=True)


class Rows(list[tuple[str, ...]]):
    """Result rows, each also shown on stderr as soon as it is measured."""

    def append(self, row: tuple[str, ...]) -> None:
        print(" | ".join(row), file=sys.stderr, flush=True)
        super().append(row)


def stages(store: Store, path: Path, n: int, repeat: int, policy: Policy) -> tuple[list[tuple[str, ...]], str]:
    """Reading the state both ways, select and writing the manifest, each timed alone;
    also the owner of the first item selected (whose withdrawal a later build times)."""
    seconds, peak, tables = best(repeat, lambda: read_state(store, path, True))
    rows = Rows()
    rows.append(("read state: columns (ADBC) + catalog", f"{n:,} items", f"{seconds:.2f} s", "", f"{peak:,.0f} MiB",
                 f"best of {repeat}"))
    rows_s, rows_peak, by_rows = best(1, lambda: read_state(store, path, False))
    same = all(t.equals(by_rows.as_dict()[name]) for name, t in tables.as_dict().items())
    rows.append(("read state: rows through the driver + catalog", f"{n:,} items", f"{rows_s:.2f} s", "",
                 f"{rows_peak:,.0f} MiB", "same tables as the columns" if same else "DIFFERS from the columns"))
    by_rows = None
    kept = kept_folder(store.engine.url.render_as_string(hide_password=False))
    assert kept is not None
    forget(kept)
    read_state(store, path, True, kept)  # keeps the columns (and the state)
    seconds, peak, _ = best(repeat, lambda: read_state(store, path, True, kept), lambda: forget(kept, True))
    rows.append(("read state: store's columns kept by an earlier read, catalog read", f"{n:,} items",
                 f"{seconds:.2f} s", "", f"{peak:,.0f} MiB", f"best of {repeat}; the state worked out again"))
    seconds, peak, again = best(repeat, lambda: read_state(store, path, True, kept))
    same = all(t.equals(again.as_dict()[name]) for name, t in tables.as_dict().items())
    rows.append(("read state: kept whole by an earlier read (same events, same catalog files)", f"{n:,} items",
                 f"{seconds:.2f} s", "", f"{peak:,.0f} MiB",
                 f"best of {repeat}; " + ("same tables as read afresh" if same else "DIFFERS from the tables read")))
    again = None
    seconds, peak, selection = best(repeat, lambda: select(tables, PURPOSE, AT, policy))
    allowed = selection.filter(selection["allowed"])
    owner = str(allowed["owner"][0].as_py())
    rows.append(("`select` on DuckDB", f"{n:,} items", f"{seconds:.2f} s", f"{n / seconds / 1e6:.1f} M items/s",
                 f"{peak:,.0f} MiB", f"best of {repeat}; {allowed.num_rows:,} allowed"))
    # As a build writes it: the catalog's uri and sha256 read for the allowed items.
    seconds, _, allowed = best(1, lambda: allowed_rows(selection, tables.items, path))
    rows.append(("read uri and sha256 of the allowed items from the catalog", f"{allowed.num_rows:,} rows",
                 f"{seconds:.2f} s", "", "", ""))
    selection = tables = None
    with tempfile.TemporaryDirectory(dir=OUT) as folder:
        seconds, _, _ = best(repeat, lambda: manifest.write_manifest(Path(folder), allowed))
        size = (Path(folder) / manifest.MANIFEST).stat().st_size
    rows.append(("write manifest.parquet (and its SHA-256)", f"{allowed.num_rows:,} rows", f"{seconds:.2f} s", "",
                 "", f"{size / 2**20:,.0f} MiB file"))
    return rows, owner


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--items", type=int, default=10_000_000)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--fresh", action="store_true", help="load the store again even if one is kept")
    args = parser.parse_args()
    n, policy = args.items, Policy.default()
    store, path, count, load_s = prepare(n, args.fresh)
    rows = Rows()
    if load_s:
        rows.append(("store loaded (`load`, log chained)", f"{count:,} events", f"{load_s:.0f} s",
                     f"{count / load_s:,.0f} events/s", "", "once; later runs of this size reuse it"))
    else:
        rows.append(("store kept from an earlier run", f"{count:,} events", "", "", "", ""))
    measured, owner = stages(store, path, n, args.repeat, policy)
    rows += measured
    kept = kept_folder(store.engine.url.render_as_string(hide_password=False))
    assert kept is not None
    gc.collect()
    base_rss = rss_mib()
    forget(kept)
    seconds, _ = timed(lambda: keep_loaded_columns(store, count))
    rows.append(("the store's columns and state kept after a large load (`load`, as a load of 100,000 events or "
                 "more does)",
                 f"{count:,} events", f"{seconds:.2f} s", "", "", "once, after the store was loaded"))
    runs = (("nothing kept", "fresh"), ("after a large load (the store's columns and state kept by `load`)", "loaded"),
            ("kept by the build before", "kept"),
            ("a consent withdrawn since the build before", "withdrawn"),
            (f"a day's {len(a_days_events(n, 0)):,} new events and {len(a_days_items(n, 0)):,} new items (a "
             "catalog file of their own) since the build before", "a day"))
    day = 0
    # Built over a catalog folder, to which a day adds a file: its first file is ``path``.
    path = catalog_folder(path)
    for label, how in runs:
        builds = []
        for _ in range(args.repeat):
            if how == "fresh":
                forget(kept)
            elif how == "loaded":
                forget(kept)
                keep_loaded_columns(store, count)
            elif how == "withdrawn":  # the latest consent of the owner of an item selected, before AT
                withdrawal = {"type": "consent", "id": fresh_name("withdrawal"), "subject": owner,
                              "purpose": PURPOSE, "status": "withdrawn", "at": "2025-12-31T00:00:00Z"}
                load_lines(store, [json.dumps(withdrawal).encode()], "withdrawal.jsonl")
            elif how == "a day":  # new meetings, their lines, consents and settings: loaded, then built
                day = next_day(store, day)
                load_lines(store, a_days_events(n, day), f"day-{day}.jsonl")
                pq.write_table(a_days_items(n, day), path / f"part-{day:05d}.parquet")
            out = OUT / fresh_name("build")
            builds.append(peak_while(lambda out=out: build_dataset(store, "bench", PURPOSE, out, policy, at=AT,
                                                                   catalog=path)))
            shutil.rmtree(out, ignore_errors=True)
        seconds = min(b[0] for b in builds)
        peak = max(b[1] for b in builds)
        rows.append((f"whole build in process (`build_dataset`), {label}", f"{n:,} items", f"{seconds:.2f} s", "",
                     f"{peak:,.0f} MiB", f"best of {args.repeat}; +{peak - base_rss:,.0f} MiB over "
                     f"{base_rss:,.0f}; {builds[-1][2]['count']:,} in the dataset; goal ≤ 10 s, ≤ 3 GiB"))
    for label, how in runs[:3]:
        if how in ("fresh", "loaded"):
            forget(kept)
        if how == "loaded":
            keep_loaded_columns(store, count)
        out = OUT / fresh_name("build")
        command = [sys.executable, "-m", "consentgate", "--db", str(store.engine.url), "dataset", "build", "bench",
                   "--purpose", PURPOSE, "--at", format_time(AT), "--catalog", str(path), "--out", str(out)]
        # Started from a small process: a child forked from this one would report this
        # process's peak as its own.
        measure = ("import resource, subprocess, sys; subprocess.run(sys.argv[1:], check=True, "
                   "stdout=subprocess.DEVNULL); print(resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss)")
        run = [sys.executable, "-c", measure, *command]
        seconds, done = timed(lambda run=run: subprocess.run(run, check=True, capture_output=True, text=True))
        shutil.rmtree(out, ignore_errors=True)
        peak_kib = int(done.stdout.split()[-1])
        rows.append((f"`consentgate dataset build --catalog`, end to end, {label}", f"{n:,} items",
                     f"{seconds:.2f} s", "", f"{peak_kib / 1024:,.0f} MiB",
                     "a new process: peak RSS of the whole command"))
    store.dispose()
    print(f"## Dataset build (`benchmarks/bench_build.py --items {n}`)\n")
    print(f"Machine: {machine()}.\n")
    print(table(rows, ("what", "size", "time", "rate", "peak RSS", "note")))


if __name__ == "__main__":
    main()
