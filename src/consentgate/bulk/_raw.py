"""Event columns turned into state tables without their references (see ``_tables``).

JSON text (lists of groups, data kinds, notices) is parsed once per distinct text, since
most rows repeat a few values. Ties between events of equal valid time are broken by
``seq``, the log order, as the in-memory view does.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import orjson
import pyarrow as pa
import pyarrow.compute as pc

from ._tables import build, kinds_mask, raw_schema, side_by_side, whole

_STRS = pa.list_(pa.string())


def distinct_texts(texts: pa.ChunkedArray) -> tuple[list[Any], pa.Array]:
    """The distinct texts of a column (as Python strings) and each row's index among them."""
    encoded = pc.dictionary_encode(whole(texts))
    return encoded.dictionary.to_pylist(), encoded.indices


def json_lists(texts: pa.ChunkedArray, unique: bool = False) -> pa.Array:
    """JSON arrays of strings as a list column (null text: an empty list).

    ``unique`` drops repeats within each list, keeping first occurrences.
    """
    distinct, indices = distinct_texts(texts)
    parsed = [orjson.loads(text) for text in distinct]
    lists = pa.array([list(dict.fromkeys(v)) for v in parsed] if unique else parsed, _STRS)
    taken = lists.take(indices)
    return pc.fill_null(taken, pa.scalar([], _STRS)) if taken.null_count else taken


def later_first(at: pa.ChunkedArray, seq: pa.ChunkedArray) -> np.ndarray:
    """Each event's rank in (valid time, log order): the later, the greater."""
    order = np.lexsort((seq.to_numpy(), at.to_numpy()))
    ranks = np.empty(len(order), dtype=np.int64)
    ranks[order] = np.arange(len(order), dtype=np.int64)
    return ranks


def columns_of(name: str, rows: pa.Table, mapping: dict[str, str]) -> pa.Table:
    return build(name, {column: rows[field] for column, field in mapping.items()})


def list_positions(links: pa.ListArray, parents: np.ndarray | None = None) -> np.ndarray:
    """Each list element's index within its own list (``parents``: each element's list,
    as ``list_parent_indices`` gives, where the caller has it already).

    An element's index is its place among all elements less its list's first place,
    gathered per element: repeating each list's start by its length costs the same for
    every list, empty ones too, which most are where few items derive from another."""
    offsets = links.offsets.to_numpy()
    if parents is None:
        parents = pc.list_parent_indices(links).to_numpy(zero_copy_only=False)
    positions: np.ndarray = np.arange(len(parents), dtype=np.int64) - (offsets[parents] - offsets[0])
    return positions


def settings_table(rows: pa.Table) -> pa.Table:
    return build("settings", {
        "scope": rows["scope"], "target": rows["target"], "key": rows["key"], "value": rows["value"],
        "locked": rows["locked"], "at": rows["at"], "seq": later_first(rows["at"], rows["seq"]),
    })


def terms_grants_table(terms: pa.Table) -> pa.Table:
    # A handful of terms versions: plain Python is the clearest way through their sections.
    columns: dict[str, list[Any]] = {name: [] for name in raw_schema("terms_grants").names}
    for version, text in zip(terms["version"].to_pylist(), terms["sections"].to_pylist()):
        number = 0
        for section in [] if text is None else orjson.loads(text):
            for grant in section.get("grants", []):
                for name, value in (("version", version), ("section", section["id"]), ("grant", number),
                                    ("purpose", grant["purpose"]), ("data", list(grant.get("data", []))),
                                    ("requires", list(grant.get("requires", [])))):
                    columns[name].append(value)
                number += 1
    return build("terms_grants", columns)


def acceptances_table(rows: pa.Table, terms: pa.Table) -> pa.Table:
    """Acceptances with their version's effective time and rank (null: no such terms)."""
    found = pc.index_in(rows["version"], value_set=terms["version"])
    ranks = pa.array(later_first(terms["effective_at"], terms["seq"]))
    return build("acceptances", {
        "account": rows["account"], "version": rows["version"], "at": rows["at"],
        "effective": whole(terms["effective_at"]).take(found), "terms_seq": ranks.take(found),
    })


def kinds_masks(texts: pa.ChunkedArray) -> pa.Array:
    """Each consent's ``kinds`` (JSON text) as a KIND_BITS mask, parsed once per distinct text."""
    distinct, indices = distinct_texts(texts)
    masks = pa.array([kinds_mask(orjson.loads(text)) for text in distinct], pa.int32())
    return pc.fill_null(masks.take(indices), 0)


def consents_table(rows: pa.Table) -> pa.Table:
    by = pc.coalesce(rows["by"], rows["subject"])  # by defaults to the subject
    on_behalf = pc.fill_null(pc.equal(rows["method"], "admin_on_behalf"), False)
    return build("consents", {
        "id": rows["id"], "subject": rows["subject"], "purpose": rows["purpose"], "status": rows["status"],
        "kinds": kinds_masks(rows["kinds"]), "meeting": rows["meeting"],
        "self_given": pc.and_(pc.fill_null(pc.equal(by, rows["subject"]), False), pc.invert(on_behalf)),
        "at": rows["at"], "expires": rows["expires_at"], "seq": later_first(rows["at"], rows["seq"]),
    })


def participant_lines(rows: pa.Table) -> pa.Table:
    """Participant lines; ``meeting`` and ``subject`` stay the dictionaries they are
    hashed into here, so references to them are found without hashing them again."""
    # The store has been read by now: the columns are hashed on both cores at once (the
    # subjects, of many more distinct ids in no order, take as long as the rest).
    (meetings, notified), subjects = side_by_side(
        lambda: (pc.dictionary_encode(whole(rows["meeting"])), json_lists(rows["notified"])),
        lambda: pc.dictionary_encode(whole(rows["subject"])))
    # Rows come in log order; a line's place in its meeting is how many lines of that
    # meeting came before it.
    codes = meetings.indices.to_numpy(zero_copy_only=False)
    order = np.argsort(codes, kind="stable")
    starts = np.r_[0, np.flatnonzero(np.diff(codes[order])) + 1]
    run_lengths = np.diff(np.r_[starts, len(order)])
    places = np.empty(len(order), dtype=np.int64)
    places[order] = np.arange(len(order)) - np.repeat(starts, run_lengths)
    # A subject's first line in a meeting: the first of its (meeting, subject) pairs, each
    # pair one integer (a null code is -1). Lines come mostly grouped by meeting, so the
    # stable sort behind np.unique finds them nearly in order.
    subject_codes = pc.fill_null(subjects.indices, -1).to_numpy(zero_copy_only=False).astype(np.int64)
    meeting_codes = pc.fill_null(meetings.indices, -1).to_numpy(zero_copy_only=False).astype(np.int64)
    pairs = (meeting_codes + 1) * (len(subjects.dictionary) + 1) + (subject_codes + 1)
    first = np.zeros(len(places), dtype=bool)
    first[np.unique(pairs, return_index=True)[1]] = True
    table = pa.table({"pos": places, "notified": notified, "first": first})
    return table.add_column(0, "meeting", meetings).add_column(1, "subject", subjects)


# The tables of described things and users, as the events give them.
def accounts_table(rows: pa.Table) -> pa.Table:
    return columns_of("accounts", rows, {"id": "id", "region": "region"})


def groups_table(rows: pa.Table) -> pa.Table:
    return columns_of("groups", rows, {"id": "id", "account": "account", "priority": "priority"})


def meetings_table(rows: pa.Table) -> pa.Table:
    return columns_of("meetings", rows, {"id": "id", "account": "account"})


def users_table(rows: pa.Table) -> pa.Table:
    return columns_of("users", rows, {"id": "id", "account": "account"})


def user_groups_table(users: pa.Table) -> pa.Table:
    """Each user's ``groups`` list, de-duplicated, one row per group (``pos``: its place)."""
    groups = json_lists(users["groups"], unique=True)
    return build("user_groups", {
        "user_id": whole(users["id"]).take(pc.list_parent_indices(groups)),
        "group_id": pc.list_flatten(groups), "pos": list_positions(groups),
    })
