"""The weekly report, delivered: each schedule sends one market's (or every market's) report of the week
that has just closed, by e-mail or to a webhook endpoint, through the outbox.

**When**: a week (Monday to Sunday in the market's zone) is sent on the schedule's weekday at its hour
(UTC) after it closes: weekday 0, hour 7 sends last week's report on Monday at 07:00 UTC. The job
(``send_due``, every 15 minutes) sends a schedule's latest closed week once: ``last_week_sent`` remembers
it, and the row is locked while it is sent, so two workers never send it twice. A schedule that was off for
weeks sends only the latest week when it is back, never a backlog.

**What**: an e-mail is plain text (``core.mail`` sends nothing else): every section's headline figures
against the week before, the emerging issues, and the addresses of the report in the console (HTML and
PDF; reading them needs a sign-in, so the figures themselves are never in a public link). A webhook
receives ``insight.weekly_report`` with the same figures as data (section, figure, value, the week
before, unit) and the same addresses, signed like every TrustDesk webhook.

A delivery that fails is retried by the outbox with back-off; the week still counts as sent, since the
message is queued in the same transaction that marks it.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from typing import Any
from urllib.parse import urlencode

from sqlalchemy import select
from sqlalchemy.orm import Session

from trustdesk.core import mail, webhooks
from trustdesk.core.errors import Invalid, NotFound
from trustdesk.core.webhooks import WebhookEndpoint
from trustdesk.insights import report as reports
from trustdesk.insights.models import DeliveryChannel, ReportSchedule

EVENT_TYPE = "insight.weekly_report"
REPORT_PATH = "/console/insights/report"
_EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")
WEEKDAYS = ("Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday")


# ---------------------------------------------------------------- managing schedules


@dataclass(frozen=True)
class ScheduleSpec:
    channel: str
    recipient: str
    market: str | None = None
    weekday: int = 0
    hour: int = 7


def _check(session: Session, spec: ScheduleSpec) -> ScheduleSpec:
    channel = spec.channel.strip().lower()
    if channel not in {c.value for c in DeliveryChannel}:
        raise Invalid(f"send by {' or '.join(c.value for c in DeliveryChannel)}, not {spec.channel[:20]!r}",
                      field="channel")
    recipient = spec.recipient.strip()
    if channel == DeliveryChannel.EMAIL:
        if not _EMAIL.match(recipient) or len(recipient) > 320:
            raise Invalid(f"{recipient[:40]!r} is not an e-mail address", field="recipient")
    else:
        endpoint = session.scalar(select(WebhookEndpoint).where(WebhookEndpoint.key == recipient))
        if endpoint is None:
            raise Invalid(f"there is no webhook endpoint {recipient[:40]!r}: create it under Administration first",
                          field="recipient")
    if not 0 <= spec.weekday <= 6:
        raise Invalid("the weekday is 0 (Monday) to 6 (Sunday)", field="weekday")
    if not 0 <= spec.hour <= 23:
        raise Invalid("the hour is 0 to 23 (UTC)", field="hour")
    return ScheduleSpec(channel=channel, recipient=recipient, market=reports.check_market(session, spec.market),
                        weekday=spec.weekday, hour=spec.hour)


def create(session: Session, spec: ScheduleSpec, *, created_by_user_id: int | None, now: datetime) -> ReportSchedule:
    checked = _check(session, spec)
    duplicate = session.scalar(select(ReportSchedule.id).where(
        ReportSchedule.channel == checked.channel, ReportSchedule.recipient == checked.recipient,
        ReportSchedule.market.is_(None) if checked.market is None else ReportSchedule.market == checked.market))
    if duplicate is not None:
        raise Invalid(f"{checked.recipient} already receives the report of {checked.market or 'every market'} "
                      f"(schedule {duplicate})", field="recipient")
    row = ReportSchedule(market=checked.market, channel=checked.channel, recipient=checked.recipient,
                         weekday=checked.weekday, hour=checked.hour, active=True,
                         created_by_user_id=created_by_user_id, created_at=now)
    session.add(row)
    session.flush()
    return row


def by_id(session: Session, schedule_id: int, *, for_update: bool = False) -> ReportSchedule:
    query = select(ReportSchedule).where(ReportSchedule.id == schedule_id)
    row = session.scalar(query.with_for_update() if for_update else query)
    if row is None:
        raise NotFound(f"there is no report schedule {schedule_id}")
    return row


def list_all(session: Session) -> list[ReportSchedule]:
    return list(session.scalars(select(ReportSchedule).order_by(ReportSchedule.market.nulls_first(),
                                                                ReportSchedule.channel, ReportSchedule.recipient)))


def set_active(row: ReportSchedule, active: bool) -> ReportSchedule:
    row.active = active
    return row


def delete(session: Session, row: ReportSchedule) -> None:
    session.delete(row)
    session.flush()


def describe(row: ReportSchedule) -> str:
    """"every Monday at 07:00 UTC, by e-mail to lead@example.com"."""
    how = f"by e-mail to {row.recipient}" if row.channel == DeliveryChannel.EMAIL else \
        f"to the webhook endpoint {row.recipient}"
    return f"every {WEEKDAYS[row.weekday]} at {row.hour:02d}:00 UTC, {how}"


# ---------------------------------------------------------------- when a week is due


def due_week(session: Session, row: ReportSchedule, now: datetime) -> date | None:
    """The Monday of the week this schedule should send now, or None: the latest closed week, once its
    sending moment (the schedule's weekday and hour after the week) has come and it was not sent yet."""
    if not row.active:
        return None
    zone = reports.zone_of(session, row.market)
    week = reports.last_complete_week(now, zone)
    if _send_at(week, row) > now:
        week -= timedelta(days=7)  # this week's moment is still ahead: the one before may be due
        if _send_at(week, row) > now:
            return None
    if row.last_week_sent is not None and row.last_week_sent >= week:
        return None
    return week


def _send_at(week: date, row: ReportSchedule) -> datetime:
    return datetime.combine(week + timedelta(days=7 + row.weekday), time(row.hour), tzinfo=UTC)


# ---------------------------------------------------------------- sending


def links(report: reports.WeeklyReport, base_url: str) -> dict[str, str]:
    query = {"week": report.week_start.isoformat(), **({"market": report.market} if report.market else {})}
    page = f"{base_url.rstrip('/')}{REPORT_PATH}?"
    return {"page": page + urlencode(query), "pdf": page + urlencode({**query, "format": "pdf"}),
            "html": page + urlencode({**query, "format": "html"})}


def figures(report: reports.WeeklyReport) -> list[dict[str, Any]]:
    return [{"section": s.key, "figure": k.key, "label": k.label, "unit": k.unit, "value": k.value,
             "previous": k.previous, "text": k.text, "change": k.change_words}
            for s in report.sections for k in s.kpis]


def summary_text(report: reports.WeeklyReport, base_url: str) -> str:
    """The e-mail: the headline figures per section, the emerging issues, the report's addresses."""
    lines = [report.title, "", f"{report.week_start:%d %b} to {report.week_end:%d %b %Y} ({report.zone}), "
             "against the week before.", ""]
    for section in report.sections:
        if not section.kpis and section.key != "emerging":
            continue
        lines.append(section.title)
        lines.extend(f"  {k.label}: {k.text} ({k.change_words})" for k in section.kpis)
        if section.key == "emerging":
            table = section.tables[0]
            lines.extend(f"  {row[0]} in {row[1]}: from {row[2]}, {row[3]}; {row[6]} cases" for row in table.cells) \
                if not table.empty else lines.append(f"  {table.empty_text}")
        lines.append("")
    for o in report.objectives or []:
        lines.append(f"OKR {o.objective.title}: {o.label}"
                     + (f", {o.percent}% done with {o.expected_percent}% of the period elapsed"
                        if o.percent is not None else ""))
    address = links(report, base_url)
    lines += ["", f"Read it: {address['page']}", f"PDF: {address['pdf']}", "(sign in to TrustDesk to open them)"]
    return "\n".join(lines).rstrip() + "\n"


@dataclass(frozen=True)
class Message:
    """A week's report as it is sent: built once per market and week, outside any write transaction."""

    title: str
    text: str
    data: dict[str, Any]


def message(report: reports.WeeklyReport, base_url: str) -> Message:
    data = {"market": report.market, "zone": report.zone, "week_start": report.week_start.isoformat(),
            "week_end": report.week_end.isoformat(), "figures": figures(report), "links": links(report, base_url)}
    return Message(title=report.title, text=summary_text(report, base_url), data=data)


def _endpoint(session: Session, row: ReportSchedule) -> WebhookEndpoint | None:
    endpoint = session.scalar(select(WebhookEndpoint).where(WebhookEndpoint.key == row.recipient))
    return endpoint if endpoint is not None and endpoint.is_active else None


def deliverable(session: Session, row: ReportSchedule) -> bool:
    """Whether the channel can take a message now: a mail server is configured, the endpoint is active.
    When it cannot, the week is not marked sent (it goes once it can) and no report is built for it."""
    if row.channel == DeliveryChannel.EMAIL:
        return mail.enabled()
    return _endpoint(session, row) is not None


def deliver(session: Session, row: ReportSchedule, sent: Message, *, now: datetime) -> bool:
    """Queue the message for the schedule's recipient (in the caller's transaction)."""
    if row.channel == DeliveryChannel.EMAIL:
        return mail.send(session, to=row.recipient, subject=sent.title, text=sent.text, now=now)
    endpoint = _endpoint(session, row)
    if endpoint is None:
        return False
    return bool(webhooks.emit(session, EVENT_TYPE, {"schedule_id": row.id, **sent.data}, now=now, text=sent.text,
                              endpoint=endpoint))


@dataclass
class SendReport:
    sent: list[tuple[int, date]] = field(default_factory=list)
    held: list[int] = field(default_factory=list)  # due, but the channel cannot take it now

    def describe(self) -> str:
        return f"{len(self.sent)} sent, {len(self.held)} held"


def due(session: Session, now: datetime) -> list[tuple[int, str | None, date]]:
    """The schedules to send now that can be sent: (id, market, week)."""
    found = []
    for row in session.scalars(select(ReportSchedule).where(ReportSchedule.active.is_(True))
                               .order_by(ReportSchedule.id)):
        week = due_week(session, row, now)
        if week is not None:
            found.append((row.id, row.market, week))
    return found


def send_built(session: Session, schedule_id: int, week: date, sent: Message, *, now: datetime,
               result: SendReport) -> None:
    """Send one schedule's week, if it is still due (the row is locked: two workers never both send it)."""
    row = by_id(session, schedule_id, for_update=True)
    if due_week(session, row, now) != week:
        return
    if deliverable(session, row) and deliver(session, row, sent, now=now):
        row.last_week_sent = week
        result.sent.append((row.id, week))
    else:
        result.held.append(row.id)


def send_due(session: Session, *, now: datetime, base_url: str) -> SendReport:
    """Send every schedule whose week is due, in one transaction (the CLI; the job builds each report in a
    read-only unit of work first: ``jobs.send_reports``); one report built per market and week."""
    result = SendReport()
    built: dict[tuple[str | None, date], Message] = {}
    for schedule_id, market, week in due(session, now):
        if not deliverable(session, by_id(session, schedule_id)):
            result.held.append(schedule_id)
            continue
        if (market, week) not in built:
            built[market, week] = message(reports.weekly(session, market=market, week_start=week, now=now),
                                          base_url)
        send_built(session, schedule_id, week, built[market, week], now=now, result=result)
    return result
