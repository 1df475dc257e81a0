"""SLA's scheduled work: the sweep that announces warnings and breaches (safe to run twice)."""

from __future__ import annotations

from sqlalchemy.orm import Session, sessionmaker

from trustdesk.core.clock import Clock
from trustdesk.core.db import transaction
from trustdesk.sla import timers


def sweep(factory: sessionmaker[Session], clock: Clock) -> int:
    with transaction(factory) as session:
        warned, breached = timers.sweep(session, now=clock.now())
        return warned + breached


PERIODIC = [(30.0, sweep)]
