"""Knowledge-base tables: categories, articles, their versions per locale (draft -> review ->
published -> retired), attachments and readers' feedback."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import ForeignKey, Index, String, Text, UniqueConstraint, text
from sqlalchemy.orm import Mapped, mapped_column

from trustdesk.core.db import Base


class KbCategory(Base):
    __tablename__ = "kb_categories"

    id: Mapped[int] = mapped_column(primary_key=True)
    key: Mapped[str] = mapped_column(String(64), unique=True)
    names: Mapped[dict[str, Any]]  # locale -> name; "en" always present
    position: Mapped[int] = mapped_column(default=100)
    created_at: Mapped[datetime]


class KbArticle(Base):
    """An article across its locales and versions. ``markets`` empty: shown in every market."""

    __tablename__ = "kb_articles"

    id: Mapped[int] = mapped_column(primary_key=True)
    key: Mapped[str] = mapped_column(String(100), unique=True)
    category_id: Mapped[int] = mapped_column(ForeignKey("kb_categories.id", ondelete="RESTRICT"), index=True)
    topic: Mapped[str | None] = mapped_column(String(200))  # the routing topic it answers, when known
    intent: Mapped[str | None] = mapped_column(String(100))  # the customer intent it answers (demo: Bitext's)
    markets: Mapped[list[str]]
    position: Mapped[int] = mapped_column(default=100)
    is_active: Mapped[bool] = mapped_column(default=True)
    created_at: Mapped[datetime]
    updated_at: Mapped[datetime]


class KbVersion(Base):
    """One locale's text of an article at one version. Exactly one published per article and locale."""

    __tablename__ = "kb_versions"
    __table_args__ = (
        UniqueConstraint("article_id", "locale", "version"),
        Index("uq_kb_versions_published", "article_id", "locale", unique=True,
              sqlite_where=text("status = 'published'"), postgresql_where=text("status = 'published'")),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    article_id: Mapped[int] = mapped_column(ForeignKey("kb_articles.id", ondelete="CASCADE"), index=True)
    locale: Mapped[str] = mapped_column(String(16))
    version: Mapped[int]
    status: Mapped[str] = mapped_column(String(16))  # draft | review | published | retired
    title: Mapped[str] = mapped_column(String(200))
    body_md: Mapped[str] = mapped_column(Text)
    body_html: Mapped[str] = mapped_column(Text)  # rendered and sanitised when saved
    author_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    reviewer_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    note: Mapped[str] = mapped_column(String(500), default="")
    created_at: Mapped[datetime]
    submitted_at: Mapped[datetime | None]
    published_at: Mapped[datetime | None]


class KbAttachment(Base):
    """A file shown with an article (metadata; the bytes live in the file store, as case attachments do)."""

    __tablename__ = "kb_attachments"

    id: Mapped[int] = mapped_column(primary_key=True)
    article_id: Mapped[int] = mapped_column(ForeignKey("kb_articles.id", ondelete="CASCADE"), index=True)
    filename: Mapped[str] = mapped_column(String(255))
    content_type: Mapped[str] = mapped_column(String(100))
    size_bytes: Mapped[int]
    url: Mapped[str] = mapped_column(String(2000))
    created_at: Mapped[datetime]


class KbFeedback(Base):
    """"Did this help?" from a reader of one locale's text."""

    __tablename__ = "kb_feedback"
    __table_args__ = (Index("ix_kb_feedback_article_created", "article_id", "created_at"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    article_id: Mapped[int] = mapped_column(ForeignKey("kb_articles.id", ondelete="CASCADE"))
    locale: Mapped[str] = mapped_column(String(16))
    version: Mapped[int]
    helpful: Mapped[bool]
    comment: Mapped[str] = mapped_column(String(1000), default="")
    user_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    market: Mapped[str | None] = mapped_column(String(8))
    created_at: Mapped[datetime]


class BotConversation(Base):
    """A customer's exchange with the answering bot (help-center widget or in-app chat). The secret
    the client holds is kept as a hash; a signed-in customer's conversation also names them."""

    __tablename__ = "bot_conversations"
    __table_args__ = (Index("ix_bot_conversations_party_started", "party_id", "started_at"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    channel: Mapped[str] = mapped_column(String(16))  # help_center | in_app_chat
    market: Mapped[str] = mapped_column(String(8))
    locale: Mapped[str] = mapped_column(String(16))
    user_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    party_id: Mapped[int | None] = mapped_column(ForeignKey("parties.id", ondelete="SET NULL"))
    status: Mapped[str] = mapped_column(String(16))  # open | guided | answered | helped | handed_off
    article_key: Mapped[str | None] = mapped_column(String(100))  # the last article offered
    topic: Mapped[str | None] = mapped_column(String(200))  # that article's topic
    case_id: Mapped[int | None] = mapped_column(ForeignKey("cases.id", ondelete="SET NULL"))
    started_at: Mapped[datetime]
    updated_at: Mapped[datetime]
    helped_at: Mapped[datetime | None]
    handed_off_at: Mapped[datetime | None]
    # The guided flow running (or last run): its key, the ask step waiting for the customer (null when
    # none is), and its progress (slots, variables, attempts, lookups: ``flows.Progress``).
    flow_key: Mapped[str | None] = mapped_column(String(64))
    flow_step: Mapped[str | None] = mapped_column(String(40))
    flow_state: Mapped[dict[str, Any] | None]


class BotTurn(Base):
    """One line of a conversation: the customer's question or the bot's answer, offer or hand-off."""

    __tablename__ = "bot_turns"
    __table_args__ = (Index("ix_bot_turns_conversation_id", "conversation_id", "id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    conversation_id: Mapped[int] = mapped_column(ForeignKey("bot_conversations.id", ondelete="CASCADE"))
    role: Mapped[str] = mapped_column(String(16))  # customer | bot
    # question | answer | no_answer | helped | not_helped | handoff; flows: flow_prompt (the bot asks for a
    # slot), flow_reply (the customer's answer to it), flow_handoff (the flow passes them to a person)
    kind: Mapped[str] = mapped_column(String(16))
    text: Mapped[str] = mapped_column(Text)
    article_key: Mapped[str | None] = mapped_column(String(100))
    confidence: Mapped[float | None]
    at: Mapped[datetime]


class KbExample(Base):
    """A question an article answers, in a customer's words (an "example question"): search matches
    a new question against these as well as against the article, which is what lets it understand
    "where's my stuff??" as "Track your order"."""

    __tablename__ = "kb_examples"
    __table_args__ = (UniqueConstraint("article_id", "locale", "text"),
                      Index("ix_kb_examples_locale", "locale"))

    id: Mapped[int] = mapped_column(primary_key=True)
    article_id: Mapped[int] = mapped_column(ForeignKey("kb_articles.id", ondelete="CASCADE"))
    locale: Mapped[str] = mapped_column(String(16))
    text: Mapped[str] = mapped_column(String(500))
    source: Mapped[str] = mapped_column(String(16))  # editor | import | case
    created_by_user_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    created_at: Mapped[datetime]


class KbCalibration(Base):
    """How far to trust the search in one locale: the confidence function fitted on questions with
    known answers (``knowledge.search.Confidence``), and what it gave on them."""

    __tablename__ = "kb_calibrations"

    locale: Mapped[str] = mapped_column(String(16), primary_key=True)
    intercept: Mapped[float]
    score_weight: Mapped[float]
    margin_weight: Mapped[float]
    questions: Mapped[int]  # how many questions it was fitted on
    threshold: Mapped[float]  # the lowest confidence at which at most 5% of the answered were wrong
    answer_rate: Mapped[float]  # on those questions, at that threshold
    wrong_answer_rate: Mapped[float]
    fitted_at: Mapped[datetime]
