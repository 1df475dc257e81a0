"""API shapes of emerging issues."""

from __future__ import annotations

from datetime import date, datetime

from pydantic import BaseModel, Field

from trustdesk.core.schemas import StrictIn
from trustdesk.insights.emerging import NOTE_CHARS


class ExampleCaseOut(BaseModel):
    case_id: int
    reference: str | None
    url: str = Field(description="The case in the console")


class FirstDayOut(BaseModel):
    day: date
    observed: int = Field(description="Cases of the topic in the market that day (so far, while it lasts)")
    expected: float = Field(description="What the baseline expected that day (or by then)")
    p_value: float


class EmergingIssueOut(BaseModel):
    id: int
    topic: str
    market: str
    status: str = Field(description="active or ended")
    started_on: date = Field(description="The first flagged day, in the market's time")
    last_flagged_on: date
    ended_on: date | None
    peak_observed: int = Field(description="The most cases on one day of the issue")
    expected: float = Field(description="The first day's expected cases")
    p_value: float = Field(description="The first day's chance of so many cases on a normal day")
    chance: str = Field(description="The p-value in words")
    first_day: FirstDayOut | None
    total_cases: int = Field(description="Cases of the topic in the market from the first to the last flagged day")
    owner_team_id: int | None
    owner_user_ids: list[int] = Field(description="Who was alerted (the catalogue's owner, contacts, or leads)")
    examples: list[ExampleCaseOut]
    alerted_at: datetime | None
    acknowledged_by_user_id: int | None
    acknowledged_at: datetime | None
    note: str


class EmergingIssueList(BaseModel):
    days: int = Field(description="Ended issues are listed when they ended within this many days")
    items: list[EmergingIssueOut]


class AcknowledgeIn(StrictIn):
    note: str = Field(default="", max_length=NOTE_CHARS, description="What is being done (optional)")


class EndIn(StrictIn):
    note: str = Field(min_length=1, max_length=NOTE_CHARS, description="Why it is over")
