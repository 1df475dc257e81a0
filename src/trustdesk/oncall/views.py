"""What the case page shows of oncall: the escalation panel (the running ladder, who was paged, what
may be done next) and the timeline's sentences for escalation, page and crisis events."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy.orm import Session

from trustdesk.core.identity import Actor
from trustdesk.core.permissions import Perm
from trustdesk.oncall import crises, escalations, ladders, paging, schedules
from trustdesk.oncall.models import Crisis, Escalation, Page

ONCALL_EVENTS = ("case.escalat", "case.paged", "case.page_", "case.crisis_")
STEP_WORDS = {"wait": "wait", "notify_oncall": "page the oncall", "notify_users": "page people",
              "round_robin": "page the next in turn", "reassign": "move to a team", "webhook": "call a webhook",
              "repeat": "start again"}


@dataclass
class EscalationPanel:
    open: Escalation | None
    step_words: list[str]
    pages: list[tuple[Page, str]]
    past: int
    ladders: list[tuple[str, str]]
    linked_crises: list[Crisis]
    may_escalate: bool
    may_acknowledge: bool
    may_resolve: bool
    may_declare: bool
    names: dict[int, str] = field(default_factory=dict)


def case_panel(session: Session, actor: Actor, case_id: int, *, case_open: bool) -> EscalationPanel:
    history = escalations.escalations_of(session, case_id)
    running = next((e for e in history if e.status in escalations.OPEN and e.crisis_id is None), None)
    pages = list(paging.pages_of_escalation(session, running.id)) if running else []
    names = schedules.user_names(session, [p.user_id for p in pages])
    manual = [(ladder.key, ladder.name) for ladder in ladders.list_ladders(session)
              if ladder.is_active and "manual" in ladder.triggers]
    return EscalationPanel(
        open=running, step_words=[step_words(s) for s in running.steps] if running else [],
        pages=[(p, names.get(p.user_id, f"user #{p.user_id}")) for p in pages],
        past=len([e for e in history if e is not running]), ladders=manual,
        linked_crises=list(crises.crises_of_case(session, case_id)) if actor.vendor_id is None else [],
        may_escalate=case_open and running is None and actor.can(Perm.CASE_ESCALATE) and bool(manual),
        may_acknowledge=running is not None and running.status != escalations.EscalationStatus.ACKNOWLEDGED.value
        and escalations.may_acknowledge(session, actor, running),
        may_resolve=running is not None and actor.can(Perm.ONCALL_RESPOND) and actor.vendor_id is None,
        may_declare=case_open and actor.can(Perm.ONCALL_RESPOND) and actor.vendor_id is None, names=names)


def step_words(step: dict[str, Any], names: dict[int, str] | None = None) -> str:
    words = STEP_WORDS.get(str(step.get("type")), str(step.get("type")))
    if step.get("users") and names is not None:
        people = ", ".join(names.get(u, f"user #{u}") for u in step["users"])
        return f"{words} ({people})" if step.get("type") == "round_robin" else f"page {people}"
    if step.get("type") == "wait":
        return f"wait {step['minutes']} min"
    if step.get("schedule"):
        return f"{words} ({step['schedule']})"
    if step.get("team"):
        return f"{words} ({step['team']})"
    if step.get("type") == "repeat":
        times = int(step["times"])
        return f"{words} (once)" if times == 1 else f"{words} (up to {times} times)"
    if step.get("endpoint"):
        return f"{words} ({step['endpoint']})"
    return words


def user_ids_in(data: dict[str, Any]) -> set[int]:
    """The people an oncall event names, for the timeline's one lookup of names."""
    found = {data.get("user_id")} | set(data.get("paged") or [])
    return {u for u in found if isinstance(u, int)}


def describe(kind: str, data: dict[str, Any], name_of: Callable[[int], str]) -> str:
    """An escalation, page or crisis event of a case, in words."""
    if kind == "case.escalated":
        return (f"Escalated ({data.get('trigger')}): {data.get('reason')}; ladder {data.get('ladder')} "
                f"v{data.get('version')}")
    if kind == "case.escalation_step":
        step, number = str(data.get("kind")), int(data.get("step", 0)) + 1
        if step in ladders.PAGING_STEPS:
            paged = [name_of(u) for u in data.get("paged") or []]
            if data.get("gap"):
                return f"Escalation step {number}: nobody is on call for {data.get('schedule')}"
            return f"Escalation step {number}: paged {', '.join(paged) or 'nobody'}"
        if step == "reassign":
            return (f"Escalation step {number}: moved to {data.get('queue')}" if data.get("reassigned")
                    else f"Escalation step {number}: not moved ({data.get('why')})")
        if step == "repeat":
            return f"Escalation starts again (repeat {data.get('repeats_done')})"
        if step == "wait":
            return f"Escalation waits until {str(data.get('until', ''))[:16].replace('T', ' ')} UTC"
        return f"Escalation step {number}: {STEP_WORDS.get(step, step)}"
    if kind == "case.paged":
        return f"Paged {name_of(int(data['user_id']))}" + (f" (oncall of {data['schedule']})"
                                                            if data.get("schedule") else "")
    if kind == "case.escalation_acknowledged":
        seconds = data.get("seconds_to_ack")
        after = f" after {round(seconds / 60)} min" if isinstance(seconds, int | float) else ""
        via = {"page_link": "from the page's link", "console": "in the console", "api": "over the API"}.get(
            str(data.get("via")), "")
        return f"Escalation acknowledged by {name_of(int(data['user_id']))}{after} {via}".rstrip()
    if kind == "case.escalation_reescalated":
        return f"Not resolved within the ack timeout: escalating again (round {data.get('round')})"
    if kind == "case.escalation_exhausted":
        return "Every escalation step ran and nobody acknowledged"
    if kind == "case.escalation_resolved":
        return f"Escalation ended: {data.get('reason')}"
    if kind == "case.escalation_skipped":
        return f"No escalation: {data.get('why')}"
    if kind == "case.page_acknowledged":
        return "Page acknowledged"
    if kind == "case.crisis_declared":
        return f"Crisis {data.get('crisis_id')} declared ({str(data.get('severity', '')).upper()})"
    if kind == "case.crisis_linked":
        return f"Linked to crisis {data.get('crisis_id')}"
    return ", ".join(f"{k.replace('_', ' ')}: {v}" for k, v in data.items()) or kind

