"""API shapes of OKRs: objectives with their key results in, and the same with live progress out.

Input is parsed loosely on purpose (a metric is any short text, a direction any word): ``insights.okrs``
checks it against the metric definitions and the directory and names the field it refuses.
"""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

from pydantic import BaseModel, Field

from trustdesk.core.schemas import DbId, StrictIn
from trustdesk.insights import okrs

Number = float  # a finite number; the rule checks its range for the metric's unit


class FiltersIn(StrictIn):
    """Which cases the key result counts; each filter only where the metric accepts it."""

    market: str | None = Field(default=None, max_length=8, description="A market code, e.g. US")
    team: DbId | None = Field(default=None, description="A team's id")
    tier: str | None = Field(default=None, max_length=16, description="t1, t2, oncall or internal")
    channel: str | None = Field(default=None, max_length=16, description="e.g. web_form, in_app_chat")
    topic: str | None = Field(default=None, max_length=200, description="A topic key; its sub-topics count too")


class KeyResultIn(StrictIn):
    title: str = Field(max_length=okrs.TITLE_CHARS + 50)
    metric: str = Field(max_length=64, description="A key of the metric definitions, e.g. csat, first_reply_median")
    filters: FiltersIn = Field(default_factory=FiltersIn)
    direction: str | None = Field(default=None, max_length=16, description=(
        "at_least (the target is a floor) or at_most (a ceiling); increase and decrease say the same. "
        "Empty: the metric's better direction"))
    target: Number = Field(allow_inf_nan=False, description="A share 0..1 for rates, minutes for times")
    baseline: Number | None = Field(default=None, allow_inf_nan=False,
                                    description="Where it started: progress is measured from it to the target")

    def spec(self) -> okrs.KeyResultSpec:
        return okrs.KeyResultSpec(title=self.title, metric=self.metric, target=self.target,
                                  filters=self.filters.model_dump(exclude_none=True), direction=self.direction,
                                  baseline=self.baseline)


class KeyResultPatch(StrictIn):
    """Only the fields sent change; ``filters`` replaces the whole filter."""

    title: str | None = Field(default=None, max_length=okrs.TITLE_CHARS + 50)
    metric: str | None = Field(default=None, max_length=64)
    filters: FiltersIn | None = None
    direction: str | None = Field(default=None, max_length=16)
    target: Number | None = Field(default=None, allow_inf_nan=False)
    baseline: Number | None = Field(default=None, allow_inf_nan=False)
    position: int | None = Field(default=None, ge=0, le=1000)

    def changes(self) -> dict[str, Any]:
        changes = self.model_dump(exclude_unset=True)
        if self.filters is not None:
            changes["filters"] = self.filters.model_dump(exclude_none=True)
        return changes


class ObjectiveIn(StrictIn):
    title: str = Field(max_length=okrs.TITLE_CHARS + 50)
    description: str = Field(default="", max_length=okrs.DESCRIPTION_CHARS + 50)
    owner_user_id: DbId | None = None
    period_start: date = Field(description="The first day, UTC")
    period_end: date = Field(description="The last day, included")
    key_results: list[KeyResultIn] = Field(default_factory=list, max_length=okrs.MAX_KEY_RESULTS)


class ObjectivePatch(StrictIn):
    """Only the fields sent change; ``archived: false`` restores an archived objective."""

    title: str | None = Field(default=None, max_length=okrs.TITLE_CHARS + 50)
    description: str | None = Field(default=None, max_length=okrs.DESCRIPTION_CHARS + 50)
    owner_user_id: DbId | None = None
    period_start: date | None = None
    period_end: date | None = None
    archived: bool | None = None

    def changes(self) -> dict[str, Any]:
        return self.model_dump(exclude_unset=True)


class ProgressOut(BaseModel):
    status: str = Field(description="not_started, no_data, met, missed, not_met, on_track, at_risk or off_track")
    status_label: str
    progress: float | None = Field(description="0..1 of the way from the baseline to the target")
    expected: float = Field(description="The share of the period elapsed")


class KeyResultOut(BaseModel):
    id: int
    objective_id: int
    title: str
    metric: str
    metric_label: str
    unit: str
    filters: dict[str, Any]
    filter_text: str
    direction: str
    baseline: float | None
    target: float
    position: int
    current: float | None = Field(description="The metric over the objective's period so far")
    numerator: int | None
    denominator: int | None
    count: int = Field(description="The cases (ratings, targets, sessions) the figure was computed from")
    current_text: str
    target_text: str
    baseline_text: str
    progress: ProgressOut


class ObjectiveOut(BaseModel):
    id: int
    title: str
    description: str
    owner_user_id: int | None
    owner_name: str | None
    period_start: date
    period_end: date
    archived: bool
    created_at: datetime
    updated_at: datetime
    progress: ProgressOut = Field(description="The mean of the key results' progress (those with a figure)")
    key_results: list[KeyResultOut]
    url: str = Field(description="The objective in the console")


class ObjectiveList(BaseModel):
    as_of: datetime = Field(description="When the progress was computed")
    items: list[ObjectiveOut]
