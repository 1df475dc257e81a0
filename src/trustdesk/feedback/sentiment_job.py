"""Sentiment's scheduled work: score the customer messages that arrived since the last run and flag cases by
the active rules (safe to run twice: a message is scored once, a rule flags a case once)."""

from __future__ import annotations

from sqlalchemy.orm import Session, sessionmaker

from trustdesk.core.clock import Clock
from trustdesk.core.db import transaction
from trustdesk.core.outbox import PeriodicJob
from trustdesk.feedback import sentiment


def score_messages(factory: sessionmaker[Session], clock: Clock) -> int:
    """One batch of new customer messages; returns how many were scored."""
    with transaction(factory) as session:
        return sentiment.score_new_messages(session, now=clock.now()).scored


PERIODIC: list[tuple[float, PeriodicJob]] = [(30.0, score_messages)]
