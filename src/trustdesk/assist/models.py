"""Assist tables: response templates (macros: a team's reusable replies, their text per locale, and
every use of one) and the suggested replies shown to an agent on a case (and which one was used).

A template with no team serves every team. Its bodies are checked when saved (known variables only,
valid syntax), so rendering on a case never fails for the template's own sake.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import ForeignKey, Index, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from trustdesk.core.db import Base


class SuggestionSet(Base):
    """The suggestions one agent was shown on one case at one moment (``items``: rank, source,
    ref, title, why, text, locale, score), and the one they used, if any. Acceptance rate per team
    = sets with a use / sets shown."""

    __tablename__ = "reply_suggestion_sets"
    __table_args__ = (Index("ix_reply_suggestion_sets_team_created", "team_id", "created_at"),
                      Index("ix_reply_suggestion_sets_case_created", "case_id", "created_at"))

    id: Mapped[int] = mapped_column(primary_key=True)
    case_id: Mapped[int] = mapped_column(ForeignKey("cases.id", ondelete="CASCADE"))
    team_id: Mapped[int | None] = mapped_column(ForeignKey("teams.id", ondelete="SET NULL"))
    user_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    locale: Mapped[str] = mapped_column(String(16))
    items: Mapped[dict[str, Any]]  # {"items": [...], "case_version": n, "drafted": bool}
    created_at: Mapped[datetime]
    used_rank: Mapped[int | None]
    used_source: Mapped[str | None] = mapped_column(String(16))
    used_at: Mapped[datetime | None]


class ResponseTemplate(Base):
    """A reply an agent starts from. ``actions`` (set status, add tags, set priority) are applied to the
    case when the template is used; ``usage_count`` counts the rows of ``response_template_uses``."""

    __tablename__ = "response_templates"

    id: Mapped[int] = mapped_column(primary_key=True)
    key: Mapped[str] = mapped_column(String(100), unique=True)
    name: Mapped[str] = mapped_column(String(200))
    description: Mapped[str] = mapped_column(String(1000), default="")
    team_id: Mapped[int | None] = mapped_column(ForeignKey("teams.id", ondelete="RESTRICT"), index=True)
    default_locale: Mapped[str] = mapped_column(String(16))
    # {"status": "solved" | None, "add_tags": ["refund"], "priority": "high" | None}
    actions: Mapped[dict[str, Any]]
    is_active: Mapped[bool] = mapped_column(default=True)
    usage_count: Mapped[int] = mapped_column(default=0)
    last_used_at: Mapped[datetime | None]
    version: Mapped[int] = mapped_column(default=1)
    created_by_user_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    updated_by_user_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    created_at: Mapped[datetime]
    updated_at: Mapped[datetime]
    retired_at: Mapped[datetime | None]

    __mapper_args__ = {"version_id_col": version}


class ResponseTemplateBody(Base):
    """One locale's text of a template (a Jinja2 text template rendered in a sandbox); ``variables``
    lists the variables it uses, found when it was saved."""

    __tablename__ = "response_template_bodies"
    __table_args__ = (UniqueConstraint("template_id", "locale"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    template_id: Mapped[int] = mapped_column(ForeignKey("response_templates.id", ondelete="CASCADE"))
    locale: Mapped[str] = mapped_column(String(16))
    body: Mapped[str] = mapped_column(Text)
    variables: Mapped[list[str]]
    updated_by_user_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    updated_at: Mapped[datetime]


class ResponseTemplateUse(Base):
    """One use of a template on a case: by whom, for which team (the case's, then), in which locale."""

    __tablename__ = "response_template_uses"
    __table_args__ = (
        Index("ix_response_template_uses_template_at", "template_id", "at"),
        Index("ix_response_template_uses_team_at", "team_id", "at"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    template_id: Mapped[int] = mapped_column(ForeignKey("response_templates.id", ondelete="CASCADE"))
    case_id: Mapped[int] = mapped_column(ForeignKey("cases.id", ondelete="CASCADE"), index=True)
    user_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    team_id: Mapped[int | None] = mapped_column(ForeignKey("teams.id", ondelete="SET NULL"))
    locale: Mapped[str] = mapped_column(String(16))
    via: Mapped[str] = mapped_column(String(16))  # reply (sent with a reply) | apply (actions only) | api
    at: Mapped[datetime]
