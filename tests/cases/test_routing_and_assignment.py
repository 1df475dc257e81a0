"""Reroutes (with a mandatory reason), automatic assignment, "get next" and manual assignment."""

from __future__ import annotations

from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy.orm import Session, sessionmaker

from tests.factories.api import assert_problem, customer_case, events_of, fresh_case, intake_case, row_counts
from tests.factories.cases import make_case, make_party
from tests.factories.directory import make_agent, make_queue, make_team
from tests.factories.identity import make_token, make_user
from tests.factories.world import World
from trustdesk.cases import assignment
from trustdesk.cases.service import reroute_case
from trustdesk.core.clock import FrozenClock
from trustdesk.core.db import transaction
from trustdesk.core.errors import Invalid
from trustdesk.core.identity import actor_for
from trustdesk.core.permissions import Role
from trustdesk.core.settings import Settings
from trustdesk.directory.models import Agent, Queue


def _reroute(client: TestClient, world: World, case_id: int, who: str = "agent_t1", **body: Any) -> Any:
    return client.post(f"/api/v1/cases/{case_id}/reroute", headers=world.auth(who), json=body)


def _assign(client: TestClient, world: World, case_id: int, agent_id: int | None, who: str) -> Any:
    return client.post(f"/api/v1/cases/{case_id}/assign", headers=world.auth(who), json={"agent_id": agent_id})


def _routing(db: Session, case_id: int) -> tuple[Any, ...]:
    case = fresh_case(db, case_id)
    return case.queue_id, case.team_id, case.assignee_id, case.status, case.version


# ---------------------------------------------------------------- reroutes


@pytest.mark.parametrize("reason", [None, "", "   ", "bogus", 7])
def test_reroute_needs_a_known_reason(client: TestClient, world: World, db: Session, reason: Any) -> None:
    created = customer_case(client, world)
    before, counts = _routing(db, created["id"]), row_counts(db)
    body: dict[str, Any] = {"queue_id": world.queue_t2.id}
    if reason is not None:
        body["reason"] = reason
    assert_problem(_reroute(client, world, created["id"], **body), 422, "reason")
    assert _routing(db, created["id"]) == before
    assert row_counts(db) == counts


@pytest.mark.parametrize("reason", [None, "", "bogus"])
def test_the_service_also_refuses_a_reroute_without_a_known_reason(db: Session, world: World, clock: FrozenClock,
                                                                   settings: Settings, reason: Any) -> None:
    """Jobs and integrations call the service directly; the rule holds there too."""
    case = make_case(db, market=world.us, party=make_party(db, world.us, now=clock.now()), queue=world.queue_t2,
                     now=clock.now())
    actor = actor_for(world.users["lead"], agent_id=world.agents["lead"].id)
    with pytest.raises(Invalid) as refused:
        reroute_case(db, case, to_queue=world.queue_a, reason=reason, actor=actor, settings=settings,
                     now=clock.now())
    assert refused.value.field == "reason"
    assert case.queue_id == world.queue_t2.id


def test_reroute_records_where_from_where_to_and_why(client: TestClient, world: World, db: Session) -> None:
    created = customer_case(client, world)
    agent_id = world.agents["agent_t1"].id
    assert fresh_case(db, created["id"]).assignee_id == agent_id

    response = _reroute(client, world, created["id"], queue_id=world.queue_t2.id, reason="needs_specialist",
                        note="Chargeback dispute; T2 owns these.")

    assert response.status_code == 200, response.text
    body = response.json()
    assert (body["queue_id"], body["team_id"], body["assignee_id"]) == (world.queue_t2.id, world.t2.id, None)
    rerouted = [e for e in events_of(db, created["id"]) if e.type == "case.rerouted"]
    assert len(rerouted) == 1
    assert (rerouted[0].actor_type, rerouted[0].actor_id) == ("agent", world.users["agent_t1"].id)
    assert rerouted[0].data == {
        "from_queue_id": world.queue_a.id, "from_team_id": world.t1_a.id, "to_queue_id": world.queue_t2.id,
        "to_team_id": world.t2.id, "reason": "needs_specialist", "unassigned_agent_id": agent_id,
        "note": "Chargeback dispute; T2 owns these.",
    }
    detail = client.get(f"/api/v1/cases/{created['id']}", headers=world.auth("agent_t2")).json()
    notes = [m for m in detail["messages"] if m["visibility"] == "internal"]
    assert [m["body"] for m in notes] == ["Rerouted (needs_specialist): Chargeback dispute; T2 owns these."]
    # T2's queue does not auto-assign, and vendor A no longer sees a case that left its team.
    assert fresh_case(db, created["id"]).assignee_id is None
    assert_problem(client.get(f"/api/v1/cases/{created['id']}", headers=world.auth("agent_t1")), 404)


def test_reroute_into_an_auto_assign_queue_assigns_again(client: TestClient, world: World, db: Session) -> None:
    created = intake_case(client, world, queue=world.queue_t2)
    response = _reroute(client, world, created["id"], who="agent_t2", queue_id=world.queue_a.id, reason="wrong_tier")
    assert response.status_code == 200, response.text
    case = fresh_case(db, created["id"])
    assert (case.queue_id, case.assignee_id) == (world.queue_a.id, world.agents["agent_t1"].id)
    assigned = events_of(db, created["id"])[-2]
    assert (assigned.type, assigned.actor_type, assigned.data["reason"]) == ("case.assigned", "system", "auto")


def test_reroute_to_the_same_queue_is_a_conflict(client: TestClient, world: World, db: Session) -> None:
    created = customer_case(client, world)
    before = _routing(db, created["id"])
    assert_problem(_reroute(client, world, created["id"], queue_id=world.queue_a.id, reason="other"), 409,
                   "queue_id")
    assert _routing(db, created["id"]) == before


def test_reroute_to_another_markets_queue_is_invalid(client: TestClient, world: World, db: Session) -> None:
    created = customer_case(client, world)  # US
    before, counts = _routing(db, created["id"]), row_counts(db)
    problem = assert_problem(_reroute(client, world, created["id"], who="lead", queue_id=world.queue_b.id,
                                      reason="wrong_market"), 422, "queue_id")
    assert "another market" in problem["detail"]
    assert _routing(db, created["id"]) == before
    assert row_counts(db) == counts


def test_reroute_to_an_unknown_or_inactive_queue_is_invalid(client: TestClient, world: World, db: Session,
                                                            clock: FrozenClock) -> None:
    retired = make_queue(db, now=clock.now(), key="retired", team=world.t2, is_active=False)
    db.commit()
    created = customer_case(client, world)
    before = _routing(db, created["id"])
    assert_problem(_reroute(client, world, created["id"], queue_id=999_999, reason="other"), 422, "queue_id")
    assert_problem(_reroute(client, world, created["id"], queue_id=retired.id, reason="other"), 422, "queue_id")
    assert _routing(db, created["id"]) == before


def test_solved_cases_are_not_rerouted(client: TestClient, world: World, db: Session) -> None:
    created = customer_case(client, world)
    client.post(f"/api/v1/cases/{created['id']}/status", headers=world.auth("agent_t1"), json={"status": "solved"})
    assert_problem(_reroute(client, world, created["id"], queue_id=world.queue_t2.id, reason="other"), 409,
                   "status")


def test_reviewers_may_not_reroute(client: TestClient, world: World, db: Session) -> None:
    created = intake_case(client, world, queue=world.queue_t2)
    before = _routing(db, created["id"])
    assert_problem(_reroute(client, world, created["id"], who="reviewer", queue_id=world.queue_a.id,
                            reason="other"), 403)
    assert _routing(db, created["id"]) == before


# ---------------------------------------------------------------- automatic assignment


class Pool:
    """An in-house team with an auto-assigning queue and agents made to order."""

    def __init__(self, db: Session, clock: FrozenClock) -> None:
        self.db, self.clock = db, clock
        self.team = make_team(db, now=clock.now(), key="pool")
        self.queue: Queue = make_queue(db, now=clock.now(), key="pool-queue", team=self.team, market=None)
        self.tokens: dict[int, str] = {}

    def agent(self, name: str, *, capacity: int = 5, languages: list[str] | None = None,
              online: bool = True) -> Agent:
        user = make_user(self.db, Role.AGENT_T1, now=self.clock.now(), email=f"{name}@pool.test", name=name)
        agent = make_agent(self.db, user, now=self.clock.now(), teams=[self.team], capacity=capacity,
                           languages=languages, online=online)
        self.tokens[agent.id] = make_token(self.db, user, now=self.clock.now())
        self.db.commit()
        return agent

    def auth(self, agent: Agent) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.tokens[agent.id]}"}


@pytest.fixture
def pool(db: Session, clock: FrozenClock, world: World) -> Pool:
    made = Pool(db, clock)
    db.commit()
    return made


def _new_case(client: TestClient, world: World, pool: Pool, clock: FrozenClock, language: str = "en") -> int:
    clock.advance(minutes=1)
    return int(intake_case(client, world, queue=pool.queue, language=language,
                           external_id=f"p-{clock.now().timestamp()}")["id"])


def _sweep(factory: sessionmaker[Session], clock: FrozenClock) -> int:
    with transaction(factory) as session:
        return assignment.assign_waiting(session, now=clock.now())


def test_ties_go_round_robin(client: TestClient, world: World, db: Session, clock: FrozenClock, pool: Pool) -> None:
    ann, bob, cy = pool.agent("ann"), pool.agent("bob"), pool.agent("cy")
    by_id = {a.id: a for a in (ann, bob, cy)}
    assignees = []
    for _ in range(7):
        case_id = _new_case(client, world, pool, clock)
        assignee = fresh_case(db, case_id).assignee_id
        assert assignee is not None
        assignees.append(assignee)
        # Each answers at once and waits on the customer: loads stay equal, so only the turn decides.
        reply = client.post(f"/api/v1/cases/{case_id}/messages", headers=pool.auth(by_id[assignee]),
                            json={"body": "Could you send the order number?", "status": "pending"})
        assert reply.status_code == 201, reply.text
    assert assignees == [ann.id, bob.id, cy.id] * 2 + [ann.id]


def test_ties_on_load_go_to_the_agent_assigned_longest_ago(client: TestClient, world: World, db: Session,
                                                            clock: FrozenClock, pool: Pool) -> None:
    ann, bob = pool.agent("ann"), pool.agent("bob")
    assignees = [fresh_case(db, _new_case(client, world, pool, clock)).assignee_id for _ in range(6)]
    assert assignees == [ann.id, bob.id] * 3


def test_least_loaded_agent_comes_first(client: TestClient, world: World, db: Session, clock: FrozenClock,
                                        pool: Pool) -> None:
    ann, bob = pool.agent("ann"), pool.agent("bob", online=False)
    first = [fresh_case(db, _new_case(client, world, pool, clock)).assignee_id for _ in range(2)]
    assert first == [ann.id, ann.id]

    response = client.put("/api/v1/me/presence", headers=pool.auth(bob), json={"presence": "online"})
    assert response.status_code == 200 and response.json()["presence"] == "online"
    # Bob holds nothing, so he gets the next two although Ann was assigned longer ago.
    later = [fresh_case(db, _new_case(client, world, pool, clock)).assignee_id for _ in range(3)]
    assert later == [bob.id, bob.id, ann.id]


def test_load_is_relative_to_capacity(client: TestClient, world: World, db: Session, clock: FrozenClock,
                                      pool: Pool) -> None:
    small, large = pool.agent("small", capacity=2), pool.agent("large", capacity=6)
    assignees = [fresh_case(db, _new_case(client, world, pool, clock)).assignee_id for _ in range(5)]
    # Loads as a share of capacity: 0/2 = 0/6 (lower id), then 1/2 beats 0/6, 1/6 and 2/6; at 1/2 = 3/6 the
    # agent holding fewer cases wins.
    assert assignees == [small.id, large.id, large.id, large.id, small.id]


def test_nobody_is_pushed_over_capacity(client: TestClient, world: World, db: Session, clock: FrozenClock,
                                        factory: sessionmaker[Session], pool: Pool) -> None:
    ann, bob = pool.agent("ann", capacity=1), pool.agent("bob", capacity=1)
    ids = [_new_case(client, world, pool, clock) for _ in range(3)]
    assert [fresh_case(db, i).assignee_id for i in ids] == [ann.id, bob.id, None]
    assert fresh_case(db, ids[2]).status == "new"
    assert _sweep(factory, clock) == 0  # still full

    # Ann's case waits on the customer now: it no longer takes her room.
    reply = client.post(f"/api/v1/cases/{ids[0]}/messages", headers=pool.auth(ann),
                        json={"body": "Which size did you order?", "status": "pending"})
    assert reply.status_code == 201, reply.text
    assert _sweep(factory, clock) == 1
    waiting = fresh_case(db, ids[2])
    assert (waiting.assignee_id, waiting.status) == (ann.id, "open")


def test_capacity_zero_and_absent_agents_get_nothing(client: TestClient, world: World, db: Session,
                                                     clock: FrozenClock, factory: sessionmaker[Session],
                                                     pool: Pool) -> None:
    pool.agent("zero", capacity=0)
    away = pool.agent("away")
    assert client.put("/api/v1/me/presence", headers=pool.auth(away), json={"presence": "away"}).status_code == 200
    case_id = _new_case(client, world, pool, clock)
    assert fresh_case(db, case_id).assignee_id is None
    assert client.put("/api/v1/me/presence", headers=pool.auth(away), json={"presence": "online"}).status_code == 200
    assert _sweep(factory, clock) == 1
    assert fresh_case(db, case_id).assignee_id == away.id


def test_only_agents_with_the_language_are_picked(client: TestClient, world: World, db: Session,
                                                  clock: FrozenClock, factory: sessionmaker[Session],
                                                  pool: Pool) -> None:
    english = pool.agent("english", languages=["en"])
    spanish = pool.agent("spanish", languages=["es-MX", "en"], online=False)
    spanish_case = _new_case(client, world, pool, clock, language="es")
    english_case = _new_case(client, world, pool, clock, language="en")
    assert fresh_case(db, spanish_case).assignee_id is None  # the only Spanish speaker is offline
    assert fresh_case(db, english_case).assignee_id == english.id

    assert client.put("/api/v1/me/presence", headers=pool.auth(spanish),
                      json={"presence": "online"}).status_code == 200
    assert _sweep(factory, clock) == 1
    assert fresh_case(db, spanish_case).assignee_id == spanish.id
    # A busier Spanish speaker still beats an idle English-only one for a Spanish case.
    assert fresh_case(db, _new_case(client, world, pool, clock, language="es")).assignee_id == spanish.id


# ---------------------------------------------------------------- get next


def test_get_next_claims_the_oldest_case_then_204(client: TestClient, world: World, db: Session,
                                                  clock: FrozenClock) -> None:
    ids = []
    for index in range(3):
        clock.advance(minutes=1)
        ids.append(intake_case(client, world, queue=world.queue_t2, external_id=f"c{index}")["id"])
    me = world.agents["agent_t2"].id
    for expected in ids:
        response = client.post(f"/api/v1/queues/{world.queue_t2.id}/next", headers=world.auth("agent_t2"))
        assert response.status_code == 200, response.text
        assert (response.json()["id"], response.json()["assignee_id"], response.json()["status"]) == (
            expected, me, "open")
        assigned = [e for e in events_of(db, expected) if e.type == "case.assigned"]
        assert [e.data for e in assigned] == [{"from_agent_id": None, "to_agent_id": me, "reason": "claimed"}]
    empty = client.post(f"/api/v1/queues/{world.queue_t2.id}/next", headers=world.auth("agent_t2"))
    assert empty.status_code == 204 and empty.content == b""


def test_get_next_skips_cases_in_languages_the_agent_lacks(client: TestClient, world: World, db: Session,
                                                           clock: FrozenClock) -> None:
    spanish = intake_case(client, world, queue=world.queue_t2, language="es", external_id="s")
    clock.advance(minutes=1)
    english = intake_case(client, world, queue=world.queue_t2, language="en", external_id="e")
    response = client.post(f"/api/v1/queues/{world.queue_t2.id}/next", headers=world.auth("admin"))  # speaks en
    assert response.status_code == 200 and response.json()["id"] == english["id"]
    assert fresh_case(db, spanish["id"]).assignee_id is None
    assert client.post(f"/api/v1/queues/{world.queue_t2.id}/next", headers=world.auth("admin")).status_code == 204


def test_get_next_hides_other_vendors_queues(client: TestClient, world: World, db: Session) -> None:
    counts = row_counts(db)
    assert_problem(client.post(f"/api/v1/queues/{world.queue_b.id}/next", headers=world.auth("agent_t1")), 404,
                   "queue_id")
    assert_problem(client.post("/api/v1/queues/999999/next", headers=world.auth("agent_t1")), 404, "queue_id")
    assert_problem(client.post(f"/api/v1/queues/{world.queue_a.id}/next", headers=world.auth("buyer")), 403)
    assert row_counts(db) == counts


# ---------------------------------------------------------------- manual assignment


def test_t1_agent_may_not_assign_to_someone_else(client: TestClient, world: World, db: Session) -> None:
    created = customer_case(client, world)  # assigned to agent_t1
    before, counts = _routing(db, created["id"]), row_counts(db)
    problem = assert_problem(_assign(client, world, created["id"], world.agents["agent_t2"].id, "agent_t1"), 403)
    assert "cases.assign" in problem["detail"]
    assert _routing(db, created["id"]) == before
    assert row_counts(db) == counts


def test_t1_agent_may_release_and_take_a_case(client: TestClient, world: World, db: Session) -> None:
    created = customer_case(client, world)
    me = world.agents["agent_t1"].id
    released = _assign(client, world, created["id"], None, "agent_t1")
    assert released.status_code == 200 and released.json()["assignee_id"] is None
    taken = _assign(client, world, created["id"], me, "agent_t1")
    assert taken.status_code == 200 and taken.json()["assignee_id"] == me
    reasons = [(e.data["from_agent_id"], e.data["to_agent_id"], e.data["reason"])
               for e in events_of(db, created["id"]) if e.type == "case.assigned"]
    assert reasons == [(None, me, "auto"), (me, None, "manual"), (None, me, "manual")]


def test_t1_agent_may_not_release_someone_elses_case(client: TestClient, world: World, db: Session) -> None:
    created = customer_case(client, world)
    assert _assign(client, world, created["id"], world.agents["agent_t2"].id, "lead").status_code == 200
    assert_problem(_assign(client, world, created["id"], None, "agent_t1"), 403)
    assert fresh_case(db, created["id"]).assignee_id == world.agents["agent_t2"].id


def test_lead_assigns_to_a_team_member(client: TestClient, world: World, db: Session) -> None:
    created = customer_case(client, world)
    target = world.agents["agent_t2"].id  # a member of vendor A's T1 team as backup
    response = _assign(client, world, created["id"], target, "lead")
    assert response.status_code == 200 and response.json()["assignee_id"] == target
    event = events_of(db, created["id"])[-1]
    assert (event.type, event.actor_type, event.actor_id) == ("case.assigned", "agent", world.users["lead"].id)
    assert event.data == {"from_agent_id": world.agents["agent_t1"].id, "to_agent_id": target, "reason": "manual"}


@pytest.mark.parametrize("who", ["agent_t1_b", "admin"])
def test_assigning_outside_the_cases_team_is_invalid(client: TestClient, world: World, db: Session,
                                                     who: str) -> None:
    created = customer_case(client, world)  # team t1_a
    before, counts = _routing(db, created["id"]), row_counts(db)
    problem = assert_problem(_assign(client, world, created["id"], world.agents[who].id, "lead"), 422, "agent_id")
    assert "team" in problem["detail"]
    assert_problem(_assign(client, world, created["id"], 999_999, "lead"), 422, "agent_id")
    assert _routing(db, created["id"]) == before
    assert row_counts(db) == counts


def test_solved_cases_are_not_reassigned(client: TestClient, world: World, db: Session) -> None:
    created = customer_case(client, world)
    client.post(f"/api/v1/cases/{created['id']}/status", headers=world.auth("agent_t1"), json={"status": "solved"})
    assert_problem(_assign(client, world, created["id"], world.agents["agent_t2"].id, "lead"), 409, "status")
