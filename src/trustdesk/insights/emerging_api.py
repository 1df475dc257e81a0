"""JSON routes of emerging issues: the active and recent ones (insights.read), acknowledging and ending them by
hand (insights.admin). In-house staff only: they name every market's volumes and the catalogue's owners."""

from __future__ import annotations

from typing import Annotated, Literal

from fastapi import APIRouter, Body, Depends, Path, Query
from sqlalchemy.orm import Session

from trustdesk.core.db import MAX_ID
from trustdesk.core.identity import Actor
from trustdesk.core.permissions import Perm
from trustdesk.insights import emerging
from trustdesk.insights.emerging_schemas import (
    AcknowledgeIn,
    EmergingIssueList,
    EmergingIssueOut,
    EndIn,
    ExampleCaseOut,
    FirstDayOut,
)
from trustdesk.insights.models import EmergingCheck, EmergingIssue
from trustdesk.web.deps import ClockDep, Requires, SessionDep
from trustdesk.web.responses import ModelResponse

router = APIRouter(tags=["insights"])
Reader = Annotated[Actor, Depends(Requires(Perm.INSIGHTS_READ, in_house=True))]
Admin = Annotated[Actor, Depends(Requires(Perm.INSIGHTS_ADMIN, in_house=True))]
IssueId = Annotated[int, Path(ge=1, le=MAX_ID)]


def issue_out(issue: EmergingIssue, references: dict[int, str | None], first: EmergingCheck | None) -> EmergingIssueOut:
    return EmergingIssueOut(
        id=issue.id, topic=issue.topic, market=issue.market, status=issue.status, started_on=issue.started_on,
        last_flagged_on=issue.last_flagged_on, ended_on=issue.ended_on, peak_observed=issue.peak_observed,
        expected=round(issue.expected, 4), p_value=issue.p_value, chance=emerging.chance_in_words(issue.p_value),
        first_day=FirstDayOut(day=first.day, observed=first.observed, expected=round(first.expected, 4),
                              p_value=first.p_value) if first is not None else None,
        total_cases=issue.total_cases, owner_team_id=issue.owner_team_id,
        owner_user_ids=[int(u) for u in issue.owner_user_ids],
        examples=[ExampleCaseOut(case_id=int(c), reference=references.get(int(c)), url=f"/console/cases/{c}")
                  for c in issue.example_case_ids],
        alerted_at=issue.alerted_at, acknowledged_by_user_id=issue.acknowledged_by_user_id,
        acknowledged_at=issue.acknowledged_at, note=issue.note)


def _one(session: Session, issue: EmergingIssue) -> ModelResponse:
    first = emerging.first_day_checks(session, [issue]).get(issue.id)
    return ModelResponse(issue_out(issue, emerging.references(session, issue.example_case_ids), first))


@router.get("/insights/emerging-issues", response_model=EmergingIssueList,
            summary="Emerging issues: the active ones and those that ended within `days`, active first")
def list_issues(session: SessionDep, clock: ClockDep, actor: Reader,
                days: Annotated[int, Query(ge=1, le=400)] = 30,
                status: Literal["active", "ended"] | None = None) -> ModelResponse:
    found = emerging.issues(session, now=clock.now(), days=days, status=status)
    references = emerging.references(session, [c for i in found for c in i.example_case_ids])
    firsts = emerging.first_day_checks(session, found)
    return ModelResponse(EmergingIssueList(days=days, items=[issue_out(i, references, firsts.get(i.id))
                                                             for i in found]))


@router.get("/insights/emerging-issues/{issue_id}", response_model=EmergingIssueOut, summary="One emerging issue")
def get_issue(issue_id: IssueId, session: SessionDep, actor: Reader) -> ModelResponse:
    return _one(session, emerging.issue_by_id(session, issue_id))


@router.post("/insights/emerging-issues/{issue_id}/acknowledge", response_model=EmergingIssueOut,
             summary="Say you have the issue in hand (it stays active and keeps updating)")
def acknowledge(issue_id: IssueId, session: SessionDep, clock: ClockDep, actor: Admin,
                body: Annotated[AcknowledgeIn | None, Body()] = None) -> ModelResponse:
    issue = emerging.issue_by_id(session, issue_id, for_update=True)
    emerging.acknowledge(session, issue, actor=actor, note=body.note if body else "", now=clock.now())
    return _one(session, issue)


@router.post("/insights/emerging-issues/{issue_id}/end", response_model=EmergingIssueOut,
             summary="End the issue by hand, with a note (a later spike opens a new one)")
def end_issue(issue_id: IssueId, body: EndIn, session: SessionDep, clock: ClockDep, actor: Admin) -> ModelResponse:
    issue = emerging.issue_by_id(session, issue_id, for_update=True)
    emerging.end_by_hand(session, issue, actor=actor, note=body.note, now=clock.now())
    return _one(session, issue)
