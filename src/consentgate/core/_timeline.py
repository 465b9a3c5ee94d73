"""A per-key history of records kept sorted by valid time, then by arrival.

Events reach the world in log order, but their valid times may be in any order. Each
history keeps its records sorted so that "the latest at or before T" is one bisect; ties
on time keep arrival order, so the last of equal times is the later line.

The times are kept as one array of 64-bit integers rather than a list of int objects: a
bisect then reads a few adjacent words, not an object per step scattered over the heap
(in a view of millions of records, each such object is likely a cache miss).
"""

from __future__ import annotations

from array import array
from bisect import bisect_right
from typing import Generic, TypeVar

R = TypeVar("R")


class Timeline(Generic[R]):
    """Records sorted by (time, arrival); times are integer microseconds."""

    __slots__ = ("times", "records")

    def __init__(self) -> None:
        self.times: array[int] = array("q")
        self.records: list[R] = []

    def add(self, time: int, record: R) -> None:
        """Insert ``record`` at ``time``, after every record already there at that time.

        Records arrive in log order, so inserting after equal times keeps ties in
        arrival order without storing the arrival in the sort key.
        """
        index = bisect_right(self.times, time)
        self.times.insert(index, time)
        self.records.insert(index, record)

    def latest(self, time: int) -> R | None:
        """The record with the greatest (time, arrival) at or before ``time``, if any."""
        index = bisect_right(self.times, time)
        return self.records[index - 1] if index else None

    def upto(self, time: int) -> int:
        """How many records are at or before ``time`` (they are ``records[:n]``)."""
        return bisect_right(self.times, time)

    def __len__(self) -> int:
        return len(self.times)
