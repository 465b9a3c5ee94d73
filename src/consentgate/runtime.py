"""Process-wide settings of the command line and of its worker processes.

Each is applied by ``consentgate``'s entry point (and by the workers that share a
batch); a program that uses the Python API can call the same functions at its start.
"""

from __future__ import annotations

import atexit
import gc
import os

# Arrow's allocator (mimalloc) keeps freed pages for a while and commits whole arenas up
# front; a dataset build frees and allocates gigabytes in turn, so both raise its peak
# memory by several hundred MiB. These return freed pages at once and commit memory as
# it is used. mimalloc reads them when Arrow is loaded.
ALLOCATOR_SETTINGS = {"MIMALLOC_PURGE_DELAY": "0", "MIMALLOC_ARENA_EAGER_COMMIT": "0"}


def return_freed_memory() -> None:
    """Have Arrow's allocator give freed memory back at once (see ``ALLOCATOR_SETTINGS``).

    Call it before ``pyarrow`` is first imported; a variable already set in the
    environment is kept. At 10,000,000 items a ``dataset build`` peaks about 600 MiB
    lower, in the same time.
    """
    for name, value in ALLOCATOR_SETTINGS.items():
        os.environ.setdefault(name, value)


def no_last_collection() -> None:
    """Skip the collector's pass over every object when this process exits.

    The interpreter's last collection walks (and frees, one by one) what the operating
    system is about to reclaim at once: after a large batch, about a third of a second
    at the end of a command or a worker process. Freezing at exit makes that pass skip
    them; handlers registered after this one still run first.
    """
    atexit.register(gc.freeze)


def freeze_objects() -> None:
    """Keep every object alive now out of the garbage collector's passes.

    Call it in a long-running process once a large view is built (a ``Decider`` of a
    million items is about 20 million objects): otherwise each full pass of the collector
    walks them all, a second or more. Prefer it to ``gc.freeze()``: the pauses of the
    collector around views and batches then know objects are frozen and do not count
    them (see ``consentgate.core.collector``).
    """
    from .core.collector import freeze

    freeze()
