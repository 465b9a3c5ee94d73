"""Where the decision is made: may this item be used for this purpose, as of this time?

:func:`decide` applies every rule of CONTRACT.md §1 to one question; :func:`decide_many`
answers a batch from one :class:`Evaluator`, which remembers sub-results (terms in force,
consent states, effective settings, notices, whole decisions of source items) so that
questions sharing them share the work. Both give exactly the same answers.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime
from functools import lru_cache
from typing import Any, NamedTuple

from ..model.times import EPOCH, MICROSECOND, format_micros, format_time
from .collector import collector_paused
from .consent import MISSING, consent_reason, lineage_state, purpose_lineage
from .decision import Decision, Reason
from .policy import Policy
from .records import CONSENT, NOTICE, SETTING, ItemRecord, TermsRecord
from .settings import effective_setting, setting_off
from .signals import reserves_purpose
from .terms import terms_in_force
from .world import World

# A condition's outcome: the reasons it fails (empty when it holds) and its evidence.
Outcome = tuple[tuple[Reason, ...], tuple[dict[str, Any], ...]]
Evidence = dict[str, Any] | None
_HOLDS: Outcome = ((), ())
_UNSET: Any = object()
_new = tuple.__new__  # a named tuple made without its Python-level __new__
# decide_many answers column-wise (consentgate.core.batch) when the world's columns are
# built, or when the batch asks at least COLUMNAR_PER_ITEM questions per item of a world
# of at least COLUMNAR_MIN items. Building the columns costs about 15 µs an item and
# answering column-wise saves about 10 µs a question, so a smaller batch (such as a
# share of `decide --batch`, whose view holds just the items it asks about) is answered
# faster one question at a time.
COLUMNAR_PER_ITEM = 1.25
COLUMNAR_MIN = 2_000


def decide(world: World, item: str, purpose: str, at: datetime, policy: Policy) -> Decision:
    """Decide whether ``item`` may be used for ``purpose`` as of ``at``.

    Args:
        world: the state to read.
        item: an item id (content or service data).
        purpose: a dotted purpose id, e.g. ``"ai.training"``.
        at: an aware datetime; the decision sees only what existed at or before it.
        policy: the policy in force; its digest is stamped on the decision.

    Raises:
        ValueError: ``at`` has no time zone.
    """
    return Evaluator(world, policy, memory=0).decide(item, purpose, at)


def decide_many(
    world: World, questions: Iterable[tuple[str, str, datetime]], policy: Policy
) -> list[Decision]:
    """Decide each ``(item, purpose, at)`` question, in order, sharing work between them.

    Raises:
        ValueError: a question's ``at`` has no time zone.
    """
    questions = questions if isinstance(questions, list | tuple) else list(questions)
    items = world.item_count()
    if world.has_columns() or (items >= COLUMNAR_MIN and len(questions) >= items * COLUMNAR_PER_ITEM):
        from .batch import decide_columnar

        with collector_paused():
            return decide_columnar(world, questions, policy)
    evaluator = Evaluator(world, policy)
    # A batch keeps every answer and sub-result alive; the collector would walk them all.
    with collector_paused():
        return [evaluator.decide(item, purpose, at) for item, purpose, at in questions]


class Verdict(NamedTuple):
    """What the terms say for one kind of item: a standalone denial, or the reasons
    every covering grant fails and, when one grant holds, its basis."""

    standalone: Reason | None
    failing: tuple[Reason, ...]
    basis: tuple[dict[str, Any], ...] | None


class Evaluator:
    """Answers questions against one world and policy, remembering sub-results.

    Items that share an account, owner, meeting and kind get the same verdict from the
    terms for a purpose at a time, so the verdict is remembered per such signature;
    consent states, effective settings and notices are remembered too, as are whole
    decisions of items others were derived from. The memory is valid only while the
    world does not change: make a new evaluator after applying events. A long-lived
    evaluator forgets everything once it remembers ``memory`` verdicts, so asking about
    ever new times (such as "now") cannot grow it without bound.

    With ``memory=0`` it remembers nothing, and is cheaper for questions that share
    nothing (single questions, such as :func:`decide` and ``Decider.decide`` ask): it then
    keeps no state of its own, and stays valid while the world changes.
    """

    __slots__ = (
        "world",
        "policy",
        "memory",
        "_remember",
        "_digest",
        "_consent_index",
        "_decisions",
        "_terms",
        "_verdicts",
        "_consents",
        "_settings",
        "_notices",
    )

    def __init__(self, world: World, policy: Policy, memory: int = 250_000) -> None:
        self.world = world
        self.policy = policy
        self.memory = memory
        self._remember = memory > 0
        self._digest = policy.digest
        self._consent_index = world.consent_index()
        if self._remember:
            self.forget()

    def forget(self) -> None:
        """Drop every remembered sub-result (answers do not change, only their cost)."""
        self._decisions: dict[tuple[str, str, int], Decision] = {}
        self._terms: dict[tuple[str, int], TermsRecord | None] = {}
        self._verdicts: dict[tuple[str, str | tuple[str] | None, str | None, str, str, int], Verdict] = {}
        self._consents: dict[tuple[str, str, str, str | None, str, int], tuple[Reason | None, Evidence]] = {}
        self._settings: dict[tuple[str, str | None, str, int], Outcome] = {}
        self._notices: dict[tuple[str, str], Outcome] = {}

    def decide(self, item: str, purpose: str, at: datetime) -> Decision:
        """Decide one question (see :func:`decide`)."""
        if at.tzinfo is None or at.utcoffset() is None:
            raise ValueError("the time of a decision must carry a time zone")
        t = (at - EPOCH) // MICROSECOND  # to_micros(at), without the call
        if not self._remember:
            return self._evaluate(item, purpose, at, t, ())
        if len(self._verdicts) + len(self._decisions) > self.memory:
            self.forget()
        return self._decide(item, purpose, at, t, ())

    def _decide(self, item: str, purpose: str, at: datetime, t: int, chain: tuple[str, ...]) -> Decision:
        # Only decisions a derived item will ask for again are worth remembering.
        if not self._remember or not self.world.is_source(item):
            return self._evaluate(item, purpose, at, t, chain)
        key = (item, purpose, t)
        decision = self._decisions.get(key)
        if decision is None:
            decision = self._decisions[key] = self._evaluate(item, purpose, at, t, chain)
        return decision

    def _evaluate(self, item: str, purpose: str, at: datetime, t: int, chain: tuple[str, ...]) -> Decision:
        record = self.world.item_record(item)
        if record is None or record.created > t:
            return self._deny(
                item, purpose, at, Reason("item.unknown", f"no item {item} exists as of {format_time(at)}")
            )
        erased = self.world.erasure_time(item)
        if erased is not None and erased <= t:
            return self._deny(
                item, purpose, at, Reason("item.deleted", f"{item} was erased at {format_micros(erased)}")
            )
        if self._remember:
            # An item that names no person gets a consent.missing reason naming the item.
            person = record.subject if record.subject is not None or record.meeting is not None else (item,)
            signature = (record.account, person, record.meeting, record.kind, purpose, t)
            verdict = self._verdicts.get(signature)
            if verdict is None:
                verdict = self._verdicts[signature] = self._verdict(record, purpose, at, t)
        else:
            verdict = self._verdict(record, purpose, at, t)
        if verdict.standalone is not None:
            return self._deny(item, purpose, at, verdict.standalone)
        if record.reservation is None and not record.sources:
            # Made as plain tuples: a named tuple's own __new__ is a Python call.
            if verdict.basis is None:
                return _new(Decision, (item, purpose, at, False, verdict.failing, (), self._digest))
            return _new(Decision, (item, purpose, at, True, (), verdict.basis, self._digest))

        extra: list[Reason] = []
        if record.reservation is not None and reserves_purpose(purpose):
            extra.append(
                Reason("signal.reserved", f"{item} carries a do-not-train signal ({record.reservation})")
            )
        # The chain of items being decided is passed down rather than kept on the evaluator,
        # so that threads sharing one evaluator never see each other's chains.
        used: list[dict[str, Any]] = []
        chain += (item,)
        for source in record.sources:
            if source in chain or not self._decide(source, purpose, at, t, chain).allowed:
                message = f"{item} was made from {source}, which may not be used for {purpose}"
                extra.append(Reason("source.ineligible", message, source=source))
            else:
                used.append({"source": source})
        if verdict.basis is None:
            return Decision(
                item, purpose, at, False, _unique(verdict.failing + tuple(extra)), (), self._digest
            )
        if extra:
            return Decision(item, purpose, at, False, _unique(tuple(extra)), (), self._digest)
        return Decision(item, purpose, at, True, (), verdict.basis + tuple(used), self._digest)

    def _deny(self, item: str, purpose: str, at: datetime, reason: Reason) -> Decision:
        return Decision(item, purpose, at, False, (reason,), (), self._digest)

    def _verdict(self, record: ItemRecord, purpose: str, at: datetime, t: int) -> Verdict:
        if self._remember:
            terms = self._terms.get((record.account, t), _UNSET)
            if terms is _UNSET:
                terms = self._terms[(record.account, t)] = terms_in_force(self.world, record.account, t)
        else:
            terms = terms_in_force(self.world, record.account, t)
        if terms is None:
            message = f"account {record.account} has accepted no terms in force at {format_time(at)}"
            return Verdict(Reason("terms.not_accepted", message), (), None)
        grants = self.world.covering_grants(terms.version, purpose, record.kind)
        if not grants:
            message = f"terms {terms.version} grant no use of {record.kind} for {purpose}"
            return Verdict(Reason("purpose.not_granted", message), (), None)
        # A condition several grants share is checked once.
        outcomes: dict[str, Outcome] | None = {} if len(grants) > 1 else None
        failing: list[Reason] = []
        for grant in grants:
            holds = True
            basis: list[dict[str, Any]] = [grant.basis]
            for condition, check, argument in grant.checks:
                outcome = None if outcomes is None else outcomes.get(condition)
                if outcome is None:
                    if check == CONSENT:
                        outcome = self._consent(record, purpose, t)
                    elif check == SETTING:
                        outcome = self._setting(argument, record, t)
                    elif check == NOTICE:
                        outcome = self._notice(argument, record)
                    else:
                        raise ValueError(f"unknown condition {condition!r}")
                    if outcomes is not None:
                        outcomes[condition] = outcome
                if outcome[0]:
                    holds = False
                    failing.extend(outcome[0])
                else:
                    basis.extend(outcome[1])
            if holds:
                return _new(Verdict, (None, (), tuple(basis)))
        # One grant's conditions fail in distinct ways; only several grants can repeat one.
        return Verdict(None, _unique(tuple(failing)) if outcomes is not None else tuple(failing), None)

    # -- conditions ------------------------------------------------------------------

    def _consent(self, record: ItemRecord, purpose: str, t: int) -> Outcome:
        subjects = self.world.consent_subjects(record.subject, record.meeting)
        if not subjects:
            message = f"{record.id} names no person whose consent to {purpose} could count"
            return (Reason("consent.missing", message),), ()
        account = self.world.account(record.account)
        region = account.region if account is not None else None
        self_only = region in self.policy.self_consent_only_regions
        kind, meeting = record.kind, record.meeting
        lineage = purpose_lineage(purpose)
        histories_of = self._consent_index.get
        reasons: list[Reason] = []
        evidence: list[dict[str, Any]] = []
        remembered = self._consents if self._remember else None
        for subject in subjects:
            if remembered is not None:
                key = (subject, purpose, kind, meeting, record.account, t)
                found = remembered.get(key)
            else:
                found = None
            if found is None:
                histories = histories_of(subject)
                state = MISSING if histories is None else lineage_state(
                    histories, lineage, kind, meeting, self_only, t
                )
                if state[0] is not None:
                    found = consent_reason(state, subject, purpose, kind, meeting, region), None
                else:
                    found = (
                        None,
                        ({"consent": state[1].id, "subject": subject} if state[1] is not None else None),
                    )
                if remembered is not None:
                    remembered[key] = found
            if found[0] is not None:
                reasons.append(found[0])
            elif found[1] is not None:
                evidence.append(found[1])
        return (tuple(reasons), ()) if reasons else ((), tuple(evidence))

    def _setting(self, key: str, record: ItemRecord, t: int) -> Outcome:
        if self._remember:
            memo = (key, record.subject, record.account, t)
            outcome = self._settings.get(memo)
            if outcome is None:
                outcome = self._settings[memo] = self._setting_outcome(key, record, t)
            return outcome
        return self._setting_outcome(key, record, t)

    def _setting_outcome(self, key: str, record: ItemRecord, t: int) -> Outcome:
        setting = effective_setting(self.world, self.policy, record.subject, record.account, key, t)
        if setting.value:
            return (), (setting.basis(),)
        return (setting_off(setting, record.subject, record.account),), ()

    def _notice(self, feature: str, record: ItemRecord) -> Outcome:
        meeting = record.meeting
        if meeting is None:
            return _HOLDS
        outcome = self._notices.get((feature, meeting)) if self._remember else None
        if outcome is None:
            lines = self.world.participants(meeting)
            missing = dict.fromkeys(line.subject for line in lines if feature not in line.notified)
            if missing:
                outcome = tuple(_notice_missing(subject, feature, meeting) for subject in missing), ()
            else:
                outcome = (), ({"notice": feature, "meeting": meeting},)
            if self._remember:
                self._notices[(feature, meeting)] = outcome
        return outcome


@lru_cache(maxsize=65536)
def _notice_missing(subject: str, feature: str, meeting: str) -> Reason:
    return Reason(
        "notice.missing", f"{subject} was not notified of {feature} in meeting {meeting}", subject=subject
    )


def _unique(reasons: tuple[Reason, ...]) -> tuple[Reason, ...]:
    return tuple(dict.fromkeys(reasons))
