"""The help center and the internal request form over HTTP: own cases only, no internal notes,
escaped text, submitting, replying, and data-driven request forms."""

from __future__ import annotations

import re
from datetime import UTC, datetime

from fastapi.testclient import TestClient
from sqlalchemy.orm import Session

from tests.factories.api import customer_case, fresh_case, row_counts
from tests.factories.world import World
from tests.web.test_pages_auth import sign_in
from trustdesk.cases.models import Case, RequestType

XSS = "<script>alert(1)</script>"
NOTE = "INTERNAL: customer has a fraud flag, do not refund"


def _note(client: TestClient, world: World, case_id: int, body: str = NOTE) -> None:
    response = client.post(f"/api/v1/cases/{case_id}/notes", headers=world.auth("agent_t1"), json={"body": body})
    assert response.status_code == 201, response.text


def test_the_help_center_is_open_to_anyone(client: TestClient, world: World) -> None:
    page = client.get("/help?market=ES")

    assert page.status_code == 200
    assert "Sign in to contact support" in page.text and "Spain" in page.text
    assert "Spanish, English" in page.text


def test_a_customer_sees_only_their_own_cases(client: TestClient, world: World) -> None:
    mine = customer_case(client, world, "buyer", subject="My own parcel")
    theirs = customer_case(client, world, "buyer2", subject="Somebody else's parcel")
    sign_in(client, "buyer")

    listing = client.get("/help/cases").text

    assert mine["reference"] in listing and "My own parcel" in listing
    assert theirs["reference"] not in listing and "Somebody else" not in listing
    assert client.get(f"/help/cases/{theirs['reference']}").status_code == 404
    assert client.get(f"/help/cases/{mine['reference'].lower()}").status_code == 200


def test_a_customer_never_sees_internal_notes_teams_or_queues(client: TestClient, world: World) -> None:
    case = customer_case(client, world)
    _note(client, world, case["id"])
    sign_in(client, "buyer")

    page = client.get(f"/help/cases/{case['reference']}").text

    assert "My order 1234 has not arrived" in page
    for hidden in (NOTE, "fraud flag", world.queue_a.name, world.t1_a.name, "Internal note", "case.created"):
        assert hidden not in page, hidden


def test_message_html_is_escaped_in_the_help_center(client: TestClient, world: World) -> None:
    case = customer_case(client, world, subject=f"Parcel {XSS}", body=f"Hello\n{XSS}")
    sign_in(client, "buyer")

    page = client.get(f"/help/cases/{case['reference']}").text
    listing = client.get("/help/cases").text

    assert XSS not in page and XSS not in listing
    assert "Hello\n&lt;script&gt;alert(1)&lt;/script&gt;" in page


def test_submitting_a_case_confirms_the_reference(client: TestClient, world: World, db: Session) -> None:
    token = sign_in(client, "buyer")
    form = client.get("/help/new?market=us").text
    assert '<option value="US" selected>' in form

    response = client.post("/help/new", data={"market": "US", "subject": "Lost parcel",
                                              "body": "It never came.", "csrf_token": token}, follow_redirects=False)

    assert response.status_code == 303
    reference = re.fullmatch(r"/help/cases/(ID-\d{4}-\d+)\?notice=case_created", response.headers["location"])
    assert reference
    case = db.query(Case).filter_by(reference=reference.group(1)).one()
    assert (case.channel, case.subject) == ("web_form", "Lost parcel")
    confirmation = client.get(response.headers["location"]).text
    assert "we have received your request" in confirmation and reference.group(1) in confirmation


def test_a_refused_submission_keeps_what_was_typed(client: TestClient, world: World, db: Session) -> None:
    token = sign_in(client, "buyer")
    before = row_counts(db)

    no_market = client.post("/help/new", data={"market": "", "subject": "Lost", "body": "Typed text",
                                               "csrf_token": token})
    no_subject = client.post("/help/new", data={"market": "US", "subject": " ", "body": "Typed text",
                                                "csrf_token": token})

    assert no_market.status_code == no_subject.status_code == 422
    assert 'id="f-market-error"' in no_market.text and 'id="f-subject-error"' in no_subject.text
    assert "Typed text" in no_subject.text
    assert row_counts(db) == before


def test_a_customer_reply_reopens_a_solved_case(client: TestClient, world: World, db: Session) -> None:
    case = customer_case(client, world)
    solved = client.post(f"/api/v1/cases/{case['id']}/messages", headers=world.auth("agent_t1"),
                         json={"body": "Refund issued.", "status": "solved"})
    assert solved.status_code == 201, solved.text
    token = sign_in(client, "buyer")
    page = client.get(f"/help/cases/{case['reference']}").text
    assert "Still need help? Reply to reopen" in page and "Refund issued." in page

    response = client.post(f"/help/cases/{case['reference']}/reply", data={"body": "Not received yet",
                                                                           "csrf_token": token},
                           follow_redirects=False)
    empty = client.post(f"/help/cases/{case['reference']}/reply", data={"body": "", "csrf_token": token})

    assert response.status_code == 303
    assert fresh_case(db, case["id"]).status == "open"
    assert empty.status_code == 422 and 'id="f-body-error"' in empty.text


def test_a_closed_case_offers_a_new_case_instead_of_a_reply(client: TestClient, world: World) -> None:
    case = customer_case(client, world)
    for status in ("solved", "closed"):
        changed = client.post(f"/api/v1/cases/{case['id']}/status", headers=world.auth("agent_t1"),
                              json={"status": status})
        assert changed.status_code == 200, changed.text
    token = sign_in(client, "buyer")

    page = client.get(f"/help/cases/{case['reference']}").text
    refused = client.post(f"/help/cases/{case['reference']}/reply", data={"body": "hello?", "csrf_token": token})

    assert "This case is closed" in page and 'href="/help/new"' in page and "/reply" not in page
    assert refused.status_code == 409 and "please open a new case" in refused.text


def test_agents_do_not_post_customer_messages_through_the_help_center(client: TestClient, world: World) -> None:
    case = customer_case(client, world)
    token = sign_in(client, "admin")

    assert client.get("/help/cases").status_code == 200
    assert client.get(f"/help/cases/{case['reference']}").status_code == 404
    assert client.post(f"/help/cases/{case['reference']}/reply",
                       data={"body": "x", "csrf_token": token}).status_code == 404


# ---------------------------------------------------------------- internal requests


def _request_type(db: Session, world: World) -> RequestType:
    request_type = RequestType(
        key="refund-exception", name="Refund exception", description="Approve a refund outside policy.",
        queue_id=world.queue_internal.id, is_active=True, created_at=datetime(2026, 3, 1, tzinfo=UTC), fields=[
            {"key": "order_id", "label": "Order number", "type": "text", "required": True, "help": "e.g. 1234"},
            {"key": "amount", "label": "Amount", "type": "number", "required": True},
            {"key": "currency", "label": "Currency", "type": "select", "required": True,
             "options": ["USD", "EUR"]},
            {"key": "due", "label": "Needed by", "type": "date"},
            {"key": "why", "label": "Why", "type": "textarea", "required": True},
        ])
    db.add(request_type)
    db.commit()
    return request_type


def test_the_internal_request_form_is_built_from_the_type(client: TestClient, world: World, db: Session) -> None:
    _request_type(db, world)
    sign_in(client, "internal_requester")

    choose = client.get("/internal/requests/new").text
    form = client.get("/internal/requests/new?type=refund-exception").text

    assert "Refund exception" in choose and 'name="fields.order_id"' not in choose
    assert 'id="f-fields-order_id" name="fields.order_id" type="text" value="" required' in form
    assert 'name="fields.amount" type="number"' in form and 'name="fields.due" type="date"' in form
    assert '<option value="EUR">EUR</option>' in form
    assert '<textarea id="f-fields-why" name="fields.why"' in form
    assert 'id="f-fields-order_id-hint">e.g. 1234' in form


def test_filing_an_internal_request_names_the_bad_field_then_files(client: TestClient, world: World,
                                                                    db: Session) -> None:
    _request_type(db, world)
    token = sign_in(client, "internal_requester")
    data = {"request_type": "refund-exception", "market": "US", "priority": "high", "subject": "Refund order 42",
            "body": "Please approve", "fields.order_id": "42", "fields.amount": "lots", "fields.currency": "USD",
            "fields.why": "Courier lost it", "csrf_token": token}

    refused = client.post("/internal/requests/new", data=data)
    filed = client.post("/internal/requests/new", data=data | {"fields.amount": "12.50"}, follow_redirects=False)

    assert refused.status_code == 422
    assert 'id="f-fields-amount-error">Amount must be a number' in refused.text
    assert 'value="Refund order 42"' in refused.text
    assert filed.status_code == 303
    reference = filed.headers["location"].split("/")[-1].split("?")[0]
    case = db.query(Case).filter_by(reference=reference).one()
    assert (case.channel, case.priority, case.queue_id) == ("internal_form", "high", world.queue_internal.id)
    assert case.custom_fields == {"order_id": "42", "amount": 12.5, "currency": "USD", "why": "Courier lost it"}
    page = client.get(filed.headers["location"]).text
    assert "Your request was filed." in page and "Order number" in page


def test_the_internal_request_form_needs_the_permission(client: TestClient, world: World) -> None:
    sign_in(client, "buyer")

    assert client.get("/internal/requests/new").status_code == 403
