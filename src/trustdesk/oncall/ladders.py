"""Escalation ladders: ordered steps as data, validated on save, versioned on every edit.

Steps (each a dict with ``type``):

- ``wait`` ``minutes``: the next step runs that long after this one was due;
- ``notify_oncall`` ``schedule``: page whoever is on call for the schedule at that moment;
- ``notify_users`` ``users``: page these people;
- ``round_robin`` ``users``: page the next of these people in turn (each escalation the next one);
- ``reassign`` ``team``: move the case to the team's intake queue (reason ``escalated``);
- ``webhook`` ``endpoint``: post the escalation to a webhook endpoint;
- ``repeat`` ``times``: go back to the first step, at most that many times.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from trustdesk.core.errors import Conflict, Invalid, NotFound
from trustdesk.core.webhooks import WebhookEndpoint
from trustdesk.core.yamltext import check_fields, check_key_and_name
from trustdesk.directory.models import Team
from trustdesk.oncall.models import EscalationLadder, OncallSchedule
from trustdesk.oncall.people import check_responders, emails_of, user_ids

TRIGGERS = ("breach", "warning", "urgent", "manual", "crisis")
STEP_FIELDS: dict[str, tuple[str, ...]] = {
    "wait": ("minutes",), "notify_oncall": ("schedule",), "notify_users": ("users",), "round_robin": ("users",),
    "reassign": ("team",), "webhook": ("endpoint",), "repeat": ("times",),
}
PAGING_STEPS = frozenset({"notify_oncall", "notify_users", "round_robin"})
CONDITION_NAMES = ("teams", "markets", "priorities")
MAX_STEPS = 50


def _positive_int(value: Any, field: str, *, limit: int) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or not 1 <= value <= limit:
        raise Invalid(f"a whole number from 1 to {limit}", field=field)
    return value


def _users(session: Session, value: Any, field: str) -> list[int]:
    if not isinstance(value, list) or not value or not all(isinstance(v, int) and not isinstance(v, bool)
                                                           for v in value):
        raise Invalid("a list of user ids", field=field)
    return check_responders(session, value, field)


def _known(session: Session, column: Any, value: Any, field: str, what: str) -> str:
    if not isinstance(value, str) or session.scalar(select(column).where(column == value)) is None:
        raise Invalid(f"{what} {value!r} does not exist", field=field)
    return value


def check_steps(session: Session, steps: Sequence[Any]) -> list[dict[str, Any]]:
    """The steps as stored, or ``Invalid`` naming the first bad one (``steps[2].minutes``)."""
    if not steps:
        raise Invalid("a ladder needs at least one step", field="steps")
    if len(steps) > MAX_STEPS:
        raise Invalid(f"at most {MAX_STEPS} steps", field="steps")
    out: list[dict[str, Any]] = []
    for index, step in enumerate(steps):
        where = f"steps[{index}]"
        if not isinstance(step, dict) or step.get("type") not in STEP_FIELDS:
            raise Invalid(f"each step has a type: one of {', '.join(STEP_FIELDS)}", field=f"{where}.type")
        kind = step["type"]
        extra = set(step) - {"type", *STEP_FIELDS[kind]}
        if extra:
            raise Invalid(f"a {kind} step does not take {', '.join(sorted(extra))}", field=f"{where}.{min(extra)}")
        clean: dict[str, Any] = {"type": kind}
        if kind == "wait":
            clean["minutes"] = _positive_int(step.get("minutes"), f"{where}.minutes", limit=7 * 24 * 60)
        elif kind == "repeat":
            if index == 0:
                raise Invalid("repeat goes back to the first step: it cannot be the first", field=f"{where}.type")
            clean["times"] = _positive_int(step.get("times"), f"{where}.times", limit=20)
        elif kind == "notify_oncall":
            clean["schedule"] = _known(session, OncallSchedule.key, step.get("schedule"), f"{where}.schedule",
                                       "schedule")
        elif kind in ("notify_users", "round_robin"):
            clean["users"] = _users(session, step.get("users"), f"{where}.users")
        elif kind == "reassign":
            clean["team"] = _known(session, Team.key, step.get("team"), f"{where}.team", "team")
        else:
            clean["endpoint"] = _known(session, WebhookEndpoint.key, step.get("endpoint"), f"{where}.endpoint",
                                       "webhook endpoint")
        out.append(clean)
    if not any(s["type"] in PAGING_STEPS for s in out):
        raise Invalid("a ladder must page someone: add a notify_oncall, notify_users or round_robin step",
                      field="steps")
    if out[-1]["type"] == "wait":
        raise Invalid("a wait as the last step waits for nothing", field=f"steps[{len(out) - 1}].type")
    return out


def _check_triggers(triggers: Sequence[str]) -> list[str]:
    if not triggers:
        raise Invalid("name at least one trigger", field="triggers")
    for index, trigger in enumerate(triggers):
        if trigger not in TRIGGERS:
            raise Invalid(f"unknown trigger {trigger!r}; one of {', '.join(TRIGGERS)}", field=f"triggers[{index}]")
    return sorted(set(triggers))


def _check_conditions(session: Session, conditions: dict[str, Any]) -> dict[str, list[str]]:
    out: dict[str, list[str]] = {}
    for name, values in conditions.items():
        if name not in CONDITION_NAMES:
            raise Invalid(f"unknown condition {name!r}; one of {', '.join(CONDITION_NAMES)}",
                          field=f"conditions.{name}")
        if not isinstance(values, list) or not all(isinstance(v, str) for v in values):
            raise Invalid("a list of names", field=f"conditions.{name}")
        if name == "teams":
            for index, key in enumerate(values):
                _known(session, Team.key, key, f"conditions.teams[{index}]", "team")
        if values:
            out[name] = list(values)
    return out


def list_ladders(session: Session) -> Sequence[EscalationLadder]:
    return session.scalars(select(EscalationLadder).order_by(EscalationLadder.position, EscalationLadder.id)).all()


def ladder_by_key(session: Session, key: str, *, field: str = "key") -> EscalationLadder:
    row = session.scalar(select(EscalationLadder).where(EscalationLadder.key == key))
    if row is None:
        raise NotFound(f"escalation ladder {key!r} does not exist", field=field)
    return row


def save_ladder(session: Session, *, key: str, name: str, steps: Sequence[Any], triggers: Sequence[str],
                conditions: dict[str, Any], ack_timeout_minutes: int | None, position: int, is_active: bool,
                now: datetime, create: bool) -> EscalationLadder:
    """Create a ladder, or change one (a new version: running escalations keep their copy)."""
    values = {"name": name, "steps": check_steps(session, steps), "triggers": _check_triggers(triggers),
              "conditions": _check_conditions(session, conditions), "position": position, "is_active": is_active,
              "ack_timeout_minutes": (None if ack_timeout_minutes is None else
                                      _positive_int(ack_timeout_minutes, "ack_timeout_minutes", limit=7 * 24 * 60))}
    row = session.scalar(select(EscalationLadder).where(EscalationLadder.key == key))
    if create:
        if row is not None:
            raise Conflict(f"escalation ladder {key!r} exists", field="key")
        row = EscalationLadder(key=key, version=1, created_at=now, updated_at=now, **values)
        session.add(row)
        session.flush()
        return row
    if row is None:
        raise NotFound(f"escalation ladder {key!r} does not exist", field="key")
    for name_, value in values.items():
        setattr(row, name_, value)
    row.version += 1
    row.updated_at = now
    return row


def matching_ladder(session: Session, *, trigger: str, team_key: str | None, market: str,
                    priority: str) -> EscalationLadder | None:
    """The first active ladder (by position) started by ``trigger`` whose conditions hold."""
    facts = {"teams": team_key, "markets": market, "priorities": priority}
    for ladder in list_ladders(session):
        if not ladder.is_active or trigger not in ladder.triggers:
            continue
        if all(not wanted or facts[name] in wanted for name, wanted in ladder.conditions.items()):
            return ladder
    return None


# ---------------------------------------------------------------- ladders as text (the console's editor)

DATA_FIELDS = ("key", "name", "triggers", "conditions", "ack_timeout_minutes", "position", "active", "steps")
USER_STEPS = ("notify_users", "round_robin")


def as_data(session: Session, ladder: EscalationLadder) -> dict[str, Any]:
    """A ladder as a person writes it: people by e-mail, not by id."""
    emails = emails_of(session, [u for step in ladder.steps if step["type"] in USER_STEPS for u in step["users"]])
    steps = [{**step, "users": [emails.get(u, u) for u in step["users"]]} if step["type"] in USER_STEPS else dict(step)
             for step in ladder.steps]
    return {"key": ladder.key, "name": ladder.name, "triggers": list(ladder.triggers),
            "conditions": dict(ladder.conditions), "ack_timeout_minutes": ladder.ack_timeout_minutes,
            "position": ladder.position, "active": ladder.is_active, "steps": steps}


def from_data(session: Session, raw: Any, *, field: str) -> dict[str, Any]:
    """What ``save_ladder`` takes, from data written as ``as_data`` gives it (e-mails or ids for people)."""
    raw = check_fields(raw, DATA_FIELDS, what="ladder", field=field)
    key, name = check_key_and_name(raw)
    steps = raw.get("steps")
    if not isinstance(steps, list):
        raise Invalid("steps: a list of steps", field="steps")
    resolved = [{**step, "users": user_ids(session, step["users"], f"steps[{index}].users")}
                if isinstance(step, dict) and isinstance(step.get("users"), list) else step
                for index, step in enumerate(steps)]
    triggers = raw.get("triggers") or []
    conditions = raw.get("conditions") or {}
    position = raw.get("position", 100)
    active = raw.get("active", True)
    if not isinstance(triggers, list) or not all(isinstance(t, str) for t in triggers):
        raise Invalid("triggers: a list such as [breach, manual]", field="triggers")
    if not isinstance(conditions, dict):
        raise Invalid("conditions: teams, markets, priorities, each a list", field="conditions")
    if not isinstance(position, int) or isinstance(position, bool) or not 0 <= position <= 10_000:
        raise Invalid("position: a whole number from 0 to 10000", field="position")
    if not isinstance(active, bool):
        raise Invalid("active: true or false", field="active")
    return {"key": key, "name": name, "steps": resolved, "triggers": triggers, "conditions": conditions,
            "ack_timeout_minutes": raw.get("ack_timeout_minutes"), "position": position, "is_active": active}
