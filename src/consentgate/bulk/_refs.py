"""Integer references between state tables (and each item's erasure), computed once
when the state is read.

The engine joins items to their account, owner and meeting for every selection; joining
on integers is two to three times faster than on id strings, so the tables carry each
reference as the row number of the thing referred to. ``people``, ``accounts``,
``meetings`` and ``groups`` list every id the state names (with nulls for what no event
describes), so a reference is null exactly when its id is.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from ..model import DATA_KINDS
from ._tables import SCHEMAS, StateTables, distinct, kind_table, refs


def _extend(table: pa.Table, name: str, ids: pa.Array) -> pa.Table:
    """``table`` plus a row (nulls but the id) for each id it does not have yet."""
    new = pc.filter(ids, pc.invert(pc.is_in(ids, value_set=table.column("id"))))
    if len(new) == 0:
        return table
    extra = {column: new if column == "id" else pa.nulls(len(new), field.type)
             for column, field in zip(SCHEMAS[name].names, SCHEMAS[name], strict=True)}
    return pa.concat_tables([table, pa.table(extra, schema=SCHEMAS[name])]).combine_chunks()


def _by_scope(settings: pa.Table, scope: str) -> pa.ChunkedArray:
    return settings.filter(pc.equal(settings["scope"], scope)).column("target")


def _with(table: pa.Table, name: str, columns: dict[str, Any]) -> pa.Table:
    for column, values in columns.items():
        table = table.append_column(column, values)
    return table.select(SCHEMAS[name].names).cast(SCHEMAS[name])


def _first_erasures(items: pa.Table, erasures: pa.Table) -> pa.Array:
    """Each item's first erasure time (null when never erased), from ``erasures``."""
    known = erasures.filter(pc.is_valid(erasures["item_row"]))
    firsts = known.group_by("item_row").aggregate([("at", "min")])
    rows = firsts["item_row"].to_numpy()
    erased = np.zeros(items.num_rows, dtype=np.int64)
    never = np.ones(items.num_rows, dtype=bool)
    erased[rows], never[rows] = firsts["at_min"].to_numpy(), False
    return pa.array(erased, mask=never)


def with_references(raw: dict[str, pa.Table]) -> StateTables:
    """State tables from tables without their reference columns (see ``SCHEMAS``)."""
    items, settings, users = raw["items"], raw["settings"], raw["users"]
    consents, participants, user_groups = raw["consents"], raw["participants"], raw["user_groups"]
    people = pa.table({"id": distinct(users["id"], user_groups["user_id"], items["owner"], consents["subject"],
                                      participants["subject"], _by_scope(settings, "user"))},
                      schema=SCHEMAS["people"])
    meetings = _extend(raw["meetings"], "meetings",
                       distinct(participants["meeting"], consents["meeting"], items["meeting"]))
    accounts = _extend(raw["accounts"], "accounts", distinct(
        items["account"], raw["acceptances"]["account"], _by_scope(settings, "account"), raw["groups"]["account"],
        users["account"], raw["meetings"]["account"]))
    groups = _extend(raw["groups"], "groups", distinct(user_groups["group_id"], _by_scope(settings, "group")))
    keys = {"people": people["id"], "meetings": meetings["id"], "accounts": accounts["id"], "groups": groups["id"]}
    target_ref = pc.if_else(
        pc.equal(settings["scope"], "account"), refs(settings["target"], keys["accounts"]),
        pc.if_else(pc.equal(settings["scope"], "group"), refs(settings["target"], keys["groups"]),
                   refs(settings["target"], keys["people"])))
    return StateTables(
        items=_with(items, "items", {
            "kind_code": pc.cast(pc.index_in(items["kind"], value_set=pa.array(DATA_KINDS)), pa.int32()),
            "account_ref": refs(items["account"], keys["accounts"]),
            "owner_ref": refs(items["owner"], keys["people"]),
            "meeting_ref": refs(items["meeting"], keys["meetings"]),
            "erased": _first_erasures(items, raw["erasures"]),
        }),
        people=people,
        accounts=accounts,
        groups=groups,
        users=users.select(SCHEMAS["users"].names).cast(SCHEMAS["users"]),
        user_groups=_with(user_groups, "user_groups", {
            "user_ref": refs(user_groups["user_id"], keys["people"]),
            "group_ref": refs(user_groups["group_id"], keys["groups"]),
        }),
        settings=_with(settings, "settings", {"target_ref": target_ref}),
        terms_grants=raw["terms_grants"],
        acceptances=_with(raw["acceptances"], "acceptances", {
            "account_ref": refs(raw["acceptances"]["account"], keys["accounts"]),
        }),
        consents=_with(consents, "consents", {
            "subject_ref": refs(consents["subject"], keys["people"]),
            "meeting_ref": refs(consents["meeting"], keys["meetings"]),
        }),
        consent_kinds=kind_table(),
        meetings=meetings,
        participants=_with(participants, "participants", {
            "meeting_ref": refs(participants["meeting"], keys["meetings"]),
            "subject_ref": refs(participants["subject"], keys["people"]),
        }),
        erasures=raw["erasures"],
        sources=raw["sources"],
    )
