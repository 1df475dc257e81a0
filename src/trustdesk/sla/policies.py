"""SLA policies: ordered conditions with a mandatory default, targets per priority, snapshotted onto
a case when they apply (and again when its priority changes); the case's clocks are folded from its
event log on the snapshot's terms."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Protocol
from zoneinfo import ZoneInfo

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from trustdesk.cases.models import Case, Status
from trustdesk.core.errors import Conflict, Invalid, NotFound
from trustdesk.core.events import CaseEvent, EventActor, record_case_event
from trustdesk.sla import calendars
from trustdesk.sla.calendar import Calendar
from trustdesk.sla.clocks import Clock, Happening, Kind, Metric, Period, Target, Terms, WaitingOn, run_periods
from trustdesk.sla.models import CaseSla, SlaPolicy
from trustdesk.sla.schemas import PolicyIn

PRIORITIES = ("low", "normal", "high", "urgent")
_METRICS = {m.value for m in Metric}
_WAITS = {w.value for w in WaitingOn} - {WaitingOn.NOBODY.value}
_DONE = (Status.SOLVED.value, Status.CLOSED.value)


def _check(session: Session, data: PolicyIn) -> None:
    for priority, targets in data.targets.items():
        if priority not in PRIORITIES:
            raise Invalid(f"unknown priority {priority!r}; one of {', '.join(PRIORITIES)}", field=f"targets.{priority}")
        for metric in targets:
            if metric not in _METRICS:
                raise Invalid(f"unknown target {metric!r}; one of {', '.join(sorted(_METRICS))}",
                              field=f"targets.{priority}.{metric}")
    if data.is_default and not all(p in data.targets for p in PRIORITIES):
        missing = next(p for p in PRIORITIES if p not in data.targets)
        raise Invalid("the default policy needs targets for every priority", field=f"targets.{missing}")
    for index, wait in enumerate(data.pause_on):
        if wait not in _WAITS:
            raise Invalid(f"unknown wait {wait!r}; one of {', '.join(sorted(_WAITS))}", field=f"pause_on[{index}]")
    for index, priority in enumerate(data.conditions.priorities):
        if priority not in PRIORITIES:
            raise Invalid(f"unknown priority {priority!r}", field=f"conditions.priorities[{index}]")
    if data.calendar_key is not None:
        try:
            calendars.calendar_by_key(session, data.calendar_key, field="calendar_key")
        except NotFound as exc:  # a reference in the body: the input is wrong, not the URL
            raise Invalid(exc.detail, field="calendar_key") from exc


def _as_row_values(data: PolicyIn) -> dict[str, Any]:
    return {
        "name": data.name, "position": data.position, "is_default": data.is_default, "is_active": data.is_active,
        "conditions": {k: list(v) for k, v in data.conditions.model_dump().items() if v},
        "calendar_key": data.calendar_key, "warn_fraction": data.warn_fraction,
        "warn_minutes_before": data.warn_minutes_before, "pause_on": list(data.pause_on),
        "targets": {p: {m: t.model_dump() for m, t in targets.items()} for p, targets in data.targets.items()},
    }


def _one_default(session: Session, data: PolicyIn, row: SlaPolicy | None) -> None:
    """Exactly one active default: a new default takes over from the old one (in this transaction);
    the default itself cannot be switched off or un-defaulted (make another the default instead)."""
    if data.is_default and not data.is_active:
        raise Invalid("the default policy must be active: every case falls back on it", field="is_active")
    if row is not None and row.is_default and not data.is_default:
        raise Conflict("the default policy stays the default; make another policy the default instead",
                       field="is_default")
    if data.is_default:
        for other in session.scalars(select(SlaPolicy).where(SlaPolicy.is_default.is_(True),
                                                             SlaPolicy.id != (row.id if row else -1))):
            other.is_default = False
            other.version += 1


def list_policies(session: Session) -> Sequence[SlaPolicy]:
    return session.scalars(select(SlaPolicy).order_by(SlaPolicy.is_default, SlaPolicy.position, SlaPolicy.id)).all()


def open_cases_on(session: Session, policy_id: int) -> int:
    """Cases still being worked on terms this policy gave them (whichever version): they keep them."""
    query = (select(func.count()).select_from(CaseSla).join(Case, Case.id == CaseSla.case_id)
             .where(CaseSla.policy_id == policy_id, Case.status.not_in(_DONE)))
    return int(session.scalar(query) or 0)


def policy_by_key(session: Session, key: str) -> SlaPolicy:
    row = session.scalar(select(SlaPolicy).where(SlaPolicy.key == key))
    if row is None:
        raise NotFound(f"SLA policy {key!r} does not exist", field="key")
    return row


def create_policy(session: Session, data: PolicyIn, *, now: datetime) -> SlaPolicy:
    _check(session, data)
    if session.scalar(select(SlaPolicy.id).where(SlaPolicy.key == data.key)) is not None:
        raise Conflict(f"SLA policy {data.key!r} exists", field="key")
    _one_default(session, data, None)
    if not data.is_default and session.scalar(select(SlaPolicy.id).where(SlaPolicy.is_default.is_(True))) is None:
        raise Invalid("create the default policy first: every case needs one to fall back on", field="is_default")
    row = SlaPolicy(key=data.key, version=1, created_at=now, updated_at=now, **_as_row_values(data))
    session.add(row)
    session.flush()
    return row


def update_policy(session: Session, row: SlaPolicy, data: PolicyIn, *, now: datetime) -> SlaPolicy:
    """A new version for cases from now on; cases already given this policy keep their terms."""
    if data.key != row.key:
        raise Invalid(f"the key is {row.key}; a policy's key never changes", field="key")
    _check(session, data)
    _one_default(session, data, row)
    for name, value in _as_row_values(data).items():
        setattr(row, name, value)
    row.version += 1
    row.updated_at = now
    return row


# ---------------------------------------------------------------- applying a policy to a case


@dataclass(frozen=True)
class CaseFacts:
    market: str
    channel: str
    priority: str
    party_kind: str
    tier: str | None
    topic: str | None


def _holds(conditions: dict[str, Any], facts: CaseFacts) -> bool:
    checks = (("markets", facts.market), ("channels", facts.channel), ("priorities", facts.priority),
              ("party_kinds", facts.party_kind), ("tiers", facts.tier))
    for name, value in checks:
        wanted = conditions.get(name) or []
        if wanted and value not in wanted:
            return False
    topics = conditions.get("topics") or []
    return not topics or (facts.topic is not None and any(
        facts.topic == t or facts.topic.startswith(f"{t}.") for t in topics))


def matching_policy(session: Session, facts: CaseFacts) -> SlaPolicy | None:
    """The first active policy whose conditions hold and that has targets for the case's priority;
    else the default."""
    policies = [p for p in list_policies(session) if p.is_active]
    return next((p for p in policies if not p.is_default and p.targets.get(facts.priority)
                 and _holds(p.conditions, facts)),
                next((p for p in policies if p.is_default), None))


def _terms_for(policy: SlaPolicy, priority: str) -> dict[str, Any]:
    return {"targets": dict(policy.targets.get(priority) or {}), "warn_fraction": policy.warn_fraction,
            "warn_minutes_before": policy.warn_minutes_before, "pause_on": list(policy.pause_on)}


def apply(session: Session, case_id: int, facts: CaseFacts, *, actor: EventActor, now: datetime) -> CaseSla | None:
    """Snapshot the matching policy's terms for the case's priority (nothing when no policy exists)."""
    policy = matching_policy(session, facts)
    if policy is None:
        return None
    terms = _terms_for(policy, facts.priority)
    snapshot = CaseSla(case_id=case_id, policy_id=policy.id, policy_key=policy.key, policy_version=policy.version,
                       priority=facts.priority, calendar_key=policy.calendar_key, applied_at=now, terms=terms)
    session.add(snapshot)
    record_case_event(session, case_id, "sla.applied", actor, now, {
        "policy": policy.key, "version": policy.version, "priority": facts.priority,
        "calendar": policy.calendar_key, "targets": terms["targets"]})
    return snapshot


def reapply(session: Session, case_id: int, facts: CaseFacts, *, reason: str, actor: EventActor,
            now: datetime) -> CaseSla | None:
    """Match the policy again for the case's new facts (its priority changed) and give the case those
    terms in place of its own. Clocks still running or paused count on the new targets from their
    original start (as Zendesk does); clocks already stopped keep the verdict of the terms they had,
    which stay in the snapshot as ``earlier``. A case opened before any policy existed gets none now."""
    snapshot = snapshot_of(session, case_id)
    if snapshot is None:
        return None
    policy = matching_policy(session, facts)
    if policy is None:
        return snapshot
    previous = {"policy": snapshot.policy_key, "version": snapshot.policy_version, "priority": snapshot.priority,
                "calendar_key": snapshot.calendar_key, "applied_at": snapshot.applied_at.isoformat()}
    earlier = [*snapshot.terms.get("earlier", []),
               {k: v for k, v in snapshot.terms.items() if k != "earlier"} | previous]
    terms = _terms_for(policy, facts.priority)
    snapshot.policy_id, snapshot.policy_key, snapshot.policy_version = policy.id, policy.key, policy.version
    snapshot.priority, snapshot.calendar_key, snapshot.applied_at = facts.priority, policy.calendar_key, now
    snapshot.terms = terms | {"earlier": earlier}
    record_case_event(session, case_id, "sla.applied", actor, now, {
        "policy": policy.key, "version": policy.version, "priority": facts.priority,
        "calendar": policy.calendar_key, "targets": terms["targets"], "reason": reason,
        "previous_policy": previous["policy"], "previous_version": previous["version"],
        "previous_priority": previous["priority"]})
    return snapshot


def snapshot_of(session: Session, case_id: int) -> CaseSla | None:
    found = session.scalar(select(CaseSla).where(CaseSla.case_id == case_id))
    if found is None:
        # A batch that defers its flush (the demo's history) reads a database that does not hold the
        # snapshot written earlier in the batch yet. Elsewhere autoflush leaves nothing pending here.
        found = next((o for o in session.new if isinstance(o, CaseSla) and o.case_id == case_id), None)
    return found


# ---------------------------------------------------------------- clocks from the event log


def _terms(raw: dict[str, Any]) -> Terms:
    minutes_before = raw.get("warn_minutes_before")
    return Terms(targets={Metric(m): Target(int(t["minutes"]), bool(t.get("business", True)))
                          for m, t in raw.get("targets", {}).items()},
                 warn_fraction=float(raw.get("warn_fraction", 0.75)),
                 warn_minutes_before=int(minutes_before) if minutes_before is not None else None,
                 pause_on=frozenset(WaitingOn(w) for w in raw.get("pause_on", ["customer"])))


def terms_of(snapshot: CaseSla) -> Terms:
    """The terms the case has now."""
    return _terms(snapshot.terms)


class EventLike(Protocol):
    """What the fold reads of an event: a ``CaseEvent`` or a row of those three columns."""

    @property
    def type(self) -> str: ...

    @property
    def occurred_at(self) -> datetime: ...

    @property
    def data(self) -> dict[str, Any]: ...


# The event types ``happenings`` reads: a reader may load only these.
FOLDED_EVENTS = ("case.created", "case.message_added", "case.status_changed")


def happenings(events: Sequence[EventLike]) -> list[Happening]:
    """What the clocks react to, read from the case's events."""
    out = []
    for event in events:
        data = event.data
        if event.type == "case.created":
            out.append(Happening(event.occurred_at, Kind.CREATED))
        elif event.type == "case.message_added" and data.get("visibility") == "public":
            if data.get("author_type") == "customer":
                out.append(Happening(event.occurred_at, Kind.CUSTOMER_MESSAGE))
            elif data.get("author_type") == "agent":
                out.append(Happening(event.occurred_at, Kind.AGENT_REPLY))
        elif event.type == "case.status_changed":
            waiting = data.get("waiting_on")
            out.append(Happening(event.occurred_at, Kind.STATUS, status=str(data.get("to")),
                                 waiting_on=WaitingOn(waiting) if waiting in _WAITS else None))
    return out


def calendar_for(session: Session, key: str | None) -> Calendar:
    if key is None:
        return Calendar(zone=ZoneInfo("UTC"), always_open=True)
    return calendars.load(session, calendars.calendar_by_key(session, key, field="calendar_key"))


def periods_of(session: Session, snapshot: CaseSla, *,
               calendar: Callable[[str | None], Calendar] | None = None) -> list[Period]:
    """The terms the case had, oldest first: one period unless its priority changed. Fold them with
    ``clocks.run_periods``. ``calendar``: how to get a calendar by key (a bulk reader's cache); by default
    it is read from the database."""
    load = calendar or (lambda key: calendar_for(session, key))
    earlier: list[dict[str, Any]] = list(snapshot.terms.get("earlier", []))
    periods = [Period(since=None if index == 0 else datetime.fromisoformat(raw["applied_at"]), terms=_terms(raw),
                      business=load(raw.get("calendar_key")))
               for index, raw in enumerate(earlier)]
    periods.append(Period(since=snapshot.applied_at if earlier else None, terms=terms_of(snapshot),
                          business=load(snapshot.calendar_key)))
    return periods


def case_clocks(session: Session, snapshot: CaseSla, *, now: datetime) -> list[Clock]:
    """The case's clocks as of ``now``, folded from its events (the same on every replay)."""
    events = session.scalars(select(CaseEvent).where(CaseEvent.case_id == snapshot.case_id)
                             .order_by(CaseEvent.occurred_at, CaseEvent.id)).all()
    return run_periods(periods_of(session, snapshot), happenings(events), now=now.astimezone(UTC))
