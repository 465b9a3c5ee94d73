"""The registry of datasets and models, in the store and in the log."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Connection, func, select

from ..errors import InvalidInput, NotFound
from ..store.append import append_record
from ..store.rows import record_doc
from ..store.schema import DATASET_SPEC, MODEL_SPEC, RecordSpec


@dataclass(frozen=True)
class DatasetRecord:
    """A registered dataset version, as stored."""

    id: str
    name: str
    version: int
    purpose: str
    at: str
    count: int
    manifest: str | None
    doc: dict[str, Any]


@dataclass(frozen=True)
class ModelRecord:
    """A registered model: trained on one dataset version, its items split into shards."""

    name: str
    dataset: str
    shards: int
    doc: dict[str, Any]


def shard_of(item_id: str, shards: int) -> int:
    """The shard an item falls in: stable across runs, machines and Python versions.

    >>> shard_of("m-100-audio", 4) == shard_of("m-100-audio", 4)
    True
    """
    return int.from_bytes(hashlib.sha256(item_id.encode()).digest()[:8], "big") % shards


def _docs(connection: Connection, spec: RecordSpec, where: Any = None) -> list[dict[str, Any]]:
    columns = [spec.table.c[field] for field, _ in spec.fields] + [spec.table.c.extra]
    statement = select(*columns).order_by(spec.table.c.seq)
    if where is not None:
        statement = statement.where(where)
    return [record_doc(spec, tuple(row)) for row in connection.execute(statement)]


def _dataset(doc: dict[str, Any]) -> DatasetRecord:
    return DatasetRecord(doc["id"], doc["name"], doc["version"], doc["purpose"], doc["at"], doc["count"],
                         doc.get("manifest"), doc)


def datasets(connection: Connection) -> list[DatasetRecord]:
    """Every registered dataset version, oldest first."""
    return [_dataset(doc) for doc in _docs(connection, DATASET_SPEC)]


def latest_datasets(connection: Connection) -> list[DatasetRecord]:
    """The newest version of each dataset name."""
    newest: dict[str, DatasetRecord] = {}
    for record in datasets(connection):
        newest[record.name] = record
    return list(newest.values())


def find_dataset(connection: Connection, reference: str) -> DatasetRecord:
    """A dataset by ``NAME`` (its newest version) or ``NAME@VERSION``.

    Raises:
        NotFound: no such dataset or version.
    """
    name, _, version = reference.partition("@")
    table = DATASET_SPEC.table
    where = table.c.name == name
    if version:
        if not version.isdigit():
            raise InvalidInput(f"dataset {reference!r}: the version after @ must be a number")
        where = where & (table.c.version == int(version))
    found = _docs(connection, DATASET_SPEC, where)
    if not found:
        raise NotFound(f"no dataset {reference!r} is registered")
    return _dataset(found[-1])


def next_version(connection: Connection, name: str) -> int:
    """The version number a new build of ``name`` gets."""
    table = DATASET_SPEC.table
    current = connection.execute(select(func.max(table.c.version)).where(table.c.name == name)).scalar()
    return (current or 0) + 1


def register_dataset(connection: Connection, doc: dict[str, Any]) -> int:
    """Record a dataset version and log it, in the caller's write transaction."""
    return append_record(connection, DATASET_SPEC, {"type": "dataset", **doc})


def models(connection: Connection) -> list[ModelRecord]:
    """Every registered model."""
    return [ModelRecord(doc["id"], doc["dataset"], doc["shards"], doc) for doc in _docs(connection, MODEL_SPEC)]


def find_model(connection: Connection, name: str) -> ModelRecord | None:
    """A model by name, or None."""
    found = _docs(connection, MODEL_SPEC, MODEL_SPEC.table.c.id == name)
    return ModelRecord(found[0]["id"], found[0]["dataset"], found[0]["shards"], found[0]) if found else None


def register_model(connection: Connection, doc: dict[str, Any]) -> int:
    """Record a model and log it, in the caller's write transaction."""
    return append_record(connection, MODEL_SPEC, {"type": "model", **doc})
