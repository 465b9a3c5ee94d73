"""Do-not-train signals an item carries, and the purposes they reserve.

Three forms are read (CONTRACT.md §1): W3C TDMRep's ``tdm_reservation`` 1; a C2PA/CAWG
training-and-mining assertion whose ``entries`` name AI training as ``notAllowed`` (or
``constrained`` without saying how); and an IETF AI-preferences string with
``train-ai=n``.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from ..model import Signals, purpose_covers
from ..model.vocab import TRAINING_PURPOSE

# Entries of a training-and-mining assertion that speak about AI training.
TRAINING_ENTRIES = (
    "c2pa.ai_training",
    "c2pa.ai_generative_training",
    "cawg.ai_training",
    "cawg.ai_generative_training",
)


def reserves_purpose(purpose: str) -> bool:
    """True when a training reservation applies to ``purpose``.

    It applies to ``ai.training``, every purpose below it, and ``ai`` above it.

    >>> reserves_purpose("ai"), reserves_purpose("ai.training.x"), reserves_purpose("ai.x")
    (True, True, False)
    """
    return purpose_covers(TRAINING_PURPOSE, purpose) or purpose_covers(purpose, TRAINING_PURPOSE)


def parse_ai_preferences(text: str) -> dict[str, str]:
    """Parse an IETF AI-preferences string into ``{category: "y"|"n"|...}``.

    The string is a comma-separated list of ``key=value`` members (a structured-field
    dictionary); whitespace around members and ``=`` is tolerated, parameters after
    ``;`` are ignored, names and values are compared in lower case, quotes around a
    value are dropped, a later member for the same key wins, and a bare key means ``y``.

    >>> parse_ai_preferences(" train-ai = N ; why=x, search=y")
    {'train-ai': 'n', 'search': 'y'}
    """
    preferences: dict[str, str] = {}
    for member in text.split(","):
        member = member.split(";", 1)[0].strip()
        if not member:
            continue
        name, has_value, value = member.partition("=")
        name = name.strip().lower()
        if not name:
            continue
        value = value.strip().strip('"').strip().lower() if has_value else "y"
        preferences[name] = value
    return preferences


def _entry_reserves(entry: Any) -> bool:
    if not isinstance(entry, Mapping):
        return False
    use = entry.get("use")
    if use == "notAllowed":
        return True
    return use == "constrained" and not entry.get("constraint_info")


def training_reservation(signals: Signals | None) -> str | None:
    """Describe the signal that reserves AI training, or None when none does.

    >>> training_reservation(Signals(tdm_reservation=1))
    'tdm_reservation 1'
    """
    if signals is None:
        return None
    if signals.tdm_reservation == 1:
        return "tdm_reservation 1"
    mining = signals.training_mining
    entries = mining.get("entries") if isinstance(mining, Mapping) else None
    if isinstance(entries, Mapping):
        for name in TRAINING_ENTRIES:
            if _entry_reserves(entries.get(name)):
                return f"{name} is {entries[name].get('use')} in training_mining"
    preferences = signals.ai_preferences
    if isinstance(preferences, str) and parse_ai_preferences(preferences).get("train-ai") == "n":
        return "train-ai=n in ai_preferences"
    return None
