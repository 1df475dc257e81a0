"""The demo's seeded carrier strike in Spain (``demo.timeline.SPIKES``) is what the emerging-issue detector,
replayed hour by hour over the history as the hourly job would have run, finds: one issue for
order.track_order in ES, opened within a day of the strike's first hour, with one alert to its owner.

A 1,500-case demo (the detector needs a few cases a day per topic to see a spike) on SQLite only: the
build is the slow part, and the detector's SQL runs on PostgreSQL in tests/insights/test_emerging.py.
"""

from __future__ import annotations

from datetime import datetime, time, timedelta
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from tests.demo.test_demo import DATA
from trustdesk.core.clock import FrozenClock
from trustdesk.core.notifications import Notification
from trustdesk.demo.build import build_demo
from trustdesk.demo.timeline import SPIKES, day_anchor
from trustdesk.insights import emerging
from trustdesk.insights.models import EmergingIssue


@pytest.mark.parametrize("backend", ["sqlite"], indirect=True)
def test_the_carrier_strike_is_found_within_a_day_and_alerted_once(factory: sessionmaker[Session], db: Session,
                                                                   clock: FrozenClock) -> None:
    build_demo(factory, clock, seed=7, case_count=1500, data_dir=DATA, progress=None)
    strike = next(s for s in SPIKES if s.key == "carrier-strike")
    madrid = ZoneInfo("Europe/Madrid")
    first_day = (day_anchor(clock.now()) - timedelta(days=strike.days_ago)).astimezone(madrid).date()
    began = datetime.combine(first_day, time(strike.from_hour), tzinfo=madrid)

    found = list(db.scalars(select(EmergingIssue).where(EmergingIssue.market == "ES",
                                                        EmergingIssue.topic == "order.track_order")))
    assert len(found) == 1, [(i.started_on, i.status) for i in found]
    [issue] = found
    assert issue.started_on == first_day
    assert issue.alerted_at is not None and began <= issue.alerted_at < began + timedelta(days=1)
    assert issue.peak_observed > 3 * issue.expected
    assert issue.example_case_ids and issue.owner_user_ids
    alerts = list(db.scalars(select(Notification).where(Notification.kind == emerging.ALERT_KIND,
                                                        Notification.title.contains("order.track_order"),
                                                        Notification.title.contains("ES"))))
    assert len(alerts) == len(issue.owner_user_ids)  # one per owner, however many hours it lasted
    assert all(a.repeats == 0 for a in alerts)
