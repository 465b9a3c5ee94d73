"""Helpers for the policy-core tests: worlds built from import-format dicts."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

from consentgate.core import Decision, World
from consentgate.model import parse_event

ReasonKey = tuple[str, str | None]


def reason_keys(decision: Decision) -> set[ReasonKey]:
    """A decision's reasons as the public examples compare them: the code and its
    subject, key or source."""
    return {(r.code, r.subject or r.key or r.source) for r in decision.reasons}


@pytest.fixture
def world_of() -> Callable[..., World]:
    """Build a world from event dicts, applied in the order given."""

    def build(*events: dict[str, Any]) -> World:
        world = World()
        world.apply_many(parse_event(event) for event in events)
        return world

    return build


@pytest.fixture
def reasons() -> Callable[[Decision], set[ReasonKey]]:
    """See :func:`reason_keys`."""
    return reason_keys
