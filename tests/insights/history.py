"""A seeded event history for the insight tests, whose figures are computed by hand in test_metrics.

The history: a fortnight from Monday 2 March 2026 09:00 UTC, an SLA calendar open Monday to Friday
09:00-17:00 UTC, first reply due in 240 business minutes and resolution in 2,880. Seven cases:

==  ======  ==============  ==================  =====================  ==============  ========================
#   market  opened          first reply         solved                 rating          also
==  ======  ==============  ==================  =====================  ==============  ========================
C1  US      Mon 09:00       Mon 10:00           Mon 11:00              5
C2  US      Mon 16:00       Tue 10:00           Tue 12:00              1, then 2
C3  US      Fri 16:30       Mon 09:30           Mon 10:00, reopened                    a reopen
                                                11:00, solved 12:00
C4  US      Tue 09:00       Tue 09:20           —                                      escalated T1 -> T2
C5  US      Tue 09:00       Tue 12:00           Tue 14:00              4               rerouted: wrong topic
C6  US      Thu 09:00       —                   —                                      C1's party and topic
C7  ES      Mon 09:00       Mon 09:30           Mon 10:00              5
==  ======  ==============  ==================  =====================  ==============  ========================

Judged on Monday 16 March 09:00.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

import pytest
from sqlalchemy.orm import Session

from tests.conftest import START
from tests.factories.cases import make_case, make_party
from tests.factories.directory import make_queue, make_team
from tests.factories.identity import make_user
from tests.factories.world import World
from trustdesk.cases import service as cases
from trustdesk.cases.models import Case, Party, Status
from trustdesk.core.events import SYSTEM
from trustdesk.core.identity import Actor, User, actor_for
from trustdesk.core.permissions import Role
from trustdesk.core.settings import Settings
from trustdesk.feedback import service as feedback
from trustdesk.insights import facts
from trustdesk.insights.metrics import Period
from trustdesk.sla import calendars, policies
from trustdesk.sla.schemas import CalendarIn, PolicyIn

SETTINGS = Settings()
WEEKDAYS = ("mon", "tue", "wed", "thu", "fri")
NOW = datetime(2026, 3, 16, 9, 0, tzinfo=START.tzinfo)
FORTNIGHT = Period(START, NOW)


def at(day: int, hour: int, minute: int = 0) -> datetime:
    """Day 0 is Monday 2 March."""
    return START.replace(hour=hour, minute=minute) + timedelta(days=day)


class History:
    def __init__(self, db: Session, world: World) -> None:
        self.db, self.world = db, world
        calendars.create_calendar(db, CalendarIn(key="office", name="Office", time_zone="UTC",
                                                 weekly={d: ["09:00-17:00"] for d in WEEKDAYS}), now=START)
        targets = {"first_reply": {"minutes": 240, "business": True},
                   "resolution": {"minutes": 2880, "business": True}}
        policies.create_policy(db, PolicyIn(key="standard", name="Standard", is_default=True, calendar_key="office",
                                            targets={p: targets for p in ("low", "normal", "high", "urgent")}),
                               now=START)
        self.agent = actor_for(world.users["agent_t1"], agent_id=world.agents["agent_t1"].id,
                               vendor_id=world.vendor_a.id)
        self.cases: dict[str, Case] = {}
        self.returns = make_queue(db, now=START, key="us-returns", market=world.us,
                                  team=make_team(db, now=START, key="t1-returns", vendor=world.vendor_a))

    def party(self, name: str, market: Any) -> Any:
        user = make_user(self.db, Role.BUYER, now=START, email=f"{name}@example.test", name=name)
        return make_party(self.db, market, now=START, user=user)

    def open(self, name: str, when: datetime, *, party: Any = None, es: bool = False,
             topic: str = "orders.delivery") -> Case:
        market = self.world.es if es else self.world.us
        queue = self.world.queue_b if es else self.world.queue_a
        case = make_case(self.db, market=market, party=party or self.party(name.lower(), market), now=when,
                         queue=queue, topic=topic)
        self.cases[name] = case
        return case

    def reply(self, name: str, when: datetime, *, solve: bool = False) -> None:
        cases.add_agent_reply(self.db, self.cases[name], body="Here is what I found.", actor=self.agent,
                              settings=SETTINGS, now=when, then_status=Status.SOLVED if solve else None)

    def solve(self, name: str, when: datetime) -> None:
        cases.change_status(self.db, self.cases[name], Status.SOLVED, actor=self.agent, now=when)

    def customer_says(self, name: str, when: datetime) -> None:
        case = self.cases[name]
        customer = customer_of(self.db, case)
        cases.add_customer_message(self.db, case, body="It is still not here.", actor=customer, settings=SETTINGS,
                                   now=when)

    def rate(self, name: str, score: int, when: datetime) -> None:
        feedback.rate_case(self.db, self.cases[name], score=score, channel="web_form",
                           actor=customer_of(self.db, self.cases[name]), now=when)


def customer_of(db: Session, case: Case) -> Actor:
    party = db.get(Party, case.party_id)
    assert party is not None and party.user_id is not None
    user = db.get(User, party.user_id)
    assert user is not None
    return actor_for(user)


@pytest.fixture
def history(db: Session, world: World) -> History:
    h = History(db, world)
    h.open("C1", at(0, 9))
    h.reply("C1", at(0, 10))
    h.solve("C1", at(0, 11))
    h.rate("C1", 5, at(0, 12))

    h.open("C2", at(0, 16))
    h.reply("C2", at(1, 10))
    h.solve("C2", at(1, 12))
    h.rate("C2", 1, at(1, 13))
    h.rate("C2", 2, at(1, 14))  # the latest rating counts

    h.open("C3", at(4, 16, 30))
    h.reply("C3", at(7, 9, 30))
    h.solve("C3", at(7, 10))
    h.customer_says("C3", at(7, 11))  # reopens it
    h.solve("C3", at(7, 12))

    h.open("C4", at(1, 9))
    h.reply("C4", at(1, 9, 20))
    cases.reroute_case(db, h.cases["C4"], to_queue=world.queue_t2, reason="escalated", actor=SYSTEM,
                       settings=SETTINGS, now=at(1, 10))

    h.open("C5", at(1, 9))
    cases.reroute_case(db, h.cases["C5"], to_queue=h.returns, reason="wrong_topic", actor=SYSTEM,
                       settings=SETTINGS, now=at(1, 9, 30))
    h.reply("C5", at(1, 12))
    h.solve("C5", at(1, 14))
    h.rate("C5", 4, at(1, 15))

    h.open("C6", at(3, 9), party=db.get(Party, h.cases["C1"].party_id))

    h.open("C7", at(0, 9), es=True)
    h.reply("C7", at(0, 9, 30))
    h.solve("C7", at(0, 10))
    h.rate("C7", 5, at(0, 11))
    db.flush()
    assert facts.refresh_stale(db, now=NOW) == 7
    return h
