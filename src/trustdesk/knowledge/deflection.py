"""Honest deflection (GLOSSARY): a bot conversation is *resolved by self-service* only when the same
person opens no case on any channel within ``days`` of it. Until those days have passed it is
*pending*; a conversation with nobody signed in cannot be followed and is *unknown*, never resolved.
The funnel built on this rule is ``knowledge.funnel``.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from trustdesk.knowledge.bot import State
from trustdesk.knowledge.models import BotConversation

GROUPS = ("topic", "market", "language")


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
