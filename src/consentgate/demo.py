"""The product's main job on an embedded store, as a story a reader can follow.

The demo initializes a store, loads the story the package ships (two accounts, terms
that changed, tiered settings with a lock, a meeting with a guest, derived content, a
do-not-train signal, consent given, withdrawn and given on someone's behalf, an
erasure), asks the questions that show every kind of answer, and verifies the log.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from importlib import resources
from typing import Any

from . import service
from .model.times import parse_time
from .store import Store

STORY = "demo.jsonl"

# (item, purpose, as of, why the question is worth asking)
QUESTIONS: tuple[tuple[str, str, str, str], ...] = (
    ("standup-1-audio", "ai.training", "2024-08-01T00:00:00Z", "everyone in the meeting consented"),
    (
        "standup-1-summary",
        "ai.training",
        "2024-09-01T00:00:00Z",
        "the guest withdrew; the summary derives from her audio",
    ),
    ("lena-file-1", "ai.training", "2024-08-01T00:00:00Z", "the Legal group locked AI training off"),
    ("omar-whiteboard-1", "ai.training", "2024-08-01T00:00:00Z", "the item reserves training (TDMRep)"),
    ("mia-chat-1", "ai.training", "2024-08-01T00:00:00Z", "an admin consented for her, in the EU"),
    ("omar-chat-0", "ai.training", "2024-08-01T00:00:00Z", "the item was erased"),
    ("omar-chat-1", "ai.training", "2024-06-01T00:00:00Z", "as of a time before the item existed"),
    (
        "standup-1-audio",
        "service.value_added.recording",
        "2024-08-01T00:00:00Z",
        "recording is on and everyone was told",
    ),
    (
        "standup-1-summary",
        "service.value_added.meeting_summary",
        "2024-08-01T00:00:00Z",
        "the guest was not told of summaries",
    ),
    ("telemetry-1", "ai.training", "2024-08-01T00:00:00Z", "service-generated data, granted by section 7.3"),
)


@dataclass
class DemoReport:
    """What the demo did, for an adapter to render."""

    store: str
    loaded: dict[str, int]
    unchanged: int
    holds: dict[str, int]
    decisions: list[tuple[str, dict[str, Any]]]
    verified: str


def story_path() -> Any:
    """The shipped story, as a path-like resource."""
    return resources.files("consentgate.stories").joinpath(STORY)


def run_demo(store: Store) -> DemoReport:
    """Run the story on ``store`` (re-running it stores nothing new) and report."""
    service.init_store(store)
    with story_path().open("rb") as stream:
        result = service.load_events(store, stream, STORY)
    holds = service.count_events(store)
    policy = service.load_policy(None)
    questions: list[tuple[str, str, datetime]] = [(i, p, parse_time(t)) for i, p, t, _ in QUESTIONS]
    decisions = service.decide_questions(store, questions, policy)
    report = service.verify_log(store)
    return DemoReport(
        store=store.display_url,
        loaded=dict(result.stored),
        unchanged=result.unchanged,
        holds=holds,
        decisions=[(why, decision.to_json()) for (_, _, _, why), decision in zip(QUESTIONS, decisions)],
        verified=f"{report.entries} entries, head {report.head_seq} {report.head_hash}",
    )
