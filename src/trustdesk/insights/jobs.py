"""Insights' scheduled work: keep the case facts current (safe to run twice; each run folds the stale cases),
and send the weekly reports that are due (each week once per schedule: ``insights.schedules``)."""

from __future__ import annotations

from datetime import date

from sqlalchemy.orm import Session, sessionmaker

from trustdesk.core.clock import Clock
from trustdesk.core.db import read_only, transaction
from trustdesk.core.outbox import PeriodicJob
from trustdesk.core.settings import get_settings
from trustdesk.insights import facts, report, schedules


def refresh_facts(factory: sessionmaker[Session], clock: Clock) -> int:
    with transaction(factory) as session:
        return facts.refresh_stale(session, now=clock.now())


def send_reports(factory: sessionmaker[Session], clock: Clock) -> schedules.SendReport:
    """Each due week's report is built in a read-only unit of work (seconds of reading, no write lock held),
    then sent and marked in a short transaction of its own."""
    now, base_url = clock.now(), get_settings().base_url
    result = schedules.SendReport()
    due = []
    with transaction(factory) as session:
        for schedule_id, market, week in schedules.due(session, now):
            if schedules.deliverable(session, schedules.by_id(session, schedule_id)):
                due.append((schedule_id, market, week))
            else:
                result.held.append(schedule_id)
    built: dict[tuple[str | None, date], schedules.Message] = {}
    for schedule_id, market, week in due:
        if (market, week) not in built:
            with read_only(factory) as reader:
                built[market, week] = schedules.message(
                    report.weekly(reader, market=market, week_start=week, now=now), base_url)
        with transaction(factory) as session:
            schedules.send_built(session, schedule_id, week, built[market, week], now=now, result=result)
    return result


PERIODIC: list[tuple[float, PeriodicJob]] = [(60.0, refresh_facts), (900.0, send_reports)]
