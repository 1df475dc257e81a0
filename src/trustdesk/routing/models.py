"""Routing's tables: rule sets (versions of the ordered rules), trained models (a registry of
versioned artifacts) and the decision log (why each case went where it went)."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from typing import Any

from sqlalchemy import ForeignKey, Index, String, Text, text
from sqlalchemy.orm import Mapped, mapped_column

from trustdesk.core.db import Base, JSONType


class RuleSetStatus(StrEnum):
    DRAFT = "draft"  # editable; can be simulated; not used to route
    PUBLISHED = "published"  # the one set in force (at most one at a time)
    RETIRED = "retired"  # was published, replaced by a later version


class RuleSet(Base):
    """One version of the ordered routing rules, stored as data (see ``routing.rules``)."""

    __tablename__ = "routing_rule_sets"
    # At most one set in force, whatever two publishers do at once.
    __table_args__ = (Index("uq_routing_rule_sets_one_published", "status", unique=True,
                            sqlite_where=text("status = 'published'"), postgresql_where=text("status = 'published'")),)

    id: Mapped[int] = mapped_column(primary_key=True)
    version: Mapped[int] = mapped_column(unique=True)
    status: Mapped[str] = mapped_column(String(16), index=True)
    # [{"id", "version", "name", "when": [...], "then": {...}, "stop", "enabled"}], in order
    rules: Mapped[list[dict[str, Any]]] = mapped_column(JSONType)
    note: Mapped[str | None] = mapped_column(String(1000))
    author_user_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="RESTRICT"))
    publisher_user_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="RESTRICT"))
    created_at: Mapped[datetime]
    published_at: Mapped[datetime | None]
    retired_at: Mapped[datetime | None]


class ModelStatus(StrEnum):
    TRAINED = "trained"  # evaluated, not routing
    ACTIVE = "active"  # the model routing uses (at most one)
    RETIRED = "retired"  # was active once


class RoutingModel(Base):
    """A trained topic classifier: the artifact file (checked by sha256 on load) and its evaluation."""

    __tablename__ = "routing_models"
    __table_args__ = (Index("uq_routing_models_one_active", "status", unique=True,
                            sqlite_where=text("status = 'active'"), postgresql_where=text("status = 'active'")),)

    id: Mapped[int] = mapped_column(primary_key=True)
    version: Mapped[int] = mapped_column(unique=True)
    status: Mapped[str] = mapped_column(String(16), index=True)
    algorithm: Mapped[str] = mapped_column(String(100))
    path: Mapped[str] = mapped_column(String(500))  # relative to the data directory
    sha256: Mapped[str] = mapped_column(String(64))
    labels: Mapped[list[str]] = mapped_column(JSONType)
    threshold: Mapped[float]  # the confidence below which the model sends a case to triage
    metrics: Mapped[dict[str, Any]] = mapped_column(JSONType)  # held-out accuracy, macro-F1, per-topic counts
    n_train: Mapped[int]
    data_from: Mapped[datetime | None]
    data_to: Mapped[datetime | None]
    trained_by: Mapped[str] = mapped_column(String(200))  # a user's e-mail or "job"
    trained_at: Mapped[datetime]
    activated_at: Mapped[datetime | None]
    retired_at: Mapped[datetime | None]
    # The model this one replaced when it was activated (not by a rollback): what rollback returns to.
    replaced_model_id: Mapped[int | None] = mapped_column(ForeignKey("routing_models.id", ondelete="SET NULL"))


class DecisionSource(StrEnum):
    EXPLICIT = "explicit"  # the caller named the queue (integration, request type)
    RULE = "rule"  # a rule set the team
    CATALOGUE = "catalogue"  # the service catalogue named the owner of the topic
    INTAKE_DEFAULT = "intake_default"  # no owner known; the queue intake settings took it
    TRIAGE = "triage"  # not sure enough, or nobody owns it: the market's triage queue


class RoutingDecision(Base):
    """Why a case went where it went at intake: every input that decided it, with versions."""

    __tablename__ = "routing_decisions"
    __table_args__ = (Index("ix_routing_decisions_decided_at", "decided_at"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    case_id: Mapped[int] = mapped_column(ForeignKey("cases.id", ondelete="CASCADE"), unique=True)
    decided_at: Mapped[datetime]
    source: Mapped[str] = mapped_column(String(16))
    topic: Mapped[str | None] = mapped_column(String(200))
    topic_source: Mapped[str | None] = mapped_column(String(16))  # given | rule | classifier
    team_id: Mapped[int | None] = mapped_column(ForeignKey("teams.id", ondelete="RESTRICT"), index=True)
    queue_id: Mapped[int] = mapped_column(ForeignKey("queues.id", ondelete="RESTRICT"))
    priority: Mapped[str] = mapped_column(String(8))
    # What the case arrived with before rules ran (topic, priority, tags): simulation replays from it.
    inputs: Mapped[dict[str, Any]] = mapped_column(JSONType)
    rule_set_version: Mapped[int | None]
    rules: Mapped[list[dict[str, Any]]] = mapped_column(JSONType)  # fired: [{"id", "version", "name"}]
    catalogue_entry_id: Mapped[int | None]
    catalogue_version: Mapped[int | None]
    model_version: Mapped[int | None]
    confidence: Mapped[float | None]
    threshold: Mapped[float | None]
    suggestions: Mapped[list[dict[str, Any]]] = mapped_column(JSONType)  # top 3: [{"topic", "confidence", ...}]
    triage_reason: Mapped[str | None] = mapped_column(String(32))
    explanation: Mapped[str] = mapped_column(Text)
