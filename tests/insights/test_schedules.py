"""The weekly report's delivery: each schedule sends the week that closed, once, by e-mail or webhook,
through the outbox (real SMTP and HTTP receivers on localhost)."""

from __future__ import annotations

import json
from datetime import date, datetime, timedelta
from email import message_from_string
from email.policy import default

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from tests.factories.receiver import Mailbox, Receiver
from tests.insights.history import NOW, History, history
from trustdesk.core import mail, webhooks
from trustdesk.core.clock import FrozenClock
from trustdesk.core.errors import Invalid
from trustdesk.core.outbox import OutboxMessage, deliver_pending
from trustdesk.insights import jobs, schedules
from trustdesk.insights.models import ReportSchedule
from trustdesk.insights.schedules import ScheduleSpec

__all__ = ["history"]  # the fixture

BASE_URL = "https://desk.example.test"
MONDAY_0705 = NOW.replace(hour=7, minute=5)  # Monday 16 March: the week of 9 March has closed


def _queued(db: Session, topic: str) -> list[OutboxMessage]:
    return list(db.scalars(select(OutboxMessage).where(OutboxMessage.topic == topic).order_by(OutboxMessage.id)))


def test_a_week_is_due_on_the_schedule_s_day_and_hour_after_it_closes(db: Session) -> None:
    row = schedules.create(db, ScheduleSpec(channel="email", recipient="lead@example.test", weekday=0, hour=7),
                           created_by_user_id=None, now=NOW)
    monday_0600 = NOW.replace(hour=6)

    assert schedules.due_week(db, row, monday_0600) == date(2026, 3, 2)  # 9 March's moment is an hour away
    assert schedules.due_week(db, row, MONDAY_0705) == date(2026, 3, 9)
    row.last_week_sent = date(2026, 3, 9)
    assert schedules.due_week(db, row, MONDAY_0705 + timedelta(days=6)) is None  # sent; the next is not closed
    assert schedules.due_week(db, row, MONDAY_0705 + timedelta(days=7)) == date(2026, 3, 16)
    row.weekday, row.hour = 2, 18  # Wednesdays at 18:00
    assert schedules.due_week(db, row, datetime(2026, 3, 25, 17, 59, tzinfo=NOW.tzinfo)) is None
    assert schedules.due_week(db, row, datetime(2026, 3, 25, 18, 0, tzinfo=NOW.tzinfo)) == date(2026, 3, 16)
    row.last_week_sent = None
    assert schedules.due_week(db, row, NOW + timedelta(days=70)) == date(2026, 5, 11)  # no backlog: the latest
    row.active = False
    assert schedules.due_week(db, row, MONDAY_0705) is None


def test_the_webhook_gets_the_figures_signed_once_per_week(db: Session, history: History, receiver: Receiver,
                                                           factory: sessionmaker[Session], clock: FrozenClock) -> None:
    endpoint = webhooks.create_endpoint(db, key="insights-bot", url=receiver.url, event_types=["sla.breached"],
                                        now=NOW)
    row = schedules.create(db, ScheduleSpec(channel="webhook", recipient="insights-bot", market="us"),
                           created_by_user_id=None, now=NOW)
    assert row.market == "US"

    sent = schedules.send_due(db, now=MONDAY_0705, base_url=BASE_URL)
    assert sent.sent == [(row.id, date(2026, 3, 9))] and sent.held == []
    assert row.last_week_sent == date(2026, 3, 9)
    assert schedules.send_due(db, now=MONDAY_0705 + timedelta(minutes=15), base_url=BASE_URL).sent == []
    db.commit()
    clock.set(MONDAY_0705)
    deliver_pending(factory, clock)

    [request] = receiver.requests
    assert webhooks.verify(endpoint.secret, request.headers, request.body, now=MONDAY_0705)
    body = json.loads(request.body)
    assert body["type"] == "insight.weekly_report"
    data = body["data"]
    assert (data["market"], data["week_start"], data["week_end"]) == ("US", "2026-03-09", "2026-03-15")
    volume = next(f for f in data["figures"] if f["figure"] == "volume")
    assert volume["value"] == 0 and volume["previous"] == 6  # the US opened C1-C6 the week before, none after
    assert data["links"]["pdf"] == f"{BASE_URL}/console/insights/report?week=2026-03-09&market=US&format=pdf"
    assert "Weekly insight report" in body["text"]

    assert schedules.send_due(db, now=MONDAY_0705 + timedelta(days=7), base_url=BASE_URL).sent == [
        (row.id, date(2026, 3, 16))]


def test_the_email_is_the_headline_figures_and_waits_for_a_mail_server(
        db: Session, history: History, smtp_server: Mailbox, factory: sessionmaker[Session],
        clock: FrozenClock) -> None:
    row = schedules.create(db, ScheduleSpec(channel="email", recipient="lead@example.test"),
                           created_by_user_id=None, now=NOW)
    held = schedules.send_due(db, now=MONDAY_0705, base_url=BASE_URL)
    assert held.sent == [] and held.held == [row.id] and row.last_week_sent is None  # no server: not lost

    mail.configure(f"smtp://127.0.0.1:{smtp_server.port}", "TrustDesk <insights@example.test>")
    try:
        assert schedules.send_due(db, now=MONDAY_0705, base_url=BASE_URL).sent == [(row.id, date(2026, 3, 9))]
        assert len(_queued(db, mail.TOPIC)) == 1
        db.commit()
        clock.set(MONDAY_0705)
        deliver_pending(factory, clock)
    finally:
        mail.configure("", "")
    [(_sender, recipients, text)] = smtp_server.messages
    assert recipients == ["lead@example.test"]
    message = message_from_string(text, policy=default)
    assert str(message["Subject"]) == "Weekly insight report · every market · week of 09 March 2026"
    content = message.get_content().replace("\r\n", "\n")  # type: ignore[attr-defined]
    assert "Top contact drivers\n  Cases opened: 0 (-7 (-100%) vs 7 the period before" in content
    assert "Service levels\n  SLA compliance:" in content
    assert f"Read it: {BASE_URL}/console/insights/report?week=2026-03-09" in content


@pytest.mark.parametrize(("spec", "field"), [
    (ScheduleSpec(channel="fax", recipient="x"), "channel"),
    (ScheduleSpec(channel="email", recipient="not an address"), "recipient"),
    (ScheduleSpec(channel="webhook", recipient="nobody"), "recipient"),
    (ScheduleSpec(channel="email", recipient="a@example.test", weekday=7), "weekday"),
    (ScheduleSpec(channel="email", recipient="a@example.test", hour=24), "hour"),
    (ScheduleSpec(channel="email", recipient="a@example.test", market="ZZ"), "market"),
])
def test_bad_schedules_are_refused_naming_the_field(db: Session, world: object, spec: ScheduleSpec,
                                                    field: str) -> None:
    with pytest.raises(Invalid) as refused:
        schedules.create(db, spec, created_by_user_id=None, now=NOW)
    assert refused.value.field == field
    assert db.scalar(select(ReportSchedule.id)) is None


def test_one_schedule_per_recipient_and_market(db: Session, world: object) -> None:
    spec = ScheduleSpec(channel="email", recipient="lead@example.test", market="ES")
    first = schedules.create(db, spec, created_by_user_id=None, now=NOW)
    with pytest.raises(Invalid) as twice:
        schedules.create(db, spec, created_by_user_id=None, now=NOW)
    assert twice.value.field == "recipient" and f"schedule {first.id}" in twice.value.detail
    other = schedules.create(db, ScheduleSpec(channel="email", recipient="lead@example.test"),
                             created_by_user_id=None, now=NOW)  # every market: another report
    assert [r.id for r in schedules.list_all(db)] == [other.id, first.id]
    assert schedules.describe(first) == "every Monday at 07:00 UTC, by e-mail to lead@example.test"


def test_the_job_builds_outside_the_write_transaction_and_sends_each_week_once(
        db: Session, history: History, receiver: Receiver, factory: sessionmaker[Session],
        clock: FrozenClock) -> None:
    webhooks.create_endpoint(db, key="insights-bot", url=receiver.url, event_types=["*"], now=NOW)
    hooked = schedules.create(db, ScheduleSpec(channel="webhook", recipient="insights-bot"),
                              created_by_user_id=None, now=NOW)
    mailed = schedules.create(db, ScheduleSpec(channel="email", recipient="lead@example.test"),
                              created_by_user_id=None, now=NOW)
    db.commit()
    clock.set(MONDAY_0705)

    first = jobs.send_reports(factory, clock)
    assert first.sent == [(hooked.id, date(2026, 3, 9))] and first.held == [mailed.id]  # no mail server
    again = jobs.send_reports(factory, clock)
    assert again.sent == [] and again.held == [mailed.id]
    db.expire_all()
    assert db.get(ReportSchedule, hooked.id).last_week_sent == date(2026, 3, 9)  # type: ignore[union-attr]
    assert db.get(ReportSchedule, mailed.id).last_week_sent is None  # type: ignore[union-attr]
    assert len(_queued(db, webhooks.DELIVER_TOPIC)) == 1
