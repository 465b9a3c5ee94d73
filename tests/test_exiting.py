"""Ending a process without the collector's last pass."""

from __future__ import annotations

import subprocess
import sys

import pytest


@pytest.mark.parametrize("skipped", [True, False])
def test_a_process_can_skip_the_last_collection(skipped, tmp_path):
    # A cycle left at exit is what the last collection would walk and free one by one.
    script = tmp_path / "ending.py"
    script.write_text(
        "import gc, sys\n"
        "from consentgate.exiting import no_last_collection\n"
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
