"""Pydantic shapes of the QA API. Criteria and answers are checked by the service (``feedback.qa``), so a
refusal names ``criteria.<i>.<field>`` and ``answers.<key>`` the same way over the API and in the console."""

from __future__ import annotations

from datetime import date, datetime
from typing import Annotated, Any

from pydantic import Field, StringConstraints

from trustdesk.core.schemas import DbId, Out, StrictIn
from trustdesk.feedback import qa

Slug = Annotated[str, StringConstraints(min_length=1, max_length=64, pattern=qa.SLUG.pattern)]


# ---------------------------------------------------------------- inputs


class ScorecardIn(StrictIn):
    key: Slug
    name: str = Field(max_length=qa.MAX_NAME + 100)
    criteria: list[Any] = Field(description="1 to 30 of {key, label, weight 0-100, auto_fail, guidance}; an "
                                            "auto-fail criterion carries no weight")
    pass_mark: float = Field(default=80.0, description="A QA score at or above it passes (0-100)")


class ScorecardVersionIn(StrictIn):
    name: str = Field(max_length=qa.MAX_NAME + 100)
    criteria: list[Any]
    pass_mark: float = 80.0


class SamplingRuleIn(StrictIn):
    team_id: DbId | None = Field(description="The team; null: the rule for every team without its own")
    scorecard_key: Slug
    percent_per_agent: float = Field(default=5.0, description="Share of each agent's solved cases per week, %")
    min_per_agent: int = Field(default=1, description="At least this many per agent who solved any that week")
    include_low_csat: bool = True
    include_escalated: bool = True


class SampleRunIn(StrictIn):
    week: date = Field(description="The Monday of the week to sample (UTC weeks)")
    seed: int = Field(default=0, ge=0, le=2**31 - 1)


class EvaluationIn(StrictIn):
    case_id: DbId
    scorecard_key: str | None = Field(default=None, min_length=1, max_length=64,
                                      description="Defaults to the scorecard the case was sampled for")
    answers: dict[str, Any] = Field(description='criterion key -> {"met": true|false, "comment": "..."}')
    comment: str = Field(default="", max_length=qa.MAX_COMMENT + 100)


class CalibrationIn(StrictIn):
    case_id: DbId
    scorecard_key: Slug
    reviewer_user_ids: list[Any] = Field(description="2 to 10 in-house users with qa.review")
    title: str = Field(default="", max_length=qa.MAX_NAME + 100)


class CalibrationScoreIn(StrictIn):
    answers: dict[str, Any]
    comment: str = Field(default="", max_length=qa.MAX_COMMENT + 100)


class CoachingNoteIn(StrictIn):
    agent_id: DbId
    body: str = Field(max_length=qa.MAX_NOTE + 100)
    evaluation_id: DbId | None = None


# ---------------------------------------------------------------- outputs


class CriterionOut(Out):
    key: str
    label: str
    weight: float
    auto_fail: bool
    guidance: str


class ScorecardOut(Out):
    id: int
    key: str
    version: int
    name: str
    criteria: list[CriterionOut]
    pass_mark: float
    active: bool
    created_at: datetime


class SamplingRuleOut(Out):
    team_id: int | None
    scorecard_key: str
    percent_per_agent: float
    min_per_agent: int
    include_low_csat: bool
    include_escalated: bool
    updated_at: datetime


class SampledOut(Out):
    week: date
    random: int
    low_csat: int
    escalated: int
    total: int


class SampleOut(Out):
    id: int
    case_id: int
    agent_id: int | None
    week: date
    reason: str
    scorecard_key: str
    status: str
    created_at: datetime


class SampleList(Out):
    items: list[SampleOut]


class EvaluationOut(Out):
    id: int
    case_id: int
    agent_id: int | None
    reviewer_user_id: int
    scorecard_key: str
    scorecard_version: int
    sample_id: int | None
    calibration_id: int | None
    answers: dict[str, Any]
    score: float
    auto_failed: bool
    passed: bool
    comment: str
    submitted_at: datetime


class EvaluationList(Out):
    items: list[EvaluationOut]


class CriterionAgreementOut(Out):
    key: str
    label: str
    auto_fail: bool
    met: int
    not_met: int
    agreement: float
    disagreed: bool


class AgreementOut(Out):
    overall: float
    reviewers: int
    pairs: int
    criteria: list[CriterionAgreementOut]


class CalibrationOut(Out):
    id: int
    case_id: int
    scorecard_key: str
    scorecard_version: int
    title: str
    reviewer_user_ids: list[int]
    submitted_by: list[int]
    status: str
    agreement: float | None
    created_at: datetime
    closed_at: datetime | None
    answers_visible: bool = Field(description="Blind rule: a reviewer sees the others' scores after submitting "
                                              "their own; everyone sees them once the session is closed")
    evaluations: list[EvaluationOut]
    per_criterion: AgreementOut | None


class CalibrationList(Out):
    items: list[CalibrationOut]


class AgentScoreOut(Out):
    agent_id: int
    name: str
    evaluations: int
    mean_score: float | None
    passed: int
    pass_rate: float | None
    auto_fails: int


class AgentScoreList(Out):
    since: datetime
    until: datetime
    items: list[AgentScoreOut]


class CoachingNoteOut(Out):
    id: int
    agent_id: int
    evaluation_id: int | None
    author_user_id: int
    body: str
    created_at: datetime
    acknowledged_at: datetime | None


class CoachingNoteList(Out):
    items: list[CoachingNoteOut]
