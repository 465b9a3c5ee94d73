"""What a decision says: allowed or not, every reason, and the basis (CONTRACT.md §2).

``basis`` names what made an allowed decision allowed, as a list of small objects:

- ``{"terms": VERSION, "section": ID}`` — the terms section whose grant allowed it
  (the first grant, in the order of the terms, whose conditions all hold);
- ``{"consent": ID, "subject": S}`` — each consent that grant relied on;
- ``{"setting": KEY, "level": LEVEL, "target": ID, "value": true}`` — each setting it
  relied on, the level its effective value came from and the account, group or user
  that set it (``target`` is absent for the product default);
- ``{"notice": FEATURE, "meeting": ID}`` — each notice it relied on, for meeting items;
- ``{"source": ID}`` — each item a derived item was made from (all usable).

A denial's ``basis`` is empty. Decisions share their basis entries with others decided
from the same sub-results: read them, or copy them (``to_json`` does), never change them.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any, NamedTuple

from ..model.times import format_time

# Where an effective setting came from, strongest first (CONTRACT.md §1).
SETTING_LEVELS = ("account_lock", "group_lock", "user", "group", "account", "default")


class Reason(NamedTuple):
    """One reason of a denial (an immutable named tuple, like :class:`Decision`).

    ``subject`` is set on ``consent.*`` and ``notice.missing``; ``key`` and ``level`` on
    ``setting.off``; ``source`` on ``source.ineligible``.
    """

    code: str
    message: str
    subject: str | None = None
    key: str | None = None
    level: str | None = None
    source: str | None = None

    def to_json(self) -> dict[str, str]:
        """The reason as in CONTRACT.md §2: the code, the fields that are set, the message."""
        data = {"code": self.code}
        if self.subject is not None:
            data["subject"] = self.subject
        if self.key is not None:
            data["key"] = self.key
        if self.level is not None:
            data["level"] = self.level
        if self.source is not None:
            data["source"] = self.source
        data["message"] = self.message
        return data


class Decision(NamedTuple):
    """Whether ``item`` may be used for ``purpose`` as of ``at``, and why.

    Immutable, and a named tuple: a batch makes one per question, and a tuple is made
    several times faster than a frozen dataclass.
    """

    item: str
    purpose: str
    at: datetime
    allowed: bool
    reasons: tuple[Reason, ...]
    basis: tuple[dict[str, Any], ...]
    policy: str

    @property
    def codes(self) -> tuple[str, ...]:
        """The reason codes, in order."""
        return tuple(reason.code for reason in self.reasons)

    def to_json(self) -> dict[str, Any]:
        """The decision object of CONTRACT.md §2, ready for ``json.dumps``."""
        return {
            "item": self.item,
            "purpose": self.purpose,
            "at": format_time(self.at),
            "allowed": self.allowed,
            "reasons": [reason.to_json() for reason in self.reasons],
            "basis": [dict(entry) for entry in self.basis],
            "policy": self.policy,
        }
