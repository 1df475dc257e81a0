"""Feedback API: the customer rates their resolved case (CSAT); staff read the rating."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

from fastapi import APIRouter, Depends, Path
from pydantic import Field

from trustdesk.cases.access import case_for
from trustdesk.cases.models import Channel
from trustdesk.core.db import MAX_ID
from trustdesk.core.errors import NotFound
from trustdesk.core.identity import Actor
from trustdesk.core.permissions import Perm
from trustdesk.core.schemas import Out, StrictIn
from trustdesk.feedback import service
from trustdesk.feedback.models import LowRatingReason
from trustdesk.web.deps import ClockDep, Requires, SessionDep

router = APIRouter(tags=["feedback"])
RowId = Annotated[int, Path(ge=1, le=MAX_ID)]


class RatingIn(StrictIn):
    score: int = Field(ge=1, le=service.SCALE, description="1 (very dissatisfied) to 5 (very satisfied)")
    comment: str = Field(default="", max_length=service.MAX_COMMENT)
    channel: Channel = Field(default=Channel.WEB_FORM, description="where the customer gave the rating")
    reason: LowRatingReason | None = Field(default=None, description="why a bad rating (1 or 2) is bad; "
                                                                      "refused with a better score")


class RatingOut(Out):
    case_id: int
    score: int
    comment: str
    channel: str
    reason: str
    rated_at: datetime


@router.put("/cases/{case_id}/rating", response_model=RatingOut,
            summary="Rate your resolved case (1-5); rating again replaces the earlier rating")
def rate(case_id: RowId, body: RatingIn, session: SessionDep, clock: ClockDep,
         actor: Annotated[Actor, Depends(Requires(Perm.CASE_REPLY_OWN))]) -> RatingOut:
    case = case_for(session, actor, case_id, permission=Perm.CASE_REPLY_OWN, for_update=True)
    rating = service.rate_case(session, case, score=body.score, comment=body.comment, channel=body.channel.value,
                               reason=body.reason.value if body.reason else None, actor=actor, now=clock.now())
    return RatingOut.model_validate(rating)


@router.get("/cases/{case_id}/rating", response_model=RatingOut, summary="The case's CSAT rating")
def get_rating(case_id: RowId, session: SessionDep,
               actor: Annotated[Actor, Depends(Requires(Perm.CASE_READ, Perm.CASE_READ_OWN))]) -> RatingOut:
    permission = Perm.CASE_READ if actor.can(Perm.CASE_READ) else Perm.CASE_READ_OWN
    case = case_for(session, actor, case_id, permission=permission)
    rating = service.rating_of(session, case.id)
    if rating is None:
        raise NotFound(f"case {case_id} has no rating", field="case_id")
    return RatingOut.model_validate(rating)
