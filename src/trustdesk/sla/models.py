"""SLA tables: business-hours calendars and their holidays."""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

from sqlalchemy import ForeignKey, Index, String, UniqueConstraint, text
from sqlalchemy.orm import Mapped, mapped_column

from trustdesk.core.db import Base, JSONType


class BusinessCalendar(Base):
    """Open hours of a team or market: weekly hours in a time zone, or round the clock."""

    __tablename__ = "calendars"

    id: Mapped[int] = mapped_column(primary_key=True)
    key: Mapped[str] = mapped_column(String(64), unique=True)
    name: Mapped[str] = mapped_column(String(100))
    time_zone: Mapped[str] = mapped_column(String(64))
    always_open: Mapped[bool] = mapped_column(default=False)
    # {"mon": ["09:00-12:00", "13:00-18:00"], ..., "sun": []}; "22:00-06:00" runs into the next day
    weekly: Mapped[dict[str, Any]] = mapped_column(JSONType)
    created_at: Mapped[datetime]
    updated_at: Mapped[datetime]


class CalendarHoliday(Base):
    """A day with other hours than the week's: closed (no hours) or short hours."""

    __tablename__ = "calendar_holidays"
    __table_args__ = (UniqueConstraint("calendar_id", "day"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    calendar_id: Mapped[int] = mapped_column(ForeignKey("calendars.id", ondelete="CASCADE"), index=True)
    day: Mapped[date]
    name: Mapped[str] = mapped_column(String(200))
    hours: Mapped[list[str]] = mapped_column(JSONType)  # empty: closed all day
    source: Mapped[str] = mapped_column(String(16))  # manual | ical
    source_uid: Mapped[str | None] = mapped_column(String(300))  # the iCalendar event's UID
    created_at: Mapped[datetime]


class SlaPolicy(Base):
    """Ordered: the first active policy whose conditions all hold applies; the default catches the rest.

    ``conditions``: {"markets": [...], "channels": [...], "priorities": [...], "party_kinds": [...],
    "tiers": [...], "topics": [...]} (an empty or missing list matches anything; a topic matches itself
    and its descendants). ``targets``: {priority: {metric: {"minutes": int, "business": bool}}}.
    Editing bumps ``version``; cases keep the terms they were given (``case_slas``).
    """

    __tablename__ = "sla_policies"

    id: Mapped[int] = mapped_column(primary_key=True)
    key: Mapped[str] = mapped_column(String(64), unique=True)
    name: Mapped[str] = mapped_column(String(100))
    version: Mapped[int] = mapped_column(default=1)
    position: Mapped[int] = mapped_column(default=100)
    is_default: Mapped[bool] = mapped_column(default=False)
    is_active: Mapped[bool] = mapped_column(default=True)
    conditions: Mapped[dict[str, Any]] = mapped_column(JSONType)
    calendar_key: Mapped[str | None] = mapped_column(String(64))  # None: round the clock (UTC)
    targets: Mapped[dict[str, Any]] = mapped_column(JSONType)
    warn_fraction: Mapped[float] = mapped_column(default=0.75)
    # When set, the warning comes this many minutes before due instead of at ``warn_fraction``.
    warn_minutes_before: Mapped[int | None]
    pause_on: Mapped[list[str]] = mapped_column(JSONType)  # whom waiting on pauses the customer clocks
    created_at: Mapped[datetime]
    updated_at: Mapped[datetime]


class CaseSla(Base):
    """The terms a case was given when its policy applied: a copy, so editing the policy never moves
    a running clock."""

    __tablename__ = "case_slas"

    id: Mapped[int] = mapped_column(primary_key=True)
    case_id: Mapped[int] = mapped_column(ForeignKey("cases.id", ondelete="CASCADE"), unique=True)
    policy_id: Mapped[int | None] = mapped_column(ForeignKey("sla_policies.id", ondelete="SET NULL"))
    policy_key: Mapped[str] = mapped_column(String(64))
    policy_version: Mapped[int]
    priority: Mapped[str] = mapped_column(String(8))
    calendar_key: Mapped[str | None] = mapped_column(String(64))
    # {"targets": {metric: {"minutes", "business"}}, "warn_fraction": f, "warn_minutes_before": n | null,
    #  "pause_on": [...], "earlier": [...]}: "earlier" keeps the terms the case had before its priority
    # changed, oldest first (each with its policy, version, priority, calendar_key and applied_at), so
    # clocks that stopped under them keep their verdict (``sla.clocks.run_periods``).
    terms: Mapped[dict[str, Any]] = mapped_column(JSONType)
    applied_at: Mapped[datetime]  # when these terms were given (at intake, or when the priority changed)


class SlaTimer(Base):
    """A running or paused clock of an open case, kept for the sweep that finds what falls due.

    Written by ``sla.timers.refresh`` from the same fold as the case's clocks whenever the case's
    events change; a closed case's rows are removed (their story stays in the event log). ``state`` is
    the clock's outcome at the last refresh, so the next one can tell what changed (paused, resumed,
    met) and record it once. The sweep marks ``warning_sent_at`` / ``breach_sent_at``, so each warning
    and breach is announced once per due time (a due time moved later, e.g. by a lower priority, may
    be announced again when it comes).
    """

    __tablename__ = "sla_timers"
    __table_args__ = (
        UniqueConstraint("case_id", "metric", "seq"),
        # Only what is still to be announced: the sweep's range scans stay as small as the work.
        Index("ix_sla_timers_breach_pending", "due_at", sqlite_where=text("breach_sent_at IS NULL"),
              postgresql_where=text("breach_sent_at IS NULL")),
        Index("ix_sla_timers_warning_pending", "warn_at", sqlite_where=text("warning_sent_at IS NULL"),
              postgresql_where=text("warning_sent_at IS NULL")),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    case_id: Mapped[int] = mapped_column(ForeignKey("cases.id", ondelete="CASCADE"), index=True)
    metric: Mapped[str] = mapped_column(String(20))
    seq: Mapped[int]  # which clock of that metric (next reply and periodic update start again)
    started_at: Mapped[datetime]
    due_at: Mapped[datetime | None]  # None while paused
    warn_at: Mapped[datetime | None]
    warning_sent_at: Mapped[datetime | None]  # the sweep announced the warning
    breach_sent_at: Mapped[datetime | None]  # the sweep announced the breach
    # running | paused | fulfilled | cancelled (clocks.Outcome); None: unknown (a row older than this column)
    state: Mapped[str | None] = mapped_column(String(12))
