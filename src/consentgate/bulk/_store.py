"""State tables straight from the store (SQLite or PostgreSQL), and content catalogs.

Rows are read with SQLAlchemy Core statements run on the driver's own cursor and turned
into Arrow arrays a column at a time: building pydantic events or row objects for
millions of items would cost far more than the selection itself. Ties between events of
equal valid time are broken by ``seq``, the log order, as the in-memory view does.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import orjson
import pyarrow as pa
import pyarrow.compute as pc
from sqlalchemy import Connection, select

from ..store.schema import EVENT_SPECS
from ._catalog import content_items, read_catalog
from ._refs import with_references
from ._tables import StateTables, build, kinds_mask, raw_schema

_CHUNK = 50_000


def _read(connection: Connection, type_: str, fields: tuple[str, ...]) -> dict[str, list[Any]]:
    """Columns ``seq`` and ``fields`` of one event table, in log order."""
    table = EVENT_SPECS[type_].table
    statement = select(table.c.seq, *(table.c[name] for name in fields)).order_by(table.c.seq)
    sql = str(statement.compile(dialect=connection.dialect))
    cursor = connection.connection.cursor()
    try:
        cursor.execute(sql)
        columns: list[list[Any]] = [[] for _ in range(len(fields) + 1)]
        while True:
            rows = cursor.fetchmany(_CHUNK)
            if not rows:
                break
            for column, values in zip(columns, zip(*rows, strict=True), strict=True):
                column.extend(values)
    finally:
        cursor.close()
    return dict(zip(("seq", *fields), columns, strict=True))


def _json(values: list[Any], default: Any) -> list[Any]:
    return [default if text is None else orjson.loads(text) for text in values]


def _later_first(at: list[int], seq: list[int]) -> list[int]:
    """Each event's rank in (valid time, log order): the later, the greater."""
    order = np.lexsort((np.asarray(seq, dtype=np.int64), np.asarray(at, dtype=np.int64)))
    ranks = np.empty(len(order), dtype=np.int64)
    ranks[order] = np.arange(len(order), dtype=np.int64)
    return ranks.tolist()


def state_tables_from_store(connection: Connection, catalog: str | Path | None = None) -> StateTables:
    """The store's state as Arrow tables (see :mod:`consentgate.bulk`).

    Args:
        connection: an open connection to an initialized store (read transaction).
        catalog: a Parquet file or folder of content items that replaces the store's
            content (see :func:`read_catalog` for its columns); service data, consents,
            settings, terms, meetings and erasures still come from the store.

    Raises:
        ValueError: the catalog is missing a column, has a wrong type or repeats an id.
    """
    read: Callable[..., dict[str, list[Any]]] = lambda type_, *fields: _read(connection, type_, fields)  # noqa: E731
    if catalog is None:
        c = read("content", "id", "kind", "account", "owner", "meeting", "created_at", "uri", "sha256",
                 "derived_from", "signals")
        content = content_items(c["id"], c["kind"], c["account"], c["owner"], c["meeting"], c["created_at"],
                                c["uri"], c["sha256"], _json(c["derived_from"], []), c["signals"], c["seq"])
    else:
        content = read_catalog(catalog)
    s = read("service_data", "id", "kind", "account", "user", "at")
    service = pa.table({
        "item_id": pa.array(s["id"], pa.string()), "kind": pa.array(s["kind"], pa.string()),
        "account": pa.array(s["account"], pa.string()), "owner": pa.array(s["user"], pa.string()),
        "created": pa.array(s["at"], pa.int64()), "seq": pa.array(s["seq"], pa.int64()),
    })
    if catalog is not None and pc.any(pc.is_in(service["item_id"], value_set=content["item_id"])).as_py():
        raise ValueError(f"the catalog {catalog} reuses the id of a service-data item in the store")
    items, sources = _merge_items(content, service)
    users = read("user", "id", "account", "groups")
    memberships = [(user, group, pos) for user, groups in zip(users["id"], _json(users["groups"], []), strict=True)
                   for pos, group in enumerate(dict.fromkeys(groups))]
    return with_references(dict(
        items=items,
        sources=sources,
        accounts=_columns("accounts", read("account", "id", "region"), {"id": "id", "region": "region"}),
        groups=_columns("groups", read("group", "id", "account", "priority"),
                        {"id": "id", "account": "account", "priority": "priority"}),
        users=_columns("users", users, {"id": "id", "account": "account"}),
        user_groups=build("user_groups", {"user_id": [m[0] for m in memberships],
                                          "group_id": [m[1] for m in memberships],
                                          "pos": [m[2] for m in memberships]}),
        settings=_settings(read("setting", "scope", "target", "key", "value", "locked", "at")),
        terms_grants=_terms_grants(read("terms", "version", "sections")),
        acceptances=_acceptances(read("terms_acceptance", "account", "version", "at"),
                                 read("terms", "version", "effective_at")),
        consents=_consents(read("consent", "id", "subject", "purpose", "status", "kinds", "meeting", "by",
                                "method", "at", "expires_at")),
        meetings=_columns("meetings", read("meeting", "id", "account"), {"id": "id", "account": "account"}),
        participants=_participants(read("participant", "meeting", "subject", "notified")),
        erasures=_erasures(read("delete", "item", "at"), items),
    ))


def _columns(name: str, rows: dict[str, list[Any]], mapping: dict[str, str]) -> pa.Table:
    return build(name, {column: rows[field] for column, field in mapping.items()})


def _merge_items(content: pa.Table, service: pa.Table) -> tuple[pa.Table, pa.Table]:
    """Content and service data as one ``items`` table, plus ``sources``.

    An id used by both types is one item to the in-memory view: the later event's. Content
    rows carry their exploded ``derived_from`` as ``source_list`` (see ``_catalog``).
    """
    n_content = content.num_rows
    keep_content = np.ones(n_content, dtype=bool)
    keep_service = np.ones(service.num_rows, dtype=bool)
    if service.num_rows and n_content:
        clash = pc.is_in(service["item_id"], value_set=content["item_id"]).to_numpy(zero_copy_only=False)
        if clash.any():
            at = pc.index_in(service["item_id"], value_set=content["item_id"]).to_numpy(zero_copy_only=False)
            content_seq = content["seq"].to_numpy()
            service_seq = service["seq"].to_numpy()
            for index in np.flatnonzero(clash):
                row = int(at[index])
                if content_seq[row] > service_seq[index]:
                    keep_service[index] = False
                else:
                    keep_content[row] = False
    kept = content.filter(pa.array(keep_content))
    service = service.filter(pa.array(keep_service))
    nulls = pa.nulls(service.num_rows, pa.string())
    items = pa.concat_tables([
        kept.select(raw_schema("items").names),
        pa.table({
            "item_id": service["item_id"], "kind": service["kind"], "account": service["account"],
            "owner": service["owner"], "meeting": nulls, "created": service["created"], "uri": nulls,
            "sha256": nulls, "derived": pa.array(np.zeros(service.num_rows, dtype=bool)),
            "train_reserved": pa.array(np.zeros(service.num_rows, dtype=bool)),
        }, schema=raw_schema("items")),
    ]).combine_chunks()
    # Sources: rows of the kept content, renumbered, then each source looked up by id.
    old_rows = np.flatnonzero(keep_content)
    new_row = np.full(n_content, -1, dtype=np.int64)
    new_row[old_rows] = np.arange(len(old_rows), dtype=np.int64)
    links = content["source_list"].combine_chunks()
    parents = pc.list_parent_indices(links).to_numpy(zero_copy_only=False)
    positions = _list_positions(links)
    mine = new_row[parents] >= 0
    source_ids = pc.list_flatten(links).filter(pa.array(mine))
    sources = pa.table({
        "item_row": pa.array(new_row[parents][mine]),
        "source": source_ids,
        "source_row": pc.cast(pc.index_in(source_ids, value_set=items["item_id"]), pa.int64()),
        "pos": pa.array(positions[mine], pa.int32()),
    }, schema=raw_schema("sources"))
    return items, sources


def _list_positions(links: pa.ListArray) -> np.ndarray:
    """Each list element's index within its own list."""
    offsets = links.offsets.to_numpy()
    lengths = np.diff(offsets)
    flat = np.arange(offsets[-1] - offsets[0], dtype=np.int64)
    positions: np.ndarray = flat - np.repeat(offsets[:-1] - offsets[0], lengths)
    return positions


def _settings(rows: dict[str, list[Any]]) -> pa.Table:
    return build("settings", {
        "scope": rows["scope"], "target": rows["target"], "key": rows["key"],
        "value": [bool(v) for v in rows["value"]], "locked": [bool(v) for v in rows["locked"]],
        "at": rows["at"], "seq": _later_first(rows["at"], rows["seq"]),
    })


def _terms_grants(rows: dict[str, list[Any]]) -> pa.Table:
    columns: dict[str, list[Any]] = {name: [] for name in raw_schema("terms_grants").names}
    for version, sections in zip(rows["version"], _json(rows["sections"], []), strict=True):
        number = 0
        for section in sections:
            for grant in section.get("grants", []):
                for name, value in (("version", version), ("section", section["id"]), ("grant", number),
                                    ("purpose", grant["purpose"]), ("data", list(grant.get("data", []))),
                                    ("requires", list(grant.get("requires", [])))):
                    columns[name].append(value)
                number += 1
    return build("terms_grants", columns)


def _acceptances(rows: dict[str, list[Any]], terms: dict[str, list[Any]]) -> pa.Table:
    ranks = _later_first(terms["effective_at"], terms["seq"])
    by_version = {version: (effective, rank)
                  for version, effective, rank in zip(terms["version"], terms["effective_at"], ranks, strict=True)}
    found = [by_version.get(version, (None, None)) for version in rows["version"]]
    return build("acceptances", {
        "account": rows["account"], "version": rows["version"], "at": rows["at"],
        "effective": [f[0] for f in found], "terms_seq": [f[1] for f in found],
    })


def _consents(rows: dict[str, list[Any]]) -> pa.Table:
    by = [subject if who is None else who for subject, who in zip(rows["subject"], rows["by"], strict=True)]
    return build("consents", {
        "id": rows["id"], "subject": rows["subject"], "purpose": rows["purpose"], "status": rows["status"],
        "kinds": [kinds_mask(kinds) for kinds in _json(rows["kinds"], [])],
        "meeting": rows["meeting"],
        "self_given": [who == subject and method != "admin_on_behalf"
                       for who, subject, method in zip(by, rows["subject"], rows["method"], strict=True)],
        "at": rows["at"], "expires": rows["expires_at"], "seq": _later_first(rows["at"], rows["seq"]),
    })


def _participants(rows: dict[str, list[Any]]) -> pa.Table:
    meetings = pa.array(rows["meeting"], pa.string())
    # Rows come in log order; a line's place in its meeting is how many lines of that
    # meeting came before it.
    codes = pc.dictionary_encode(meetings).indices.to_numpy(zero_copy_only=False)
    order = np.argsort(codes, kind="stable")
    starts = np.r_[0, np.flatnonzero(np.diff(codes[order])) + 1]
    run_lengths = np.diff(np.r_[starts, len(order)])
    places = np.empty(len(order), dtype=np.int64)
    places[order] = np.arange(len(order)) - np.repeat(starts, run_lengths)
    # A subject's first line in a meeting: the first of its (meeting, subject) pairs.
    pairs = pa.table({"m": meetings, "s": pa.array(rows["subject"], pa.string()),
                      "i": pa.array(np.arange(len(places)))})
    firsts = pairs.group_by(["m", "s"], use_threads=False).aggregate([("i", "min")]).column("i_min")
    first = np.zeros(len(places), dtype=bool)
    first[firsts.to_numpy()] = True
    return build("participants", {
        "meeting": meetings, "subject": rows["subject"], "pos": places, "notified": _json(rows["notified"], []),
        "first": first,
    })


def _erasures(rows: dict[str, list[Any]], items: pa.Table) -> pa.Table:
    erased = pa.array(rows["item"], pa.string())
    return build("erasures", {
        "item_id": erased, "item_row": pc.cast(pc.index_in(erased, value_set=items["item_id"]), pa.int64()),
        "at": rows["at"],
    })
