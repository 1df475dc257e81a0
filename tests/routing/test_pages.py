"""The routing console: the quality report, rules (draft from YAML, simulate, publish), models
(activate, roll back) and each user's notifications; who may see and do what."""

from __future__ import annotations

import re
from typing import Any

from fastapi.testclient import TestClient
from markupsafe import escape
from sqlalchemy import select
from sqlalchemy.orm import Session

from tests.factories.directory import make_agent
from tests.factories.identity import make_user
from tests.factories.routing import import_topics, seed_history, train
from tests.factories.world import World
from tests.web.test_pages_auth import sign_in
from trustdesk.core.clock import FrozenClock
from trustdesk.core.notifications import Notification, notify
from trustdesk.core.permissions import Role
from trustdesk.routing import registry, service

RULES_YAML = """\
- id: orders-us-to-t2
  name: US orders go to T2
  when:
    - {field: topic, op: under, value: orders}
    - {field: market, op: eq, value: US}
  then: {team: t2}
  stop: true
"""


def _stat(page: str, label: str) -> str:
    found = re.search(rf"<dt>{re.escape(label)}</dt><dd>([^<]*)</dd>", page)
    assert found, f"no figure {label!r}"
    return found.group(1)


# ---------------------------------------------------------------- the quality report


def test_the_quality_page_shows_the_figures_causes_and_recovery_plan(client: TestClient, world: World,
                                                                    history: dict[str, Any]) -> None:
    sign_in(client, "qa")
    page = client.get("/console/routing")
    assert page.status_code == 200, page.text
    text = page.text
    assert "<h1>Routing quality</h1>" in text
    assert _stat(text, "Misroute rate") == "62.5%" and _stat(text, "Routed") == "8"
    assert _stat(text, "Misrouted") == "5" and _stat(text, "Hops per case") == "0.75"
    assert _stat(text, "Median to final team") == "4.0 h" and _stat(text, "Hours lost") == "10.0 h"
    assert _stat(text, "Triaged") == "0"
    # The top cause (the orders entry: its title is the report's) first, with its example cases as text.
    report = client.get("/api/v1/routing/report?days=28", headers=world.auth("qa")).json()
    top_cause = report["causes"][0]
    assert top_cause["key"] == f"catalogue:{history['orders']['entry_id']}:1"
    causes = text[text.index("Causes, worst first"):text.index("Recovery plan")]
    top = causes.split("<tbody>")[1].split("</tr>")[0]
    title = str(escape(top_cause["title"]))  # as Jinja escapes it
    assert title[:1].upper() + title[1:] in top
    assert all(history["refs"][c] in top for c in ("C3", "C6", "C7", "C8")) and history["refs"]["C1"] not in causes
    plan = text[text.index("Recovery plan"):text.index("Where routed cases ended")]
    assert "Give orders.delivery.late in US to t2" in plan and "<strong>+1</strong>" in plan
    # The confusion matrix is a real table: rows and columns have headers.
    matrix = text[text.index('class="table matrix"'):]
    assert '<th scope="row">t1-a</th>' in matrix and '<th scope="col" class="num team">t2</th>' in matrix
    # Navigation: Routing is current in the sidebar, Quality in the section navigation.
    assert 'href="/console/routing" aria-current="page">Routing' in text
    assert 'href="/console/routing" aria-current="page">Quality' in text
    # The period is a GET form with a labelled select, 28 days chosen.
    assert '<form method="get" action="/console/routing"' in text and '<label for="f-days">Period</label>' in text
    assert '<option value="28" selected>' in text

    recent = client.get("/console/routing", params={"days": 3}).text  # C7 and C8 only, both misrouted
    assert _stat(recent, "Misroute rate") == "100.0%" and '<option value="3" selected>' in recent


def test_without_routed_cases_the_page_says_so(client: TestClient, world: World) -> None:
    sign_in(client, "lead")
    page = client.get("/console/routing", params={"days": 7})
    assert page.status_code == 200
    assert "No routed cases in the last 7 days" in page.text and "Causes, worst first" not in page.text
    assert client.get("/console/routing", params={"days": 0}).status_code == 422
    assert client.get("/console/routing", params={"days": 366}).status_code == 422


def test_vendor_staff_customers_and_the_anonymous_are_kept_out(client: TestClient, world: World,
                                                              db: Session, clock: FrozenClock) -> None:
    pages = ("/console/routing", "/console/routing/rules", "/console/routing/models")
    anonymous = client.get("/console/routing", follow_redirects=False)
    assert anonymous.status_code == 303 and anonymous.headers["location"] == "/login?next=/console/routing"

    for who in ("agent_t1", "buyer"):
        sign_in(client, who)
        for path in pages:
            assert client.get(path).status_code == 403, (who, path)
        client.cookies.clear()
    sign_in(client, "agent_t1")
    assert 'href="/console/routing"' not in client.get("/console").text
    client.cookies.clear()

    # A lead at a vendor holds the permission, but routing names every team: in-house staff only.
    vendor_lead = make_user(db, Role.LEAD, now=clock.now(), email="vendor_lead@example.test")
    make_agent(db, vendor_lead, now=clock.now(), teams=[world.t1_a], vendor=world.vendor_a)
    db.commit()
    token = sign_in(client, "vendor_lead")
    for path in pages:
        assert client.get(path).status_code == 403, path
    assert client.post("/console/routing/rules", data={"csrf_token": token, "rules_yaml": "[]"}).status_code == 403
    assert 'href="/console/routing"' not in client.get("/console").text
    assert service.rule_sets(db) == []


# ---------------------------------------------------------------- rules


def test_an_invalid_draft_names_the_field_keeps_the_text_and_writes_nothing(client: TestClient,
                                                                           world: World, db: Session) -> None:
    import_topics(client, world)
    token = sign_in(client, "lead")
    bad = RULES_YAML.replace("team: t2", "team: nope")
    refused = client.post("/console/routing/rules", data={"csrf_token": token, "rules_yaml": bad, "note": "n"})
    assert refused.status_code == 422
    assert "In rules[0].then.team: no team &#39;nope&#39;" in refused.text
    assert 'id="f-rules_yaml-error"' in refused.text and 'aria-invalid="true"' in refused.text
    assert "team: nope" in refused.text  # what was typed comes back

    for text, message in (("- id: [unclosed", "This is not valid YAML (line "),
                          ("- &a {id: x}\n- *a", "Anchors and aliases"),
                          ("id: x", "must be a list of rules")):
        answer = client.post("/console/routing/rules", data={"csrf_token": token, "rules_yaml": text})
        assert answer.status_code == 422 and message in answer.text, (text, answer.status_code)
    assert service.rule_sets(db) == []


def test_a_draft_is_saved_simulated_and_published(client: TestClient, world: World, db: Session,
                                                  history: dict[str, Any]) -> None:
    token = sign_in(client, "lead")
    empty = client.get("/console/routing/rules").text
    assert "No rules are published" in empty and 'action="/console/routing/rules"' in empty

    saved = client.post("/console/routing/rules", data={"csrf_token": token, "rules_yaml": RULES_YAML,
                                                         "note": "orders belong to T2"}, follow_redirects=False)
    assert saved.status_code == 303, saved.text
    assert saved.headers["location"] == "/console/routing/rules?notice=draft_saved#draft-1"
    page = client.get("/console/routing/rules?notice=draft_saved").text
    assert "Draft saved." in page and 'id="draft-1"' in page and "orders belong to T2" in page
    assert [(r.version, r.status) for r in service.rule_sets(db)] == [(1, "draft")]

    simulated = client.post("/console/routing/rules/1/simulate", data={"csrf_token": token, "days": "14"})
    assert simulated.status_code == 200, simulated.text
    text = simulated.text
    assert "Draft v1 on the last 14 days" in text
    assert (_stat(text, "Cases replayed"), _stat(text, "Would change")) == ("8", "7")
    assert (_stat(text, "Misroutes fixed"), _stat(text, "Misroutes caused")) == ("4", "3")
    assert _stat(text, "Loop guard hits") == "0"
    assert '<span class="mono">orders-us-to-t2</span> on 7 cases' in text
    first = history["refs"]["C1"]
    assert re.search(rf'<a href="/console/cases/\d+">{first}</a>', text)
    assert "t1-a → <strong>t2</strong>" in text
    assert client.post("/console/routing/rules/1/simulate", data={"csrf_token": token, "days": "0"}).status_code == 422
    assert client.post("/console/routing/rules/9/simulate", data={"csrf_token": token, "days": "7"}).status_code == 404

    # Four eyes: the author cannot publish their own draft; someone else with routing.admin does.
    own = client.post("/console/routing/rules/1/publish", data={"csrf_token": token}, follow_redirects=False)
    assert own.status_code == 403 and "someone other than the draft" in own.text.lower()
    client.cookies.clear()
    token = sign_in(client, "admin")
    published = client.post("/console/routing/rules/1/publish", data={"csrf_token": token}, follow_redirects=False)
    assert published.status_code == 303
    assert published.headers["location"] == "/console/routing/rules?notice=rules_published"
    db.expire_all()
    in_force = service.published_rule_set(db)
    assert in_force is not None and in_force.version == 1 and in_force.publisher_user_id == world.users["admin"].id
    page = client.get(published.headers["location"]).text
    assert "Published: new cases are routed by this rule set" in page
    in_force_section = page[page.index("In force"):page.index("Drafts")]
    assert "orders-us-to-t2" in in_force_section and "US orders go to T2" in in_force_section
    assert "topic is under orders" in in_force_section and "market is US" in in_force_section
    assert "team → t2" in in_force_section
    assert "No drafts waiting." in page
    # The editor starts from the rules in force.
    assert "id: orders-us-to-t2" in page

    again = client.post("/console/routing/rules/1/publish", data={"csrf_token": token})
    assert again.status_code == 409 and "only a draft can be published" in again.text


def test_a_tier_2_agent_reads_the_rules_but_changes_nothing(client: TestClient, world: World, db: Session,
                                                          history: dict[str, Any]) -> None:
    lead = sign_in(client, "lead")
    client.post("/console/routing/rules", data={"csrf_token": lead, "rules_yaml": RULES_YAML})
    client.cookies.clear()

    token = sign_in(client, "agent_t2")
    page = client.get("/console/routing/rules")
    assert page.status_code == 200 and 'id="draft-1"' in page.text
    assert 'method="post"' not in page.text.split('id="main"')[1]  # the only form is the sign-out button
    assert 'action="/console/routing/rules"' not in page.text and "/publish" not in page.text
    assert "/simulate" not in page.text and "Save draft" not in page.text
    for path, data in (("/console/routing/rules", {"rules_yaml": RULES_YAML}),
                       ("/console/routing/rules/1/simulate", {"days": "14"}),
                       ("/console/routing/rules/1/publish", {}),
                       ("/console/routing/models/1/activate", {}),
                       ("/console/routing/models/rollback", {})):
        assert client.post(path, data={"csrf_token": token} | data).status_code == 403, path
    assert [(r.version, r.status) for r in service.rule_sets(db)] == [(1, "draft")]
    assert client.get("/console/routing").status_code == 200
    assert client.get("/console/routing/models").status_code == 200


# ---------------------------------------------------------------- models


def test_models_are_activated_and_a_refusal_is_shown_not_a_500(client: TestClient, world: World, db: Session,
                                                               clock: FrozenClock) -> None:
    import_topics(client, world)
    seed_history(db, world, queue=world.queue_a, now=clock.now())
    train(client, world, activate=False)
    token = sign_in(client, "lead")
    page = client.get("/console/routing/models").text
    assert "trustdesk routing train" in page and "Activate v1" in page
    assert "Roll back" not in page  # nothing is active, so there is nothing to roll back to
    accuracy = registry.model_by_version(db, 1).metrics["holdout_accuracy"]
    assert f"{accuracy * 100:.1f}%" in page

    activated = client.post("/console/routing/models/1/activate", data={"csrf_token": token},
                            follow_redirects=False)
    assert activated.status_code == 303
    assert activated.headers["location"] == "/console/routing/models?notice=model_activated"
    page = client.get(activated.headers["location"]).text
    assert "Activated: new cases are routed with this model" in page and "Routing now" in page
    db.expire_all()
    assert registry.model_by_version(db, 1).status == "active"

    again = client.post("/console/routing/models/1/activate", data={"csrf_token": token})
    assert again.status_code == 409 and "Model v1 is active already" in again.text
    assert 'class="alert alert-error"' in again.text and "<h1>Topic models</h1>" in again.text
    rollback = client.post("/console/routing/models/rollback", data={"csrf_token": token})
    assert rollback.status_code == 409 and "replaced no model" in rollback.text
    assert client.post("/console/routing/models/9/activate", data={"csrf_token": token}).status_code == 404
    db.expire_all()
    assert registry.model_by_version(db, 1).status == "active"

    client.cookies.clear()
    sign_in(client, "qa")
    read_only = client.get("/console/routing/models").text
    assert "Activate v" not in read_only and "Roll back" not in read_only and "v1" in read_only


# ---------------------------------------------------------------- notifications


def test_notifications_are_listed_unread_first_and_marked_read(client: TestClient, world: World, db: Session,
                                                               clock: FrozenClock) -> None:
    lead_id = world.users["lead"].id
    for _ in range(2):  # the second is counted on the first, not written again
        notify(db, [lead_id], kind="catalogue.gap", title="Nobody owns orders in US", now=clock.now(),
               body="A buyer's case about orders matched no entry.", link="/console/catalogue?market=US",
               dedupe_key="gap:orders:US")
    clock.advance(minutes=5)
    notify(db, [lead_id], kind="other", title="Elsewhere <b>bold</b>", body="x", link="https://evil.example/",
           now=clock.now())
    notify(db, [world.users["qa"].id], kind="other", title="For QA only", body="y", now=clock.now())
    db.commit()
    mine = {n.title: n for n in db.scalars(select(Notification).where(Notification.user_id == lead_id))}
    gap, other = mine["Nobody owns orders in US"], mine["Elsewhere <b>bold</b>"]
    token = sign_in(client, "lead")

    page = client.get("/console/notifications")
    assert page.status_code == 200
    text = page.text
    assert 'href="/console/notifications" aria-current="page"><span class="nav-count">2' in text
    assert '<a href="/console/catalogue?market=US">Nobody owns orders in US</a>' in text
    assert "repeated 1 time" in text and "For QA only" not in text
    assert "Elsewhere &lt;b&gt;bold&lt;/b&gt;" in text and "evil.example" not in text  # no link off the site
    assert text.count('class="notification unread"') == 2

    marked = client.post(f"/console/notifications/{gap.id}/read", data={"csrf_token": token},
                         follow_redirects=False)
    assert marked.status_code == 303 and marked.headers["location"] == "/console/notifications?notice=marked_read"
    db.expire_all()
    assert db.get(Notification, gap.id).read_at is not None  # type: ignore[union-attr]
    assert db.get(Notification, other.id).read_at is None  # type: ignore[union-attr]
    text = client.get("/console/notifications").text
    assert text.count('class="notification unread"') == 1 and text.count('class="notification"') == 1
    # Unread first, whatever the dates.
    assert text.index("Elsewhere") < text.index("Nobody owns orders in US")

    qa_note = db.scalar(select(Notification).where(Notification.user_id == world.users["qa"].id))
    assert qa_note is not None
    assert client.post(f"/console/notifications/{qa_note.id}/read", data={"csrf_token": token}).status_code == 404
    assert client.post("/console/notifications/read", data={"csrf_token": token},
                       follow_redirects=False).status_code == 303
    db.expire_all()
    assert db.get(Notification, other.id).read_at is not None  # type: ignore[union-attr]
    assert db.get(Notification, qa_note.id).read_at is None
    text = client.get("/console/notifications").text
    assert "Mark all read" not in text and 'class="nav-count"' not in text.split('id="nav-more"')[1].split("</ul>")[0]


def test_every_signed_in_user_has_a_notifications_page(client: TestClient, world: World) -> None:
    sign_in(client, "buyer")
    page = client.get("/console/notifications")
    assert page.status_code == 200 and "No notifications" in page.text
    assert client.post("/console/notifications/read", data={}).status_code == 403  # no CSRF token
