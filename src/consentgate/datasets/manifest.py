"""The files of a dataset: ``manifest.parquet`` (one row per item) and ``dataset.json``.

Files are written into a hidden folder beside the destination and moved into place in
one rename, so a reader never sees half a dataset.
"""

from __future__ import annotations

import hashlib
import json
import shutil
import uuid
from collections.abc import Iterable, Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq

from ..errors import InvalidInput

MANIFEST = "manifest.parquet"
DESCRIPTION = "dataset.json"
LINEAGE = "openlineage.jsonl"

MANIFEST_SCHEMA = pa.schema(
    [
        ("item_id", pa.string()),
        ("kind", pa.string()),
        ("account", pa.string()),
        ("owner", pa.string()),
        ("meeting", pa.string()),
        ("uri", pa.string()),
        ("sha256", pa.string()),
        ("terms_version", pa.string()),
        ("section", pa.string()),
        ("consent_ids", pa.list_(pa.string())),
    ]
)


def file_sha256(path: Path) -> str:
    """The hex SHA-256 of a file's bytes."""
    digest = hashlib.sha256()
    with path.open("rb") as stream:
        for block in iter(lambda: stream.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def check_destination(out: Path) -> None:
    """Refuse a destination that already holds something."""
    if out.exists() and (not out.is_dir() or any(out.iterdir())):
        raise InvalidInput(f"--out {out}: exists and is not an empty folder (datasets are never overwritten)")
    if not out.parent.exists():
        raise InvalidInput(f"--out {out}: folder {out.parent} does not exist")


@contextmanager
def staged(out: Path) -> Iterator[Path]:
    """A hidden folder to write a dataset into; removed unless :func:`publish` moved it."""
    for stale in out.parent.glob(f".{out.name}.partial-*"):
        # Left by a build that was killed before it could clean up after itself.
        shutil.rmtree(stale, ignore_errors=True)
    stage = out.parent / f".{out.name}.partial-{uuid.uuid4().hex[:8]}"
    stage.mkdir()
    try:
        yield stage
    finally:
        shutil.rmtree(stage, ignore_errors=True)


def publish(stage: Path, out: Path) -> None:
    """Move a staged dataset to its destination in one rename."""
    if out.exists():
        out.rmdir()  # empty, as check_destination made sure
    stage.rename(out)


# Columns whose values repeat over many rows, written as Parquet dictionaries. Ids,
# locations, digests and consent lists are (nearly) all distinct: hashing them for a
# dictionary costs the writer time and the file bytes.
_REPEATING = ["kind", "account", "owner", "meeting", "terms_version", "section"]


# Rows of a row group, at least: shares that come smaller are gathered first.
_ROW_GROUP = 1 << 18


def write_manifest(stage: Path, rows: pa.Table | Iterable[pa.Table]) -> str:
    """Write ``manifest.parquet`` from a selection's allowed rows (one table, or shares of
    it in order, each written as it comes); return its SHA-256."""
    with pq.ParquetWriter(stage / MANIFEST, MANIFEST_SCHEMA, compression="zstd",
                          use_dictionary=_REPEATING) as writer:
        waiting: list[pa.Table] = []
        for share in _ahead([rows] if isinstance(rows, pa.Table) else rows):
            waiting.append(share)
            if sum(part.num_rows for part in waiting) >= _ROW_GROUP:
                writer.write_table(pa.concat_tables(waiting))
                waiting = []
        if waiting:
            writer.write_table(pa.concat_tables(waiting))
    return file_sha256(stage / MANIFEST)


def _ahead(shares: Iterable[pa.Table]) -> Iterator[pa.Table]:
    """``shares`` in the manifest's schema, the next one made on a thread while the caller
    writes this one (Arrow lets go of the interpreter's lock: both cores work)."""
    shares = iter(shares)

    def following() -> pa.Table | None:
        share = next(shares, None)
        return None if share is None else share.select(MANIFEST_SCHEMA.names).cast(MANIFEST_SCHEMA)

    with ThreadPoolExecutor(max_workers=1) as pool:
        pending = pool.submit(following)
        while (share := pending.result()) is not None:
            pending = pool.submit(following)
            yield share


def write_description(stage: Path, description: dict[str, Any]) -> None:
    """Write ``dataset.json``."""
    (stage / DESCRIPTION).write_text(json.dumps(description, indent=2, sort_keys=True) + "\n")


@contextmanager
def open_manifest(folder: str | Path) -> Iterator[pq.ParquetFile]:
    """A dataset's manifest, open for reading some of its columns at a time.

    Raises:
        InvalidInput: the folder holds no manifest.
    """
    path = Path(folder) / MANIFEST
    if not path.exists():
        raise InvalidInput(f"{folder}: no {MANIFEST} here")
    # One file, read as one: ``pq.read_table`` would go through ``pyarrow.dataset``,
    # whose import alone (it pulls in pandas) outweighs reading a manifest.
    with pq.ParquetFile(path) as parquet:
        yield parquet


def read_manifest(folder: str | Path, columns: list[str] | None = None) -> pa.Table:
    """A dataset's manifest (or some of its columns) as an Arrow table."""
    with open_manifest(folder) as parquet:
        return parquet.read(columns=columns)
