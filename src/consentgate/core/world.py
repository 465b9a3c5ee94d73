"""The in-memory view of state that decisions read, kept current event by event.

``World.apply`` indexes each event as it arrives (no rebuild): per-key histories sorted by
valid time, so every "latest at or before T" is one bisect. Events may arrive in any
valid-time order; among equal times, the later arrival is the later line.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator
from functools import lru_cache
from typing import TYPE_CHECKING, Any

from ..model import (
    Account,
    Consent,
    Content,
    Erasure,
    Group,
    Meeting,
    Participant,
    ServiceData,
    Setting,
    Terms,
    TermsAcceptance,
    User,
    purpose_covers,
)
from ..model.times import to_micros
from ._timeline import Timeline
from .records import ConsentRecord, CoveringGrant, ItemRecord, SettingRecord, TermsRecord, condition_check
from .signals import training_reservation

if TYPE_CHECKING:
    from .columns import Columns


@lru_cache(maxsize=1024)
def _kind_set(kinds: tuple[str, ...]) -> frozenset[str]:
    # Consents name a few combinations of kinds; each set is made once and shared.
    return frozenset(kinds)


class World:
    """State as of every time at once, for the pure rules to read.

    >>> world = World()
    >>> world.apply(Account(id="a1", region="EU"))
    >>> world.account("a1").region
    'EU'
    """

    def __init__(self) -> None:
        self._arrivals = 0
        self._accounts: dict[str, Account] = {}
        self._groups: dict[str, Group] = {}
        self._users: dict[str, User] = {}
        self._meetings: dict[str, Meeting] = {}
        self._participants: dict[str, list[Participant]] = {}
        self._meeting_subjects: dict[str, tuple[str, ...]] = {}
        self._items: dict[str, ItemRecord] = {}
        self._erasures: dict[str, int] = {}
        self._terms: dict[str, TermsRecord] = {}
        self._acceptances: dict[str, Timeline[str]] = {}
        self._settings: dict[tuple[str, str, str], Timeline[SettingRecord]] = {}
        self._consents: dict[str, dict[str, Timeline[ConsentRecord]]] = {}
        self._sources: set[str] = set()
        # Derived lookups, dropped whenever an event they depend on arrives.
        self._grant_cache: dict[tuple[str, str, str], tuple[CoveringGrant, ...]] = {}
        self._group_order: dict[str, tuple[str, ...]] = {}
        self._subjects: dict[tuple[str | None, str | None], tuple[str, ...]] = {}
        self._columns: Columns | None = None
        # One string object per distinct id of an account, group, person, meeting, kind or
        # purpose, shared by every record and key that names it: looking one record's
        # fields up in another table then compares keys by identity and reads strings
        # that many records share, not a copy per event (names.setdefault(id, id) gives it).
        self._names: dict[str, str] = {}

    # -- applying events -------------------------------------------------------------

    def apply(self, event: Any) -> None:
        """Apply one event (a model instance); events arrive in log order.

        Raises:
            TypeError: ``event`` is not one of the model's event types.
        """
        applier = _APPLIERS.get(type(event))
        if applier is None:
            raise TypeError(f"not an event: {type(event).__name__}")
        self._arrivals += 1
        applier(self, event)

    def apply_many(self, events: Iterable[Any]) -> None:
        """Apply events in order (see :meth:`apply`)."""
        for event in events:
            self.apply(event)

    def _apply_account(self, event: Account) -> None:
        self._accounts[self._names.setdefault(event.id, event.id)] = event

    def _apply_group(self, event: Group) -> None:
        self._groups[self._names.setdefault(event.id, event.id)] = event
        self._group_order.clear()

    def _apply_user(self, event: User) -> None:
        self._users[self._names.setdefault(event.id, event.id)] = event
        self._group_order.pop(event.id, None)

    def _apply_setting(self, event: Setting) -> None:
        at = to_micros(event.at)
        key = (event.scope, self._names.setdefault(event.target, event.target), event.key)
        self._settings.setdefault(key, Timeline()).add(
            at, SettingRecord(event.value, event.locked, at, event)
        )

    def _apply_terms(self, event: Terms) -> None:
        record = TermsRecord(event.version, to_micros(event.effective_at), self._arrivals, event)
        self._terms[event.version] = record
        self._grant_cache.clear()

    def _apply_acceptance(self, event: TermsAcceptance) -> None:
        self._acceptances.setdefault(self._names.setdefault(event.account, event.account), Timeline()).add(
            to_micros(event.at), event.version
        )

    def _apply_consent(self, event: Consent) -> None:
        at = to_micros(event.at)
        canon = self._names.setdefault  # the one string equal to each id
        subject, purpose = canon(event.subject, event.subject), canon(event.purpose, event.purpose)
        record = ConsentRecord(
            id=event.id,
            subject=subject,
            purpose=purpose,
            status=event.status,
            kinds=_kind_set(tuple(event.kinds)),
            meeting=None if event.meeting is None else canon(event.meeting, event.meeting),
            self_given=event.by == event.subject and event.method != "admin_on_behalf",
            at=at,
            arrival=self._arrivals,
            expires=None if event.expires_at is None else to_micros(event.expires_at),
            event=event,
        )
        by_purpose = self._consents.setdefault(subject, {})
        by_purpose.setdefault(purpose, Timeline()).add(at, record)

    def _apply_meeting(self, event: Meeting) -> None:
        self._meetings[event.id] = event

    def _apply_participant(self, event: Participant) -> None:
        canon = self._names.setdefault  # the one string equal to each id
        meeting = canon(event.meeting, event.meeting)
        self._participants.setdefault(meeting, []).append(event)
        subjects = self._meeting_subjects.get(meeting, ())
        if event.subject not in subjects:
            self._meeting_subjects[meeting] = subjects + (canon(event.subject, event.subject),)
            self._subjects.clear()

    def _apply_item(self, event: Content | ServiceData) -> None:
        canon = self._names.setdefault  # the one string equal to each id
        kind, account = canon(event.kind, event.kind), canon(event.account, event.account)
        if isinstance(event, Content):
            record = ItemRecord(
                event.id,
                kind,
                account,
                canon(event.owner, event.owner),
                None if event.meeting is None else canon(event.meeting, event.meeting),
                to_micros(event.created_at),
                tuple(dict.fromkeys(event.derived_from)),
                training_reservation(event.signals),
                event,
            )
        else:
            user = None if event.user is None else canon(event.user, event.user)
            record = ItemRecord(event.id, kind, account, user, None, to_micros(event.at), (), None, event)
        self._items[event.id] = record
        self._sources.update(record.sources)

    def _apply_erasure(self, event: Erasure) -> None:
        at = to_micros(event.at)
        if at < self._erasures.get(event.item, at + 1):
            self._erasures[event.item] = at

    # -- reading ---------------------------------------------------------------------

    def account(self, account_id: str) -> Account | None:
        """The account ``account_id``, or None."""
        return self._accounts.get(account_id)

    def group(self, group_id: str) -> Group | None:
        """The group ``group_id``, or None."""
        return self._groups.get(group_id)

    def user(self, user_id: str) -> User | None:
        """The user ``user_id``, or None (guests are not users)."""
        return self._users.get(user_id)

    def meeting(self, meeting_id: str) -> Meeting | None:
        """The meeting ``meeting_id``, or None."""
        return self._meetings.get(meeting_id)

    def terms(self, version: str) -> Terms | None:
        """The terms version ``version``, or None."""
        record = self._terms.get(version)
        return None if record is None else record.event

    def item(self, item_id: str) -> Content | ServiceData | None:
        """The content or service-data event of ``item_id``, or None."""
        record = self._items.get(item_id)
        return None if record is None else record.event

    def items(self) -> Iterator[Content | ServiceData]:
        """Every item, content and service data, in arrival order."""
        return (record.event for record in self._items.values())

    def item_record(self, item_id: str) -> ItemRecord | None:
        """The rules' view of ``item_id`` (times in microseconds), or None."""
        return self._items.get(item_id)

    def participants(self, meeting_id: str) -> tuple[Participant, ...]:
        """Every participant line of a meeting, in arrival order."""
        return tuple(self._participants.get(meeting_id, ()))

    def meeting_subjects(self, meeting_id: str | None) -> tuple[str, ...]:
        """The distinct subjects of a meeting's participant lines, in arrival order."""
        return self._meeting_subjects.get(meeting_id, ()) if meeting_id is not None else ()

    def consent_subjects_of_item(self, item_id: str) -> tuple[str, ...]:
        """Whose consent an item needs: its owner (or user), then its meeting's participants."""
        record = self._items.get(item_id)
        return () if record is None else self.consent_subjects(record.subject, record.meeting)

    def consent_subjects(self, owner: str | None, meeting: str | None) -> tuple[str, ...]:
        """``owner`` (when not None) and then each participant of ``meeting``, once each."""
        if meeting is None:
            return (owner,) if owner is not None else ()
        subjects = self._meeting_subjects.get(meeting, ())
        if subjects and subjects[0] is owner:  # the host owns most of a meeting's content
            return subjects
        found = self._subjects.get((owner, meeting))
        if found is not None:
            return found
        owners = (owner,) if owner is not None else ()
        subjects = self._subjects[(owner, meeting)] = tuple(dict.fromkeys(owners + self.meeting_subjects(meeting)))
        return subjects

    def erasure_time(self, item_id: str) -> int | None:
        """When ``item_id`` was first erased, in microseconds, or None."""
        return self._erasures.get(item_id)

    def terms_record(self, version: str) -> TermsRecord | None:
        """The rules' view of a terms version, or None."""
        return self._terms.get(version)

    def acceptances(self, account_id: str) -> Timeline[str] | None:
        """The terms versions an account accepted, by acceptance time."""
        return self._acceptances.get(account_id)

    def setting_history(self, scope: str, target: str, key: str) -> Timeline[SettingRecord] | None:
        """The setting events of one level (``scope``, ``target``) for ``key``, by time."""
        return self._settings.get((scope, target, key))

    def consent_history(self, subject: str, purpose: str) -> Timeline[ConsentRecord] | None:
        """A subject's consent events for exactly ``purpose``, by time."""
        return self._consents.get(subject, {}).get(purpose)

    def consent_histories(self, subject: str) -> dict[str, Timeline[ConsentRecord]] | None:
        """A subject's consent histories by the purpose they name (read-only), or None."""
        return self._consents.get(subject)

    def columns(self) -> Columns:
        """This state as NumPy columns, for large batches (see :mod:`consentgate.core.columns`).

        Built on first use and kept until the next event arrives.
        """
        found = self._columns
        if found is None or found.arrivals != self._arrivals:
            from .columns import Columns

            found = self._columns = Columns(self)
        return found

    def has_columns(self) -> bool:
        """Whether :meth:`columns` is built for the current state (costs nothing to read)."""
        return self._columns is not None and self._columns.arrivals == self._arrivals

    def item_count(self) -> int:
        """How many items (content and service data) the world holds."""
        return len(self._items)

    def setting_index(self) -> dict[tuple[str, str, str], Timeline[SettingRecord]]:
        """Every setting history by (scope, target, key): a read-only table for the rules."""
        return self._settings

    def consent_index(self) -> dict[str, dict[str, Timeline[ConsentRecord]]]:
        """Every consent history by subject, then purpose: a read-only table for the rules."""
        return self._consents

    def consents_of(self, subject: str) -> list[ConsentRecord]:
        """Every consent event of ``subject``, sorted by (time, arrival)."""
        histories = self._consents.get(subject, {})
        records = [record for history in histories.values() for record in history.records]
        return sorted(records, key=lambda record: (record.at, record.arrival))

    # -- listing, for copying the whole view into columns (the bulk path) ------------

    def accounts(self) -> Iterator[Account]:
        """Every account, in the order their ids first arrived (the latest event per id)."""
        return iter(self._accounts.values())

    def groups(self) -> Iterator[Group]:
        """Every group, as :meth:`accounts` lists accounts."""
        return iter(self._groups.values())

    def users(self) -> Iterator[User]:
        """Every user, as :meth:`accounts` lists accounts."""
        return iter(self._users.values())

    def meetings(self) -> Iterator[Meeting]:
        """Every meeting, as :meth:`accounts` lists accounts."""
        return iter(self._meetings.values())

    def item_records(self) -> Iterator[ItemRecord]:
        """The rules' view of every item, in the order their ids first arrived."""
        return iter(self._items.values())

    def erasures(self) -> Iterator[tuple[str, int]]:
        """(item id, when it was first erased in microseconds) for every erased item."""
        return iter(self._erasures.items())

    def terms_records(self) -> Iterator[TermsRecord]:
        """Every terms version, in the order their versions first arrived."""
        return iter(self._terms.values())

    def acceptance_index(self) -> dict[str, Timeline[str]]:
        """Every account's accepted terms versions by time: a read-only table."""
        return self._acceptances

    def participant_lines(self) -> Iterator[tuple[str, tuple[Participant, ...]]]:
        """(meeting id, its participant lines in arrival order) for every meeting with lines."""
        return ((meeting, tuple(lines)) for meeting, lines in self._participants.items())

    def is_source(self, item_id: str) -> bool:
        """True when some item was derived from ``item_id``."""
        return item_id in self._sources

    def covering_grants(self, version: str, purpose: str, kind: str) -> tuple[CoveringGrant, ...]:
        """The grants of a terms version covering ``purpose`` and ``kind``, in order."""
        key = (version, purpose, kind)
        grants = self._grant_cache.get(key)
        if grants is None:
            record = self._terms.get(version)
            sections = record.event.sections if record is not None else []
            grants = tuple(
                CoveringGrant(
                    section.id,
                    grant.purpose,
                    tuple(grant.requires),
                    {"terms": version, "section": section.id},
                    tuple(condition_check(condition) for condition in grant.requires),
                )
                for section in sections
                for grant in section.grants
                if kind in grant.data and purpose_covers(grant.purpose, purpose)
            )
            self._grant_cache[key] = grants
        return grants

    def ordered_groups(self, user_id: str) -> tuple[str, ...]:
        """A user's groups, strongest first: by priority (1 first), unprioritized last,
        ties in the order of the user's ``groups`` list."""
        order = self._group_order.get(user_id)
        if order is None:
            user = self._users.get(user_id)
            canon = self._names.setdefault  # the one string equal to each id
            listed = [canon(group, group) for group in dict.fromkeys(user.groups)] if user is not None else []
            order = tuple(sorted(listed, key=lambda group_id: self._group_rank(group_id, listed)))
            self._group_order[user_id] = order
        return order

    def _group_rank(self, group_id: str, listed: list[str]) -> tuple[bool, int, int]:
        group = self._groups.get(group_id)
        priority = group.priority if group is not None else None
        return (priority is None, priority or 0, listed.index(group_id))


# Plain functions, not bound methods kept on each World: a World that held its own bound
# methods would be a reference cycle, and every discarded view (one per partial read)
# would wait for a full garbage collection instead of being freed at once.
_APPLIERS: dict[type, Callable[[World, Any], None]] = {
    Account: World._apply_account,
    Group: World._apply_group,
    User: World._apply_user,
    Setting: World._apply_setting,
    Terms: World._apply_terms,
    TermsAcceptance: World._apply_acceptance,
    Consent: World._apply_consent,
    Meeting: World._apply_meeting,
    Participant: World._apply_participant,
    Content: World._apply_item,
    ServiceData: World._apply_item,
    Erasure: World._apply_erasure,
}
