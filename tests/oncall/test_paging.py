"""Pages leave through the outbox: a signed webhook that is also a Slack message, an email over SMTP
with the acknowledge link, the in-app inbox; the link acknowledges without signing in. Crises page
the oncall and keep their own timeline."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from email import message_from_string
from email.policy import default as default_policy
from pathlib import Path
from typing import Any

import pytest
import standardwebhooks
from fastapi.testclient import TestClient
from sqlalchemy import select
from sqlalchemy.orm import Session

from tests.factories.api import assert_problem, events_of, intake_case
from tests.factories.receiver import Mailbox, Receiver
from tests.factories.world import World
from tests.web.test_pages_auth import csrf_from
from trustdesk.core.clock import FrozenClock
from trustdesk.core.notifications import Notification
from trustdesk.core.settings import Settings
from trustdesk.oncall.models import Escalation, Page


@pytest.fixture
def settings(tmp_path: Path, smtp_server: Mailbox) -> Settings:
    return Settings(data_dir=tmp_path, database_url="sqlite://", secret_key="test-secret-key-" + "x" * 32,
                    smtp_url=f"smtp://127.0.0.1:{smtp_server.port}", smtp_from="TrustDesk <pager@example.test>",
                    base_url="https://desk.example.test")


def _oncall(client: TestClient, world: World, clock: FrozenClock, *, ladder: bool = True) -> None:
    schedule = {"key": "t2-oncall", "name": "T2 oncall", "team": "t2", "layers": [{
        "name": "weekly", "time_zone": "UTC", "starts_at": clock.now().isoformat(), "handoff": "FREQ=WEEKLY",
        "participants": [world.users["oncall_sme"].id]}]}
    assert client.post("/api/v1/oncall/schedules", headers=world.auth("lead"), json=schedule).status_code == 201
    if ladder:
        body = {"key": "by-hand", "name": "By hand", "triggers": ["manual"],
                "steps": [{"type": "notify_oncall", "schedule": "t2-oncall"}]}
        assert client.post("/api/v1/oncall/ladders", headers=world.auth("lead"), json=body).status_code == 201


def _webhook(client: TestClient, world: World, url: str, types: list[str]) -> str:
    created = client.post("/api/v1/webhooks", headers=world.auth("admin"),
                          json={"key": "pager", "url": url, "event_types": types})
    assert created.status_code == 201, created.text
    return str(created.json()["secret"])


def test_a_page_reaches_a_signed_webhook_email_and_inbox_and_its_link_acknowledges(
        client: TestClient, world: World, db: Session, clock: FrozenClock, receiver: Receiver,
        smtp_server: Mailbox) -> None:
    clock.set(datetime.now(UTC).replace(microsecond=0))  # the reference verifier checks against the real time
    _oncall(client, world, clock)
    secret = _webhook(client, world, receiver.url, ["page.triggered", "page.acknowledged"])
    case = intake_case(client, world, queue=world.queue_a)
    escalated = client.post(f"/api/v1/cases/{case['id']}/escalate", headers=world.auth("agent_t1"),
                            json={"reason": "Customer reports a card charged three times"})
    assert escalated.status_code == 201, escalated.text

    [hook] = receiver.requests
    body = standardwebhooks.Webhook(secret).verify(hook.body, hook.headers)
    sme = world.users["oncall_sme"]
    assert body["type"] == "page.triggered"
    assert body["data"]["user"] == {"id": sme.id, "email": sme.email, "name": sme.display_name}
    assert body["data"]["case"]["reference"] == case["reference"]
    ack_url = body["data"]["ack_url"]
    assert ack_url.startswith("https://desk.example.test/oncall/pages/pg_")
    assert body["text"].startswith("*Escalation: ") and "card charged three times" in body["text"]
    assert body["blocks"][1]["elements"][0] == {"type": "button", "text": {"type": "plain_text",
                                                                           "text": "Acknowledge"},
                                                "url": ack_url, "style": "primary"}
    [(sender, recipients, message)] = smtp_server.messages
    assert recipients == [sme.email] and "pager@example.test" in sender
    email = message_from_string(message, policy=default_policy)
    assert email["subject"] == f"[TrustDesk] Escalation: {case['reference']} (manual)"
    assert f"Acknowledge: {ack_url}" in email.get_content()  # type: ignore[attr-defined]
    inbox = db.scalars(select(Notification).where(Notification.user_id == sme.id, Notification.kind == "page")).all()
    assert len(inbox) == 1 and inbox[0].link == f"/console/cases/{case['id']}"

    path = ack_url.removeprefix("https://desk.example.test")
    shown = client.get(path)
    assert shown.status_code == 200 and "Acknowledge</button>" in shown.text
    done = client.post(path, data={"csrf_token": csrf_from(shown.text)})
    assert done.status_code == 200 and "Acknowledged" in done.text
    db.expire_all()
    escalation = db.scalars(select(Escalation).where(Escalation.case_id == case["id"])).one()
    assert escalation.status == "acknowledged" and escalation.acknowledged_by_id == sme.id
    ack = next(e for e in events_of(db, case["id"]) if e.type == "case.escalation_acknowledged")
    assert ack.data["via"] == "page_link" and ack.actor_id == sme.id
    assert json.loads(receiver.requests[1].body)["type"] == "page.acknowledged"
    # Following the link again changes nothing; a made-up link is refused.
    again = client.post(path, data={"csrf_token": csrf_from(shown.text)})
    assert again.status_code == 200 and "Already acknowledged" in again.text
    assert db.scalars(select(Escalation.acknowledged_at)).one() == escalation.acknowledged_at
    assert client.get("/oncall/pages/pg_not-a-real-token-at-all").status_code == 404


def test_the_page_link_keeps_only_a_hash_and_needs_its_form_token(
        client: TestClient, world: World, db: Session, clock: FrozenClock, receiver: Receiver) -> None:
    _oncall(client, world, clock)
    _webhook(client, world, receiver.url, ["page.triggered"])
    case = intake_case(client, world, queue=world.queue_a)
    client.post(f"/api/v1/cases/{case['id']}/escalate", headers=world.auth("agent_t1"), json={"reason": "help"})
    link = json.loads(receiver.requests[0].body)["data"]["ack_url"]
    token = link.rsplit("/", 1)[1]
    page = db.scalars(select(Page)).one()
    assert token not in page.token_hash and len(page.token_hash) == 64  # a SHA-256, never the token
    refused = client.post(f"/oncall/pages/{token}", data={})  # no CSRF token: a forged cross-site post
    assert refused.status_code == 403
    db.expire_all()
    assert db.scalars(select(Escalation.status)).one() == "exhausted"  # paged everyone, nobody acknowledged


def test_a_crisis_pages_the_oncall_and_keeps_a_timeline(client: TestClient, world: World, db: Session,
                                                        clock: FrozenClock, receiver: Receiver) -> None:
    _oncall(client, world, clock, ladder=False)
    _webhook(client, world, receiver.url, ["crisis.declared", "crisis.updated"])
    case = intake_case(client, world, queue=world.queue_t2)
    other = intake_case(client, world, queue=world.queue_a, external_id="cust-9")
    assert_problem(client.post(f"/api/v1/cases/{case['id']}/crisis", headers=world.auth("lead"),
                               json={"title": "Checkout down", "severity": "sev0"}), 422, "severity")
    assert client.post(f"/api/v1/cases/{case['id']}/crisis", headers=world.auth("agent_t1"),
                       json={"title": "x", "severity": "sev1"}).status_code == 403
    declared = client.post(f"/api/v1/cases/{case['id']}/crisis", headers=world.auth("lead"),
                           json={"title": "Checkout failing in the US", "severity": "sev1",
                                 "summary": "Card payments fail with error 502 since 09:05."})
    assert declared.status_code == 201, declared.text
    crisis: dict[str, Any] = declared.json()
    assert crisis["status"] == "investigating" and crisis["owner_id"] == world.users["lead"].id
    paged = sorted(p.user_id for p in db.scalars(select(Page).where(Page.crisis_id == crisis["id"])))
    assert paged == sorted([world.users["oncall_sme"].id, world.users["lead"].id])  # oncall of t2, and the owner
    clock.advance(minutes=20)
    updated = client.post(f"/api/v1/crises/{crisis['id']}/updates", headers=world.auth("oncall_sme"),
                          json={"body": "Payment provider confirms an outage.", "status": "identified",
                                "severity": "sev2"})
    assert updated.status_code == 200, updated.text
    linked = client.post(f"/api/v1/crises/{crisis['id']}/cases", headers=world.auth("lead"),
                         json={"case_id": other["id"]})
    assert linked.status_code == 200 and linked.json()["case_ids"] == [case["id"], other["id"]]
    assert_problem(client.post(f"/api/v1/crises/{crisis['id']}/cases", headers=world.auth("lead"),
                               json={"case_id": other["id"]}), 409, "case_id")
    resolved = client.post(f"/api/v1/crises/{crisis['id']}/updates", headers=world.auth("lead"),
                           json={"body": "Fixed by the provider.", "status": "resolved"})
    assert resolved.json()["status"] == "resolved" and resolved.json()["resolved_at"]
    timeline = [(e["type"], e["data"].get("changes", {})) for e in resolved.json()["timeline"]]
    assert [t for t, _ in timeline] == ["crisis.declared", "crisis.paged", "crisis.updated", "crisis.case_linked",
                                        "crisis.updated"]
    assert timeline[2][1] == {"status": {"from": "investigating", "to": "identified"},
                              "severity": {"from": "sev1", "to": "sev2"}}
    assert_problem(client.post(f"/api/v1/crises/{crisis['id']}/updates", headers=world.auth("lead"),
                               json={"body": "late"}), 409, "status")
    assert [json.loads(r.body)["type"] for r in receiver.requests] == ["crisis.declared", "crisis.updated",
                                                                       "crisis.updated"]
    assert "case.crisis_linked" in [e.type for e in events_of(db, other["id"])]


def test_only_admins_manage_webhooks_and_the_secret_is_shown_once(client: TestClient, world: World) -> None:
    body = {"key": "slack", "url": "https://hooks.example.test/T000/B000", "event_types": ["*"]}
    assert client.post("/api/v1/webhooks", headers=world.auth("lead"), json=body).status_code == 403
    created = client.post("/api/v1/webhooks", headers=world.auth("admin"), json=body)
    assert created.status_code == 201 and created.json()["secret"].startswith("whsec_")
    listed = client.get("/api/v1/webhooks", headers=world.auth("admin")).json()
    assert "secret" not in listed[0]
    rotated = client.post("/api/v1/webhooks/slack/rotate-secret", headers=world.auth("admin")).json()
    assert rotated["secret"] != created.json()["secret"]
    assert_problem(client.post("/api/v1/webhooks", headers=world.auth("admin"), json=body | {"key": "b",
                                                                                           "url": "mailto:x"}),
                   422, "url")
