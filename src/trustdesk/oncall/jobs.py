"""Oncall's background work: start ladders on breaches, warnings and urgent cases (outbox consumers)
and the tick that runs due steps and ack timeouts. Everything takes ids and re-checks state, so a
duplicate message or a second scheduler does nothing twice."""

from __future__ import annotations

import logging
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy.orm import Session, sessionmaker

from trustdesk.core import webhooks
from trustdesk.core.clock import Clock
from trustdesk.core.db import transaction
from trustdesk.core.events import SYSTEM
from trustdesk.core.outbox import PeriodicJob, consumer
from trustdesk.oncall import escalations

log = logging.getLogger(__name__)

# A breach or warning the sweep announces this long after it happened (the worker was down, or a bulk
# load brought old cases in) is told on the timeline but pages nobody: after an outage, a storm of
# pages about old news buries the ones that matter.
STALE_AFTER = timedelta(hours=4)

_METRIC_WORDS = {"first_reply": "first reply", "next_reply": "next reply", "periodic_update": "periodic update",
                 "resolution": "resolution", "internal": "internal (OLA)"}


def _escalate_sla(session: Session, payload: dict[str, Any], now: datetime, *, trigger: str, words: str,
                  happened_at: str | None) -> None:
    metric = _METRIC_WORDS.get(str(payload.get("metric")), str(payload.get("metric")))
    if happened_at and now - datetime.fromisoformat(happened_at) > STALE_AFTER:
        escalations.skip(session, int(payload["case_id"]), trigger=trigger, now=now,
                         why=f"the {metric} {trigger} was announced more than {STALE_AFTER} after it happened")
        return
    escalations.start(session, int(payload["case_id"]), trigger=trigger, reason=f"{metric} target {words}",
                      actor=SYSTEM, now=now)


@consumer("sla.breached", name="oncall.escalate_on_breach")
def escalate_on_breach(session: Session, payload: dict[str, Any], now: datetime) -> None:
    webhooks.emit(session, "sla.breached", {k: payload.get(k) for k in ("case_id", "metric", "due_at")}, now=now)
    _escalate_sla(session, payload, now, trigger="breach", words="breached", happened_at=payload.get("due_at"))


@consumer("sla.warned", name="oncall.escalate_on_warning")
def escalate_on_warning(session: Session, payload: dict[str, Any], now: datetime) -> None:
    _escalate_sla(session, payload, now, trigger="warning", words="due soon", happened_at=payload.get("warn_at"))


@consumer("cases.urgent", name="oncall.escalate_urgent")
def escalate_urgent(session: Session, payload: dict[str, Any], now: datetime) -> None:
    escalations.start(session, int(payload["case_id"]), trigger="urgent", reason="urgent priority", actor=SYSTEM,
                      now=now)


def tick(factory: sessionmaker[Session], clock: Clock, *, batch: int = 500) -> int:
    """Run what is due, batch after batch until nothing is left: one transaction per escalation, so
    one failure holds up no other (a failing one is logged and left for the next tick)."""
    now = clock.now()
    ran, tried = 0, set()
    while True:
        with transaction(factory) as session:
            ids = [i for i in sorted(set(escalations.due_ids(session, now=now, limit=batch)
                                         + escalations.open_on_done_cases(session, limit=batch))) if i not in tried]
        if not ids:
            return ran
        for escalation_id in ids:
            tried.add(escalation_id)
            try:
                with transaction(factory) as session:
                    escalation = escalations.escalation_by_id(session, escalation_id, for_update=True)
                    ran += escalations.advance(session, escalation, now=now)
            except Exception:
                log.exception("escalation %s failed to advance", escalation_id)


PERIODIC: list[tuple[float, PeriodicJob]] = [(15.0, tick)]
