"""Reading a dataset from training code, re-checking consent as it goes.

- :func:`to_hf_dataset` — the manifest as a Hugging Face ``datasets.Dataset``, optionally
  without the items that lost eligibility since the build.
- :class:`EligibleItems` — a PyTorch-style iterable of manifest rows that re-checks every
  item against an in-memory view kept current from the store, and skips (and counts) the
  ones no longer eligible. Wrap it in ``torch.utils.data.IterableDataset`` where needed.

The items of a dataset built over a catalog outside the store are not in the view: they
are judged as the build judged them, with the compiled rules over the catalog and the
store the decider reads (one selection per pass).
"""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pyarrow as pa

from . import manifest

if TYPE_CHECKING:
    from ..decider import Decider

_CHUNK = 1024


def describe(folder: str | Path) -> dict[str, Any]:
    """A dataset's ``dataset.json``."""
    path = Path(folder) / manifest.DESCRIPTION
    return json.loads(path.read_text())  # type: ignore[no-any-return]


def _judged(table: pa.Table, decider: Decider, doc: dict[str, Any], at: datetime) -> Iterator[tuple[bool, list[str]]]:
    """Whether each row's item is still eligible for the dataset's purpose as of ``at``,
    and the reason codes of those that are not, in the order of ``table``'s rows.

    A dataset built over a catalog outside the store (``catalog`` in its description)
    has items the in-memory view does not hold: they are judged as that build judged
    them, with the compiled rules over the catalog and the store decider reads.
    """
    purpose = doc["purpose"]
    if doc.get("catalog"):
        from .build import judged_in_catalog

        allowed, reasons = judged_in_catalog(decider.store, doc["catalog"], purpose, doc.get("kinds"),
                                             table["item_id"], at, decider.policy)
        for place, ok in enumerate(allowed.tolist()):
            yield ok, [] if ok else reasons[place]
        return
    for batch in table.select(["item_id"]).to_batches(max_chunksize=_CHUNK):
        for decision in decider.decide_many([(item, purpose, at) for item in batch.column(0).to_pylist()]):
            yield decision.allowed, [reason.code for reason in decision.reasons]


def _still_eligible(table: pa.Table, decider: Decider, doc: dict[str, Any], at: datetime) -> pa.Table:
    keep = [allowed for allowed, _ in _judged(table, decider, doc, at)]
    return table.filter(pa.array(keep, pa.bool_()))


def to_hf_dataset(folder: str | Path, decider: Decider | None = None, at: datetime | None = None) -> Any:
    """The dataset as a ``datasets.Dataset`` (one row per manifest row).

    With a ``decider``, items no longer eligible for the dataset's purpose as of ``at``
    (default now) are left out.
    """
    import datasets

    table = manifest.read_manifest(folder)
    if decider is not None:
        table = _still_eligible(table, decider, describe(folder), at or datetime.now(UTC))
    return datasets.Dataset(datasets.table.InMemoryTable(table))


class EligibleItems:
    """Iterate a dataset's manifest rows, skipping items that lost eligibility.

    Each pass refreshes the view and decides every item for the dataset's purpose as of
    the moment the pass starts; ``skipped`` and ``skipped_reasons`` tell what the last
    pass left out.

    Example::

        items = EligibleItems("datasets/meetings-2024", Decider("sqlite:///consentgate.db"))
        for row in items:
            train_on(row["uri"])
        print(items.skipped, dict(items.skipped_reasons))
    """

    def __init__(self, folder: str | Path, decider: Decider) -> None:
        self.folder = Path(folder)
        self.decider = decider
        self.description = describe(folder)
        self.purpose: str = self.description["purpose"]
        self.table = manifest.read_manifest(folder)
        self.skipped = 0
        self.skipped_reasons: Counter[str] = Counter()

    def __len__(self) -> int:
        """Items in the manifest (an upper bound on what a pass yields)."""
        return int(self.table.num_rows)

    def __iter__(self) -> Iterator[dict[str, Any]]:
        self.decider.refresh()
        at = datetime.now(UTC)
        self.skipped, self.skipped_reasons = 0, Counter()
        judged = _judged(self.table, self.decider, self.description, at)
        for batch in self.table.to_batches(max_chunksize=_CHUNK):
            for row, (allowed, reasons) in zip(batch.to_pylist(), judged):
                if allowed:
                    yield row
                else:
                    self.skipped += 1
                    self.skipped_reasons.update(reasons)


__all__ = ["EligibleItems", "describe", "to_hf_dataset"]
