"""The emerging-issue detector's hourly run: bring the case facts up to date, then judge every topic x market.

Safe to run twice: a run rewrites the day's checks, opens an issue only for a pair without an active one
(the partial unique index refuses a second), and never alerts for an issue it did not open.
"""

from __future__ import annotations

from sqlalchemy.orm import Session, sessionmaker

from trustdesk.core.clock import Clock
from trustdesk.core.db import transaction
from trustdesk.core.outbox import PeriodicJob
from trustdesk.core.settings import get_settings
from trustdesk.insights import emerging, facts

REFRESH_BATCHES = 40  # of facts.STALE_BATCH cases: a backlog larger than this waits for the next hour


def refresh_facts(factory: sessionmaker[Session], clock: Clock, *, batches: int = REFRESH_BATCHES) -> int:
    """Fold the stale cases, a batch per transaction, until none is left (or ``batches`` were done)."""
    total = 0
    for _ in range(batches):
        with transaction(factory) as session:
            done = facts.refresh_stale(session, now=clock.now())
        total += done
        if not done:
            break
    return total


def detect_job(factory: sessionmaker[Session], clock: Clock) -> emerging.Report:
    refresh_facts(factory, clock)
    with transaction(factory) as session:
        return emerging.detect(session, now=clock.now(), base_url=get_settings().base_url)


PERIODIC: list[tuple[float, PeriodicJob]] = [(3600.0, detect_job)]
