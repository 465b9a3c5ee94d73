"""What a withdrawn consent or an erasure touched: dataset items and model shards.

Candidates come from the manifests (every dataset's newest version, and every version a
model was trained on), narrowed to a subject's or an item's; each is decided again for
its dataset's purpose as of T, and those now denied are the impact. An item is decided
once per purpose however many datasets hold it, and the store's items of every purpose
from one read of what they depend on (or from a warm :class:`~consentgate.Decider`).
"""

from __future__ import annotations

from array import array
from collections.abc import Iterable
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pyarrow as pa
import pyarrow.compute as pc
from sqlalchemy import select

from ..core import Decision, Policy
from ..core.collector import collector_paused
from ..errors import InvalidInput
from ..model.times import format_time
from ..store import Store
from ..store.schema import EVENT_SPECS
from . import manifest, registry

if TYPE_CHECKING:
    from ..decider import Decider


def _subject_meetings(store: Store, subject: str) -> list[str]:
    participants = EVENT_SPECS["participant"].table
    with store.read() as connection:
        rows = connection.execute(select(participants.c.meeting).where(participants.c.subject == subject))
        return sorted({row[0] for row in rows})


def _strings(values: Iterable[str]) -> pa.StringArray:
    """An Arrow string array of ``values``, built from its buffers.

    ``pa.array`` on Python objects first imports pandas to rule out pandas types, which
    costs a one-shot command more than all its work on the manifests.
    """
    encoded = [value.encode() for value in values]
    offsets = array("i", [0])
    end = 0
    for value in encoded:
        end += len(value)
        offsets.append(end)
    return pa.StringArray.from_buffers(len(encoded), pa.py_buffer(offsets), pa.py_buffer(b"".join(encoded)))


def _candidates(folder: str, subject: str | None, meetings: list[str], item: str | None) -> pa.ChunkedArray:
    """The ids of a manifest's items, narrowed to ``item`` and to those owned by ``subject``
    or from its ``meetings``: the columns that narrow them are read first, the ids only
    when some row matches."""
    with manifest.open_manifest(folder) as parquet:
        if subject is None:
            ids = parquet.read(columns=["item_id"])["item_id"]
            return ids if item is None else ids.filter(pc.is_in(ids, value_set=_strings([item])))
        whose = parquet.read(columns=["owner", "meeting"] if meetings else ["owner"])
        mask = pc.is_in(whose["owner"], value_set=_strings([subject]))
        if meetings:  # is_in is never null: a missing owner or meeting is no match
            mask = pc.or_(mask, pc.is_in(whose["meeting"], value_set=_strings(meetings)))
        if not pc.any(mask).as_py():
            return pa.chunked_array([], pa.string())
        ids = parquet.read(columns=["item_id"])["item_id"]
        if item is not None:
            mask = pc.and_(mask, pc.is_in(ids, value_set=_strings([item])))
        return ids.filter(mask)


def _denied_in_catalog(
    store: Store, record: registry.DatasetRecord, items: list[str], at: datetime, policy: Policy
) -> set[str]:
    # Items of an outside catalog are not in the store: judge them with the compiled
    # rules over the same catalog, as the build did.
    from .build import judged_in_catalog

    allowed, _ = judged_in_catalog(store, record.doc["catalog"], record.purpose, record.doc.get("kinds"),
                                   _strings(items), at, policy)
    return {item for item, ok in zip(items, allowed.tolist(), strict=True) if not ok}


Group = tuple[str, str | None, str | None]


def _judge(
    store: Store,
    asked: dict[Group, tuple[registry.DatasetRecord, list[str]]],
    at: datetime,
    policy: Policy,
    decider: Decider | None,
) -> dict[Group, set[str]]:
    """The items of each group (a dataset record and its candidates) denied as of ``at``."""
    denied: dict[Group, set[str]] = {}
    questions: list[tuple[str, str, datetime]] = []
    for group, (record, items) in asked.items():
        if record.doc.get("catalog"):
            denied[group] = _denied_in_catalog(store, record, items, at, policy) if items else set()
        else:
            questions += [(item, record.purpose, at) for item in items]
    # The store's items are decided in one call, whatever their purposes, so what they
    # depend on is read once.
    decisions: list[Decision] = []
    if questions and decider is not None:
        decisions = decider.decide_many(questions)
    elif questions:
        from .. import service

        decisions = service.decide_questions(store, questions, policy)
    lost: dict[str, set[str]] = {}
    for decision in decisions:
        if not decision.allowed:
            lost.setdefault(decision.purpose, set()).add(decision.item)
    for group, (record, _) in asked.items():
        if not record.doc.get("catalog"):
            denied[group] = lost.get(record.purpose, set())
    return denied


def impact(
    store: Store,
    policy: Policy,
    subject: str | None = None,
    item: str | None = None,
    at: datetime | None = None,
    decider: Decider | None = None,
) -> dict[str, Any]:
    """Which registered dataset items are no longer eligible as of ``at``, and which model
    shards must be retrained (CONTRACT.md §3 ``impact``).

    Args:
        decider: a warm view of the same store under the same policy (an API worker's);
            items in the store are then decided from its memory, brought up to date
            first, instead of from a fresh read of what they depend on.

    Raises:
        InvalidInput: ``decider`` follows another policy.
    """
    if decider is not None and decider.policy.digest != policy.digest:
        raise InvalidInput("impact: the decider given follows another policy")
    when = at or datetime.now(UTC)
    store.require_ready()
    with store.read() as connection:
        latest = registry.latest_datasets(connection)
        versions = {record.id: record for record in registry.datasets(connection)}
        models = registry.models(connection)
    meetings = _subject_meetings(store, subject) if subject else []
    wanted = {record.id: record for record in latest}
    wanted.update({model.dataset: versions[model.dataset] for model in models if model.dataset in versions})
    candidates: dict[str, pa.ChunkedArray] = {}
    unreadable: list[str] = []
    for dataset_id, record in wanted.items():
        if not record.manifest or not (Path(record.manifest) / manifest.MANIFEST).exists():
            unreadable.append(dataset_id)
            continue
        candidates[dataset_id] = _candidates(record.manifest, subject, meetings, item)
    # Datasets that share a purpose and a source share their answers: decide each item
    # once per such group, however many datasets and versions hold it. The kinds a build
    # kept matter only to the compiled rules over a catalog.
    groups: dict[Group, list[str]] = {}
    for dataset_id in candidates:
        record = wanted[dataset_id]
        catalog = record.doc.get("catalog")
        key = (record.purpose, str(record.doc.get("kinds")) if catalog else None, catalog)
        groups.setdefault(key, []).append(dataset_id)
    denied: dict[str, list[str]] = {}
    # The views and decisions made here are freed as soon as the groups are judged: with
    # the collector paused they are never walked by a collection at all.
    with collector_paused():
        asked: dict[Group, tuple[registry.DatasetRecord, list[str]]] = {}
        for key, members in groups.items():
            chunks = [chunk for dataset_id in members for chunk in candidates[dataset_id].chunks]
            union = sorted(pc.unique(pa.chunked_array(chunks, pa.string())).to_pylist())
            asked[key] = (wanted[members[0]], union)
        for key, lost_items in _judge(store, asked, when, policy, decider).items():
            lost = sorted(lost_items)
            lost_array = _strings(lost)
            for dataset_id in groups[key]:
                denied[dataset_id] = _members(candidates[dataset_id], lost, lost_array) if lost else []
    shards: dict[tuple[str, int], list[int]] = {}
    for model in models:
        if denied.get(model.dataset) and (model.dataset, model.shards) not in shards:
            shards[model.dataset, model.shards] = _shards(denied[model.dataset], model.shards)
    result: dict[str, Any] = {
        "at": format_time(when),
        "datasets": [
            {"name": record.name, "version": record.version, "items": denied[record.id],
             "count": len(denied[record.id])}
            for record in latest
            if denied.get(record.id)
        ],
        "models": [
            {"name": model.name, "dataset": versions[model.dataset].name, "dataset_version": model.dataset,
             "shards": shards[model.dataset, model.shards]}
            for model in models
            if denied.get(model.dataset)
        ],
    }
    if unreadable:
        result["unreadable"] = sorted(unreadable)
    return result


def _members(items: pa.ChunkedArray, lost: list[str], lost_array: pa.Array) -> list[str]:
    """The ``items`` found in ``lost`` (a sorted list, and the same as an Arrow array), in
    its order: by their positions in it, so no strings are hashed or sorted in Python."""
    positions = pc.index_in(items, value_set=lost_array).drop_null()
    return [lost[position] for position in positions.sort().to_pylist()]


def _shards(items: Iterable[str], shards: int) -> list[int]:
    return sorted({registry.shard_of(item, shards) for item in items})
