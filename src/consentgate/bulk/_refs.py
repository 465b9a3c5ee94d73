"""Integer references between state tables (and each item's erasure), computed once
when the state is read.

The engine joins items to their account, owner and meeting for every selection; joining
on integers is two to three times faster than on id strings, so the tables carry each
reference as the row number of the thing referred to. ``people``, ``accounts``,
``meetings`` and ``groups`` list every id the state names (with nulls for what no event
describes), so a reference is null exactly when its id is.

Items and participant lines are the tables of millions of rows: each of their id
columns is hashed once (dictionary-encoded), and everything else — the distinct ids, the
references — is worked out on the small dictionaries. Asked to, they keep the compact
form ``_tables`` allows: the items' ``account``, ``owner`` and ``meeting`` and the
lines' ``meeting`` and ``subject`` are dictionaries over the referenced table's ids whose
indices are the int32 ``*_ref`` columns, the items' ``kind`` a dictionary too; otherwise
they have the schema's plain types.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from ..model import DATA_KINDS
from ._tables import SCHEMAS, StateTables, distinct, kind_table, refs, side_by_side, strings, whole


def extend(table: pa.Table, name: str, ids: pa.Array, all_new: bool = False) -> pa.Table:
    """``table`` plus a row (nulls but the id) for each id it does not have yet
    (``all_new``: the caller knows it has none of ``ids``)."""
    new = ids if all_new else pc.filter(ids, pc.invert(pc.is_in(ids, value_set=table.column("id"))))
    if len(new) == 0:
        return table
    extra = {column: new if column == "id" else pa.nulls(len(new), field.type)
             for column, field in zip(SCHEMAS[name].names, SCHEMAS[name], strict=True)}
    return pa.concat_tables([table, pa.table(extra, schema=SCHEMAS[name])]).combine_chunks()


def _by_scope(settings: pa.Table, scope: str) -> pa.ChunkedArray:
    return settings.filter(pc.equal(settings["scope"], scope)).column("target")


def with_columns(table: pa.Table, name: str, columns: dict[str, Any]) -> pa.Table:
    for column, values in columns.items():
        table = table.append_column(column, values)
    return table.select(SCHEMAS[name].names).cast(SCHEMAS[name])


def encoded(column: pa.Array | pa.ChunkedArray) -> pa.DictionaryArray:
    """A string column as one dictionary array (hashed once; already one: as it is)."""
    if pa.types.is_dictionary(column.type):
        return whole(column)
    hashed = pc.dictionary_encode(column)
    if isinstance(hashed, pa.DictionaryArray):
        return hashed
    # The chunks of one encoding share its dictionary.
    dictionary = hashed.chunk(hashed.num_chunks - 1).dictionary if hashed.num_chunks else pa.array([], pa.string())
    indices = pa.concat_arrays([chunk.indices for chunk in hashed.chunks]) if hashed.num_chunks else \
        pa.array([], pa.int32())
    return pa.DictionaryArray.from_arrays(indices, dictionary)


def _numbered(*parts: pa.Array | pa.ChunkedArray) -> tuple[pa.Array, list[pa.Array]]:
    """The distinct non-null ids of ``parts``, in order of first appearance, and each
    dictionary part's values as rows among them (int32; null where a value is null).

    One hash of every id: the dictionaries' own values stand for their columns, so the
    distinct ids and the references come out of the same pass. A dictionary that holds
    exactly the first part's ids, in its order (as the meetings' lines and items mostly
    list the meetings described, in the order they were), is not hashed at all: its
    values are numbered as the first part's are.
    """
    arrays = [(part.dictionary if isinstance(part, pa.DictionaryArray) else part).cast(pa.string())
              for part in parts]
    first = whole(arrays[0])
    as_first = [index > 0 and isinstance(part, pa.DictionaryArray) and len(array) == len(first)
                and array.equals(first) for index, (part, array) in enumerate(zip(parts, arrays, strict=True))]
    hashed = pc.dictionary_encode(whole(strings(*(array for array, same in zip(arrays, as_first, strict=True)
                                             if not same))))
    codes, rows, start = hashed.indices, [], 0
    for part, array, same in zip(parts, arrays, as_first, strict=True):
        if isinstance(part, pa.DictionaryArray):
            rows.append(codes.slice(0 if same else start, len(array)).take(part.indices))
        start += 0 if same else len(array)
    return hashed.dictionary, rows


def _leads(distinct_ids: pa.Array, first: pa.Array | pa.ChunkedArray) -> bool:
    """Whether ``first``, the first part numbered by ``_numbered``, is the start of its
    distinct ids as it stands: no null and no repeat."""
    return first.null_count == 0 and len(distinct_ids) >= len(first) and distinct_ids.slice(0, len(first)).equals(
        whole(first).cast(pa.string()))


def _rows_among(keys: pa.Array | pa.ChunkedArray, *columns: pa.DictionaryArray) -> list[pa.Array]:
    """Each encoded id column's values as rows of ``keys`` (int32; null: not a key).

    Only the small dictionaries are looked up, all in one call, so ``keys`` is hashed once.
    """
    dictionaries = [column.dictionary.cast(pa.string()) for column in columns]
    found = pc.index_in(pa.concat_arrays(dictionaries), value_set=keys)
    rows, start = [], 0
    for column, dictionary in zip(columns, dictionaries, strict=True):
        rows.append(found.slice(start, len(dictionary)).take(column.indices))
        start += len(dictionary)
    return rows


def _narrow(encoded: pa.DictionaryArray) -> pa.DictionaryArray:
    """A dictionary of a few words with int8 indices."""
    if len(encoded.dictionary) > 127:
        return encoded
    return pa.DictionaryArray.from_arrays(encoded.indices.cast(pa.int8()), encoded.dictionary)


def _items(items: pa.Table, keys: dict[str, pa.Array], rows: dict[str, pa.Array], kind: pa.DictionaryArray,
           erasures: pa.Table) -> pa.Table:
    """The items with their references, in the compact form (see the module docstring)."""
    kind = _narrow(kind)
    kind_codes = pc.index_in(kind.dictionary, value_set=pa.array(DATA_KINDS)).cast(pa.int32())
    account, owner, meeting = (pa.DictionaryArray.from_arrays(rows[name], whole(keys[table]))
                               for name, table in (("account", "accounts"), ("owner", "people"),
                                                   ("meeting", "meetings")))
    columns = {
        "item_id": items["item_id"], "kind": kind, "account": account, "owner": owner, "meeting": meeting,
        **{name: items[name] for name in ("created", "uri", "sha256", "derived", "train_reserved")},
        "kind_code": kind_codes.take(kind.indices), "account_ref": account.indices, "owner_ref": owner.indices,
        "meeting_ref": meeting.indices, "erased": _first_erasures(items, erasures),
    }
    return pa.table(columns)


def _lines(participants: pa.Table, keys: dict[str, pa.Array], meeting: pa.Array, subject: pa.Array) -> pa.Table:
    """Participant lines in the compact form: ``meeting`` and ``subject`` as dictionaries
    over the meetings' and people's ids, whose indices are the int32 ``*_ref`` columns
    (millions of lines need no copy of their ids)."""
    columns = {
        "meeting": pa.DictionaryArray.from_arrays(meeting, whole(keys["meetings"])),
        "subject": pa.DictionaryArray.from_arrays(subject, whole(keys["people"])),
        "meeting_ref": meeting, "subject_ref": subject,
    }
    return pa.table({name: columns[name] if name in columns else participants[name]
                     for name in SCHEMAS["participants"].names})


def _first_erasures(items: pa.Table, erasures: pa.Table) -> pa.Array:
    """Each item's first erasure time (null when never erased), from ``erasures``."""
    known = erasures.filter(pc.is_valid(erasures["item_row"]))
    firsts = known.group_by("item_row").aggregate([("at", "min")])
    rows = firsts["item_row"].to_numpy()
    erased = np.zeros(items.num_rows, dtype=np.int64)
    never = np.ones(items.num_rows, dtype=bool)
    erased[rows], never[rows] = firsts["at_min"].to_numpy(), False
    return pa.array(erased, mask=never)


def with_references(raw: dict[str, pa.Table], compact: bool = False) -> StateTables:
    """State tables from tables without their reference columns (see ``SCHEMAS``);
    ``compact`` keeps the items and lines in the compact form (see the module docstring)."""
    items, settings, users = raw["items"], raw["settings"], raw["users"]
    consents, participants, user_groups = raw["consents"], raw["participants"], raw["user_groups"]
    item_refs = {name: encoded(items[name]) for name in ("kind", "account", "owner", "meeting")}
    # Every value of an encoding's dictionary occurs, in order of first appearance.
    item_accounts = item_refs["account"].dictionary

    # Settings of a user (any scope but account and group) target a person.
    personal = pc.invert(pc.is_in(settings["scope"], value_set=pa.array(["account", "group"])))

    def number_people() -> tuple[pa.Table, list[pa.Array]]:
        people_ids, rows = _numbered(
            users["id"], encoded(user_groups["user_id"]), item_refs["owner"], encoded(consents["subject"]),
            encoded(participants["subject"]), encoded(settings["target"].filter(personal)))
        return pa.table({"id": people_ids}, schema=SCHEMAS["people"]), rows

    def number_meetings() -> tuple[pa.Table, list[pa.Array]]:
        lines, cm = encoded(participants["meeting"]), encoded(consents["meeting"])
        described = raw["meetings"]["id"]
        meeting_ids, rows = _numbered(described, lines, cm, item_refs["meeting"])
        if _leads(meeting_ids, described):
            # The meeting events' ids are the first numbers: the rest are the meetings to add.
            return extend(raw["meetings"], "meetings", meeting_ids.slice(len(described)), all_new=True), rows
        # An id repeats among the meeting events: rows are the first of each.
        meetings = extend(raw["meetings"], "meetings", meeting_ids)
        return meetings, _rows_among(meetings["id"], lines, cm, item_refs["meeting"])

    # The store has been read by now: people and meetings are numbered at once, on both cores.
    (people, (member, owner, consent_subject, line_subject, targeted)), \
        (meetings, (line_meeting, consent_meeting, meeting)) = side_by_side(number_people, number_meetings)
    accounts = extend(raw["accounts"], "accounts", distinct(
        item_accounts, raw["acceptances"]["account"], _by_scope(settings, "account"), raw["groups"]["account"],
        users["account"], raw["meetings"]["account"]))
    groups = extend(raw["groups"], "groups", distinct(user_groups["group_id"], _by_scope(settings, "group")))
    keys = {"people": people["id"], "meetings": meetings["id"], "accounts": accounts["id"], "groups": groups["id"]}
    (account,) = _rows_among(keys["accounts"], item_refs["account"])
    compact_items = _items(items, keys, {"account": account, "owner": owner, "meeting": meeting}, item_refs["kind"],
                           raw["erasures"])
    person_ref = np.full(settings.num_rows, -1, dtype=np.int64)
    person_ref[np.flatnonzero(personal.to_numpy(zero_copy_only=False))] = pc.fill_null(targeted, -1).to_numpy(
        zero_copy_only=False)
    target_ref = pc.if_else(
        pc.equal(settings["scope"], "account"), refs(settings["target"], keys["accounts"]),
        pc.if_else(pc.equal(settings["scope"], "group"), refs(settings["target"], keys["groups"]),
                   pa.array(person_ref, mask=person_ref < 0)))
    return StateTables(
        items=compact_items if compact else compact_items.cast(SCHEMAS["items"]),
        people=people,
        accounts=accounts,
        groups=groups,
        users=users.select(SCHEMAS["users"].names).cast(SCHEMAS["users"]),
        user_groups=with_columns(user_groups, "user_groups", {
            "user_ref": member.cast(pa.int64()),
            "group_ref": refs(user_groups["group_id"], keys["groups"]),
        }),
        settings=with_columns(settings, "settings", {"target_ref": target_ref}),
        terms_grants=raw["terms_grants"],
        acceptances=with_columns(raw["acceptances"], "acceptances", {
            "account_ref": refs(raw["acceptances"]["account"], keys["accounts"]),
        }),
        consents=with_columns(consents, "consents", {
            "subject_ref": consent_subject, "meeting_ref": consent_meeting,
        }),
        consent_kinds=kind_table(),
        meetings=meetings,
        participants=_lines(participants, keys, line_meeting, line_subject) if compact else with_columns(
            participants, "participants", {"meeting_ref": line_meeting, "subject_ref": line_subject}),
        erasures=raw["erasures"],
        sources=raw["sources"],
    )
