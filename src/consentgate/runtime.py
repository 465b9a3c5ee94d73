"""Process-wide settings of the command line and of its worker processes.

Each is applied by ``consentgate``'s entry point (and by the workers that share a
batch); a program that uses the Python API can call the same functions at its start.
"""

from __future__ import annotations

import atexit
import gc
import os
import sys

# Arrow's allocator (mimalloc) by default keeps freed pages only briefly and commits
# whole arenas up front. A dataset build frees and allocates gigabytes in turn: freed
# pages are kept for a second, long enough for the next step's buffers to reuse them
# without faulting fresh pages in (which is what costs on a virtual machine), short
# enough that the build's peak stays near what it holds; memory is committed as it is
# used rather than an arena at a time; and the arenas ask for 2 MiB pages where the
# kernel gives them on request (transparent huge pages in ``madvise`` mode), so one
# fault maps 512 times as much. mimalloc reads these when Arrow is loaded.
ALLOCATOR_SETTINGS = {"MIMALLOC_PURGE_DELAY": "1000", "MIMALLOC_ARENA_EAGER_COMMIT": "0",
                      "MIMALLOC_ALLOW_LARGE_OS_PAGES": "1"}


def return_freed_memory() -> None:
    """Have Arrow's allocator give freed memory back soon, and map it in large pages
    (see ``ALLOCATOR_SETTINGS``).

    Call it before ``pyarrow`` is first imported; a variable already set in the
    environment is kept. At 10,000,000 items a ``dataset build`` takes 1–2 s less than
    with freed pages returned at once, at a peak about 150 MiB higher and still below
    mimalloc's defaults (``docs/operations.md``).
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


# madvise(2) advice: collapse a range into transparent huge pages now (Linux 6.1+).
_MADV_COLLAPSE = 25
_HUGE_PAGE = 2 << 20


def use_huge_pages() -> int:
    """Move this process's memory onto 2 MiB pages now, where the kernel can (Linux 6.1+).

    Call it in a long-running process once a large view is built, after
    :func:`freeze_objects`. A ``Decider`` of a million items spreads about 20 million
    objects over some gigabytes, and a single decision follows dozens of pointers through
    them: on 4 KiB pages nearly every one also misses the processor's cache of page
    tables, which costs most on a virtual machine. ``docs/benchmarks.md`` (decisions)
    says what it gave on the benchmark machine.

    The kernel copies the whole 2 MiB ranges of each private, writable mapping of no file
    (the heap and the allocators' arenas) into transparent huge pages
    (``madvise(MADV_COLLAPSE)``), whatever the system's default for them: about a
    second per GiB, once. Memory allocated later is not moved. Returns how many bytes of
    this process's memory are on huge pages afterwards: 0 where the kernel cannot move
    them (another system, an older kernel), which changes nothing but the speed.
    """
    if not sys.platform.startswith("linux"):
        return 0
    import ctypes

    libc = ctypes.CDLL(None, use_errno=True)
    libc.madvise.argtypes = [ctypes.c_void_p, ctypes.c_size_t, ctypes.c_int]
    for start, end in _anonymous_ranges():
        # A range the kernel cannot move whole (no free 2 MiB page, a page in use) is
        # moved in part or left as it was: only the speed differs.
        libc.madvise(start, end - start, _MADV_COLLAPSE)
    with open("/proc/self/smaps_rollup", encoding="ascii") as rollup:
        for line in rollup:
            if line.startswith("AnonHugePages:"):
                return int(line.split()[1]) * 1024
    return 0


def _anonymous_ranges() -> list[tuple[int, int]]:
    # The 2 MiB-aligned part of each private, writable mapping of no file (the heap and
    # the allocators' arenas); the stack and the kernel's own pages are left alone.
    ranges = []
    with open("/proc/self/maps", encoding="ascii") as maps:
        for line in maps:
            fields = line.split()
            name = fields[5] if len(fields) > 5 else ""
            if fields[1][:2] != "rw" or fields[1][3] != "p" or fields[4] != "0":
                continue
            if name and name != "[heap]" and not name.startswith("[anon:"):
                continue
            low, high = (int(bound, 16) for bound in fields[0].split("-"))
            start = -(-low // _HUGE_PAGE) * _HUGE_PAGE
            end = high // _HUGE_PAGE * _HUGE_PAGE
            if end > start:
                ranges.append((start, end))
    return ranges
