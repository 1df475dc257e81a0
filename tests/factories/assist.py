"""Resolved, rated cases for the suggested-replies tests (through the services, so events are true)."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy.orm import Session

from tests.factories.cases import SETTINGS, make_case
from tests.factories.world import World
from trustdesk.cases import service as cases
from trustdesk.cases.models import Case, PartyKind, Status
from trustdesk.cases.schemas import PartyIn
from trustdesk.core.events import SYSTEM
from trustdesk.core.identity import actor_for
from trustdesk.directory.models import Market, Queue
from trustdesk.feedback.service import rate_case

SOLVING_REPLY = ("Hi {first},\n\nI checked order {order}: the parcel is at the carrier's local depot and arrives "
                 "within 2 working days. Write to me at {email} if it does not.\n\nBest regards,\n{agent}")


def resolved_case(db: Session, world: World, now: datetime, *, name: str, order: str, question: str, score: int,
                  subject: str = "Where is my order?", language: str = "en", market: Market | None = None,
                  reply: str = SOLVING_REPLY, queue: Queue | None = None) -> Case:
    """A case asked by ``name`` in ``queue`` (the US buyers' by default), solved by the T2 agent with ``reply``
    (``{first}``, ``{order}``, ``{email}``, ``{agent}`` filled in), rated ``score``."""
    market = market or world.us
    party = cases.upsert_party(db, market, PartyIn(kind=PartyKind.BUYER, external_id=f"ext-{name}",
                                                   display_name=name, email=f"{name.split()[0].lower()}@mail.test"),
                               now=now)
    case = make_case(db, market=market, party=party, now=now, queue=queue or world.queue_a, subject=subject,
                     body=question,
                     language=language, custom_fields={"order_id": order})
    agent = actor_for(world.users["agent_t2"], agent_id=world.agents["agent_t2"].id)
    body = reply.format(first=name.split()[0], order=order, email="agent.desk@bramble.test",
                        agent=agent.display_name)
    cases.add_agent_reply(db, case, body=body, actor=agent, settings=SETTINGS, now=now, then_status=Status.SOLVED)
    rate_case(db, case, score=score, channel="web_form", actor=SYSTEM, now=now)
    return case
