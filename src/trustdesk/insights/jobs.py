"""Insights' scheduled work: keep the case facts current (safe to run twice; each run folds the stale cases),
and send the weekly reports that are due (each week once per schedule: ``insights.schedules``)."""

from __future__ import annotations

from sqlalchemy.orm import Session, sessionmaker

from trustdesk.core.clock import Clock
from trustdesk.core.db import transaction
from trustdesk.core.outbox import PeriodicJob
from trustdesk.core.settings import get_settings
from trustdesk.insights import facts, schedules


def refresh_facts(factory: sessionmaker[Session], clock: Clock) -> int:
    with transaction(factory) as session:
        return facts.refresh_stale(session, now=clock.now())


def send_reports(factory: sessionmaker[Session], clock: Clock) -> schedules.SendReport:
    with transaction(factory) as session:
        return schedules.send_due(session, now=clock.now(), base_url=get_settings().base_url)


PERIODIC: list[tuple[float, PeriodicJob]] = [(60.0, refresh_facts), (900.0, send_reports)]
