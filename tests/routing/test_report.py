"""The misroute report on a seeded history reproduces figures computed by hand.

Eight US cases over eight days, all routed by the catalogue (orders -> T1 vendor A, payments -> T2):

    case  topic     first  then                                       final  misrouted  hops  to final  lost
    C1    orders    t1-a   assigned after 1 h                         t1-a   no         0     -         -
    C2    orders    t1-a   assigned after 3 h                         t1-a   no         0     -         -
    C3    orders    t1-a   assigned 1 h, rerouted to t2 at 5 h        t2     yes        1     5 h       3 h
    C4    orders    t1-a   to t2 at 4 h, back to t1-a at 6 h          t1-a   no         2     -         -
    C5    payments  t2     topic corrected to orders at 2 h           t2     yes        0     -         -
    C6    orders    t1-a   rerouted to t2 at 8 h                      t2     yes        1     8 h       6 h
    C7    orders    t1-a   rerouted to t2 at 2 h                      t2     yes        1     2 h       0 h
    C8    orders    t1-a   rerouted to t2 at 3 h                      t2     yes        1     3 h       1 h

t1-a's baseline (median wait to first assignment of the cases it owned throughout, C1 and C2) is 2 h, so
time lost = time to final team - 2 h. Misroute rate 5/8; hops 6/8; median time to final team
4 h; 10 h lost in all, median 2 h. The top cause is the orders entry (4 cases, 10 h); giving
orders in the US to t2 would fix 4 cases and break 3 (C1, C2, C4). The ``history`` fixture that seeds
it is in tests/routing/conftest.py (the console page tests use it too).
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from fastapi.testclient import TestClient
from sqlalchemy.orm import Session

from tests.factories.api import assert_problem
from tests.factories.world import World
from trustdesk.core.clock import FrozenClock
from trustdesk.core.settings import Settings
from trustdesk.routing import analysis


def _report(client: TestClient, world: World) -> dict[str, Any]:
    response = client.get("/api/v1/routing/report?days=28", headers=world.auth("qa"))
    assert response.status_code == 200, response.text
    return response.json()  # type: ignore[no-any-return]


def test_the_report_reproduces_the_hand_computed_figures(client: TestClient, world: World,
                                                         history: dict[str, Any]) -> None:
    report = _report(client, world)
    refs, orders = history["refs"], history["orders"]
    assert report["summary"] == {
        "cases": 8, "routed": 8, "triaged": 0, "misrouted": 5, "misroute_rate": 0.625, "team_changes": 4,
        "topic_corrections": 1, "hops": 6, "hops_per_case": 0.75, "median_hours_to_final_team": 4.0,
        "hours_lost": 10.0, "median_hours_lost": 2.0,
    }
    assert report["baseline_hours"] == {"t1-a": 2.0}
    assert report["reroute_reasons"] == {"needs_specialist": 2, "wrong_topic": 1, "wrong_tier": 1,
                                         "topic_corrected": 1}
    top = report["causes"][0]
    assert (top["kind"], top["misrouted"], top["hours_lost"]) == ("catalogue", 4, 10.0)
    assert top["key"] == f"catalogue:{orders['entry_id']}:1"
    assert top["examples"] == [refs["C3"], refs["C6"], refs["C7"], refs["C8"]]
    assert report["causes"][1]["kind"] == "catalogue" and report["causes"][1]["misrouted"] == 1
    assert report["confusion"] == [
        {"routed_team": "t1-a", "final_team": "t2", "cases": 4},
        {"routed_team": "t1-a", "final_team": "t1-a", "cases": 3},
        {"routed_team": "t2", "final_team": "t2", "cases": 1},
    ]
    plan = report["recovery_plan"]
    assert plan[0]["kind"] == "catalogue"
    assert (plan[0]["fixed"], plan[0]["broken"], plan[0]["net"]) == (4, 3, 1)
    assert plan[0]["target"] == {"topic": "orders.delivery.late", "market": "US", "team": "t2",
                                 "entry_id": orders["entry_id"]}
    # The same fix as a language or channel rule covers the same cases: it is not proposed twice.
    assert [p["kind"] for p in plan] == ["catalogue"]
    by_entry = {row["key"]: row for row in report["breakdowns"]["catalogue_entry"]}
    assert by_entry[f"entry {orders['entry_id']} v1"]["routed"] == 7
    assert by_entry[f"entry {orders['entry_id']} v1"]["misrouted"] == 4
    by_band = {row["key"]: row for row in report["breakdowns"]["confidence_band"]}
    assert by_band["no model"]["routed"] == 8


def test_the_period_bounds_the_report(client: TestClient, world: World, history: dict[str, Any],
                                      clock: FrozenClock) -> None:
    response = client.get("/api/v1/routing/report?days=3", headers=world.auth("qa"))
    summary = response.json()["summary"]
    assert (summary["routed"], summary["misrouted"]) == (2, 2)  # C7 and C8


def test_the_text_report_reads_as_a_person_would_say_it(client: TestClient, world: World,
                                                        history: dict[str, Any], db: Session,
                                                        clock: FrozenClock, settings: Settings) -> None:
    report = analysis.report(db, since=clock.now() - timedelta(days=28), until=clock.now(), settings=settings)
    text = analysis.render_text(report)
    assert "Misroute rate 62.5% (5 of 8 routed cases; 4 changed team, 1 had their topic corrected)" in text
    assert "Hops per case 0.75 · median time to final team 4.0 h · time lost 10.0 h (median 2.0 h)" in text
    assert "Give orders.delivery.late in US to t2: fixes 4, breaks 3" in text


def test_simulating_a_draft_shows_what_would_change_and_the_misroutes_it_fixes(
        client: TestClient, world: World, history: dict[str, Any]) -> None:
    rule = {"id": "orders-us-to-t2", "when": [{"field": "topic", "op": "under", "value": "orders"},
                                              {"field": "market", "op": "eq", "value": "US"}],
            "then": {"team": "t2"}}
    draft = client.post("/api/v1/routing/rules", headers=world.auth("lead"), json={"rules": [rule]})
    assert draft.status_code == 201, draft.text
    version = draft.json()["version"]
    response = client.post(f"/api/v1/routing/rules/{version}/simulate?days=14", headers=world.auth("lead"))
    assert response.status_code == 200, response.text
    result = response.json()
    assert (result["cases"], result["changed"], result["changes"]) == (8, 7, {"team": 7})
    assert (result["fixes"], result["breaks"], result["loop_guard_hits"]) == (4, 3, 0)
    assert result["rules_fired"] == {"orders-us-to-t2": 7}
    first = result["examples"][0]
    assert first["reference"] == history["refs"]["C1"]
    assert (first["before"]["team"], first["after"]["team"], first["final_team"]) == ("t1-a", "t2", "t1-a")
    # Simulating changes nothing: the draft is still a draft and nothing routes by it.
    listed = client.get("/api/v1/routing/rules", headers=world.auth("qa")).json()
    assert [(r["version"], r["status"]) for r in listed] == [(version, "draft")]
    assert_problem(client.post(f"/api/v1/routing/rules/{version}/simulate?days=0", headers=world.auth("lead")),
                   422, "days")


def test_invalid_drafts_name_the_field_and_write_nothing(client: TestClient, world: World,
                                                         history: dict[str, Any]) -> None:
    bad = [{"id": "x", "when": [{"field": "topic", "op": "under", "value": "orders"}], "then": {"team": "nope"}}]
    assert_problem(client.post("/api/v1/routing/rules", headers=world.auth("lead"), json={"rules": bad}),
                   422, "rules[0].then.team")
    unknown_topic = [{"id": "x", "when": [], "then": {"topic": "orders.nope"}}]
    assert_problem(client.post("/api/v1/routing/rules", headers=world.auth("lead"), json={"rules": unknown_topic}),
                   422, "rules[0].then.topic")
    assert client.get("/api/v1/routing/rules", headers=world.auth("qa")).json() == []
    published = client.post("/api/v1/routing/rules", headers=world.auth("lead"), json={"rules": []}).json()
    assert client.post(f"/api/v1/routing/rules/{published['version']}/publish",
                       headers=world.auth("admin")).status_code == 200
    assert_problem(client.post(f"/api/v1/routing/rules/{published['version']}/publish",
                               headers=world.auth("admin")), 409, "version")
