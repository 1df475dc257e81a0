"""Assist: what the pages and the API call for suggested replies (``suggestions``), with the optional
model draft (``drafts``) asked for outside the request's transaction."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime

from sqlalchemy.orm import Session

from trustdesk.assist import drafts, suggestions
from trustdesk.assist.suggestions import Shown
from trustdesk.cases.models import Case
from trustdesk.core.identity import Actor
from trustdesk.core.settings import Settings


def suggest_for_case(session: Session, case: Case, *, actor: Actor, settings: Settings, now: datetime,
                     commit: Callable[[], None]) -> Shown:
    """The case's suggestions, recorded; with a language model configured, its draft is added after
    ``commit`` has ended the transaction, so a slow provider holds no database lock (on SQLite a
    transaction holds the write lock). A failing provider costs the draft only."""
    shown = suggestions.suggest(session, case, actor=actor, settings=settings, now=now)
    if shown.row is None or not shown.question or not drafts.configured(settings):
        return shown
    set_id, language = shown.row.id, case.language
    commit()
    draft = drafts.draft(settings, shown.question, language, shown.suggestions)
    if draft:
        shown.suggestions.append(suggestions.add_draft(session, set_id, draft))
    return shown
