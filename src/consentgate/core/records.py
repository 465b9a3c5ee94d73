"""The world's compact records: event fields the rules read, with times as microseconds.

Integer microseconds compare several times faster than aware datetimes, and the rules
compare times on every lookup, so the world converts each event's times once. Records
compare and hash by identity: each stands for one applied event. They are made once, when
their event is applied, and never changed; they are not frozen dataclasses because a
frozen one takes about five times as long to make (a second for every million records).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import NamedTuple

from ..model import Consent, Content, ServiceData, Setting, Terms


@dataclass(slots=True, eq=False)
class ItemRecord:
    """An item of content or service data, as the rules see it.

    ``subject`` is whose consent and settings the item answers to: the content's owner,
    or the service data's user (None when it names no user). ``reservation`` describes
    the do-not-train signal the item carries, or is None.
    """

    id: str
    kind: str
    account: str
    subject: str | None
    meeting: str | None
    created: int
    sources: tuple[str, ...]
    reservation: str | None
    event: Content | ServiceData


@dataclass(slots=True, eq=False)
class ConsentRecord:
    """One consent event; ``self_given`` is false when someone acted for the subject."""

    id: str
    subject: str
    purpose: str
    status: str
    kinds: frozenset[str]
    meeting: str | None
    self_given: bool
    at: int
    arrival: int
    expires: int | None
    event: Consent


@dataclass(slots=True, eq=False)
class SettingRecord:
    """One setting event at one level."""

    value: bool
    locked: bool
    at: int
    event: Setting


@dataclass(slots=True, eq=False)
class TermsRecord:
    """A terms version; ``arrival`` breaks a tie between equal ``effective`` times."""

    version: str
    effective: int
    arrival: int
    event: Terms


class CoveringGrant(NamedTuple):
    """A grant of a terms section that covers an asked purpose and data kind."""

    section: str
    purpose: str
    requires: tuple[str, ...]
    basis: dict[str, str]  # {"terms": VERSION, "section": ID}: its entry in a decision's basis
    checks: tuple[tuple[str, int, str], ...]  # (condition, CONSENT/SETTING/NOTICE, its argument)


# What a grant's condition asks, parsed once per grant (see ``CoveringGrant.checks``).
CONSENT, SETTING, NOTICE, UNKNOWN = 0, 1, 2, 3


def condition_check(condition: str) -> tuple[str, int, str]:
    """A condition as ``(condition, what it asks, its argument)``: ``consent``,
    ``setting:KEY`` (the key) or ``notice:FEATURE`` (the feature)."""
    if condition == "consent":
        return condition, CONSENT, ""
    if condition.startswith("setting:"):
        return condition, SETTING, condition[8:]
    if condition.startswith("notice:"):
        return condition, NOTICE, condition[7:]
    return condition, UNKNOWN, condition
