"""State tables from an in-memory :class:`~consentgate.core.World` (tests, small stores).

Reading the world's own listings (rather than replaying events) guarantees the tables
hold exactly the world ``decide`` reads: the same surviving event per id, the same
de-duplicated lists, the same arrival order.
"""

from __future__ import annotations

from typing import Any

from ..core import World
from ..model import Content
from ._refs import with_references
from ._tables import StateTables, build, kinds_mask


def state_tables_from_world(world: World) -> StateTables:
    """The state of ``world`` as Arrow tables (see :mod:`consentgate.bulk`).

    >>> tables = state_tables_from_world(World())
    >>> tables.items.num_rows
    0
    """
    items, sources = _items(world)
    row_of = {item_id: row for row, item_id in enumerate(items.column("item_id").to_pylist())}
    groups = list(world.groups())
    users = list(world.users())
    accounts, meetings, erasures = list(world.accounts()), list(world.meetings()), list(world.erasures())
    user_groups = [(user.id, group, pos) for user in users for pos, group in enumerate(dict.fromkeys(user.groups))]
    return with_references(dict(
        items=items,
        sources=sources,
        accounts=build("accounts", {
            "id": [a.id for a in accounts], "region": [a.region for a in accounts],
        }),
        groups=build("groups", {
            "id": [g.id for g in groups],
            "account": [g.account for g in groups],
            "priority": [g.priority for g in groups],
        }),
        users=build("users", {"id": [u.id for u in users], "account": [u.account for u in users]}),
        user_groups=build("user_groups", {
            "user_id": [row[0] for row in user_groups], "group_id": [row[1] for row in user_groups],
            "pos": [row[2] for row in user_groups],
        }),
        settings=_settings(world),
        terms_grants=_terms_grants(world),
        acceptances=_acceptances(world),
        consents=_consents(world),
        meetings=build("meetings", {
            "id": [m.id for m in meetings], "account": [m.account for m in meetings],
        }),
        participants=_participants(world),
        erasures=build("erasures", {
            "item_id": [item for item, _ in erasures],
            "item_row": [row_of.get(item) for item, _ in erasures],
            "at": [at for _, at in erasures],
        }),
    ))


def _items(world: World) -> tuple[Any, Any]:
    records = list(world.item_records())
    row_of = {record.id: row for row, record in enumerate(records)}
    source_rows: dict[str, list[Any]] = {"item_row": [], "source": [], "source_row": [], "pos": []}
    for row, record in enumerate(records):
        for pos, source in enumerate(record.sources):
            source_rows["item_row"].append(row)
            source_rows["source"].append(source)
            source_rows["source_row"].append(row_of.get(source))
            source_rows["pos"].append(pos)
    events = [record.event for record in records]
    items = build("items", {
        "item_id": [r.id for r in records],
        "kind": [r.kind for r in records],
        "account": [r.account for r in records],
        "owner": [r.subject for r in records],
        "meeting": [r.meeting for r in records],
        "created": [r.created for r in records],
        "uri": [e.uri if isinstance(e, Content) else None for e in events],
        "sha256": [e.sha256 if isinstance(e, Content) else None for e in events],
        "derived": [bool(r.sources) for r in records],
        "train_reserved": [r.reservation is not None for r in records],
    })
    return items, build("sources", source_rows)


def _settings(world: World) -> Any:
    columns: dict[str, list[Any]] = {name: [] for name in ("scope", "target", "key", "value", "locked", "at", "seq")}
    seq = 0
    for (scope, target, key), history in world.setting_index().items():
        # A history is already in (time, arrival) order, so a running number orders it.
        for record in history.records:
            for name, value in (("scope", scope), ("target", target), ("key", key), ("value", record.value),
                                ("locked", record.locked), ("at", record.at), ("seq", seq)):
                columns[name].append(value)
            seq += 1
    return build("settings", columns)


def _terms_grants(world: World) -> Any:
    names = ("version", "section", "grant", "purpose", "data", "requires")
    columns: dict[str, list[Any]] = {name: [] for name in names}
    for record in world.terms_records():
        version = record.version
        number = 0
        for section in record.event.sections:
            for grant in section.grants:
                for name, value in (("version", version), ("section", section.id), ("grant", number),
                                    ("purpose", grant.purpose), ("data", list(grant.data)),
                                    ("requires", list(grant.requires))):
                    columns[name].append(value)
                number += 1
    return build("terms_grants", columns)


def _acceptances(world: World) -> Any:
    ranked = sorted(world.terms_records(), key=lambda record: (record.effective, record.arrival))
    terms_seq = {record.version: rank for rank, record in enumerate(ranked)}
    columns: dict[str, list[Any]] = {name: [] for name in ("account", "version", "at", "effective", "terms_seq")}
    for account, history in world.acceptance_index().items():
        for at, version in zip(history.times, history.records, strict=True):
            record = world.terms_record(version)
            columns["account"].append(account)
            columns["version"].append(version)
            columns["at"].append(at)
            columns["effective"].append(None if record is None else record.effective)
            columns["terms_seq"].append(terms_seq.get(version))
    return build("acceptances", columns)


def _consents(world: World) -> Any:
    records = [record for by_purpose in world.consent_index().values() for history in by_purpose.values()
               for record in history.records]
    records.sort(key=lambda record: (record.at, record.arrival))
    return build("consents", {
        "id": [r.id for r in records],
        "subject": [r.subject for r in records],
        "purpose": [r.purpose for r in records],
        "status": [r.status for r in records],
        "kinds": [kinds_mask(list(r.kinds)) for r in records],
        "meeting": [r.meeting for r in records],
        "self_given": [r.self_given for r in records],
        "at": [r.at for r in records],
        "expires": [r.expires for r in records],
        "seq": list(range(len(records))),
    })


def _participants(world: World) -> Any:
    lines = [(meeting, line, pos) for meeting, found in world.participant_lines() for pos, line in enumerate(found)]
    seen: set[tuple[str, str]] = set()
    first = []
    for meeting, line, _ in lines:
        first.append((meeting, line.subject) not in seen)
        seen.add((meeting, line.subject))
    return build("participants", {
        "meeting": [meeting for meeting, _, _ in lines],
        "subject": [line.subject for _, line, _ in lines],
        "pos": [pos for _, _, pos in lines],
        "notified": [list(line.notified) for _, line, _ in lines],
        "first": first,
    })
