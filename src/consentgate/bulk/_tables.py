"""The state a bulk selection reads: one Arrow table per kind of state.

Times are int64 microseconds since the epoch (UTC). Lists the rules look inside are
pre-exploded into their own tables (a user's groups, an item's sources); a consent's
data kinds are a bitmask over :data:`KIND_BITS`, because the vocabulary of data kinds is
closed and a mask tests coverage without multiplying the consent rows by nine.

Where "the latest event at or before T" matters, a table carries ``seq``: of two events
of the same history, the one with the greater ``seq`` is the later (a later line breaks
a tie on time), exactly as the policy core orders them.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, fields
from typing import Any

import pyarrow as pa

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
    # reserve AI training (core.signals.training_reservation). A row's position in the
    # table is its number in ``sources.item_row`` / ``sources.source_row``.
    "items": pa.schema([
        ("item_id", _STR), ("kind", _STR), ("account", _STR), ("owner", _STR), ("meeting", _STR),
        ("created", _I64), ("uri", _STR), ("sha256", _STR), ("derived", _BOOL), ("train_reserved", _BOOL),
    ]),
    # An item's ``derived_from``, de-duplicated, one row per source: ``item_row`` is the
    # derived item's row in ``items``, ``source_row`` the source's row (null when no item
    # has that id), ``pos`` the source's place in the list.
    "sources": pa.schema([("item_row", _I64), ("source", _STR), ("source_row", _I64), ("pos", _I32)]),
    "accounts": pa.schema([("id", _STR), ("region", _STR)]),
    "groups": pa.schema([("id", _STR), ("account", _STR), ("priority", _I64)]),
    "users": pa.schema([("id", _STR), ("account", _STR)]),
    # A user's ``groups`` list, de-duplicated; ``pos`` is the place in the list (it breaks
    # ties between groups of equal priority).
    "user_groups": pa.schema([("user_id", _STR), ("group_id", _STR), ("pos", _I32)]),
    "settings": pa.schema([
        ("scope", _STR), ("target", _STR), ("key", _STR), ("value", _BOOL), ("locked", _BOOL),
        ("at", _I64), ("seq", _I64),
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
    ]),
    # ``kinds`` is a bitmask over KIND_BITS; ``self_given`` is false when someone acted for
    # the subject (method admin_on_behalf, or ``by`` naming another person); ``expires``
    # is expires_at or null. ``seq`` orders all consents by (at, arrival).
    "consents": pa.schema([
        ("id", _STR), ("subject", _STR), ("purpose", _STR), ("status", _STR), ("kinds", _I32),
        ("meeting", _STR), ("self_given", _BOOL), ("at", _I64), ("expires", _I64), ("seq", _I64),
    ]),
    # The data-kind vocabulary: the bit each kind has in ``consents.kinds``.
    "consent_kinds": pa.schema([("kind", _STR), ("bit", _I32)]),
    "meetings": pa.schema([("id", _STR), ("account", _STR)]),
    # Every participant line; ``pos`` orders the lines of a meeting by arrival.
    "participants": pa.schema([("meeting", _STR), ("subject", _STR), ("pos", _I64), ("notified", _STRS)]),
    "erasures": pa.schema([("item_id", _STR), ("at", _I64)]),
}


@dataclass(frozen=True)
class StateTables:
    """Everything a bulk selection reads, as Arrow tables (columns: see ``SCHEMAS``).

    Build one with :func:`state_tables_from_world` or :func:`state_tables_from_store`,
    or directly (the benchmark does) as long as every table has its schema's columns.
    """

    items: pa.Table
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


def build(name: str, columns: Mapping[str, Sequence[Any]]) -> pa.Table:
    """A state table from Python lists, one per column, in the table's schema."""
    return pa.table(columns, schema=SCHEMAS[name])


def kinds_mask(kinds: object) -> int:
    """The KIND_BITS mask of a list of data kinds (unknown kinds add nothing)."""
    mask = 0
    for kind in kinds if isinstance(kinds, list | tuple | frozenset | set) else ():
        mask |= KIND_BITS.get(kind, 0)
    return mask
