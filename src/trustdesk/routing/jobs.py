"""Routing's scheduled work: retrain the topic model, watch the misroute rate for drift, remind
catalogue owners of overdue reviews. Each re-checks state and is safe to run twice."""

from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy.orm import Session, sessionmaker

from trustdesk.core.clock import Clock
from trustdesk.core.db import transaction
from trustdesk.core.notifications import holders_of, notify
from trustdesk.core.permissions import Perm
from trustdesk.core.settings import get_settings
from trustdesk.directory import catalogue
from trustdesk.routing import analysis, registry


def check_drift(session: Session, *, now: datetime) -> dict[str, object] | None:
    """Compare the last seven days (to today's midnight UTC) with the four weeks before; alert once per
    calendar week, read or not: a rise that lasts is one alert, not seven."""
    until = now.replace(hour=0, minute=0, second=0, microsecond=0)
    weeks = analysis.weekly_rates(
        analysis.journeys(session, since=until - timedelta(days=7 * (analysis.DRIFT_WEEKS + 1)), until=until),
        until=until, weeks=analysis.DRIFT_WEEKS + 1)
    found = analysis.drift(weeks)
    if found is None or not found["alert"]:
        return found
    week_to = found["week_to"]
    assert isinstance(week_to, datetime)
    notify(session, holders_of(session, Perm.ROUTING_ADMIN), kind="routing.drift", now=now,
           title=f"Misroute rate rose to {found['week_rate']:.1%} in the week to {until:%Y-%m-%d}",
           body=(f"Against {found['baseline_rate']:.1%} over the {analysis.DRIFT_WEEKS} weeks before "
                 f"(z = {found['z']}, p = {found['p_value']:.2g}). The routing report ranks the causes and proposes "
                 "the changes that would have fixed the most cases."),
           link="/console/routing?days=7", dedupe_key=f"routing.drift:{week_to:%G-W%V}", once=True)
    return found


def retrain_model(factory: sessionmaker[Session], clock: Clock) -> int:
    with transaction(factory) as session:
        return int(registry.retrain(session, settings=get_settings(), now=clock.now()) is not None)


def watch_drift(factory: sessionmaker[Session], clock: Clock) -> int:
    with transaction(factory) as session:
        found = check_drift(session, now=clock.now())
        return int(bool(found and found["alert"]))


def remind_reviews(factory: sessionmaker[Session], clock: Clock) -> int:
    with transaction(factory) as session:
        return catalogue.remind_overdue_reviews(session, now=clock.now())


PERIODIC = [(3600.0, retrain_model), (6 * 3600.0, watch_drift), (3600.0, remind_reviews)]
