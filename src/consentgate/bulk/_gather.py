"""Per-item lookups by position: an item's account, owner and meeting rows, gathered in Arrow.

``s_acc``, ``s_owner`` and ``s_lines`` hold one row per account, person and meeting, keyed
by its row number (``ref``), and every item names those rows in its ``*_ref`` columns.
A hash join of ten million items against them probes a hash table per item and carries
each column through; an index from ref to row, built once per table, lets Arrow take the
same values by position instead, in a fraction of the time. Engines that cannot hold the
items in one process (Spark) keep the joins of ``_sql_item``; both give the same columns,
named ``{prefix}{column}``. The same goes for each item's row of ``p_vk`` (by its terms
version and kind) and its owner's packed consent states for its meeting (``s_pgm``).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from ._plan import KIND_SLOTS, UNKNOWN_KIND
from ._tables import whole


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
# An item's p_vk row is keyed by its terms version and kind (``_sql_item``): the key here
# is that plus KIND_SLOTS, so that items with no terms in force (vidx -1) have one too.
VERDICT_KINDS = Lookup("p_vk", "vkk", "vkk", "vk_")


def _numbers(column: pa.ChunkedArray | pa.Array) -> np.ndarray:
    """An integer column as NumPy values of its own width, nulls as -1 (a view of the
    column where it has no nulls and one chunk). Arithmetic that may leave that width
    widens first."""
    if isinstance(column, pa.ChunkedArray):
        column = whole(column)
    if column.null_count:
        column = pc.fill_null(column, -1)
    return np.asarray(column.to_numpy(zero_copy_only=False))


class Index:
    """Where each ref's row is in one looked-up table.

    The table gains a last row of nulls, where every ref without a row points. What is
    taken is a dictionary column over the table's (its indices the rows, which copies
    nothing): the engine reads the values through it, faster than Arrow's ``take``
    would copy them, nullable as most are."""

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
        self._numbers: dict[str, np.ndarray] = {}

    def rows_of(self, refs: pa.ChunkedArray | pa.Array) -> np.ndarray:
        """The table's row for each of ``refs`` (the row of nulls where the ref is null
        or has no row)."""
        wanted = _numbers(refs)
        outside = len(self.rows) - 1
        if len(wanted) and (wanted.min() < 0 or wanted.max() >= outside):
            wanted = np.where((wanted >= 0) & (wanted < outside), wanted, outside)
        found: np.ndarray = self.rows[wanted]
        return found

    def take(self, refs: pa.ChunkedArray | pa.Array, names: list[str] | None = None) -> dict[str, pa.Array]:
        """The table's columns (or those ``names``) for each of ``refs``, prefixed (null
        where the ref is null or has no row)."""
        return self.at(self.rows_of(refs), names)

    def at(self, rows: np.ndarray, names: list[str] | None = None) -> dict[str, pa.Array]:
        """The table's columns (or those ``names``) at ``rows`` (from :meth:`rows_of`), prefixed."""
        indices = pa.array(rows)
        return {self.prefix + name: pa.DictionaryArray.from_arrays(indices, self.table.column(name).chunk(0))
                for name in names or self.table.column_names}

    def numbers(self, name: str) -> np.ndarray:
        """An integer column of the table as NumPy values, -1 for null (so at the row of
        nulls too), by row."""
        if name not in self._numbers:
            self._numbers[name] = _numbers(self.table.column(name))
        return self._numbers[name]


class Pairs:
    """Where each (subject, meeting) pair's row is in a table keyed by both (``s_pgm``,
    ``s_cm``): the pairs as one sorted integer each, searched for the people who have any."""

    def __init__(self, table: pa.Table) -> None:
        subjects, meetings = _numbers(table.column("subject")), _numbers(table.column("meeting"))
        kept = np.flatnonzero((subjects >= 0) & (meetings >= 0))  # a null never matches
        subjects, meetings = subjects[kept].astype(np.int64), meetings[kept]
        self.width = int(meetings.max(initial=-1)) + 1
        keys = subjects * self.width + meetings
        order = np.argsort(keys)
        self.keys, self.rows = keys[order], kept[order]
        self.some = np.zeros(int(subjects.max(initial=-1)) + 2, dtype=bool)  # the last: no one's
        self.some[subjects] = True
        self.table = table

    def rows_of(self, subjects: np.ndarray, meetings: np.ndarray) -> np.ndarray:
        """The table's row for each (subject, meeting), -1 where the pair has none."""
        outside = len(self.some) - 1
        if len(subjects) and (subjects.min() < 0 or subjects.max() >= outside):
            subjects = np.where((subjects >= 0) & (subjects < outside), subjects, outside)
        asked = np.flatnonzero(self.some[subjects])
        asked = asked[(meetings[asked] >= 0) & (meetings[asked] < self.width)]
        wanted = subjects[asked].astype(np.int64) * self.width + meetings[asked]
        found = np.clip(np.searchsorted(self.keys, wanted), 0, max(len(self.keys) - 1, 0))
        hit = self.keys[found] == wanted if len(self.keys) else np.zeros(len(asked), dtype=bool)
        rows = np.full(len(subjects), -1, dtype=np.int64)
        rows[asked[hit]] = self.rows[found[hit]]
        return rows

    def take(self, subjects: pa.ChunkedArray | pa.Array, meetings: pa.ChunkedArray | pa.Array,
             name: str) -> pa.Array:
        """Column ``name`` for each (subject, meeting), null where the pair has no row: a
        dictionary column over the table's (as :meth:`Index.take` gives)."""
        rows = self.rows_of(_numbers(subjects), _numbers(meetings))
        values = whole(self.table.column(name))
        rows[rows < 0] = len(values)  # the null after the values
        narrow = np.int32 if len(values) < 2**31 - 1 else np.int64
        return pa.DictionaryArray.from_arrays(pa.array(rows.astype(narrow)),
                                              pa.concat_arrays([values, pa.nulls(1, values.type)]))


def indexes(tables: dict[str, pa.Table]) -> dict[str, Index]:
    """An :class:`Index` for each of ``tables`` that :data:`LOOKUPS` names, and for
    ``p_vk`` (see :data:`VERDICT_KINDS`)."""
    found = {lookup.table: Index(tables[lookup.table], lookup) for lookup in LOOKUPS if lookup.table in tables}
    if "p_vk" in tables:
        kinds = tables["p_vk"]
        shifted = pc.add(kinds.column("vkk"), KIND_SLOTS)
        found["p_vk"] = Index(kinds.set_column(kinds.schema.get_field_index("vkk"), "vkk", shifted), VERDICT_KINDS)
    return found


def widen(items: pa.Table, indexes: dict[str, Index], pairs: Pairs | None = None) -> pa.Table:
    """``items`` with the looked-up columns of every :data:`LOOKUPS` table in ``indexes``,
    of their ``p_vk`` row when ``indexes`` has it (which needs ``s_acc``'s ``vidx``) and
    the ``packed`` states of ``pairs`` (``s_pgm``) by (owner, meeting), as ``om_packed``."""
    account_rows = None
    for lookup in LOOKUPS:
        index = indexes.get(lookup.table)
        if index is None:
            continue
        rows = index.rows_of(items.column(lookup.ref))
        if lookup.table == "s_acc":
            account_rows = rows
        for name, column in index.at(rows).items():
            items = items.append_column(name, column)
    kinds = indexes.get("p_vk")
    if kinds is not None and account_rows is not None:
        vidx = indexes["s_acc"].numbers("vidx")[account_rows].astype(np.int64)  # -1 where no terms are in force
        code = pc.fill_null(items.column("kind_code"), UNKNOWN_KIND).to_numpy()
        for name, column in kinds.take(pa.array((vidx + 1) * KIND_SLOTS + code)).items():
            items = items.append_column(name, column)
    if pairs is not None:
        items = items.append_column("om_packed", pairs.take(items.column("owner_ref"), items.column("meeting_ref"),
                                                            "packed"))
    return items


def per_meeting(lines: pa.Table, packed_lines: int, flags: list[str]) -> pa.Table:
    """``s_lines`` from the participant lines of ``_sql.line_flags``, by position rather
    than grouped: one row per meeting that has lines (``meeting``), the packed states of
    its lines at places 0 .. ``packed_lines`` - 1 (``pk{j}``; 0 where it has no such line,
    which fails nothing, as the engine reads a null there), whether it has lines after
    them (``over``) and, for each notice flag in ``flags`` (``n{cond}``), whether any line
    has it (a null flag counts as not, as it does where ``s_lines`` is read)."""
    meeting = _numbers(lines.column("meeting"))
    known = None if meeting.min(initial=0) >= 0 else meeting >= 0  # a line of no meeting is never looked up
    pos = _numbers(lines.column("pos"))
    if known is not None:
        meeting, pos = meeting[known], pos[known]
    size = int(meeting.max(initial=-1)) + 1
    has_lines = np.zeros(size, dtype=bool)
    has_lines[meeting] = True
    # Each meeting's row is its number; where some number has no lines, its row is left out.
    rows = None if has_lines.all() else np.flatnonzero(has_lines)
    columns: dict[str, pa.Array] = {"meeting": pa.array(np.arange(size, dtype=np.int64) if rows is None else rows)}

    def per_row(values: np.ndarray) -> pa.Array:
        return pa.array(values if rows is None else values[rows])

    if "packed" in lines.column_names:
        values = pc.fill_null(lines.column("packed"), 0).to_numpy(zero_copy_only=False)
        if known is not None:
            values = values[known]
        # A meeting's places are distinct: one scatter puts each line in its cell, a
        # place's cells side by side.
        inside = (pos >= 0) & (pos < packed_lines)
        grid = np.zeros((packed_lines, size), dtype=values.dtype)
        grid[pos[inside], meeting[inside]] = values[inside]
        for j in range(packed_lines):
            columns[f"pk{j}"] = per_row(grid[j])
        over = np.zeros(size, dtype=bool)
        over[meeting[pos >= packed_lines]] = True
        columns["over"] = per_row(over)
    for name in flags:
        told_not = np.asarray(pc.fill_null(lines.column(name), False).to_numpy(zero_copy_only=False), dtype=bool)
        flag = np.zeros(size, dtype=bool)
        flag[meeting[told_not if known is None else told_not[known]]] = True
        columns[name] = per_row(flag)
    return pa.table(columns)


class Latest:
    """Each person's latest consent not limited to one meeting, per kind: the greatest
    ``enc`` (see ``_sql``) by subject row and kind place, -1 where none, held kind by
    kind (one contiguous run per kind, and a last run of none for no known kind)."""

    def __init__(self, encs: np.ndarray) -> None:
        self.encs = encs  # (kinds + 1, people + 1): the last row and column are none
        self.people = encs.shape[1] - 1

    def at(self, person: np.ndarray, kind: np.ndarray) -> np.ndarray:
        """The ``enc`` for each (person row, kind place); -1 where a person or kind is
        none (-1) or the person has no such consent."""
        outside = self.people
        person = np.where((person >= 0) & (person < outside), person, outside)
        kind = np.where(kind >= 0, kind, self.encs.shape[0] - 1)
        found: np.ndarray = self.encs.ravel().take(kind.astype(np.int64) * (outside + 1) + person)
        return found


def relied_on(allowed: pa.Table, participants: pa.Table, general: Latest, limited: pa.Table,
              kidx: np.ndarray) -> pa.Table:
    """The consent each person counted for an allowed item relied on, by position (what
    ``_sql_out.people_sql`` and ``evidence_sql`` give by joins): a row (rid, pos, consent)
    for the item's owner (pos -1) and for each other subject's first line of its meeting
    (that line's pos, only where the owner is known), in the order of ``allowed`` and,
    within an item, of pos. ``consent`` is the number of the latest consent of the person
    for the item's kind, counting those for any meeting (``general``: ``s_cg``, see
    :func:`latest_general`) and those for that meeting (``limited``: ``s_cm``); null when
    neither has one or the kind needs none. ``kidx`` gives each kind code's place among
    the kinds that need consent (-1 for none); items of no known kind are left out.
    """
    code = _numbers(allowed.column("kind_code"))
    keep = (code >= 0) & (code < len(kidx))
    rid = allowed.column("rid").to_numpy(zero_copy_only=False)[keep]
    owner = _numbers(allowed.column("owner_ref"))[keep]
    meeting = _numbers(allowed.column("meeting_ref"))[keep]
    place = kidx[code[keep]].astype(np.int8 if len(kidx) < 127 else np.int64)
    # Each meeting's lines, as a run of the lines sorted by meeting.
    line_meeting = _numbers(participants.column("meeting_ref"))
    line_subject = _numbers(participants.column("subject_ref"))
    first = np.asarray(participants.column("first").to_numpy(zero_copy_only=False), dtype=bool)
    line_pos = _numbers(participants.column("pos"))
    # Lines of no meeting (-1) sort first and are left out. A store lists a meeting's
    # lines together already; then the order is the lines' own.
    in_order = bool(np.all(line_meeting[1:] >= line_meeting[:-1]))
    order = None if in_order else np.argsort(line_meeting, kind="stable")
    skipped = int(np.count_nonzero(line_meeting < 0))
    if order is not None:
        order = order[skipped:]
    size = int(max(line_meeting.max(initial=-1), meeting.max(initial=-1))) + 1
    counts = np.bincount(line_meeting[skipped:] if order is None else line_meeting[order], minlength=size)
    starts = np.zeros(size + 1, dtype=np.int64)
    np.cumsum(counts, out=starts[1:])
    # Row numbers of the lines and the allowed items as narrow as they can be: the
    # arrays below have a row per line of every allowed item.
    narrow = np.int32 if max(len(line_meeting), len(rid)) < 2**31 - 1 else np.int64
    items = np.flatnonzero((meeting >= 0) & (owner >= 0)).astype(narrow)
    n_lines = counts[meeting[items]]
    item = np.repeat(items, n_lines)
    # Each line's row: its meeting's first line's, plus its place in the meeting's run.
    line = np.arange(len(item), dtype=np.int64)
    line += np.repeat(starts[meeting[items]] - (np.cumsum(n_lines) - n_lines), n_lines)
    line = (line + skipped if order is None else order[line]).astype(narrow)
    subject = line_subject[line]
    counted = first[line] & (subject >= 0) & (subject != owner[item])
    item, line, subject = item[counted], line[counted], subject[counted]
    # In the order the answer lists them: by item, its owner first, then the others by
    # place (each item's others are in the order of their lines already). Each row's
    # place is its own plus the rows of every item before it.
    others = np.bincount(item, minlength=len(rid))
    owners_at = np.arange(len(rid), dtype=np.int64) + (np.cumsum(others) - others)
    others_at = np.arange(len(item), dtype=np.int64) + item + 1
    del others
    total = len(rid) + len(item)
    who, person = np.empty(total, dtype=narrow), np.empty(total, dtype=owner.dtype)
    pos = np.empty(total, dtype=line_pos.dtype)
    who[owners_at], person[owners_at], pos[owners_at] = np.arange(len(rid), dtype=narrow), owner, -1
    who[others_at], person[others_at], pos[others_at] = item, subject, line_pos[line]
    del owners_at, others_at, item, line, subject
    kind = place[who]
    latest = general.at(person, kind).astype(np.int64)
    # And for the item's meeting, by (person, meeting) among ``limited``'s sorted pairs:
    # only people who gave one for some meeting are looked for.
    if limited.num_rows:
        pairs = Pairs(limited)
        asked = np.flatnonzero((person >= 0) & (kind >= 0) & (meeting[who] >= 0))
        found = pairs.rows_of(person[asked], meeting[who[asked]])
        asked, found = asked[found >= 0], found[found >= 0]
        for i in range(int(kidx.max(initial=-1)) + 1):
            at = kind[asked] == i
            more = _numbers(limited.column(f"e{i}"))[found[at]]
            latest[asked[at]] = np.maximum(latest[asked[at]], more)
    return pa.table({"rid": pa.array(rid[who]), "pos": pa.array(pos),
                     "consent": pa.array(latest >> 3, mask=latest < 0)})


def latest_general(relevant: pa.Table, kind_bits: list[int]) -> tuple[pa.Table, Latest]:
    """``s_cg`` (see ``_sql.consent_states``) from ``s_rel`` by position: one row per
    subject with a consent for no one meeting, and for each kind bit of ``kind_bits``
    (``e{i}``) the greatest ``enc`` of those consents covering it, null where none does;
    and the same by subject row for :func:`relied_on`. (A consent of no known subject
    is no one's: no lookup finds such a row.)"""
    subject = _numbers(relevant.column("subject"))
    keep = pc.is_null(relevant.column("meeting")).to_numpy(zero_copy_only=False) & (subject >= 0)
    subject = subject[keep]
    kinds = _numbers(relevant.column("kinds"))[keep]
    enc = _numbers(relevant.column("enc"))[keep].astype(np.int64)  # at least 0: -1 stands for none
    size = int(subject.max(initial=-1)) + 1
    present = np.zeros(size, dtype=bool)
    present[subject] = True
    people = np.flatnonzero(present)
    columns: dict[str, pa.Array] = {"subject": pa.array(people.astype(np.int64))}
    # int32 where every enc fits, as it does below 268 million consents.
    encs = np.full((len(kind_bits) + 1, size + 1), -1,
                   dtype=np.int32 if int(enc.max(initial=0)) < 2**31 - 1 else np.int64)
    for i, bit in enumerate(kind_bits):
        covers = (kinds & bit) != 0
        np.maximum.at(encs[i], subject[covers], enc[covers].astype(encs.dtype))
        values = encs[i].take(people)
        columns[f"e{i}"] = pa.array(values, mask=values < 0)
    return pa.table(columns), Latest(encs)
