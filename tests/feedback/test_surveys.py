"""CSAT surveys: planned after the solve with the channel's delay, sent once while the case stays solved,
answered by a link that needs no login (good/bad mapped onto 1-5, a reason asked on bad ratings), answered
again within the window (the latest counts), expired after it."""

from __future__ import annotations

from datetime import timedelta
from email import message_from_string
from email.policy import default

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import func, select
from sqlalchemy.orm import Session, sessionmaker

from tests.factories.api import customer_case, events_of, fresh_case
from tests.factories.receiver import Mailbox
from tests.factories.world import World
from tests.feedback.surveys_helpers import (
    BASE_URL,
    LINK,
    configure,
    link_tokens,
    reopen,
    run,
    solve,
    solved_case,
    survey_of,
    token_of,
)
from trustdesk.core import mail
from trustdesk.core.clock import FrozenClock
from trustdesk.core.errors import Conflict, Invalid, NotFound
from trustdesk.core.outbox import OutboxMessage, deliver_pending
from trustdesk.feedback import jobs, service, surveys
from trustdesk.feedback.models import CaseRating, CsatSurvey


def _types(db: Session, case_id: int) -> list[str]:
    return [e.type for e in events_of(db, case_id) if e.type.startswith("csat.")]


def test_a_survey_goes_out_the_channels_delay_after_the_solve_once(client: TestClient, world: World, db: Session,
                                                                   clock: FrozenClock) -> None:
    configure(client, world, "in_app_chat", delay_minutes=30)
    case_id = solved_case(client, world)
    solved_at = fresh_case(db, case_id).solved_at
    assert solved_at == clock.now()

    assert run(db, clock) == (1, 0, 0)
    planned = survey_of(db, case_id)
    assert (planned.status, planned.channel, planned.scale) == ("scheduled", "in_app_chat", "five_point")
    assert planned.send_after == solved_at + timedelta(minutes=30) and planned.sent_at is None
    clock.advance(minutes=29)
    assert run(db, clock) == (0, 0, 0)
    assert link_tokens(db, case_id) == []

    clock.advance(minutes=1)
    assert run(db, clock) == (0, 1, 0)
    sent = survey_of(db, case_id)
    assert sent.status == "sent" and sent.sent_at == clock.now()
    assert sent.expires_at == clock.now() + timedelta(hours=168)
    token = token_of(db, case_id)  # in-app chat: the link is posted on the case's public thread
    assert sent.token_hash == surveys.hash_token(token) and token not in sent.token_hash
    [event] = [e for e in events_of(db, case_id) if e.type == "csat.survey_sent"]
    assert event.actor_type == "system"
    assert event.data == {"survey_id": sent.id, "channel": "in_app_chat", "scale": "five_point", "via": ["in_app"],
                          "expires_at": sent.expires_at.isoformat()}
    # The notice is not a reply: the case stays solved, its version does not move.
    case = fresh_case(db, case_id)
    assert case.status == "solved"
    assert case.first_agent_reply_at is not None and case.last_agent_reply_at == solved_at

    # One survey per case, however often the job runs.
    clock.advance(hours=1)
    assert run(db, clock) == (0, 0, 0)
    assert db.scalar(select(func.count(CsatSurvey.id)).where(CsatSurvey.case_id == case_id)) == 1
    assert _types(db, case_id) == ["csat.survey_sent"]
    assert len(link_tokens(db, case_id)) == 1


def test_the_periodic_job_is_safe_to_run_twice(client: TestClient, world: World, db: Session, clock: FrozenClock,
                                              factory: sessionmaker[Session]) -> None:
    configure(client, world, "in_app_chat", delay_minutes=0)
    case_id = solved_case(client, world)

    assert jobs.run_surveys(factory, clock) == 2  # planned and sent in one pass (no delay)
    assert jobs.run_surveys(factory, clock) == 0
    assert survey_of(db, case_id).status == "sent"
    assert _types(db, case_id) == ["csat.survey_sent"]
    assert (60.0, jobs.run_surveys) in jobs.PERIODIC


def test_a_disabled_channel_plans_no_survey_and_stops_planned_ones(client: TestClient, world: World, db: Session,
                                                                   clock: FrozenClock) -> None:
    configure(client, world, "web_form", enabled=False)
    off = solved_case(client, world, channel="web_form")
    planned_first = solved_case(client, world, channel="in_app_chat")
    assert run(db, clock) == (1, 0, 0)
    assert db.scalar(select(CsatSurvey.id).where(CsatSurvey.case_id == off)) is None

    configure(client, world, "in_app_chat", enabled=False)  # switched off before the planned one went out
    clock.advance(hours=2)
    assert run(db, clock) == (0, 0, 0)
    assert survey_of(db, planned_first).status == "cancelled"
    [event] = [e for e in events_of(db, planned_first) if e.type == "csat.survey_cancelled"]
    assert event.data["reason"] == "channel_disabled"
    assert link_tokens(db, planned_first) == []


def test_a_case_reopened_before_sending_gets_none_until_it_is_solved_again(
        client: TestClient, world: World, db: Session, clock: FrozenClock) -> None:
    case_id = solved_case(client, world)
    assert run(db, clock) == (1, 0, 0)
    clock.advance(minutes=20)
    reopen(client, world, case_id)
    clock.advance(minutes=40)

    assert run(db, clock) == (0, 0, 0)
    cancelled = survey_of(db, case_id)
    assert cancelled.status == "cancelled" and cancelled.sent_at is None
    assert [e.data["reason"] for e in events_of(db, case_id) if e.type == "csat.survey_cancelled"] == ["reopened"]
    assert link_tokens(db, case_id) == []
    clock.advance(hours=3)
    assert run(db, clock) == (0, 0, 0)  # still open: nothing planned

    solve(client, world, case_id)  # solved again: the same survey is planned from the new solve
    resolved_at = clock.now()
    assert run(db, clock) == (1, 0, 0)
    again = survey_of(db, case_id)
    assert (again.id, again.status, again.send_after) == (cancelled.id, "scheduled", resolved_at + timedelta(hours=1))
    clock.advance(hours=1)
    assert run(db, clock) == (0, 1, 0)
    assert survey_of(db, case_id).status == "sent" and len(link_tokens(db, case_id)) == 1


def test_stale_cases_appeals_and_internal_requests_are_never_surveyed(
        client: TestClient, world: World, db: Session, clock: FrozenClock) -> None:
    configure(client, world, "web_form", response_window_hours=2, delay_minutes=0)
    stale = solved_case(client, world, channel="web_form")
    clock.advance(hours=3)
    assert run(db, clock) == (0, 0, 0)  # solved three hours ago, the window is two: too late to ask
    assert db.scalar(select(CsatSurvey.id).where(CsatSurvey.case_id == stale)) is None
    assert "appeal_form" not in surveys.SURVEYED_CHANNELS and "internal_form" not in surveys.SURVEYED_CHANNELS
    for channel in ("appeal_form", "internal_form"):
        with pytest.raises(Invalid) as refused:
            surveys.settings_for(db, channel)
        assert refused.value.field == "channel"


def test_a_merged_case_is_not_surveyed(client: TestClient, world: World, db: Session, clock: FrozenClock) -> None:
    source = solved_case(client, world)
    target = int(customer_case(client, world)["id"])
    assert run(db, clock) == (1, 0, 0)
    reopen(client, world, source)
    merged = client.post(f"/api/v1/cases/{source}/merge", headers=world.auth("lead"), json={"into_case_id": target})
    assert merged.status_code == 200, merged.text
    clock.advance(hours=2)
    run(db, clock)
    assert survey_of(db, source).status == "cancelled"
    assert [e.data["reason"] for e in events_of(db, source) if e.type == "csat.survey_cancelled"] == ["merged"]


def test_with_smtp_the_link_is_emailed_and_in_app_chat_also_gets_it_on_the_thread(
        client: TestClient, world: World, db: Session, clock: FrozenClock, factory: sessionmaker[Session],
        smtp_server: Mailbox) -> None:
    web = solved_case(client, world, channel="web_form")
    chat = solved_case(client, world, channel="in_app_chat", who="buyer2")
    clock.advance(hours=1)
    mail.configure(f"smtp://127.0.0.1:{smtp_server.port}", "TrustDesk <csat@example.test>")
    try:
        assert run(db, clock) == (2, 2, 0)  # the test app delivers the outbox right after the commit
        deliver_pending(factory, clock)
    finally:
        mail.configure("", "")
    via = {case_id: [e.data["via"] for e in events_of(db, case_id) if e.type == "csat.survey_sent"]
           for case_id in (web, chat)}
    assert via == {web: [["email"]], chat: [["email", "in_app"]]}
    assert link_tokens(db, web) == []  # e-mailed: the web form's thread stays as it was
    chat_token = token_of(db, chat)
    messages = {tuple(recipients): message_from_string(text, policy=default)
                for _sender, recipients, text in smtp_server.messages}
    assert set(messages) == {("buyer@example.test",), ("buyer2@example.test",)}
    chat_mail, web_mail = messages[("buyer2@example.test",)], messages[("buyer@example.test",)]
    assert f"{BASE_URL}/survey/{chat_token}" in chat_mail.get_content()  # type: ignore[attr-defined]
    assert str(web_mail["Subject"]).startswith("How did we do? Your case ID-")
    [web_token] = LINK.findall(web_mail.get_content())  # type: ignore[attr-defined]
    assert survey_of(db, web).token_hash == surveys.hash_token(web_token)
    assert db.scalar(select(func.count(OutboxMessage.id)).where(OutboxMessage.topic == "mail.send")) == 2


def test_without_smtp_nothing_is_queued_and_the_link_goes_on_the_thread(client: TestClient, world: World,
                                                                        db: Session, clock: FrozenClock) -> None:
    case_id = solved_case(client, world, channel="web_form")
    clock.advance(hours=1)
    assert run(db, clock) == (1, 1, 0)
    assert [e.data["via"] for e in events_of(db, case_id) if e.type == "csat.survey_sent"] == [["in_app"]]
    assert len(link_tokens(db, case_id)) == 1
    assert db.scalar(select(func.count(OutboxMessage.id)).where(OutboxMessage.topic == "mail.send")) == 0


def _sent(client: TestClient, world: World, db: Session, clock: FrozenClock, channel: str = "in_app_chat") -> tuple[
        int, str]:
    case_id = solved_case(client, world, channel=channel)
    run(db, clock)
    clock.advance(hours=1)
    run(db, clock)
    return case_id, token_of(db, case_id)


def test_good_and_bad_map_onto_five_and_one(client: TestClient, world: World, db: Session,
                                            clock: FrozenClock) -> None:
    configure(client, world, "web_form", scale="good_bad")
    case_id, token = _sent(client, world, db, clock, "web_form")
    assert survey_of(db, case_id).scale == "good_bad"

    for wrong in ("3", 5, "great", None):
        with pytest.raises(Invalid) as refused:
            surveys.answer(db, token, rating=wrong, now=clock.now())
        assert refused.value.field == "rating"
    rated = surveys.answer(db, token, rating="good", now=clock.now())
    assert (rated.score, rated.channel, rated.reason) == (5, "web_form", "")
    clock.advance(minutes=5)
    rated = surveys.answer(db, token, rating="bad", reason="slow", comment="Three days for one answer", now=clock.now())
    db.commit()
    assert (rated.score, rated.reason, rated.comment) == (1, "slow", "Three days for one answer")
    assert service.csat(db, since=clock.now() - timedelta(days=1), until=clock.now() + timedelta(seconds=1)).good == 0


def test_a_bad_rating_takes_a_reason_and_a_comment_a_good_one_no_reason(client: TestClient, world: World,
                                                                        db: Session, clock: FrozenClock) -> None:
    case_id, token = _sent(client, world, db, clock)
    buyer = world.users["buyer"]

    for score in (3, 4, 5):
        with pytest.raises(Invalid) as refused:
            surveys.answer(db, token, rating=score, reason="slow", now=clock.now())
        assert refused.value.field == "reason"
    with pytest.raises(Invalid) as unknown:
        surveys.answer(db, token, rating=1, reason="weather", now=clock.now())
    assert unknown.value.field == "reason"
    assert db.scalar(select(CaseRating.id).where(CaseRating.case_id == case_id)) is None

    rated = surveys.answer(db, token, rating="2", reason="not_resolved", comment="Still no refund.", now=clock.now())
    db.commit()
    assert (rated.score, rated.reason, rated.comment, rated.channel) == (2, "not_resolved", "Still no refund.",
                                                                         "in_app_chat")
    [event] = [e for e in events_of(db, case_id) if e.type == "csat.rated"]
    assert event.actor_type == "customer" and event.actor_id == buyer.id
    assert event.data == {"score": 2, "scale": 5, "channel": "in_app_chat", "commented": True,
                          "reason": "not_resolved"}
    survey = survey_of(db, case_id)
    assert (survey.status, survey.answered_at) == ("answered", clock.now())


def test_rating_again_within_the_window_replaces_and_both_events_stay(client: TestClient, world: World, db: Session,
                                                                      clock: FrozenClock) -> None:
    case_id, token = _sent(client, world, db, clock)
    surveys.answer(db, token, rating=1, reason="rude", comment="Short and rude.", now=clock.now())
    clock.advance(days=2)
    again = surveys.answer(db, token, rating=5, now=clock.now())
    db.commit()

    assert db.scalar(select(func.count(CaseRating.id)).where(CaseRating.case_id == case_id)) == 1
    assert (again.score, again.reason, again.comment, again.rated_at) == (5, "", "", clock.now())
    rated = [e.data for e in events_of(db, case_id) if e.type == "csat.rated"]
    assert [(d["score"], d.get("reason"), d.get("previous_score")) for d in rated] == [(1, "rude", None),
                                                                                        (5, None, 1)]
    figures = service.csat(db, since=clock.now() - timedelta(days=7), until=clock.now() + timedelta(seconds=1))
    assert (figures.ratings, figures.good) == (1, 1)  # the latest counts


def test_an_expired_link_is_refused_and_an_unknown_one_is_not_found(client: TestClient, world: World, db: Session,
                                                                    clock: FrozenClock) -> None:
    answered, answered_token = _sent(client, world, db, clock)
    surveys.answer(db, answered_token, rating=4, now=clock.now())
    unanswered, token = _sent(client, world, db, clock)
    db.commit()
    clock.advance(hours=168)

    with pytest.raises(surveys.LinkClosed) as closed:  # refused at the deadline, before the sweep ran
        surveys.answer(db, token, rating=4, now=clock.now())
    assert closed.value.status == 410
    assert run(db, clock) == (0, 0, 1)
    assert survey_of(db, unanswered).status == "expired"
    [event] = [e for e in events_of(db, unanswered) if e.type == "csat.survey_expired"]
    assert event.data["survey_id"] == survey_of(db, unanswered).id
    assert survey_of(db, answered).status == "answered"  # an answer stays an answer
    with pytest.raises(surveys.LinkClosed):
        surveys.answer(db, answered_token, rating=1, now=clock.now())  # its window has passed too
    assert fresh_case(db, answered).status == "solved"
    assert db.scalar(select(CaseRating.score).where(CaseRating.case_id == answered)) == 4

    for unknown in ("cs_" + "x" * 43, "nonsense", token[:-1]):
        with pytest.raises(NotFound):
            surveys.answer(db, unknown, rating=4, now=clock.now())


def test_a_case_reopened_after_the_survey_went_out_is_rated_once_solved_again(
        client: TestClient, world: World, db: Session, clock: FrozenClock) -> None:
    case_id, token = _sent(client, world, db, clock)
    reopen(client, world, case_id)
    with pytest.raises(Conflict) as refused:
        surveys.answer(db, token, rating=5, now=clock.now())
    assert refused.value.status == 409 and refused.value.field == "case"
    solve(client, world, case_id)
    db.expire_all()  # the app solved it in its own session
    assert surveys.answer(db, token, rating=5, now=clock.now()).score == 5
