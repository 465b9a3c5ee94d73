"""Process-wide settings: the allocator's, and ending without the collector's last pass."""

from __future__ import annotations

import os
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
