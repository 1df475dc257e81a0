"""Feedback tables: the customer's rating of a resolved case (CSAT)."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import CheckConstraint, ForeignKey, String
from sqlalchemy.orm import Mapped, mapped_column

from trustdesk.core.db import Base


class CaseRating(Base):
    """One rating per case; rating again replaces it (the latest counts). Every rating, the
    replaced ones included, stays in the case's event log as ``csat.rated``."""

    __tablename__ = "case_ratings"
    __table_args__ = (CheckConstraint("score BETWEEN 1 AND 5", name="score_range"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    case_id: Mapped[int] = mapped_column(ForeignKey("cases.id", ondelete="CASCADE"), unique=True)
    party_id: Mapped[int] = mapped_column(ForeignKey("parties.id", ondelete="RESTRICT"), index=True)
    team_id: Mapped[int | None] = mapped_column(ForeignKey("teams.id", ondelete="SET NULL"), index=True)
    score: Mapped[int]  # 1 (very dissatisfied) .. 5 (very satisfied)
    comment: Mapped[str] = mapped_column(String(2000), default="")
    channel: Mapped[str] = mapped_column(String(16))  # where the rating was given
    rated_at: Mapped[datetime] = mapped_column(index=True)
