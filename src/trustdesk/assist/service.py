"""Assist: what the pages and the API call. Suggested replies for a case (``suggestions``), the
optional model draft (``drafts``), and the team's response templates as a source."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy.orm import Session

from trustdesk.assist import drafts, suggestions
from trustdesk.assist.suggestions import Shown, Suggestion
from trustdesk.cases.models import Case
from trustdesk.core.identity import Actor
from trustdesk.core.settings import Settings


def suggest_for_case(session: Session, case: Case, *, actor: Actor, settings: Settings, now: datetime) -> Shown:
    drafter = None
    if drafts.configured(settings):
        def drafter(question: str, language: str, sources: list[Suggestion]) -> str | None:
            return drafts.draft(settings, question, language, sources)
    return suggestions.suggest(session, case, actor=actor, settings=settings, now=now, drafter=drafter)
