"""Insights' scheduled work: keep the case facts current (safe to run twice; each run folds the stale cases)."""

from __future__ import annotations

from sqlalchemy.orm import Session, sessionmaker

from trustdesk.core.clock import Clock
from trustdesk.core.db import transaction
from trustdesk.core.outbox import PeriodicJob
from trustdesk.insights import facts


def refresh_facts(factory: sessionmaker[Session], clock: Clock) -> int:
    with transaction(factory) as session:
        return facts.refresh_stale(session, now=clock.now())


PERIODIC: list[tuple[float, PeriodicJob]] = [(60.0, refresh_facts)]
