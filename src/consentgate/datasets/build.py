"""Building a training dataset: select with the compiled rules, write, register, log.

A build either completes — files in place, the dataset registered and logged — or
leaves nothing: no registration, no files.
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Iterable, Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.dataset as ds

from ..core import Policy
from ..errors import InvalidInput
from ..model.times import format_time
from ..model.vocab import DATA_KINDS
from ..store import Store, read_head
from . import manifest, registry

_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]*$")
_PURPOSE = re.compile(r"^[A-Za-z0-9_-]+(\.[A-Za-z0-9_-]+)*$")


def read_state(store: Store, connection: Any, catalog: str | Path | None, head: int | None = None) -> Any:
    """The state tables for a selection, as of log entry ``head`` (default: the head the
    connection, one of ``store``'s, sees); a catalog that cannot be read is bad input.

    The store's columns are kept between reads where :func:`~consentgate.bulk.kept_folder`
    says, so a later build reads only the events logged since. The state itself is kept
    there too, written while the caller selects (:func:`~consentgate.bulk.kept_written`
    waits for it; a build does before it returns).
    """
    from ..bulk import kept_folder, state_tables_from_store

    try:
        return state_tables_from_store(connection, catalog, head=head, keep=kept_folder(store.url),
                                       keep_in_background=True)
    except (ValueError, OSError, pa.ArrowException) as exc:
        if catalog is None:
            raise
        raise InvalidInput(f"--catalog {catalog}: {str(exc).splitlines()[0]}") from None


def judged_in_catalog(
    store: Store, catalog: str | Path, purpose: str, kinds: list[str] | None, items: pa.Array | pa.ChunkedArray,
    at: datetime, policy: Policy,
) -> tuple[np.ndarray, dict[int, list[str]]]:
    """Whether each of ``items`` (distinct ids of items of ``catalog``, a content catalog
    outside the store) is allowed for ``purpose`` as of ``at``, and the reason codes of
    those denied, by their place in ``items`` (``item.unknown`` where the catalog lists
    the item no more, or not yet).

    The store's in-memory view does not hold a catalog's items, so they are judged as a
    build over the catalog judges them: with the compiled rules, over the store's state
    and the catalog (a state kept by the build before is used, see docs/operations.md).
    """
    from ..bulk import select

    with store.read() as connection:
        tables = read_state(store, connection, catalog)
    selection = select(tables, purpose, at, policy, kinds)
    del tables
    # The listed items are looked up among the asked ones, which are fewer: only those
    # are hashed.
    found = pc.index_in(selection["item_id"], value_set=items)
    listed = pc.is_valid(found).to_numpy(zero_copy_only=False)
    at_rows = pc.fill_null(found, -1).to_numpy(zero_copy_only=False).astype(np.int64)
    places = at_rows[listed]
    judged = selection["allowed"].to_numpy(zero_copy_only=False)
    allowed = np.zeros(len(items), dtype=bool)
    allowed[places] = judged[listed]
    unknown = np.ones(len(items), dtype=bool)
    unknown[places] = False
    reasons = {int(place): ["item.unknown"] for place in np.flatnonzero(unknown)}
    denied = listed & ~judged
    codes = selection["reasons"].filter(pa.array(denied)).to_pylist()
    reasons.update(zip(at_rows[denied].tolist(), codes, strict=True))
    return allowed, reasons


def allowed_rows(selection: pa.Table, items: pa.Table, catalog: str | Path | None) -> pa.Table:
    """A selection's allowed rows, with ``uri`` and ``sha256`` read from the catalog.

    The state read from a catalog leaves those two columns null (see ``read_catalog``):
    they are read here for the allowed items alone. Catalog items are the first rows of
    ``items``, and a selection lists items in ``items`` order.
    """
    rows, positions = _allowed(selection, items, catalog)
    return pa.concat_tables(with_files(rows, positions, catalog), promote_options="none")


def _allowed(selection: pa.Table, items: pa.Table, catalog: str | Path | None) -> tuple[pa.Table, Any]:
    """The allowed rows and, for a catalog, their rows among ``items``."""
    allowed = selection["allowed"]
    rows = selection.filter(allowed)
    if catalog is None or not rows.num_rows:
        return rows, None
    if selection.num_rows == items.num_rows:
        # Every item is listed, so a selection's row is its item's row.
        return rows, np.flatnonzero(allowed.to_numpy(zero_copy_only=False))
    return rows, pc.index_in(rows["item_id"], value_set=items["item_id"]).to_numpy(zero_copy_only=False)


def with_files(rows: pa.Table, positions: Any, catalog: str | Path | None) -> Iterator[pa.Table]:
    """``rows`` with the catalog's ``uri`` and ``sha256`` of the items at ``positions``
    (ascending), a share at a time as the catalog is read: the shares, in order, are
    ``rows``. Service data, after the catalog's items, has no files.

    A manifest is written from the shares as they come, while the next share's ``uri``
    and ``sha256`` are read (for its rows alone, see
    :func:`~consentgate.bulk.catalog_file_batches`): the files of every allowed item are
    never held at once.

    Raises:
        InvalidInput: a file of the catalog cannot be read.
    """
    if catalog is None or positions is None or not rows.num_rows:
        yield rows
        return
    from ..bulk import catalog_file_batches

    positions = np.asarray(positions)
    in_catalog = int(np.searchsorted(positions, ds.dataset(str(catalog), format="parquet").count_rows()))
    done = 0
    try:
        for count, files in catalog_file_batches(catalog, positions[:in_catalog]):
            yield _set_files(rows.slice(done, count), files)
            done += count
    except ValueError as exc:
        raise InvalidInput(f"--catalog {catalog}: {exc}") from None
    if done < rows.num_rows:  # service data: no files
        rest = rows.num_rows - done
        yield _set_files(rows.slice(done), pa.table({name: pa.nulls(rest, pa.string()) for name in ("uri", "sha256")}))


def _set_files(rows: pa.Table, files: pa.Table) -> pa.Table:
    for name in files.column_names:
        rows = rows.set_column(rows.schema.get_field_index(name), name, files[name])
    return rows


def check_request(name: str, purpose: str, kinds: list[str] | None) -> None:
    """Refuse a malformed name, purpose or kind list with a clear message."""
    if not _NAME.match(name):
        raise InvalidInput(f"dataset name {name!r}: use letters, digits, '.', '_' and '-' (no '@' or '/')")
    if not _PURPOSE.match(purpose):
        raise InvalidInput(f"--purpose {purpose!r}: expected a dotted purpose id such as ai.training")
    for kind in kinds or ():
        if kind not in DATA_KINDS:
            raise InvalidInput(f"--kinds: unknown data kind {kind!r}; expected some of {', '.join(DATA_KINDS)}")


def excluded_counts(selection: pa.Table) -> dict[str, int]:
    """Reason code -> number of denied items listing it."""
    # An allowed row lists no reason, and a denied row each of its codes once: counting
    # the codes of every row counts the denied items, without copying them out.
    counts: Counter[str] = Counter()
    flat = pc.list_flatten(selection["reasons"])
    if len(flat):
        for entry in pc.value_counts(flat).to_pylist():
            counts[entry["values"]] = entry["counts"]
    return dict(sorted(counts.items()))


def write_and_register(
    store: Store, out: Path, rows: pa.Table | Iterable[pa.Table], count: int, description: dict[str, Any],
    inputs: list[str],
) -> dict[str, Any]:
    """Write the manifest and description, register the dataset, publish the folder.

    ``rows`` are the manifest's ``count`` rows, as one table or in shares. ``description``
    lacks ``id``, ``version``, ``count`` and the manifest's hash; they are filled in here,
    the version inside the write transaction.
    """
    from .lineage import emit_build, import_in_background

    manifest.check_destination(out)
    importing = import_in_background()
    with manifest.staged(out) as stage:
        description = {**description, "count": count, "manifest_sha256": manifest.write_manifest(stage, rows)}
        with store.write() as connection:
            version = registry.next_version(connection, description["name"])
            previous = f"{description['name']}@{version - 1}" if version > 1 else None
            description = {"id": f"{description['name']}@{version}", "version": version,
                           "replaces": description.get("replaces") or previous, **description}
            description["manifest"] = str(out.resolve())
            manifest.write_description(stage, description)
            registry.register_dataset(connection, _record(description))
            manifest.publish(stage, out)
    importing.join()
    emit_build(description, out, inputs)
    return description


def _record(description: dict[str, Any]) -> dict[str, Any]:
    head = description["log_head"]
    record = {key: value for key, value in description.items() if key != "log_head" and value is not None}
    record["log_seq"], record["log_hash"] = head["seq"], head["hash"]
    return record


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
    """Select every item eligible for ``purpose`` as of ``at`` and register a dataset.

    Returns the dataset's description (what ``dataset.json`` holds).

    Raises:
        InvalidInput: a malformed request, or ``out`` already holds something.
    """
    from ..bulk import kept_written, select_allowed

    check_request(name, purpose, kinds)
    out = Path(out)
    manifest.check_destination(out)
    if engine not in ("duckdb", "spark"):
        raise InvalidInput(f"--engine {engine!r}: expected duckdb or spark")
    if catalog is not None and not Path(catalog).exists():
        raise InvalidInput(f"--catalog {catalog}: no such file or folder")
    when = at or datetime.now(UTC)
    store.require_ready()
    with store.read() as connection:
        seq, head = read_head(connection)
        tables = read_state(store, connection, catalog, seq)
    rows, positions, excluded = select_allowed(tables, purpose, when, policy, kinds, engine)
    # The state is not read again: freed before the catalog's files are read for the
    # allowed rows, the build's largest step in memory.
    del tables
    count = rows.num_rows
    shares = with_files(rows, positions if catalog is not None else None, catalog)
    description = {
        "name": name, "purpose": purpose, "at": format_time(when), "kinds": kinds, "engine": engine,
        "catalog": str(catalog) if catalog else None, "excluded": excluded,
        "policy": policy.digest, "log_head": {"seq": seq, "hash": head},
        "built_at": format_time(datetime.now(UTC)),
    }
    inputs = ["store"] + ([str(catalog)] if catalog else [])
    description = write_and_register(store, out, shares, count, description, inputs)
    kept_written()  # the state kept for the next build, written while this one selected
    return description


def rebuild_dataset(
    store: Store,
    name: str,
    policy: Policy,
    out: str | Path | None = None,
    at: datetime | None = None,
    engine: str = "duckdb",
) -> dict[str, Any]:
    """A new version of dataset ``name`` without the items that lost eligibility.

    Nothing is added: the new version holds the previous version's items that are still
    eligible for its purpose as of ``at``, with their basis as of then. It names the
    version it replaces. ``out`` defaults to a folder beside the previous one.
    """
    from ..bulk import kept_written, select

    when = at or datetime.now(UTC)
    store.require_ready()
    with store.read() as connection:
        previous = registry.find_dataset(connection, name)
        version = registry.next_version(connection, previous.name)
        seq, head = read_head(connection)
        tables = read_state(store, connection, previous.doc.get("catalog"), seq)
    if not previous.manifest or not (Path(previous.manifest) / manifest.MANIFEST).exists():
        raise InvalidInput(f"dataset {previous.id}: its manifest ({previous.manifest}) is not readable here")
    destination = Path(out) if out else Path(previous.manifest).parent / f"{previous.name}-v{version}"
    kept_before = manifest.read_manifest(previous.manifest, ["item_id"])["item_id"]
    selection = select(tables, previous.purpose, when, policy, previous.doc.get("kinds"), engine)
    selection = selection.filter(pc.is_in(selection["item_id"], value_set=kept_before))
    rows = allowed_rows(selection, tables.items, previous.doc.get("catalog"))
    excluded = excluded_counts(selection)
    missing = len(kept_before) - selection.num_rows  # items that do not exist as of ``at``
    if missing:
        excluded["item.unknown"] = excluded.get("item.unknown", 0) + missing
    description = {
        "name": previous.name, "purpose": previous.purpose, "at": format_time(when),
        "kinds": previous.doc.get("kinds"), "engine": engine, "catalog": previous.doc.get("catalog"),
        "excluded": dict(sorted(excluded.items())), "policy": policy.digest,
        "log_head": {"seq": seq, "hash": head}, "replaces": previous.id,
        "built_at": format_time(datetime.now(UTC)),
    }
    description = write_and_register(store, destination, rows, rows.num_rows, description, [previous.manifest])
    kept_written()
    return description
