"""Which terms apply: the version in force for an account at a time."""

from __future__ import annotations

from .records import TermsRecord
from .world import World


def terms_in_force(world: World, account: str, t: int) -> TermsRecord | None:
    """The terms version in force for ``account`` at ``t`` (microseconds), or None.

    Of the versions the account accepted at or before ``t`` whose ``effective_at`` is at
    or before ``t``, the one with the latest ``effective_at``; between versions effective
    at the same moment, the one whose terms line came later.
    """
    accepted = world.acceptances(account)
    if accepted is None:
        return None
    best: TermsRecord | None = None
    for version in accepted.records[: accepted.upto(t)]:
        record = world.terms_record(version)
        if record is None or record.effective > t:
            continue
        if best is None or (record.effective, record.arrival) > (best.effective, best.arrival):
            best = record
    return best
