"""The answer table: the engine's compact per-item results, spelt out in items order.

The engine returns integers (see ``_sql_item``): a reason key per item, the terms version
number, the rows whose sources are usable or not, and the consent ids relied on. A
selection has only a few distinct reason keys, so each is decoded once and the reason
lists are gathered from them, rather than built row by row.
"""

from __future__ import annotations

from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from ._plan import Plan
from ._tables import whole

_STRS = pa.list_(pa.string())
# Reason codes, terms versions and sections take a handful of distinct values over
# millions of rows: dictionary-encoded, they cost a byte or four per row instead of a
# copy of the text, and the engine's integers become the indices without a gather.
_CODE = pa.dictionary(pa.int8(), pa.string())
_NAME = pa.dictionary(pa.int32(), pa.string())
RESULT_SCHEMA = pa.schema([
    ("item_id", pa.string()), ("kind", pa.string()), ("account", pa.string()), ("owner", pa.string()),
    ("meeting", pa.string()), ("uri", pa.string()), ("sha256", pa.string()), ("allowed", pa.bool_()),
    ("reasons", pa.list_(_CODE)), ("terms_version", _NAME), ("section", _NAME), ("consent_ids", _STRS),
])
_PASSED_THROUGH = ("item_id", "kind", "account", "owner", "meeting", "uri", "sha256")
STANDALONE = {-1: "item.deleted", -2: "terms.not_accepted", -3: "purpose.not_granted"}
CONSENT_CODES = {1: "consent.missing", 2: "consent.refused", 3: "consent.withdrawn", 4: "consent.expired",
                 5: "consent.not_self"}
_SLOT_CODES = {"setting": "setting.off", "notice": "notice.missing"}


def decode(key: int, plan: Plan) -> list[str]:
    """The reason codes a key stands for, in decide's order."""
    if key < 0:
        return [STANDALONE[key]]
    bad, signal, rest = key & 1, (key >> 1) & 1, key >> 2
    vid, consent = divmod(rest, plan.consent_space)
    codes: list[str] = []
    if plan.verdicts[vid].section is None:
        for slot in plan.verdicts[vid].slots:
            if slot != "consent":
                codes.append(_SLOT_CODES[slot])
                continue
            while consent:
                consent, code = divmod(consent, 8)
                if code:
                    codes.append(CONSENT_CODES[code])
    if signal:
        codes.append("signal.reserved")
    if bad:
        codes.append("source.ineligible")
    return codes


class ConsentIds:
    """The consents' ids by their number (see ``_select._consents_in_order``): ``rows``
    gives the row of the consent numbered k where the numbers are not the rows'."""

    def __init__(self, ids: pa.Array, rows: np.ndarray | None = None) -> None:
        self.ids, self.rows = ids, rows

    def of(self, numbers: pa.Array) -> pa.Array:
        """The ids of the consents numbered ``numbers`` (null for null).

        Millions of ids are copied in two halves on two threads (Arrow's ``take`` of
        strings runs on one core)."""
        rows = numbers if self.rows is None else pa.array(self.rows).take(numbers)
        half = len(rows) // 2
        if half < 1 << 16:
            return self.ids.take(rows)
        with ThreadPoolExecutor(max_workers=2) as pool:
            parts = list(pool.map(self.ids.take, (rows.slice(0, half), rows.slice(half))))
        return pa.concat_arrays(parts)


class InItemOrder:
    """The per-item columns of ``s_base`` as arrays of ``n`` rows in items order, filled
    a share of ``s_base`` at a time (rows that do not exist at T are not listed, with
    key 0). :meth:`add` may run on another thread than the one that made the object, one
    share at a time.

    Each batch is placed at its rows directly: one copy per column, a plain copy where
    its rows are a run (as the engine gives them from a scan of the items)."""

    # (name here, column of s_base, value where an item has no row, NumPy type)
    COLUMNS = (("listed", "candidate", False, np.bool_), ("key", "key", 0, np.int64),
               ("allowed", "base_ok", False, np.bool_), ("derived", "derived", False, np.bool_),
               ("version", "vidx", -1, np.int32), ("needs_ids", "needs_ids", False, np.bool_))

    def __init__(self, n: int) -> None:
        # Zeroed pages cost nothing until written: only the versions need a fill.
        self.columns = {name: np.zeros(n, dtype=kind) if not fill else np.full(n, fill, dtype=kind)
                        for name, _, fill, kind in self.COLUMNS}

    def add(self, base: pa.Table) -> None:
        """Place the rows of ``base`` (a share of ``s_base``)."""
        for batch in base.to_batches():
            rid = batch.column("rid").to_numpy()
            if not len(rid):
                continue
            first, last = int(rid[0]), int(rid[-1])
            run = last - first + 1 == len(rid) and bool(np.all(np.diff(rid) == 1))
            where: Any = slice(first, last + 1) if run else rid
            for name, source, fill, _ in self.COLUMNS:
                values = batch.column(source)
                if values.null_count:
                    values = pc.fill_null(values, fill)
                self.columns[name][where] = values.to_numpy(zero_copy_only=False)


def in_item_order(base: pa.Table, n: int) -> dict[str, np.ndarray]:
    """The per-item columns of ``s_base`` as arrays of ``n`` rows in items order (see
    :class:`InItemOrder`)."""
    order = InItemOrder(n)
    order.add(base)
    return order.columns


def _verdicts(base: dict[str, np.ndarray], usable: Any, unusable: Any) -> tuple[np.ndarray, ...]:
    """Each item's final ``listed``, ``key``, ``allowed`` and ``version`` (arrays of every
    item; ``base``'s are reused): a derived item is allowed only when it reached the
    fixed point, and one with a source that is not usable says so in its key."""
    listed, key, allowed, derived, version = (base.pop(name) for name in
                                              ("listed", "key", "allowed", "derived", "version"))
    n = len(key)
    good = np.zeros(n, dtype=bool)
    good[np.asarray(usable, dtype=np.int64)] = True
    derived &= ~good
    del good
    allowed &= ~derived
    del derived
    bad = np.zeros(n, dtype=bool)
    bad[np.asarray(unusable, dtype=np.int64)] = True  # a row may come once per bad source
    key += bad
    return listed, key, allowed, version


def _names(plan: Plan, version: np.ndarray, allowed: np.ndarray, key: np.ndarray) -> tuple[pa.Array, pa.Array]:
    """The ``terms_version`` and ``section`` columns of rows with these versions, keys and
    verdicts (only allowed rows name a section: the verdict number of their key)."""
    vid = np.zeros(len(key), dtype=np.int32)
    vid[allowed] = (key[allowed] >> 2) // plan.consent_space
    versions = pa.DictionaryArray.from_arrays(pa.array(version, mask=version < 0), pa.array(plan.versions, pa.string()))
    sections = pa.DictionaryArray.from_arrays(
        pa.array(vid, mask=~allowed),
        pa.array([verdict.section for verdict in plan.verdicts] or [None], pa.string()))
    return versions, sections


def _schema(passed: list[pa.ChunkedArray | pa.Array]) -> pa.Schema:
    # The manifest columns keep the types the items table gives them (a dictionary of
    # strings stays one: casting would copy every id).
    return pa.schema([*(pa.field(name, column.type) for name, column in zip(_PASSED_THROUGH, passed, strict=True)),
                      *list(RESULT_SCHEMA)[len(_PASSED_THROUGH):]])


def assemble(
    items: pa.Table, plan: Plan, base: dict[str, np.ndarray], usable: Any, unusable: Any,
    evidence: Callable[[], pa.Table | None], consent_ids: ConsentIds,
) -> pa.Table:
    """The result of ``select``: one row per listed item, in the order of ``items``.

    ``base`` is ``s_base`` in items order (:func:`in_item_order`; its arrays are reused);
    ``usable`` the derived rows in the fixed point; ``unusable`` the derived rows with a
    source that is not; ``evidence`` gives (rid, pos, consent), the consents relied on
    (each a consent by its number in ``consent_ids``) by every item whose own verdict
    allows it; rows of items a source denies are left out here.

    ``evidence`` is called on another thread, once the verdicts are known: it may wait
    for the evidence to be gathered while the rest of the answer is put together.
    """
    n = items.num_rows
    listed, key, allowed, version = _verdicts(base, usable, unusable)
    verdicts = allowed  # every item's, for the consents relied on; ``allowed`` becomes the listed rows'
    # Every item listed (the usual case at "now"): views, not copies, of the columns, and
    # no array of row numbers.
    every = bool(listed.all())
    rows = None if every else np.flatnonzero(listed)
    del listed
    if rows is not None:
        key, version, allowed = key[rows], version[rows], allowed[rows]
    # Gathering the string columns and the consents relied on is most of the work here,
    # and Arrow does it without the GIL: it starts on the other core at once, while the
    # reason keys are decoded and the names worked out here.
    with ThreadPoolExecutor(max_workers=2) as pool:
        ids_job = pool.submit(_consent_ids, n, rows, verdicts, evidence, consent_ids)
        keys = pc.dictionary_encode(pa.array(key))
        patterns = pa.array([decode(k, plan) for k in keys.dictionary.to_pylist()], pa.list_(_CODE))
        jobs = [pool.submit(patterns.take, keys.indices)]
        if rows is not None:
            jobs += [pool.submit(items.column(name).take, pa.array(rows)) for name in _PASSED_THROUGH]
        versions, sections = _names(plan, version, allowed, key)
        del key
        gathered = [job.result() for job in jobs]
        relied = ids_job.result()
    reasons = gathered[0]
    passed = [items.column(name) for name in _PASSED_THROUGH] if every else gathered[1:]
    return pa.Table.from_arrays([*passed, pa.array(allowed), reasons, versions, sections, relied],
                                schema=_schema(passed))


def assemble_allowed(
    items: pa.Table, plan: Plan, base: dict[str, np.ndarray], usable: Any, unusable: Any,
    evidence: Callable[[], pa.Table | None], consent_ids: ConsentIds,
) -> tuple[pa.Table, np.ndarray, dict[str, int]]:
    """What :func:`assemble` gives of the allowed items alone: their rows of the result,
    their rows among ``items`` and, for the denied items, how many list each reason code.

    A dataset keeps only the allowed items and counts the rest, so neither the denied
    rows' columns nor their reason lists are gathered.
    """
    listed, key, allowed, version = _verdicts(base, usable, unusable)
    allowed &= listed
    rows = np.flatnonzero(allowed)
    denied = pc.value_counts(pa.array(key[listed & ~allowed]))
    excluded: dict[str, int] = {}
    for value, count in zip(denied.field("values").to_pylist(), denied.field("counts").to_pylist(), strict=True):
        for code in decode(value, plan):
            excluded[code] = excluded.get(code, 0) + count
    del listed
    key, version = key[rows], version[rows]
    versions, sections = _names(plan, version, np.ones(len(rows), dtype=bool), key)
    del key
    taken = pa.array(rows)
    with ThreadPoolExecutor(max_workers=2) as pool:
        jobs = [pool.submit(items.column(name).take, taken) for name in _PASSED_THROUGH]
        jobs.append(pool.submit(_consent_ids, items.num_rows, rows, allowed, evidence, consent_ids))
        gathered = [job.result() for job in jobs]
    passed, ids = gathered[:-1], gathered[-1]
    reasons = pa.ListArray.from_arrays(pa.array(np.zeros(len(rows) + 1, dtype=np.int32)), pa.array([], _CODE))
    table = pa.Table.from_arrays([*passed, pa.array(np.ones(len(rows), dtype=bool)), reasons, versions, sections, ids],
                                 schema=_schema(passed))
    return table, rows, dict(sorted(excluded.items()))


def _consent_ids(n: int, rows: np.ndarray | None, allowed: np.ndarray, evidence: Callable[[], pa.Table | None],
                 ids: ConsentIds) -> pa.Array:
    """The ``consent_ids`` column: each listed row's consents in order, empty where none
    (``rows``: the listed rows; None when all ``n`` are; ``allowed``: every item's final
    verdict).

    ``evidence`` gives one row per consent relied on, (rid, pos, consent), in any order,
    for items whose own verdict allows them: those of items not allowed in the end (a
    source is not usable) are dropped, the rest sorted here by item and, within one, by
    the person's place (the owner's -1 first).
    """
    listed = n if rows is None else len(rows)
    found = evidence()
    if found is None or found.num_rows == 0:
        return _no_ids(listed)
    rid = found.column("rid").to_numpy(zero_copy_only=False)
    pos = found.column("pos").to_numpy(zero_copy_only=False) + 1
    final = allowed[rid]
    kept = None if final.all() else np.flatnonzero(final)
    del final
    if kept is not None:
        rid, pos = rid[kept], pos[kept]
    if not len(rid):
        return _no_ids(listed)
    # One integer sorts by both: the item above, the place (at least 0) below. Gathered
    # by position, the rows come in that order already.
    both = rid.astype(np.int64) * (int(pos.max(initial=0)) + 1) + pos
    order = None if bool(np.all(both[1:] >= both[:-1])) else np.argsort(both, kind="stable")
    del both, pos
    if order is not None:
        rid = rid[order]
    # Where each item's run of rows starts (the runs' lengths, summed), for every item:
    # evidence rows belong to listed rows only, so the listed rows' starts are theirs.
    runs = np.flatnonzero(np.r_[True, rid[1:] != rid[:-1]])
    firsts = np.zeros(n + 1, dtype=np.int32)
    firsts[rid[runs] + 1] = np.diff(np.r_[runs, len(rid)])
    del rid, runs
    np.cumsum(firsts, out=firsts)
    offsets = firsts if rows is None else np.r_[firsts[rows], firsts[-1]].astype(np.int32)
    # The evidence rows to read, in order: those kept, sorted where they were not already.
    taken = kept if order is None else order if kept is None else kept[order]
    numbers = whole(found.column("consent"))
    if taken is not None:
        numbers = numbers.take(pa.array(taken))
    return pa.ListArray.from_arrays(pa.array(offsets), ids.of(numbers))


def _no_ids(listed: int) -> pa.Array:
    """A ``consent_ids`` column of ``listed`` empty lists."""
    return pa.ListArray.from_arrays(pa.array(np.zeros(listed + 1, dtype=np.int32)), pa.array([], pa.string()))
