"""Tables of the store: one append-only table per event type, and the log.

Each event row carries ``seq``, the number of its log entry, and ``digest``, the SHA-256
of its canonical JSON. Rows are never updated or deleted; times are integer microseconds
since the epoch (UTC) so that "the latest event at or before T" is an index range scan on
every backend.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import Enum
from typing import Any

from sqlalchemy import (
    BigInteger,
    Boolean,
    Column,
    Index,
    MetaData,
    String,
    Table,
    Text,
)

metadata = MetaData()


class Kind(Enum):
    """How a field is kept in a column."""

    STR = "str"
    INT = "int"
    BOOL = "bool"
    TIME = "time"  # integer microseconds since the epoch
    JSON = "json"  # canonical JSON text


S, I, B, T, J = Kind.STR, Kind.INT, Kind.BOOL, Kind.TIME, Kind.JSON  # noqa: E741 - short names keep the specs readable


@dataclass(frozen=True, eq=False)  # compared and hashed by identity: one spec per type
class RecordSpec:
    """How one logged record type maps to its table.

    ``key`` names the field that identifies a record (its id); records without one are
    identified by their digest.
    """

    type: str
    table: Table
    fields: tuple[tuple[str, Kind], ...]
    key: str | None


_COLUMN_TYPES = {S: Text, I: BigInteger, B: Boolean, T: BigInteger, J: Text}


def _record_table(
    type_: str,
    name: str,
    fields: tuple[tuple[str, Kind], ...],
    key: str | None,
    required: frozenset[str],
    indexes: tuple[tuple[str, ...], ...] = (),
) -> RecordSpec:
    columns: list[Any] = [
        Column("seq", BigInteger, nullable=False, unique=True),
        Column("digest", String(64), nullable=False, unique=key is None),
    ]
    for field, kind in fields:
        column_type = String(255) if field == key else _COLUMN_TYPES[kind]
        columns.append(
            Column(field, column_type, nullable=field not in required, unique=field == key)
        )
    columns.append(Column("extra", Text, nullable=True))
    table = Table(name, metadata, *columns)
    for index_columns in indexes:
        Index(f"ix_{name}_{'_'.join(index_columns)}", *(table.c[c] for c in index_columns))
    return RecordSpec(type_, table, fields, key)


EVENT_SPECS: dict[str, RecordSpec] = {
    spec.type: spec
    for spec in (
        _record_table(
            "account", "accounts", (("id", S), ("name", S), ("region", S), ("sector", S)), "id",
            frozenset({"id"}),
        ),
        _record_table(
            "group", "groups", (("id", S), ("account", S), ("name", S), ("priority", I)), "id",
            frozenset({"id", "account"}), (("account",),),
        ),
        _record_table(
            "user", "users", (("id", S), ("account", S), ("role", S), ("groups", J)), "id",
            frozenset({"id", "account"}), (("account",),),
        ),
        _record_table(
            "setting", "settings",
            (("scope", S), ("target", S), ("key", S), ("value", B), ("locked", B), ("by", S), ("at", T)),
            None, frozenset({"scope", "target", "key", "value", "locked", "at"}),
            (("scope", "target", "key", "at"),),
        ),
        _record_table(
            "terms", "terms",
            (("version", S), ("effective_at", T), ("published_at", T), ("title", S), ("sections", J)),
            "version", frozenset({"version", "effective_at", "sections"}),
        ),
        _record_table(
            "terms_acceptance", "terms_acceptances",
            (("account", S), ("version", S), ("by", S), ("at", T)), None,
            frozenset({"account", "version", "at"}), (("account", "at"),),
        ),
        _record_table(
            "consent", "consents",
            (
                ("id", S), ("subject", S), ("purpose", S), ("status", S), ("kinds", J), ("meeting", S),
                ("by", S), ("method", S), ("notice", S), ("at", T), ("expires_at", T),
            ),
            "id", frozenset({"id", "subject", "purpose", "status", "kinds", "at"}),
            # The latest consent per subject, purpose, meeting and kinds at T, from the index alone.
            (("subject", "purpose", "meeting", "kinds", "at", "seq"),),
        ),
        _record_table(
            "meeting", "meetings", (("id", S), ("account", S), ("host", S), ("started_at", T)), "id",
            frozenset({"id", "account"}), (("account",),),
        ),
        _record_table(
            "participant", "participants",
            (("meeting", S), ("subject", S), ("joined_at", T), ("left_at", T), ("notified", J)), None,
            frozenset({"meeting", "subject", "notified"}), (("meeting",), ("subject",)),
        ),
        _record_table(
            "content", "contents",
            (
                ("id", S), ("kind", S), ("account", S), ("owner", S), ("meeting", S), ("created_at", T),
                ("uri", S), ("sha256", S), ("bytes", I), ("text", S), ("derived_from", J), ("signals", J),
            ),
            "id", frozenset({"id", "kind", "account", "owner", "created_at", "derived_from"}),
            (("owner",), ("meeting",), ("account",)),
        ),
        _record_table(
            "service_data", "service_data",
            (("id", S), ("kind", S), ("account", S), ("user", S), ("at", T)), "id",
            frozenset({"id", "kind", "account", "at"}), (("user",), ("account",)),
        ),
        _record_table(
            "delete", "erasures", (("item", S), ("by", S), ("at", T)), None,
            frozenset({"item", "at"}), (("item",),),
        ),
    )
}

log = Table(
    "log",
    metadata,
    Column("seq", BigInteger, primary_key=True, autoincrement=False),
    Column("type", String(64), nullable=False),
    Column("key", Text, nullable=False),
    Column("digest", String(64), nullable=False),
    Column("hash", String(64), nullable=False),
)

# Records the product makes itself: logged and verified like events, never imported.
# A dataset's members are its manifest; the record carries the manifest's SHA-256.
DATASET_SPEC = _record_table(
    "dataset", "datasets",
    (
        ("id", S), ("name", S), ("version", I), ("purpose", S), ("at", T), ("kinds", J), ("engine", S),
        ("catalog", S), ("count", I), ("excluded", J), ("policy", S), ("log_seq", I), ("log_hash", S),
        ("manifest", S), ("manifest_sha256", S), ("replaces", S), ("built_at", T),
    ),
    "id",
    frozenset({"id", "name", "version", "purpose", "at", "count", "excluded", "policy", "log_seq", "log_hash",
               "manifest_sha256", "built_at"}),
    (("name",),),
)
MODEL_SPEC = _record_table(
    "model", "models",
    (("id", S), ("dataset", S), ("shards", I), ("shard_counts", J), ("registered_at", T)),
    "id", frozenset({"id", "dataset", "shards", "shard_counts", "registered_at"}), (("dataset",),),
)

RECORD_SPECS: dict[str, RecordSpec] = {**EVENT_SPECS, "dataset": DATASET_SPEC, "model": MODEL_SPEC}

__all__ = [
    "DATASET_SPEC", "EVENT_SPECS", "Kind", "MODEL_SPEC", "RECORD_SPECS", "RecordSpec", "log",
    "metadata",
]
