"""Oncall schedules as stored: layers, overrides, swaps and feeds, resolved by ``rotation`` into the
final schedule ("who is on call for team X at time t"), with its gaps, coverage and balance."""

from __future__ import annotations

import hashlib
import secrets
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from sqlalchemy import select
from sqlalchemy.orm import Session

from trustdesk.core.errors import Conflict, Forbidden, Invalid, NotFound
from trustdesk.core.identity import Actor, User
from trustdesk.core.permissions import Perm
from trustdesk.core.yamltext import check_fields, check_key_and_name
from trustdesk.directory.models import Team
from trustdesk.oncall import rotation
from trustdesk.oncall.models import OncallFeed, OncallLayer, OncallOverride, OncallSchedule, OncallSwap
from trustdesk.oncall.people import check_responders, emails_of, user_ids

DAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
MAX_WINDOW = timedelta(days=400)


def zone(name: str, *, field: str) -> ZoneInfo:
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError) as exc:
        raise Invalid(f"unknown time zone {name!r}", field=field) from exc


# ---------------------------------------------------------------- reading


def list_schedules(session: Session) -> Sequence[OncallSchedule]:
    return session.scalars(select(OncallSchedule).order_by(OncallSchedule.name, OncallSchedule.id)).all()


def schedule_by_key(session: Session, key: str, *, field: str = "key") -> OncallSchedule:
    row = session.scalar(select(OncallSchedule).where(OncallSchedule.key == key))
    if row is None:
        raise NotFound(f"oncall schedule {key!r} does not exist", field=field)
    return row


def schedules_of_team(session: Session, team_id: int) -> Sequence[OncallSchedule]:
    return session.scalars(select(OncallSchedule).where(OncallSchedule.team_id == team_id)
                           .order_by(OncallSchedule.id)).all()


def layers_of(session: Session, schedule_id: int) -> Sequence[OncallLayer]:
    return session.scalars(select(OncallLayer).where(OncallLayer.schedule_id == schedule_id)
                           .order_by(OncallLayer.position)).all()


def overrides_of(session: Session, schedule_id: int, *, since: datetime | None = None) -> Sequence[OncallOverride]:
    query = select(OncallOverride).where(OncallOverride.schedule_id == schedule_id)
    if since is not None:
        query = query.where(OncallOverride.ends_at > since)
    return session.scalars(query.order_by(OncallOverride.starts_at, OncallOverride.id)).all()


def swaps_of(session: Session, schedule_id: int, *, since: datetime | None = None) -> Sequence[OncallSwap]:
    query = select(OncallSwap).where(OncallSwap.schedule_id == schedule_id)
    if since is not None:
        query = query.where(OncallSwap.ends_at > since)
    return session.scalars(query.order_by(OncallSwap.starts_at, OncallSwap.id)).all()


# ---------------------------------------------------------------- resolving


def _restriction(raw: dict[str, Any]) -> rotation.Restriction:
    return rotation.Restriction(days=frozenset(DAYS.index(d) for d in raw["days"]),
                                start=time.fromisoformat(raw["start"]), end=time.fromisoformat(raw["end"]))


def _layer(row: OncallLayer) -> rotation.Layer:
    return rotation.Layer(name=row.name, zone=ZoneInfo(row.time_zone), starts_at=row.starts_at, handoff=row.handoff,
                          participants=tuple(str(p) for p in row.participants),
                          restrictions=tuple(_restriction(r) for r in row.restrictions), ends_at=row.ends_at)


def _window(start: datetime, end: datetime) -> None:
    if end <= start:
        raise Invalid("the end must come after the start", field="until")
    if end - start > MAX_WINDOW:
        raise Invalid(f"at most {MAX_WINDOW.days} days at a time", field="until")


def final_schedule(session: Session, schedule: OncallSchedule, start: datetime, end: datetime) -> list[rotation.Shift]:
    """Who covers what in [start, end): layers, then swaps, then overrides; shifts carry user ids as text."""
    _window(start, end)
    layers = [_layer(row) for row in layers_of(session, schedule.id)]
    overrides = [rotation.Override(starts_at=o.starts_at, ends_at=o.ends_at,
                                   who=str(o.user_id) if o.user_id is not None else None)
                 for o in overrides_of(session, schedule.id, since=start) if o.starts_at < end]
    swaps = [rotation.Swap(starts_at=s.starts_at, ends_at=s.ends_at, giver=str(s.giver_id), taker=str(s.taker_id))
             for s in swaps_of(session, schedule.id, since=start) if s.starts_at < end]
    return rotation.resolve(layers, overrides, swaps, start, end)


def oncall_user(session: Session, key: str, at: datetime) -> int | None:
    """Whoever is on call for the schedule at ``at`` (None in a gap or for an unknown schedule)."""
    schedule = session.scalar(select(OncallSchedule).where(OncallSchedule.key == key))
    if schedule is None:
        return None
    shift = rotation.oncall_at(final_schedule(session, schedule, at, at + timedelta(minutes=1)), at)
    return int(shift.who) if shift is not None else None


@dataclass(frozen=True)
class Report:
    start: datetime
    end: datetime
    shifts: list[rotation.Shift]
    gaps: list[tuple[datetime, datetime]]
    coverage: float
    fairness: float
    load: dict[int, timedelta]
    now: rotation.Shift | None
    next: rotation.Shift | None


def report(session: Session, schedule: OncallSchedule, *, start: datetime, end: datetime, now: datetime) -> Report:
    shifts = final_schedule(session, schedule, start, end)
    participants = sorted({str(p) for layer in layers_of(session, schedule.id) for p in layer.participants})
    current = rotation.oncall_at(shifts, now) if start <= now < end else None
    return Report(start=start, end=end, shifts=shifts, gaps=rotation.gaps(shifts, start, end),
                  coverage=rotation.coverage(shifts, start, end),
                  fairness=rotation.fairness(shifts, participants, start, end),
                  load={int(k): v for k, v in rotation.load(shifts, start, end).items()},
                  now=current, next=rotation.next_shift(shifts, now))


def who_is_oncall(session: Session, *, team_key: str, at: datetime) -> list[tuple[OncallSchedule, int | None]]:
    """For each schedule of the team: whoever is on call at ``at``."""
    team = session.scalar(select(Team).where(Team.key == team_key))
    if team is None:
        raise NotFound(f"team {team_key!r} does not exist", field="team")
    return [(s, oncall_user(session, s.key, at)) for s in schedules_of_team(session, team.id)]


def user_names(session: Session, ids: Sequence[int]) -> dict[int, str]:
    if not ids:
        return {}
    return {u.id: u.display_name for u in session.scalars(select(User).where(User.id.in_(sorted(set(ids)))))}


# ---------------------------------------------------------------- writing


@dataclass(frozen=True)
class LayerSpec:
    name: str
    time_zone: str
    starts_at: datetime
    handoff: str
    participants: list[int]
    restrictions: list[dict[str, Any]]
    ends_at: datetime | None = None


# Handoff rules that repeat within a week: they always fire, and the rotation can jump ahead by whole
# periods. Anything else (BYMONTH, BYMONTHDAY, BYSETPOS...) may never fire, and dateutil would search
# to the year 9999 to find out: refused up front.
_HANDOFF_FREQS = frozenset({"WEEKLY", "DAILY", "HOURLY"})
_HANDOFF_PARTS = frozenset({"FREQ", "INTERVAL", "WKST", "BYDAY", "BYHOUR", "BYMINUTE", "BYSECOND"})


def _check_handoff(rule: str, field: str) -> str:
    parts = dict(part.partition("=")[::2] for part in rule.upper().split(";") if part)
    if parts.get("FREQ") not in _HANDOFF_FREQS:
        raise Invalid("a handoff rule is FREQ=WEEKLY, DAILY or HOURLY (e.g. FREQ=WEEKLY;BYDAY=MO;BYHOUR=9)",
                      field=field)
    unknown = sorted(set(parts) - _HANDOFF_PARTS)
    if unknown:
        raise Invalid(f"a handoff rule takes INTERVAL, BYDAY, BYHOUR, BYMINUTE, BYSECOND and WKST, not "
                      f"{', '.join(unknown)} (end a layer with its ends_at)", field=field)
    return rule


def _check_restrictions(raw: list[dict[str, Any]], field: str) -> list[dict[str, Any]]:
    out = []
    for index, item in enumerate(raw):
        where = f"{field}[{index}]"
        days = item.get("days") or list(DAYS)
        for day in days:
            if day not in DAYS:
                raise Invalid(f"unknown day {day!r}; one of {', '.join(DAYS)}", field=f"{where}.days")
        try:
            start, end = time.fromisoformat(item["start"]), time.fromisoformat(item["end"])
        except (KeyError, TypeError, ValueError) as exc:
            raise Invalid("start and end are times like 09:00", field=f"{where}.start") from exc
        out.append({"days": [d for d in DAYS if d in days], "start": start.strftime("%H:%M"),
                    "end": end.strftime("%H:%M")})
    return out


def create_schedule(session: Session, *, key: str, name: str, team_key: str | None, time_zone: str,
                    description: str, layers: Sequence[LayerSpec], now: datetime) -> OncallSchedule:
    if session.scalar(select(OncallSchedule.id).where(OncallSchedule.key == key)) is not None:
        raise Conflict(f"oncall schedule {key!r} exists", field="key")
    row = OncallSchedule(key=key, name=name, team_id=_team_id(session, team_key), time_zone=time_zone,
                         description=description, created_at=now, updated_at=now)
    zone(time_zone, field="time_zone")
    session.add(row)
    session.flush()
    replace_layers(session, row, layers, now=now)
    return row


def _team_id(session: Session, team_key: str | None) -> int | None:
    if team_key is None:
        return None
    team_id = session.scalar(select(Team.id).where(Team.key == team_key))
    if team_id is None:
        raise Invalid(f"team {team_key!r} does not exist", field="team")
    return team_id


def update_schedule(session: Session, row: OncallSchedule, *, name: str, team_key: str | None, time_zone: str,
                    description: str, layers: Sequence[LayerSpec], now: datetime) -> OncallSchedule:
    zone(time_zone, field="time_zone")
    row.name, row.team_id, row.time_zone, row.description = name, _team_id(session, team_key), time_zone, description
    row.updated_at = now
    replace_layers(session, row, layers, now=now)
    return row


def replace_layers(session: Session, schedule: OncallSchedule, layers: Sequence[LayerSpec], *,
                   now: datetime) -> None:
    """The schedule's rotations from now on (the past is what the event log says happened)."""
    rows = []
    for index, spec in enumerate(layers):
        where = f"layers[{index}]"
        check_responders(session, spec.participants, f"{where}.participants")
        row = OncallLayer(schedule_id=schedule.id, position=index, name=spec.name,
                          time_zone=zone(spec.time_zone, field=f"{where}.time_zone").key, starts_at=spec.starts_at,
                          ends_at=spec.ends_at, handoff=_check_handoff(spec.handoff, f"{where}.handoff"),
                          participants=list(spec.participants),
                          restrictions=_check_restrictions(spec.restrictions, f"{where}.restrictions"))
        try:
            _layer(row)  # the rotation's own checks (handoff rule, participants, dates)
            rotation.layer_shifts(_layer(row), now, now + timedelta(days=1))
        except Invalid as exc:
            raise Invalid(exc.detail, field=f"{where}.{exc.field}" if exc.field else where) from exc
        rows.append(row)
    for old in layers_of(session, schedule.id):
        session.delete(old)
    session.flush()
    session.add_all(rows)
    session.flush()


def _period(starts_at: datetime, ends_at: datetime) -> None:
    if ends_at <= starts_at:
        raise Invalid("the end must come after the start", field="ends_at")
    if ends_at - starts_at > MAX_WINDOW:
        raise Invalid(f"at most {MAX_WINDOW.days} days", field="ends_at")


def add_override(session: Session, schedule: OncallSchedule, *, starts_at: datetime, ends_at: datetime,
                 user_id: int | None, reason: str, actor: Actor, now: datetime) -> OncallOverride:
    """Someone covers the period (or, with no one, the period is left uncovered on purpose)."""
    _period(starts_at, ends_at)
    if user_id is not None:
        check_responders(session, [user_id], "user_id")
    row = OncallOverride(schedule_id=schedule.id, starts_at=starts_at, ends_at=ends_at, user_id=user_id,
                         reason=reason, created_by_id=actor.user_id, created_at=now)
    session.add(row)
    session.flush()
    return row


def remove_override(session: Session, schedule: OncallSchedule, override_id: int) -> None:
    row = session.get(OncallOverride, override_id)
    if row is None or row.schedule_id != schedule.id:
        raise NotFound(f"override {override_id} does not exist", field="override_id")
    session.delete(row)


def add_swap(session: Session, schedule: OncallSchedule, *, starts_at: datetime, ends_at: datetime, giver_id: int,
             taker_id: int, reason: str, actor: Actor, now: datetime) -> OncallSwap:
    """A shift swap agreed between two people on the rota: the giver records it (or a schedule
    administrator); nobody can take someone else's shifts on their own say-so."""
    _period(starts_at, ends_at)
    if giver_id == taker_id:
        raise Invalid("a swap is between two people", field="taker_id")
    if actor.user_id != giver_id and not actor.can(Perm.ONCALL_ADMIN):
        raise Forbidden("the person giving the shifts records a swap (or a schedule administrator)")
    rota = {int(p) for layer in layers_of(session, schedule.id) for p in layer.participants}
    for field, user_id in (("giver_id", giver_id), ("taker_id", taker_id)):
        if user_id not in rota:
            raise Invalid(f"user {user_id} is not on this schedule's rota", field=field)
        check_responders(session, [user_id], field)
    row = OncallSwap(schedule_id=schedule.id, starts_at=starts_at, ends_at=ends_at, giver_id=giver_id,
                     taker_id=taker_id, reason=reason, created_by_id=actor.user_id, created_at=now)
    session.add(row)
    session.flush()
    return row


# ---------------------------------------------------------------- iCalendar feeds


def _hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def create_feed(session: Session, *, schedule: OncallSchedule | None, user_id: int | None, actor: Actor,
                now: datetime) -> tuple[OncallFeed, str]:
    """A new secret feed URL token (shown once) for a schedule or for one person's shifts everywhere."""
    if (schedule is None) == (user_id is None):
        raise Invalid("a feed is for a schedule or for a person", field="user_id")
    if user_id is not None and user_id != actor.user_id and not actor.can(Perm.ONCALL_ADMIN):
        raise Forbidden("you may create a feed of your own shifts only")
    token = "cal_" + secrets.token_urlsafe(24)
    row = OncallFeed(schedule_id=schedule.id if schedule else None, user_id=user_id, token_hash=_hash(token),
                     prefix=token[:10], created_by_id=actor.user_id, created_at=now, revoked_at=None)
    session.add(row)
    session.flush()
    return row, token


def feeds_of(session: Session, *, schedule_id: int | None = None, user_id: int | None = None) -> Sequence[OncallFeed]:
    query = select(OncallFeed).where(OncallFeed.revoked_at.is_(None))
    query = query.where(OncallFeed.schedule_id == schedule_id) if schedule_id is not None else query.where(
        OncallFeed.user_id == user_id)
    return session.scalars(query.order_by(OncallFeed.id)).all()


def revoke_feed(session: Session, feed_id: int, *, actor: Actor, now: datetime) -> OncallFeed:
    row = session.get(OncallFeed, feed_id)
    if row is None:
        raise NotFound(f"feed {feed_id} does not exist", field="feed_id")
    if row.user_id != actor.user_id and not actor.can(Perm.ONCALL_ADMIN):
        raise Forbidden("you may revoke your own feeds only")
    if row.revoked_at is None:
        row.revoked_at = now
    return row


FEED_PAST = timedelta(days=14)
FEED_AHEAD = timedelta(days=90)


def feed_calendar(session: Session, token: str, *, now: datetime) -> bytes:
    """The iCalendar text behind a feed token: two weeks back, three months ahead."""
    row = session.scalar(select(OncallFeed).where(OncallFeed.token_hash == _hash(token)))
    if row is None or row.revoked_at is not None:
        raise NotFound("this calendar feed is unknown or was revoked", field="token")
    start, end = now - FEED_PAST, now + FEED_AHEAD
    if row.schedule_id is not None:
        schedule = session.get(OncallSchedule, row.schedule_id)
        assert schedule is not None  # the feed row cascades with its schedule
        shifts = final_schedule(session, schedule, start, end)
        names = {str(k): v for k, v in user_names(session, sorted({int(s.who) for s in shifts})).items()}
        named = [rotation.Shift(s.starts_at, s.ends_at, names.get(s.who, s.who), s.source) for s in shifts]
        return rotation.ical_feed(named, name=f"On call: {schedule.name}", uid_prefix=f"{schedule.key}-", now=now)
    # A person's own feed: each event says which schedule the shift is on.
    assert row.user_id is not None
    mine: list[rotation.Shift] = []
    for schedule in list_schedules(session):
        mine += [rotation.Shift(s.starts_at, s.ends_at, schedule.name, s.source)
                 for s in final_schedule(session, schedule, start, end) if s.who == str(row.user_id)]
    mine.sort(key=lambda s: s.starts_at)
    return rotation.ical_feed(mine, name="My oncall shifts", uid_prefix=f"user{row.user_id}-", now=now)


# ---------------------------------------------------------------- schedules as text (the console's editor)

SCHEDULE_FIELDS = ("key", "name", "team", "time_zone", "description", "layers")
LAYER_FIELDS = ("name", "time_zone", "starts_at", "ends_at", "handoff", "participants", "restrictions")


def as_data(session: Session, schedule: OncallSchedule) -> dict[str, Any]:
    """A schedule as a person writes it: people by e-mail, times in the layer's zone."""
    layers = layers_of(session, schedule.id)
    emails = emails_of(session, [int(p) for layer in layers for p in layer.participants])
    team = session.scalar(select(Team.key).where(Team.id == schedule.team_id)) if schedule.team_id else None

    def when(moment: datetime | None, zone_name: str) -> str | None:
        return moment.astimezone(ZoneInfo(zone_name)).isoformat() if moment is not None else None

    return {"key": schedule.key, "name": schedule.name, "team": team, "time_zone": schedule.time_zone,
            "description": schedule.description,
            "layers": [{"name": layer.name, "time_zone": layer.time_zone,
                        "starts_at": when(layer.starts_at, layer.time_zone),
                        **({"ends_at": when(layer.ends_at, layer.time_zone)} if layer.ends_at else {}),
                        "handoff": layer.handoff, "participants": [emails.get(int(p), p) for p in layer.participants],
                        "restrictions": [dict(r) for r in layer.restrictions]} for layer in layers]}


def _moment(value: Any, zone_name: str, field: str) -> datetime:
    if isinstance(value, datetime):
        moment = value
    elif isinstance(value, str):
        try:
            moment = datetime.fromisoformat(value)
        except ValueError as exc:
            raise Invalid("a date and time such as 2026-11-30T09:00", field=field) from exc
    else:
        raise Invalid("a date and time such as 2026-11-30T09:00", field=field)
    return moment if moment.tzinfo is not None else moment.replace(tzinfo=zone(zone_name, field=field))


def from_data(session: Session, raw: Any, *, field: str) -> dict[str, Any]:
    """What ``create_schedule`` / ``update_schedule`` take, from data written as ``as_data`` gives it."""
    raw = check_fields(raw, SCHEDULE_FIELDS, what="schedule", field=field)
    key, name = check_key_and_name(raw)
    time_zone = str(raw.get("time_zone") or "UTC")
    zone(time_zone, field="time_zone")
    raw_layers = raw.get("layers") or []
    if not isinstance(raw_layers, list):
        raise Invalid("layers: a list of rotations", field="layers")
    specs = []
    for index, layer in enumerate(raw_layers):
        where = f"layers[{index}]"
        layer = check_fields(layer, LAYER_FIELDS, what="layer", field=where)
        layer_zone = str(layer.get("time_zone") or time_zone)
        zone(layer_zone, field=f"{where}.time_zone")
        if not layer.get("participants"):
            raise Invalid("participants: a list of people, by e-mail", field=f"{where}.participants")
        ids = user_ids(session, layer["participants"], f"{where}.participants")
        restrictions = layer.get("restrictions") or []
        if not isinstance(restrictions, list) or not all(isinstance(r, dict) for r in restrictions):
            raise Invalid("restrictions: a list of {days, start, end}", field=f"{where}.restrictions")
        ends = layer.get("ends_at")
        specs.append(LayerSpec(
            name=str(layer.get("name") or f"Layer {index + 1}")[:100], time_zone=layer_zone,
            starts_at=_moment(layer.get("starts_at"), layer_zone, f"{where}.starts_at"),
            handoff=str(layer.get("handoff") or ""), participants=ids, restrictions=list(restrictions),
            ends_at=_moment(ends, layer_zone, f"{where}.ends_at") if ends is not None else None))
    team = raw.get("team")
    return {"key": key, "name": name, "team_key": str(team) if team else None,
            "time_zone": time_zone, "description": str(raw.get("description") or "")[:500], "layers": specs}
