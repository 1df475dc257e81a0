"""The routing engine at intake, through the API: rules, classifier, catalogue, triage, and why."""

from __future__ import annotations

from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select
from sqlalchemy.orm import Session

from tests.factories.api import assert_problem, events_of, intake_case
from tests.factories.directory import make_queue
from tests.factories.routing import catalogue_entry, import_topics, seed_history, train
from tests.factories.world import World
from tests.web.test_pages_auth import sign_in
from trustdesk.core.clock import FrozenClock
from trustdesk.core.notifications import Notification
from trustdesk.directory.models import Queue

CARD = {"subject": "Charged twice", "body": "My card was charged twice for the same purchase, refund the duplicate"}
VAGUE = {"subject": "Hello", "body": "Hi, I have a question about something"}


@pytest.fixture
def triage(db: Session, world: World, clock: FrozenClock) -> Queue:
    queue = make_queue(db, now=clock.now(), key="us-triage", team=world.t1_a, market=world.us, is_triage=True,
                       intake_order=900)
    db.commit()
    return queue


@pytest.fixture
def routed_world(client: TestClient, world: World, db: Session, clock: FrozenClock, triage: Queue) -> World:
    """Topics, a trained active model, and a catalogue: payments to T2 anywhere, orders to T1 in the US."""
    import_topics(client, world)
    seed_history(db, world, queue=world.queue_a, now=clock.now())
    catalogue_entry(client, world, topic="payments", market_scope="*", team_id=world.t2.id, tier="t2")
    catalogue_entry(client, world, topic="orders", market_scope="US", team_id=world.t1_a.id, tier="t1")
    catalogue_entry(client, world, topic="account", market_scope="US", team_id=world.t1_a.id, tier="t1")
    train(client, world)
    return world


def _why(client: TestClient, world: World, case_id: int, who: str = "agent_t2") -> dict[str, Any]:
    response = client.get(f"/api/v1/cases/{case_id}/routing", headers=world.auth(who))
    assert response.status_code == 200, response.text
    return response.json()  # type: ignore[no-any-return]


def test_a_classified_case_goes_to_the_catalogue_owner_and_says_why(client: TestClient, routed_world: World,
                                                                    db: Session) -> None:
    world = routed_world
    created = intake_case(client, world, **CARD)
    assert (created["queue_id"], created["team_id"], created["topic"]) == (
        world.queue_t2.id, world.t2.id, "payments.double_charge")
    why = _why(client, world, created["id"])
    assert why["source"] == "catalogue" and why["topic_source"] == "classifier"
    assert why["model_version"] == 1 and why["confidence"] >= why["threshold"]
    assert why["suggestions"][0]["topic"] == "payments.double_charge"
    assert len(why["suggestions"]) == 3
    assert why["catalogue_entry_id"] is not None and why["catalogue_version"] == 1
    assert (why["team_key"], why["queue_key"]) == ("t2", "t2-orders")
    assert "model v1 read the topic as payments.double_charge" in why["explanation"]
    assert "the service catalogue" in why["explanation"]
    routed = next(e for e in events_of(db, created["id"]) if e.type == "case.routed")
    assert routed.data["catalogue_entry_id"] == why["catalogue_entry_id"] and routed.data["model_version"] == 1


def test_an_unsure_case_lands_in_triage_with_three_suggestions(client: TestClient, routed_world: World,
                                                               triage: Queue) -> None:
    created = intake_case(client, routed_world, **VAGUE)
    assert created["queue_id"] == triage.id and created["topic"] is None
    why = _why(client, routed_world, created["id"], who="agent_t1")  # the triage agent sees the suggestions
    assert why["source"] == "triage" and why["triage_reason"] == "low_confidence"
    assert why["confidence"] < why["threshold"]
    assert len(why["suggestions"]) == 3
    assert {s["topic"] for s in why["suggestions"]} == {"orders.delivery.late", "payments.double_charge",
                                                        "account.login"}


def test_the_market_threshold_overrides_the_models(client: TestClient, routed_world: World, triage: Queue,
                                                   db: Session) -> None:
    routed_world.us.routing_threshold = 0.999
    db.commit()
    created = intake_case(client, routed_world, **CARD)
    assert created["queue_id"] == triage.id
    assert _why(client, routed_world, created["id"])["threshold"] == 0.999


def test_a_published_rule_wins_and_is_recorded_with_its_version(client: TestClient, routed_world: World) -> None:
    world = routed_world
    draft = client.post("/api/v1/routing/rules", headers=world.auth("lead"), json={"rules": [
        {"id": "vip-to-t2", "name": "VIP buyers go to T2", "when": [{"field": "tags", "op": "contains",
                                                                   "value": "vip"}],
         "then": {"team": "t2", "priority": "high"}, "stop": True},
    ]})
    assert draft.status_code == 201, draft.text
    version = draft.json()["version"]
    assert_problem(client.post(f"/api/v1/routing/rules/{version}/publish", headers=world.auth("lead")), 403)
    published = client.post(f"/api/v1/routing/rules/{version}/publish", headers=world.auth("admin"))
    assert published.status_code == 200 and published.json()["status"] == "published"
    created = intake_case(client, world, subject="Parcel late", body="My parcel is late by five days",
                          tags=["vip"])
    assert (created["team_id"], created["priority"]) == (world.t2.id, "high")
    why = _why(client, world, created["id"])
    assert why["source"] == "rule"
    assert why["rules"] == [{"id": "vip-to-t2", "version": 1, "name": "VIP buyers go to T2",
                             "changed": ["priority", "team"]}]
    assert why["rule_set_version"] == 1
    # Without the tag the rule does not fire: the classifier and catalogue route it to T1.
    plain = intake_case(client, world, subject="Parcel late", body="My parcel is late by five days")
    assert plain["team_id"] == world.t1_a.id and _why(client, world, plain["id"])["rules"] == []


def test_a_case_nobody_owns_tells_the_catalogue_owners_once(client: TestClient, world: World, db: Session,
                                                            triage: Queue) -> None:
    import_topics(client, world)
    first = intake_case(client, world, topic="orders.delivery.late")
    # No entry: the queue intake settings take it (us-buyers), and the source says so.
    assert first["queue_id"] == world.queue_a.id
    assert _why(client, world, first["id"])["source"] == "intake_default"
    intake_case(client, world, topic="orders.delivery.late", external_id="cust-2")
    lead_inbox = client.get("/api/v1/notifications", headers=world.auth("lead")).json()
    gaps = [n for n in lead_inbox if n["kind"] == "catalogue.gap"]
    assert len(gaps) == 1 and gaps[0]["repeats"] == 1
    assert gaps[0]["title"] == "Nobody owns orders.delivery.late in US (api, buyer)"
    assert client.get("/api/v1/notifications", headers=world.auth("agent_t1")).json() == []
    marked = client.post(f"/api/v1/notifications/{gaps[0]['id']}/read", headers=world.auth("lead"))
    assert marked.json() == {"marked": 1}
    assert_problem(client.post(f"/api/v1/notifications/{gaps[0]['id']}/read", headers=world.auth("agent_t1")),
                   404, "notification_id")
    # Read: the next gap case tells them again.
    intake_case(client, world, topic="orders.delivery.late", external_id="cust-3")
    assert db.scalars(select(Notification).where(Notification.kind == "catalogue.gap")).all().__len__() == 2


def test_a_case_nobody_owns_without_an_intake_queue_goes_to_triage(client: TestClient, world: World,
                                                                   triage: Queue, db: Session) -> None:
    world.queue_a.intake_channels = ["email"]
    db.commit()
    created = intake_case(client, world, channel="api")
    assert created["queue_id"] == triage.id
    assert _why(client, world, created["id"])["triage_reason"] == "no_owner"


def test_a_team_without_a_queue_in_the_market_goes_to_triage(client: TestClient, world: World,
                                                            triage: Queue, db: Session) -> None:
    import_topics(client, world)
    catalogue_entry(client, world, topic="payments", market_scope="US", team_id=world.internal.id, tier="internal")
    # finance-requests serves every market, so the owner's queue is used ...
    assert intake_case(client, world, topic="payments.double_charge")["queue_id"] == world.queue_internal.id
    # ... and once it is closed the team has no queue in the US: triage, saying why.
    world.queue_internal.is_active = False
    db.commit()
    created = intake_case(client, world, topic="payments.double_charge", external_id="cust-2")
    assert created["queue_id"] == triage.id
    why = _why(client, world, created["id"])
    assert why["triage_reason"] == "no_queue" and "team finance-ops has no active queue in US" in why["explanation"]


def test_routing_pages_and_api_deny_who_may_not(client: TestClient, routed_world: World) -> None:
    world = routed_world
    for who in ("agent_t1", "buyer"):
        assert_problem(client.get("/api/v1/routing/report", headers=world.auth(who)), 403)
    assert client.get("/api/v1/routing/report", headers=world.auth("qa")).status_code == 200
    for who in ("agent_t2", "qa"):
        assert_problem(client.post("/api/v1/routing/rules", headers=world.auth(who), json={"rules": []}), 403)
        assert_problem(client.post("/api/v1/routing/models/rollback", headers=world.auth(who)), 403)
    created = intake_case(client, world, **CARD)
    # A vendor B agent cannot read a case of vendor A's queue, so not its routing either.
    assert_problem(client.get(f"/api/v1/cases/{created['id']}/routing", headers=world.auth("agent_t1_b")), 404)
    assert_problem(client.get(f"/api/v1/cases/{created['id']}/routing", headers=world.auth("buyer")), 403)


def test_the_case_page_says_why_and_triage_routes_by_a_suggestion(client: TestClient, routed_world: World,
                                                                   triage: Queue, db: Session) -> None:
    world = routed_world
    routed = intake_case(client, world, **CARD)
    vague = intake_case(client, world, **VAGUE, external_id="cust-2")
    csrf = sign_in(client, "lead")
    page = client.get(f"/console/cases/{routed['id']}")
    assert page.status_code == 200
    assert "Why it went here" in page.text and "payments.double_charge" in page.text
    assert "model v1 read the topic as payments.double_charge" in page.text
    assert "route-as" not in page.text  # only triage offers routing by a suggestion

    page = client.get(f"/console/cases/{vague['id']}")
    assert "Suggested topics" in page.text and "low confidence" in page.text
    assert 'aria-label="Route as payments.double_charge to t2-orders"' in page.text
    moved = client.post(f"/console/cases/{vague['id']}/route-as", data={"csrf_token": csrf,
                                                                        "topic": "payments.double_charge"},
                        follow_redirects=False)
    assert moved.status_code == 303, moved.text
    case = client.get(f"/api/v1/cases/{vague['id']}", headers=world.auth("lead")).json()
    assert (case["queue_id"], case["topic"]) == (world.queue_t2.id, "payments.double_charge")
    rerouted = [e for e in events_of(db, vague["id"]) if e.type == "case.rerouted"]
    assert rerouted[-1].data["reason"] == "triaged"
    # A topic nobody owns is refused on the page, naming the field.
    assert client.put("/api/v1/topics/misc", headers=world.auth("lead"),
                      json={"key": "misc", "names": {"en": "Misc"}}).status_code == 200
    other = intake_case(client, world, **VAGUE, external_id="cust-3")
    refused = client.post(f"/console/cases/{other['id']}/route-as", data={"csrf_token": csrf, "topic": "misc"})
    assert refused.status_code == 422 and "Nobody to send it to" in refused.text


def test_triage_routes_are_not_misroutes(client: TestClient, routed_world: World, triage: Queue, db: Session,
                                         clock: FrozenClock) -> None:
    world = routed_world
    vague = intake_case(client, world, **VAGUE)
    csrf = sign_in(client, "lead")
    client.post(f"/console/cases/{vague['id']}/route-as", data={"csrf_token": csrf, "topic": "account.login"})
    clock.advance(minutes=1)
    summary = client.get("/api/v1/routing/report?days=1", headers=world.auth("qa")).json()["summary"]
    assert (summary["cases"], summary["triaged"], summary["routed"], summary["misrouted"]) == (1, 1, 0, 0)


def test_a_vendor_agent_sees_the_routing_but_not_the_platforms_rules_and_catalogue(
        client: TestClient, routed_world: World) -> None:
    world = routed_world
    created = intake_case(client, world, subject="Parcel late", body="My parcel is late by five days")
    assert created["team_id"] == world.t1_a.id  # vendor A's team
    seen = _why(client, world, created["id"], who="agent_t1")
    assert (seen["source"], seen["topic"]) == ("catalogue", "orders.delivery.late")
    assert (seen["catalogue_entry_id"], seen["rules"], seen["rule_set_version"]) == (None, [], None)
    assert seen["explanation"] == "routed by catalogue"
    assert _why(client, world, created["id"], who="lead")["catalogue_entry_id"] is not None


def test_a_rule_id_reused_for_new_behaviour_gets_a_new_version(client: TestClient, routed_world: World) -> None:
    world = routed_world

    def publish(rules: list[dict[str, Any]]) -> list[tuple[str, int]]:
        draft = client.post("/api/v1/routing/rules", headers=world.auth("lead"), json={"rules": rules})
        assert draft.status_code == 201, draft.text
        done = client.post(f"/api/v1/routing/rules/{draft.json()['version']}/publish", headers=world.auth("admin"))
        assert done.status_code == 200, done.text
        return [(r["id"], r["version"]) for r in done.json()["rules"]]

    vip = {"id": "vip", "when": [{"field": "tags", "op": "contains", "value": "vip"}], "then": {"priority": "high"}}
    assert publish([vip]) == [("vip", 1)]
    assert publish([]) == []  # deleted ...
    assert publish([vip | {"then": {"priority": "urgent"}}]) == [("vip", 2)]  # ... and back, doing something else
    assert publish([vip | {"then": {"priority": "urgent"}, "name": "renamed"}]) == [("vip", 2)]
