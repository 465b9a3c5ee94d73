"""Per-item lookups by position: an item's account, owner and meeting rows, gathered in Arrow.

``s_acc``, ``s_owner`` and ``s_lines`` hold one row per account, person and meeting, keyed
by its row number (``ref``), and every item names those rows in its ``*_ref`` columns.
A hash join of ten million items against them probes a hash table per item and carries
each column through; an index from ref to row, built once per table, lets Arrow take the
same values by position instead, in a fraction of the time. Engines that cannot hold the
items in one process (Spark) keep the joins of ``_sql_item``; both give the same columns,
named ``{prefix}{column}``.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc


@dataclass(frozen=True)
class Lookup:
    """Items' ``ref`` column names a row of ``table`` by its ``key``; its columns (but
    those in ``unread``) come out prefixed with ``prefix``."""

    table: str
    key: str
    ref: str
    prefix: str
    unread: tuple[str, ...] = ()


LOOKUPS = (
    Lookup("s_acc", "account", "account_ref", "a_"),
    Lookup("s_owner", "subject", "owner_ref", "o_"),
    Lookup("s_lines", "meeting", "meeting_ref", "m_", unread=("over",)),
)


def _numbers(column: pa.ChunkedArray | pa.Array) -> np.ndarray:
    """An integer column as int64 NumPy values, nulls as -1."""
    return np.asarray(pc.fill_null(column, -1).to_numpy(zero_copy_only=False), dtype=np.int64)


class Index:
    """Where each ref's row is in one looked-up table.

    The table gains a last row of nulls, where every ref without a row points: taking
    by indices without nulls is the fast path of Arrow's ``take``."""

    def __init__(self, table: pa.Table, lookup: Lookup) -> None:
        keys = _numbers(table.column(lookup.key))
        table = table.drop_columns([lookup.key, *(name for name in lookup.unread if name in table.column_names)])
        empty = table.num_rows
        self.rows = np.full(int(keys.max(initial=-1)) + 2, empty, dtype=np.int32 if empty < 2**31 - 1 else np.int64)
        keys = np.where(keys < 0, len(self.rows) - 1, keys)  # a null key is never looked up
        self.rows[keys] = np.arange(len(keys))
        self.rows[-1] = empty
        nulls = pa.table({field.name: pa.nulls(1, field.type) for field in table.schema})
        self.table = pa.concat_tables([table, nulls]).combine_chunks()
        self.prefix = lookup.prefix

    def take(self, refs: pa.ChunkedArray | pa.Array, names: list[str] | None = None) -> dict[str, pa.ChunkedArray]:
        """The table's columns (or those ``names``) for each of ``refs``, prefixed (null
        where the ref is null or has no row)."""
        wanted = _numbers(refs)
        outside = len(self.rows) - 1
        rows = pa.array(self.rows[np.where((wanted >= 0) & (wanted < outside), wanted, outside)])
        return {self.prefix + name: self.table.column(name).take(rows) for name in names or self.table.column_names}


def indexes(tables: dict[str, pa.Table]) -> dict[str, Index]:
    """An :class:`Index` for each of ``tables`` that :data:`LOOKUPS` names."""
    return {lookup.table: Index(tables[lookup.table], lookup) for lookup in LOOKUPS if lookup.table in tables}


def widen(items: pa.Table, indexes: dict[str, Index]) -> pa.Table:
    """``items`` with the looked-up columns of every :data:`LOOKUPS` table in ``indexes``."""
    for lookup in LOOKUPS:
        index = indexes.get(lookup.table)
        if index is None:
            continue
        for name, column in index.take(items.column(lookup.ref)).items():
            items = items.append_column(name, column)
    return items


def per_meeting(lines: pa.Table, packed_lines: int, flags: list[str]) -> pa.Table:
    """``s_lines`` from the participant lines of ``_sql.line_flags``, by position rather
    than grouped: one row per meeting that has lines (``meeting``), the packed states of
    its lines at places 0 .. ``packed_lines`` - 1 (``pk{j}``, null where it has no such
    line), whether it has lines after them (``over``) and, for each notice flag in
    ``flags`` (``n{cond}``), whether any line has it (a null flag counts as not, as it
    does where ``s_lines`` is read)."""
    meeting = _numbers(lines.column("meeting"))
    known = meeting >= 0  # a line of no meeting is never looked up
    pos = _numbers(lines.column("pos"))[known]
    meeting = meeting[known]
    size = int(meeting.max(initial=-1)) + 1
    has_lines = np.zeros(size, dtype=bool)
    has_lines[meeting] = True
    rows = np.flatnonzero(has_lines)
    columns: dict[str, pa.Array] = {"meeting": pa.array(rows.astype(np.int64))}
    if "packed" in lines.column_names:
        values = pc.fill_null(lines.column("packed"), 0).to_numpy(zero_copy_only=False)[known]
        for j in range(packed_lines):
            at = pos == j  # a meeting's places are distinct
            value = np.zeros(size, dtype=values.dtype)
            value[meeting[at]] = values[at]
            present = np.zeros(size, dtype=bool)
            present[meeting[at]] = True
            columns[f"pk{j}"] = pa.array(value[rows], mask=~present[rows])
        over = np.zeros(size, dtype=bool)
        over[meeting[pos >= packed_lines]] = True
        columns["over"] = pa.array(over[rows])
    for name in flags:
        told_not = np.asarray(pc.fill_null(lines.column(name), False).to_numpy(zero_copy_only=False), dtype=bool)
        flag = np.zeros(size, dtype=bool)
        flag[meeting[told_not[known]]] = True
        columns[name] = pa.array(flag[rows])
    return pa.table(columns)


def relied_on(allowed: pa.Table, participants: pa.Table, general: pa.Table, limited: pa.Table,
              kidx: np.ndarray) -> pa.Table:
    """The consent each person counted for an allowed item relied on, by position (what
    ``_sql_out.people_sql`` and ``evidence_sql`` give by joins): a row (rid, pos, consent)
    for the item's owner (pos -1) and for each other subject's first line of its meeting
    (that line's pos, only where the owner is known). ``consent`` is the number of the
    latest consent of the person for the item's kind, counting those for any meeting
    (``general``: ``s_cg``) and those for that meeting (``limited``: ``s_cm``); null when
    neither has one or the kind needs none. ``kidx`` gives each kind code's place among
    the kinds that need consent (-1 for none); items of no known kind are left out.
    """
    code = _numbers(allowed.column("kind_code"))
    keep = (code >= 0) & (code < len(kidx))
    rid = allowed.column("rid").to_numpy(zero_copy_only=False)[keep].astype(np.int64)
    owner = _numbers(allowed.column("owner_ref"))[keep]
    meeting = _numbers(allowed.column("meeting_ref"))[keep]
    place = kidx[code[keep]]
    # Each meeting's lines, as a run of the lines sorted by meeting.
    line_meeting = _numbers(participants.column("meeting_ref"))
    line_subject = _numbers(participants.column("subject_ref"))
    first = np.asarray(participants.column("first").to_numpy(zero_copy_only=False), dtype=bool)
    line_pos = _numbers(participants.column("pos"))
    order = np.argsort(line_meeting, kind="stable")
    order = order[line_meeting[order] >= 0]
    size = int(max(line_meeting.max(initial=-1), meeting.max(initial=-1))) + 1
    counts = np.bincount(line_meeting[order], minlength=size)
    starts = np.zeros(size + 1, dtype=np.int64)
    np.cumsum(counts, out=starts[1:])
    with_lines = (meeting >= 0) & (owner >= 0)
    items = np.flatnonzero(with_lines)
    n_lines = counts[meeting[items]]
    item = np.repeat(items, n_lines)
    offsets = np.arange(len(item)) - np.repeat(np.cumsum(n_lines) - n_lines, n_lines)
    line = order[np.repeat(starts[meeting[items]], n_lines) + offsets]
    subject = line_subject[line]
    counted = first[line] & (subject >= 0) & (subject != owner[item])
    item, line, subject = item[counted], line[counted], subject[counted]
    # Owners first, then the others: (row among the allowed, subject, pos).
    who = np.concatenate([np.arange(len(rid)), item])
    person = np.concatenate([owner, subject])
    pos = np.concatenate([np.full(len(rid), -1, dtype=np.int64), line_pos[line]])
    kind = place[who]
    # The latest consent for any meeting, by the person's row in ``general`` (a kind's
    # column at a time: one column is read at random far faster than a row of them).
    kinds = int(kidx.max(initial=-1)) + 1
    people = _numbers(general.column("subject"))
    row_of = np.full(int(max(people.max(initial=-1), person.max(initial=-1))) + 2, general.num_rows, dtype=np.int64)
    row_of[people[people >= 0]] = np.flatnonzero(people >= 0)
    known = (person >= 0) & (kind >= 0)
    rows = np.where(known, row_of[np.where(person >= 0, person, -1)], general.num_rows)
    latest = np.full(len(who), -1, dtype=np.int64)
    for i in range(kinds):
        at = kind == i
        latest[at] = np.append(_numbers(general.column(f"e{i}")), -1)[rows[at]]
    # And for the item's meeting, by (person, meeting) among ``limited``'s sorted pairs:
    # only people who gave one for some meeting are looked for.
    if limited.num_rows:
        subjects, meetings = _numbers(limited.column("subject")), _numbers(limited.column("meeting"))
        some = np.zeros(len(row_of), dtype=bool)
        some[subjects[(subjects >= 0) & (subjects < len(row_of))]] = True
        asked = np.flatnonzero(known & (meeting[who] >= 0) & some[np.where(person >= 0, person, -1)])
        width = int(max(meetings.max(initial=-1), meeting.max(initial=-1))) + 2
        pairs = subjects * width + meetings + 1
        sorted_at = np.argsort(pairs)
        wanted = person[asked] * width + meeting[who[asked]] + 1
        found = np.clip(np.searchsorted(pairs[sorted_at], wanted), 0, len(pairs) - 1)
        hit = pairs[sorted_at][found] == wanted
        asked, found = asked[hit], sorted_at[found[hit]]
        for i in range(kinds):
            at = kind[asked] == i
            more = _numbers(limited.column(f"e{i}"))[found[at]]
            latest[asked[at]] = np.maximum(latest[asked[at]], more)
    return pa.table({"rid": pa.array(rid[who]), "pos": pa.array(pos),
                     "consent": pa.array(latest >> 3, mask=latest < 0)})
