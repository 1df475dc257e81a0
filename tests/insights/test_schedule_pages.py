"""The report's delivery schedules in the console: insights admins add, pause, resume and remove them; a bad
field is named on the form; readers see them; others are refused."""

from __future__ import annotations

from fastapi.testclient import TestClient
from sqlalchemy import select
from sqlalchemy.orm import Session

from tests.factories.world import World
from tests.web.test_pages_auth import sign_in
from trustdesk.insights.models import ReportSchedule

PAGE = "/console/insights/report/schedules"


def test_a_lead_adds_pauses_resumes_and_removes_a_schedule(client: TestClient, db: Session, world: World) -> None:
    token = sign_in(client, "lead")
    empty = client.get(PAGE)
    assert empty.status_code == 200 and "No report is scheduled" in empty.text

    bad = client.post(PAGE, data={"channel": "email", "recipient": "not an address", "weekday": "0", "hour": "7",
                                  "csrf_token": token})
    assert bad.status_code == 422 and "Recipient: &#39;not an address&#39; is not an e-mail address" in bad.text
    assert db.scalar(select(ReportSchedule.id)) is None

    added = client.post(PAGE, data={"channel": "email", "recipient": "ops@example.test", "market": "ES",
                                    "weekday": "1", "hour": "8", "csrf_token": token}, follow_redirects=False)
    assert added.status_code == 303
    row = db.scalars(select(ReportSchedule)).one()
    assert (row.market, row.recipient, row.weekday, row.hour, row.active) == ("ES", "ops@example.test", 1, 8, True)
    listed = client.get(PAGE).text
    assert "Every Tuesday at 08:00 UTC, by e-mail to ops@example.test" in listed

    assert client.post(f"{PAGE}/{row.id}/pause", data={"csrf_token": token}).status_code == 200
    db.refresh(row)
    assert row.active is False
    client.post(f"{PAGE}/{row.id}/resume", data={"csrf_token": token})
    db.refresh(row)
    assert row.active is True
    client.post(f"{PAGE}/{row.id}/remove", data={"csrf_token": token})
    db.expire_all()
    assert db.scalar(select(ReportSchedule.id)) is None


def test_readers_see_the_schedules_and_cannot_change_them(client: TestClient, world: World) -> None:
    token = sign_in(client, "qa")  # insights.read, not insights.admin
    page = client.get(PAGE)
    assert page.status_code == 200 and "Add a schedule" not in page.text
    assert client.post(PAGE, data={"channel": "email", "recipient": "a@example.test",
                                   "csrf_token": token}).status_code == 403
    client.cookies.clear()
    sign_in(client, "agent_t1")
    assert client.get(PAGE).status_code == 403
