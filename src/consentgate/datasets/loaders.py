"""Reading a dataset from training code, re-checking consent as it goes.

- :func:`to_hf_dataset` — the manifest as a Hugging Face ``datasets.Dataset``, optionally
  without the items that lost eligibility since the build.
- :class:`EligibleItems` — a PyTorch-style iterable of manifest rows that re-checks every
  item against an in-memory view kept current from the store, and skips (and counts) the
  ones no longer eligible. Wrap it in ``torch.utils.data.IterableDataset`` where needed.
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


def _still_eligible(table: pa.Table, decider: Decider, purpose: str, at: datetime) -> tuple[pa.Table, Counter[str]]:
    items = table["item_id"].to_pylist()
    reasons: Counter[str] = Counter()
    keep = []
    for start in range(0, len(items), _CHUNK):
        chunk = items[start : start + _CHUNK]
        for decision in decider.decide_many([(item, purpose, at) for item in chunk]):
            keep.append(decision.allowed)
            reasons.update(reason.code for reason in decision.reasons)
    return table.filter(pa.array(keep, pa.bool_())), reasons


def to_hf_dataset(folder: str | Path, decider: Decider | None = None, at: datetime | None = None) -> Any:
    """The dataset as a ``datasets.Dataset`` (one row per manifest row).

    With a ``decider``, items no longer eligible for the dataset's purpose as of ``at``
    (default now) are left out.
    """
    import datasets

    table = manifest.read_manifest(folder)
    if decider is not None:
        purpose = describe(folder)["purpose"]
        table, _ = _still_eligible(table, decider, purpose, at or datetime.now(UTC))
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
        self.purpose: str = describe(folder)["purpose"]
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
        for batch in self.table.to_batches(max_chunksize=_CHUNK):
            rows = batch.to_pylist()
            decisions = self.decider.decide_many([(row["item_id"], self.purpose, at) for row in rows])
            for row, decision in zip(rows, decisions):
                if decision.allowed:
                    yield row
                else:
                    self.skipped += 1
                    self.skipped_reasons.update(reason.code for reason in decision.reasons)


__all__ = ["EligibleItems", "describe", "to_hf_dataset"]
