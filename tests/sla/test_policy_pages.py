"""The console's SLA policies: the list in the order policies are tried (targets in words), the form that
adds or edits one (errors next to their field), who may see and change them, and what an edit does: new
cases get the new version, open cases keep their due times."""

from __future__ import annotations

import re
from datetime import timedelta
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select
from sqlalchemy.orm import Session

from tests.conftest import START
from tests.factories.api import intake_case
from tests.factories.world import World
from tests.web.test_pages_auth import sign_in
from trustdesk.core.clock import FrozenClock
from trustdesk.sla.models import SlaPolicy, SlaTimer
from trustdesk.sla.pages import duration_words

ALL = ("low", "normal", "high", "urgent")
STANDARD = {"key": "standard", "name": "Standard", "is_default": True, "targets": {
    p: {"first_reply": {"minutes": 60}, "resolution": {"minutes": 2880, "business": False}} for p in ALL}}
VIP = {"key": "vip-urgent", "name": "VIP urgent", "position": 10, "warn_minutes_before": 10,
       "conditions": {"markets": ["US"], "priorities": ["urgent"], "channels": ["api", "email"]},
       "targets": {"urgent": {"first_reply": {"minutes": 30, "business": False}}}}


@pytest.fixture
def policies(client: TestClient, world: World) -> None:
    for body in (STANDARD, VIP):
        response = client.post("/api/v1/sla/policies", headers=world.auth("admin"), json=body)
        assert response.status_code == 201, response.text


def _form(page: str) -> dict[str, Any]:
    """The edit form as the browser would send it: text inputs, selected options and ticked boxes."""
    data: dict[str, Any] = {}
    for tag in re.findall(r"<input [^>]*>", page):
        name = re.search(r'name="([^"]+)"', tag)
        if not name:
            continue
        value = re.search(r'value="([^"]*)"', tag)
        kind = re.search(r'type="([^"]+)"', tag)
        if kind and kind.group(1) == "checkbox" and " checked" not in tag:
            continue
        data.setdefault(name.group(1), []).append(value.group(1) if value else "")
    for name, body in re.findall(r'<select id="[^"]+" name="([^"]+)"[^>]*>(.*?)</select>', page, flags=re.S):
        chosen = re.search(r'<option value="([^"]*)" selected>', body)
        data[name] = [chosen.group(1) if chosen else ""]
    return data


def test_duration_words() -> None:
    assert [duration_words(m) for m in (45, 60, 90, 2880)] == ["45 min", "1 h", "1 h 30 min", "48 h"]


def test_the_list_shows_policies_in_order_with_their_targets_in_words(client: TestClient, world: World,
                                                                      policies: None) -> None:
    sign_in(client, "agent_t1")  # a vendor's agent reads the targets they work to
    page = client.get("/console/sla/policies")
    assert page.status_code == 200, page.text
    text = page.text
    assert '<a href="/console/sla/policies" aria-current="page">Service levels</a>' in text
    assert text.index("VIP urgent") < text.index("Standard")  # tried first; the default catches the rest
    assert "first reply 30 min 24x7" in text
    assert "<dt>Every priority</dt><dd>first reply 1 h business · resolution 48 h 24x7</dd>" in text
    assert "market is US" in text and "priority is urgent" in text and "channel is API or E-mail" in text
    assert "warning 10 min before due" in text and "warning at 75% of the target" in text
    assert "paused while waiting on the customer" in text
    assert '<span class="badge status-solved">Default</span>' in text and "v1" in text
    assert "every case no other policy takes" in text
    assert "/edit" not in text and "Add a policy" not in text  # reading only


def test_an_empty_list_says_what_to_do(client: TestClient, world: World) -> None:
    sign_in(client, "admin")
    text = client.get("/console/sla/policies").text
    assert "No SLA policies yet" in text and 'href="/console/sla/policies/new"' in text


def test_an_admin_edits_a_target_and_sees_the_new_version(client: TestClient, world: World, db: Session,
                                                          policies: None) -> None:
    sign_in(client, "admin")
    listing = client.get("/console/sla/policies").text
    assert 'href="/console/sla/policies/standard/edit"' in listing
    page = client.get("/console/sla/policies/standard/edit")
    assert page.status_code == 200
    text = page.text
    assert '<label class="visually-hidden" for="f-targets-normal-first_reply">Normal, first reply: minutes</label>' \
        in text
    assert '<label for="f-name">Name' in text and 'for="f-warn_minutes_before"' in text
    assert "saving makes version 2" in text
    form = _form(text)
    assert form["targets.normal.first_reply.minutes"] == ["60"] and form["targets.normal.first_reply.business"]
    form["targets.normal.first_reply.minutes"] = ["30"]
    form["warn_minutes_before"] = ["5"]
    saved = client.post("/console/sla/policies/standard/edit", data=form, follow_redirects=False)
    assert saved.status_code == 303, saved.text
    after = client.get(saved.headers["location"]).text
    assert "Version 2 saved: new cases get these terms; open cases keep theirs." in after
    assert "<dt>Normal</dt><dd>first reply 30 min business · resolution 48 h 24x7</dd>" in after
    assert "<dt>Low, high, urgent</dt><dd>first reply 1 h business · resolution 48 h 24x7</dd>" in after
    db.expire_all()
    row = db.scalar(select(SlaPolicy).where(SlaPolicy.key == "standard"))
    assert row is not None and row.version == 2 and row.warn_minutes_before == 5
    assert row.targets["low"]["first_reply"] == {"minutes": 60, "business": True}  # untouched cells stay


@pytest.mark.parametrize(("change", "field_id", "message"), [
    ({"targets.normal.first_reply.minutes": ["0"]}, "f-targets-normal-first_reply-error", "greater than or equal to 1"),
    ({"targets.low.first_reply.minutes": [""], "targets.low.resolution.minutes": [""]}, "f-targets-low-error",
     "the default policy needs targets for every priority"),
    ({"warn_fraction": ["1.5"]}, "f-warn_fraction-error", "less than 1"),
    ({"is_default": []}, "f-is_default-error", "the default policy stays the default"),
    ({"name": [""]}, "f-name-error", "at least 1 character"),
])
def test_a_refused_edit_shows_the_error_next_to_its_field(client: TestClient, world: World, db: Session,
                                                          policies: None, change: dict[str, Any], field_id: str,
                                                          message: str) -> None:
    sign_in(client, "admin")
    form = _form(client.get("/console/sla/policies/standard/edit").text) | change
    response = client.post("/console/sla/policies/standard/edit", data=form)
    assert response.status_code in (409, 422), response.text
    error = re.search(rf'<p class="field-error" id="{field_id}">([^<]+)</p>', response.text)
    assert error and message in error.group(1).lower(), response.text[-3000:]
    assert 'role="alert"' in response.text  # the summary at the top of the form
    db.expire_all()
    assert db.scalar(select(SlaPolicy.version).where(SlaPolicy.key == "standard")) == 1  # nothing saved


def test_an_unknown_calendar_is_refused_by_the_service_next_to_the_field(client: TestClient, world: World,
                                                                         policies: None) -> None:
    token = sign_in(client, "admin")
    form = _form(client.get("/console/sla/policies/standard/edit").text)
    # The select offers only real calendars; a forged value gets the service's answer.
    response = client.post("/console/sla/policies/standard/edit", data=form | {"calendar_key": ["mars-base"],
                                                                               "csrf_token": [token]})
    assert response.status_code == 422
    assert re.search(r'<p class="field-error" id="f-calendar_key-error">Calendar &#39;mars-base&#39; does not exist',
                     response.text)


def test_an_admin_adds_a_policy(client: TestClient, world: World, db: Session, policies: None) -> None:
    sign_in(client, "admin")
    form = _form(client.get("/console/sla/policies/new").text)
    form |= {"key": ["gb-sellers"], "name": ["GB sellers"], "position": ["20"], "conditions.markets": ["gb"],
             "conditions.party_kinds": ["seller"], "targets.high.first_reply.minutes": ["90"]}
    form.pop("targets.high.first_reply.business", None)  # round the clock
    saved = client.post("/console/sla/policies/new", data=form, follow_redirects=False)
    assert saved.status_code == 303, saved.text
    assert "Version 1 saved" in client.get(saved.headers["location"]).text
    row = db.scalar(select(SlaPolicy).where(SlaPolicy.key == "gb-sellers"))
    assert row is not None and row.conditions == {"markets": ["GB"], "party_kinds": ["seller"]}
    assert row.targets == {"high": {"first_reply": {"minutes": 90, "business": False}}}
    again = client.post("/console/sla/policies/new", data=form)
    assert again.status_code == 409 and re.search(r'id="f-key-error">SLA policy &#39;gb-sellers&#39; exists',
                                                  again.text)


@pytest.mark.parametrize(("who", "path", "method"), [
    ("agent_t1", "/console/sla/policies/standard/edit", "POST"),
    ("agent_t1", "/console/sla/policies/standard/edit", "GET"),
    ("lead", "/console/sla/policies/new", "GET"),
    ("lead", "/console/sla/policies/new", "POST"),
    ("buyer", "/console/sla/policies", "GET"),
])
def test_only_directory_admins_change_policies(client: TestClient, world: World, db: Session, policies: None,
                                               who: str, path: str, method: str) -> None:
    token = sign_in(client, who)
    response = client.request(method, path, data={"csrf_token": token, "name": "Hijacked"} if method == "POST"
                              else None)
    assert response.status_code == 403
    db.expire_all()
    assert db.scalar(select(SlaPolicy.version).where(SlaPolicy.key == "standard")) == 1


def test_after_an_edit_open_cases_keep_their_due_times_and_new_cases_get_the_new_ones(
        client: TestClient, world: World, db: Session, clock: FrozenClock) -> None:
    body = STANDARD | {"targets": {p: {"first_reply": {"minutes": 60, "business": False}} for p in ALL}}
    assert client.post("/api/v1/sla/policies", headers=world.auth("admin"), json=body).status_code == 201
    older = intake_case(client, world, external_id="older")
    sign_in(client, "admin")
    form = _form(client.get("/console/sla/policies/standard/edit").text)
    form["targets.normal.first_reply.minutes"] = ["15"]
    assert client.post("/console/sla/policies/standard/edit", data=form, follow_redirects=False).status_code == 303
    clock.advance(minutes=5)
    newer = intake_case(client, world, external_id="newer")

    def due(case_id: int) -> Any:
        db.expire_all()
        return db.scalar(select(SlaTimer.due_at).where(SlaTimer.case_id == case_id,
                                                       SlaTimer.metric == "first_reply"))

    assert due(older["id"]) == START + timedelta(minutes=60)
    assert due(newer["id"]) == START + timedelta(minutes=20)
    older_page = client.get(f"/console/cases/{older['id']}").text
    newer_page = client.get(f"/console/cases/{newer['id']}").text
    assert "standard v1" in older_page and "in 55m" in older_page
    assert "standard v2" in newer_page and "in 15m" in newer_page
