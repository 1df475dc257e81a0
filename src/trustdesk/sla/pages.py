"""Console pages of SLA policies: the policies in the order they are tried, with their targets in words,
and the form that adds or changes one. A change is a new version of the policy: cases opened from now on
get its terms, cases already open keep the terms they were given (``sla.policies``).

Reading needs directory.read (agents work to these targets); changing needs directory.admin. Handlers
are thin: the form becomes the API's ``PolicyIn``, so the page and the API validate alike, and a refusal
is shown next to its field with what was typed (in a savepoint: nothing of it is kept).
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Path, Request
from fastapi.responses import HTMLResponse, Response
from pydantic import ValidationError
from sqlalchemy.orm import Session
from starlette.datastructures import FormData

from trustdesk.cases.models import Channel, PartyKind
from trustdesk.core.identity import Actor
from trustdesk.core.permissions import Perm
from trustdesk.directory.models import Tier
from trustdesk.sla import calendars, policies
from trustdesk.sla.clocks import Metric
from trustdesk.sla.models import SlaPolicy
from trustdesk.sla.schemas import CALENDAR_KEY, PolicyIn
from trustdesk.web.deps import ClockDep, PageRequires, SessionDep
from trustdesk.web.pages import (
    FormDep,
    attempt,
    form_list,
    form_text,
    render_console,
    see_other,
    split_list,
    with_query,
)

router = APIRouter(include_in_schema=False)
Reader = Annotated[Actor, Depends(PageRequires(Perm.DIRECTORY_READ))]
Admin = Annotated[Actor, Depends(PageRequires(Perm.DIRECTORY_ADMIN))]
PolicyKey = Annotated[str, Path(pattern=CALENDAR_KEY)]

LIST_URL = "/console/sla/policies"
NEW_URL = f"{LIST_URL}/new"
METRIC_LABELS: dict[str, str] = {
    Metric.FIRST_REPLY.value: "First reply", Metric.NEXT_REPLY.value: "Next reply",
    Metric.PERIODIC_UPDATE.value: "Periodic update", Metric.RESOLUTION.value: "Resolution",
    Metric.INTERNAL.value: "Internal (OLA)",
}
CONDITION_LABELS: dict[str, str] = {"markets": "market", "channels": "channel", "priorities": "priority",
                                    "party_kinds": "party", "tiers": "tier", "topics": "topic"}
WAIT_LABELS: dict[str, str] = {"customer": "the customer", "seller": "the seller", "third_party": "a third party",
                               "internal": "another internal team"}
CHANNEL_LABELS: dict[str, str] = {"in_app_chat": "In-app chat", "web_form": "Web form", "appeal_form": "Appeal form",
                                  "internal_form": "Internal form", "api": "API", "email": "E-mail"}
TIER_LABELS: dict[str, str] = {Tier.T1.value: "Tier 1", Tier.T2.value: "Tier 2", Tier.ONCALL.value: "Oncall",
                               Tier.APPEALS.value: "Appeals", Tier.INTERNAL.value: "Internal"}
LIST_CONDITIONS = ("channels", "priorities", "party_kinds", "tiers")  # chosen from checkboxes
TEXT_CONDITIONS = ("markets", "topics")  # typed, comma or space separated
SAVED = "Version {version} saved: new cases get these terms; open cases keep theirs."


# ---------------------------------------------------------------- policies in words


def duration_words(minutes: int) -> str:
    """90 -> "1 h 30 min"; 45 -> "45 min"; 2880 -> "48 h" (business days differ in length: hours it is)."""
    hours, rest = divmod(int(minutes), 60)
    if not hours:
        return f"{rest} min"
    return f"{hours} h" + (f" {rest} min" if rest else "")


def target_words(metric: str, target: Mapping[str, Any]) -> str:
    """ "first reply 1 h business" / "resolution 48 h 24x7"."""
    basis = "business" if target.get("business", True) else "24x7"
    return f"{METRIC_LABELS.get(metric, metric).lower()} {duration_words(int(target['minutes']))} {basis}"


def _condition_words(name: str, values: Sequence[str]) -> str:
    shown = [CHANNEL_LABELS.get(v, v) if name == "channels" else TIER_LABELS.get(v, v) if name == "tiers"
             else v.replace("_", " ") for v in values]
    verb = "is under" if name == "topics" else "is"
    return f"{CONDITION_LABELS[name]} {verb} {' or '.join(shown)}"


def _targets_by_priority(targets: Mapping[str, Mapping[str, Any]]) -> list[tuple[str, list[str]]]:
    """Each priority's targets in words, priorities with the same targets on one line ("Every priority"
    when all four have them)."""
    groups: dict[tuple[str, ...], list[str]] = {}
    for priority in policies.PRIORITIES:
        if targets.get(priority):
            words = tuple(target_words(m, targets[priority][m]) for m in METRIC_LABELS if m in targets[priority])
            groups.setdefault(words, []).append(priority)
    return [("Every priority" if len(names) == len(policies.PRIORITIES) else ", ".join(names).capitalize(),
             list(words)) for words, names in groups.items()]


@dataclass(frozen=True)
class PolicyRow:
    policy: SlaPolicy
    conditions: list[str]
    calendar: str
    warning: str
    pauses: str
    targets: list[tuple[str, list[str]]]  # (the priorities, their targets in words); alike priorities together


def policy_rows(rows: Sequence[SlaPolicy], calendar_names: Mapping[str, str]) -> list[PolicyRow]:
    out = []
    for policy in rows:
        conditions = [_condition_words(name, policy.conditions[name]) for name in CONDITION_LABELS
                      if policy.conditions.get(name)]
        calendar = calendar_names.get(policy.calendar_key, policy.calendar_key) if policy.calendar_key else \
            "Round the clock (UTC)"
        warning = (f"{duration_words(policy.warn_minutes_before)} before due" if policy.warn_minutes_before
                   else f"at {policy.warn_fraction:.0%} of the target")
        waits = " or ".join(WAIT_LABELS.get(w, w) for w in policy.pause_on)
        pauses = f"paused while waiting on {waits}" if waits else "never paused"
        out.append(PolicyRow(policy=policy, conditions=conditions, calendar=calendar, warning=warning,
                             pauses=pauses, targets=_targets_by_priority(policy.targets)))
    return out


# ---------------------------------------------------------------- the form


def _checked(form: FormData, name: str) -> bool:
    return form_text(form, name, max_chars=10) in ("1", "on", "true")


def _cell(priority: str, metric: str) -> str:
    return f"targets.{priority}.{metric}"


def form_values(form: FormData) -> dict[str, Any]:
    """What the person typed, kept as typed so a refused form shows it again."""
    values: dict[str, Any] = {
        "key": form_text(form, "key", max_chars=100).strip(), "name": form_text(form, "name", max_chars=200),
        "position": form_text(form, "position", max_chars=20).strip(),
        "is_active": _checked(form, "is_active"), "is_default": _checked(form, "is_default"),
        "calendar_key": form_text(form, "calendar_key", max_chars=100).strip(),
        "warn_fraction": form_text(form, "warn_fraction", max_chars=20).strip(),
        "warn_minutes_before": form_text(form, "warn_minutes_before", max_chars=20).strip(),
        "pause_on": form_list(form, "pause_on"),
    }
    for name in TEXT_CONDITIONS:
        values[f"conditions.{name}"] = form_text(form, f"conditions.{name}", max_chars=5000).strip()
    for name in LIST_CONDITIONS:
        values[f"conditions.{name}"] = form_list(form, f"conditions.{name}")
    for priority in policies.PRIORITIES:
        for metric in METRIC_LABELS:
            cell = _cell(priority, metric)
            values[f"{cell}.minutes"] = form_text(form, f"{cell}.minutes", max_chars=20).strip()
            values[f"{cell}.business"] = _checked(form, f"{cell}.business")
    return values


def values_of(policy: SlaPolicy | None) -> dict[str, Any]:
    """The form filled in with a policy (or a new one's defaults)."""
    if policy is None:
        values: dict[str, Any] = {"key": "", "name": "", "position": "100", "is_active": True, "is_default": False,
                                  "calendar_key": "", "warn_fraction": "0.75", "warn_minutes_before": "",
                                  "pause_on": ["customer"]}
        conditions: dict[str, Any] = {}
        targets: dict[str, Any] = {}
    else:
        values = {"key": policy.key, "name": policy.name, "position": str(policy.position),
                  "is_active": policy.is_active, "is_default": policy.is_default,
                  "calendar_key": policy.calendar_key or "", "warn_fraction": f"{policy.warn_fraction:g}",
                  "warn_minutes_before": str(policy.warn_minutes_before or ""), "pause_on": list(policy.pause_on)}
        conditions, targets = policy.conditions, policy.targets
    for name in TEXT_CONDITIONS:
        values[f"conditions.{name}"] = ", ".join(conditions.get(name, []))
    for name in LIST_CONDITIONS:
        values[f"conditions.{name}"] = list(conditions.get(name, []))
    for priority in policies.PRIORITIES:
        for metric in METRIC_LABELS:
            target = targets.get(priority, {}).get(metric)
            values[f"{_cell(priority, metric)}.minutes"] = str(target["minutes"]) if target else ""
            values[f"{_cell(priority, metric)}.business"] = bool(target.get("business", True)) if target else True
    return values


def policy_input(values: Mapping[str, Any], *, key: str) -> dict[str, Any]:
    """The API's body (``PolicyIn``) from the form: an empty target cell is no target."""
    targets: dict[str, dict[str, Any]] = {}
    for priority in policies.PRIORITIES:
        cells = {metric: {"minutes": values[f"{_cell(priority, metric)}.minutes"],
                          "business": values[f"{_cell(priority, metric)}.business"]}
                 for metric in METRIC_LABELS if values[f"{_cell(priority, metric)}.minutes"]}
        if cells:
            targets[priority] = cells
    conditions = {name: split_list(values[f"conditions.{name}"]) for name in TEXT_CONDITIONS}
    conditions["markets"] = [code.upper() for code in conditions["markets"]]
    conditions |= {name: list(values[f"conditions.{name}"]) for name in LIST_CONDITIONS}
    return {"key": key, "name": values["name"], "position": values["position"] or 100,
            "is_default": values["is_default"], "is_active": values["is_active"], "conditions": conditions,
            "calendar_key": values["calendar_key"] or None, "warn_fraction": values["warn_fraction"] or 0.75,
            "warn_minutes_before": values["warn_minutes_before"] or None, "pause_on": list(values["pause_on"]),
            "targets": targets}


def field_of(location: str) -> str:
    """The form field an error belongs to: ``targets.high.first_reply.minutes`` -> its target cell,
    ``pause_on[0]`` -> ``pause_on``, ``conditions.markets.2`` -> ``conditions.markets``."""
    parts = [part for part in re.sub(r"\[\d+\]", "", location).split(".") if part and not part.isdigit()]
    if len(parts) == 4 and parts[0] == "targets":
        parts = parts[:3]
    return ".".join(parts) or "form"


def validation_errors(error: ValidationError) -> dict[str, str]:
    """Pydantic's complaints, one per field, in words a person reads."""
    errors: dict[str, str] = {}
    for item in error.errors():
        field = field_of(".".join(str(part) for part in item.get("loc", ())))
        message = str(item.get("msg", "invalid")).removeprefix("Value error, ")
        if item.get("type") == "missing":
            message = "this field is required"
        errors.setdefault(field, message[:1].lower() + message[1:])
    return errors


def _form_page(request: Request, session: Session, actor: Actor, *, policy: SlaPolicy | None,
               values: Mapping[str, Any], errors: Mapping[str, str], status_code: int = 200) -> HTMLResponse:
    context = {
        "policy": policy, "values": values, "errors": errors, "priorities": policies.PRIORITIES,
        "metrics": list(METRIC_LABELS.items()),
        "open_cases": policies.open_cases_on(session, policy.id) if policy is not None else 0,
        "calendar_options": [(c.key, f"{c.name} ({'24x7' if c.always_open else c.time_zone})")
                             for c in calendars.list_calendars(session)],
        "channel_options": [(c.value, CHANNEL_LABELS.get(c.value, c.value)) for c in Channel],
        "priority_options": [(p, p.capitalize()) for p in policies.PRIORITIES],
        "party_options": [(k.value, k.value.capitalize()) for k in PartyKind],
        "tier_options": [(t.value, TIER_LABELS[t.value]) for t in Tier],
        "wait_options": [(w, f"Waiting on {label}") for w, label in WAIT_LABELS.items()],
        "condition_fields": [f"conditions.{name}" for name in CONDITION_LABELS],
    }
    return render_console(request, session, actor, "sla/policy_form.html", context, active="sla",
                          status_code=status_code)


def _save(request: Request, session: Session, actor: Actor, *, policy: SlaPolicy | None, values: dict[str, Any],
          save: Callable[[PolicyIn], SlaPolicy]) -> Response:
    key = policy.key if policy is not None else str(values["key"])
    try:
        data = PolicyIn.model_validate(policy_input(values, key=key))
    except ValidationError as error:
        return _form_page(request, session, actor, policy=policy, values=values, errors=validation_errors(error),
                          status_code=422)
    saved, refused = attempt(session, lambda: save(data))
    if refused is not None or saved is None:
        errors = {field_of(refused.field or "form"): refused.detail} if refused else {"form": "nothing was saved"}
        return _form_page(request, session, actor, policy=policy, values=values, errors=errors,
                          status_code=refused.status if refused else 422)
    return see_other(request, with_query(LIST_URL, notice="policy_saved", policy=saved.key))


# ---------------------------------------------------------------- routes


@router.get(LIST_URL)
def list_policies(request: Request, session: SessionDep, actor: Reader) -> HTMLResponse:
    rows = policies.list_policies(session)
    names = {c.key: c.name for c in calendars.list_calendars(session)}
    context: dict[str, Any] = {"rows": policy_rows(rows, names), "can_edit": actor.can(Perm.DIRECTORY_ADMIN)}
    if request.query_params.get("notice") == "policy_saved":
        # The text is ours; the address only names which policy's version to tell.
        saved = next((p for p in rows if p.key == request.query_params.get("policy")), None)
        if saved is not None:
            context["notice"] = SAVED.format(version=saved.version)
    return render_console(request, session, actor, "sla/policies.html", context, active="sla")


def edit_url(key: str) -> str:
    return f"{LIST_URL}/{key}/edit"  # a segment of its own: a policy may well be called "new"


@router.get(NEW_URL)
def new_policy_form(request: Request, session: SessionDep, actor: Admin) -> HTMLResponse:
    return _form_page(request, session, actor, policy=None, values=values_of(None), errors={})


@router.post(NEW_URL)
def create_policy(request: Request, form: FormDep, session: SessionDep, clock: ClockDep, actor: Admin) -> Response:
    return _save(request, session, actor, policy=None, values=form_values(form),
                 save=lambda data: policies.create_policy(session, data, now=clock.now()))


@router.get(f"{LIST_URL}/{{key}}/edit")
def edit_policy_form(request: Request, key: PolicyKey, session: SessionDep, actor: Admin) -> HTMLResponse:
    policy = policies.policy_by_key(session, key)
    return _form_page(request, session, actor, policy=policy, values=values_of(policy), errors={})


@router.post(f"{LIST_URL}/{{key}}/edit")
def update_policy(request: Request, key: PolicyKey, form: FormDep, session: SessionDep, clock: ClockDep,
                  actor: Admin) -> Response:
    policy = policies.policy_by_key(session, key)
    return _save(request, session, actor, policy=policy, values=form_values(form),
                 save=lambda data: policies.update_policy(session, policy, data, now=clock.now()))
