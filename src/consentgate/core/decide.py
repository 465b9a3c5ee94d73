"""Where the decision is made: may this item be used for this purpose, as of this time?

:func:`decide` applies every rule of CONTRACT.md §1 to one question; :func:`decide_many`
answers a batch from one :class:`Evaluator`, which remembers sub-results (terms in force,
consent states, effective settings, notices, whole decisions of source items) so that
questions sharing them share the work. Both give exactly the same answers.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime
from typing import Any

from ..model.times import format_micros, format_time, to_micros
from .consent import ConsentState, consent_reason, consent_state
from .decision import Decision, Reason
from .policy import Policy
from .records import ItemRecord, TermsRecord
from .settings import EffectiveSetting, effective_setting, setting_off
from .signals import reserves_purpose
from .terms import terms_in_force
from .world import World

# A condition's outcome: the reasons it fails (empty when it holds) and its evidence.
Outcome = tuple[tuple[Reason, ...], tuple[dict[str, Any], ...]]
_HOLDS: Outcome = ((), ())


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
    return Evaluator(world, policy).decide(item, purpose, at)


def decide_many(
    world: World, questions: Iterable[tuple[str, str, datetime]], policy: Policy
) -> list[Decision]:
    """Decide each ``(item, purpose, at)`` question, in order, sharing work between them.

    Raises:
        ValueError: a question's ``at`` has no time zone.
    """
    evaluator = Evaluator(world, policy)
    return [evaluator.decide(item, purpose, at) for item, purpose, at in questions]


class Evaluator:
    """Answers questions against one world and policy, remembering sub-results.

    The memory is valid only while the world does not change: make a new evaluator
    after applying events.
    """

    def __init__(self, world: World, policy: Policy) -> None:
        self.world = world
        self.policy = policy
        self._decisions: dict[tuple[str, str, int], Decision] = {}
        self._terms: dict[tuple[str, int], TermsRecord | None] = {}
        self._consents: dict[tuple[str, str, str, str | None, bool, int], ConsentState] = {}
        self._settings: dict[tuple[str | None, str, str, int], EffectiveSetting] = {}
        self._unnotified: dict[tuple[str, str], tuple[str, ...]] = {}
        self._regions: dict[str, str | None] = {}
        self._deciding: set[str] = set()

    def decide(self, item: str, purpose: str, at: datetime) -> Decision:
        """Decide one question (see :func:`decide`)."""
        if at.tzinfo is None or at.utcoffset() is None:
            raise ValueError("the time of a decision must carry a time zone")
        return self._decide(item, purpose, at, to_micros(at))

    def _decide(self, item: str, purpose: str, at: datetime, t: int) -> Decision:
        key = (item, purpose, t)
        decision = self._decisions.get(key)
        if decision is None:
            self._deciding.add(item)
            try:
                decision = self._evaluate(item, purpose, at, t)
            finally:
                self._deciding.discard(item)
            self._decisions[key] = decision
        return decision

    def _evaluate(self, item: str, purpose: str, at: datetime, t: int) -> Decision:
        world = self.world
        record = world.item_record(item)
        if record is None or record.created > t:
            return self._deny(item, purpose, at, "item.unknown", f"no item {item} exists as of {format_time(at)}")
        erased = world.erasure_time(item)
        if erased is not None and erased <= t:
            return self._deny(item, purpose, at, "item.deleted", f"{item} was erased at {format_micros(erased)}")
        terms = self._terms.get((record.account, t), False)
        if terms is False:
            terms = self._terms[(record.account, t)] = terms_in_force(world, record.account, t)
        if terms is None:
            message = f"account {record.account} has accepted no terms in force at {format_time(at)}"
            return self._deny(item, purpose, at, "terms.not_accepted", message)
        grants = world.covering_grants(terms.version, purpose, record.kind)
        if not grants:
            message = f"terms {terms.version} grant no use of {record.kind} for {purpose}"
            return self._deny(item, purpose, at, "purpose.not_granted", message)

        failing: list[Reason] = []
        basis: list[dict[str, Any]] | None = None
        outcomes: dict[str, Outcome] = {}
        for grant in grants:
            grant_failing: list[Reason] = []
            grant_basis: list[dict[str, Any]] = [{"terms": terms.version, "section": grant.section}]
            for condition in grant.requires:
                outcome = outcomes.get(condition)
                if outcome is None:
                    outcome = outcomes[condition] = self._condition(condition, record, purpose, t)
                if outcome[0]:
                    grant_failing.extend(outcome[0])
                else:
                    grant_basis.extend(outcome[1])
            if not grant_failing:
                basis = grant_basis
                break
            failing.extend(grant_failing)

        reasons = failing if basis is None else []
        if record.reservation is not None and reserves_purpose(purpose):
            reasons.append(Reason("signal.reserved", f"{item} carries a do-not-train signal ({record.reservation})"))
        for source in record.sources:
            if source in self._deciding or not self._decide(source, purpose, at, t).allowed:
                message = f"{item} was made from {source}, which may not be used for {purpose}"
                reasons.append(Reason("source.ineligible", message, source=source))
            elif basis is not None:
                basis.append({"source": source})
        if reasons or basis is None:
            unique = tuple(dict.fromkeys(reasons))
            return Decision(item, purpose, at, False, unique, (), self.policy.digest)
        return Decision(item, purpose, at, True, (), tuple(basis), self.policy.digest)

    def _deny(self, item: str, purpose: str, at: datetime, code: str, message: str) -> Decision:
        return Decision(item, purpose, at, False, (Reason(code, message),), (), self.policy.digest)

    # -- conditions ------------------------------------------------------------------

    def _condition(self, condition: str, record: ItemRecord, purpose: str, t: int) -> Outcome:
        if condition == "consent":
            return self._consent(record, purpose, t)
        name, _, argument = condition.partition(":")
        if name == "setting":
            return self._setting(argument, record, t)
        if name == "notice":
            return self._notice(argument, record)
        raise ValueError(f"unknown condition {condition!r}")

    def _consent(self, record: ItemRecord, purpose: str, t: int) -> Outcome:
        owner = record.subject
        subjects = self.world.meeting_subjects(record.meeting)
        if owner is not None:
            subjects = (owner,) + tuple(subject for subject in subjects if subject != owner)
        if not subjects:
            message = f"{record.id} names no person whose consent to {purpose} could count"
            return (Reason("consent.missing", message),), ()
        region = self._region(record.account)
        self_only = region in self.policy.self_consent_only_regions
        reasons: list[Reason] = []
        evidence: list[dict[str, Any]] = []
        for subject in subjects:
            key = (subject, purpose, record.kind, record.meeting, self_only, t)
            state = self._consents.get(key)
            if state is None:
                state = self._consents[key] = consent_state(
                    self.world, subject, purpose, record.kind, record.meeting, self_only, t
                )
            if state[0] is not None:
                reasons.append(consent_reason(state, subject, purpose, record.kind, record.meeting, region))
            elif state[1] is not None:
                evidence.append({"consent": state[1].id, "subject": subject})
        return (tuple(reasons), ()) if reasons else ((), tuple(evidence))

    def _setting(self, key: str, record: ItemRecord, t: int) -> Outcome:
        memo = (record.subject, record.account, key, t)
        setting = self._settings.get(memo)
        if setting is None:
            setting = self._settings[memo] = effective_setting(
                self.world, self.policy, record.subject, record.account, key, t
            )
        if setting.value:
            return (), (setting.basis(),)
        return (setting_off(setting, record.subject, record.account),), ()

    def _notice(self, feature: str, record: ItemRecord) -> Outcome:
        meeting = record.meeting
        if meeting is None:
            return _HOLDS
        missing = self._unnotified.get((meeting, feature))
        if missing is None:
            lines = self.world.participants(meeting)
            missing = tuple(dict.fromkeys(p.subject for p in lines if feature not in p.notified))
            self._unnotified[(meeting, feature)] = missing
        if not missing:
            return (), ({"notice": feature, "meeting": meeting},)
        reasons = tuple(
            Reason("notice.missing", f"{subject} was not notified of {feature} in meeting {meeting}", subject=subject)
            for subject in missing
        )
        return reasons, ()

    def _region(self, account: str) -> str | None:
        if account not in self._regions:
            found = self.world.account(account)
            self._regions[account] = found.region if found is not None else None
        return self._regions[account]
