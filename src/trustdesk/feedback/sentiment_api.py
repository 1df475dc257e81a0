"""Sentiment over the API: the rules that flag cases whose customer sounds very negative (in-house feedback
admins), and a case's sentiment trend (whoever may read the case)."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Path
from pydantic import Field, StrictBool

from trustdesk.cases.access import case_for
from trustdesk.cases.models import Priority
from trustdesk.core.db import MAX_ID
from trustdesk.core.identity import Actor
from trustdesk.core.permissions import Perm
from trustdesk.core.schemas import Out, StrictIn
from trustdesk.feedback import sentiment
from trustdesk.web.deps import ClockDep, Requires, SessionDep

router = APIRouter(tags=["feedback"])
Admin = Annotated[Actor, Depends(Requires(Perm.FEEDBACK_ADMIN, in_house=True))]
CaseReader = Annotated[Actor, Depends(Requires(Perm.CASE_READ))]
RowId = Annotated[int, Path(ge=1, le=MAX_ID)]

THRESHOLD = "a message scoring at or below it fires the rule: -1 (most negative) up to, not including, 0"


class RuleIn(StrictIn):
    name: str = Field(max_length=sentiment.MAX_NAME)
    threshold: float = Field(description=THRESHOLD)
    market: str | None = Field(default=None, max_length=8, description="a market's code; empty: every market")
    topic_prefix: str | None = Field(default=None, max_length=200,
                                     description="a topic key; its sub-topics match too; empty: every topic")
    tag: str = Field(default=sentiment.DEFAULT_TAG, max_length=64, description="added to the case when it fires")
    raise_priority_to: Priority | None = Field(default=None, description="raised to this priority, never lowered")
    active: StrictBool = True


class RuleUpdate(StrictIn):
    name: str | None = Field(default=None, max_length=sentiment.MAX_NAME)
    threshold: float | None = Field(default=None, description=THRESHOLD)
    market: str | None = Field(default=None, max_length=8)
    topic_prefix: str | None = Field(default=None, max_length=200)
    tag: str | None = Field(default=None, max_length=64)
    raise_priority_to: Priority | None = None
    active: StrictBool | None = Field(default=None, description="false deactivates the rule")


class RuleOut(Out):
    id: int
    name: str
    threshold: float
    market: str | None
    topic_prefix: str | None
    tag: str
    raise_priority_to: str | None
    active: bool
    created_at: datetime


class PointOut(Out):
    message_id: int
    at: datetime
    score: float
    label: str


class TrendOut(Out):
    case_id: int
    summary: str = Field(description='the first scored message\'s label and the last one\'s, "negative → neutral"')
    points: list[PointOut]


def _values(body: RuleIn | RuleUpdate, *, only_set: bool) -> dict[str, Any]:
    values = body.model_dump(exclude_unset=only_set)
    if isinstance(values.get("raise_priority_to"), Priority):
        values["raise_priority_to"] = values["raise_priority_to"].value
    return values


@router.get("/feedback/sentiment-rules", response_model=list[RuleOut],
            summary="The sentiment rules (active first)")
def list_rules(session: SessionDep, actor: Admin) -> list[RuleOut]:
    return [RuleOut.model_validate(r) for r in sentiment.list_rules(session)]


@router.post("/feedback/sentiment-rules", response_model=RuleOut, status_code=201,
             summary="Create a sentiment rule; it fires on messages scored from now on")
def create_rule(body: RuleIn, session: SessionDep, clock: ClockDep, actor: Admin) -> RuleOut:
    rule = sentiment.create_rule(session, **_values(body, only_set=False), now=clock.now())
    return RuleOut.model_validate(rule)


@router.patch("/feedback/sentiment-rules/{rule_id}", response_model=RuleOut,
              summary="Change a sentiment rule (active: false deactivates it)")
def update_rule(rule_id: RowId, body: RuleUpdate, session: SessionDep, actor: Admin) -> RuleOut:
    rule = sentiment.rule_by_id(session, rule_id, for_update=True)
    return RuleOut.model_validate(sentiment.update_rule(session, rule, _values(body, only_set=True)))


@router.get("/cases/{case_id}/sentiment", response_model=TrendOut,
            summary="The sentiment of the case's customer messages, in the order they were written")
def case_sentiment(case_id: RowId, session: SessionDep, actor: CaseReader) -> TrendOut:
    case = case_for(session, actor, case_id, permission=Perm.CASE_READ)
    found = sentiment.case_sentiment(session, case.id)
    return TrendOut(case_id=case.id, summary=found.summary,
                    points=[PointOut.model_validate(p) for p in found.points])
