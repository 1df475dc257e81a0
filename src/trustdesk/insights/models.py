"""Insight tables: the case facts folded from the event log, emerging issues, OKRs and report schedules.

``case_facts`` is a read model, not a source of truth: each row is a pure fold of one case's events
(``insights.facts.fold``) and can be rebuilt from the log at any time (``trustdesk insights rebuild``).
It exists so a dashboard reads one indexed row per case instead of folding a million event lists.
Every write of a case event marks the case stale in the same transaction (``core.events.StaleCase``);
the refresh job folds the stale cases again, so no committed event is ever missed, whatever order
concurrent transactions commit in.
"""

from __future__ import annotations

from datetime import date, datetime
from enum import StrEnum
from typing import Any

from sqlalchemy import Date, ForeignKey, Index, String, UniqueConstraint, text
from sqlalchemy.orm import Mapped, mapped_column

from trustdesk.core.db import Base
from trustdesk.core.events import EventLogMixin

LOW_RATING = 2  # a rating of 1 or 2 is low: the survey asks why, the quality dashboard shows why
RATED_CARRIES = ("csat_score", "market", "team_id", "tier", "channel", "topic")


class CaseFact(Base):
    """One case as its events tell it: who it was for, where it went, how fast, how it ended."""

    __tablename__ = "case_facts"
    __table_args__ = (
        Index("ix_case_facts_created_at", "created_at"),
        # The times a dashboard reads with the moment that puts them in a period (PostgreSQL reads them from
        # the index alone), and an index on every other moment a metric counts from (bench/insights.py).
        Index("ix_case_facts_solved_at", "solved_at",
              postgresql_include=["resolution_minutes", "resolution_business_minutes"]),
        Index("ix_case_facts_first_reply_at", "first_reply_at",
              postgresql_include=["first_reply_minutes", "first_reply_business_minutes"]),
        Index("ix_case_facts_first_solved_at", "first_solved_at"),
        # The ratings of a period with what their breakdowns read (CSAT by agent reads the facts), and the low
        # ones (the reasons and comments of the quality dashboard) on their own.
        Index("ix_case_facts_csat_rated_at", "csat_rated_at", postgresql_include=[*RATED_CARRIES, "agent_id"]),
        Index("ix_case_facts_low_ratings", "csat_rated_at", postgresql_include=[*RATED_CARRIES, "case_id", "reference"],
              postgresql_where=text(f"csat_score <= {LOW_RATING}"), sqlite_where=text(f"csat_score <= {LOW_RATING}")),
        Index("ix_case_facts_status_created_at", "status", "created_at"),
        # The follow-ups (cases linked to an earlier solved one) by when they were opened: the repeat rate's set.
        Index("ix_case_facts_follow_ups", "created_at", postgresql_include=["repeat_of_case_id", "repeat_gap_minutes"],
              postgresql_where=text("repeat_of_case_id IS NOT NULL"),
              sqlite_where=text("repeat_of_case_id IS NOT NULL")),
        Index("ix_case_facts_market_created_at", "market", "created_at"),
        Index("ix_case_facts_topic_market_created_at", "topic", "market", "created_at"),
        Index("ix_case_facts_party_topic", "party_id", "topic", "created_at"),
        # The minutes in order, with their moment and market: a percentile reads one bucket's values from here.
        *(Index(f"ix_case_facts_{minutes}", minutes, postgresql_include=[moment, "market"])
          for minutes, moment in (("first_reply_minutes", "first_reply_at"),
                                  ("first_reply_business_minutes", "first_reply_at"),
                                  ("resolution_minutes", "solved_at"), ("resolution_business_minutes", "solved_at"))),
    )

    case_id: Mapped[int] = mapped_column(ForeignKey("cases.id", ondelete="CASCADE"), primary_key=True,
                                         autoincrement=False)
    reference: Mapped[str | None] = mapped_column(String(32))
    market: Mapped[str] = mapped_column(String(8))
    channel: Mapped[str] = mapped_column(String(16))
    language: Mapped[str] = mapped_column(String(16))
    party_id: Mapped[int]
    party_kind: Mapped[str] = mapped_column(String(16))
    topic: Mapped[str | None] = mapped_column(String(200))  # the case's topic as it stands (corrections count)
    priority: Mapped[str] = mapped_column(String(8))
    status: Mapped[str] = mapped_column(String(8))
    first_team_id: Mapped[int | None]  # where routing first sent it
    team_id: Mapped[int | None]  # where it is (or ended)
    tier: Mapped[str | None] = mapped_column(String(16))  # the tier of team_id
    agent_id: Mapped[int | None]  # who had it when it was last solved (else who has it now)
    calendar: Mapped[str | None] = mapped_column(String(64))  # the SLA calendar business times are measured on
    created_at: Mapped[datetime]
    first_reply_at: Mapped[datetime | None]
    first_reply_minutes: Mapped[float | None]
    first_reply_business_minutes: Mapped[float | None]
    solved_at: Mapped[datetime | None]  # the last time it was solved (a reopened case keeps counting)
    first_solved_at: Mapped[datetime | None]
    resolution_minutes: Mapped[float | None]
    resolution_business_minutes: Mapped[float | None]
    reopens: Mapped[int] = mapped_column(default=0)
    routed: Mapped[bool] = mapped_column(default=False)  # routing named an owning team (not triage)
    misrouted: Mapped[bool] = mapped_column(default=False)
    hops: Mapped[int] = mapped_column(default=0)
    handled_by_t1: Mapped[bool] = mapped_column(default=False)
    escalated_from_t1: Mapped[bool] = mapped_column(default=False)
    csat_score: Mapped[int | None]  # the latest rating counts
    csat_rated_at: Mapped[datetime | None]
    # The same party's latest earlier case on the same topic that was solved before this one was opened,
    # and how long after that solve this one came: a repeat when within the metric's window (7 days).
    repeat_of_case_id: Mapped[int | None] = mapped_column(index=True)
    repeat_gap_minutes: Mapped[float | None]
    sentiment_first: Mapped[float | None]  # of the customer's first and last scored message, -1 .. 1
    sentiment_last: Mapped[float | None]
    sentiment_min: Mapped[float | None]
    events_through: Mapped[int] = mapped_column(default=0)  # the last event id folded in
    refreshed_at: Mapped[datetime]


class DayCount(Base):
    """The counted metrics' numbers (``insights.days``) of one UTC day's case facts, per moment (the fact's
    column that puts a case in a period: ``created_at``, ``first_solved_at``, ``csat_rated_at``, and the SLA
    targets' ``came_due_at``, per target) and per
    combination of the dimensions a dashboard filters and groups by. ``<metric>_n`` is the cases the metric
    counts, ``_h`` its hits (a ratio's numerator), ``_t`` the column it sums (a mean's numerator). Rebuilt
    for every day a fact refresh touches, in the same transaction, so it always agrees with the facts."""

    __tablename__ = "case_fact_days"
    __table_args__ = (Index("ix_case_fact_days_moment_day", "moment", "day"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    moment: Mapped[str] = mapped_column(String(32))
    day: Mapped[date] = mapped_column(Date)
    market: Mapped[str] = mapped_column(String(8))
    team_id: Mapped[int | None]
    first_team_id: Mapped[int | None]
    tier: Mapped[str | None] = mapped_column(String(16))
    channel: Mapped[str] = mapped_column(String(16))
    topic: Mapped[str | None] = mapped_column(String(200))
    target: Mapped[str | None] = mapped_column(String(32))  # the SLA target's metric (moment came_due_at)
    volume_n: Mapped[int] = mapped_column(server_default=text("0"))
    csat_n: Mapped[int] = mapped_column(server_default=text("0"))
    csat_h: Mapped[int] = mapped_column(server_default=text("0"))
    csat_mean_n: Mapped[int] = mapped_column(server_default=text("0"))
    csat_mean_t: Mapped[int] = mapped_column(server_default=text("0"))
    escalation_rate_n: Mapped[int] = mapped_column(server_default=text("0"))
    escalation_rate_h: Mapped[int] = mapped_column(server_default=text("0"))
    reopen_rate_n: Mapped[int] = mapped_column(server_default=text("0"))
    reopen_rate_h: Mapped[int] = mapped_column(server_default=text("0"))
    repeat_rate_n: Mapped[int] = mapped_column(server_default=text("0"))
    repeat_rate_h: Mapped[int] = mapped_column(server_default=text("0"))
    misroute_rate_n: Mapped[int] = mapped_column(server_default=text("0"))
    misroute_rate_h: Mapped[int] = mapped_column(server_default=text("0"))
    hops_per_case_n: Mapped[int] = mapped_column(server_default=text("0"))
    hops_per_case_t: Mapped[int] = mapped_column(server_default=text("0"))
    negative_sentiment_rate_n: Mapped[int] = mapped_column(server_default=text("0"))
    negative_sentiment_rate_h: Mapped[int] = mapped_column(server_default=text("0"))
    sentiment_worsened_rate_n: Mapped[int] = mapped_column(server_default=text("0"))
    sentiment_worsened_rate_h: Mapped[int] = mapped_column(server_default=text("0"))
    sla_compliance_n: Mapped[int] = mapped_column(server_default=text("0"))
    sla_compliance_h: Mapped[int] = mapped_column(server_default=text("0"))


class TimeDayCount(Base):
    """How many of one UTC day's reply or resolution times (``measure``: the fact's minutes column, counted on
    the day of its moment) fell in each bucket of ``insights.days.TIME_EDGES``, per market: where the ranks
    of a median or a p90 lie, so only the values of those buckets are read in order (PostgreSQL)."""

    __tablename__ = "case_time_days"
    __table_args__ = (Index("ix_case_time_days_measure_day", "measure", "day"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    measure: Mapped[str] = mapped_column(String(40))
    day: Mapped[date] = mapped_column(Date)
    market: Mapped[str] = mapped_column(String(8))
    bucket: Mapped[int]
    n: Mapped[int]


class TargetFact(Base):
    """One SLA target of one case that came due: met in time, or breached (when it went past due)."""

    __tablename__ = "case_target_facts"
    __table_args__ = (Index("ix_case_target_facts_came_due_at", "came_due_at",
                            postgresql_include=["met", "metric", "case_id"]),)

    id: Mapped[int] = mapped_column(primary_key=True)
    case_id: Mapped[int] = mapped_column(ForeignKey("case_facts.case_id", ondelete="CASCADE"), index=True)
    metric: Mapped[str] = mapped_column(String(32))
    came_due_at: Mapped[datetime]  # when it was met (on time) or when it breached
    met: Mapped[bool]


class IssueStatus(StrEnum):
    ACTIVE = "active"
    ENDED = "ended"


class EmergingCheck(Base):
    """One day of one topic x market judged against its baseline (kept for the chart and the audit)."""

    __tablename__ = "emerging_checks"
    __table_args__ = (UniqueConstraint("topic", "market", "day"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    topic: Mapped[str] = mapped_column(String(200))
    market: Mapped[str] = mapped_column(String(8))
    day: Mapped[date] = mapped_column(Date, index=True)
    observed: Mapped[int]
    expected: Mapped[float]
    p_value: Mapped[float]
    flagged: Mapped[bool]
    checked_at: Mapped[datetime]


class EmergingIssue(Base):
    """A topic x market whose volume is improbably high; one row (and one alert) while it lasts."""

    __tablename__ = "emerging_issues"
    __table_args__ = (
        Index("uq_emerging_issues_active", "topic", "market", unique=True,
              sqlite_where=text("status = 'active'"), postgresql_where=text("status = 'active'")),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    topic: Mapped[str] = mapped_column(String(200))
    market: Mapped[str] = mapped_column(String(8))
    status: Mapped[str] = mapped_column(String(8), default=IssueStatus.ACTIVE.value)
    started_on: Mapped[date] = mapped_column(Date)
    last_flagged_on: Mapped[date] = mapped_column(Date)
    ended_on: Mapped[date | None] = mapped_column(Date)
    peak_observed: Mapped[int]
    expected: Mapped[float]  # the baseline on the first day
    p_value: Mapped[float]  # the first day's
    total_cases: Mapped[int] = mapped_column(default=0)
    owner_team_id: Mapped[int | None] = mapped_column(ForeignKey("teams.id", ondelete="SET NULL"))
    owner_user_ids: Mapped[list[str]]  # who was alerted (user ids as text, from the catalogue)
    example_case_ids: Mapped[list[str]]
    alerted_at: Mapped[datetime | None]
    acknowledged_by_user_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    acknowledged_at: Mapped[datetime | None]
    note: Mapped[str] = mapped_column(String(2000), default="")
    created_at: Mapped[datetime]


class EmergingIssueEvent(EventLogMixin, Base):
    """The emerging issues' append-only log: opened (and who was alerted), flagged on a further day,
    acknowledged, ended (quiet days, or by hand, and by whom)."""

    __tablename__ = "emerging_issue_events"
    __table_args__ = (Index("ix_emerging_issue_events_issue_id_id", "issue_id", "id"),)

    issue_id: Mapped[int] = mapped_column(ForeignKey("emerging_issues.id", ondelete="RESTRICT"))


class Direction(StrEnum):
    AT_LEAST = "at_least"  # higher is better: the target is a floor
    AT_MOST = "at_most"  # lower is better: the target is a ceiling


class Objective(Base):
    __tablename__ = "okr_objectives"

    id: Mapped[int] = mapped_column(primary_key=True)
    title: Mapped[str] = mapped_column(String(300))
    description: Mapped[str] = mapped_column(String(2000), default="")
    owner_user_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    period_start: Mapped[date] = mapped_column(Date)
    period_end: Mapped[date] = mapped_column(Date)  # inclusive
    archived: Mapped[bool] = mapped_column(default=False)
    created_at: Mapped[datetime]
    updated_at: Mapped[datetime]


class KeyResult(Base):
    """A measurable result bound to one metric definition, a filter, a target and a direction."""

    __tablename__ = "okr_key_results"

    id: Mapped[int] = mapped_column(primary_key=True)
    objective_id: Mapped[int] = mapped_column(ForeignKey("okr_objectives.id", ondelete="CASCADE"), index=True)
    title: Mapped[str] = mapped_column(String(300))
    metric: Mapped[str] = mapped_column(String(64))  # a key of insights.metrics.DEFINITIONS
    filters: Mapped[dict[str, Any]]  # market, team, tier, channel, topic
    baseline: Mapped[float | None]  # where it started (progress is measured from it)
    target: Mapped[float]
    direction: Mapped[str] = mapped_column(String(8))
    position: Mapped[int] = mapped_column(default=0)
    created_at: Mapped[datetime]


class DeliveryChannel(StrEnum):
    EMAIL = "email"
    WEBHOOK = "webhook"


class ReportSchedule(Base):
    """The weekly insight report, sent every week after it closes, by e-mail or webhook through the outbox."""

    __tablename__ = "report_schedules"

    id: Mapped[int] = mapped_column(primary_key=True)
    market: Mapped[str | None] = mapped_column(String(8))  # empty: every market
    channel: Mapped[str] = mapped_column(String(8))
    recipient: Mapped[str] = mapped_column(String(320))  # an e-mail address, or a webhook endpoint's key
    weekday: Mapped[int] = mapped_column(default=0)  # 0 = Monday: sent on this day for the week before
    hour: Mapped[int] = mapped_column(default=7)  # UTC
    active: Mapped[bool] = mapped_column(default=True)
    last_week_sent: Mapped[date | None] = mapped_column(Date)  # the Monday of the last week sent
    created_by_user_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    created_at: Mapped[datetime]
