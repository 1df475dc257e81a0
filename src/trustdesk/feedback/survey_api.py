"""CSAT survey settings over the API: per channel, whether a survey goes out, when, for how long it can be
answered and on which scale (in-house feedback admins only)."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

from fastapi import APIRouter, Depends, Path
from pydantic import Field, StrictBool, StrictInt

from trustdesk.core.identity import Actor
from trustdesk.core.permissions import Perm
from trustdesk.core.schemas import Out, StrictIn
from trustdesk.feedback import surveys
from trustdesk.feedback.models import SurveyScale
from trustdesk.web.deps import ClockDep, Requires, SessionDep

router = APIRouter(tags=["feedback"])
Admin = Annotated[Actor, Depends(Requires(Perm.FEEDBACK_ADMIN, in_house=True))]
ChannelPath = Annotated[str, Path(max_length=32, description="in_app_chat, web_form, email or api")]


class SurveySettingsIn(StrictIn):
    enabled: StrictBool = Field(description="whether solved cases on this channel get a survey")
    delay_minutes: StrictInt = Field(ge=0, le=surveys.MAX_DELAY_MINUTES,
                                     description="minutes after the case is solved before the survey goes out")
    response_window_hours: StrictInt = Field(ge=1, le=surveys.MAX_WINDOW_HOURS,
                                             description="hours the link takes answers after it is sent")
    scale: SurveyScale = Field(description="five_point (1-5) or good_bad (good = 5, bad = 1)")


class SurveySettingsOut(Out):
    channel: str
    enabled: bool
    delay_minutes: int
    response_window_hours: int
    scale: str
    is_default: bool = Field(description="true when nobody saved settings for the channel: these are the defaults")
    updated_at: datetime | None


@router.get("/feedback/survey-settings", response_model=list[SurveySettingsOut],
            summary="Every surveyed channel's CSAT survey settings")
def list_settings(session: SessionDep, actor: Admin) -> list[SurveySettingsOut]:
    return [SurveySettingsOut.model_validate(c) for c in surveys.all_settings(session)]


@router.get("/feedback/survey-settings/{channel}", response_model=SurveySettingsOut,
            summary="A channel's CSAT survey settings (the defaults until saved)")
def get_settings(channel: ChannelPath, session: SessionDep, actor: Admin) -> SurveySettingsOut:
    return SurveySettingsOut.model_validate(surveys.settings_for(session, channel))


@router.put("/feedback/survey-settings/{channel}", response_model=SurveySettingsOut,
            summary="Save a channel's CSAT survey settings; surveys planned from now on follow them")
def put_settings(channel: ChannelPath, body: SurveySettingsIn, session: SessionDep, clock: ClockDep,
                 actor: Admin) -> SurveySettingsOut:
    saved = surveys.save_settings(session, channel, enabled=body.enabled, delay_minutes=body.delay_minutes,
                                  response_window_hours=body.response_window_hours, scale=body.scale.value,
                                  now=clock.now())
    return SurveySettingsOut.model_validate(saved)
