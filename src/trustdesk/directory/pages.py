"""Directory pages: an agent's presence toggle and the admin screens for markets, vendors, teams,
queues and agents. Forms become the API's pydantic schemas, so pages and API validate alike."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Path, Request
from fastapi.responses import HTMLResponse, Response
from pydantic import BaseModel, ValidationError
from sqlalchemy.orm import Session
from starlette.datastructures import FormData

from trustdesk.cases.models import Channel, PartyKind
from trustdesk.core.db import MAX_ID
from trustdesk.core.errors import Forbidden, Invalid
from trustdesk.core.identity import Actor, user_by_id
from trustdesk.core.permissions import Perm
from trustdesk.directory import page_queries, service, views
from trustdesk.directory.models import Agent, Market, Presence, Queue, Team, Tier
from trustdesk.directory.schemas import AgentIn, AgentOut, AgentUpdate, MarketIn, QueueIn, TeamIn, VendorIn
from trustdesk.web.deps import ClockDep, PageRequires, SessionDep
from trustdesk.web.pages import (
    FormDep,
    FormFailure,
    attempt,
    failure_from,
    failure_from_validation,
    form_list,
    form_text,
    is_htmx,
    render_console,
    see_other,
    split_list,
)
from trustdesk.web.templating import render

router = APIRouter(include_in_schema=False)
Admin = Annotated[Actor, Depends(PageRequires(Perm.DIRECTORY_ADMIN))]
PresenceSetter = Annotated[Actor, Depends(PageRequires(Perm.AGENT_PRESENCE))]
RowId = Annotated[int, Path(ge=1, le=MAX_ID)]

SECTIONS = [("markets", "Markets"), ("vendors", "Vendors"), ("teams", "Teams"), ("queues", "Queues"),
            ("agents", "Agents")]
TIER_LABELS = {Tier.T1: "Tier 1", Tier.T2: "Tier 2", Tier.ONCALL: "Oncall", Tier.APPEALS: "Appeals",
               Tier.INTERNAL: "Internal"}


# ---------------------------------------------------------------- presence


@router.post("/console/presence")
def set_presence(request: Request, form: FormDep, session: SessionDep, actor: PresenceSetter) -> Response:
    if actor.agent_id is None:
        raise Forbidden("only agents have a presence; ask an admin to set up your agent profile")
    value = form_text(form, "presence", max_chars=20)
    if value not in set(Presence):
        raise Invalid("choose online, away or offline", field="presence")
    agent = service.set_presence(session, service.agent_by_id(session, actor.agent_id), Presence(value))
    if is_htmx(request):
        return render(request, "directory/_presence.html", {"presence": agent.presence, "oob": True})
    return see_other(request, "/console?notice=presence_saved")


# ---------------------------------------------------------------- admin helpers


def _checked(form: FormData, name: str) -> bool:
    return form_text(form, name, max_chars=10) in ("1", "on", "true")


def _optional(value: str) -> str | None:
    return value.strip() or None


def _admin_page(request: Request, session: Session, actor: Actor, section: str, context: dict[str, Any], *,
                failure: FormFailure | None = None) -> HTMLResponse:
    ctx = {"section": section, "sections": SECTIONS, "failure": failure,
           "errors": failure.errors if failure else {}, "values": failure.values if failure else {}}
    ctx.update(context)
    return render_console(request, session, actor, f"directory/admin_{section}.html", ctx, active="admin",
                          status_code=failure.status if failure else 200)


def _create(request: Request, session: Session, actor: Actor, section: str, values: dict[str, Any],
            schema: type[BaseModel], save: Callable[[Any], object], context: Callable[[], dict[str, Any]],
            success_url: str) -> Response:
    """Build the schema from the form, call the service; on a refusal show the form again."""
    try:
        data = schema.model_validate(values)
    except ValidationError as error:
        return _admin_page(request, session, actor, section, context(),
                           failure=failure_from_validation(error, section, values))
    _done, refused = attempt(session, lambda: save(data))
    if refused is not None:
        return _admin_page(request, session, actor, section, context(),
                           failure=failure_from(refused, section, values))
    return see_other(request, success_url)


@dataclass(frozen=True)
class EditPage:
    """What the shared edit page shows about the row being edited."""

    item_id: int
    item_name: str
    item_kind: str
    item_sub: str = ""
    item_link: tuple[str, str] | None = None
    edit_hint: str = ""


def _edit_page(request: Request, session: Session, actor: Actor, section: str, page: EditPage,
               values: dict[str, Any], context: dict[str, Any], *, failure: FormFailure | None = None) -> HTMLResponse:
    ctx = {"section": section, "sections": SECTIONS, "section_label": dict(SECTIONS)[section],
           "values": failure.values if failure else values, "errors": failure.errors if failure else {},
           "failure": failure, **asdict(page), **context}
    return render_console(request, session, actor, "directory/admin_edit.html", ctx, active="admin",
                          status_code=failure.status if failure else 200)


def _save_edit(request: Request, session: Session, actor: Actor, section: str, page: EditPage,
               values: dict[str, Any], schema: type[BaseModel], save: Callable[[Any], object],
               context: Callable[[], dict[str, Any]]) -> Response:
    """Validate the edited form and save; on a refusal show it again with what was typed."""
    try:
        data = schema.model_validate(values)
    except ValidationError as error:
        return _edit_page(request, session, actor, section, page, values, context(),
                          failure=failure_from_validation(error, section, values))
    _done, refused = attempt(session, lambda: save(data))
    if refused is not None:
        return _edit_page(request, session, actor, section, page, values, context(),
                          failure=failure_from(refused, section, values))
    return see_other(request, f"/console/admin/{section}/{page.item_id}?notice=saved")


# ---------------------------------------------------------------- overview


@router.get("/console/admin")
def admin_home(request: Request, session: SessionDep, actor: Admin) -> HTMLResponse:
    counts = {
        "markets": len(service.list_markets(session)), "vendors": len(service.list_vendors(session)),
        "teams": len(service.list_teams(session)), "queues": len(service.queues_visible_to(session, actor)),
        "agents": len(service.list_agents(session)),
    }
    return render_console(request, session, actor, "directory/admin_home.html",
                          {"section": "", "sections": SECTIONS, "counts": counts}, active="admin")


# ---------------------------------------------------------------- markets


def _markets_context(session: Session) -> Callable[[], dict[str, Any]]:
    return lambda: {"markets": service.list_markets(session)}


@router.get("/console/admin/markets")
def admin_markets(request: Request, session: SessionDep, actor: Admin) -> HTMLResponse:
    return _admin_page(request, session, actor, "markets", _markets_context(session)())


def _market_values(form: FormData) -> dict[str, Any]:
    return {
        "code": form_text(form, "code", max_chars=20).upper(), "name": form_text(form, "name", max_chars=200),
        "time_zone": form_text(form, "time_zone", max_chars=100).strip(),
        "languages": split_list(form_text(form, "languages", max_chars=500)),
        "default_language": form_text(form, "default_language", max_chars=20).strip(),
        "currency": form_text(form, "currency", max_chars=10).strip().upper(),
        "region": form_text(form, "region", max_chars=20).strip().upper() or None,
        "routing_threshold": form_text(form, "routing_threshold", max_chars=20).strip() or None,
        "is_active": _checked(form, "is_active"),
    }


@router.post("/console/admin/markets")
def create_market(request: Request, form: FormDep, session: SessionDep, clock: ClockDep, actor: Admin) -> Response:
    return _create(request, session, actor, "markets", _market_values(form), MarketIn,
                   lambda data: service.create_market(session, data, now=clock.now()), _markets_context(session),
                   "/console/admin/markets?notice=created")


def _market_page(market: Market) -> EditPage:
    return EditPage(market.id, market.name, "market", item_sub=f"{market.code} · {market.time_zone}")


@router.get("/console/admin/markets/{market_id}")
def edit_market_form(request: Request, market_id: RowId, session: SessionDep, actor: Admin) -> HTMLResponse:
    market = service.market_by_id(session, market_id)
    values = {"code": market.code, "name": market.name, "time_zone": market.time_zone, "languages": market.languages,
              "default_language": market.default_language, "currency": market.currency,
              "region": market.region or "", "routing_threshold": market.routing_threshold,
              "is_active": market.is_active}
    return _edit_page(request, session, actor, "markets", _market_page(market), values, {})


@router.post("/console/admin/markets/{market_id}")
def edit_market(request: Request, market_id: RowId, form: FormDep, session: SessionDep, actor: Admin) -> Response:
    market = service.market_by_id(session, market_id)
    return _save_edit(request, session, actor, "markets", _market_page(market), _market_values(form), MarketIn,
                      lambda data: service.update_market(session, market, data), lambda: {})


# ---------------------------------------------------------------- vendors


def _vendors_context(session: Session) -> Callable[[], dict[str, Any]]:
    def build() -> dict[str, Any]:
        teams = service.list_teams(session)
        team_counts = {v.id: sum(1 for t in teams if t.vendor_id == v.id) for v in service.list_vendors(session)}
        return {"vendors": service.list_vendors(session), "team_counts": team_counts}
    return build


@router.get("/console/admin/vendors")
def admin_vendors(request: Request, session: SessionDep, actor: Admin) -> HTMLResponse:
    return _admin_page(request, session, actor, "vendors", _vendors_context(session)())


@router.post("/console/admin/vendors")
def create_vendor(request: Request, form: FormDep, session: SessionDep, clock: ClockDep, actor: Admin) -> Response:
    values = {"code": form_text(form, "code", max_chars=40), "name": form_text(form, "name", max_chars=200)}
    return _create(request, session, actor, "vendors", values, VendorIn,
                   lambda data: service.create_vendor(session, data, now=clock.now()), _vendors_context(session),
                   "/console/admin/vendors?notice=created")


# ---------------------------------------------------------------- teams


def _team_options(session: Session) -> dict[str, Any]:
    """What the team form offers (the add form and the edit page)."""
    return {"vendor_options": [(v.id, v.name) for v in service.list_vendors(session)],
            "tier_options": [(t.value, TIER_LABELS[t]) for t in Tier]}


def _teams_context(session: Session) -> Callable[[], dict[str, Any]]:
    def build() -> dict[str, Any]:
        options = _team_options(session)
        return {"teams": service.list_teams(session), "vendor_names": dict(options["vendor_options"]),
                "tier_labels": TIER_LABELS, **options}
    return build


@router.get("/console/admin/teams")
def admin_teams(request: Request, session: SessionDep, actor: Admin) -> HTMLResponse:
    return _admin_page(request, session, actor, "teams", _teams_context(session)())


def _team_values(form: FormData) -> dict[str, Any]:
    return {"key": form_text(form, "key", max_chars=80), "name": form_text(form, "name", max_chars=200),
            "tier": form_text(form, "tier", max_chars=20), "vendor_id": _optional(form_text(form, "vendor_id"))}


@router.post("/console/admin/teams")
def create_team(request: Request, form: FormDep, session: SessionDep, clock: ClockDep, actor: Admin) -> Response:
    return _create(request, session, actor, "teams", _team_values(form), TeamIn,
                   lambda data: service.create_team(session, data, now=clock.now()), _teams_context(session),
                   "/console/admin/teams?notice=created")


def _team_page(team: Team) -> EditPage:
    return EditPage(team.id, team.name, "team", item_sub=f"{team.key} · {TIER_LABELS[Tier(team.tier)]}")


@router.get("/console/admin/teams/{team_id}")
def edit_team_form(request: Request, team_id: RowId, session: SessionDep, actor: Admin) -> HTMLResponse:
    team = service.row_or_404(session, Team, team_id, "team")
    values = {"key": team.key, "name": team.name, "tier": team.tier,
              "vendor_id": str(team.vendor_id) if team.vendor_id else ""}
    return _edit_page(request, session, actor, "teams", _team_page(team), values, _team_options(session))


@router.post("/console/admin/teams/{team_id}")
def edit_team(request: Request, team_id: RowId, form: FormDep, session: SessionDep, actor: Admin) -> Response:
    team = service.row_or_404(session, Team, team_id, "team")
    return _save_edit(request, session, actor, "teams", _team_page(team), _team_values(form), TeamIn,
                      lambda data: service.update_team(session, team, data), lambda: _team_options(session))


# ---------------------------------------------------------------- queues


def _queue_options(session: Session, markets: Sequence[Market]) -> dict[str, Any]:
    """What the queue form offers (the add form and the edit page)."""
    return {
        "team_options": [(t.id, t.name) for t in service.list_teams(session)],
        "market_options": [(m.id, f"{m.name} ({m.code})") for m in markets],
        "channel_options": [(c.value, c.value.replace("_", " ")) for c in Channel],
        "kind_options": [(k.value, k.value) for k in PartyKind],
    }


def _queues_context(session: Session, actor: Actor) -> Callable[[], dict[str, Any]]:
    def build() -> dict[str, Any]:
        markets = service.list_markets(session)
        return {"queues": service.queues_visible_to(session, actor), "market_codes": {m.id: m.code for m in markets},
                **_queue_options(session, markets)}
    return build


@router.get("/console/admin/queues")
def admin_queues(request: Request, session: SessionDep, actor: Admin) -> HTMLResponse:
    return _admin_page(request, session, actor, "queues", _queues_context(session, actor)())


def _queue_values(form: FormData) -> dict[str, Any]:
    return {
        "key": form_text(form, "key", max_chars=80), "name": form_text(form, "name", max_chars=200),
        "team_id": form_text(form, "team_id", max_chars=20) or None,
        "market_id": _optional(form_text(form, "market_id", max_chars=20)),
        "intake_channels": form_list(form, "intake_channels"),
        "intake_party_kinds": form_list(form, "intake_party_kinds"),
        "intake_order": form_text(form, "intake_order", max_chars=10).strip() or "100",
        "auto_assign": _checked(form, "auto_assign"), "is_triage": _checked(form, "is_triage"),
        "is_active": _checked(form, "is_active"),
    }


@router.post("/console/admin/queues")
def create_queue(request: Request, form: FormDep, session: SessionDep, clock: ClockDep, actor: Admin) -> Response:
    return _create(request, session, actor, "queues", _queue_values(form), QueueIn,
                   lambda data: service.create_queue(session, data, now=clock.now()), _queues_context(session, actor),
                   "/console/admin/queues?notice=created")


def _queue_page(session: Session, queue: Queue) -> EditPage:
    counts = views.queue_counts(session, [(queue, service.team_by_id(session, queue.team_id))])[0]
    open_cases = counts.new + counts.open + counts.pending + counts.on_hold
    return EditPage(queue.id, queue.name, "queue",
                    item_sub=f"{queue.key} · {open_cases} open {'case' if open_cases == 1 else 'cases'} now",
                    item_link=(f"/console/queues/{queue.id}", "Open the queue"),
                    edit_hint="Changes apply to cases that arrive from now on; cases already in the queue stay "
                              "where they are.")


@router.get("/console/admin/queues/{queue_id}")
def edit_queue_form(request: Request, queue_id: RowId, session: SessionDep, actor: Admin) -> HTMLResponse:
    queue = service.queue_visible(session, actor, queue_id)[0]
    values = {
        "key": queue.key, "name": queue.name, "team_id": str(queue.team_id),
        "market_id": str(queue.market_id) if queue.market_id else "", "intake_channels": queue.intake_channels,
        "intake_party_kinds": queue.intake_party_kinds, "intake_order": str(queue.intake_order),
        "auto_assign": queue.auto_assign, "is_triage": queue.is_triage, "is_active": queue.is_active,
    }
    return _edit_page(request, session, actor, "queues", _queue_page(session, queue), values,
                      _queue_options(session, service.list_markets(session)))


@router.post("/console/admin/queues/{queue_id}")
def edit_queue(request: Request, queue_id: RowId, form: FormDep, session: SessionDep, actor: Admin) -> Response:
    queue = service.queue_visible(session, actor, queue_id)[0]
    return _save_edit(request, session, actor, "queues", _queue_page(session, queue), _queue_values(form), QueueIn,
                      lambda data: service.update_queue(session, queue, data),
                      lambda: _queue_options(session, service.list_markets(session)))


# ---------------------------------------------------------------- agents


def _agents_context(session: Session) -> Callable[[], dict[str, Any]]:
    def build() -> dict[str, Any]:
        teams = service.list_teams(session)
        vendors = service.list_vendors(session)
        return {
            "agents": views.agent_outs(session, service.list_agents(session)),
            "team_names": {t.id: t.name for t in teams}, "vendor_names": {v.id: v.name for v in vendors},
            "team_options": [(t.id, t.name) for t in teams], "vendor_options": [(v.id, v.name) for v in vendors],
            "user_options": [(u.id, f"{u.display_name} ({u.email})")
                             for u in page_queries.users_who_may_become_agents(session)],
        }
    return build


@router.get("/console/admin/agents")
def admin_agents(request: Request, session: SessionDep, actor: Admin) -> HTMLResponse:
    return _admin_page(request, session, actor, "agents", _agents_context(session)())


@router.post("/console/admin/agents")
def create_agent(request: Request, form: FormDep, session: SessionDep, clock: ClockDep, actor: Admin) -> Response:
    values = {
        "user_id": form_text(form, "user_id", max_chars=20) or None,
        "vendor_id": _optional(form_text(form, "vendor_id", max_chars=20)),
        "languages": split_list(form_text(form, "languages", max_chars=500)),
        "skills": split_list(form_text(form, "skills", max_chars=2000)),
        "capacity": form_text(form, "capacity", max_chars=10).strip() or "10",
        "team_ids": form_list(form, "team_ids"),
    }
    return _create(request, session, actor, "agents", values, AgentIn,
                   lambda data: service.create_agent(session, data, now=clock.now()), _agents_context(session),
                   "/console/admin/agents?notice=created")


def _agent_values(form: FormData) -> dict[str, Any]:
    return {"languages": split_list(form_text(form, "languages", max_chars=500)),
            "skills": split_list(form_text(form, "skills", max_chars=2000)),
            "capacity": form_text(form, "capacity", max_chars=10).strip() or None,
            "team_ids": form_list(form, "team_ids"), "presence": form_text(form, "presence", max_chars=20) or None}


def _agent_page(session: Session, agent: Agent) -> tuple[EditPage, dict[str, Any], AgentOut]:
    """The edit page's header and what its form offers: a vendor's agent may only join that vendor's teams."""
    out = views.agent_outs(session, [(agent, user_by_id(session, agent.user_id))])[0]
    vendor = service.vendor_by_id(session, agent.vendor_id) if agent.vendor_id else None
    cases = "case" if out.open_cases == 1 else "cases"
    page = EditPage(agent.id, out.display_name, "agent",
                    item_sub=f"{vendor.name if vendor else 'In-house'} · {out.open_cases} open {cases} now")
    teams = service.list_teams(session)
    options = {
        "vendor": vendor, "presence_options": [(p.value, p.value.capitalize()) for p in Presence],
        "team_options": [(t.id, t.name) for t in teams if agent.vendor_id is None or t.vendor_id == agent.vendor_id],
        "fields_template": "directory/_agent_edit_fields.html",
    }
    return page, options, out


@router.get("/console/admin/agents/{agent_id}")
def edit_agent_form(request: Request, agent_id: RowId, session: SessionDep, actor: Admin) -> HTMLResponse:
    agent = service.row_or_404(session, Agent, agent_id, "agent")
    page, options, out = _agent_page(session, agent)
    values = {"languages": out.languages, "skills": out.skills, "capacity": str(out.capacity),
              "team_ids": [str(t) for t in out.team_ids], "presence": out.presence.value}
    return _edit_page(request, session, actor, "agents", page, values, options)


@router.post("/console/admin/agents/{agent_id}")
def edit_agent(request: Request, agent_id: RowId, form: FormDep, session: SessionDep, actor: Admin) -> Response:
    agent = service.row_or_404(session, Agent, agent_id, "agent")
    page, options, _out = _agent_page(session, agent)
    return _save_edit(request, session, actor, "agents", page, _agent_values(form), AgentUpdate,
                      lambda data: service.update_agent(session, agent, data), lambda: options)
