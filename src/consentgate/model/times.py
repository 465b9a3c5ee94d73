"""Valid times: parsing, the one text form the product writes, and microsecond integers.

Stores keep times as integer microseconds since the epoch (UTC), which compare and index
the same way on every backend; JSON carries them as ISO 8601 text with a ``Z``.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_NAIVE_EPOCH = datetime(1970, 1, 1)
MICROSECOND = timedelta(microseconds=1)


def to_micros(moment: datetime) -> int:
    """Microseconds since the epoch of an aware datetime."""
    return (moment - EPOCH) // MICROSECOND


def from_micros(micros: int) -> datetime:
    """The aware UTC datetime of ``micros`` microseconds since the epoch."""
    return EPOCH + timedelta(microseconds=micros)


def format_time(moment: datetime) -> str:
    """The product's text form of a time: UTC, ``Z``, fraction only when there is one.

    >>> format_time(datetime(2023, 8, 7, 9, tzinfo=timezone.utc))
    '2023-08-07T09:00:00Z'
    """
    return moment.astimezone(UTC).replace(tzinfo=None).isoformat() + "Z"


def format_micros(micros: int) -> str:
    """:func:`format_time` of a microsecond integer (the verifier's hot path)."""
    # Naive isoformat prints the fraction only when there is one, exactly as format_time.
    return (_NAIVE_EPOCH + timedelta(microseconds=micros)).isoformat() + "Z"


def parse_time(text: str) -> datetime:
    """Parse an ISO 8601 time that carries a zone; raise ``ValueError`` otherwise.

    >>> format_time(parse_time("2023-08-07T11:00:00+02:00"))
    '2023-08-07T09:00:00Z'
    """
    if not isinstance(text, str):
        raise ValueError("expected an ISO 8601 time with a zone")
    try:
        moment = datetime.fromisoformat(text.replace("z", "Z"))
    except ValueError:
        raise ValueError("expected an ISO 8601 time with a zone, like 2023-08-07T09:00:00Z") from None
    if moment.tzinfo is None or "T" not in text.upper():
        raise ValueError("expected an ISO 8601 time with a zone, like 2023-08-07T09:00:00Z")
    try:
        return moment.astimezone(UTC)
    except OverflowError:  # e.g. 9999-12-31T23:00:00-02:00 is past the last UTC year
        raise ValueError("expected a time between the years 1 and 9999 in UTC") from None
