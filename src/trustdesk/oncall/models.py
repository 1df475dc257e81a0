"""Oncall tables: schedules (layers, overrides, swaps, feeds), escalation ladders and their running
copies, pages, and crises with their own append-only timeline."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import ForeignKey, Index, String, UniqueConstraint, text
from sqlalchemy.orm import Mapped, mapped_column

from trustdesk.core.db import Base, JSONType
from trustdesk.core.events import EventLogMixin

# ---------------------------------------------------------------- schedules


class OncallSchedule(Base):
    """Who is on call for a team: layers of rotations, with overrides and swaps on top."""

    __tablename__ = "oncall_schedules"

    id: Mapped[int] = mapped_column(primary_key=True)
    key: Mapped[str] = mapped_column(String(64), unique=True)
    name: Mapped[str] = mapped_column(String(100))
    team_id: Mapped[int | None] = mapped_column(ForeignKey("teams.id", ondelete="SET NULL"), index=True)
    time_zone: Mapped[str] = mapped_column(String(64))  # how the console shows it
    description: Mapped[str] = mapped_column(String(500), default="")
    created_at: Mapped[datetime]
    updated_at: Mapped[datetime]


class OncallLayer(Base):
    """One rotation. Layers with a higher ``position`` win where they have someone on call."""

    __tablename__ = "oncall_layers"
    __table_args__ = (UniqueConstraint("schedule_id", "position"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    schedule_id: Mapped[int] = mapped_column(ForeignKey("oncall_schedules.id", ondelete="CASCADE"), index=True)
    position: Mapped[int]
    name: Mapped[str] = mapped_column(String(100))
    time_zone: Mapped[str] = mapped_column(String(64))
    starts_at: Mapped[datetime]
    ends_at: Mapped[datetime | None]
    handoff: Mapped[str] = mapped_column(String(300))  # an RRULE body in the layer's local time
    participants: Mapped[list[Any]] = mapped_column(JSONType)  # user ids in rotation order
    # [{"days": ["mon", ...], "start": "09:00", "end": "17:00"}]; empty: the whole day
    restrictions: Mapped[list[Any]] = mapped_column(JSONType)


class OncallOverride(Base):
    """Someone else covers a period, on top of every layer; no one (``user_id`` empty) leaves a gap."""

    __tablename__ = "oncall_overrides"

    id: Mapped[int] = mapped_column(primary_key=True)
    schedule_id: Mapped[int] = mapped_column(ForeignKey("oncall_schedules.id", ondelete="CASCADE"), index=True)
    starts_at: Mapped[datetime]
    ends_at: Mapped[datetime]
    user_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"))
    reason: Mapped[str] = mapped_column(String(300))
    created_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    created_at: Mapped[datetime]


class OncallSwap(Base):
    """A shift swap: in the period, what the giver would have covered, the taker covers."""

    __tablename__ = "oncall_swaps"

    id: Mapped[int] = mapped_column(primary_key=True)
    schedule_id: Mapped[int] = mapped_column(ForeignKey("oncall_schedules.id", ondelete="CASCADE"), index=True)
    starts_at: Mapped[datetime]
    ends_at: Mapped[datetime]
    giver_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"))
    taker_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"))
    reason: Mapped[str] = mapped_column(String(300))
    created_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    created_at: Mapped[datetime]


class OncallFeed(Base):
    """A secret iCalendar feed URL for a schedule or a person; only the token's hash is kept."""

    __tablename__ = "oncall_feeds"

    id: Mapped[int] = mapped_column(primary_key=True)
    schedule_id: Mapped[int | None] = mapped_column(ForeignKey("oncall_schedules.id", ondelete="CASCADE"), index=True)
    user_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    prefix: Mapped[str] = mapped_column(String(16))
    created_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    created_at: Mapped[datetime]
    revoked_at: Mapped[datetime | None]


# ---------------------------------------------------------------- escalation


class EscalationLadder(Base):
    """Ordered steps that page people until someone acknowledges. Editing bumps ``version``; a
    running escalation keeps the copy it started with."""

    __tablename__ = "escalation_ladders"

    id: Mapped[int] = mapped_column(primary_key=True)
    key: Mapped[str] = mapped_column(String(64), unique=True)
    name: Mapped[str] = mapped_column(String(100))
    version: Mapped[int] = mapped_column(default=1)
    position: Mapped[int] = mapped_column(default=100)
    is_active: Mapped[bool] = mapped_column(default=True)
    triggers: Mapped[list[str]]  # breach | warning | urgent | manual | crisis
    # {"teams": [key, ...], "markets": [...], "priorities": [...]}; empty lists match anything
    conditions: Mapped[dict[str, Any]]
    steps: Mapped[list[Any]] = mapped_column(JSONType)
    ack_timeout_minutes: Mapped[int | None]
    created_at: Mapped[datetime]
    updated_at: Mapped[datetime]


class Escalation(Base):
    """A ladder running for a case (or a crisis): its own copy of the steps and where it stands."""

    __tablename__ = "escalations"
    __table_args__ = (
        # One open escalation per case: a second breach while it runs is recorded, not doubled.
        Index("uq_escalations_open_case", "case_id", unique=True,
              sqlite_where=text("status IN ('active', 'acknowledged', 'exhausted') AND crisis_id IS NULL"),
              postgresql_where=text("status IN ('active', 'acknowledged', 'exhausted') AND crisis_id IS NULL")),
        Index("ix_escalations_due", "next_run_at", sqlite_where=text("status = 'active'"),
              postgresql_where=text("status = 'active'")),
        Index("ix_escalations_ack_deadline", "ack_deadline_at", sqlite_where=text("status = 'acknowledged'"),
              postgresql_where=text("status = 'acknowledged'")),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    case_id: Mapped[int] = mapped_column(ForeignKey("cases.id", ondelete="CASCADE"), index=True)
    crisis_id: Mapped[int | None] = mapped_column(ForeignKey("crises.id", ondelete="SET NULL"))
    ladder_id: Mapped[int | None] = mapped_column(ForeignKey("escalation_ladders.id", ondelete="SET NULL"))
    ladder_key: Mapped[str] = mapped_column(String(64))
    ladder_version: Mapped[int]
    steps: Mapped[list[Any]] = mapped_column(JSONType)
    ack_timeout_minutes: Mapped[int | None]
    trigger: Mapped[str] = mapped_column(String(16))
    reason: Mapped[str] = mapped_column(String(500))
    started_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    started_at: Mapped[datetime]
    status: Mapped[str] = mapped_column(String(16))  # active | acknowledged | resolved | exhausted | cancelled
    round: Mapped[int] = mapped_column(default=0)  # a repeat or an ack timeout starts a new round
    step_index: Mapped[int] = mapped_column(default=0)
    repeats_done: Mapped[int] = mapped_column(default=0)
    next_run_at: Mapped[datetime | None]
    level_index: Mapped[int | None]  # the last step that paged someone: an ack timeout pages it again
    acknowledged_at: Mapped[datetime | None]
    acknowledged_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    ack_deadline_at: Mapped[datetime | None]
    ack_timeouts: Mapped[int] = mapped_column(default=0)
    ended_at: Mapped[datetime | None]
    ended_reason: Mapped[str | None] = mapped_column(String(200))


class EscalationStepRun(Base):
    """Proof that a step ran: a second tick that tries the same (round, step) fails the unique key."""

    __tablename__ = "escalation_step_runs"
    __table_args__ = (UniqueConstraint("escalation_id", "round", "step_index"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    escalation_id: Mapped[int] = mapped_column(ForeignKey("escalations.id", ondelete="CASCADE"))
    round: Mapped[int]
    step_index: Mapped[int]
    kind: Mapped[str] = mapped_column(String(32))
    ran_at: Mapped[datetime]
    outcome: Mapped[dict[str, Any]]


class Page(Base):
    """One person told to act now; acknowledged from the console, the API or the page's own link."""

    __tablename__ = "pages"
    __table_args__ = (Index("ix_pages_user_created", "user_id", "created_at"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"))
    case_id: Mapped[int | None] = mapped_column(ForeignKey("cases.id", ondelete="CASCADE"), index=True)
    escalation_id: Mapped[int | None] = mapped_column(ForeignKey("escalations.id", ondelete="CASCADE"), index=True)
    crisis_id: Mapped[int | None] = mapped_column(ForeignKey("crises.id", ondelete="CASCADE"), index=True)
    schedule_key: Mapped[str | None] = mapped_column(String(64))  # paged as the oncall of this schedule
    title: Mapped[str] = mapped_column(String(300))
    body: Mapped[str] = mapped_column(String(2000))
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    created_at: Mapped[datetime]
    acknowledged_at: Mapped[datetime | None]
    acknowledged_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))


# ---------------------------------------------------------------- crises


class Crisis(Base):
    """An incident opened from one or more cases, with a severity, an owner and a timeline."""

    __tablename__ = "crises"

    id: Mapped[int] = mapped_column(primary_key=True)
    case_id: Mapped[int] = mapped_column(ForeignKey("cases.id", ondelete="RESTRICT"), index=True)
    title: Mapped[str] = mapped_column(String(200))
    severity: Mapped[str] = mapped_column(String(8))  # sev1 (worst) .. sev4
    status: Mapped[str] = mapped_column(String(16))  # investigating | identified | monitoring | resolved
    owner_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="RESTRICT"))
    summary: Mapped[str] = mapped_column(String(4000))
    declared_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    declared_at: Mapped[datetime]
    updated_at: Mapped[datetime]
    resolved_at: Mapped[datetime | None]


class CrisisCase(Base):
    __tablename__ = "crisis_cases"
    __table_args__ = (UniqueConstraint("crisis_id", "case_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    crisis_id: Mapped[int] = mapped_column(ForeignKey("crises.id", ondelete="CASCADE"), index=True)
    case_id: Mapped[int] = mapped_column(ForeignKey("cases.id", ondelete="CASCADE"), index=True)
    linked_at: Mapped[datetime]
    linked_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))


class CrisisEvent(EventLogMixin, Base):
    """The crisis timeline: declared, status updates, cases linked, severity and owner changes, pages."""

    __tablename__ = "crisis_events"
    __table_args__ = (Index("ix_crisis_events_crisis_id_id", "crisis_id", "id"),)

    crisis_id: Mapped[int] = mapped_column(ForeignKey("crises.id", ondelete="RESTRICT"))
