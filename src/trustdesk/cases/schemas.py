"""API shapes of cases: what comes in (strict) and what goes out (per audience)."""

from __future__ import annotations

import json
import re
from datetime import datetime
from typing import Annotated, Any

from pydantic import BaseModel, Field, StringConstraints, field_validator

from trustdesk.cases.models import (
    AuthorType,
    Channel,
    LinkKind,
    PartyKind,
    Priority,
    RerouteReason,
    Status,
    Visibility,
    WaitingOn,
)
from trustdesk.core.schemas import DbId, Out, StrictIn

TAG_PATTERN = re.compile(r"^[a-z0-9][a-z0-9_:.-]{0,63}$")
MAX_CUSTOM_FIELDS_BYTES = 8192
Text = Annotated[str, StringConstraints(min_length=1, max_length=20_000)]


def _tags(values: list[str]) -> list[str]:
    cleaned: list[str] = []
    for raw in values:
        tag = raw.strip().lower()
        if not TAG_PATTERN.match(tag):
            raise ValueError(f"tag {raw!r} must be 1-64 of a-z, 0-9, _ : . - (starting with a letter or digit)")
        if tag not in cleaned:
            cleaned.append(tag)
    return cleaned


def _custom_fields(value: dict[str, Any]) -> dict[str, Any]:
    for key, item in value.items():
        if not re.match(r"^[A-Za-z][A-Za-z0-9_]{0,63}$", key):
            raise ValueError(f"custom field name {key!r} must be an identifier of at most 64 characters")
        scalars = (str, int, float, bool, type(None))
        if not (isinstance(item, scalars) or (isinstance(item, list) and all(isinstance(i, scalars) for i in item))):
            raise ValueError(f"custom field {key!r} must be a scalar or a list of scalars")
    if len(json.dumps(value)) > MAX_CUSTOM_FIELDS_BYTES:
        raise ValueError(f"custom fields exceed {MAX_CUSTOM_FIELDS_BYTES} bytes")
    return value


class PartyIn(StrictIn):
    kind: PartyKind
    external_id: str = Field(min_length=1, max_length=100)
    display_name: str = Field(min_length=1, max_length=200)
    email: str | None = Field(default=None, max_length=254, pattern=r"^[^@\s]+@[^@\s]+$")
    locale: str | None = Field(default=None, max_length=16)


class AttachmentIn(StrictIn):
    filename: str = Field(min_length=1, max_length=255)
    content_type: str = Field(min_length=3, max_length=100)
    size_bytes: int = Field(ge=1)
    sha256: str | None = Field(default=None, pattern=r"^[0-9a-f]{64}$")
    storage_url: str | None = Field(default=None, max_length=1000)


class CaseCreate(StrictIn):
    channel: Channel
    market: str = Field(min_length=2, max_length=8, description="Market code, e.g. US")
    subject: str = Field(min_length=1, max_length=300)
    body: Text
    party: PartyIn | None = Field(default=None, description="Required for intake on behalf of a party.")
    language: str | None = Field(default=None, pattern=r"^[a-z]{2,3}(-[A-Za-z0-9]{2,8})?$")
    priority: Priority = Priority.NORMAL
    queue_id: DbId | None = None
    topic: str | None = Field(default=None, max_length=200)
    tags: list[str] = Field(default_factory=list, max_length=30)
    custom_fields: dict[str, Any] = Field(default_factory=dict)
    attachments: list[AttachmentIn] = Field(default_factory=list, max_length=20)

    @field_validator("tags")
    @classmethod
    def _check_tags(cls, value: list[str]) -> list[str]:
        return _tags(value)

    @field_validator("custom_fields")
    @classmethod
    def _check_fields(cls, value: dict[str, Any]) -> dict[str, Any]:
        return _custom_fields(value)


class CaseUpdate(StrictIn):
    subject: str | None = Field(default=None, min_length=1, max_length=300)
    priority: Priority | None = None
    topic: str | None = Field(default=None, max_length=200)
    tags: list[str] | None = Field(default=None, max_length=30)
    custom_fields: dict[str, Any] | None = None

    @field_validator("tags")
    @classmethod
    def _check_tags(cls, value: list[str] | None) -> list[str] | None:
        return None if value is None else _tags(value)

    @field_validator("custom_fields")
    @classmethod
    def _check_fields(cls, value: dict[str, Any] | None) -> dict[str, Any] | None:
        return None if value is None else _custom_fields(value)


class MessageIn(StrictIn):
    body: Text
    visibility: Visibility = Visibility.PUBLIC
    status: Status | None = Field(default=None, description="Agents: set this status with the reply.")
    attachments: list[AttachmentIn] = Field(default_factory=list, max_length=20)


class NoteIn(StrictIn):
    body: Text


class StatusIn(StrictIn):
    status: Status
    reason: str | None = Field(default=None, max_length=500)
    waiting_on: WaitingOn | None = Field(default=None, description="on_hold only: seller, internal (another "
                                         "team; its SLA clock runs) or third_party (the default)")


class AssignIn(StrictIn):
    agent_id: DbId | None = Field(description="null to unassign")


class RerouteIn(StrictIn):
    queue_id: DbId
    reason: RerouteReason
    note: str | None = Field(default=None, max_length=2000)


class LinkIn(StrictIn):
    case_id: DbId
    kind: LinkKind


class MergeIn(StrictIn):
    into_case_id: DbId


class InternalRequestIn(StrictIn):
    request_type: str = Field(min_length=1, max_length=64)
    market: str = Field(min_length=2, max_length=8)
    subject: str = Field(min_length=1, max_length=300)
    body: Text
    fields: dict[str, Any] = Field(default_factory=dict)
    priority: Priority = Priority.NORMAL


# ---------------------------------------------------------------- output


class PartyOut(Out):
    id: int
    kind: PartyKind
    external_id: str
    display_name: str


class AttachmentOut(Out):
    id: int
    message_id: int | None
    filename: str
    content_type: str
    size_bytes: int
    created_at: datetime


class MessageOut(Out):
    id: int
    visibility: Visibility
    author_type: AuthorType
    author_name: str
    body: str
    created_at: datetime


class CustomerCaseOut(BaseModel):
    """What a customer sees of their own case: no teams, queues, agents or internal fields."""

    id: int
    reference: str
    channel: Channel
    market: str
    language: str
    subject: str
    status: Status
    created_at: datetime
    updated_at: datetime


class CaseOut(CustomerCaseOut):
    party: PartyOut
    priority: Priority
    topic: str | None
    team_id: int | None
    queue_id: int | None
    assignee_id: int | None
    tags: list[str]
    custom_fields: dict[str, Any]
    version: int
    merged_into_id: int | None
    request_type_id: int | None
    opened_at: datetime | None
    pending_at: datetime | None
    on_hold_at: datetime | None
    solved_at: datetime | None
    closed_at: datetime | None
    first_agent_reply_at: datetime | None
    last_customer_message_at: datetime | None


class CaseDetailOut(CaseOut):
    messages: list[MessageOut]
    attachments: list[AttachmentOut]


class CustomerCaseDetailOut(CustomerCaseOut):
    messages: list[MessageOut]


class CasePage(BaseModel):
    items: list[CaseOut]
    next_cursor: str | None


class CustomerCasePage(BaseModel):
    items: list[CustomerCaseOut]
    next_cursor: str | None


class EventOut(Out):
    id: int
    type: str
    actor_type: str
    actor_id: int | None
    occurred_at: datetime
    data: dict[str, Any]


class RequestTypeField(BaseModel):
    key: str
    label: str
    type: str
    required: bool = False
    options: list[str] = Field(default_factory=list)
    help: str = ""


class RequestTypeOut(Out):
    id: int
    key: str
    name: str
    description: str
    fields: list[RequestTypeField]
