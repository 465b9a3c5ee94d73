"""Pausing Python's cyclic garbage collector around work that builds many objects.

Views, decisions and their sub-results form no reference cycles, so a full pass of the
collector while they are built only walks every object made so far and frees nothing:
with it paused, building a large view or answering a large batch costs about a third
less, and nothing is freed late.

Re-enabling it alone would only move that cost: the youngest generation would then hold
every object made during the pause, and the next allocation would walk them all (about
half a second for a view of a million objects). So the objects made during the pause are
handed to the oldest generation without being walked, as a full collection would leave
them; cycles among them are still freed by the next full collection.

Objects someone froze (``gc.freeze()``) stay frozen. Counting them walks them all, so a
process that keeps a large view frozen should freeze it with :func:`freeze`, which
remembers it: a pause then leaves what it made in the youngest generation without
counting (one walk of what the pause made, instead of one of every frozen object at the
end of every pause).
"""

from __future__ import annotations

import gc
from collections.abc import Iterator
from contextlib import contextmanager

_frozen = False  # whether freeze() was called: objects may then be frozen


def freeze() -> None:
    """Keep every object alive now out of the collector's passes (``gc.freeze()``), such
    as a large view once it is built, and remember that objects are frozen.

    They are still freed when nothing refers to them; cycles among them are not.
    """
    global _frozen
    gc.freeze()
    _frozen = True


@contextmanager
def collector_paused() -> Iterator[None]:
    """Pause the cyclic garbage collector for the block; restore its state after it.

    >>> with collector_paused():
    ...     gc.isenabled()
    False
    """
    collecting = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if collecting:
            _promote_young()
            gc.enable()


def _promote_young() -> None:
    # freeze() moves every tracked object to the permanent generation and resets the
    # young generation's count; unfreeze() moves them all to the oldest generation. Both
    # splice lists: no object is visited. Objects someone else froze stay frozen; with
    # freeze() called, they are not even counted (get_freeze_count walks them).
    if not _frozen and gc.get_freeze_count() == 0:
        gc.freeze()
        gc.unfreeze()
