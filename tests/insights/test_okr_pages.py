"""The OKR console pages: the list with each key result's live progress, the form that sets an objective up and
changes it (errors next to their fields, what was typed kept), archiving and restoring, and the denials.
The seeded history is ``tests.insights.history``: in March so far (16 March 09:00), CSAT 3 of 4.
"""

from __future__ import annotations

import re
from datetime import date
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy.orm import Session

from tests.factories.directory import make_agent
from tests.factories.identity import make_user
from tests.factories.world import World
from tests.insights.history import NOW, History, history
from tests.web.test_pages_auth import sign_in
from trustdesk.core.clock import FrozenClock
from trustdesk.core.permissions import Role
from trustdesk.insights import okrs
from trustdesk.insights.models import KeyResult, Objective
from trustdesk.insights.okrs import KeyResultSpec

__all__ = ["history"]  # the fixture

PAGE = "/console/insights/okrs"


@pytest.fixture
def seeded(db: Session, history: History, clock: FrozenClock) -> History:
    db.commit()
    clock.set(NOW)
    return history


def form(token: str, **fields: str) -> dict[str, str]:
    """The new-objective form with one key result row filled in and one left empty."""
    base = {"csrf_token": token, "title": "Buyers are happier", "description": "", "owner_user_id": "",
            "period_start": "2026-03-01", "period_end": "2026-03-31", "rows": "2",
            "kr-0-id": "", "kr-0-title": "CSAT reaches 90%", "kr-0-metric": "csat", "kr-0-direction": "",
            "kr-0-target": "90%", "kr-0-baseline": "0.5", "kr-0-market": "", "kr-0-team": "", "kr-0-tier": "",
            "kr-0-channel": "", "kr-0-topic": "",
            **{f"kr-1-{name}": "" for name in ("id", "title", "metric", "direction", "target", "baseline", "market",
                                               "team", "tier", "channel", "topic")}}
    return base | fields


def test_the_list_shows_each_objective_and_its_key_results_progress(client: TestClient, db: Session, world: World,
                                                                    seeded: History) -> None:
    made = okrs.create_objective(db, title="Buyers are happier", period_start=date(2026, 3, 1),
                                 period_end=date(2026, 3, 31), owner_user_id=world.users["lead"].id, now=NOW,
                                 key_results=[KeyResultSpec(title="CSAT <b>reaches</b> 90%", metric="csat",
                                                            target=0.9, baseline=0.5,
                                                            filters={"team": str(world.t1_a.id)})])
    db.commit()
    sign_in(client, "qa")
    page = client.get(PAGE)
    assert page.status_code == 200, page.text
    html = page.text
    assert f'id="objective-{made.id}"' in html and "Buyers are happier" in html
    assert "01 Mar to 31 Mar 2026" in html and f"owner {world.users['lead'].display_name}" in html
    assert "CSAT &lt;b&gt;reaches&lt;/b&gt; 90%" in html  # typed text stays text
    # Team T1 Vendor A's cases: C1 5, C2 2 -> 1 of 2 = 50%; (0.5 - 0.5) / (0.9 - 0.5) = 0.
    assert "team T1 Vendor A" in html and "50.0% → <strong>50.0%</strong> → 90.0%" in html
    assert re.search(r'<progress max="100" value="0" aria-label="CSAT &lt;b&gt;reaches&lt;/b&gt; 90%: 0% of the way '
                     r'from 50.0% to 90.0%, with 50% of the period elapsed">', html)
    assert '<span class="badge status-open">Off track</span>' in html
    assert 'aria-current="page">OKRs</a>' in html  # the insight sub-navigation
    assert "/edit" not in html and "New objective" not in html  # reading is not changing

    client.cookies.clear()
    sign_in(client, "lead")
    html = client.get(PAGE).text
    assert f'href="{PAGE}/{made.id}/edit"' in html and f'action="{PAGE}/{made.id}/archive"' in html
    overview = client.get("/console/insights").text  # the overview shows the same objectives
    assert f'id="objective-{made.id}"' in overview and "Off track" in overview


def test_set_an_objective_through_the_form(client: TestClient, db: Session, world: World, seeded: History) -> None:
    token = sign_in(client, "lead")
    blank = client.get(f"{PAGE}/new")
    assert blank.status_code == 200, blank.text
    html = blank.text
    assert 'name="csrf_token"' in html and 'value="2026-01-01"' in html and 'value="2026-03-31"' in html  # Q1
    assert '<option value="csat">CSAT</option>' in html and '<option value="first_reply_median">' in html
    assert '<label for="f-kr-0-metric">Metric</label>' in html and 'id="f-kr-0-market"' in html
    assert "Good ratings (4 or 5)" in html  # each metric's definition, once

    done = client.post(PAGE, data=form(token, owner_user_id=str(world.users["lead"].id)), follow_redirects=False)
    assert done.status_code == 303, done.text
    made = db.query(Objective).one()
    assert done.headers["location"] == f"{PAGE}?notice=okr_created#objective-{made.id}"
    kr = db.query(KeyResult).filter_by(objective_id=made.id).one()  # the empty row added nothing
    assert (kr.metric, kr.target, kr.baseline, kr.direction, kr.filters) == ("csat", 0.9, 0.5, "at_least", {})
    after = client.get(done.headers["location"]).text
    assert "Objective set" in after and "75.0%" in after  # CSAT 3 of 4 in March so far


def test_the_form_shows_each_error_next_to_its_field_and_keeps_what_was_typed(
        client: TestClient, db: Session, world: World, seeded: History) -> None:
    token = sign_in(client, "lead")
    bad_filter = client.post(PAGE, data=form(token, **{
        "kr-1-title": "Deflect more", "kr-1-metric": "deflection_rate", "kr-1-target": "0.4",
        "kr-1-team": str(world.t2.id)}))
    assert bad_filter.status_code == 422
    html = bad_filter.text
    assert 'id="f-kr-1-team-error"' in html and "cannot be filtered by team" in html
    assert 'href="#f-kr-1-team"' in html  # the summary links to the field
    assert 'value="Deflect more"' in html and 'value="Buyers are happier"' in html
    for fields, field_id in (({"kr-0-metric": "speed"}, "f-kr-0-metric"),
                             ({"kr-0-target": "150%"}, "f-kr-0-target"),
                             ({"kr-0-target": "lots"}, "f-kr-0-target"),
                             ({"kr-0-baseline": "0.95"}, "f-kr-0-baseline"),
                             ({"kr-0-market": "ZZ"}, "f-kr-0-market"),
                             ({"period_end": "2026-02-01"}, "f-period_end"),
                             ({"period_start": "soon"}, "f-period_start"),
                             ({"title": " "}, "f-title"),
                             ({"owner_user_id": str(world.users["buyer"].id)}, "f-owner_user_id")):
        response = client.post(PAGE, data=form(token, **fields))
        assert response.status_code == 422, (fields, response.status_code)
        assert f'id="{field_id}-error"' in response.text, fields
        assert 'aria-invalid="true"' in response.text
    assert db.query(Objective).count() == 0
    # Without the form's token the write is refused.
    assert client.post(PAGE, data=form("stale")).status_code == 403


def test_edit_remove_and_add_key_results_then_archive_and_restore(client: TestClient, db: Session, world: World,
                                                                   seeded: History) -> None:
    made = okrs.create_objective(db, title="Buyers are happier", period_start=date(2026, 3, 1),
                                 period_end=date(2026, 3, 31), now=NOW, key_results=[
                                     KeyResultSpec(title="CSAT", metric="csat", target=0.9),
                                     KeyResultSpec(title="Reopens", metric="reopen_rate", target=0.1)])
    db.commit()
    csat_id, reopens_id = (k.id for k in okrs.key_results_of(db, [made.id])[made.id])
    token = sign_in(client, "lead")
    edit = client.get(f"{PAGE}/{made.id}/edit")
    assert edit.status_code == 200, edit.text
    assert f'name="kr-0-id" value="{csat_id}"' in edit.text and 'name="rows" value="4"' in edit.text
    assert 'name="kr-1-remove"' in edit.text and 'value="0.9"' in edit.text

    def save(**fields: str) -> Any:
        data = form(token, title="Buyers are much happier", rows="3", **{
            "kr-0-id": str(csat_id), "kr-0-title": "CSAT", "kr-0-metric": "csat", "kr-0-target": "0.8",
            "kr-0-baseline": "", "kr-0-market": "ES",
            "kr-1-id": str(reopens_id), "kr-1-title": "Reopens", "kr-1-metric": "reopen_rate", "kr-1-target": "0.1",
            "kr-1-remove": "1",
            "kr-2-id": "", "kr-2-title": "Faster first replies", "kr-2-metric": "first_reply_median",
            "kr-2-direction": "at_most", "kr-2-target": "60", "kr-2-baseline": "240", "kr-2-market": "",
            "kr-2-team": "", "kr-2-tier": "", "kr-2-channel": "", "kr-2-topic": ""} | fields)
        return client.post(f"{PAGE}/{made.id}", data=data, follow_redirects=False)

    refused = save(**{"kr-2-baseline": "30"})  # at most 60 from 30: the baseline is on the wrong side
    assert refused.status_code == 422 and 'id="f-kr-2-baseline-error"' in refused.text
    db.expire_all()
    assert db.get(Objective, made.id).title == "Buyers are happier"  # type: ignore[union-attr]
    assert db.query(KeyResult).filter_by(objective_id=made.id).count() == 2  # nothing half-written

    done = save()
    assert done.status_code == 303, done.text
    db.expire_all()
    rows = db.query(KeyResult).filter_by(objective_id=made.id).order_by(KeyResult.position).all()
    assert [(k.title, k.target, k.filters) for k in rows] == [("CSAT", 0.8, {"market": "ES"}),
                                                              ("Faster first replies", 60.0, {})]
    assert db.get(Objective, made.id).title == "Buyers are much happier"  # type: ignore[union-attr]
    assert "Saved" in client.get(done.headers["location"]).text

    archived = client.post(f"{PAGE}/{made.id}/archive", data={"csrf_token": token}, follow_redirects=False)
    assert archived.status_code == 303
    listing = client.get(archived.headers["location"]).text
    assert "Archived: it has left the list" in listing and f'id="objective-{made.id}"' not in listing
    shown = client.get(PAGE, params={"archived": 1}).text
    assert f'id="objective-{made.id}"' in shown and f'action="{PAGE}/{made.id}/restore"' in shown
    assert save().status_code == 409  # archived: restore it first
    restored = client.post(f"{PAGE}/{made.id}/restore", data={"csrf_token": token}, follow_redirects=False)
    assert restored.status_code == 303 and f'id="objective-{made.id}"' in client.get(PAGE).text


def test_reading_needs_insights_read_and_changing_insights_admin_in_house(
        client: TestClient, db: Session, world: World, clock: FrozenClock) -> None:
    made = okrs.create_objective(db, title="Buyers are happier", period_start=date(2026, 3, 1),
                                 period_end=date(2026, 3, 31), now=clock.now())
    vendor_lead = make_user(db, Role.LEAD, now=clock.now(), email="vendor.lead@example.test", name="Vendor Lead")
    make_agent(db, vendor_lead, now=clock.now(), teams=[world.t1_a], vendor=world.vendor_a)
    db.commit()
    anonymous = client.get(PAGE, follow_redirects=False)
    assert anonymous.status_code == 303 and "/login" in anonymous.headers["location"]
    changes = [f"{PAGE}/new", f"{PAGE}/{made.id}/edit"]
    posts = [PAGE, f"{PAGE}/{made.id}", f"{PAGE}/{made.id}/archive", f"{PAGE}/{made.id}/restore"]
    for who in ("vendor.lead", "agent_t1", "buyer"):
        token = sign_in(client, who)
        assert client.get(PAGE).status_code == 403, who
        for path in changes:
            assert client.get(path).status_code == 403, (who, path)
        for path in posts:
            assert client.post(path, data={"csrf_token": token}).status_code == 403, (who, path)
        client.cookies.clear()
    token = sign_in(client, "qa")  # reads, but does not change
    assert client.get(PAGE).status_code == 200
    for path in changes:
        assert client.get(path).status_code == 403, path
    for path in posts:
        assert client.post(path, data={"csrf_token": token}).status_code == 403, path
    db.expire_all()
    assert db.get(Objective, made.id).archived is False  # type: ignore[union-attr]
