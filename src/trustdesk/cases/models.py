"""Parties, cases, messages, attachments, links and internal request types."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from typing import Any

from sqlalchemy import ForeignKey, Index, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from trustdesk.core.db import Base, JSONType


class PartyKind(StrEnum):
    BUYER = "buyer"
    SELLER = "seller"
    CREATOR = "creator"
    INTERNAL = "internal"


class Channel(StrEnum):
    IN_APP_CHAT = "in_app_chat"
    WEB_FORM = "web_form"
    APPEAL_FORM = "appeal_form"
    INTERNAL_FORM = "internal_form"
    API = "api"
    EMAIL = "email"


class Priority(StrEnum):
    LOW = "low"
    NORMAL = "normal"
    HIGH = "high"
    URGENT = "urgent"


class Status(StrEnum):
    NEW = "new"
    OPEN = "open"
    PENDING = "pending"  # waiting on the customer
    ON_HOLD = "on_hold"  # waiting on a third party or another internal team
    SOLVED = "solved"
    CLOSED = "closed"


class WaitingOn(StrEnum):
    """Whom an on-hold case waits for: it decides which SLA clocks stop and which (an OLA) run."""

    SELLER = "seller"
    INTERNAL = "internal"  # another internal team
    THIRD_PARTY = "third_party"


class Visibility(StrEnum):
    PUBLIC = "public"
    INTERNAL = "internal"


class AuthorType(StrEnum):
    CUSTOMER = "customer"
    AGENT = "agent"
    BOT = "bot"
    SYSTEM = "system"


class LinkKind(StrEnum):
    DUPLICATE_OF = "duplicate_of"
    RELATED = "related"


class RerouteReason(StrEnum):
    """Why a case left a team: the raw material of misroute analysis."""

    WRONG_TOPIC = "wrong_topic"
    WRONG_MARKET = "wrong_market"
    WRONG_LANGUAGE = "wrong_language"
    WRONG_TIER = "wrong_tier"
    NEEDS_SPECIALIST = "needs_specialist"
    OWNERSHIP_CHANGED = "ownership_changed"
    CATALOGUE_GAP = "catalogue_gap"
    CUSTOMER_REQUEST = "customer_request"
    CAPACITY = "capacity"
    TRIAGED = "triaged"  # triage found the owner: routing asked a person, not a misroute
    ESCALATED = "escalated"  # an escalation ladder moved it up a tier: not a misroute either
    OTHER = "other"


class Party(Base):
    """A customer as a case sees them; one person (user) may hold several parties."""

    __tablename__ = "parties"
    __table_args__ = (UniqueConstraint("market_id", "kind", "external_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    kind: Mapped[str] = mapped_column(String(16))
    market_id: Mapped[int] = mapped_column(ForeignKey("markets.id", ondelete="RESTRICT"))
    external_id: Mapped[str] = mapped_column(String(100))
    display_name: Mapped[str] = mapped_column(String(200))
    email: Mapped[str | None] = mapped_column(String(254))
    locale: Mapped[str | None] = mapped_column(String(16))
    user_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"), index=True)
    created_at: Mapped[datetime]


class Case(Base):
    __tablename__ = "cases"
    __table_args__ = (
        Index("ix_cases_queue_status_created", "queue_id", "status", "created_at"),
        Index("ix_cases_created_id", "created_at", "id"),
        Index("ix_cases_assignee_status", "assignee_id", "status"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    reference: Mapped[str | None] = mapped_column(String(32), unique=True)
    channel: Mapped[str] = mapped_column(String(16))
    market_id: Mapped[int] = mapped_column(ForeignKey("markets.id", ondelete="RESTRICT"), index=True)
    language: Mapped[str] = mapped_column(String(16))
    party_id: Mapped[int] = mapped_column(ForeignKey("parties.id", ondelete="RESTRICT"), index=True)
    subject: Mapped[str] = mapped_column(String(300))
    topic: Mapped[str | None] = mapped_column(String(200))
    request_type_id: Mapped[int | None] = mapped_column(ForeignKey("request_types.id", ondelete="RESTRICT"))
    team_id: Mapped[int | None] = mapped_column(ForeignKey("teams.id", ondelete="RESTRICT"), index=True)
    queue_id: Mapped[int | None] = mapped_column(ForeignKey("queues.id", ondelete="RESTRICT"))
    assignee_id: Mapped[int | None] = mapped_column(ForeignKey("agents.id", ondelete="SET NULL"))
    priority: Mapped[str] = mapped_column(String(8))
    status: Mapped[str] = mapped_column(String(8))
    tags: Mapped[list[str]]
    custom_fields: Mapped[dict[str, Any]]
    merged_into_id: Mapped[int | None] = mapped_column(ForeignKey("cases.id", ondelete="RESTRICT"))
    version: Mapped[int] = mapped_column(default=1)
    created_at: Mapped[datetime]
    updated_at: Mapped[datetime]
    # The last time the case entered each status (the event log has every transition).
    opened_at: Mapped[datetime | None]
    pending_at: Mapped[datetime | None]
    on_hold_at: Mapped[datetime | None]
    solved_at: Mapped[datetime | None]
    closed_at: Mapped[datetime | None]
    first_agent_reply_at: Mapped[datetime | None]
    last_customer_message_at: Mapped[datetime | None]
    last_agent_reply_at: Mapped[datetime | None]

    __mapper_args__ = {"version_id_col": version}


class Message(Base):
    __tablename__ = "case_messages"
    __table_args__ = (Index("ix_case_messages_case_id_id", "case_id", "id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    case_id: Mapped[int] = mapped_column(ForeignKey("cases.id", ondelete="CASCADE"))
    visibility: Mapped[str] = mapped_column(String(8))
    author_type: Mapped[str] = mapped_column(String(8))
    author_user_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    author_name: Mapped[str] = mapped_column(String(200))
    channel: Mapped[str] = mapped_column(String(16))
    # Stored exactly as written; every page escapes it on output.
    body: Mapped[str] = mapped_column(Text)
    created_at: Mapped[datetime]


class Attachment(Base):
    """Metadata of a file attached to a case (the bytes live in object storage)."""

    __tablename__ = "case_attachments"

    id: Mapped[int] = mapped_column(primary_key=True)
    case_id: Mapped[int] = mapped_column(ForeignKey("cases.id", ondelete="CASCADE"), index=True)
    message_id: Mapped[int | None] = mapped_column(ForeignKey("case_messages.id", ondelete="SET NULL"))
    filename: Mapped[str] = mapped_column(String(255))
    content_type: Mapped[str] = mapped_column(String(100))
    size_bytes: Mapped[int]
    sha256: Mapped[str | None] = mapped_column(String(64))
    storage_url: Mapped[str | None] = mapped_column(String(1000))
    uploaded_by_user_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    created_at: Mapped[datetime]


class CaseLink(Base):
    __tablename__ = "case_links"
    __table_args__ = (UniqueConstraint("case_id", "linked_case_id", "kind"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    case_id: Mapped[int] = mapped_column(ForeignKey("cases.id", ondelete="CASCADE"), index=True)
    linked_case_id: Mapped[int] = mapped_column(ForeignKey("cases.id", ondelete="CASCADE"), index=True)
    kind: Mapped[str] = mapped_column(String(16))
    created_by_user_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    created_at: Mapped[datetime]


class RequestType(Base):
    """A kind of internal request; its form's fields are data, validated on submission."""

    __tablename__ = "request_types"

    id: Mapped[int] = mapped_column(primary_key=True)
    key: Mapped[str] = mapped_column(String(64), unique=True)
    name: Mapped[str] = mapped_column(String(100))
    description: Mapped[str] = mapped_column(String(1000), default="")
    queue_id: Mapped[int] = mapped_column(ForeignKey("queues.id", ondelete="RESTRICT"))
    # [{"key", "label", "type": text|textarea|number|date|select|email|url, "required", "options"}]
    fields: Mapped[list[dict[str, Any]]] = mapped_column(JSONType)
    is_active: Mapped[bool] = mapped_column(default=True)
    created_at: Mapped[datetime]
