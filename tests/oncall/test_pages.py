"""The oncall console: who is on call now and next, a schedule's final rotation with gaps, overrides
and swaps from forms, calendar links, the case's escalation panel and crisis page."""

from __future__ import annotations

from datetime import UTC, datetime

from fastapi.testclient import TestClient
from sqlalchemy import select
from sqlalchemy.orm import Session

from tests.factories.api import intake_case
from tests.factories.world import World
from tests.web.test_pages_auth import csrf_from, sign_in
from trustdesk.core.clock import FrozenClock
from trustdesk.oncall.models import Crisis, Escalation, OncallOverride, OncallSwap


def _schedule(client: TestClient, world: World) -> None:
    body = {"key": "t2-oncall", "name": "T2 oncall", "team": "t2", "time_zone": "Europe/Madrid", "layers": [{
        "name": "Weekly", "time_zone": "Europe/Madrid", "starts_at": "2026-03-02T09:00:00+01:00",
        "handoff": "FREQ=WEEKLY;BYDAY=MO;BYHOUR=9", "participants": [world.users["oncall_sme"].id,
                                                                     world.users["agent_t2"].id],
        "restrictions": [{"days": ["mon", "tue", "wed", "thu", "fri"], "start": "08:00", "end": "20:00"}]}]}
    assert client.post("/api/v1/oncall/schedules", headers=world.auth("lead"), json=body).status_code == 201
    ladder = {"key": "by-hand", "name": "By hand", "triggers": ["manual"], "ack_timeout_minutes": 30,
              "steps": [{"type": "notify_oncall", "schedule": "t2-oncall"}, {"type": "wait", "minutes": 15},
                        {"type": "notify_users", "users": [world.users["lead"].id]}]}
    assert client.post("/api/v1/oncall/ladders", headers=world.auth("lead"), json=ladder).status_code == 201


def test_the_oncall_page_shows_who_is_on_call_now_and_next(client: TestClient, world: World,
                                                           clock: FrozenClock) -> None:
    _schedule(client, world)
    clock.set(datetime(2026, 3, 3, 10, tzinfo=UTC))  # Tuesday 11:00 in Madrid: the first week's person
    sign_in(client, "agent_t1")
    page = client.get("/console/oncall")
    assert page.status_code == 200
    assert "<strong>Oncall_Sme</strong>" in page.text and "until Tue 03 Mar 20:00" in page.text
    assert "Agent_T2" not in page.text.split("Pages sent to you")[0]  # next is the same person tomorrow
    assert "No pages" in page.text and "No crisis is open" in page.text
    detail = client.get("/console/oncall/schedules/t2-oncall")
    assert detail.status_code == 200
    assert 'aria-current="true"' in detail.text and "Nobody (gap)" in detail.text  # nights are gaps
    assert "Add an override" not in detail.text  # a T1 agent reads, does not edit
    clock.set(datetime(2026, 3, 3, 22, tzinfo=UTC))
    night = client.get("/console/oncall").text
    assert "Nobody" in night and "a gap in the schedule" in night


def test_an_admin_adds_an_override_and_a_participant_swaps(client: TestClient, world: World, db: Session,
                                                          clock: FrozenClock) -> None:
    _schedule(client, world)
    token = sign_in(client, "lead")
    bad = client.post("/console/oncall/schedules/t2-oncall/overrides",
                      data={"csrf_token": token, "starts_at": "2026-03-04T10:00", "ends_at": "2026-03-04T09:00",
                            "user_id": str(world.users["lead"].id)})
    assert bad.status_code == 422 and "The end must come after the start" in bad.text
    assert 'value="2026-03-04T10:00"' in bad.text  # what was typed is kept
    assert db.scalars(select(OncallOverride)).all() == []
    done = client.post("/console/oncall/schedules/t2-oncall/overrides",
                       data={"csrf_token": token, "starts_at": "2026-03-04T10:00", "ends_at": "2026-03-04T14:00",
                             "user_id": str(world.users["lead"].id), "reason": "training"}, follow_redirects=False)
    assert done.status_code == 303
    override = db.scalars(select(OncallOverride)).one()
    assert override.starts_at == datetime(2026, 3, 4, 9, tzinfo=UTC)  # 10:00 in Madrid
    client.cookies.clear()
    token = sign_in(client, "oncall_sme")
    swapped = client.post("/console/oncall/schedules/t2-oncall/swaps",
                          data={"csrf_token": token, "starts_at": "2026-03-05T08:00", "ends_at": "2026-03-06T20:00",
                                "giver_id": str(world.users["oncall_sme"].id),
                                "taker_id": str(world.users["agent_t2"].id)}, follow_redirects=False)
    assert swapped.status_code == 303, swapped.text
    assert db.scalars(select(OncallSwap)).one().taker_id == world.users["agent_t2"].id
    page = client.get("/console/oncall/schedules/t2-oncall?days=7").text
    assert "Agent_T2 takes Oncall_Sme's shifts" in page and "Lead covers" in page
    assert client.post("/console/oncall/schedules/t2-oncall/overrides",
                       data={"csrf_token": token, "starts_at": "2026-03-04T10:00",
                             "ends_at": "2026-03-04T14:00"}).status_code == 403  # not a schedule admin


def test_a_person_creates_and_revokes_their_calendar_link(client: TestClient, world: World) -> None:
    _schedule(client, world)
    token = sign_in(client, "oncall_sme")
    created = client.post("/console/oncall/feeds", data={"csrf_token": token})
    assert created.status_code == 200 and "/api/v1/oncall/feeds/cal_" in created.text
    url = created.text.split("/api/v1/oncall/feeds/", 1)[1].split(".ics", 1)[0]
    assert client.get(f"/api/v1/oncall/feeds/{url}.ics").status_code == 200
    feed_id = created.text.split("/console/oncall/feeds/", 1)[1].split("/revoke", 1)[0]
    revoked = client.post(f"/console/oncall/feeds/{feed_id}/revoke", data={"csrf_token": token,
                                                                          "next": "/console/oncall"})
    assert revoked.status_code == 200 and "Revoked" in revoked.text
    assert client.get(f"/api/v1/oncall/feeds/{url}.ics").status_code == 404


def test_the_case_page_escalates_acknowledges_and_declares_a_crisis(client: TestClient, world: World, db: Session,
                                                                   clock: FrozenClock) -> None:
    _schedule(client, world)
    clock.set(datetime(2026, 3, 3, 10, tzinfo=UTC))
    case = intake_case(client, world, queue=world.queue_a)
    token = sign_in(client, "agent_t1")
    page = client.get(f"/console/cases/{case['id']}").text
    assert "Why escalate?" in page and "Declare a crisis" not in page  # T1 escalates; crises are the oncall's
    refused = client.post(f"/console/cases/{case['id']}/escalate", data={"csrf_token": token, "reason": " "})
    assert refused.status_code == 422 and "Say why the case needs escalating" in refused.text
    done = client.post(f"/console/cases/{case['id']}/escalate",
                       data={"csrf_token": token, "reason": "Buyer charged twice"}, follow_redirects=True)
    assert done.status_code == 200 and "Escalated: the ladder is running" in done.text
    assert "page the oncall (t2-oncall)" in done.text and "Oncall_Sme paged" in done.text
    assert "Paged Oncall_Sme (oncall of t2-oncall)" in done.text  # the timeline says it in words
    assert ">Acknowledge</button>" not in done.text  # a T1 agent was not paged
    client.cookies.clear()
    token = sign_in(client, "oncall_sme")
    page = client.get(f"/console/cases/{case['id']}").text
    assert ">Acknowledge</button>" in page and "Declare a crisis" in page
    escalation_id = db.scalars(select(Escalation.id)).one()
    acked = client.post(f"/console/escalations/{escalation_id}/acknowledge",
                        data={"csrf_token": token, "next": f"/console/cases/{case['id']}#escalation"},
                        follow_redirects=True)
    assert "Acknowledged: the escalation stopped paging" in acked.text and "Escalates again in 30m" in acked.text
    assert "Escalation acknowledged by Oncall_Sme after 0 min in the console" in acked.text
    bad = client.post(f"/console/cases/{case['id']}/crisis", data={"csrf_token": csrf_from(acked.text),
                                                                   "title": "", "severity": "sev1"})
    assert bad.status_code == 422 and "A crisis needs a title" in bad.text
    crisis = client.post(f"/console/cases/{case['id']}/crisis",
                         data={"csrf_token": token, "title": "Double charges", "severity": "sev2",
                               "summary": "Many buyers charged twice since 09:00"}, follow_redirects=True)
    assert crisis.status_code == 200 and "Double charges" in crisis.text and "Crisis declared" in crisis.text
    crisis_id = db.scalars(select(Crisis.id)).one()
    updated = client.post(f"/console/crises/{crisis_id}/updates",
                          data={"csrf_token": token, "body": "Provider found the bug", "status": "identified",
                                "severity": "sev2"}, follow_redirects=True)
    assert "Provider found the bug" in updated.text and "(status investigating → identified)" in updated.text
    other = intake_case(client, world, queue=world.queue_t2, external_id="cust-2")
    linked = client.post(f"/console/crises/{crisis_id}/cases", data={"csrf_token": token, "case": str(other["id"])},
                         follow_redirects=True)
    assert other["reference"] in linked.text
    nope = client.post(f"/console/crises/{crisis_id}/cases", data={"csrf_token": token, "case": "abc"})
    assert nope.status_code == 422 and "A case number such as 1234" in nope.text


def test_an_admin_writes_a_ladder_in_the_console(client: TestClient, world: World, db: Session) -> None:
    _schedule(client, world)
    token = sign_in(client, "agent_t2")
    page = client.get("/console/oncall/ladders")
    assert page.status_code == 200 and "page the oncall (t2-oncall)" in page.text and "Lead" in page.text
    assert "New ladder" not in page.text  # reads, does not edit
    assert client.post("/console/oncall/ladders", data={"csrf_token": token, "editing": "new",
                                                        "ladder_yaml": "key: x"}).status_code == 403
    client.cookies.clear()
    token = sign_in(client, "lead")
    editor = client.get("/console/oncall/ladders?edit=by-hand").text
    assert "lead@example.test" in editor  # people by e-mail, not by id
    text = """key: urgent-t2
name: Urgent T2 cases
triggers: [urgent]
conditions: {teams: [t2]}
steps:
  - {type: notify_oncall, schedule: t2-oncall}
  - {type: wait, minutes: 5}
  - {type: round_robin, users: [lead@example.test, admin@example.test]}
"""
    bad = client.post("/console/oncall/ladders", data={"csrf_token": token, "editing": "new",
                                                       "ladder_yaml": text.replace("admin@", "nobody@")})
    assert bad.status_code == 422
    assert "Nobody has the e-mail &#39;nobody@example.test&#39; (at steps[2].users[1])" in bad.text
    assert "- {type: round_robin, users: [lead@example.test, nobody@example.test]}" in bad.text  # kept
    broken = client.post("/console/oncall/ladders", data={"csrf_token": token, "editing": "new",
                                                          "ladder_yaml": "key: [unclosed"})
    assert broken.status_code == 422 and "This is not valid YAML" in broken.text
    saved = client.post("/console/oncall/ladders", data={"csrf_token": token, "editing": "new",
                                                         "ladder_yaml": text}, follow_redirects=True)
    assert saved.status_code == 200 and "running ones keep their copy" in saved.text
    assert "page the next in turn (Lead, Admin)" in saved.text
    renamed = client.post("/console/oncall/ladders",
                          data={"csrf_token": token, "editing": "urgent-t2",
                                "ladder_yaml": text.replace("key: urgent-t2", "key: other")})
    assert renamed.status_code == 422 and "a ladder&#39;s key never changes" in renamed.text


def test_an_admin_writes_and_edits_a_schedule_in_the_console(client: TestClient, world: World,
                                                             clock: FrozenClock) -> None:
    token = sign_in(client, "oncall_sme")
    assert client.get("/console/oncall/new-schedule").status_code == 403
    client.cookies.clear()
    token = sign_in(client, "lead")
    assert "New schedule" in client.get("/console/oncall").text
    text = """key: orders-oncall
name: Orders oncall
team: t2
time_zone: Europe/Madrid
layers:
  - name: Weekdays
    time_zone: Europe/Madrid
    starts_at: 2026-03-02T09:00
    handoff: FREQ=WEEKLY;BYDAY=MO;BYHOUR=9
    participants: [oncall_sme@example.test, agent_t2@example.test]
    restrictions: [{days: [mon, tue, wed, thu, fri], start: '08:00', end: '20:00'}]
"""
    bad = client.post("/console/oncall/schedules", data={"csrf_token": token, "editing": "new",
                                                         "schedule_yaml": text.replace("agent_t2@", "agent_t1@")})
    assert bad.status_code == 422 and "cannot be on call" in bad.text and "(at layers[0].participants[1])" in bad.text
    saved = client.post("/console/oncall/schedules", data={"csrf_token": token, "editing": "new",
                                                           "schedule_yaml": text}, follow_redirects=True)
    assert saved.status_code == 200 and "the final schedule below follows the new layers" in saved.text
    clock.set(datetime(2026, 3, 3, 10, tzinfo=UTC))
    who = client.get("/api/v1/oncall/now", headers=world.auth("lead"), params={"team": "t2"}).json()
    assert who == [{"schedule": "orders-oncall", "user_id": world.users["oncall_sme"].id,
                    "name": world.users["oncall_sme"].display_name}]
    editor = client.get("/console/oncall/schedules/orders-oncall/edit").text
    assert "oncall_sme@example.test" in editor and "2026-03-02T09:00:00+01:00" in editor
    swapped = text.replace("[oncall_sme@example.test, agent_t2@example.test]",
                           "[agent_t2@example.test, oncall_sme@example.test]")
    assert client.post("/console/oncall/schedules", data={"csrf_token": token, "editing": "orders-oncall",
                                                          "schedule_yaml": swapped}).status_code == 200
    who = client.get("/api/v1/oncall/now", headers=world.auth("lead"), params={"team": "t2"}).json()
    assert who[0]["user_id"] == world.users["agent_t2"].id
    renamed = client.post("/console/oncall/schedules", data={"csrf_token": token, "editing": "orders-oncall",
                                                             "schedule_yaml": text.replace("key: orders-oncall",
                                                                                           "key: other")})
    assert renamed.status_code == 422 and "a schedule&#39;s key never changes" in renamed.text
