"""Shapes of the oncall API: schedules, overrides, swaps, feeds, ladders, escalations, pages, crises,
webhook endpoints."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from pydantic import AwareDatetime, Field

from trustdesk.core.schemas import DbId, Out, StrictIn, TimeZoneName

KEY = r"^[a-z0-9][a-z0-9_.-]{0,63}$"


class RestrictionIn(StrictIn):
    days: list[str] = Field(default_factory=list, description="mon..sun on which the window starts; empty: every day")
    start: str = Field(pattern=r"^\d\d:\d\d$", examples=["09:00"])
    end: str = Field(pattern=r"^\d\d:\d\d$", description="Before start: runs past midnight; equal: 24 hours",
                     examples=["17:00"])


class LayerIn(StrictIn):
    name: str = Field(min_length=1, max_length=100)
    time_zone: TimeZoneName
    starts_at: AwareDatetime = Field(description="The first handoff: the first participant starts here")
    ends_at: AwareDatetime | None = None
    handoff: str = Field(min_length=1, max_length=300, examples=["FREQ=WEEKLY;BYDAY=MO;BYHOUR=9;BYMINUTE=0"],
                         description="RFC 5545 RRULE of the handoffs, in the layer's local time")
    participants: list[DbId] = Field(min_length=1, max_length=100, description="User ids in rotation order")
    restrictions: list[RestrictionIn] = Field(default_factory=list, max_length=14)


class ScheduleIn(StrictIn):
    key: str = Field(pattern=KEY)
    name: str = Field(min_length=1, max_length=100)
    team: str | None = Field(default=None, description="The team whose oncall this is (its key)")
    time_zone: TimeZoneName = "UTC"
    description: str = Field(default="", max_length=500)
    layers: list[LayerIn] = Field(default_factory=list, max_length=20,
                                  description="Later layers win where they have someone")


class LayerOut(Out):
    position: int
    name: str
    time_zone: str
    starts_at: datetime
    ends_at: datetime | None
    handoff: str
    participants: list[int]
    restrictions: list[dict[str, Any]]


class ScheduleOut(Out):
    id: int
    key: str
    name: str
    team_id: int | None
    time_zone: str
    description: str
    layers: list[LayerOut] = []


class ShiftOut(Out):
    starts_at: datetime
    ends_at: datetime
    user_id: int
    name: str
    source: str = Field(description="The layer's name, override or swap")


class GapOut(Out):
    starts_at: datetime
    ends_at: datetime


class FinalScheduleOut(Out):
    schedule: str
    since: datetime
    until: datetime
    shifts: list[ShiftOut]
    gaps: list[GapOut]
    coverage: float = Field(description="Share of the period someone is on call, 0..1")
    fairness: float = Field(description="1 - Gini coefficient of the participants' oncall time, 0..1")
    hours: dict[str, float] = Field(description="Hours on call per user id")
    now: ShiftOut | None
    next: ShiftOut | None


class OncallNowOut(Out):
    schedule: str
    user_id: int | None
    name: str | None


class OverrideIn(StrictIn):
    starts_at: AwareDatetime
    ends_at: AwareDatetime
    user_id: DbId | None = Field(default=None, description="Who covers; empty leaves the period uncovered")
    reason: str = Field(default="", max_length=300)


class OverrideOut(Out):
    id: int
    starts_at: datetime
    ends_at: datetime
    user_id: int | None
    reason: str


class SwapIn(StrictIn):
    starts_at: AwareDatetime
    ends_at: AwareDatetime
    giver_id: DbId
    taker_id: DbId
    reason: str = Field(default="", max_length=300)


class SwapOut(Out):
    id: int
    starts_at: datetime
    ends_at: datetime
    giver_id: int
    taker_id: int
    reason: str


class FeedOut(Out):
    id: int
    prefix: str
    schedule_id: int | None
    user_id: int | None
    created_at: datetime
    url: str | None = Field(default=None, description="Shown once, when the feed is created")


class LadderIn(StrictIn):
    key: str = Field(pattern=KEY)
    name: str = Field(min_length=1, max_length=100)
    position: int = Field(default=100, ge=0, le=10_000)
    is_active: bool = True
    triggers: list[str] = Field(min_length=1, description="breach, warning, urgent, manual, crisis")
    conditions: dict[str, list[str]] = Field(default_factory=dict, description='{"teams": [...], "markets": [...], '
                                                                            '"priorities": [...]}')
    steps: list[dict[str, Any]] = Field(min_length=1, max_length=50, examples=[[
        {"type": "notify_oncall", "schedule": "payments-oncall"}, {"type": "wait", "minutes": 15},
        {"type": "notify_users", "users": [3]}, {"type": "repeat", "times": 2}]])
    ack_timeout_minutes: int | None = Field(default=None, ge=1, le=10_080)


class LadderOut(Out):
    id: int
    key: str
    name: str
    version: int
    position: int
    is_active: bool
    triggers: list[str]
    conditions: dict[str, Any]
    steps: list[dict[str, Any]]
    ack_timeout_minutes: int | None


class EscalateIn(StrictIn):
    reason: str = Field(min_length=1, max_length=500)
    ladder: str | None = Field(default=None, pattern=KEY, description="A ladder's key; default: the one that applies")


class ResolveIn(StrictIn):
    reason: str = Field(default="", max_length=200)


class EscalationOut(Out):
    id: int
    case_id: int
    crisis_id: int | None
    ladder_key: str
    ladder_version: int
    steps: list[dict[str, Any]]
    trigger: str
    reason: str
    status: str
    round: int
    step_index: int
    next_run_at: datetime | None
    started_at: datetime
    acknowledged_at: datetime | None
    acknowledged_by_id: int | None
    ack_deadline_at: datetime | None
    ack_timeouts: int
    ended_at: datetime | None
    ended_reason: str | None


class PageOut(Out):
    id: int
    user_id: int
    case_id: int | None
    escalation_id: int | None
    crisis_id: int | None
    schedule_key: str | None
    title: str
    created_at: datetime
    acknowledged_at: datetime | None


class CrisisIn(StrictIn):
    title: str = Field(min_length=1, max_length=200)
    severity: str = Field(pattern=r"^sev[1-4]$")
    summary: str = Field(default="", max_length=4000)
    owner_id: DbId | None = Field(default=None, description="Default: whoever declares it")


class CrisisUpdateIn(StrictIn):
    body: str = Field(min_length=1, max_length=4000)
    status: str | None = None
    severity: str | None = Field(default=None, pattern=r"^sev[1-4]$")
    owner_id: DbId | None = None


class CrisisLinkIn(StrictIn):
    case_id: DbId


class CrisisEventOut(Out):
    type: str
    actor_id: int | None
    occurred_at: datetime
    data: dict[str, Any]


class CrisisOut(Out):
    id: int
    case_id: int
    title: str
    severity: str
    status: str
    owner_id: int
    summary: str
    declared_at: datetime
    updated_at: datetime
    resolved_at: datetime | None
    case_ids: list[int] = []
    timeline: list[CrisisEventOut] = []


class WebhookIn(StrictIn):
    key: str = Field(pattern=KEY)
    url: str = Field(min_length=1, max_length=2000)
    event_types: list[str] = Field(min_length=1, description="* or page.triggered, page.acknowledged, ...")
    description: str = Field(default="", max_length=300)
    is_active: bool = True


class WebhookOut(Out):
    id: int
    key: str
    url: str
    event_types: list[str]
    description: str
    is_active: bool
    created_at: datetime


class WebhookSecretOut(WebhookOut):
    secret: str = Field(description="Shown when created or rotated, never again: verify signatures with it")


class LoadOut(Out):
    user_id: int
    person: str
    week: str = Field(examples=["2026-W12"])
    pages: int


class OncallMetricsOut(Out):
    since: datetime
    until: datetime
    t1_cases: int = Field(description="Cases created in the period and first routed to a Tier 1 team")
    escalated_from_t1: int
    escalation_rate: float | None = Field(description="escalated_from_t1 / t1_cases")
    t1_to_t2: int
    t1_to_t2_rate: float | None
    to_oncall: int
    to_oncall_rate: float | None
    escalations: int
    escalations_by_trigger: dict[str, int]
    acknowledged: int
    time_to_ack_median_seconds: float | None
    time_to_ack_p90_seconds: float | None = Field(description="Nearest-rank 90th percentile")
    pages: int
    pages_per_person_week: list[LoadOut]
