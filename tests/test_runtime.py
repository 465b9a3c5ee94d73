"""Process-wide settings: the allocator's, huge pages, and ending without the collector's last pass."""

from __future__ import annotations

import ctypes
import mmap
import os
import re
import subprocess
import sys

import pytest


@pytest.mark.parametrize("skipped", [True, False])
def test_a_process_can_skip_the_last_collection(skipped, tmp_path):
    # A cycle left at exit is what the last collection would walk and free one by one.
    script = tmp_path / "ending.py"
    script.write_text(
        "import gc, sys\n"
        "from consentgate.runtime import no_last_collection\n"
        "class Cycle:\n"
        "    def __del__(self):\n"
        "        sys.stdout.write('walked')\n"
        f"if {skipped}:\n"
        "    no_last_collection()\n"
        "gc.disable()\n"
        "cycle = Cycle()\n"
        "cycle.self = cycle\n"
        "del cycle\n"
    )
    done = subprocess.run([sys.executable, str(script)], capture_output=True, text=True, check=True)
    assert done.stdout == ("" if skipped else "walked")


def test_the_command_has_arrow_return_freed_memory_unless_told_otherwise():
    from consentgate.runtime import ALLOCATOR_SETTINGS

    script = (
        "import os, sys\n"
        "from consentgate.cli import main\n"
        "try:\n"
        "    main(['--help'])\n"
        "except SystemExit:\n"
        "    pass\n"
        "found = {name: os.environ[name] for name in sorted(os.environ) if name.startswith('MIMALLOC')}\n"
        "sys.stderr.write(repr(found))\n"
        "sys.stderr.write(repr('pyarrow' in sys.modules))\n"
    )
    clean = {name: value for name, value in os.environ.items() if not name.startswith("MIMALLOC")}
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, check=True, env=clean)
    assert done.stderr == repr(dict(sorted(ALLOCATOR_SETTINGS.items()))) + "False"
    mine = {**clean, "MIMALLOC_PURGE_DELAY": "250"}
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, check=True, env=mine)
    assert done.stderr == repr({**dict(sorted(ALLOCATOR_SETTINGS.items())), "MIMALLOC_PURGE_DELAY": "250"}) + "False"


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="huge pages are moved on Linux only")
def test_memory_moves_onto_huge_pages_and_keeps_its_contents():
    # In a process of its own: 64 MiB written, moved, then read back unchanged.
    script = (
        "import hashlib, sys\n"
        "from consentgate.runtime import use_huge_pages\n"
        "def huge():\n"
        "    for line in open('/proc/self/smaps_rollup'):\n"
        "        if line.startswith('AnonHugePages:'):\n"
        "            return int(line.split()[1]) * 1024\n"
        "data = bytearray(64 << 20)\n"
        "for at in range(0, len(data), 4096):\n"
        "    data[at] = at // 4096 % 251\n"
        "digest = hashlib.sha256(data).hexdigest()\n"
        "before = huge()\n"
        "moved = use_huge_pages()\n"
        "print(moved, huge() - before, hashlib.sha256(data).hexdigest() == digest)\n"
    )
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, check=True)
    on_huge_pages, gained, same = done.stdout.split()
    # The data's 32 whole 2 MiB pages (one may straddle its mapping's ends) at least.
    assert int(gained) >= 60 << 20
    assert int(on_huge_pages) >= int(gained)
    assert same == "True"


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="huge pages are moved on Linux only")
def test_memory_of_files_is_left_alone(tmp_path):
    from consentgate.runtime import _anonymous_ranges

    mapped = tmp_path / "mapped.bin"
    mapped.write_bytes(b"\0" * (8 << 20))
    with mapped.open("r+b") as handle, mmap.mmap(handle.fileno(), 0) as view:
        address = ctypes.addressof(ctypes.c_char.from_buffer(view))  # the buffer is let go at once
        ranges = _anonymous_ranges()
    assert ranges, "the heap's arenas are anonymous"
    assert all(start % (2 << 20) == 0 and end % (2 << 20) == 0 and end > start for start, end in ranges)
    assert not any(start <= address < end for start, end in ranges)


def test_arrow_s_allocator_takes_the_settings():
    # mimalloc lists the options it read when asked to be verbose: each setting reaches
    # it under its own name (a misspelt variable would leave the option at its default).
    from consentgate.runtime import ALLOCATOR_SETTINGS

    script = (
        "from consentgate.runtime import return_freed_memory\n"
        "return_freed_memory()\n"
        "import pyarrow as pa\n"
        "assert pa.default_memory_pool().backend_name == 'mimalloc'\n"
        "pa.array(range(1000))\n"
    )
    clean = {name: value for name, value in os.environ.items() if not name.startswith("MIMALLOC")}
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, check=True,
                          env={**clean, "MIMALLOC_VERBOSE": "1"})
    options = dict(re.findall(r"option '(\w+)': (-?\d+)", done.stderr))
    for name, value in ALLOCATOR_SETTINGS.items():
        assert options[name.removeprefix("MIMALLOC_").lower()] == value, name
