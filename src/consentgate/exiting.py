"""Ending a process quickly: a command or a worker that built a large view."""

from __future__ import annotations

import atexit
import gc


def no_last_collection() -> None:
    """Skip the collector's pass over every object when this process exits.

    The interpreter's last collection walks (and frees, one by one) what the operating
    system is about to reclaim at once: after a large batch, about a third of a second
    at the end of a command or a worker process. Freezing at exit makes that pass skip
    them; handlers registered after this one still run first.
    """
    atexit.register(gc.freeze)
