"""The product's vocabulary: data kinds, known purposes, reason codes, conditions.

Everything here is plain data so that the policy core, the store and the adapters speak
the same words. Nothing in this module imports anything else of the package.
"""

from __future__ import annotations

from typing import Final

CUSTOMER_CONTENT_KINDS: Final = (
    "audio",
    "video",
    "chat",
    "transcript",
    "screen_share",
    "whiteboard",
    "file",
    "summary",
    "embedding",
)
SERVICE_DATA_KINDS: Final = ("telemetry", "diagnostic", "usage")
DATA_KINDS: Final = CUSTOMER_CONTENT_KINDS + SERVICE_DATA_KINDS

KNOWN_PURPOSES: Final = (
    "service.provision",
    "service.value_added.recording",
    "service.value_added.transcription",
    "service.value_added.meeting_summary",
    "service.value_added.team_chat_compose",
    "service.improvement",
    "ai.training",
)

# Reason codes of a denial, in the order the contract lists them.
REASON_CODES: Final = (
    "item.unknown",
    "item.deleted",
    "terms.not_accepted",
    "purpose.not_granted",
    "setting.off",
    "consent.missing",
    "consent.refused",
    "consent.withdrawn",
    "consent.expired",
    "consent.not_self",
    "notice.missing",
    "source.ineligible",
    "signal.reserved",
)

# Denials that are the whole answer: nothing else is listed beside them.
STANDALONE_REASONS: Final = frozenset(
    {"item.unknown", "item.deleted", "terms.not_accepted", "purpose.not_granted"}
)

CONSENT_STATUSES: Final = ("given", "refused", "withdrawn")
CONSENT_METHODS: Final = ("ui", "api", "import", "admin_on_behalf")
SETTING_SCOPES: Final = ("account", "group", "user")
ROLES: Final = ("owner", "admin", "member")

# The purpose tree under which a do-not-train signal applies.
TRAINING_PURPOSE: Final = "ai.training"


def purpose_covers(granted: str, asked: str) -> bool:
    """True when a grant or consent for ``granted`` covers the purpose ``asked``.

    A purpose covers itself and every purpose below it in the dotted tree.

    >>> purpose_covers("ai", "ai.training")
    True
    >>> purpose_covers("ai.training", "ai")
    False
    """
    return asked == granted or asked.startswith(granted + ".")
