"""Honest deflection (GLOSSARY): a bot conversation is *resolved by self-service* only when the same
person opens no case on any channel within ``days`` of it. Until those days have passed it is
*pending*; a conversation with nobody signed in cannot be followed and is *unknown*, never resolved.

The funnel per topic, market and language: attempts (conversations with a question), answered (the
bot offered an article), helped (the customer said it solved it), handed off (a case was opened from
it), resolved, pending, unknown.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from trustdesk.cases.models import Case, Party
from trustdesk.core.errors import Invalid
from trustdesk.knowledge.bot import State
from trustdesk.knowledge.models import BotConversation, BotTurn

GROUPS = ("topic", "market", "language")


@dataclass
class Funnel:
    key: str
    attempts: int = 0
    answered: int = 0
    helped: int = 0
    handed_off: int = 0
    resolved: int = 0
    pending: int = 0
    unknown: int = 0
    _seen: set[int] = field(default_factory=set, repr=False)

    @property
    def deflection_rate(self) -> float | None:
        """Resolved / attempts that could be judged (not pending, not unknown)."""
        judged = self.attempts - self.pending - self.unknown
        return self.resolved / judged if judged > 0 else None

    def as_dict(self) -> dict[str, Any]:
        rate = self.deflection_rate
        return {"key": self.key, "attempts": self.attempts, "answered": self.answered, "helped": self.helped,
                "handed_off": self.handed_off, "resolved": self.resolved, "pending": self.pending,
                "unknown": self.unknown, "deflection_rate": None if rate is None else round(rate, 6)}


def outcome(conversation: BotConversation, *, next_case_at: datetime | None, now: datetime, days: int) -> str:
    """resolved | handed_off | pending | unknown | contacted (a case came within the window)."""
    if conversation.status == State.HANDED_OFF.value:
        return "handed_off"
    if conversation.user_id is None:
        return "unknown"
    window_end = conversation.started_at + timedelta(days=days)
    if next_case_at is not None and next_case_at < window_end:
        return "contacted"
    return "resolved" if now >= window_end else "pending"


def funnel(session: Session, *, since: datetime, until: datetime, now: datetime, days: int,
           by: str = "topic") -> list[Funnel]:
    if by not in GROUPS:
        raise Invalid(f"group by one of {', '.join(GROUPS)}", field="by")
    conversations = session.scalars(select(BotConversation).where(
        BotConversation.started_at >= since, BotConversation.started_at < until)).all()
    ids = [c.id for c in conversations]
    asked: set[int] = set()
    answered: set[int] = set()
    if ids:
        for conversation_id, kind in session.execute(select(BotTurn.conversation_id, BotTurn.kind).where(
                BotTurn.conversation_id.in_(ids), BotTurn.kind.in_(("question", "answer")))):
            (asked if kind == "question" else answered).add(conversation_id)
    # The first case each signed-in person opened after each conversation started, on any channel.
    users = sorted({c.user_id for c in conversations if c.user_id is not None})
    opened: dict[int, list[datetime]] = defaultdict(list)
    if users:
        rows = session.execute(select(Party.user_id, Case.created_at).join(Case, Case.party_id == Party.id)
                               .where(Party.user_id.in_(users), Case.created_at >= since))
        for user_id, created_at in rows:
            if user_id is not None:
                opened[user_id].append(created_at)
    groups: dict[str, Funnel] = {}
    for conversation in conversations:
        if conversation.id not in asked:
            continue
        key = {"topic": conversation.topic or "—", "market": conversation.market,
               "language": conversation.locale.split("-")[0]}[by]
        row = groups.setdefault(key, Funnel(key=key))
        row.attempts += 1
        row.answered += conversation.id in answered
        row.helped += conversation.helped_at is not None
        later = [at for at in opened.get(conversation.user_id or -1, []) if at >= conversation.started_at]
        result = outcome(conversation, next_case_at=min(later, default=None), now=now, days=days)
        if result == "handed_off":
            row.handed_off += 1
        elif result in ("resolved", "pending", "unknown"):
            setattr(row, result, getattr(row, result) + 1)
    return sorted(groups.values(), key=lambda f: (-f.attempts, f.key))
