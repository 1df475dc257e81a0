"""Markets, vendors, teams, queues and agents: who serves whom; topics and the service catalogue:
who owns what."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from typing import Any

from sqlalchemy import CheckConstraint, ForeignKey, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from trustdesk.core.db import Base


class Tier(StrEnum):
    T1 = "t1"
    T2 = "t2"
    ONCALL = "oncall"
    APPEALS = "appeals"
    INTERNAL = "internal"


class Presence(StrEnum):
    ONLINE = "online"
    AWAY = "away"
    OFFLINE = "offline"


class Market(Base):
    __tablename__ = "markets"

    id: Mapped[int] = mapped_column(primary_key=True)
    code: Mapped[str] = mapped_column(String(8), unique=True)
    name: Mapped[str] = mapped_column(String(100))
    time_zone: Mapped[str] = mapped_column(String(64))
    languages: Mapped[list[str]]
    default_language: Mapped[str] = mapped_column(String(16))
    currency: Mapped[str] = mapped_column(String(3))
    # A group of markets the service catalogue can name at once (e.g. EU, SEA); optional.
    region: Mapped[str | None] = mapped_column(String(16))
    # The classifier confidence below which a case goes to triage here; None means the model's own.
    routing_threshold: Mapped[float | None]
    is_active: Mapped[bool] = mapped_column(default=True)
    created_at: Mapped[datetime]


class Vendor(Base):
    """An outsourced (BPO) company whose agents work some Tier 1 queues."""

    __tablename__ = "vendors"

    id: Mapped[int] = mapped_column(primary_key=True)
    code: Mapped[str] = mapped_column(String(32), unique=True)
    name: Mapped[str] = mapped_column(String(100))
    created_at: Mapped[datetime]


class Team(Base):
    __tablename__ = "teams"

    id: Mapped[int] = mapped_column(primary_key=True)
    key: Mapped[str] = mapped_column(String(64), unique=True)
    name: Mapped[str] = mapped_column(String(100))
    tier: Mapped[str] = mapped_column(String(16))
    vendor_id: Mapped[int | None] = mapped_column(ForeignKey("vendors.id", ondelete="RESTRICT"), index=True)
    created_at: Mapped[datetime]


class Queue(Base):
    """Where cases wait for an agent. A queue belongs to one team (and so to its vendor)."""

    __tablename__ = "queues"

    id: Mapped[int] = mapped_column(primary_key=True)
    key: Mapped[str] = mapped_column(String(64), unique=True)
    name: Mapped[str] = mapped_column(String(100))
    team_id: Mapped[int] = mapped_column(ForeignKey("teams.id", ondelete="RESTRICT"), index=True)
    market_id: Mapped[int | None] = mapped_column(ForeignKey("markets.id", ondelete="RESTRICT"), index=True)
    # Intake defaults until the routing engine owns them: which channels and party kinds land here.
    intake_channels: Mapped[list[str]]
    intake_party_kinds: Mapped[list[str]]
    intake_order: Mapped[int] = mapped_column(default=100)
    auto_assign: Mapped[bool] = mapped_column(default=True)
    is_triage: Mapped[bool] = mapped_column(default=False)
    is_active: Mapped[bool] = mapped_column(default=True)
    created_at: Mapped[datetime]


class Agent(Base):
    __tablename__ = "agents"
    __table_args__ = (CheckConstraint("capacity >= 0", name="capacity_not_negative"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), unique=True)
    vendor_id: Mapped[int | None] = mapped_column(ForeignKey("vendors.id", ondelete="RESTRICT"), index=True)
    languages: Mapped[list[str]]
    skills: Mapped[list[str]]
    capacity: Mapped[int] = mapped_column(default=10)
    presence: Mapped[str] = mapped_column(String(16), default=Presence.OFFLINE.value)
    last_assigned_at: Mapped[datetime | None]
    created_at: Mapped[datetime]


class TeamMembership(Base):
    __tablename__ = "team_memberships"
    __table_args__ = (UniqueConstraint("team_id", "agent_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    team_id: Mapped[int] = mapped_column(ForeignKey("teams.id", ondelete="CASCADE"), index=True)
    agent_id: Mapped[int] = mapped_column(ForeignKey("agents.id", ondelete="CASCADE"), index=True)


class Topic(Base):
    """One node of the topic taxonomy. ``key`` is the dotted path from the root
    (``orders.delivery.late``): stable, never reused, what rules, models and reports refer to."""

    __tablename__ = "topics"

    id: Mapped[int] = mapped_column(primary_key=True)
    key: Mapped[str] = mapped_column(String(200), unique=True)
    parent_id: Mapped[int | None] = mapped_column(ForeignKey("topics.id", ondelete="RESTRICT"), index=True)
    depth: Mapped[int]  # 1 for a root topic
    names: Mapped[dict[str, Any]]  # locale -> name; "en" always present
    description: Mapped[str | None] = mapped_column(String(1000))
    is_active: Mapped[bool] = mapped_column(default=True)
    created_at: Mapped[datetime]
    updated_at: Mapped[datetime]


class CatalogueStatus(StrEnum):
    DRAFT = "draft"  # written, waiting for a second person's approval
    APPROVED = "approved"  # in force from valid_from until valid_to (open-ended when None)
    REJECTED = "rejected"


class CatalogueEntry(Base):
    """One version of one service-catalogue entry: who owns (topic x market x channel x party kind).

    ``entry_id`` names the entry across its versions (the id of its first version). Approved
    versions of one entry never overlap in time: approving a new version closes the one before
    at the new one's ``valid_from``, so "who owned this at time t" has one answer per entry.
    Empty ``topic_id``, ``channel`` or ``party_kind`` and a ``market_scope`` of ``*`` match anything.
    """

    __tablename__ = "catalogue_entries"
    __table_args__ = (
        UniqueConstraint("entry_id", "version"),
        CheckConstraint("valid_to IS NULL OR valid_from IS NULL OR valid_to > valid_from", name="valid_period"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    entry_id: Mapped[int | None] = mapped_column(index=True)
    version: Mapped[int]
    status: Mapped[str] = mapped_column(String(16))
    topic_id: Mapped[int | None] = mapped_column(ForeignKey("topics.id", ondelete="RESTRICT"), index=True)
    market_scope: Mapped[str] = mapped_column(String(16))  # a market code, a region, or "*"
    channel: Mapped[str | None] = mapped_column(String(32))
    party_kind: Mapped[str | None] = mapped_column(String(16))
    team_id: Mapped[int] = mapped_column(ForeignKey("teams.id", ondelete="RESTRICT"), index=True)
    tier: Mapped[str] = mapped_column(String(16))
    contact_user_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="RESTRICT"))
    escalation_user_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="RESTRICT"))
    sla_policy_key: Mapped[str | None] = mapped_column(String(64))
    position: Mapped[int] = mapped_column(default=100)
    valid_from: Mapped[datetime | None]
    valid_to: Mapped[datetime | None]
    note: Mapped[str | None] = mapped_column(String(1000))
    author_user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="RESTRICT"))
    approver_user_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="RESTRICT"))
    decided_at: Mapped[datetime | None]
    owner_user_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="RESTRICT"))
    review_interval_days: Mapped[int] = mapped_column(default=90)
    reviewed_at: Mapped[datetime | None]
    review_reminded_at: Mapped[datetime | None]
    created_at: Mapped[datetime]
