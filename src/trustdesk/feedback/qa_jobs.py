"""QA's scheduled work: sample the week that ended (UTC), hourly from Monday 00:00 on.

Each run samples the previous week again: ``qa.sample_week`` is idempotent (a case is sampled once and an
agent's random picks already made count toward their share), so the hourly reruns only add cases whose
facts arrived late (a solve folded after midnight, a bad rating given during the week after).
"""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy.orm import Session, sessionmaker

from trustdesk.core.clock import Clock
from trustdesk.core.db import transaction
from trustdesk.core.outbox import PeriodicJob
from trustdesk.feedback import qa


def sample_last_week(factory: sessionmaker[Session], clock: Clock) -> int:
    now = clock.now()
    week = qa.week_of(now) - timedelta(days=7)
    with transaction(factory) as session:
        return qa.sample_week(session, week, now=now).total


PERIODIC: list[tuple[float, PeriodicJob]] = [(3600.0, sample_last_week)]
