"""Shapes of the SLA API: calendars, holidays, policies and a case's clocks."""

from __future__ import annotations

from datetime import date, datetime

from pydantic import Field

from trustdesk.core.schemas import Out, StrictIn, TimeZoneName

CALENDAR_KEY = r"^[a-z0-9][a-z0-9_.-]{0,63}$"
Hours = list[str]


class CalendarIn(StrictIn):
    key: str = Field(pattern=CALENDAR_KEY, description="Stable key, e.g. us-t1 or follow-the-sun")
    name: str = Field(min_length=1, max_length=100)
    time_zone: TimeZoneName = Field(description="IANA name, e.g. America/New_York")
    always_open: bool = Field(default=False, description="24x7: every hour counts, holidays included")
    weekly: dict[str, Hours] = Field(default_factory=dict, description='{"mon": ["09:00-12:00", "13:00-18:00"]}')


class CalendarOut(Out):
    id: int
    key: str
    name: str
    time_zone: str
    always_open: bool
    weekly: dict[str, Hours]
    created_at: datetime
    updated_at: datetime


class HolidayIn(StrictIn):
    day: date
    name: str = Field(min_length=1, max_length=200)
    hours: Hours = Field(default_factory=list, max_length=10, description="Short hours that day; empty: closed")


class HolidayOut(Out):
    id: int
    day: date
    name: str
    hours: Hours
    source: str


class ImportOut(Out):
    created: int
    updated: int
    unchanged: int
    skipped: list[str]


class DueOut(Out):
    start: datetime
    minutes: int
    due: datetime
    open_now: bool
    next_open: datetime


class TargetIn(StrictIn):
    minutes: int = Field(ge=1, le=525_600)
    business: bool = True


class ConditionsIn(StrictIn):
    markets: list[str] = Field(default_factory=list, max_length=100)
    channels: list[str] = Field(default_factory=list, max_length=20)
    priorities: list[str] = Field(default_factory=list, max_length=4)
    party_kinds: list[str] = Field(default_factory=list, max_length=4)
    tiers: list[str] = Field(default_factory=list, max_length=10)
    topics: list[str] = Field(default_factory=list, max_length=100)


class PolicyIn(StrictIn):
    key: str = Field(pattern=CALENDAR_KEY)
    name: str = Field(min_length=1, max_length=100)
    position: int = Field(default=100, ge=0, le=1_000_000)
    is_default: bool = False
    is_active: bool = True
    conditions: ConditionsIn = Field(default_factory=ConditionsIn)
    calendar_key: str | None = Field(default=None, pattern=CALENDAR_KEY, description="Empty: round the clock")
    targets: dict[str, dict[str, TargetIn]] = Field(description='{"high": {"first_reply": {"minutes": 60}}}')
    warn_fraction: float = Field(default=0.75, gt=0, lt=1)
    warn_minutes_before: int | None = Field(
        default=None, gt=0, le=525_600,
        description="Warn this many minutes before due (business minutes for a business target) instead of at "
                    "warn_fraction; at the start when it is as long as the target")
    pause_on: list[str] = Field(default_factory=lambda: ["customer"], max_length=4)


class PolicyOut(Out):
    id: int
    key: str
    name: str
    version: int
    position: int
    is_default: bool
    is_active: bool
    conditions: dict[str, list[str]]
    calendar_key: str | None
    targets: dict[str, dict[str, dict[str, int | bool]]]
    warn_fraction: float
    warn_minutes_before: int | None
    pause_on: list[str]
    updated_at: datetime


class ClockOut(Out):
    metric: str
    outcome: str
    started_at: datetime
    stopped_at: datetime | None
    due_at: datetime | None
    warn_at: datetime | None
    breached_at: datetime | None
    used_minutes: float
    budget_minutes: float
    business: bool
    history: list[dict[str, str]]


class CaseSlaOut(Out):
    case_id: int
    policy_key: str
    policy_version: int
    priority: str
    calendar_key: str | None
    applied_at: datetime
    clocks: list[ClockOut]


class ComplianceOut(Out):
    key: str = Field(description="The group: a target, queue, team, market or tier")
    metric: str
    met: int = Field(description="Targets met on time in the period")
    breached: int = Field(description="Targets that went past their budget in the period")
    came_due: int
    compliance: float | None = Field(description="met / came_due; empty when nothing came due")
