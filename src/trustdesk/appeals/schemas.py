"""Pydantic shapes of the appeals API: strict inputs (bad input is a 422 naming the field) and outputs.

Customers and staff read the same decisions and appeals through different shapes: who took a
decision or decided an appeal, and the detection source, are for staff only.
"""

from __future__ import annotations

from datetime import UTC, datetime
from enum import StrEnum
from typing import Annotated, Any

from pydantic import AfterValidator, AwareDatetime, Field, StringConstraints

from trustdesk.appeals.models import AppealReason, DisputeOutcome, ItemKind, Outcome
from trustdesk.appeals.service import MAX_REASONS_CHARS, MAX_STATEMENT_CHARS, REDRESS_OPTIONS
from trustdesk.cases.schemas import AttachmentIn, PartyIn
from trustdesk.core.schemas import Out, StrictIn


def _utc(value: datetime) -> datetime:
    return value.astimezone(UTC)


# A moment with its offset (a naive time is refused, naming the field), kept as UTC.
UtcDatetime = Annotated[AwareDatetime, AfterValidator(_utc)]
Key = Annotated[str, StringConstraints(min_length=1, max_length=64, pattern=r"^\S+$")]
Email = Annotated[str, StringConstraints(max_length=254, pattern=r"^[^@\s]+@[^@\s]+$")]
LanguageCode = Annotated[str, StringConstraints(pattern=r"^[a-z]{2,3}(-[A-Za-z0-9]{2,8})?$")]
MAX_NOTES = 5000


class DeciderKind(StrEnum):
    HUMAN = "human"
    AUTOMATION = "automation"


# ---------------------------------------------------------------- inputs


class DecisionIn(StrictIn):
    """A decision the enforcement system took, with its statement of reasons."""

    external_id: str = Field(min_length=1, max_length=100, pattern=r"^[A-Za-z0-9][A-Za-z0-9._:-]*$",
                             description="The enforcement system's id of the decision")
    market: str = Field(min_length=2, max_length=8, description="Market code, e.g. ES")
    party: PartyIn
    item_kind: ItemKind
    item_ref: str = Field(min_length=1, max_length=200)
    item_title: str = Field(default="", max_length=300)
    policy: Key = Field(description="The enforcement policy's key")
    source: Key = Field(description="The detection source's key")
    decided_at: UtcDatetime
    notified_at: UtcDatetime = Field(description="When the party was told; the appeal window counts from here")
    decided_by_email: Email | None = Field(default=None, description="The moderator, when a person decided")
    redress: list[Annotated[str, StringConstraints(min_length=1, max_length=32)]] = Field(
        default_factory=lambda: list(REDRESS_OPTIONS), min_length=1, max_length=len(REDRESS_OPTIONS),
        description=f"What the party was told it can do: {', '.join(REDRESS_OPTIONS)}")
    puid: str | None = Field(default=None, min_length=1, max_length=500)
    statement: dict[str, Any] = Field(min_length=1, max_length=60,
                                      description="The statement of reasons in the Transparency Database's shape")


class AppealIn(StrictIn):
    decision: str = Field(min_length=1, max_length=100, description="The decision's external id")
    reason: AppealReason
    statement: str = Field(min_length=1, max_length=MAX_STATEMENT_CHARS, description="Why, in your words")
    attachments: list[AttachmentIn] = Field(default_factory=list, max_length=20)
    language: LanguageCode | None = None


class VerdictIn(StrictIn):
    outcome: Outcome
    reasons: str = Field(min_length=1, max_length=MAX_REASONS_CHARS, description="Sent to the appellant")
    lifted_measures: list[Annotated[str, StringConstraints(min_length=1, max_length=64)]] = Field(
        default_factory=list, max_length=4, description="For a partial overturn: the statement's measure fields")
    manifestly_unfounded: bool = False
    decider_kind: DeciderKind = DeciderKind.HUMAN


class ConfirmIn(StrictIn):
    reference: str | None = Field(default=None, min_length=1, max_length=200,
                                  description="The enforcement system's reference for the undoing")


class QaReviewIn(StrictIn):
    outcome: Outcome
    notes: str = Field(default="", max_length=MAX_NOTES)


class CalibrationIn(StrictIn):
    outcome: Outcome
    note: str = Field(min_length=1, max_length=MAX_NOTES)


class WarningIn(StrictIn):
    reasons: str = Field(min_length=1, max_length=4000)


class SuspensionIn(StrictIn):
    reasons: str = Field(min_length=1, max_length=4000)
    days: int = Field(ge=1, le=365, description="At most the market's misuse_max_suspension_days")


class DisputeIn(StrictIn):
    body_name: str = Field(min_length=1, max_length=200, description="The certified settlement body")
    opened_at: UtcDatetime


class DisputeOutcomeIn(StrictIn):
    outcome: DisputeOutcome
    closed_at: UtcDatetime


# ---------------------------------------------------------------- outputs


class PartyOut(Out):
    id: int
    kind: str
    external_id: str
    display_name: str


class DecisionOut(Out):
    """A decision as the party sees it: what was restricted, why, and whether it may be appealed now."""

    external_id: str
    puid: str
    market: str
    party: PartyOut
    item_kind: str
    item_ref: str
    item_title: str
    policy: str
    policy_name: str
    decided_at: datetime
    notified_at: datetime
    statement: dict[str, Any]
    status: str
    redress: list[str]
    window_ends_at: datetime | None
    may_appeal: bool
    why_not: str | None = Field(description="Why an appeal cannot be filed now, when it cannot")


class StaffDecisionOut(DecisionOut):
    source: str
    decided_by_email: str | None
    automated_detection: bool
    automated_decision: str
    false_positive_at: datetime | None


class DecisionSummaryOut(Out):
    external_id: str
    market: str
    item_kind: str
    item_ref: str
    item_title: str
    policy: str
    status: str
    notified_at: datetime
    window_ends_at: datetime | None


class DecisionList(Out):
    items: list[DecisionSummaryOut]


class ReversalOut(Out):
    reversal_id: str = Field(validation_alias="webhook_id")
    status: str
    action: str
    measures: list[str]
    requested_at: datetime
    sends: int
    confirmed_at: datetime | None
    confirmation_ref: str | None


class DisputeOut(Out):
    id: int
    appeal_id: int
    body_name: str
    opened_at: datetime
    outcome: str
    closed_at: datetime | None


class AppealOut(Out):
    """An appeal as the appellant sees it, with the reasoned decision once there is one."""

    id: int
    reference: str | None
    decision: str
    case_id: int
    status: str
    reason: str
    filed_at: datetime
    deadline_at: datetime
    outcome: str | None
    lifted_measures: list[str]
    decision_reasons: str | None
    decided_at: datetime | None
    letter: str | None
    disputes: list[DisputeOut]


class StaffAppealOut(AppealOut):
    market: str
    policy: str
    decider_user_id: int | None
    decider_name: str | None
    decider_kind: str | None
    manifestly_unfounded: bool
    reversal: ReversalOut | None


class AppealSummaryOut(Out):
    id: int
    reference: str | None
    decision: str
    case_id: int
    market: str
    policy: str
    status: str
    reason: str
    filed_at: datetime
    deadline_at: datetime
    outcome: str | None
    decided_at: datetime | None


class AppealPage(Out):
    items: list[AppealSummaryOut]
    next_before_id: int | None = Field(description="Pass as before_id for the next page; null on the last")


class PendingQaOut(Out):
    """A second review waiting: what the appeal is about, never how it was decided."""

    review_id: int
    appeal_id: int
    reference: str | None
    decision: str
    case_id: int
    market: str
    policy: str
    reason: str
    sampled_at: datetime


class PendingQaList(Out):
    items: list[PendingQaOut]


class QaReviewOut(Out):
    id: int
    appeal_id: int
    status: str
    sampled_at: datetime
    first_outcome: str | None
    outcome: str | None
    notes: str | None
    reviewed_at: datetime | None
    calibrated_outcome: str | None
    calibration_note: str | None
    calibrated_at: datetime | None


class MisuseMeasureOut(Out):
    id: int
    party_id: int
    kind: str
    reasons: str
    unfounded_appeal_ids: list[str]
    starts_at: datetime
    ends_at: datetime | None
    issued_by_user_id: int


class MisuseStatusOut(Out):
    party_id: int
    threshold: int
    unfounded: list[str] = Field(description="References of the manifestly unfounded appeals in the window")
    warning: MisuseMeasureOut | None
    unfounded_since_warning: list[str]
    suspension: MisuseMeasureOut | None
    may_warn: bool
    may_suspend: bool
