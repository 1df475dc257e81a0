"""Assist API: a case's suggested replies, using one, and the acceptance rate per team."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Annotated

from fastapi import APIRouter, Depends, Path, Query
from pydantic import Field

from trustdesk.assist import service, suggestions
from trustdesk.cases.access import case_for
from trustdesk.core.db import MAX_ID
from trustdesk.core.identity import Actor
from trustdesk.core.permissions import Perm
from trustdesk.core.schemas import Out, StrictIn
from trustdesk.web.deps import ClockDep, Requires, SessionDep, SettingsDep

router = APIRouter(tags=["assist"])
RowId = Annotated[int, Path(ge=1, le=MAX_ID)]


class SuggestionOut(Out):
    rank: int
    source: str = Field(description="case | article | template | draft")
    ref: str = Field(description="the resolved case's reference, the article's or the template's key")
    title: str
    why: str = Field(description="why it was suggested")
    text: str = Field(description="the reply, made for this case (placeholders in [[double brackets]] to fill in)")
    locale: str
    score: float = Field(description="the source's own measure: similarity, confidence or fit, 0..1")
    link: str | None
    missing: list[str] = Field(description="placeholders the agent must fill in")


class SuggestionSetOut(Out):
    set_id: int | None = Field(description="null when nothing fitted (nothing is recorded then)")
    case_id: int
    created_at: datetime | None
    suggestions: list[SuggestionOut]


class UseIn(StrictIn):
    rank: int = Field(ge=1, le=10, description="the rank of the suggestion used")


class AcceptanceOut(Out):
    team_id: int | None
    team: str
    shown: int
    used: int
    rate: float | None
    by_source: dict[str, int]


def _set_out(case_id: int, shown: suggestions.Shown) -> SuggestionSetOut:
    row = shown.row
    return SuggestionSetOut(set_id=row.id if row else None, case_id=case_id, created_at=row.created_at if row else None,
                            suggestions=[SuggestionOut.model_validate(s.as_dict()) for s in shown.suggestions])


@router.get("/cases/{case_id}/suggestions", response_model=SuggestionSetOut,
            summary="Suggested replies for the case (recorded as shown)")
def get_suggestions(case_id: RowId, session: SessionDep, clock: ClockDep, settings: SettingsDep,
                    actor: Annotated[Actor, Depends(Requires(Perm.CASE_REPLY))]) -> SuggestionSetOut:
    case = case_for(session, actor, case_id, permission=Perm.CASE_REPLY)
    return _set_out(case.id, service.suggest_for_case(session, case, actor=actor, settings=settings, now=clock.now(),
                                             commit=session.commit))


@router.post("/cases/{case_id}/suggestions/{set_id}/use", response_model=SuggestionOut,
             summary="Record that a suggestion was used; returns its text")
def use_suggestion(case_id: RowId, set_id: RowId, body: UseIn, session: SessionDep, clock: ClockDep,
                   actor: Annotated[Actor, Depends(Requires(Perm.CASE_REPLY))]) -> SuggestionOut:
    case = case_for(session, actor, case_id, permission=Perm.CASE_REPLY)
    chosen = suggestions.use(session, case, set_id, body.rank, actor=actor, now=clock.now())
    return SuggestionOut.model_validate(chosen.as_dict())


@router.get("/assist/acceptance", response_model=list[AcceptanceOut],
            summary="Acceptance rate of suggested replies per team")
def get_acceptance(session: SessionDep, clock: ClockDep,
                   actor: Annotated[Actor, Depends(Requires(Perm.TEMPLATES_EDIT))],
                   days: Annotated[int, Query(ge=1, le=365)] = 28) -> list[AcceptanceOut]:
    until = clock.now()
    return [AcceptanceOut(team_id=a.team_id, team=a.team, shown=a.shown, used=a.used, rate=a.rate,
                          by_source=a.by_source)
            for a in suggestions.acceptance(session, since=until - timedelta(days=days), until=until,
                                            teams=suggestions.visible_teams(session, actor))]
