"""Shapes of the routing API."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from pydantic import Field

from trustdesk.core.schemas import Out, StrictIn


class DecisionOut(Out):
    case_id: int
    decided_at: datetime
    source: str
    topic: str | None
    topic_source: str | None
    team_id: int | None
    team_key: str | None = None
    queue_id: int
    queue_key: str | None = None
    priority: str
    inputs: dict[str, Any]
    rule_set_version: int | None
    rules: list[dict[str, Any]]
    catalogue_entry_id: int | None
    catalogue_version: int | None
    model_version: int | None
    confidence: float | None
    threshold: float | None
    suggestions: list[dict[str, Any]]
    triage_reason: str | None
    explanation: str


class RuleSetIn(StrictIn):
    rules: list[dict[str, Any]] = Field(max_length=500, description="The ordered rules (see routing.rules)")
    note: str | None = Field(default=None, max_length=1000)


class RuleSetOut(Out):
    version: int
    status: str
    rules: list[dict[str, Any]]
    note: str | None
    author_user_id: int | None
    publisher_user_id: int | None
    created_at: datetime
    published_at: datetime | None
    retired_at: datetime | None


class ModelOut(Out):
    version: int
    status: str
    algorithm: str
    sha256: str
    labels: list[str]
    threshold: float
    metrics: dict[str, Any]
    n_train: int
    data_from: datetime | None
    data_to: datetime | None
    trained_by: str
    trained_at: datetime
    activated_at: datetime | None
    retired_at: datetime | None


class TrainIn(StrictIn):
    days: int | None = Field(default=None, ge=1, le=3650, description="History to learn from (default: setting)")
    embeddings: bool = Field(default=True, description="Use sentence embeddings when the extra is installed")
    activate: bool = False


class NotificationOut(Out):
    id: int
    kind: str
    title: str
    body: str
    link: str | None
    repeats: int
    created_at: datetime
    updated_at: datetime
    read_at: datetime | None
