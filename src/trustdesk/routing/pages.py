"""Console pages of routing: how well cases are routed (misroutes, their causes and a replayed
recovery plan), the rule set (drafts written as YAML, simulated on recent cases, published), the
topic models (activate, roll back), and each signed-in user's notifications.

Handlers are thin: they read the form, call routing's services and render. A refused change
(Invalid, Conflict) runs in a savepoint, so nothing of it is kept, and is shown on the page.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Annotated, Any

import yaml
from fastapi import APIRouter, Depends, Path, Query, Request
from fastapi.responses import HTMLResponse, Response
from sqlalchemy.orm import Session

from trustdesk.core import notifications
from trustdesk.core.db import MAX_ID
from trustdesk.core.errors import DomainError
from trustdesk.core.identity import Actor
from trustdesk.core.permissions import Perm
from trustdesk.core.settings import Settings
from trustdesk.directory import page_queries
from trustdesk.routing import analysis, registry, rules, service, simulation
from trustdesk.routing.models import ModelStatus, RuleSet, RuleSetStatus
from trustdesk.web.deps import ClockDep, PageRequires, SessionDep, SettingsDep
from trustdesk.web.pages import FormDep, attempt, form_text, render_console, safe_next, see_other, with_query

router = APIRouter(include_in_schema=False)
Reader = Annotated[Actor, Depends(PageRequires(Perm.ROUTING_READ, in_house=True))]
Admin = Annotated[Actor, Depends(PageRequires(Perm.ROUTING_ADMIN, in_house=True))]
SignedIn = Annotated[Actor, Depends(PageRequires(Perm.SELF))]
Version = Annotated[int, Path(ge=1, le=MAX_ID)]
RowId = Annotated[int, Path(ge=1, le=MAX_ID)]

PERIODS = (7, 14, 28, 90)
SIMULATION_PERIODS = (7, 14, 28, 90)  # simulation replays at most 90 days
MAX_RULES_TEXT = 200_000
BREAKDOWNS: dict[str, str] = {
    "topic": "Topic", "market": "Market", "channel": "Channel", "source": "Decision source", "rule": "Rule",
    "catalogue_entry": "Catalogue entry", "model_version": "Model version", "confidence_band": "Model confidence",
    "first_team": "First team",
}
CAUSE_KINDS: dict[str, str] = {"rule": "rule", "catalogue": "catalogue", "model": "model",
                               "catalogue_gap": "catalogue gap", "explicit": "named queue"}
PLAN_KINDS: dict[str, str] = {"catalogue": "catalogue", "rule": "rule", "new_rule": "new rule",
                              "threshold": "threshold", "retrain": "retrain"}
OPERATORS: dict[str, str] = {
    "eq": "is", "ne": "is not", "in": "is one of", "not_in": "is none of", "contains": "contains",
    "not_contains": "does not contain", "matches": "matches", "under": "is under", "exists": "is set",
    "missing": "is missing", "gt": ">", "gte": "≥", "lt": "<", "lte": "≤",
}


# ---------------------------------------------------------------- shaping for the templates


def period_options(days: int, choices: Sequence[int] = PERIODS) -> list[tuple[int, str]]:
    """The period select: the usual choices, plus the one in the address when it is another."""
    values = sorted({*choices, days})
    return [(d, f"Last {d} days" if d != 1 else "Last day") for d in values]


@dataclass(frozen=True)
class Matrix:
    """Where routed cases ended: routed team (rows) by final team (columns); the diagonal was right."""

    teams: list[str]
    counts: dict[tuple[str, str], int]

    def cell(self, routed: str, final: str) -> int:
        return self.counts.get((routed, final), 0)

    def row_total(self, routed: str) -> int:
        return sum(n for (a, _b), n in self.counts.items() if a == routed)

    @property
    def routed_teams(self) -> list[str]:
        return [t for t in self.teams if self.row_total(t)]


def confusion_matrix(rows: Iterable[Mapping[str, Any]]) -> Matrix:
    counts = {(str(r["routed_team"]), str(r["final_team"])): int(r["cases"]) for r in rows}
    teams = sorted({team for pair in counts for team in pair})
    return Matrix(teams=teams, counts=counts)


def _value_text(value: Any) -> str:
    if isinstance(value, list | tuple):
        return ", ".join(str(v) for v in value)
    return str(value)


def describe_condition(condition: Mapping[str, Any]) -> str:
    """``{"field": "market", "op": "in", "value": ["US", "CA"]}`` -> ``market is one of US, CA``."""
    if "any" in condition:
        return "any of (" + "; ".join(describe_condition(c) for c in condition["any"]) + ")"
    words = f"{condition.get('field')} {OPERATORS.get(str(condition.get('op')), condition.get('op'))}"
    if "value" not in condition:
        return words
    value = condition["value"]
    return f"{words} /{value}/" if condition.get("op") == "matches" else f"{words} {_value_text(value)}"


def describe_actions(then: Mapping[str, Any]) -> list[str]:
    out = []
    for key, value in then.items():
        if key == "add_tags":
            out.append(f"add tags {_value_text(value)}")
        elif key == "remove_tags":
            out.append(f"remove tags {_value_text(value)}")
        else:
            out.append(f"{key} → {_value_text(value)}")
    return out


@dataclass(frozen=True)
class RuleRow:
    id: str
    version: int
    name: str
    conditions: list[str]
    actions: list[str]
    stop: bool
    enabled: bool


def rule_rows(stored: Sequence[Mapping[str, Any]]) -> list[RuleRow]:
    return [RuleRow(id=str(r["id"]), version=int(r.get("version", 1)), name=str(r.get("name", r["id"])),
                    conditions=[describe_condition(c) for c in r.get("when", [])],
                    actions=describe_actions(r.get("then", {})), stop=bool(r.get("stop")),
                    enabled=bool(r.get("enabled", True))) for r in stored]


@dataclass(frozen=True)
class DraftChanges:
    """What a draft does differently from the rules in force, by rule id."""

    added: list[str]
    changed: list[str]
    removed: list[str]
    reordered: bool

    @property
    def any(self) -> bool:
        return bool(self.added or self.changed or self.removed or self.reordered)


def draft_changes(in_force: Sequence[Mapping[str, Any]], draft: Sequence[Mapping[str, Any]]) -> DraftChanges:
    before = {r.id: r for r in rules.load(in_force)}
    after = rules.load(draft)
    kept_before = [rule_id for rule_id in before if rule_id in {r.id for r in after}]
    return DraftChanges(added=[r.id for r in after if r.id not in before],
                        changed=[r.id for r in after if r.id in before and not rules.same(before[r.id], r)],
                        removed=[rule_id for rule_id in before if rule_id not in {r.id for r in after}],
                        reordered=[r.id for r in after if r.id in before] != kept_before)


def rules_as_yaml(stored: Sequence[Mapping[str, Any]]) -> str:
    """A stored rule set as the YAML a person edits (versions and default flags left out)."""
    editable = []
    for rule in stored:
        item = {k: v for k, v in rule.items() if k != "version"}
        if item.get("name") == item.get("id"):
            item.pop("name")
        if item.get("stop") is False:
            item.pop("stop")
        if item.get("enabled") is True:
            item.pop("enabled")
        editable.append(item)
    return yaml.safe_dump(editable, sort_keys=False, allow_unicode=True, default_flow_style=None, width=100)


def error_text(error: DomainError) -> str:
    """A refusal as shown next to the rules editor: the field it names (``rules[0].then.team``) first."""
    return error.detail if error.field in (None, "rules_yaml") else f"in {error.field}: {error.detail}"


# ---------------------------------------------------------------- the quality report


@router.get("/console/routing")
def quality_page(request: Request, session: SessionDep, clock: ClockDep, settings: SettingsDep, actor: Reader,
                 days: Annotated[int, Query(ge=1, le=365)] = 28) -> HTMLResponse:
    now = clock.now()
    report = analysis.report(session, since=now - timedelta(days=days), until=now, settings=settings)
    context = {"section": "quality", "report": report, "days": days, "period_options": period_options(days),
               "matrix": confusion_matrix(report["confusion"]), "breakdown_labels": BREAKDOWNS,
               "cause_kinds": CAUSE_KINDS, "plan_kinds": PLAN_KINDS}
    return render_console(request, session, actor, "routing/quality.html", context, active="routing")


# ---------------------------------------------------------------- rules


def _rules_page(request: Request, session: Session, actor: Actor, *, editor: dict[str, str] | None = None,
                errors: dict[str, str] | None = None, simulated: dict[str, Any] | None = None,
                simulate_errors: dict[int, str] | None = None, failure: str | None = None,
                status_code: int = 200) -> HTMLResponse:
    sets = service.rule_sets(session)
    published = next((s for s in sets if s.status == RuleSetStatus.PUBLISHED.value), None)
    drafts = [s for s in sets if s.status == RuleSetStatus.DRAFT.value]
    people = page_queries.user_names(session, (uid for s in sets for uid in (s.author_user_id, s.publisher_user_id)))
    if editor is None:
        editor = {"rules_yaml": rules_as_yaml(published.rules) if published and published.rules else "", "note": ""}
    context = {
        "section": "rules", "published": published, "published_rules": rule_rows(published.rules) if published else [],
        "drafts": [(d, rule_rows(d.rules), draft_changes(published.rules if published else [], d.rules))
                   for d in drafts],
        "history": sets, "people": people,
        "can_admin": actor.can(Perm.ROUTING_ADMIN), "editor": editor, "errors": errors or {},
        "simulated": simulated, "simulate_errors": simulate_errors or {}, "failure": failure,
        "simulation_options": period_options(14, SIMULATION_PERIODS),
    }
    return render_console(request, session, actor, "routing/rules.html", context, active="routing-rules",
                          status_code=status_code)


@router.get("/console/routing/rules")
def rules_page(request: Request, session: SessionDep, actor: Reader) -> HTMLResponse:
    return _rules_page(request, session, actor)


@router.post("/console/routing/rules")
def save_rules(request: Request, form: FormDep, session: SessionDep, clock: ClockDep, actor: Admin) -> Response:
    text = form_text(form, "rules_yaml", max_chars=MAX_RULES_TEXT)
    note = form_text(form, "note", max_chars=1000).strip()
    draft, error = attempt(session, lambda: service.save_draft(session, rules.read_yaml(text), author=actor,
                                                               now=clock.now(), note=note or None))
    if error is not None:
        return _rules_page(request, session, actor, editor={"rules_yaml": text, "note": note},
                           errors={"rules_yaml": error_text(error)}, status_code=error.status)
    assert draft is not None
    return see_other(request, with_query("/console/routing/rules", notice="draft_saved") + f"#draft-{draft.version}")


def _simulation_days(value: str) -> int:
    """The form's text as a number; the simulation itself says which periods it takes."""
    return int(value) if value.strip().isdigit() and len(value.strip()) <= 3 else 0


def _simulate(session: Session, draft: RuleSet, days_text: str, *, now: datetime,
              settings: Settings) -> dict[str, Any]:
    return simulation.simulate(session, draft, days=_simulation_days(days_text), now=now, settings=settings)


@router.post("/console/routing/rules/{version}/simulate")
def simulate_rules(request: Request, version: Version, form: FormDep, session: SessionDep, clock: ClockDep,
                   settings: SettingsDep, actor: Admin) -> HTMLResponse:
    draft = service.rule_set_by_version(session, version)
    result, error = attempt(session, lambda: _simulate(session, draft, form_text(form, "days", max_chars=10),
                                                       now=clock.now(), settings=settings))
    if error is not None:
        return _rules_page(request, session, actor, simulate_errors={version: error.detail}, status_code=error.status)
    return _rules_page(request, session, actor, simulated=result)


@router.post("/console/routing/rules/{version}/publish")
def publish_rules(request: Request, version: Version, session: SessionDep, clock: ClockDep,
                  actor: Admin) -> Response:
    draft = service.rule_set_by_version(session, version)
    _done, error = attempt(session, lambda: service.publish(session, draft, publisher=actor, now=clock.now()))
    if error is not None:
        return _rules_page(request, session, actor, failure=error.detail, status_code=error.status)
    return see_other(request, with_query("/console/routing/rules", notice="rules_published"))


# ---------------------------------------------------------------- models


def _models_page(request: Request, session: Session, actor: Actor, *, failure: str | None = None,
                 status_code: int = 200) -> HTMLResponse:
    models = registry.models(session)
    context = {"section": "models", "models": models, "can_admin": actor.can(Perm.ROUTING_ADMIN),
               "has_active": any(m.status == ModelStatus.ACTIVE.value for m in models), "failure": failure}
    return render_console(request, session, actor, "routing/models.html", context, active="routing-models",
                          status_code=status_code)


@router.get("/console/routing/models")
def models_page(request: Request, session: SessionDep, actor: Reader) -> HTMLResponse:
    return _models_page(request, session, actor)


@router.post("/console/routing/models/{version}/activate")
def activate_model(request: Request, version: Version, session: SessionDep, clock: ClockDep, settings: SettingsDep,
                   actor: Admin) -> Response:
    model = registry.model_by_version(session, version)
    _done, error = attempt(session, lambda: registry.activate(session, model, settings=settings, now=clock.now()))
    if error is not None:
        return _models_page(request, session, actor, failure=error.detail, status_code=error.status)
    return see_other(request, with_query("/console/routing/models", notice="model_activated"))


@router.post("/console/routing/models/rollback")
def rollback_model(request: Request, session: SessionDep, clock: ClockDep, settings: SettingsDep,
                   actor: Admin) -> Response:
    _done, error = attempt(session, lambda: registry.rollback(session, settings=settings, now=clock.now()))
    if error is not None:
        return _models_page(request, session, actor, failure=error.detail, status_code=error.status)
    return see_other(request, with_query("/console/routing/models", notice="model_rolled_back"))


# ---------------------------------------------------------------- notifications


@dataclass(frozen=True)
class NotificationRow:
    id: int
    title: str
    body: str
    link: str | None  # a local path only: a stored link never sends anyone to another site
    repeats: int
    created_at: datetime
    updated_at: datetime
    unread: bool


@router.get("/console/notifications")
def notifications_page(request: Request, session: SessionDep, actor: SignedIn) -> HTMLResponse:
    rows = [NotificationRow(id=n.id, title=n.title, body=n.body, link=safe_next(n.link), repeats=n.repeats,
                            created_at=n.created_at, updated_at=n.updated_at, unread=n.read_at is None)
            for n in notifications.inbox(session, actor.user_id)]
    rows.sort(key=lambda row: not row.unread)  # unread first, each part newest first (sort is stable)
    context = {"items": rows, "unread": sum(row.unread for row in rows)}
    return render_console(request, session, actor, "routing/notifications.html", context, active="notifications")


@router.post("/console/notifications/read")
def mark_all_read(request: Request, session: SessionDep, clock: ClockDep, actor: SignedIn) -> Response:
    notifications.mark_read(session, actor.user_id, None, now=clock.now())
    return see_other(request, with_query("/console/notifications", notice="marked_read"))


@router.post("/console/notifications/{notification_id}/read")
def mark_read(request: Request, notification_id: RowId, session: SessionDep, clock: ClockDep,
              actor: SignedIn) -> Response:
    notifications.mark_read(session, actor.user_id, notification_id, now=clock.now())
    return see_other(request, with_query("/console/notifications", notice="marked_read"))
