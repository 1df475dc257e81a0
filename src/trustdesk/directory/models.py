"""Markets, vendors, teams, queues and agents: who serves whom."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum

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
