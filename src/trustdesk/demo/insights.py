"""The demo's insights: the emerging-issue detector run over the history as if it had run every hour.

``ensure_emerging`` replays the detector (``insights.emerging.replay``) hour by hour from the first day with
a full 28-day baseline to the build's "now", so its checks, issues and alerts are the ones the hourly job
would have left: the carrier strike in Spain (``timeline.SPIKES``) opens one issue for order.track_order in
ES within hours of its start and alerts its catalogue owner once, however many hours it lasts; the payments
outage and the mega-sale open theirs. Alerts stay in the owners' inboxes (dated when they were raised); no
webhook is sent for history. Idempotent: once the demo has checks, it does nothing.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import event, func, select
from sqlalchemy.orm import Session

from trustdesk.core.outbox import OutboxMessage
from trustdesk.insights import emerging
from trustdesk.insights.models import CaseFact, EmergingCheck


@contextmanager
def _no_deliveries(session: Session) -> Iterator[None]:
    """Old issues are not news to a webhook receiver today: drop the outbox messages the replay queues."""

    def drop(flushing: Session, _context: Any, _instances: Any) -> None:
        for obj in list(flushing.new):
            if isinstance(obj, OutboxMessage):
                flushing.expunge(obj)

    event.listen(session, "before_flush", drop)
    try:
        yield
        drop(session, None, None)
        session.info.pop("outbox_pending", None)
    finally:
        event.remove(session, "before_flush", drop)


def ensure_emerging(session: Session, *, now: datetime) -> str:
    """Replay the detector over the demo's history (see the module docstring); "" when there was nothing to do."""
    if session.scalar(select(EmergingCheck.id).limit(1)) is not None:
        return ""
    first = session.scalar(select(func.min(CaseFact.created_at)))
    if first is None:
        return ""
    since = (first + timedelta(days=emerging.BASELINE_DAYS + 1)).replace(minute=0, second=0, microsecond=0)
    if since >= now:
        return ""
    with _no_deliveries(session):
        report = emerging.replay(session, since=since, until=now)
    found = emerging.issues(session, now=now, days=(now - since).days + 1)
    listed = "; ".join(f"{i.topic} in {i.market} from {i.started_on:%Y-%m-%d}" for i in
                       sorted(found, key=lambda i: (i.started_on, i.market, i.topic)))
    return (f"{len(found)} emerging issues over {(now - since).days} days ({report.alerts} alerts)"
            + (f": {listed}" if listed else ""))
