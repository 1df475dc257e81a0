"""Oncall figures from the event log: escalation rate, time to acknowledge, pages per person per week.

- **Escalation rate** (GLOSSARY) = cases escalated from Tier 1 / cases handled by Tier 1. A case is
  handled by T1 when it was created in the period and first routed to a T1 team; it is escalated when
  it later moved to a Tier 2 or oncall team, or an escalation started for it. **To oncall** counts those
  of them for which somebody was paged.
- **Time to acknowledge** = from the first page of an escalation's round to its acknowledgement
  (``seconds_to_ack`` on ``case.escalation_acknowledged``): median and p90 (nearest rank).
- **Oncall load** = pages per person per ISO week (``case.paged``).
"""

from __future__ import annotations

import math
from collections import Counter
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from trustdesk.cases.models import Case
from trustdesk.core.errors import Invalid
from trustdesk.core.events import CaseEvent
from trustdesk.core.identity import User
from trustdesk.directory.models import Team, Tier

UP_TIERS = (Tier.T2.value, Tier.ONCALL.value)  # moving up; appeals or an internal team is a different journey
EVENT_TYPES = ("case.routed", "case.rerouted", "case.escalated", "case.paged", "case.escalation_acknowledged")


def nearest_rank(values: list[float], fraction: float) -> float | None:
    """The p-th percentile by nearest rank (no interpolation): the value a person can find in the list."""
    if not values:
        return None
    ordered = sorted(values)
    return ordered[max(0, math.ceil(fraction * len(ordered)) - 1)]


@dataclass
class OncallFigures:
    since: datetime
    until: datetime
    t1_cases: int = 0
    escalated_from_t1: int = 0
    to_t2: int = 0
    to_oncall: int = 0
    escalations: int = 0
    by_trigger: Counter[str] = field(default_factory=Counter)
    ack_seconds: list[float] = field(default_factory=list)
    pages: int = 0
    load: dict[tuple[int, str], int] = field(default_factory=dict)  # (user id, ISO week) -> pages
    names: dict[int, str] = field(default_factory=dict)

    @property
    def escalation_rate(self) -> float | None:
        return self.escalated_from_t1 / self.t1_cases if self.t1_cases else None

    def as_dict(self) -> dict[str, Any]:
        def rate(n: int) -> float | None:
            return round(n / self.t1_cases, 6) if self.t1_cases else None

        median, p90 = nearest_rank(self.ack_seconds, 0.5), nearest_rank(self.ack_seconds, 0.9)
        return {
            "since": self.since.isoformat(), "until": self.until.isoformat(), "t1_cases": self.t1_cases,
            "escalated_from_t1": self.escalated_from_t1, "escalation_rate": rate(self.escalated_from_t1),
            "t1_to_t2": self.to_t2, "t1_to_t2_rate": rate(self.to_t2), "to_oncall": self.to_oncall,
            "to_oncall_rate": rate(self.to_oncall), "escalations": self.escalations,
            "escalations_by_trigger": dict(sorted(self.by_trigger.items())),
            "acknowledged": len(self.ack_seconds), "time_to_ack_median_seconds": median,
            "time_to_ack_p90_seconds": p90, "pages": self.pages,
            "pages_per_person_week": [
                {"user_id": u, "person": self.names.get(u, f"user #{u}"), "week": w, "pages": n}
                for (u, w), n in sorted(self.load.items(), key=lambda kv: (kv[0][1], self.names.get(kv[0][0], "")))],
        }


def figures(session: Session, *, since: datetime, until: datetime) -> OncallFigures:
    if until <= since:
        raise Invalid("the end must come after the start", field="until")
    out = OncallFigures(since=since, until=until)
    tiers: dict[Any, str] = {team_id: tier for team_id, tier in session.execute(select(Team.id, Team.tier))}
    created = select(Case.id).where(Case.created_at >= since, Case.created_at < until)
    journeys: dict[int, dict[str, bool]] = {}
    rows = session.scalars(select(CaseEvent).where(CaseEvent.case_id.in_(created), CaseEvent.type.in_(EVENT_TYPES))
                           .order_by(CaseEvent.case_id, CaseEvent.occurred_at, CaseEvent.id))
    for event in rows:
        data = event.data
        if event.type == "case.routed":
            if tiers.get(data.get("team_id")) == Tier.T1.value:
                journeys.setdefault(event.case_id, {"t2": False, "escalated": False, "paged": False})
            continue
        journey = journeys.get(event.case_id)
        if journey is None:
            continue
        if event.type == "case.rerouted" and tiers.get(data.get("to_team_id")) in UP_TIERS:
            journey["t2"] = True
        elif event.type == "case.escalated":
            journey["escalated"] = True
        elif event.type == "case.paged":
            journey["paged"] = True
    out.t1_cases = len(journeys)
    out.to_t2 = sum(j["t2"] for j in journeys.values())
    out.escalated_from_t1 = sum(j["t2"] or j["escalated"] or j["paged"] for j in journeys.values())
    out.to_oncall = sum(j["paged"] for j in journeys.values())
    # Escalations, acknowledgements and pages that happened in the period, whatever the case's age.
    load: Counter[tuple[int, str]] = Counter()
    for event in session.scalars(select(CaseEvent).where(
            CaseEvent.occurred_at >= since, CaseEvent.occurred_at < until,
            CaseEvent.type.in_(("case.escalated", "case.paged", "case.escalation_acknowledged")))):
        if event.type == "case.escalated":
            out.escalations += 1
            out.by_trigger[str(event.data.get("trigger"))] += 1
        elif event.type == "case.paged":
            out.pages += 1
            year, week, _ = event.occurred_at.isocalendar()
            load[(int(event.data["user_id"]), f"{year}-W{week:02d}")] += 1
        elif isinstance(event.data.get("seconds_to_ack"), int | float):
            out.ack_seconds.append(float(event.data["seconds_to_ack"]))
    out.load = dict(load)
    out.names = {user_id: name for user_id, name in session.execute(
        select(User.id, User.display_name).where(User.id.in_(sorted({p for p, _ in load}))))} if load else {}
    return out
