"""The demo's oncall: a follow-the-sun SME schedule (APAC from Jakarta, EMEA from Madrid, the Americas
from New York, each restricted to its daytime with overlaps that survive both DST changes), weekly
Tier 2 rotations with a weekend layer on top, and the escalation ladders that page them."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from sqlalchemy.orm import Session

from trustdesk.core import identity
from trustdesk.demo.catalog import email_of
from trustdesk.oncall import ladders, schedules
from trustdesk.oncall.schedules import LayerSpec

WEEKLY_MONDAY_9 = "FREQ=WEEKLY;BYDAY=MO;BYHOUR=9;BYMINUTE=0;BYSECOND=0"
DAILY_8 = "FREQ=DAILY;BYHOUR=8;BYMINUTE=0;BYSECOND=0"
EVERY_DAY = ["mon", "tue", "wed", "thu", "fri", "sat", "sun"]


def _ids(session: Session, *locals_: str) -> list[int]:
    out = []
    for local in locals_:
        user = identity.user_by_email(session, email_of(local))
        if user is not None:
            out.append(user.id)
    return out


def _monday(now: datetime, weeks_back: int) -> datetime:
    day = (now - timedelta(days=now.weekday() + 7 * weeks_back)).date()
    return datetime(day.year, day.month, day.day, tzinfo=UTC)


def ensure_oncall(session: Session, *, now: datetime) -> int:
    """Create the schedules and ladders that are missing; returns how many were created."""
    if schedules.list_schedules(session):
        return 0
    epoch = _monday(now, 8)
    created = 0
    sun = [
        LayerSpec(name="APAC (Jakarta)", time_zone="Asia/Jakarta", starts_at=epoch.replace(hour=1), handoff=DAILY_8,
                  participants=_ids(session, "rina.kusuma", "rizky.pratama", "intan.permata"),
                  restrictions=[{"days": EVERY_DAY, "start": "07:00", "end": "17:00"}]),
        LayerSpec(name="EMEA (Madrid)", time_zone="Europe/Madrid", starts_at=epoch.replace(hour=8), handoff=DAILY_8,
                  participants=_ids(session, "tomas.herrera", "marta.vidal", "nadia.hassan"),
                  restrictions=[{"days": EVERY_DAY, "start": "09:00", "end": "19:00"}]),
        LayerSpec(name="Americas (New York)", time_zone="America/New_York", starts_at=epoch.replace(hour=13),
                  handoff=DAILY_8, participants=_ids(session, "oncall", "t2", "ethan.brooks"),
                  restrictions=[{"days": EVERY_DAY, "start": "12:00", "end": "21:00"}]),
    ]
    schedules.create_schedule(session, key="sme-follow-the-sun", name="Oncall SMEs (follow the sun)",
                              team_key="oncall", time_zone="UTC", layers=sun, now=now,
                              description="Three regions hand the pager to each other every day; each covers its "
                                          "own daytime.")
    created += 1
    for key, name, team, people, tz in (
        ("t2-payments-oncall", "Payments T2 oncall", "t2-payments", ("t2", "nadia.hassan", "rizky.pratama"),
         "America/New_York"),
        ("t2-orders-oncall", "Orders T2 oncall", "t2-orders", ("grace.liu", "tomas.herrera", "intan.permata"),
         "Europe/Madrid"),
        ("t2-sellers-oncall", "Sellers T2 oncall", "t2-sellers", ("ethan.brooks", "marta.vidal", "yusuf.hakim"),
         "Europe/Madrid"),
    ):
        ids = _ids(session, *people)
        layers = [LayerSpec(name="Weekly", time_zone=tz, starts_at=epoch.replace(hour=14), handoff=WEEKLY_MONDAY_9,
                            participants=ids, restrictions=[]),
                  LayerSpec(name="Weekend cover", time_zone=tz, starts_at=epoch.replace(hour=14),
                            handoff=WEEKLY_MONDAY_9, participants=list(reversed(ids)),
                            restrictions=[{"days": ["sat"], "start": "00:00", "end": "00:00"},
                                          {"days": ["sun"], "start": "00:00", "end": "00:00"}])]
        schedules.create_schedule(session, key=key, name=name, team_key=team, time_zone=tz, layers=layers, now=now,
                                  description="Weekly rotation handing over on Monday at 09:00; on weekends the "
                                              "rotation runs the other way round, so nobody works a full week and "
                                              "its weekend.")
        created += 1
    lead, admin = _ids(session, "lead"), _ids(session, "admin")
    for key, name, triggers, conditions, steps, ack in (
        ("urgent-cases", "Urgent cases page the SME oncall", ["urgent"], {},
         [{"type": "notify_oncall", "schedule": "sme-follow-the-sun"}, {"type": "wait", "minutes": 10},
          {"type": "notify_users", "users": lead}, {"type": "wait", "minutes": 20}, {"type": "repeat", "times": 1}],
         30),
        ("payments-breach", "Payments breaches: Tier 2 oncall, then the SMEs", ["breach", "manual"],
         {"teams": ["t2-payments"]},
         [{"type": "notify_oncall", "schedule": "t2-payments-oncall"}, {"type": "wait", "minutes": 15},
          {"type": "notify_oncall", "schedule": "sme-follow-the-sun"}, {"type": "wait", "minutes": 15},
          {"type": "notify_users", "users": lead}], 60),
        ("t1-breach", "Tier 1 breaches of high and urgent cases move to Tier 2", ["breach"],
         {"priorities": ["high", "urgent"]},
         [{"type": "notify_users", "users": lead}, {"type": "wait", "minutes": 15},
          {"type": "notify_oncall", "schedule": "sme-follow-the-sun"}], 60),
        ("by-hand", "Escalated by an agent", ["manual"], {},
         [{"type": "notify_oncall", "schedule": "sme-follow-the-sun"}, {"type": "wait", "minutes": 15},
          {"type": "notify_users", "users": lead}], 45),
        ("crisis", "Crisis: everyone who can help", ["crisis"], {},
         [{"type": "notify_oncall", "schedule": "sme-follow-the-sun"}, {"type": "notify_users", "users": lead + admin},
          {"type": "wait", "minutes": 10}, {"type": "repeat", "times": 2}], 15),
    ):
        ladders.save_ladder(session, key=key, name=name, steps=steps, triggers=triggers, conditions=conditions,
                            ack_timeout_minutes=ack, position=100 + created, is_active=True, now=now, create=True)
        created += 1
    return created
