"""Background work of cases: take ids, safe to run twice, re-check state before acting."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from sqlalchemy.orm import Session, sessionmaker

from trustdesk.cases import assignment, service
from trustdesk.core.clock import Clock
from trustdesk.core.db import transaction
from trustdesk.core.outbox import consumer
from trustdesk.core.settings import get_settings


@consumer("cases.assign", name="cases.auto_assign")
def assign_new_case(session: Session, payload: dict[str, Any], now: datetime) -> None:
    assignment.auto_assign(session, int(payload["case_id"]), now=now)


def close_solved(factory: sessionmaker[Session], clock: Clock) -> int:
    with transaction(factory) as session:
        window = timedelta(days=get_settings().reopen_window_days)
        return service.close_solved_cases(session, now=clock.now(), reopen_window=window)


def assign_waiting(factory: sessionmaker[Session], clock: Clock) -> int:
    with transaction(factory) as session:
        return assignment.assign_waiting(session, now=clock.now())


PERIODIC = [(300.0, close_solved), (30.0, assign_waiting)]
