"""Business-hours calendars as data: weekly hours, holidays (by hand or from iCalendar files), and
the ``Calendar`` object the SLA clocks compute with."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo

import icalendar
from sqlalchemy import select
from sqlalchemy.orm import Session

from trustdesk.core.errors import Conflict, Invalid, NotFound
from trustdesk.sla.calendar import DAYS, Calendar, parse_day_hours, parse_hours
from trustdesk.sla.models import BusinessCalendar, CalendarHoliday
from trustdesk.sla.schemas import CalendarIn, HolidayIn

MAX_IMPORT_DAYS = 2000
MAX_EVENT_DAYS = 31  # a multi-day holiday longer than a month is a mistake in the file


def _checked(data: CalendarIn) -> dict[str, list[str]]:
    parse_hours(data.weekly)  # raises naming weekly.<day>[i]
    if not data.always_open and not any(data.weekly.get(day) for day in DAYS):
        raise Invalid("a calendar that is not 24x7 needs opening hours on at least one day", field="weekly")
    return {day: list(data.weekly.get(day, [])) for day in DAYS}


def calendar_by_key(session: Session, key: str, *, field: str = "key") -> BusinessCalendar:
    row = session.scalar(select(BusinessCalendar).where(BusinessCalendar.key == key))
    if row is None:
        raise NotFound(f"calendar {key!r} does not exist", field=field)
    return row


def list_calendars(session: Session) -> Sequence[BusinessCalendar]:
    return session.scalars(select(BusinessCalendar).order_by(BusinessCalendar.key)).all()


def create_calendar(session: Session, data: CalendarIn, *, now: datetime) -> BusinessCalendar:
    weekly = _checked(data)
    if session.scalar(select(BusinessCalendar.id).where(BusinessCalendar.key == data.key)) is not None:
        raise Conflict(f"calendar {data.key!r} exists", field="key")
    row = BusinessCalendar(key=data.key, name=data.name, time_zone=data.time_zone, always_open=data.always_open,
                           weekly=weekly, created_at=now, updated_at=now)
    session.add(row)
    session.flush()
    return row


def update_calendar(session: Session, row: BusinessCalendar, data: CalendarIn, *, now: datetime) -> BusinessCalendar:
    if data.key != row.key:
        raise Invalid(f"the key is {row.key}; a calendar's key never changes", field="key")
    row.weekly, row.name, row.time_zone, row.always_open = _checked(data), data.name, data.time_zone, data.always_open
    row.updated_at = now
    return row


def holidays(session: Session, row: BusinessCalendar, *, since: date | None = None) -> Sequence[CalendarHoliday]:
    query = select(CalendarHoliday).where(CalendarHoliday.calendar_id == row.id)
    if since is not None:
        query = query.where(CalendarHoliday.day >= since)
    return session.scalars(query.order_by(CalendarHoliday.day)).all()


def set_holiday(session: Session, row: BusinessCalendar, data: HolidayIn, *, now: datetime,
                source: str = "manual", uid: str | None = None) -> tuple[CalendarHoliday, str]:
    """Create or replace the day's holiday; returns it and created | updated | unchanged."""
    parse_day_hours(data.hours, field="hours")
    existing = session.scalar(select(CalendarHoliday).where(CalendarHoliday.calendar_id == row.id,
                                                            CalendarHoliday.day == data.day))
    if existing is None:
        holiday = CalendarHoliday(calendar_id=row.id, day=data.day, name=data.name, hours=list(data.hours),
                                  source=source, source_uid=uid, created_at=now)
        session.add(holiday)
        session.flush()
        return holiday, "created"
    if (existing.name, list(existing.hours)) == (data.name, list(data.hours)):
        return existing, "unchanged"
    existing.name, existing.hours, existing.source, existing.source_uid = data.name, list(data.hours), source, uid
    return existing, "updated"


def delete_holiday(session: Session, row: BusinessCalendar, day: date) -> None:
    holiday = session.scalar(select(CalendarHoliday).where(CalendarHoliday.calendar_id == row.id,
                                                           CalendarHoliday.day == day))
    if holiday is None:
        raise NotFound(f"{row.key} has no holiday on {day.isoformat()}", field="day")
    session.delete(holiday)


@dataclass
class ImportReport:
    created: int = 0
    updated: int = 0
    unchanged: int = 0
    skipped: list[str] = field(default_factory=list)


def import_ical(session: Session, row: BusinessCalendar, text: str, *, now: datetime) -> ImportReport:
    """All-day events of an iCalendar file become closed days (each day of a multi-day event).
    Importing the same file again changes nothing; timed events are skipped and listed."""
    try:
        parsed = icalendar.Calendar.from_ical(text)
    except ValueError as exc:
        raise Invalid(f"not an iCalendar file: {exc}", field="body") from exc
    report = ImportReport()
    days: list[tuple[date, str, str | None]] = []
    for event in parsed.walk("VEVENT"):
        summary = str(event.get("SUMMARY") or "Holiday").strip()[:200] or "Holiday"
        uid = str(event.get("UID")) if event.get("UID") else None
        start = event.decoded("DTSTART") if event.get("DTSTART") else None
        if not isinstance(start, date) or isinstance(start, datetime):
            report.skipped.append(f"{summary}: not an all-day event")
            continue
        end = event.decoded("DTEND") if event.get("DTEND") else start + timedelta(days=1)
        if isinstance(end, datetime) or not isinstance(end, date) or end <= start:
            end = start + timedelta(days=1)
        if (end - start).days > MAX_EVENT_DAYS:
            report.skipped.append(f"{summary}: {(end - start).days} days long")
            continue
        day = start
        while day < end:
            days.append((day, summary, uid))
            day += timedelta(days=1)
    if len(days) > MAX_IMPORT_DAYS:
        raise Invalid(f"{len(days)} holiday days in one file; at most {MAX_IMPORT_DAYS}", field="body")
    for day, summary, uid in days:
        _, outcome = set_holiday(session, row, HolidayIn(day=day, name=summary), now=now, source="ical", uid=uid)
        setattr(report, outcome, getattr(report, outcome) + 1)
    return report


def load(session: Session, row: BusinessCalendar) -> Calendar:
    """The calendar to compute with, its holidays included."""
    return Calendar(zone=ZoneInfo(row.time_zone), weekly=parse_hours(row.weekly), always_open=row.always_open,
                    holidays={h.day: parse_day_hours(h.hours, field="hours") for h in holidays(session, row)})
