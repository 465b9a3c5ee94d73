"""Reading the store back: records for the verifier, events for the in-memory view.

Every reader merges the per-type tables by ``seq``, the order in which events were
logged, so a view built from them sees events in the same order as when they arrived.
"""

from __future__ import annotations

import heapq
from collections.abc import Iterable, Iterator, Mapping, Sequence
from functools import lru_cache
from typing import Any, cast

import orjson
from pydantic import BaseModel
from sqlalchemy import ARRAY, ColumnElement, Connection, Select, String, and_, any_, bindparam, func, select

from ..ledger import LogEntry, canonical_json, digest_of
from ..model import purpose_covers
from ..model.events import EVENT_CLASSES, Signals
from ..model.times import from_micros
from .rows import record_doc
from .schema import EVENT_SPECS, RECORD_SPECS, Kind, RecordSpec, log

_loads = orjson.loads

_YIELD = 5000


def _columns(spec: RecordSpec) -> list[Any]:
    return [spec.table.c[field] for field, _ in spec.fields] + [spec.table.c.extra]


def _fetch_tuples(connection: Connection, statement: Select[Any]) -> list[tuple[Any, ...]]:
    """Every row of ``statement`` at once, as the driver's plain tuples.

    The columns read here need no conversion by SQLAlchemy (text, integers, booleans the
    event makers convert themselves), and skipping its row objects saves about two
    microseconds a row: a tenth of a second for every 50,000 events of a partial view.
    """
    compiled = statement.compile(dialect=connection.dialect)
    params = compiled.construct_params()
    cursor = connection.connection.cursor()
    try:
        if compiled.positional:
            cursor.execute(compiled.string, tuple(params[name] for name in compiled.positiontup or ()))
        else:
            cursor.execute(compiled.string, params)
        return cast(list[tuple[Any, ...]], cursor.fetchall())  # a list, from every DB-API driver used
    finally:
        cursor.close()


def _stream(connection: Connection, statement: Select[Any]) -> Iterator[Any]:
    return iter(connection.execution_options(yield_per=_YIELD).execute(statement))


def iter_log(connection: Connection) -> Iterator[LogEntry]:
    """Every log entry, in sequence order."""
    statement = select(log.c.seq, log.c.type, log.c.key, log.c.digest, log.c.hash).order_by(log.c.seq)
    return (LogEntry(*row) for row in _stream(connection, statement))


def _spec_records(
    connection: Connection, spec: RecordSpec, low: int | None = None, high: int | None = None
) -> Iterator[tuple[int, str, str, str]]:
    statement = select(spec.table.c.seq, spec.table.c.digest, *_columns(spec)).order_by(spec.table.c.seq)
    if low is not None:
        statement = statement.where(spec.table.c.seq.between(low, high))
    key_index = next((i for i, (field, _) in enumerate(spec.fields) if field == spec.key), None)
    for row in _stream(connection, statement):
        values = tuple(row[2:])
        try:
            digest = digest_of(canonical_json(record_doc(spec, values)))
        except (ValueError, TypeError, OverflowError):
            # A row edited into something no record could be (JSON that does not parse, a
            # time that is not a number) matches no digest: the verifier calls it edited.
            digest = "unreadable"
        # Records without an id are named by the digest they were logged with; the
        # verifier compares the re-derived digest, so an edited row still shows.
        key = str(values[key_index]) if key_index is not None else row[1]
        yield row[0], spec.type, key, digest


def iter_records(
    connection: Connection, low: int | None = None, high: int | None = None
) -> Iterator[tuple[int, str, str, str]]:
    """Every logged record (or those with ``low <= seq <= high``) re-derived from its row.

    Yields (seq, type, key, digest of the canonical JSON), merged in sequence order.
    """
    streams = [_spec_records(connection, spec, low, high) for spec in RECORD_SPECS.values()]
    return heapq.merge(*streams, key=lambda record: record[0])


def record_digests(url: str, low: int, high: int) -> list[tuple[int, str, str, str]]:
    """:func:`iter_records` for one range of sequence numbers, in a store of its own.

    Runs in a worker process: the verifier spreads the re-derivation over the cores.
    """
    from .engine import Store

    store = Store(url)
    try:
        with store.read() as connection:
            return list(iter_records(connection, low, high))
    finally:
        store.dispose()


def find_logged_digest(connection: Connection, digest: str) -> int | None:
    """The sequence number of the log entry that holds ``digest``, if any."""
    return connection.execute(select(log.c.seq).where(log.c.digest == digest).limit(1)).scalar()


@lru_cache(maxsize=4096)
def _signals(text: str) -> Signals:
    # Signals are frozen and a store holds few distinct ones: each is validated once.
    return Signals.model_validate(_loads(text))


_CONVERTERS: dict[Kind, Any] = {Kind.TIME: from_micros, Kind.JSON: _loads, Kind.BOOL: bool}


class _EventMaker:
    """Turns a row of one record type (its fields, then ``extra``) into its event."""

    __slots__ = ("spec", "cls", "names", "converted", "fields_set")

    def __init__(self, spec: RecordSpec) -> None:
        self.spec = spec
        self.cls = EVENT_CLASSES[spec.type]
        self.names = tuple(name for name, _ in spec.fields)
        self.converted = tuple(
            (index, name, _signals if name == "signals" else _CONVERTERS[kind])
            for index, (name, kind) in enumerate(spec.fields)
            if name == "signals" or kind in _CONVERTERS
        )
        # Every row holds every field, so every event of a type has the same fields set.
        # Events are frozen: nothing adds to it, and one set per type (rather than one
        # per event, about 600 bytes each) is shared by all of them.
        self.fields_set = {"type", *self.names}

    def __call__(self, values: tuple[Any, ...]) -> BaseModel:
        if self.spec.type == "terms":  # nested models: validate (terms are few)
            return self.cls.model_validate(record_doc(self.spec, values))
        fields: dict[str, Any] = {"type": self.spec.type}
        fields.update(zip(self.names, values))
        for index, name, convert in self.converted:
            value = values[index]
            if value is not None:
                fields[name] = convert(value)
        extra = values[-1]
        # Rows were validated when they were loaded and hold every field, defaults
        # included, so the instance is assembled the way pydantic's model_construct does
        # it, minus its per-field default handling: several times faster, and this runs
        # once per event read.
        event = object.__new__(self.cls)
        object.__setattr__(event, "__dict__", fields)
        object.__setattr__(event, "__pydantic_fields_set__", self.fields_set)
        object.__setattr__(event, "__pydantic_extra__", _loads(extra) if extra is not None else {})
        object.__setattr__(event, "__pydantic_private__", None)
        return event


_MAKERS = {spec.type: _EventMaker(spec) for spec in EVENT_SPECS.values()}


def _to_event(spec: RecordSpec, values: tuple[Any, ...]) -> BaseModel:
    return _MAKERS[spec.type](values)


def _event_stream(connection: Connection, spec: RecordSpec, where: Any = None) -> Iterator[tuple[int, BaseModel]]:
    statement = select(spec.table.c.seq, *_columns(spec)).order_by(spec.table.c.seq)
    if where is not None:
        statement = statement.where(where)
    for row in _stream(connection, statement):
        yield row[0], _to_event(spec, tuple(row[1:]))


def iter_events(connection: Connection, after_seq: int = 0) -> Iterator[BaseModel]:
    """Every stored event logged after ``after_seq``, in log order."""
    streams = [
        _event_stream(connection, spec, spec.table.c.seq > after_seq if after_seq else None)
        for spec in EVENT_SPECS.values()
    ]
    for _seq, event in heapq.merge(*streams, key=lambda pair: pair[0]):
        yield event


def is_in(connection: Connection, column: ColumnElement[Any], values: Iterable[str]) -> ColumnElement[bool]:
    """``column IN values`` with the values bound as one parameter, however many there are.

    An expanded ``IN (?, ?, …)`` costs SQLAlchemy a bound name per value on every
    execution (a third of a second for 10,000 ids) and SQLite caps the count; one array
    (PostgreSQL) or JSON list (SQLite, unnested by ``json_each``) does neither.
    """
    listed = sorted(set(values))
    if connection.dialect.name == "postgresql":
        return column == any_(bindparam(None, listed, type_=ARRAY(String)))
    unnested = func.json_each(bindparam(None, orjson.dumps(listed).decode(), type_=String)).table_valued("value")
    return column.in_(select(unnested.c.value))


def _read_in(
    connection: Connection, spec: RecordSpec, field: str, values: Iterable[str], where: Any = None
) -> list[tuple[int, BaseModel]]:
    values = set(values)
    if not values:
        return []
    condition = is_in(connection, spec.table.c[field], values)
    statement = select(spec.table.c.seq, *_columns(spec)).where(condition if where is None else condition & where)
    # Read at once, in no particular order: the callers order what they read by seq, and
    # fetching every row in one call skips the per-row work of a streamed result.
    make = _MAKERS[spec.type]
    return [(row[0], make(row[1:])) for row in _fetch_tuples(connection, statement)]


_DISTINCT_TIMES = 16  # beyond this many times asked, reading every consent is cheaper


def _deciding_consents(
    connection: Connection, subjects: set[str], times: Sequence[int], where: Any = None
) -> list[tuple[int, BaseModel]]:
    """The consents that can decide a question as of any of ``times``.

    Among consents of one subject with the same purpose, meeting and kinds, only the
    latest at or before T can decide at T (a later line breaking a tie), so for each
    such group and each T only that one is read: most of a long consent history never
    leaves the database.
    """
    spec = EVENT_SPECS["consent"]
    table = spec.table
    if len(set(times)) > _DISTINCT_TIMES:
        return _read_in(connection, spec, "subject", subjects, where)
    found: dict[int, BaseModel] = {}
    if not subjects:
        return []
    conditions = () if where is None else (where,)
    group = (table.c.subject, table.c.purpose, table.c.meeting, table.c.kinds)
    fields = [field for field, _ in spec.fields]
    positions = [1 + fields.index(column.name) for column in group]  # in a row led by seq
    for moment in sorted(set(times)):
        # The latest time per group comes from the index alone; the rows at that time are
        # then looked up, and among several at one time the later line wins.
        latest = (
            select(*group, func.max(table.c.at).label("at"))
            .where(is_in(connection, table.c.subject, subjects), table.c.at <= moment, *conditions)
            .group_by(*group)
            .subquery()
        )
        statement = (
            select(table.c.seq, *_columns(spec))
            .join(
                latest,
                and_(
                    table.c.subject == latest.c.subject,
                    table.c.purpose == latest.c.purpose,
                    table.c.meeting.is_not_distinct_from(latest.c.meeting),
                    table.c.kinds == latest.c.kinds,
                    table.c.at == latest.c.at,
                ),
            )
            .where(*conditions)
        )
        winners: dict[tuple[Any, ...], tuple[Any, ...]] = {}
        for row in _fetch_tuples(connection, statement):
            key = tuple(row[position] for position in positions)
            if key not in winners or row[0] > winners[key][0]:
                winners[key] = tuple(row)
        for winner in winners.values():
            if winner[0] not in found:
                found[winner[0]] = _to_event(spec, winner[1:])
    return list(found.items())


def _needs(terms: Iterable[Any], purposes: Iterable[str]) -> dict[str, frozenset[str]]:
    """For each purpose, what its decisions can read beyond items, accounts and terms:
    ``"consent"`` (consents and participants), ``"setting"`` (users, groups, settings) and
    ``"notice"`` (participants), from the conditions of every grant of every terms
    version that covers the purpose, whatever its data kinds."""
    grants = [grant for version in terms for section in version.sections for grant in section.grants]
    needs: dict[str, frozenset[str]] = {}
    for purpose in purposes:
        conditions = {condition for grant in grants if purpose_covers(grant.purpose, purpose)
                      for condition in grant.requires}
        needs[purpose] = frozenset(condition.split(":", 1)[0] for condition in conditions)
    return needs


def iter_events_for_items(
    connection: Connection,
    item_ids: Iterable[str],
    times: Sequence[int] | None = None,
    upto: int | None = None,
    purposes: Mapping[str, Iterable[str]] | None = None,
) -> Iterator[BaseModel]:
    """The events that decisions about ``item_ids`` can depend on, in log order.

    That is the items and every item they derive from, their accounts, terms and
    acceptances, their meetings' participants (no rule reads a meeting's own event, so
    meetings are left out), the owners' and participants' consents,
    the owners' users and groups, the settings at every level that applies, erasures.
    With ``times`` (microseconds), only consents that can decide a question at one of
    those times are read. With ``upto``, only events logged at or before that sequence
    number are read: readers in several processes then share one view of the log.

    With ``purposes`` (each item id's asked purposes), consents, participants, users,
    groups and settings are read only for the items asked about a purpose that some
    grant of the terms covers under a condition reading them (an item a derived item
    was made from is asked what the derived item is): a question the terms answer
    without consent reads no consent.
    """
    picked: dict[int, BaseModel] = {}

    def logged(spec: RecordSpec) -> Any:
        # "+ 0": a filter only, never the index to search by (the ids and subjects are).
        return None if upto is None else spec.table.c.seq + 0 <= upto

    def read_in(type_: str, field: str, values: Iterable[str], where: Any = None) -> list[tuple[int, BaseModel]]:
        spec = EVENT_SPECS[type_]
        bound = logged(spec)
        if bound is not None:
            where = bound if where is None else where & bound
        return _read_in(connection, spec, field, values, where)

    def take(pairs: list[tuple[int, BaseModel]]) -> list[Any]:
        for seq, event in pairs:
            picked[seq] = event
        return [event for _, event in pairs]

    terms = take(list(_event_stream(connection, EVENT_SPECS["terms"], logged(EVENT_SPECS["terms"]))))
    asked: dict[str, set[str]] | None = None
    if purposes is not None:
        asked = {item: set(names) for item, names in purposes.items()}
    wanted = set(item_ids)
    seen: set[str] = set()
    items: list[Any] = []
    while wanted:
        seen |= wanted
        found = take(read_in("content", "id", wanted))
        found += take(read_in("service_data", "id", wanted))
        items += found
        wanted = set()
        for item in found:
            for source in getattr(item, "derived_from", ()):
                if asked is not None:  # a source is asked what the item made from it is
                    asked.setdefault(source, set()).update(asked.get(item.id, ()))
                if source not in seen:
                    wanted.add(source)
    if asked is None:
        reading = {"consent": items, "setting": items, "notice": items}
    else:
        needs = _needs(terms, {purpose for names in asked.values() for purpose in names})
        # An item may be listed once per asked purpose needing a kind of state: what is
        # read for these lists is gathered into sets.
        reading = {"consent": [], "setting": [], "notice": []}
        for item in items:
            for purpose in asked.get(item.id, ()):
                for need in needs[purpose]:
                    reading[need].append(item)
    accounts = {item.account for item in items}
    meetings = {item.meeting for item in reading["consent"] + reading["notice"] if getattr(item, "meeting", None)}
    participants = take(read_in("participant", "meeting", meetings))
    consenting = {item.meeting for item in reading["consent"] if getattr(item, "meeting", None)}
    subjects = _owners(reading["consent"]) | {line.subject for line in participants if line.meeting in consenting}
    people = _owners(reading["setting"])
    take(read_in("delete", "item", seen))
    take(read_in("account", "id", accounts))
    take(read_in("terms_acceptance", "account", accounts))
    if times:
        take(_deciding_consents(connection, subjects, times, logged(EVENT_SPECS["consent"])))
    else:
        take(read_in("consent", "subject", subjects))
    users = take(read_in("user", "id", people))
    groups = {group for user in users for group in user.groups}
    take(read_in("group", "id", groups))
    settings = EVENT_SPECS["setting"]
    setting_accounts = {item.account for item in reading["setting"]}
    for scope, targets in (("account", setting_accounts), ("group", groups), ("user", people)):
        take(read_in("setting", "target", targets, settings.table.c.scope == scope))
    for seq in sorted(picked):
        yield picked[seq]


def _owners(items: Iterable[Any]) -> set[str]:
    """Whose consent and settings the items answer to: content owners, service-data users."""
    return {item.owner if item.type == "content" else item.user for item in items} - {None}
