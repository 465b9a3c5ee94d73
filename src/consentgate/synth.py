"""Synthetic worlds in the import format, for the demo, benchmarks and scale tests.

``write_world`` streams a deterministic world (same seed, same bytes) of accounts with
tiered settings, users in groups, meetings with participants and guests, content items
(some derived from others, some carrying do-not-train signals), service data and a long
history of consent events. Every reference resolves, so the file loads as it is.
"""

from __future__ import annotations

import random
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import IO, Any

import orjson

from .model.times import format_time
from .model.vocab import CUSTOMER_CONTENT_KINDS

START = datetime(2023, 1, 1, tzinfo=UTC)
TERMS_VERSION = "synth-2023-01"
_SECONDS_PER_YEAR = 365 * 24 * 3600


@dataclass(frozen=True)
class WorldSize:
    """How big a synthetic world is."""

    subjects: int = 1_000
    items: int = 10_000
    consents: int = 20_000
    meetings: int = 2_000
    participants: int = 3  # per meeting
    accounts: int = 0  # 0: one account per 100 subjects
    seed: int = 7

    @property
    def account_count(self) -> int:
        return self.accounts or max(1, self.subjects // 100)


def _terms() -> dict[str, Any]:
    content = list(CUSTOMER_CONTENT_KINDS)
    service = ["telemetry", "diagnostic", "usage"]
    return {
        "type": "terms",
        "version": TERMS_VERSION,
        "effective_at": format_time(START),
        "title": "Terms of Service (synthetic)",
        "sections": [
            {"id": "10.1", "title": "Customer content", "grants": [
                {"purpose": "service.provision", "data": content},
                {"purpose": "service.value_added.recording", "data": ["audio", "video"],
                 "requires": ["setting:feature.recording", "notice:recording"]},
            ]},
            {"id": "10.2", "title": "Service generated data", "grants": [
                {"purpose": "service", "data": service}, {"purpose": "ai.training", "data": service},
            ]},
            {"id": "10.4", "title": "Consent", "grants": [
                {"purpose": "ai.training", "data": content,
                 "requires": ["consent", "setting:ai_training.customer_content"]},
            ]},
        ],
    }


def _time(rng: random.Random, lo: float = 0.0, hi: float = 1.0) -> str:
    return format_time(START + timedelta(seconds=int(_SECONDS_PER_YEAR * rng.uniform(lo, hi))))


def iter_world(size: WorldSize) -> Iterator[dict[str, Any]]:
    """The events of a synthetic world, in an order in which every reference resolves."""
    rng = random.Random(size.seed)
    accounts = [f"acct-{i}" for i in range(size.account_count)]
    yield _terms()
    for i, account in enumerate(accounts):
        region = "EU" if i % 4 == 0 else "US"
        yield {"type": "account", "id": account, "name": f"Account {i}", "region": region, "sector": "general"}
        yield {"type": "group", "id": f"{account}-g1", "account": account, "priority": 1}
        yield {"type": "group", "id": f"{account}-g2", "account": account, "priority": 2}
        if i % 10 != 9:  # one account in ten never accepted the terms
            yield {"type": "terms_acceptance", "account": account, "version": TERMS_VERSION,
                   "at": format_time(START + timedelta(days=1))}
        yield {"type": "setting", "scope": "account", "target": account, "key": "ai_training.customer_content",
               "value": i % 5 != 4, "locked": i % 7 == 0, "at": format_time(START + timedelta(days=2))}
        yield {"type": "setting", "scope": "account", "target": account, "key": "feature.recording",
               "value": True, "at": format_time(START + timedelta(days=2))}
        if i % 3 == 0:
            yield {"type": "setting", "scope": "group", "target": f"{account}-g2",
                   "key": "ai_training.customer_content", "value": False, "locked": i % 6 == 0,
                   "at": format_time(START + timedelta(days=3))}
    subjects = [f"user-{i}" for i in range(size.subjects)]
    account_of = {subject: accounts[i % len(accounts)] for i, subject in enumerate(subjects)}
    for i, subject in enumerate(subjects):
        account = account_of[subject]
        groups = [f"{account}-g1"] if i % 2 else [f"{account}-g1", f"{account}-g2"]
        yield {"type": "user", "id": subject, "account": account, "role": "member", "groups": groups}
        if i % 50 == 0:
            yield {"type": "setting", "scope": "user", "target": subject, "key": "ai_training.customer_content",
                   "value": i % 100 != 0, "at": _time(rng, 0.02, 0.5)}
    meeting_people: list[tuple[str, str, list[str]]] = []
    for m in range(size.meetings):
        host = subjects[rng.randrange(len(subjects))]
        account = account_of[host]
        meeting = f"meet-{m}"
        yield {"type": "meeting", "id": meeting, "account": account, "host": host, "started_at": _time(rng, 0.1, 0.9)}
        people = [host] + [subjects[rng.randrange(len(subjects))] for _ in range(size.participants - 2)]
        people.append(f"guest-{m}" if m % 5 == 0 else subjects[rng.randrange(len(subjects))])
        for person in dict.fromkeys(people):
            notified = ["recording"] if rng.random() < 0.95 else []
            yield {"type": "participant", "meeting": meeting, "subject": person, "notified": notified}
        meeting_people.append((meeting, account, people))
    previous_audio: dict[str, str] = {}
    for n in range(size.items):
        item = f"item-{n}"
        if meeting_people and n % 2 == 0:
            meeting, account, people = meeting_people[rng.randrange(len(meeting_people))]
            owner = people[0]
            kind = rng.choice(("audio", "video", "chat", "transcript"))
            event: dict[str, Any] = {"type": "content", "id": item, "kind": kind, "account": account,
                                     "owner": owner, "meeting": meeting, "created_at": _time(rng, 0.1, 0.95),
                                     "uri": f"store://{meeting}/{item}", "sha256": f"{n:064x}"}
            if kind == "audio":
                previous_audio[meeting] = item
            elif kind == "transcript" and meeting in previous_audio:
                event["derived_from"] = [previous_audio[meeting]]
        else:
            owner = subjects[rng.randrange(len(subjects))]
            event = {"type": "content", "id": item, "kind": rng.choice(CUSTOMER_CONTENT_KINDS),
                     "account": account_of[owner], "owner": owner, "created_at": _time(rng, 0.1, 0.95),
                     "uri": f"store://files/{item}", "sha256": f"{n:064x}"}
            if n % 97 == 0:
                event["signals"] = {"ai_preferences": "train-ai=n"}
        yield event
    consent_subjects = subjects + [f"guest-{m}" for m in range(0, size.meetings, 5)]
    for c in range(size.consents):
        subject = consent_subjects[rng.randrange(len(consent_subjects))]
        roll = rng.random()
        status = "given" if roll < 0.8 else ("withdrawn" if roll < 0.95 else "refused")
        event = {"type": "consent", "id": f"consent-{c}", "subject": subject, "purpose": "ai.training",
                 "status": status, "method": "ui", "at": _time(rng, 0.0, 1.0)}
        if rng.random() < 0.1:
            event["expires_at"] = _time(rng, 0.5, 1.5)
        yield event
    for n in range(0, size.items, 1000):
        yield {"type": "delete", "item": f"item-{n}", "at": _time(rng, 0.9, 1.0)}


def write_world(size: WorldSize, out: IO[bytes]) -> int:
    """Write a synthetic world as JSON Lines to ``out``; return the number of events."""
    count = 0
    dumps = orjson.dumps
    for event in iter_world(size):
        out.write(dumps(event) + b"\n")
        count += 1
    return count
