"""Enforcement decisions with their statements of reasons, appeals against them, reviews, reversals,
quality reviews, out-of-court disputes, misuse measures (DSA Art. 23) and each market's appeals set-up.

An appeal is also a case: it arrives through the appeal form like any contact, so the routing engine
puts it in the appeal queue that owns its policy, market and language, and the SLA policy of that
queue keeps its clock. What only an appeal has (the decision it contests, who may decide it, the
outcome and its reasons, the reversal) lives here.
"""

from __future__ import annotations

from datetime import date, datetime
from enum import StrEnum
from typing import Any

from sqlalchemy import Date, ForeignKey, Index, String, Text, UniqueConstraint, text
from sqlalchemy.orm import Mapped, mapped_column

from trustdesk.core.db import Base
from trustdesk.core.events import EventLogMixin


class ItemKind(StrEnum):
    LISTING = "listing"
    ACCOUNT = "account"
    PAYOUT = "payout"
    CONTENT = "content"


class SourceKind(StrEnum):
    """How the platform found what it acted on."""

    RULE = "rule"
    MODEL = "model"
    HASH_MATCH = "hash_match"
    HUMAN = "human"
    USER_NOTICE = "user_notice"
    TRUSTED_FLAGGER = "trusted_flagger"


AUTOMATED_SOURCES = frozenset({SourceKind.RULE, SourceKind.MODEL, SourceKind.HASH_MATCH})


class DecisionStatus(StrEnum):
    IN_FORCE = "in_force"
    REVERSED = "reversed"  # an appeal overturned it
    PARTIALLY_REVERSED = "partially_reversed"


class AppealStatus(StrEnum):
    OPEN = "open"
    DECIDED = "decided"
    WITHDRAWN = "withdrawn"


class Outcome(StrEnum):
    UPHELD = "upheld"
    OVERTURNED = "overturned"
    PARTIALLY_OVERTURNED = "partially_overturned"


REVERSING = frozenset({Outcome.OVERTURNED, Outcome.PARTIALLY_OVERTURNED})


class AppealReason(StrEnum):
    """Why the appellant says the decision is wrong (their words go in the case's first message)."""

    NOT_A_VIOLATION = "not_a_violation"
    WRONG_ITEM = "wrong_item"
    ALREADY_FIXED = "already_fixed"
    DISPROPORTIONATE = "disproportionate"
    OTHER = "other"


class ReversalStatus(StrEnum):
    REQUESTED = "requested"  # the signed webhook is queued or being retried
    CONFIRMED = "confirmed"  # the enforcement system said it undid the action


class MisuseKind(StrEnum):
    WARNING = "warning"
    SUSPENSION = "suspension"


class DisputeOutcome(StrEnum):
    PENDING = "pending"
    DECISION_UPHELD = "decision_upheld"  # the body agreed with the platform
    DECISION_REVERSED = "decision_reversed"  # the body found for the appellant
    SETTLED = "settled"
    DISCONTINUED = "discontinued"


class QaStatus(StrEnum):
    PENDING = "pending"
    AGREED = "agreed"
    DISAGREED = "disagreed"  # goes to calibration
    CALIBRATED = "calibrated"  # disagreement talked through; the agreed outcome recorded


class EnforcementPolicy(Base):
    """A rule of the platform that decisions apply (counterfeit goods, off-platform payment...)."""

    __tablename__ = "enforcement_policies"

    id: Mapped[int] = mapped_column(primary_key=True)
    key: Mapped[str] = mapped_column(String(64), unique=True)
    name: Mapped[str] = mapped_column(String(200))
    description: Mapped[str] = mapped_column(String(2000), default="")
    owner_user_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    is_active: Mapped[bool] = mapped_column(default=True)
    created_at: Mapped[datetime]


class DetectionSource(Base):
    """What found the content: a rule, a model, a hash list, a moderator team, notices, a trusted flagger."""

    __tablename__ = "detection_sources"

    id: Mapped[int] = mapped_column(primary_key=True)
    key: Mapped[str] = mapped_column(String(64), unique=True)
    kind: Mapped[str] = mapped_column(String(16))
    name: Mapped[str] = mapped_column(String(200))
    owner_user_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    created_at: Mapped[datetime]


class EnforcementDecision(Base):
    """A restriction the platform applied, with the statement of reasons it owed the party.

    ``statement`` holds the statement of reasons in the DSA Transparency Database's own shape (its
    field names and values, without ``puid``); the columns beside it repeat what reports filter on.
    """

    __tablename__ = "enforcement_decisions"
    __table_args__ = (
        Index("ix_enforcement_decisions_party", "party_id", "notified_at"),
        Index("ix_enforcement_decisions_market_applied", "market_id", "application_date"),
        # The volume insight counts decisions recorded in a period by these columns from the index alone.
        Index("ix_enforcement_decisions_recorded", "created_at", "policy_id", "source_id", "market_id", "item_kind"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    external_id: Mapped[str] = mapped_column(String(100), unique=True)  # the enforcement system's id
    puid: Mapped[str] = mapped_column(String(500), unique=True)  # the platform's unique id for the TDB
    market_id: Mapped[int] = mapped_column(ForeignKey("markets.id", ondelete="RESTRICT"), index=True)
    party_id: Mapped[int] = mapped_column(ForeignKey("parties.id", ondelete="RESTRICT"))
    item_kind: Mapped[str] = mapped_column(String(16))
    item_ref: Mapped[str] = mapped_column(String(200))
    item_title: Mapped[str] = mapped_column(String(300), default="")
    policy_id: Mapped[int] = mapped_column(ForeignKey("enforcement_policies.id", ondelete="RESTRICT"), index=True)
    source_id: Mapped[int] = mapped_column(ForeignKey("detection_sources.id", ondelete="RESTRICT"), index=True)
    decided_by_email: Mapped[str | None] = mapped_column(String(254))  # the moderator, when a person decided
    decided_by_user_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    decided_at: Mapped[datetime]
    notified_at: Mapped[datetime]  # the appeal window counts from here
    decision_ground: Mapped[str] = mapped_column(String(64))
    category: Mapped[str] = mapped_column(String(100))
    source_type: Mapped[str] = mapped_column(String(64))
    automated_detection: Mapped[bool]
    automated_decision: Mapped[str] = mapped_column(String(64))
    application_date: Mapped[date] = mapped_column(Date)
    statement: Mapped[dict[str, Any]]
    redress: Mapped[list[str]]  # what the party was told it can do: internal_complaint, out_of_court, judicial
    status: Mapped[str] = mapped_column(String(24), default=DecisionStatus.IN_FORCE.value)
    false_positive_at: Mapped[datetime | None]  # an appeal found the detection wrong
    created_at: Mapped[datetime]
    updated_at: Mapped[datetime]


class Appeal(Base):
    """An internal complaint (DSA Art. 20) against one decision, worked as a case."""

    __tablename__ = "appeals"
    __table_args__ = (
        # One open appeal per decision: a second one while the first runs is refused.
        Index("uq_appeals_open_decision", "decision_id", unique=True,
              sqlite_where=text("status = 'open'"), postgresql_where=text("status = 'open'")),
        Index("ix_appeals_status_filed", "status", "filed_at"),
        Index("ix_appeals_decided_at", "decided_at"),
        Index("ix_appeals_party", "party_id", "filed_at"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    reference: Mapped[str | None] = mapped_column(String(32), unique=True)
    decision_id: Mapped[int] = mapped_column(ForeignKey("enforcement_decisions.id", ondelete="RESTRICT"),
                                             index=True)
    case_id: Mapped[int] = mapped_column(ForeignKey("cases.id", ondelete="RESTRICT"), unique=True)
    party_id: Mapped[int] = mapped_column(ForeignKey("parties.id", ondelete="RESTRICT"))
    market_id: Mapped[int] = mapped_column(ForeignKey("markets.id", ondelete="RESTRICT"))
    policy_id: Mapped[int] = mapped_column(ForeignKey("enforcement_policies.id", ondelete="RESTRICT"))
    reason: Mapped[str] = mapped_column(String(32))
    status: Mapped[str] = mapped_column(String(16), default=AppealStatus.OPEN.value)
    filed_at: Mapped[datetime]
    deadline_at: Mapped[datetime]  # the end of the window it was filed in (kept for the record)
    outcome: Mapped[str | None] = mapped_column(String(32))
    lifted_measures: Mapped[list[str]]  # for a partial overturn: which of the decision's measures go
    decision_reasons: Mapped[str | None] = mapped_column(Text)  # the reviewer's reasons, in their words
    decision_letter: Mapped[str | None] = mapped_column(Text)  # what the appellant was sent
    decider_user_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    decider_kind: Mapped[str | None] = mapped_column(String(16))  # human | automation
    manifestly_unfounded: Mapped[bool] = mapped_column(default=False)
    decided_at: Mapped[datetime | None]
    created_at: Mapped[datetime]
    updated_at: Mapped[datetime]


class AppealEvent(EventLogMixin, Base):
    """The appeals domain's append-only log: decisions recorded, appeals filed and decided, reversals,
    quality reviews, disputes and misuse measures. Every appeals figure is a query over it."""

    __tablename__ = "appeal_events"
    __table_args__ = (
        Index("ix_appeal_events_decision", "decision_id", "id"),
        Index("ix_appeal_events_type_occurred_at", "type", "occurred_at"),
    )

    decision_id: Mapped[int | None] = mapped_column(ForeignKey("enforcement_decisions.id", ondelete="RESTRICT"))
    appeal_id: Mapped[int | None] = mapped_column(ForeignKey("appeals.id", ondelete="RESTRICT"), index=True)
    party_id: Mapped[int | None] = mapped_column(ForeignKey("parties.id", ondelete="RESTRICT"))


class Reversal(Base):
    """The undoing of an overturned decision: one signed webhook to the enforcement system, redelivered
    with the same webhook id until it answers, and its confirmation."""

    __tablename__ = "appeal_reversals"
    __table_args__ = (
        Index("ix_appeal_reversals_unconfirmed", "requested_at",
              sqlite_where=text("status = 'requested'"), postgresql_where=text("status = 'requested'")),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    appeal_id: Mapped[int] = mapped_column(ForeignKey("appeals.id", ondelete="RESTRICT"), unique=True)
    decision_id: Mapped[int] = mapped_column(ForeignKey("enforcement_decisions.id", ondelete="RESTRICT"))
    action: Mapped[str] = mapped_column(String(32))  # restore_listing, lift_suspension, release_payout, ...
    measures: Mapped[list[str]]  # the statement's measure fields that are lifted
    webhook_id: Mapped[str] = mapped_column(String(64), unique=True)
    status: Mapped[str] = mapped_column(String(16), default=ReversalStatus.REQUESTED.value)
    requested_at: Mapped[datetime]
    last_sent_at: Mapped[datetime | None]
    sends: Mapped[int] = mapped_column(default=0)
    confirmed_at: Mapped[datetime | None]
    confirmation_ref: Mapped[str | None] = mapped_column(String(200))


class QaReview(Base):
    """An independent second review of a decided appeal, by someone who did not decide it."""

    __tablename__ = "appeal_qa_reviews"

    id: Mapped[int] = mapped_column(primary_key=True)
    appeal_id: Mapped[int] = mapped_column(ForeignKey("appeals.id", ondelete="RESTRICT"), unique=True)
    status: Mapped[str] = mapped_column(String(16), default=QaStatus.PENDING.value)
    sampled_at: Mapped[datetime]
    reviewer_user_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    outcome: Mapped[str | None] = mapped_column(String(32))
    notes: Mapped[str | None] = mapped_column(Text)
    reviewed_at: Mapped[datetime | None]
    calibrated_outcome: Mapped[str | None] = mapped_column(String(32))
    calibration_note: Mapped[str | None] = mapped_column(Text)
    calibrated_by_user_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    calibrated_at: Mapped[datetime | None]


class Dispute(Base):
    """An out-of-court dispute (DSA Art. 21) the appellant took to a certified settlement body."""

    __tablename__ = "appeal_disputes"

    id: Mapped[int] = mapped_column(primary_key=True)
    appeal_id: Mapped[int] = mapped_column(ForeignKey("appeals.id", ondelete="RESTRICT"), index=True)
    body_name: Mapped[str] = mapped_column(String(200))
    opened_at: Mapped[datetime]
    outcome: Mapped[str] = mapped_column(String(24), default=DisputeOutcome.PENDING.value)
    closed_at: Mapped[datetime | None]
    recorded_by_user_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))


class MisuseMeasure(Base):
    """DSA Art. 23(2): a warning, then a suspension from appealing for a set time, with its reasons."""

    __tablename__ = "appeal_misuse_measures"
    __table_args__ = (Index("ix_appeal_misuse_party", "party_id", "starts_at"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    party_id: Mapped[int] = mapped_column(ForeignKey("parties.id", ondelete="RESTRICT"))
    kind: Mapped[str] = mapped_column(String(16))
    reasons: Mapped[str] = mapped_column(Text)
    unfounded_appeal_ids: Mapped[list[str]]  # the manifestly unfounded appeals it rests on (references)
    starts_at: Mapped[datetime]
    ends_at: Mapped[datetime | None]  # a suspension's end; a warning has none
    issued_by_user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="RESTRICT"))
    created_at: Mapped[datetime]


class ReviewerQualification(Base):
    """Who may decide appeals under which policy (training done, sign-off given)."""

    __tablename__ = "appeal_reviewer_qualifications"
    __table_args__ = (UniqueConstraint("user_id", "policy_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    policy_id: Mapped[int] = mapped_column(ForeignKey("enforcement_policies.id", ondelete="CASCADE"))
    granted_by_user_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    granted_at: Mapped[datetime]


class MarketAppealSettings(Base):
    """How appeals work in one market; ``is_open`` only once the readiness check passes."""

    __tablename__ = "appeal_market_settings"

    id: Mapped[int] = mapped_column(primary_key=True)
    market_id: Mapped[int] = mapped_column(ForeignKey("markets.id", ondelete="CASCADE"), unique=True)
    is_open: Mapped[bool] = mapped_column(default=False)
    dsa_applies: Mapped[bool] = mapped_column(default=False)  # an EU market: Art. 17-24 apply
    window_months: Mapped[int] = mapped_column(default=6)
    human_review_required: Mapped[bool] = mapped_column(default=True)
    languages: Mapped[list[str]]
    qa_sample_percent: Mapped[int] = mapped_column(default=10)
    misuse_threshold: Mapped[int] = mapped_column(default=3)  # manifestly unfounded appeals before a warning
    misuse_window_days: Mapped[int] = mapped_column(default=180)
    misuse_max_suspension_days: Mapped[int] = mapped_column(default=90)
    out_of_court: Mapped[dict[str, Any]]  # locale -> text naming the certified bodies and how to reach them
    opened_at: Mapped[datetime | None]
    created_at: Mapped[datetime]
    updated_at: Mapped[datetime]


class DecisionTemplate(Base):
    """The letter an appellant gets for an outcome, per locale; placeholders checked when saved."""

    __tablename__ = "appeal_decision_templates"
    __table_args__ = (UniqueConstraint("outcome", "locale"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    outcome: Mapped[str] = mapped_column(String(32))
    locale: Mapped[str] = mapped_column(String(16))
    body: Mapped[str] = mapped_column(Text)
    updated_by_user_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    updated_at: Mapped[datetime]
