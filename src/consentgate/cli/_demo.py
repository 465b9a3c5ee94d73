"""Rendering the demo story on the terminal."""

from __future__ import annotations

from typing import Any

from ..demo import STORY, run_demo
from ._decide import render


def run(store: Any, serve: bool) -> None:
    """Run the demo and print each step; ``serve`` keeps the UI up afterwards (when it exists)."""
    report = run_demo(store)
    print(f"1. The store: {report.store}")
    loaded = ", ".join(f"{type_} {count}" for type_, count in sorted(report.loaded.items()))
    print(
        f"2. Loaded the story {STORY}: {sum(report.loaded.values())} new event(s)" + (f" ({loaded})" if loaded else "")
    )
    if report.unchanged:
        print(f"   {report.unchanged} event(s) were already stored, and loading again changed nothing")
    print("   the store holds: " + ", ".join(f"{t} {n}" for t, n in sorted(report.holds.items()) if n))
    print("3. What may be used for what, as of when, and why:")
    for why, decision in report.decisions:
        print(f"\n   ({why})")
        print("   " + render(decision).replace("\n", "\n   "))
    print(f"\n4. The tamper-evident log verifies: {report.verified}")
    print("\nTry: consentgate --db <this store> decide standup-1-audio ai.training --at 2024-08-01T00:00:00Z --json")
    if serve:
        print("(This version has no REST API or web UI to serve yet; the story ends here.)")
