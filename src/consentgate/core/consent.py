"""Consent state: whether one subject's consent holds for a purpose, kind and meeting.

Among the subject's consent events that cover the purpose (a consent for ``P`` covers
``P.x``), the item's kind and its meeting (a consent limited to a meeting covers only
that meeting's items), the latest at or before T decides; a later line breaks a tie.
It fails, in this order, when refused, withdrawn, expired, or — for accounts in a
self-consent-only region — not given by the subject themselves.
"""

from __future__ import annotations

from bisect import bisect_right
from collections.abc import Mapping
from functools import lru_cache

from ..model.times import format_micros
from ._timeline import Timeline
from .decision import Reason
from .records import ConsentRecord

# (failing reason code or None when the consent holds, the deciding consent event)
ConsentState = tuple[str | None, ConsentRecord | None]
# The state of a subject with no consent event that covers the question.
MISSING: ConsentState = ("consent.missing", None)


@lru_cache(maxsize=4096)
def purpose_lineage(purpose: str) -> tuple[str, ...]:
    """The purposes whose consent or grant covers ``purpose``: itself and those above it.

    >>> purpose_lineage("ai.training.x")
    ('ai', 'ai.training', 'ai.training.x')
    """
    parts = purpose.split(".")
    return tuple(".".join(parts[: end + 1]) for end in range(len(parts)))


def consent_state(
    histories: Mapping[str, Timeline[ConsentRecord]] | None,
    purpose: str,
    kind: str,
    meeting: str | None,
    self_only: bool,
    t: int,
) -> ConsentState:
    """The consent state of one subject for ``purpose`` on an item of ``kind`` in ``meeting``.

    ``histories`` are the subject's consent events by the purpose they name (see
    :meth:`World.consent_histories`); ``self_only`` is true for items of accounts in a
    self-consent-only region; ``t`` is in microseconds. Returns ``(None, consent)`` when
    the consent holds, else the reason code and the deciding consent (None for
    ``consent.missing``).
    """
    if histories is None:
        return MISSING
    return lineage_state(histories, purpose_lineage(purpose), kind, meeting, self_only, t)


def lineage_state(
    histories: Mapping[str, Timeline[ConsentRecord]],
    lineage: tuple[str, ...],
    kind: str,
    meeting: str | None,
    self_only: bool,
    t: int,
) -> ConsentState:
    """:func:`consent_state` of a subject with histories, for a purpose given by its
    :func:`purpose_lineage` (worked out once for all the subjects an item asks)."""
    best: ConsentRecord | None = None
    for granted in lineage:
        history = histories.get(granted)
        if history is None:
            continue
        records = history.records
        index = bisect_right(history.times, t)
        while index:
            index -= 1
            record = records[index]
            if kind in record.kinds and (record.meeting is None or record.meeting == meeting):
                if best is None or (record.at, record.arrival) > (best.at, best.arrival):
                    best = record
                break
    if best is None:
        return MISSING
    if best.status == "refused":
        return "consent.refused", best
    if best.status == "withdrawn":
        return "consent.withdrawn", best
    if best.expires is not None and best.expires <= t:
        return "consent.expired", best
    if self_only and not best.self_given:
        return "consent.not_self", best
    return None, best


@lru_cache(maxsize=65536)
def consent_reason(
    state: ConsentState, subject: str, purpose: str, kind: str, meeting: str | None, region: str | None
) -> Reason:
    """The reason for a failing consent state, as a readable sentence.

    Remembered across calls: the same subject fails the same way for many items.
    """
    code, record = state
    if record is None:
        return consent_sentence("consent.missing", subject, purpose, kind, meeting, region)
    if code == "consent.not_self":
        return consent_sentence(str(code), subject, purpose, kind, meeting, region, record.id, record.expires,
                                record.event.by, record.event.method)
    return consent_sentence(str(code), subject, purpose, kind, meeting, region, record.id, record.expires)


def consent_sentence(
    code: str, subject: str, purpose: str, kind: str, meeting: str | None, region: str | None,
    consent: str | None = None, expires: int | None = None, by: str | None = None, method: str | None = None,
) -> Reason:
    """The reason ``code`` for ``subject``'s consent, from the deciding record's fields:
    its id, when it expires, and who gave it by what method (read for
    ``consent.not_self`` only)."""
    scope = f"{purpose} for {kind}" + (f" in meeting {meeting}" if meeting else "")
    if consent is None or code == "consent.missing":
        message = f"{subject} has not consented to {scope}"
    elif code == "consent.refused":
        message = f"{subject} refused {scope} (consent {consent})"
    elif code == "consent.withdrawn":
        message = f"{subject} withdrew consent to {scope} (consent {consent})"
    elif code == "consent.expired":
        expired = format_micros(expires) if expires is not None else "?"
        message = f"{subject}'s consent to {scope} expired at {expired} (consent {consent})"
    else:
        message = (
            f"{subject}'s consent to {scope} was given by {by} "
            f"(method {method or 'unspecified'}), which does not count in region "
            f"{region}: only the subject can consent there (consent {consent})"
        )
    return Reason(code, message, subject=subject)
