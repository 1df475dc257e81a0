"""CSAT: the customer rates their resolved case from 1 to 5; one rating per case, the latest counts,
every rating stays in the event log."""

from __future__ import annotations

from datetime import timedelta

from fastapi.testclient import TestClient
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from tests.factories.api import assert_problem, customer_case, events_of
from tests.factories.world import World
from trustdesk.core.clock import FrozenClock
from trustdesk.feedback import service
from trustdesk.feedback.models import CaseRating


def _solved_case(client: TestClient, world: World, who: str = "buyer") -> int:
    case_id = customer_case(client, world, who)["id"]
    reply = client.post(f"/api/v1/cases/{case_id}/messages", headers=world.auth("lead"),
                        json={"body": "Your parcel arrives tomorrow.", "visibility": "public", "status": "solved"})
    assert reply.status_code == 201, reply.text
    return int(case_id)


def test_the_customer_rates_a_solved_case_and_rating_again_replaces_it(client: TestClient, world: World, db: Session,
                                                                       clock: FrozenClock) -> None:
    case_id = _solved_case(client, world)
    first = client.put(f"/api/v1/cases/{case_id}/rating", headers=world.auth("buyer"),
                       json={"score": 2, "comment": "Took\x07 two weeks", "channel": "in_app_chat"})
    assert first.status_code == 200, first.text
    assert first.json() | {"rated_at": None} == {"case_id": case_id, "score": 2, "comment": "Took two weeks",
                                                  "channel": "in_app_chat", "reason": "", "rated_at": None}
    clock.advance(timedelta(hours=1))
    again = client.put(f"/api/v1/cases/{case_id}/rating", headers=world.auth("buyer"), json={"score": 5})
    assert again.status_code == 200 and again.json()["score"] == 5 and again.json()["comment"] == ""
    assert db.scalar(select(func.count(CaseRating.id)).where(CaseRating.case_id == case_id)) == 1
    rated = [e.data for e in events_of(db, case_id) if e.type == "csat.rated"]
    assert rated == [{"score": 2, "scale": 5, "channel": "in_app_chat", "commented": True},
                     {"score": 5, "scale": 5, "channel": "web_form", "commented": False, "previous_score": 2}]
    # Staff read it; the latest counts in CSAT (good = 4 or 5).
    assert client.get(f"/api/v1/cases/{case_id}/rating", headers=world.auth("agent_t2")).json()["score"] == 5
    figures = service.csat(db, since=clock.now() - timedelta(days=1), until=clock.now() + timedelta(seconds=1))
    assert (figures.ratings, figures.good, figures.csat, figures.mean) == (1, 1, 1.0, 5.0)


def test_bad_ratings_are_refused_and_nothing_is_written(client: TestClient, world: World, db: Session) -> None:
    open_case = customer_case(client, world)["id"]
    assert_problem(client.put(f"/api/v1/cases/{open_case}/rating", headers=world.auth("buyer"), json={"score": 4}),
                   409, "case")
    solved = _solved_case(client, world)
    for score in (0, 6, 3.5, "good"):
        assert_problem(client.put(f"/api/v1/cases/{solved}/rating", headers=world.auth("buyer"),
                                  json={"score": score}), 422, "score")
    assert_problem(client.put(f"/api/v1/cases/{solved}/rating", headers=world.auth("buyer"),
                              json={"score": 4, "stars": 4}), 422, "stars")
    assert db.scalar(select(func.count(CaseRating.id))) == 0
    assert not [e for e in events_of(db, solved) if e.type == "csat.rated"]


def test_only_the_customer_rates_their_own_case(client: TestClient, world: World) -> None:
    solved = _solved_case(client, world)
    assert_problem(client.put(f"/api/v1/cases/{solved}/rating", headers=world.auth("buyer2"), json={"score": 1}),
                   404, "case_id")
    assert_problem(client.put(f"/api/v1/cases/{solved}/rating", headers=world.auth("agent_t2"), json={"score": 5}),
                   403)
    assert client.put(f"/api/v1/cases/{solved}/rating", json={"score": 5}).status_code == 401
    assert_problem(client.get(f"/api/v1/cases/{solved}/rating", headers=world.auth("buyer")), 404, "case_id")
