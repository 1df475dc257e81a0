"""The demo's business-hours calendars: each market's Tier 1 hours in its own time zone with its
public holidays (2026), and a 24x7 calendar for Tier 2 and oncall, who follow the sun."""

from __future__ import annotations

from datetime import date, datetime, timedelta

from sqlalchemy.orm import Session

from trustdesk.sla import calendars, policies
from trustdesk.sla.schemas import CalendarIn, ConditionsIn, HolidayIn, PolicyIn, TargetIn

_WEEK = ("mon", "tue", "wed", "thu", "fri")

CALENDARS: tuple[tuple[CalendarIn, tuple[tuple[date, str], ...]], ...] = (
    (CalendarIn(key="us-t1", name="US Tier 1 (Blue Harbor)", time_zone="America/New_York",
                weekly={**{d: ["08:00-20:00"] for d in _WEEK}, "sat": ["09:00-17:00"]}),
     ((date(2026, 9, 7), "Labor Day"), (date(2026, 11, 26), "Thanksgiving Day"),
      (date(2026, 12, 25), "Christmas Day"))),
    (CalendarIn(key="gb-t1", name="UK Tier 1 (Blue Harbor)", time_zone="Europe/London",
                weekly={d: ["08:00-18:00"] for d in _WEEK}),
     ((date(2026, 8, 31), "Summer bank holiday"), (date(2026, 12, 25), "Christmas Day"),
      (date(2026, 12, 28), "Boxing Day (substitute day)"))),
    (CalendarIn(key="es-t1", name="Spain Tier 1 (Meridian)", time_zone="Europe/Madrid",
                weekly={d: ["09:00-14:00", "15:00-19:00"] for d in _WEEK}),
     ((date(2026, 10, 12), "Fiesta Nacional de España"), (date(2026, 12, 8), "Inmaculada Concepción"),
      (date(2026, 12, 25), "Navidad"))),
    (CalendarIn(key="id-t1", name="Indonesia Tier 1 (Meridian)", time_zone="Asia/Jakarta",
                weekly={**{d: ["08:00-17:00"] for d in _WEEK}, "sat": ["08:00-13:00"]}),
     ((date(2026, 8, 17), "Hari Kemerdekaan"), (date(2026, 12, 25), "Hari Raya Natal"))),
    (CalendarIn(key="follow-the-sun", name="Tier 2 and oncall (24x7)", time_zone="UTC", always_open=True), ()),
)


def ensure_calendars(session: Session, *, now: datetime) -> int:
    """Create the calendars and holidays that are missing; returns how many rows were written."""
    created = 0
    since = now - timedelta(days=120)
    existing = {c.key for c in calendars.list_calendars(session)}
    for spec, days in CALENDARS:
        if spec.key in existing:
            continue
        row = calendars.create_calendar(session, spec, now=since)
        created += 1
        for day, name in days:
            calendars.set_holiday(session, row, HolidayIn(day=day, name=name), now=since)
            created += 1
    return created


def _targets(hours: dict[str, tuple[float, float, float, float]], *, business: bool) -> dict[str, dict[str, TargetIn]]:
    """Per priority: (first reply, next reply, periodic update, resolution) in hours; an internal team
    (OLA) always has 8 calendar hours."""
    out: dict[str, dict[str, TargetIn]] = {}
    for priority, (first, following, periodic, resolution) in hours.items():
        out[priority] = {
            "first_reply": TargetIn(minutes=int(first * 60), business=business),
            "next_reply": TargetIn(minutes=int(following * 60), business=business),
            "periodic_update": TargetIn(minutes=int(periodic * 60), business=business),
            "resolution": TargetIn(minutes=int(resolution * 60), business=business),
            "internal": TargetIn(minutes=8 * 60, business=False),
        }
    return out


_ROUND_THE_CLOCK = {"low": (24.0, 24.0, 48.0, 120.0), "normal": (8.0, 8.0, 24.0, 72.0),
                    "high": (2.0, 4.0, 8.0, 24.0), "urgent": (0.5, 1.0, 2.0, 8.0)}
_TIER_1 = {"low": (8.0, 8.0, 16.0, 40.0), "normal": (4.0, 4.0, 8.0, 24.0), "high": (2.0, 2.0, 4.0, 16.0),
           "urgent": (1.0, 1.0, 2.0, 8.0)}
_T1_CALENDAR = {"US": "us-t1", "GB": "gb-t1", "ES": "es-t1", "ID": "id-t1"}


def ensure_policies(session: Session, *, now: datetime) -> int:
    """A 24x7 default (Tier 2, oncall, appeals, internal teams) and each market's Tier 1 policy on its
    business hours. Written once."""
    if policies.list_policies(session):
        return 0
    since = now - timedelta(days=120)
    policies.create_policy(session, PolicyIn(
        key="standard", name="Standard (24x7)", is_default=True, calendar_key="follow-the-sun",
        targets=_targets(_ROUND_THE_CLOCK, business=False)), now=since)
    for position, (market, calendar_key) in enumerate(_T1_CALENDAR.items(), start=1):
        policies.create_policy(session, PolicyIn(
            key=f"{market.lower()}-tier-1", name=f"{market} Tier 1 (business hours)", position=position * 10,
            conditions=ConditionsIn(markets=[market], tiers=["t1"]), calendar_key=calendar_key,
            targets=_targets(_TIER_1, business=True)), now=since)
    return 1 + len(_T1_CALENDAR)
