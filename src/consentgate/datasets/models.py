"""Models trained on a dataset, their items split into shards (SISA-style).

An item's shard is a function of its id and the number of shards alone, so anyone can
recompute it; when an item loses eligibility only the shards that held it are retrained.
"""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from ..errors import InvalidInput
from ..model.times import format_time
from ..store import Store
from . import manifest, registry


def register_model(store: Store, name: str, dataset: str, shards: int = 1) -> dict[str, Any]:
    """Record a model trained on ``dataset`` (``NAME`` or ``NAME@VERSION``), split into shards.

    Raises:
        InvalidInput: a bad shard count, a taken name or an unreadable manifest.
        NotFound: no such dataset.
    """
    if shards < 1:
        raise InvalidInput(f"--shards {shards}: expected a whole number of at least 1")
    if not name or "@" in name:
        raise InvalidInput(f"model name {name!r}: expected a non-empty name without '@'")
    store.require_ready()
    with store.read() as connection:
        record = registry.find_dataset(connection, dataset)
    if not record.manifest or not (Path(record.manifest) / manifest.MANIFEST).exists():
        raise InvalidInput(f"dataset {record.id}: its manifest ({record.manifest}) is not readable here")
    items = manifest.read_manifest(record.manifest, ["item_id"])["item_id"].to_pylist()
    counts = [0] * shards
    for item in items:
        counts[registry.shard_of(item, shards)] += 1
    doc = {"id": name, "dataset": record.id, "shards": shards, "shard_counts": counts,
           "registered_at": format_time(datetime.now(UTC))}
    with store.write() as connection:
        if registry.find_model(connection, name) is not None:
            raise InvalidInput(f"model {name!r} is already registered (models are immutable)")
        registry.register_model(connection, doc)
    return {"name": name, "dataset": record.id, "shards": shards, "shard_counts": counts}
