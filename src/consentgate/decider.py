"""Decisions for online traffic: an in-memory view of a store, kept current.

A :class:`Decider` reads the whole store once into a :class:`~consentgate.core.World`,
then applies only the events logged after the last one it saw. It never reloads: a
decision costs a lookup in memory, and staying current costs one query for the log's
head plus the new events.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from datetime import UTC, datetime

from .core import Decision, Evaluator, Policy, World
from .core.collector import collector_paused
from .store import Store, read_head
from .store.read import iter_events


class Decider:
    """Answers "may this item be used for this purpose, as of T, and why" from memory.

    Args:
        store: the store to follow (a :class:`Store` or a URL; default ``CONSENTGATE_DB``
            or ``./consentgate.db``).
        policy: the policy to decide under (default: the shipped one).
        staleness: seconds a decision may lag the store; 0 checks the head every time.

    Example::

        decider = Decider("sqlite:///consentgate.db")
        decision = decider.decide("m-100-audio", "ai.training")
        decision.allowed, [reason.code for reason in decision.reasons]
    """

    def __init__(self, store: Store | str | None = None, policy: Policy | None = None, staleness: float = 0.0):
        self.store = store if isinstance(store, Store) else Store(store)
        self.store.require_ready()
        self.policy = policy or Policy.default()
        self.staleness = staleness
        self.world = World()
        self.seq = 0
        self._checked = float("-inf")
        self._evaluator = Evaluator(self.world, self.policy)
        # Single questions share nothing: answered by an evaluator that remembers nothing
        # (and so stays valid as events arrive), at about a tenth less cost each.
        self._single = Evaluator(self.world, self.policy, memory=0)
        self.refresh()

    def refresh(self) -> int:
        """Apply the events logged since the last refresh; return how many there were."""
        applied = 0
        with self.store.read() as connection:
            head, _ = read_head(connection)
            if head > self.seq:
                with collector_paused():  # a view makes no reference cycles (see core.collector)
                    for event in iter_events(connection, after_seq=self.seq):
                        self.world.apply(event)
                        applied += 1
                self.seq = head
        self._checked = time.monotonic()
        if applied:
            # The evaluator remembers sub-results that new events can change.
            self._evaluator = Evaluator(self.world, self.policy)
        return applied

    def _current(self) -> None:
        if time.monotonic() - self._checked >= self.staleness:
            self.refresh()

    def decide(self, item: str, purpose: str, at: datetime | None = None) -> Decision:
        """One decision, as of ``at`` (default: now)."""
        self._current()
        return self._single.decide(item, purpose, at or datetime.now(UTC))

    def decide_many(self, questions: Sequence[tuple[str, str, datetime]]) -> list[Decision]:
        """Decisions for ``(item, purpose, at)`` questions, in order, from one view."""
        self._current()
        return [self._evaluator.decide(item, purpose, at) for item, purpose, at in questions]


def decide(
    item: str,
    purpose: str,
    at: datetime | None = None,
    *,
    store: Store | str | None = None,
    policy: Policy | None = None,
) -> Decision:
    """Decide one question against a store, reading only what the item depends on.

    Example::

        from consentgate import decide
        decide("m-100-audio", "ai.training", store="sqlite:///consentgate.db").allowed
    """
    from . import service

    opened = store if isinstance(store, Store) else Store(store)
    when = at or datetime.now(UTC)
    try:
        return service.decide_questions(opened, [(item, purpose, when)], policy or Policy.default())[0]
    finally:
        if opened is not store:
            opened.dispose()
