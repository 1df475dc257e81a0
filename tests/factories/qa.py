"""Builders for the QA tests: solved cases (through the case services, so their facts are true), a
scorecard, and full answers."""

from __future__ import annotations

from datetime import datetime, timedelta
from itertools import count
from typing import Any

from sqlalchemy.orm import Session

from tests.factories.cases import SETTINGS, make_case, make_party
from tests.factories.world import World
from trustdesk.cases import service as cases
from trustdesk.cases.models import Case, RerouteReason, Status
from trustdesk.core.events import SYSTEM
from trustdesk.core.identity import Actor, actor_for
from trustdesk.feedback import qa
from trustdesk.feedback import service as ratings
from trustdesk.feedback.models import QaScorecard
from trustdesk.insights import facts

CRITERIA: list[dict[str, Any]] = [
    {"key": "greeting", "label": "Greeting and identity check", "weight": 10},
    {"key": "understood", "label": "Understood the issue", "weight": 20},
    {"key": "resolution", "label": "Correct resolution per policy", "weight": 0, "auto_fail": True},
    {"key": "tone", "label": "Clear and polite", "weight": 30},
    {"key": "expectations", "label": "Set expectations", "weight": 40},
]
KEYS = [c["key"] for c in CRITERIA]
_serial = count(1)


def actor_of(world: World, who: str) -> Actor:
    """The actor a world user acts as (with their agent row and vendor, as a request would have)."""
    agent = world.agents.get(who)
    return actor_for(world.users[who], agent_id=agent.id if agent else None,
                     vendor_id=agent.vendor_id if agent else None)


def make_scorecard(db: Session, world: World, *, now: datetime, key: str = "buyer-support",
                   criteria: list[dict[str, Any]] | None = None, pass_mark: float = 80.0) -> QaScorecard:
    return qa.create_scorecard(db, key=key, name="Buyer support", criteria=criteria or CRITERIA,
                               pass_mark=pass_mark, actor=actor_of(world, "admin"), now=now)


def answers(*not_met: str, keys: list[str] | None = None) -> dict[str, Any]:
    """Every criterion met except ``not_met``."""
    return {k: {"met": k not in not_met, "comment": ""} for k in (keys or KEYS)}


def solved_case(db: Session, world: World, *, now: datetime, agent: str = "agent_t1", csat: int | None = None,
                escalate: bool = False, external_id: str | None = None) -> Case:
    """A case worked by ``agent`` and solved at ``now`` (escalated from vendor A's Tier 1 to T2 first when
    asked, and rated ``csat`` after). Its facts are folded."""
    team_agent = world.agents[agent]
    queue = world.queue_b if agent == "agent_t1_b" else world.queue_a
    market = world.es if agent == "agent_t1_b" else world.us
    party = make_party(db, market, now=now, external_id=external_id or f"qa-party-{next(_serial)}")
    case = make_case(db, market=market, party=party, now=now - timedelta(hours=2), queue=queue)
    if escalate:
        cases.reroute_case(db, case, to_queue=world.queue_t2, reason=RerouteReason.ESCALATED, actor=SYSTEM,
                           settings=SETTINGS, now=now - timedelta(hours=1))
    cases.assign_case(db, case, team_agent, actor=SYSTEM, now=now - timedelta(minutes=30))
    cases.change_status(db, case, Status.SOLVED, actor=SYSTEM, now=now)
    if csat is not None:
        ratings.rate_case(db, case, score=csat, channel="web_form", actor=SYSTEM, now=now + timedelta(minutes=5))
    db.flush()
    facts.refresh(db, [case.id], now=now + timedelta(minutes=10))
    return case


def sampling_rule(db: Session, world: World, *, now: datetime, team: Any = None, percent: float = 10.0,
                  minimum: int = 1, low_csat: bool = True, escalated: bool = True,
                  scorecard_key: str = "buyer-support") -> None:
    qa.save_sampling_rule(db, team_id=team.id if team is not None else None, scorecard_key=scorecard_key,
                          percent_per_agent=percent, min_per_agent=minimum, include_low_csat=low_csat,
                          include_escalated=escalated, actor=actor_of(world, "admin"), now=now)
