"""The events of the import format (CONTRACT.md §1) as pydantic models.

The same models validate a JSON Lines import, the REST API's request bodies and the
OpenAPI schema. They are strict (``"true"`` is not a bool, ``1`` is not a time), frozen
(events are immutable) and keep unknown fields as extra data.
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any, Literal

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    PlainSerializer,
    PlainValidator,
    StringConstraints,
    TypeAdapter,
    WithJsonSchema,
)

from .times import format_time, parse_time
from .vocab import CUSTOMER_CONTENT_KINDS

# Ids and names of people are indexed: 255 characters keeps every backend's index happy.
Id = Annotated[str, StringConstraints(min_length=1, max_length=255)]
Time = Annotated[
    datetime,
    PlainValidator(parse_time),
    PlainSerializer(format_time, return_type=str),
    WithJsonSchema({"type": "string", "format": "date-time"}),
]
Purpose = Annotated[str, StringConstraints(pattern=r"^[A-Za-z0-9_-]+(\.[A-Za-z0-9_-]+)*$")]
CustomerKind = Literal[
    "audio", "video", "chat", "transcript", "screen_share", "whiteboard", "file", "summary", "embedding"
]
ServiceKind = Literal["telemetry", "diagnostic", "usage"]
DataKind = Literal[CustomerKind, ServiceKind]
Condition = Annotated[str, StringConstraints(pattern=r"^(consent|setting:\S+|notice:\S+)$")]


class _Event(BaseModel):
    model_config = ConfigDict(strict=True, extra="allow", frozen=True)


class _Part(BaseModel):
    model_config = ConfigDict(strict=True, extra="allow", frozen=True)


class Account(_Event):
    """A customer account: the party that accepts terms and owns settings."""

    type: Literal["account"] = "account"
    id: Id
    name: str | None = None
    region: str | None = None
    sector: str | None = None


class Group(_Event):
    """A group of users in an account; ``priority`` 1 ranks highest."""

    type: Literal["group"] = "group"
    id: Id
    account: Id
    name: str | None = None
    priority: Annotated[int, Field(ge=1)] | None = None


class User(_Event):
    """A member of an account and the groups it belongs to, in order."""

    type: Literal["user"] = "user"
    id: Id
    account: Id
    role: Literal["owner", "admin", "member"] = "member"
    groups: list[Id] = []


class Setting(_Event):
    """An admin's or user's switch at one level (account, group, user), maybe locked."""

    type: Literal["setting"] = "setting"
    scope: Literal["account", "group", "user"]
    target: Id
    key: Id
    value: bool
    locked: bool = False
    by: str | None = None
    at: Time


class Grant(_Part):
    """What one terms section allows: a purpose, for some data kinds, under conditions."""

    purpose: Purpose
    data: list[DataKind]
    requires: list[Condition] = []


class Section(_Part):
    """One numbered section of a terms version."""

    id: Id
    title: str | None = None
    text: str | None = None
    grants: list[Grant] = []


class Terms(_Event):
    """A version of the terms of service, with the grants of each section."""

    type: Literal["terms"] = "terms"
    version: Id
    effective_at: Time
    published_at: Time | None = None
    title: str | None = None
    sections: list[Section]


class TermsAcceptance(_Event):
    """An account's acceptance of a terms version."""

    type: Literal["terms_acceptance"] = "terms_acceptance"
    account: Id
    version: Id
    by: str | None = None
    at: Time


def _all_customer_kinds() -> list[Any]:
    return list(CUSTOMER_CONTENT_KINDS)


class Consent(_Event):
    """A subject's answer for one purpose: given, refused or withdrawn."""

    type: Literal["consent"] = "consent"
    id: Id
    subject: Id
    purpose: Purpose
    status: Literal["given", "refused", "withdrawn"]
    kinds: list[DataKind] = Field(default_factory=_all_customer_kinds)
    meeting: Id | None = None
    by: Id | None = None
    method: Literal["ui", "api", "import", "admin_on_behalf"] | None = None
    notice: str | None = None
    at: Time
    expires_at: Time | None = None

    def model_post_init(self, _context: Any) -> None:
        # The default of ``by`` is the subject; stored explicitly so a record reads whole.
        if self.by is None:
            object.__setattr__(self, "by", self.subject)


class Meeting(_Event):
    """A meeting held in an account."""

    type: Literal["meeting"] = "meeting"
    id: Id
    account: Id
    host: str | None = None
    started_at: Time | None = None


class Participant(_Event):
    """Someone in a meeting, and the features they were told about."""

    type: Literal["participant"] = "participant"
    meeting: Id
    subject: Id
    joined_at: Time | None = None
    left_at: Time | None = None
    notified: list[str] = []


class Signals(_Part):
    """Do-not-train signals an item carries (TDMRep, C2PA/CAWG, IETF AI preferences)."""

    tdm_reservation: Literal[0, 1] | None = None
    training_mining: dict[str, Any] | None = None
    ai_preferences: str | None = None


class Content(_Event):
    """An item of customer content, maybe from a meeting, maybe derived from others."""

    type: Literal["content"] = "content"
    id: Id
    kind: CustomerKind
    account: Id
    owner: Id
    meeting: Id | None = None
    created_at: Time
    uri: str | None = None
    sha256: str | None = None
    bytes: Annotated[int, Field(ge=0)] | None = None
    text: str | None = None
    derived_from: list[Id] = []
    signals: Signals | None = None


class ServiceData(_Event):
    """An item of service-generated data (telemetry, diagnostics, usage)."""

    type: Literal["service_data"] = "service_data"
    id: Id
    kind: ServiceKind
    account: Id
    user: Id | None = None
    at: Time


class Erasure(_Event):
    """An erasure: the item is usable for nothing after ``at``."""

    type: Literal["delete"] = "delete"
    item: Id
    by: str | None = None
    at: Time


Event = Annotated[
    Account
    | Group
    | User
    | Setting
    | Terms
    | TermsAcceptance
    | Consent
    | Meeting
    | Participant
    | Content
    | ServiceData
    | Erasure,
    Field(discriminator="type"),
]

EVENT_CLASSES: dict[str, type[_Event]] = {
    cls.model_fields["type"].default: cls
    for cls in (
        Account,
        Group,
        User,
        Setting,
        Terms,
        TermsAcceptance,
        Consent,
        Meeting,
        Participant,
        Content,
        ServiceData,
        Erasure,
    )
}

EVENT_ADAPTER: TypeAdapter[Any] = TypeAdapter(Event)


def parse_event(data: str | bytes | dict[str, Any]) -> Any:
    """Validate one event from a JSON text or a dict; raise ``pydantic.ValidationError``.

    >>> parse_event('{"type": "account", "id": "a1"}').id
    'a1'
    """
    if isinstance(data, dict):
        return EVENT_ADAPTER.validate_python(data)
    return EVENT_ADAPTER.validate_json(data)
