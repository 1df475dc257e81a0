"""Concurrent assignment never gives one case to two agents, nor pushes an agent over capacity.

Real threads, real connections, real commits against PostgreSQL (``FOR UPDATE SKIP LOCKED``);
SQLite serializes writers and is covered by the same test.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable

from sqlalchemy import Engine, func, select
from sqlalchemy.orm import Session, sessionmaker

from tests.conftest import START
from tests.factories.cases import make_case, make_party
from tests.factories.concurrency import race
from tests.factories.directory import make_agent, make_market, make_queue, make_team
from tests.factories.identity import make_user
from trustdesk.cases import assignment
from trustdesk.cases.models import Case
from trustdesk.core.clock import FrozenClock
from trustdesk.core.db import make_session_factory, transaction
from trustdesk.core.events import SYSTEM, CaseEvent
from trustdesk.core.permissions import Role
from trustdesk.directory.models import Agent, Queue

THREADS = 8
CASES = 60


def _seed(factory: sessionmaker[Session], *, agents: int, capacity: int,
          auto_assign: bool) -> tuple[int, list[int], list[int]]:
    now = START
    with transaction(factory) as session:
        market = make_market(session, now=now)
        team = make_team(session, now=now, key="t1-race")
        queue = make_queue(session, now=now, key="race-queue", team=team, market=market, auto_assign=auto_assign,
                           intake_channels=["web_form"])
        for index in range(agents):
            user = make_user(session, Role.AGENT_T1, now=now, email=f"a{index}@example.test")
            make_agent(session, user, now=now, teams=[team], capacity=capacity)
        buyer = make_user(session, Role.BUYER, now=now, email="buyer@example.test")
        party = make_party(session, market, now=now, user=buyer)
        ids = [make_case(session, market=market, party=party, queue=queue, now=now).id for _ in range(CASES)]
        agent_ids = list(session.scalars(select(Agent.id).order_by(Agent.id)))
    return queue.id, ids, agent_ids


def test_get_next_never_hands_one_case_to_two_agents(committed_engine: Engine) -> None:
    factory = make_session_factory(committed_engine)
    queue_id, case_ids, agent_ids = _seed(factory, agents=THREADS, capacity=100, auto_assign=False)
    clock = FrozenClock(START)
    claimed: dict[int, list[int]] = {agent_id: [] for agent_id in agent_ids}

    def worker(agent_id: int) -> Callable[[], None]:
        def work() -> None:
            while True:
                with transaction(factory) as session:
                    agent = session.get(Agent, agent_id)
                    assert agent is not None
                    case = assignment.claim_next(session, agent, queue_id=queue_id, now=clock.now(), actor=SYSTEM)
                    if case is None:
                        return
                    claimed[agent_id].append(case.id)
        return work

    race([worker(a) for a in agent_ids])
    everything = [case_id for ids in claimed.values() for case_id in ids]
    assert sorted(everything) == sorted(case_ids), "every case claimed exactly once"
    with transaction(factory) as session:
        per_case = Counter(session.scalars(select(CaseEvent.case_id).where(CaseEvent.type == "case.assigned")))
        assert set(per_case.values()) == {1}
        assignees = dict(session.execute(select(Case.id, Case.assignee_id)).all())
    for agent_id, ids in claimed.items():
        assert all(assignees[case_id] == agent_id for case_id in ids)


def test_auto_assign_races_respect_capacity(committed_engine: Engine) -> None:
    factory = make_session_factory(committed_engine)
    capacity, agents = 5, 4
    _queue_id, case_ids, _agent_ids = _seed(factory, agents=agents, capacity=capacity, auto_assign=False)
    clock = FrozenClock(START)

    def worker(offset: int) -> Callable[[], None]:
        def work() -> None:
            # Every thread tries every case, starting at a different point.
            for case_id in case_ids[offset:] + case_ids[:offset]:
                with transaction(factory) as session:
                    assignment.auto_assign(session, case_id, now=clock.now())
        return work

    # Cases were seeded without auto-assign (no inline worker here); switch it on for the race.
    with transaction(factory) as session:
        for queue in session.scalars(select(Queue)):
            queue.auto_assign = True
    race([worker(i * (CASES // THREADS)) for i in range(THREADS)])
    with transaction(factory) as session:
        loads = dict(session.execute(select(Case.assignee_id, func.count()).where(Case.assignee_id.is_not(None))
                                     .group_by(Case.assignee_id)).all())
        per_case = Counter(session.scalars(select(CaseEvent.case_id).where(CaseEvent.type == "case.assigned")))
    assert sum(loads.values()) == capacity * agents
    assert max(loads.values()) == capacity
    assert set(per_case.values()) == {1}
