"""Feedback's scheduled work: plan, send and expire CSAT surveys (safe to run twice: each step acts only
on surveys still in the state it looks for, and a twin run on another worker skips what this one holds)."""

from __future__ import annotations

from sqlalchemy.orm import Session, sessionmaker

from trustdesk.core.clock import Clock
from trustdesk.core.db import transaction
from trustdesk.core.outbox import PeriodicJob
from trustdesk.core.settings import get_settings
from trustdesk.feedback import surveys


def run_surveys(factory: sessionmaker[Session], clock: Clock) -> int:
    """One pass: plan the newly solved cases' surveys, send the due ones, expire the unanswered ones."""
    with transaction(factory) as session:
        now = clock.now()
        planned = surveys.schedule_due(session, now=now)
        sent = surveys.send_due(session, now=now, base_url=get_settings().base_url)
        expired = surveys.expire(session, now=now)
        return planned + sent + expired


PERIODIC: list[tuple[float, PeriodicJob]] = [(60.0, run_surveys)]
