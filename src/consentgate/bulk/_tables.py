"""The state a bulk selection reads: one Arrow table per kind of state.

Times are int64 microseconds since the epoch (UTC). Lists the rules look inside are
pre-exploded into their own tables (a user's groups, an item's sources); a consent's
data kinds are a bitmask over :data:`KIND_BITS`, because the vocabulary of data kinds is
closed and a mask tests coverage without multiplying the consent rows by nine.

The schemas give each column's meaning and widest type. A table may use a narrower
physical type that reads the same: a dictionary for a string column (an id column whose
dictionary is the referenced table's ids costs no copy of the ids), int32 for row
numbers (``*_ref``, ``pos``, ``item_row``, ``source_row``). The benchmark's state of ten
million items takes about 800 MiB less that way.

Where "the latest event at or before T" matters, a table carries ``seq``: of two events
of the same history, the one with the greater ``seq`` is the later (a later line breaks
a tie on time), exactly as the policy core orders them.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, fields
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from ..model import DATA_KINDS

# Bit i of a consent's ``kinds`` mask stands for DATA_KINDS[i].
KIND_BITS: dict[str, int] = {kind: 1 << index for index, kind in enumerate(DATA_KINDS)}

_STR, _I64, _I32, _BOOL = pa.string(), pa.int64(), pa.int32(), pa.bool_()
_STRS = pa.list_(pa.string())

SCHEMAS: dict[str, pa.Schema] = {
    # Content and service data. ``owner`` is the content's owner or the service data's
    # user (null when it names none): whose consent and settings the item answers to.
    # ``created`` is created_at (content) or at (service data). ``derived`` is true when
    # the item has at least one row in ``sources``; ``train_reserved`` when its signals
    # reserve AI training (core.signals.training_reservation). ``kind_code`` is the kind's
    # place in DATA_KINDS; the ``*_ref`` columns are rows of accounts, people, meetings;
    # ``erased`` is the time of the item's first erasure (null when never erased).
    # A row's position in the table is its number in ``sources`` and ``erasures``.
    "items": pa.schema([
        ("item_id", _STR), ("kind", _STR), ("account", _STR), ("owner", _STR), ("meeting", _STR),
        ("created", _I64), ("uri", _STR), ("sha256", _STR), ("derived", _BOOL), ("train_reserved", _BOOL),
        ("kind_code", _I32), ("account_ref", _I64), ("owner_ref", _I64), ("meeting_ref", _I64), ("erased", _I64),
    ]),
    # An item's ``derived_from``, de-duplicated, one row per source: ``item_row`` is the
    # derived item's row in ``items``, ``source_row`` the source's row (null when no item
    # has that id), ``pos`` the source's place in the list.
    "sources": pa.schema([("item_row", _I64), ("source", _STR), ("source_row", _I64), ("pos", _I32)]),
    # Every person the state names (users, guests, owners, subjects); a row is a ``ref``.
    "people": pa.schema([("id", _STR)]),
    # Every account the state names (a region only for those with an account event).
    "accounts": pa.schema([("id", _STR), ("region", _STR)]),
    "groups": pa.schema([("id", _STR), ("account", _STR), ("priority", _I64)]),
    "users": pa.schema([("id", _STR), ("account", _STR)]),
    # A user's ``groups`` list, de-duplicated; ``pos`` is the place in the list (it breaks
    # ties between groups of equal priority).
    "user_groups": pa.schema([
        ("user_id", _STR), ("group_id", _STR), ("pos", _I32), ("user_ref", _I64), ("group_ref", _I64),
    ]),
    # ``target_ref`` is the target's row in accounts, groups or people, by ``scope``.
    "settings": pa.schema([
        ("scope", _STR), ("target", _STR), ("key", _STR), ("value", _BOOL), ("locked", _BOOL),
        ("at", _I64), ("seq", _I64), ("target_ref", _I64),
    ]),
    # One row per grant of every terms version; ``grant`` numbers the grants of a version
    # in the order of its sections and their grants. ``data`` and ``requires`` as in the
    # terms event.
    "terms_grants": pa.schema([
        ("version", _STR), ("section", _STR), ("grant", _I32), ("purpose", _STR), ("data", _STRS),
        ("requires", _STRS),
    ]),
    # ``effective`` is the accepted version's effective_at (null when no such terms
    # exist); ``terms_seq`` orders versions by (effective_at, arrival): of two versions in
    # force, the greater ``terms_seq`` applies.
    "acceptances": pa.schema([
        ("account", _STR), ("version", _STR), ("at", _I64), ("effective", _I64), ("terms_seq", _I64),
        ("account_ref", _I64),
    ]),
    # ``kinds`` is a bitmask over KIND_BITS; ``self_given`` is false when someone acted for
    # the subject (method admin_on_behalf, or ``by`` naming another person); ``expires``
    # is expires_at or null. ``seq`` orders all consents by (at, arrival).
    "consents": pa.schema([
        ("id", _STR), ("subject", _STR), ("purpose", _STR), ("status", _STR), ("kinds", _I32),
        ("meeting", _STR), ("self_given", _BOOL), ("at", _I64), ("expires", _I64), ("seq", _I64),
        ("subject_ref", _I64), ("meeting_ref", _I64),
    ]),
    # The data-kind vocabulary: the bit each kind has in ``consents.kinds``.
    "consent_kinds": pa.schema([("kind", _STR), ("bit", _I32)]),
    # Every meeting the state names (an account only for those with a meeting event).
    "meetings": pa.schema([("id", _STR), ("account", _STR)]),
    # Every participant line; ``pos`` is the line's place among its meeting's lines, in
    # arrival order, counting from 0 (so 0, 1, 2, ... within each meeting); ``first`` is
    # true on the first line of each subject in each meeting.
    "participants": pa.schema([
        ("meeting", _STR), ("subject", _STR), ("pos", _I64), ("notified", _STRS), ("first", _BOOL),
        ("meeting_ref", _I64), ("subject_ref", _I64),
    ]),
    # ``item_row`` is the erased item's row in ``items`` (null when no item has that id).
    "erasures": pa.schema([("item_id", _STR), ("item_row", _I64), ("at", _I64)]),
}

# Where each reference column points: (table, column holding the key, referenced table).
REFERENCES = (
    ("items", "account", "accounts"), ("items", "owner", "people"), ("items", "meeting", "meetings"),
    ("user_groups", "user_id", "people"), ("user_groups", "group_id", "groups"),
    ("acceptances", "account", "accounts"), ("consents", "subject", "people"), ("consents", "meeting", "meetings"),
    ("participants", "meeting", "meetings"), ("participants", "subject", "people"),
)


@dataclass(frozen=True)
class StateTables:
    """Everything a bulk selection reads, as Arrow tables (columns: see ``SCHEMAS``).

    Build one with :func:`state_tables_from_world` or :func:`state_tables_from_store`,
    or directly (the benchmark does) as long as every table has its schema's columns.
    """

    items: pa.Table
    people: pa.Table
    accounts: pa.Table
    groups: pa.Table
    users: pa.Table
    user_groups: pa.Table
    settings: pa.Table
    terms_grants: pa.Table
    acceptances: pa.Table
    consents: pa.Table
    consent_kinds: pa.Table
    meetings: pa.Table
    participants: pa.Table
    erasures: pa.Table
    sources: pa.Table

    def __post_init__(self) -> None:
        for name, schema in SCHEMAS.items():
            table = getattr(self, name)
            missing = [column for column in schema.names if column not in table.column_names]
            if missing:
                raise ValueError(f"state table {name} lacks column(s) {', '.join(missing)}")

    def as_dict(self) -> dict[str, pa.Table]:
        """The tables by name."""
        return {field.name: getattr(self, field.name) for field in fields(self)}


def kind_table() -> pa.Table:
    """The ``consent_kinds`` table: every data kind and its bit."""
    return pa.table({"kind": list(KIND_BITS), "bit": list(KIND_BITS.values())}, schema=SCHEMAS["consent_kinds"])


def raw_schema(name: str) -> pa.Schema:
    """A state table's schema without the columns ``_refs`` adds."""
    added = ("kind_code", "erased")
    return pa.schema([f for f in SCHEMAS[name] if not (f.name.endswith("_ref") or f.name in added)])


def build(name: str, columns: Mapping[str, Sequence[Any] | pa.Array | np.ndarray]) -> pa.Table:
    """A state table (without its reference columns) from one sequence per column."""
    return pa.table(columns, schema=raw_schema(name))


def refs(values: pa.Array | pa.ChunkedArray, keys: pa.Array | pa.ChunkedArray) -> pa.Array:
    """Each value's row among ``keys`` (null where the value is null or not a key)."""
    return pc.cast(pc.index_in(values, value_set=keys), pa.int64())


def strings(*columns: Any) -> pa.ChunkedArray:
    """Several columns (arrays or chunked arrays) one after another, as strings, uncopied."""
    return pa.chunked_array([chunk.cast(pa.string()) for column in columns
                             for chunk in (column.chunks if isinstance(column, pa.ChunkedArray) else [column])],
                            pa.string())


def whole(column: pa.Array | pa.ChunkedArray) -> pa.Array:
    """A column as one array: its only chunk as it is (``combine_chunks`` copies even
    that, hundreds of megabytes for a table read from the store), or its chunks joined."""
    if not isinstance(column, pa.ChunkedArray):
        return column
    if column.num_chunks == 1:
        return column.chunk(0)
    return column.combine_chunks()


def side_by_side(*calls: Callable[[], Any]) -> list[Any]:
    """Each call's result, the calls run at once on threads of their own (the first on
    this one). Arrow's kernels let go of the interpreter's lock, so hashing two large
    columns this way takes two cores, once no reader of the store holds the second."""
    if len(calls) < 2:
        return [call() for call in calls]
    with ThreadPoolExecutor(max_workers=len(calls) - 1) as pool:
        others = [pool.submit(call) for call in calls[1:]]
        first = calls[0]()
        return [first, *(future.result() for future in others)]


def distinct(*columns: Any) -> pa.Array:
    """The distinct non-null strings of several columns, in order of first appearance."""
    merged = strings(*columns)
    return pc.unique(pc.drop_null(merged)) if len(merged) else pa.array([], pa.string())


def kinds_mask(kinds: object) -> int:
    """The KIND_BITS mask of a list of data kinds (unknown kinds add nothing)."""
    mask = 0
    for kind in kinds if isinstance(kinds, list | tuple | frozenset | set) else ():
        mask |= KIND_BITS.get(kind, 0)
    return mask
