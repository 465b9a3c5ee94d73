"""A world's state as NumPy columns, for answering large batches of questions at once.

:class:`Columns` copies what the rules read out of a :class:`World` into integer arrays:
items, each meeting's distinct subjects, users' ordered groups, and every consent and
setting history keyed so that "the latest record at or before T" for many keys is one
``searchsorted``. It is built once per state of a world (:meth:`World.columns`) and read
only; :mod:`consentgate.core.batch` answers batches from it with the same rules as
:mod:`consentgate.core.decide`.

Each history is sorted by (key, time, arrival) and numbered: ``dense`` is the key's rank
among distinct keys and ``rank`` the time's rank among distinct times, so that
``dense * (times + 1) + rank`` is one sorted integer per record. The latest record of key
``d`` at or before ``t`` is then the one just before ``d * (times + 1) + n``, where ``n``
counts the distinct times at or before ``t``.
"""

from __future__ import annotations

from collections.abc import Sequence
from itertools import chain, repeat
from operator import attrgetter
from typing import Any

import numpy as np

from .records import NOTICE, condition_check

NEVER = np.iinfo(np.int64).max
# From this many items on, item ids are looked up in a pandas index and consent ids kept
# in an Arrow array: faster for large batches, not worth importing either for small views.
PACKED_FROM = 200_000
_STATUS = {"given": 0, "refused": 1, "withdrawn": 2}
SCOPES = ("account", "group", "user")


class Codes:
    """Strings numbered in the order first seen."""

    __slots__ = ("index", "names")

    def __init__(self) -> None:
        self.index: dict[str, int] = {}
        self.names: list[str] = []

    def code(self, name: str) -> int:
        """The number of ``name``, given one if it has none yet."""
        found = self.index.get(name)
        if found is None:
            found = self.index[name] = len(self.names)
            self.names.append(name)
        return found

    def __len__(self) -> int:
        return len(self.names)


class Latest:
    """Histories of many keys, for finding each key's latest record at or before T."""

    __slots__ = ("sorted_keys", "times", "composite", "dense", "values")

    def __init__(self, keys: np.ndarray, at: np.ndarray, arrival: np.ndarray, values: np.ndarray) -> None:
        # Records sorted by key, then time, then arrival; ``values`` are what find returns.
        order = np.lexsort((arrival, at, keys))
        self.values = values[order]
        sorted_keys = keys[order]
        self.times = np.unique(at)
        if len(sorted_keys):
            dense = np.concatenate(([0], np.cumsum(sorted_keys[1:] != sorted_keys[:-1])))
        else:
            dense = np.zeros(0, dtype=np.int64)
        self.dense = dense
        self.sorted_keys = np.unique(sorted_keys)
        rank = np.searchsorted(self.times, at[order])
        self.composite = dense * (len(self.times) + 1) + rank

    def find(self, keys: np.ndarray, t: int) -> np.ndarray:
        """For each key, the value of its latest record at or before ``t``, or -1."""
        if not len(self.sorted_keys) or not len(keys):
            return np.full(len(keys), -1, dtype=np.int64)
        dense = np.searchsorted(self.sorted_keys, keys)
        dense = np.minimum(dense, len(self.sorted_keys) - 1)
        known = self.sorted_keys[dense] == keys
        upto = np.searchsorted(self.times, t, side="right")
        position = np.searchsorted(self.composite, dense * (len(self.times) + 1) + upto) - 1
        valid = known & (position >= 0)
        position = np.maximum(position, 0)
        valid &= self.dense[position] == dense
        return np.where(valid, self.values[position], -1)


class Columns:
    """The columns of one state of a world (see the module's description)."""

    def __init__(self, world: Any) -> None:
        self.arrivals = world._arrivals
        self.kinds, self.accounts, self.people = Codes(), Codes(), Codes()
        self.meetings, self.groups, self.purposes = Codes(), Codes(), Codes()
        self._items(world)
        self._meetings(world)
        self._groups(world)
        self._consents(world)
        self._settings(world)
        self.regions = [world.account(name).region if world.account(name) else None
                        for name in self.accounts.names]
        self.missing_notice: dict[str, np.ndarray] = {}
        for record in world.terms_records():
            for section in record.event.sections:
                for grant in section.grants:
                    for condition in grant.requires:
                        _, what, feature = condition_check(condition)
                        if what == NOTICE:
                            self.lacking(feature)

    # -- building --------------------------------------------------------------------

    def _numbers(self, codes: Codes, values: list[Any]) -> np.ndarray:
        """The codes of ``values`` (None: -1), numbering the new ones in order."""
        lookup = codes.index
        for value in dict.fromkeys(values):
            if value is not None and value not in lookup:
                codes.code(value)
        get = lookup.get
        return np.fromiter(map(get, values, repeat(-1)), np.int64, len(values))

    def _items(self, world: Any) -> None:
        records = list(world.item_records())
        self.records = records
        self.packed = len(records) >= PACKED_FROM
        if self.packed:
            import pandas as pd

            # The items' ids, hashed once: a batch looks its questions' items up in one call.
            self._item_index: Any = pd.Index([record.id for record in records], dtype=object)
            self._item_index.get_indexer(self._item_index[:1])  # builds its hash table now, not in a batch
        else:
            self._item_index = {record.id: row for row, record in enumerate(records)}
        # Each column ends with a spare row, read (and ignored) for ids that are no item.
        spare = [None]
        self.item_kind = self._numbers(self.kinds, [r.kind for r in records] + spare)
        self.item_account = self._numbers(self.accounts, [r.account for r in records] + spare)
        self.item_subject = self._numbers(self.people, [r.subject for r in records] + spare)
        self.item_meeting = self._numbers(self.meetings, [r.meeting for r in records] + spare)
        self.item_created = np.fromiter(chain(map(attrgetter("created"), records), (NEVER,)), np.int64,
                                        len(records) + 1)
        self.item_erased = np.full(len(records) + 1, NEVER, dtype=np.int64)
        erasures = list(world.erasures())
        erased = self.rows_of([item for item, _ in erasures])
        found = erased >= 0
        self.item_erased[erased[found]] = np.fromiter((at for _, at in erasures), np.int64, len(erasures))[found]
        self.item_reserved = np.fromiter(chain((r.reservation is not None for r in records), (False,)), bool,
                                         len(records) + 1)
        self.item_derived = np.fromiter(chain(map(bool, map(attrgetter("sources"), records)), (False,)), bool,
                                        len(records) + 1)

    def _meetings(self, world: Any) -> None:
        # Each meeting's distinct subjects (arrival order), as CSR over meeting codes, and
        # every participant line's meeting, subject and notices.
        lines_by_meeting = dict(world.participant_lines())
        self._numbers(self.meetings, list(lines_by_meeting))
        names = self.meetings.names
        subjects = [world.meeting_subjects(name) for name in names]
        lengths = np.fromiter(map(len, subjects), np.int64, len(subjects))
        # One more end than meetings, so that code 0 can be read when there is none.
        self.meeting_start = np.zeros(len(names) + 2, dtype=np.int64)
        np.cumsum(lengths, out=self.meeting_start[1:len(names) + 1])
        self.meeting_start[-1] = self.meeting_start[-2]
        self.meeting_subjects = self._numbers(self.people, [s for group in subjects for s in group])
        lines = [line for name in names for line in lines_by_meeting.get(name, ())]
        self.line_meeting = self._numbers(self.meetings, [line.meeting for line in lines])
        self.notified = [line.notified for line in lines]

    def _groups(self, world: Any) -> None:
        # Users' groups, strongest first (World.ordered_groups), as CSR over people codes.
        users = [user.id for user in world.users()]
        self._numbers(self.people, users)
        orders: list[tuple[str, ...]] = [()] * len(self.people)
        for user in users:
            orders[self.people.index[user]] = world.ordered_groups(user)
        lengths = np.fromiter(map(len, orders), np.int64, len(orders))
        self.group_start = np.zeros(len(orders) + 2, dtype=np.int64)
        np.cumsum(lengths, out=self.group_start[1:len(orders) + 1])
        self.group_start[-1] = self.group_start[-2]
        self.group_codes = self._numbers(self.groups, [g for order in orders for g in order])

    def _consents(self, world: Any) -> None:
        records: list[Any] = []
        owners: list[tuple[str, str]] = []
        counts: list[int] = []
        for subject, by_purpose in world.consent_index().items():
            for purpose, history in by_purpose.items():
                records.extend(history.records)
                owners.append((subject, purpose))
                counts.append(len(history.records))
        self.consent_records = records
        # The ids again, with a spare entry: a batch reads those of tens of thousands of
        # records, and reading them packed in Arrow does not visit each record object.
        ids = [*(record.id for record in records), None]
        if self.packed:
            import pyarrow as pa

            self._consent_ids: Any = pa.array(ids, pa.string())
        else:
            self._consent_ids = ids
        n = len(records)
        repeat_counts = np.asarray(counts, dtype=np.int64)
        subject = np.repeat(self._numbers(self.people, [o[0] for o in owners]), repeat_counts)
        purpose = np.repeat(self._numbers(self.purposes, [o[1] for o in owners]), repeat_counts)
        # Consents name a few sets of kinds: each set is one key, and a question about a
        # kind looks under every set that holds it.
        kind_sets = [r.kinds for r in records]
        self.kind_sets = Codes()
        kind_set = self._numbers(self.kind_sets, kind_sets)
        for kinds in self.kind_sets.names:
            for kind in sorted(kinds):
                self.kinds.code(kind)
        # holds[set, kind]: whether a set of kinds holds a kind.
        self.set_holds = np.asarray(
            [[kind in kinds for kind in self.kinds.names] for kinds in self.kind_sets.names], dtype=bool
        ).reshape(len(self.kind_sets), len(self.kinds))
        meeting = self._numbers(self.meetings, [r.meeting for r in records])
        self.limited = bool((meeting >= 0).any())
        # Each column ends with a spare entry, read (and ignored) where no record is found.
        self.consent_status = np.fromiter(
            chain((_STATUS.get(r.status, 0) for r in records), (0,)), np.int8, n + 1)
        self.consent_expires = np.fromiter(
            chain((NEVER if e is None else e for e in map(attrgetter("expires"), records)), (NEVER,)), np.int64, n + 1)
        self.consent_self = np.fromiter(chain(map(attrgetter("self_given"), records), (True,)), bool, n + 1)
        self.consent_arrival = np.fromiter(chain(map(attrgetter("arrival"), records), (-1,)), np.int64, n + 1)
        self.consent_at = np.fromiter(chain(map(attrgetter("at"), records), (-1,)), np.int64, n + 1)
        self._consent_shape = (len(self.purposes) + 1, len(self.kind_sets) + 1, len(self.meetings) + 2)
        if len(self.people) * np.prod(self._consent_shape, dtype=np.float64) >= 2.0**62:
            raise OverflowError("too many people, meetings and purposes for one consent key")
        keys = self.consent_key(subject, purpose, kind_set, meeting)
        self.consent_latest = Latest(keys, self.consent_at[:n], self.consent_arrival[:n], np.arange(n, dtype=np.int64))

    def consent_key(self, subject: Any, purpose: Any, kind_set: Any, meeting: Any) -> np.ndarray:
        """One integer per (subject, purpose, set of kinds, meeting or -1)."""
        n_purposes, n_kinds, n_meetings = self._consent_shape
        subject = np.asarray(subject, dtype=np.int64)
        meeting = np.asarray(meeting) + 1
        key: np.ndarray = ((subject * n_purposes + purpose) * n_kinds + kind_set) * n_meetings + meeting
        return key

    def _settings(self, world: Any) -> None:
        self.setting_keys = Codes()
        targets = (self.accounts.code, self.groups.code, self.people.code)
        rows: list[tuple[int, int, int, int, int]] = []
        records: list[Any] = []
        for (scope, target, key), history in world.setting_index().items():
            level = SCOPES.index(scope)
            code = targets[level](target)
            k = self.setting_keys.code(key)
            for record in history.records:
                rows.append((k, level, code, record.at, len(records)))
                records.append(record)
        table = np.asarray(rows, dtype=np.int64).reshape(-1, 5)
        self.setting_value = np.fromiter((r.value for r in records), bool, len(records))
        self.setting_locked = np.fromiter((r.locked for r in records), bool, len(records))
        self.n_targets = max(len(self.accounts), len(self.groups), len(self.people))
        self._targets = self.n_targets + 1
        keys = self.setting_key(table[:, 0], table[:, 1], table[:, 2])
        self.setting_latest = Latest(keys, table[:, 3], table[:, 4], table[:, 4])

    def setting_key(self, key: Any, level: Any, target: Any) -> np.ndarray:
        """One integer per (setting key, scope, target)."""
        keys: np.ndarray = (np.asarray(key, dtype=np.int64) * 3 + level) * self._targets + target
        return keys

    # -- reading ---------------------------------------------------------------------

    def rows_of(self, items: Sequence[str]) -> np.ndarray:
        """The row of each item id (-1: no such item)."""
        if not len(items):
            return np.zeros(0, dtype=np.int64)
        if self.packed:
            import pandas as pd

            # Asked as an object index: a plain list would first be inferred and copied
            # into pandas' Arrow-backed strings.
            return np.asarray(self._item_index.get_indexer(pd.Index(items, dtype=object)), dtype=np.int64)
        return np.fromiter(map(self._item_index.get, items, repeat(-1)), np.int64, len(items))

    def consent_ids(self, records: np.ndarray) -> list[str | None]:
        """The ids of consent records by number (the spare number ``len``: None)."""
        if self.packed:
            ids: list[str | None] = self._consent_ids.take(records).to_pylist()
            return ids
        return list(map(self._consent_ids.__getitem__, records.tolist()))

    def lacking(self, feature: str) -> np.ndarray:
        """Per meeting code: whether a participant line lacks notice of ``feature``."""
        found = self.missing_notice.get(feature)
        if found is None:
            lines = np.fromiter((feature not in n for n in self.notified), bool, len(self.notified))
            found = np.zeros(len(self.meetings) + 1, dtype=bool)  # a spare entry, as for items
            found[self.line_meeting[lines]] = True
            self.missing_notice[feature] = found
        return found
