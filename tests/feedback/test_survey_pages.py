"""The survey page (a link, no login, the help center's shell), the console's survey settings and figures,
and the settings API: what each shows, what each refuses, and who may open them."""

from __future__ import annotations

import re

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select
from sqlalchemy.orm import Session

from tests.factories.api import assert_problem, events_of
from tests.factories.world import World
from tests.feedback.surveys_helpers import configure, reopen, run, solved_case, token_of
from tests.web.test_pages_auth import csrf_from, sign_in
from trustdesk.cases.models import Case
from trustdesk.core.clock import FrozenClock
from trustdesk.feedback import surveys
from trustdesk.feedback.models import CaseRating, SurveySettings

HTML = {"accept": "text/html"}
XSS = "<script>alert('x')</script>"


def _sent(client: TestClient, world: World, db: Session, clock: FrozenClock, channel: str = "in_app_chat",
          **overrides: str) -> tuple[int, str]:
    case_id = solved_case(client, world, channel=channel, **overrides)
    run(db, clock)
    clock.advance(hours=1)
    run(db, clock)
    return case_id, token_of(db, case_id)


def _fresh_client(client: TestClient) -> TestClient:
    """The same app with no cookies and no sign-in: someone who only has the link."""
    client.cookies.clear()
    return client


def _rating(db: Session, case_id: int) -> CaseRating | None:
    db.expire_all()
    return db.scalar(select(CaseRating).where(CaseRating.case_id == case_id))


# ---------------------------------------------------------------- the customer's survey


def test_the_link_needs_no_login_and_records_a_rating_chosen_on_the_page(client: TestClient, world: World,
                                                                       db: Session, clock: FrozenClock) -> None:
    case_id, token = _sent(client, world, db, clock, subject=f"Lost parcel {XSS}")
    visitor = _fresh_client(client)

    page = visitor.get(f"/survey/{token}")
    assert page.status_code == 200
    assert "How did we do?" in page.text and "Lost parcel &lt;script&gt;" in page.text and XSS not in page.text
    reference = survey_reference(db, case_id)
    assert reference in page.text
    assert "<legend>How satisfied are you with the help you got?" in page.text
    for score, words in ((1, "Very dissatisfied"), (3, "Neither satisfied nor dissatisfied"), (5, "Very satisfied")):
        assert f'id="f-rating-{score}" name="rating" value="{score}"' in page.text and words in page.text
    assert "Optional, tells us what went wrong" in page.text
    assert page.headers["referrer-policy"] == "no-referrer" and page.headers["cache-control"] == "no-store"
    assert "Sign in" in page.text  # the help center's shell, signed out

    sent = visitor.post(f"/survey/{token}", data={"csrf_token": csrf_from(page.text), "rating": "4",
                                                  "reason": "", "comment": "Quick and kind."},
                        follow_redirects=False)
    assert sent.status_code == 303 and sent.headers["location"] == f"/survey/{token}?thanks=1"
    thanks = visitor.get(sent.headers["location"])
    assert thanks.status_code == 200 and "Thank you for your feedback." in thanks.text
    assert 'value="4" checked' in thanks.text and "Change my rating" in thanks.text
    rating = _rating(db, case_id)
    assert rating is not None and (rating.score, rating.comment, rating.channel) == (4, "Quick and kind.",
                                                                                    "in_app_chat")
    [event] = [e for e in events_of(db, case_id) if e.type == "csat.rated"]
    assert event.actor_type == "customer" and event.actor_id == world.users["buyer"].id


def survey_reference(db: Session, case_id: int) -> str:
    reference = db.scalar(select(Case.reference).where(Case.id == case_id))
    assert reference is not None
    return reference


def test_a_bad_rating_on_the_page_takes_a_reason_and_a_good_one_refuses_it(client: TestClient, world: World,
                                                                          db: Session, clock: FrozenClock) -> None:
    configure(client, world, "web_form", scale="good_bad")
    case_id, token = _sent(client, world, db, clock, channel="web_form")
    visitor = _fresh_client(client)
    page = visitor.get(f"/survey/{token}")
    assert "<legend>Was the help you got good or bad?" in page.text and 'value="good"' in page.text
    csrf = csrf_from(page.text)

    refused = visitor.post(f"/survey/{token}", data={"csrf_token": csrf, "rating": "good", "reason": "slow",
                                                     "comment": "fine"})
    assert refused.status_code == 422
    assert 'id="f-reason-error"' in refused.text and "only with a bad rating" in refused.text
    assert 'value="good" checked' in refused.text and ">fine</textarea>" in refused.text  # kept what was typed
    missing = visitor.post(f"/survey/{token}", data={"csrf_token": csrf, "rating": ""})
    assert missing.status_code == 422 and 'id="f-rating-error"' in missing.text
    assert _rating(db, case_id) is None

    done = visitor.post(f"/survey/{token}", data={"csrf_token": csrf, "rating": "bad", "reason": "transferred",
                                                  "comment": "Sent to three teams."})
    assert done.status_code == 200 and "Thank you for your feedback." in done.text  # followed the redirect
    assert "we are sorry it went badly" in done.text
    rating = _rating(db, case_id)
    assert rating is not None and (rating.score, rating.reason, rating.comment) == (1, "transferred",
                                                                                    "Sent to three teams.")


def test_the_survey_form_is_csrf_protected(client: TestClient, world: World, db: Session,
                                           clock: FrozenClock) -> None:
    case_id, token = _sent(client, world, db, clock)
    visitor = _fresh_client(client)
    visitor.get(f"/survey/{token}")
    forged = visitor.post(f"/survey/{token}", data={"rating": "1"})
    assert forged.status_code == 403
    assert _rating(db, case_id) is None


def test_expired_withdrawn_and_unknown_links_show_a_clear_page(client: TestClient, world: World, db: Session,
                                                               clock: FrozenClock) -> None:
    expired_case, expired = _sent(client, world, db, clock)
    visitor = _fresh_client(client)
    csrf = csrf_from(visitor.get(f"/survey/{expired}").text)
    clock.advance(hours=168)
    for response in (visitor.get(f"/survey/{expired}"),
                     visitor.post(f"/survey/{expired}", data={"csrf_token": csrf, "rating": "5"})):
        assert response.status_code == 410
        assert "This survey has closed" in response.text and 'name="rating"' not in response.text
    assert _rating(db, expired_case) is None

    for unknown in ("cs_" + "a" * 43, "not-a-survey", "x" * 150):
        for response in (visitor.get(f"/survey/{unknown}"),
                         visitor.post(f"/survey/{unknown}", data={"csrf_token": csrf, "rating": "5"})):
            assert response.status_code == 404, unknown
            assert "We do not know this survey link" in response.text


def test_a_reopened_case_cannot_be_rated_from_its_link_until_solved_again(client: TestClient, world: World,
                                                                          db: Session, clock: FrozenClock) -> None:
    case_id, token = _sent(client, world, db, clock)
    reopen(client, world, case_id)
    visitor = _fresh_client(client)
    page = visitor.get(f"/survey/{token}")
    assert page.status_code == 200 and "Your case is open again" in page.text and 'name="rating"' not in page.text
    refused = visitor.post(f"/survey/{token}", data={"csrf_token": visitor.cookies["td_csrf"], "rating": "5"})
    assert refused.status_code == 409 and "Your case is open again" in refused.text
    assert _rating(db, case_id) is None


# ---------------------------------------------------------------- the settings API


def test_settings_default_until_saved_then_apply(client: TestClient, world: World, db: Session,
                                                 clock: FrozenClock) -> None:
    defaults = client.get("/api/v1/feedback/survey-settings/email", headers=world.auth("lead"))
    assert defaults.status_code == 200
    assert defaults.json() == {"channel": "email", "enabled": True, "delay_minutes": 60,
                               "response_window_hours": 168, "scale": "five_point", "is_default": True,
                               "updated_at": None}
    saved = configure(client, world, "email", delay_minutes=120, response_window_hours=48, scale="good_bad")
    assert saved | {"updated_at": None} == {"channel": "email", "enabled": True, "delay_minutes": 120,
                                             "response_window_hours": 48, "scale": "good_bad", "is_default": False,
                                             "updated_at": None}
    listed = client.get("/api/v1/feedback/survey-settings", headers=world.auth("admin")).json()
    assert [row["channel"] for row in listed] == ["in_app_chat", "web_form", "api", "email"]
    assert db.scalar(select(SurveySettings.delay_minutes).where(SurveySettings.channel == "email")) == 120


@pytest.mark.parametrize(("channel", "change", "field"), [
    ("web_form", {"delay_minutes": -1}, "delay_minutes"),
    ("web_form", {"delay_minutes": 10081}, "delay_minutes"),
    ("web_form", {"delay_minutes": "60"}, "delay_minutes"),
    ("web_form", {"response_window_hours": 0}, "response_window_hours"),
    ("web_form", {"scale": "stars"}, "scale"),
    ("web_form", {"enabled": "yes"}, "enabled"),
    ("web_form", {"colour": "red"}, "colour"),
    ("fax", {}, "channel"),
    ("appeal_form", {}, "channel"),
    ("internal_form", {}, "channel"),
])
def test_settings_api_refuses_bad_input_naming_the_field(client: TestClient, world: World, db: Session,
                                                         channel: str, change: dict[str, object], field: str) -> None:
    body = {"enabled": True, "delay_minutes": 60, "response_window_hours": 168, "scale": "five_point"} | change
    assert_problem(client.put(f"/api/v1/feedback/survey-settings/{channel}", headers=world.auth("lead"), json=body),
                   422, field)
    assert db.scalar(select(SurveySettings.id)) is None
    if not change:
        assert_problem(client.get(f"/api/v1/feedback/survey-settings/{channel}", headers=world.auth("lead")),
                       422, "channel")


def test_settings_api_needs_feedback_admin_in_house(client: TestClient, world: World) -> None:
    body = {"enabled": False, "delay_minutes": 0, "response_window_hours": 1, "scale": "good_bad"}
    for who in ("agent_t1", "agent_t2", "qa", "buyer"):
        assert_problem(client.get("/api/v1/feedback/survey-settings/web_form", headers=world.auth(who)), 403)
        assert_problem(client.put("/api/v1/feedback/survey-settings/web_form", headers=world.auth(who), json=body),
                       403)
    assert_problem(client.get("/api/v1/feedback/survey-settings"), 401)
    assert_problem(client.put("/api/v1/feedback/survey-settings/web_form", json=body), 401)
    assert client.get("/api/v1/feedback/survey-settings", headers=world.auth("lead")).status_code == 200


# ---------------------------------------------------------------- the console page


def test_the_console_page_shows_settings_and_survey_counts(client: TestClient, world: World, db: Session,
                                                           clock: FrozenClock) -> None:
    _answered_case, answered = _sent(client, world, db, clock)
    _sent(client, world, db, clock, who="buyer2")  # sent, not answered
    surveys.answer(db, answered, rating=5, now=clock.now())
    solved_case(client, world, channel="web_form")
    run(db, clock)  # planned, waiting for its delay
    sign_in(client, "lead")

    page = client.get("/console/feedback/surveys")
    assert page.status_code == 200
    assert "<h1>CSAT surveys</h1>" in page.text and 'aria-current="page">Surveys</a>' in page.text
    row = re.search(r'<th scope="row">In-app chat</th>(.*?)</tr>', page.text, re.S)
    assert row is not None
    assert [int(n) for n in re.findall(r'<td class="num">(\d+)</td>', row.group(1))] == [0, 1, 1, 0, 0]
    assert '<td class="num">50%</td>' in row.group(1)  # one answered of two that went out
    web = re.search(r'<th scope="row">Web form</th>(.*?)</tr>', page.text, re.S)
    assert web is not None and re.findall(r'<td class="num">(\d+)</td>', web.group(1))[0] == "1"
    assert '<caption>Response rate = answered / surveys that went out' in page.text
    for channel in ("in_app_chat", "web_form", "api", "email"):
        assert f'action="/console/feedback/surveys/{channel}"' in page.text
    assert 'action="/console/feedback/surveys/appeal_form"' not in page.text
    assert '<label for="f-web_form-delay">Delay after the solve (minutes)' in page.text


def test_the_console_form_saves_and_shows_a_refusal_next_to_its_field(client: TestClient, world: World,
                                                                      db: Session) -> None:
    csrf = sign_in(client, "lead")
    saved = client.post("/console/feedback/surveys/in_app_chat", follow_redirects=False, data={
        "csrf_token": csrf, "enabled": "1", "delay_minutes": "30", "response_window_hours": "72",
        "scale": "good_bad"})
    assert saved.status_code == 303 and saved.headers["location"].startswith(
        "/console/feedback/surveys?notice=survey_saved")
    row = db.scalar(select(SurveySettings).where(SurveySettings.channel == "in_app_chat"))
    assert row is not None and (row.enabled, row.delay_minutes, row.response_window_hours, row.scale) == (
        True, 30, 72, "good_bad")
    shown = client.get(saved.headers["location"])
    assert "Saved: surveys planned from now on follow the new settings." in shown.text

    for data, field in (({"delay_minutes": "soon", "response_window_hours": "72"}, "delay_minutes"),
                        ({"delay_minutes": "-5", "response_window_hours": "72"}, "delay_minutes"),
                        ({"delay_minutes": "10", "response_window_hours": "0"}, "response_window_hours")):
        refused = client.post("/console/feedback/surveys/web_form", data={"csrf_token": csrf, "scale": "five_point",
                                                                          **data})
        assert refused.status_code == 422, refused.text
        fid = "f-web_form-delay" if field == "delay_minutes" else "f-web_form-window"
        assert f'id="{fid}-error"' in refused.text
    unchecked = client.post("/console/feedback/surveys/api", follow_redirects=False, data={
        "csrf_token": csrf, "delay_minutes": "0", "response_window_hours": "24", "scale": "five_point"})
    assert unchecked.status_code == 303
    assert db.scalar(select(SurveySettings.enabled).where(SurveySettings.channel == "api")) is False
    assert db.scalar(select(SurveySettings.id).where(SurveySettings.channel == "web_form")) is None
    assert client.post("/console/feedback/surveys/in_app_chat", data={
        "delay_minutes": "1", "response_window_hours": "1", "scale": "five_point"}).status_code == 403  # no CSRF


def test_the_console_page_needs_feedback_admin_in_house(client: TestClient, world: World) -> None:
    response = client.get("/console/feedback/surveys", headers=HTML, follow_redirects=False)
    assert response.status_code == 303 and response.headers["location"].startswith("/login?next=")
    sign_in(client, "agent_t1")
    assert client.get("/console/feedback/surveys").status_code == 403
    assert 'href="/console/feedback/surveys"' not in client.get("/console").text
    client.cookies.clear()
    sign_in(client, "lead")
    assert 'href="/console/feedback/surveys"' in client.get("/console").text
