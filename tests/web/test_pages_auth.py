"""Signing in and out of the console and help center, CSRF on every form, the home redirect."""

from __future__ import annotations

import re

import pytest
from fastapi.testclient import TestClient
from sqlalchemy.orm import Session

from tests.factories.api import customer_case, events_of
from tests.factories.identity import PASSWORD
from tests.factories.world import World

CSRF_INPUT = re.compile(r'name="csrf_token" value="([^"]+)"')


def csrf_from(html: str) -> str:
    match = CSRF_INPUT.search(html)
    assert match, "the page has no CSRF field"
    return match.group(1)


def sign_in(client: TestClient, who: str, *, password: str = PASSWORD) -> str:
    """Sign ``who`` (a world role, e.g. ``agent_t1``) in through the login form; returns the CSRF token."""
    token = csrf_from(client.get("/login").text)
    response = client.post("/login", data={"email": f"{who}@example.test", "password": password,
                                           "csrf_token": token}, follow_redirects=False)
    assert response.status_code == 303, response.text
    return client.cookies["td_csrf"]


def test_login_page_has_labelled_fields_and_a_csrf_token(client: TestClient) -> None:
    page = client.get("/login")

    assert page.status_code == 200
    assert '<label for="f-email">' in page.text and '<label for="f-password">' in page.text
    assert csrf_from(page.text) == client.cookies["td_csrf"]
    assert 'id="alerts"' in page.text and 'aria-live="polite"' in page.text
    assert 'href="#main"' in page.text  # the skip link


def test_signing_in_sets_an_httponly_lax_session_cookie_and_goes_home(client: TestClient, world: World) -> None:
    token = csrf_from(client.get("/login").text)

    response = client.post("/login", data={"email": "AGENT_T1@example.test ", "password": PASSWORD,
                                           "csrf_token": token}, follow_redirects=False)

    assert response.status_code == 303
    assert response.headers["location"] == "/console"
    cookie = next(c for c in response.headers.get_list("set-cookie") if c.startswith("td_session="))
    assert "HttpOnly" in cookie and "SameSite=lax" in cookie and "Max-Age=43200" in cookie
    assert client.get("/console").status_code == 200


def test_a_wrong_password_gets_401_without_saying_which_part_was_wrong(client: TestClient, world: World) -> None:
    token = csrf_from(client.get("/login").text)

    wrong_password = client.post("/login", data={"email": "agent_t1@example.test", "password": "nope-nope-nope",
                                                 "csrf_token": token})
    unknown_user = client.post("/login", data={"email": "nobody@example.test", "password": PASSWORD,
                                               "csrf_token": token})

    assert wrong_password.status_code == unknown_user.status_code == 401
    message = "That e-mail and password do not match an account."
    assert message in wrong_password.text and message in unknown_user.text
    assert "td_session" not in client.cookies
    assert 'value="agent_t1@example.test"' in wrong_password.text  # what was typed stays


def test_signing_in_returns_to_a_local_next_page_only(client: TestClient, world: World) -> None:
    for target, expected in (("/help/cases", "/help/cases"), ("https://evil.example/x", "/help"),
                             ("//evil.example/x", "/help"), ("/\\evil.example", "/help"), ("/logout", "/help")):
        client.cookies.clear()
        token = csrf_from(client.get("/login").text)
        response = client.post("/login", data={"email": "buyer@example.test", "password": PASSWORD,
                                               "csrf_token": token, "next": target}, follow_redirects=False)
        assert response.headers["location"] == expected, target


def test_login_without_the_csrf_token_is_refused(client: TestClient, world: World) -> None:
    client.get("/login")

    response = client.post("/login", data={"email": "agent_t1@example.test", "password": PASSWORD})

    assert response.status_code == 403
    assert "td_session" not in client.cookies


def test_a_console_form_without_the_csrf_token_is_refused(client: TestClient, world: World, db: Session) -> None:
    case = customer_case(client, world)
    sign_in(client, "agent_t1")
    before = len(events_of(db, case["id"]))

    missing = client.post(f"/console/cases/{case['id']}/note", data={"body": "sneaky"})
    forged = client.post(f"/console/cases/{case['id']}/note", data={"body": "sneaky", "csrf_token": "forged"})

    assert missing.status_code == forged.status_code == 403
    assert "security token" in missing.text
    assert len(events_of(db, case["id"])) == before


def test_htmx_requests_carry_the_csrf_header(client: TestClient, world: World, db: Session) -> None:
    case = customer_case(client, world)
    token = sign_in(client, "agent_t1")

    response = client.post(f"/console/cases/{case['id']}/note", data={"body": "from htmx"},
                           headers={"HX-Request": "true", "HX-Target": "case", "X-CSRF-Token": token})

    assert response.status_code == 200
    assert 'id="case"' in response.text and "<html" not in response.text
    assert "from htmx" in response.text


def test_signed_out_visitors_are_sent_to_login_and_back(client: TestClient, world: World) -> None:
    response = client.get("/console/queues/1?status=new", follow_redirects=False)

    assert response.status_code == 303
    assert response.headers["location"] == "/login?next=/console/queues/1%3Fstatus%3Dnew"
    htmx = client.get("/console", headers={"HX-Request": "true"}, follow_redirects=False)
    assert htmx.headers["HX-Redirect"] == "/login?next=/console"


@pytest.mark.parametrize(("who", "home"), [
    ("agent_t1", "/console"), ("lead", "/console"), ("admin", "/console"), ("buyer", "/help"),
    ("seller", "/help"), ("internal_requester", "/internal/requests/new"),
])
def test_home_sends_each_role_to_its_place(client: TestClient, world: World, who: str, home: str) -> None:
    sign_in(client, who)

    assert client.get("/", follow_redirects=False).headers["location"] == home


def test_home_sends_anonymous_visitors_to_the_help_center(client: TestClient) -> None:
    assert client.get("/", follow_redirects=False).headers["location"] == "/help"


def test_signing_out_ends_the_session(client: TestClient, world: World) -> None:
    token = sign_in(client, "agent_t1")

    response = client.post("/logout", data={"csrf_token": token}, follow_redirects=False)

    assert response.status_code == 303 and response.headers["location"] == "/login?notice=signed_out"
    assert client.get("/console", follow_redirects=False).status_code == 303
    assert "You have signed out." in client.get("/login?notice=signed_out").text
