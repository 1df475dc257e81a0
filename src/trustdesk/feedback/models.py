"""Feedback tables: the customer's rating of a resolved case (CSAT) and its survey, the sentiment of
customer messages and the rules that flag negative cases, and QA: scorecards, sampling, reviews,
calibration sessions and coaching notes."""

from __future__ import annotations

from datetime import date, datetime
from enum import StrEnum
from typing import Any

from sqlalchemy import CheckConstraint, Date, ForeignKey, Index, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from trustdesk.core.db import Base, JSONType


class CaseRating(Base):
    """One rating per case; rating again replaces it (the latest counts). Every rating, the
    replaced ones included, stays in the case's event log as ``csat.rated``."""

    __tablename__ = "case_ratings"
    __table_args__ = (CheckConstraint("score BETWEEN 1 AND 5", name="score_range"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    case_id: Mapped[int] = mapped_column(ForeignKey("cases.id", ondelete="CASCADE"), unique=True)
    party_id: Mapped[int] = mapped_column(ForeignKey("parties.id", ondelete="RESTRICT"), index=True)
    team_id: Mapped[int | None] = mapped_column(ForeignKey("teams.id", ondelete="SET NULL"), index=True)
    score: Mapped[int]  # 1 (very dissatisfied) .. 5 (very satisfied)
    comment: Mapped[str] = mapped_column(String(2000), default="")
    channel: Mapped[str] = mapped_column(String(16))  # where the rating was given
    reason: Mapped[str] = mapped_column(String(16), default="")  # a LowRatingReason, asked on bad ratings
    rated_at: Mapped[datetime] = mapped_column(index=True)


# --- CSAT surveys ------------------------------------------------------------------------------------------


class SurveyScale(StrEnum):
    FIVE_POINT = "five_point"  # 1 .. 5; 4 and 5 are good
    GOOD_BAD = "good_bad"  # good (stored as 5) or bad (stored as 1)


class SurveySettings(Base):
    """How and when the survey goes out after a case on this channel is solved."""

    __tablename__ = "csat_survey_settings"

    id: Mapped[int] = mapped_column(primary_key=True)
    channel: Mapped[str] = mapped_column(String(16), unique=True)
    enabled: Mapped[bool] = mapped_column(default=True)
    delay_minutes: Mapped[int] = mapped_column(default=60)  # after the case is solved
    response_window_hours: Mapped[int] = mapped_column(default=7 * 24)  # after it is sent
    scale: Mapped[str] = mapped_column(String(16), default=SurveyScale.FIVE_POINT.value)
    updated_at: Mapped[datetime]


class SurveyStatus(StrEnum):
    SCHEDULED = "scheduled"
    SENT = "sent"
    ANSWERED = "answered"
    EXPIRED = "expired"
    CANCELLED = "cancelled"  # reopened before it went out, or merged


class CsatSurvey(Base):
    """One survey per case; its link carries a token (only its hash is stored) that needs no login."""

    __tablename__ = "csat_surveys"
    __table_args__ = (Index("ix_csat_surveys_status_send_after", "status", "send_after"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    case_id: Mapped[int] = mapped_column(ForeignKey("cases.id", ondelete="CASCADE"), unique=True)
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    channel: Mapped[str] = mapped_column(String(16))
    scale: Mapped[str] = mapped_column(String(16))
    status: Mapped[str] = mapped_column(String(16))
    send_after: Mapped[datetime]
    sent_at: Mapped[datetime | None]
    expires_at: Mapped[datetime | None]
    answered_at: Mapped[datetime | None]
    created_at: Mapped[datetime]


class LowRatingReason(StrEnum):
    """Why a rating was bad, as the customer picks it (the survey asks on bad ratings only)."""

    SLOW = "slow"  # it took too long
    NOT_RESOLVED = "not_resolved"  # the problem is not solved
    UNHELPFUL = "unhelpful"  # the answer did not help
    RUDE = "rude"  # the agent's manner
    POLICY = "policy"  # the rule itself (refund refused, ...)
    TRANSFERRED = "transferred"  # passed around between teams
    OTHER = "other"


# --- sentiment ---------------------------------------------------------------------------------------------


class MessageSentiment(Base):
    """The sentiment of one customer message, scored when it arrived (-1 negative .. 1 positive)."""

    __tablename__ = "message_sentiments"

    message_id: Mapped[int] = mapped_column(ForeignKey("case_messages.id", ondelete="CASCADE"), primary_key=True,
                                            autoincrement=False)
    case_id: Mapped[int] = mapped_column(ForeignKey("cases.id", ondelete="CASCADE"), index=True)
    score: Mapped[float]
    label: Mapped[str] = mapped_column(String(8))  # negative, neutral, positive
    language: Mapped[str] = mapped_column(String(16))
    model: Mapped[str] = mapped_column(String(64))  # which scorer and version
    scored_at: Mapped[datetime]


class SentimentRule(Base):
    """Flag a case whose customer sounds this negative: a tag, and optionally a higher priority."""

    __tablename__ = "sentiment_rules"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(200))
    threshold: Mapped[float]  # a message scoring at or below it fires the rule
    market: Mapped[str | None] = mapped_column(String(8))  # empty: every market
    topic_prefix: Mapped[str | None] = mapped_column(String(200))  # empty: every topic
    tag: Mapped[str] = mapped_column(String(64), default="negative-sentiment")
    raise_priority_to: Mapped[str | None] = mapped_column(String(8))
    active: Mapped[bool] = mapped_column(default=True)
    created_at: Mapped[datetime]


# --- QA and coaching ---------------------------------------------------------------------------------------


class QaScorecard(Base):
    """A versioned scorecard: editing its criteria writes a new version; reviews keep the one they used."""

    __tablename__ = "qa_scorecards"
    __table_args__ = (UniqueConstraint("key", "version"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    key: Mapped[str] = mapped_column(String(64))
    version: Mapped[int]
    name: Mapped[str] = mapped_column(String(200))
    criteria: Mapped[list[dict[str, Any]]] = mapped_column(JSONType)  # key, label, weight, auto_fail, guidance
    pass_mark: Mapped[float] = mapped_column(default=80.0)  # a QA score at or above passes
    active: Mapped[bool] = mapped_column(default=True)  # the version in use
    created_by_user_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    created_at: Mapped[datetime]


class QaSamplingRule(Base):
    """Which solved cases a team's QA reviews: a share per agent per week, plus every low-CSAT and escalated case."""

    __tablename__ = "qa_sampling_rules"

    id: Mapped[int] = mapped_column(primary_key=True)
    team_id: Mapped[int | None] = mapped_column(ForeignKey("teams.id", ondelete="CASCADE"), unique=True)
    scorecard_key: Mapped[str] = mapped_column(String(64))
    percent_per_agent: Mapped[float] = mapped_column(default=5.0)
    min_per_agent: Mapped[int] = mapped_column(default=1)  # per week, when the agent solved any
    include_low_csat: Mapped[bool] = mapped_column(default=True)  # ratings of 1 or 2
    include_escalated: Mapped[bool] = mapped_column(default=True)
    updated_at: Mapped[datetime]


class QaSample(Base):
    """A solved case picked for review, and why."""

    __tablename__ = "qa_samples"
    __table_args__ = (UniqueConstraint("case_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    case_id: Mapped[int] = mapped_column(ForeignKey("cases.id", ondelete="CASCADE"))
    agent_id: Mapped[int | None] = mapped_column(ForeignKey("agents.id", ondelete="SET NULL"), index=True)
    week: Mapped[date] = mapped_column(Date, index=True)  # the Monday of the week it was solved
    reason: Mapped[str] = mapped_column(String(16))  # random, low_csat, escalated
    scorecard_key: Mapped[str] = mapped_column(String(64))
    status: Mapped[str] = mapped_column(String(16), default="open")  # open, reviewed
    created_at: Mapped[datetime]


class QaEvaluation(Base):
    """One reviewer's scoring of one case on one scorecard version."""

    __tablename__ = "qa_evaluations"
    __table_args__ = (UniqueConstraint("case_id", "reviewer_user_id", "calibration_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    case_id: Mapped[int] = mapped_column(ForeignKey("cases.id", ondelete="CASCADE"), index=True)
    agent_id: Mapped[int | None] = mapped_column(ForeignKey("agents.id", ondelete="SET NULL"), index=True)
    reviewer_user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="RESTRICT"))
    scorecard_id: Mapped[int] = mapped_column(ForeignKey("qa_scorecards.id", ondelete="RESTRICT"))
    sample_id: Mapped[int | None] = mapped_column(ForeignKey("qa_samples.id", ondelete="SET NULL"))
    calibration_id: Mapped[int | None] = mapped_column(ForeignKey("qa_calibrations.id", ondelete="CASCADE"))
    answers: Mapped[dict[str, Any]]  # criterion key -> {"met": bool, "comment": str}
    score: Mapped[float]  # 0 .. 100; 0 when an auto-fail criterion is not met
    auto_failed: Mapped[bool]
    comment: Mapped[str] = mapped_column(String(4000), default="")
    submitted_at: Mapped[datetime] = mapped_column(index=True)


class QaCalibration(Base):
    """A calibration session: several reviewers score the same case blind, then compare."""

    __tablename__ = "qa_calibrations"

    id: Mapped[int] = mapped_column(primary_key=True)
    case_id: Mapped[int] = mapped_column(ForeignKey("cases.id", ondelete="CASCADE"), index=True)
    scorecard_id: Mapped[int] = mapped_column(ForeignKey("qa_scorecards.id", ondelete="RESTRICT"))
    title: Mapped[str] = mapped_column(String(200))
    reviewer_user_ids: Mapped[list[str]]
    status: Mapped[str] = mapped_column(String(16), default="open")  # open, closed
    agreement: Mapped[float | None]  # share of criteria on which the reviewers agree, when closed
    created_by_user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="RESTRICT"))
    created_at: Mapped[datetime]
    closed_at: Mapped[datetime | None]


class CoachingNote(Base):
    """A note to an agent from a lead or QA, usually on a review; the agent sees it and acknowledges it."""

    __tablename__ = "qa_coaching_notes"

    id: Mapped[int] = mapped_column(primary_key=True)
    agent_id: Mapped[int] = mapped_column(ForeignKey("agents.id", ondelete="CASCADE"), index=True)
    evaluation_id: Mapped[int | None] = mapped_column(ForeignKey("qa_evaluations.id", ondelete="SET NULL"))
    author_user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="RESTRICT"))
    body: Mapped[str] = mapped_column(String(4000))
    created_at: Mapped[datetime]
    acknowledged_at: Mapped[datetime | None]
