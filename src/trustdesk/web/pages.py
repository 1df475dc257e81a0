"""The console and help center shell: sign in and out, the home redirect, and the helpers every page uses
(the console's navigation, form reading, notices, htmx-aware redirects, inline form errors)."""

from __future__ import annotations

import re
import secrets
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Annotated, Any, TypeVar
from urllib.parse import urlencode, urlsplit

from fastapi import APIRouter, Depends, Query, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from pydantic import ValidationError
from sqlalchemy.orm import Session
from starlette.datastructures import FormData

from trustdesk.core import identity, notifications
from trustdesk.core.errors import Conflict, DomainError, Invalid
from trustdesk.core.identity import Actor
from trustdesk.core.permissions import Perm, Role
from trustdesk.directory import catalogue
from trustdesk.directory import service as directory
from trustdesk.directory import views as directory_views
from trustdesk.web.deps import (
    CSRF_COOKIE,
    SESSION_COOKIE,
    SessionDep,
    SettingsDep,
    optional_actor,
    public,
    session_cookie_value,
)
from trustdesk.web.templating import render

router = APIRouter(include_in_schema=False)
T = TypeVar("T")

# Messages shown after a redirect. Only these fixed texts are ever shown: the query string picks one,
# it never carries text of its own.
NOTICES: dict[str, str] = {
    "signed_out": "You have signed out.",
    "reply_sent": "Your reply was sent.",
    "note_added": "Internal note added.",
    "status_changed": "Status updated.",
    "assigned": "Assignee updated.",
    "rerouted": "The case was rerouted.",
    "rerouted_away": "The case was rerouted to a queue outside your scope.",
    "nothing_waiting": "Nothing is waiting in this queue for you right now.",
    "claimed": "The case is yours now.",
    "presence_saved": "Your presence was updated.",
    "saved": "Saved.",
    "created": "Created.",
    "approved": "Approved: the change is in force from its start time.",
    "rejected": "Rejected: the catalogue is unchanged.",
    "case_created": "We have received your request.",
    "request_filed": "Your request was filed.",
    "draft_saved": "Draft saved. Simulate it on recent cases, then publish it.",
    "rules_published": "Published: new cases are routed by this rule set from now on.",
    "model_activated": "Activated: new cases are routed with this model from now on.",
    "model_rolled_back": "Rolled back: the model in use before is routing again.",
    "marked_read": "Marked as read.",
    "override_added": "Override added: the final schedule below includes it.",
    "override_removed": "Override removed.",
    "swap_added": "Swap recorded: the final schedule below includes it.",
    "feed_revoked": "Revoked: that calendar link no longer works.",
    "acknowledged": "Acknowledged: the escalation stopped paging.",
    "page_acknowledged": "Acknowledged.",
    "schedule_saved": "Saved: the final schedule below follows the new layers from now on.",
    "ladder_saved": "Saved: escalations that start from now on follow it; running ones keep their copy.",
    "escalated": "Escalated: the ladder is running; see the case's escalation panel.",
    "escalation_resolved": "The escalation has ended.",
    "crisis_declared": "Crisis declared: the oncall has been paged.",
    "crisis_updated": "Update posted.",
    "case_linked": "Case linked to the crisis.",
    "kb_draft_saved": "Draft saved. Send it to review when it is ready.",
    "kb_submitted": "Sent to review: someone else with the publish permission reviews it.",
    "kb_published": "Published: the help center and its search show it now.",
    "kb_rejected": "Sent back to the author with your comment.",
}
REFERENCE = re.compile(r"^ID-\d{4}-\d{6,10}$")

# ---------------------------------------------------------------- request helpers


async def read_form(request: Request) -> FormData:
    """The submitted form (parsed once; the CSRF check has read it already)."""
    return await request.form()


FormDep = Annotated[FormData, Depends(read_form)]
MaybeActor = Annotated[Actor | None, Depends(optional_actor)]


def form_text(form: FormData, name: str, *, max_chars: int = 50_000) -> str:
    value = form.get(name)
    return value[:max_chars] if isinstance(value, str) else ""


def form_list(form: FormData, name: str) -> list[str]:
    return [v for v in form.getlist(name) if isinstance(v, str) and v]


def split_list(value: str) -> list[str]:
    """``"en, es  pt-BR"`` -> ``["en", "es", "pt-BR"]``: comma or space separated, blanks dropped."""
    return [part for part in re.split(r"[\s,]+", value.strip()) if part]


def parse_id(value: str) -> int | None:
    value = value.strip()
    return int(value) if value.isdigit() and 0 < int(value) < 2**31 else None


def is_htmx(request: Request) -> bool:
    """An htmx request that wants a fragment (a history restore wants the whole page)."""
    return bool(request.headers.get("hx-request")) and not request.headers.get("hx-history-restore-request")


def htmx_target(request: Request) -> str:
    return request.headers.get("hx-target", "") if is_htmx(request) else ""


def safe_next(value: str | None) -> str | None:
    """A local path to go to after signing in, or None (never another site, never back to login)."""
    if not value or len(value) > 2000 or any(ch in value for ch in "\\\r\n\t") or not value.startswith("/"):
        return None
    parts = urlsplit(value)
    if parts.scheme or parts.netloc or value.startswith("//") or parts.path in ("/login", "/logout"):
        return None
    return value


def home_for(actor: Actor | None) -> str:
    if actor is None:
        return "/help"
    if actor.role is Role.INTERNAL_REQUESTER:
        return "/internal/requests/new"
    if actor.is_agent and actor.can(Perm.QUEUE_READ):
        return "/console"
    return "/help"


def with_query(path: str, **params: str | int | None) -> str:
    query = urlencode({k: v for k, v in params.items() if v not in (None, "")})
    return f"{path}?{query}" if query else path


def see_other(request: Request, url: str, *, full_page: bool = False) -> Response:
    """303 to ``url``. htmx follows it and swaps the fragment the target asks for; ``full_page`` makes
    htmx navigate the whole window instead (the page it swapped into is no longer the right one)."""
    if full_page and is_htmx(request):
        return Response(status_code=200, headers={"HX-Redirect": url})
    return RedirectResponse(url, status_code=303)


def notice(request: Request) -> str | None:
    key = request.query_params.get("notice", "")
    return NOTICES.get(key)


def notice_reference(request: Request) -> str | None:
    ref = request.query_params.get("ref", "")
    return ref if REFERENCE.match(ref) else None


# ---------------------------------------------------------------- inline form errors


@dataclass
class FormFailure:
    """A refused form, shown again with what was typed and each problem next to its field."""

    form: str
    status: int
    values: dict[str, Any] = field(default_factory=dict)
    errors: dict[str, str] = field(default_factory=dict)

    @property
    def summary(self) -> str:
        count = len(self.errors)
        return "Please correct the field below." if count == 1 else f"Please correct the {count} fields below."


def failure_from(error: DomainError, form: str, values: dict[str, Any]) -> FormFailure:
    return FormFailure(form=form, status=error.status, values=values, errors={error.field or "form": error.detail})


FRIENDLY_PATTERNS: dict[str, str] = {
    "code": "use letters, digits, dot, dash or underscore (starting with a letter or digit)",
    "key": "use letters, digits, dot, dash or underscore (starting with a letter or digit)",
    "languages": "use language codes such as en, es or pt-BR",
    "default_language": "use a language code such as en or pt-BR",
    "currency": "use a three-letter currency code in capitals, such as USD",
}


def failure_from_validation(error: ValidationError, form: str, values: dict[str, Any]) -> FormFailure:
    """Pydantic's errors, one per field, in words a person reads."""
    errors: dict[str, str] = {}
    for item in error.errors():
        loc = [str(part) for part in item.get("loc", ()) if not isinstance(part, int)]
        name = loc[0] if loc else "form"
        if name in errors:
            continue
        message = str(item.get("msg", "invalid"))
        kind = item.get("type", "")
        if kind == "string_pattern_mismatch" and name in FRIENDLY_PATTERNS:
            message = FRIENDLY_PATTERNS[name]
        elif kind == "missing" or (kind in ("string_too_short", "too_short") and item.get("input") in ("", [], None)):
            message = "this field is required"
        elif message.startswith("Value error, "):
            message = message.removeprefix("Value error, ")
        errors[name] = message[:1].lower() + message[1:] if message else "invalid"
    return FormFailure(form=form, status=422, values=values, errors=errors)


def attempt(session: Session, work: Callable[[], T]) -> tuple[T | None, DomainError | None]:
    """Run a service call in a savepoint; a refusal (Invalid, Conflict) leaves nothing half-written
    and comes back as the error to show in the form, so the person keeps what they typed."""
    try:
        with session.begin_nested():
            return work(), None
    except (Invalid, Conflict) as error:
        return None, error


# ---------------------------------------------------------------- console layout


@dataclass
class NavItem:
    label: str
    href: str
    key: str
    count: int | None = None
    count_label: str = ""  # what the count counts, for screen readers ("unread")


def console_nav(session: Session, actor: Actor) -> dict[str, Any]:
    """The console's left navigation: only what this actor may open."""
    main: list[NavItem] = []
    if actor.can(Perm.QUEUE_READ):
        main.append(NavItem("Dashboard", "/console", "dashboard"))
    queues: list[NavItem] = []
    if actor.can(Perm.QUEUE_READ):
        counts = directory_views.queue_counts(session, [
            (q, t) for q, t in directory.queues_visible_to(session, actor) if q.is_active])
        queues = [NavItem(c.queue.name, f"/console/queues/{c.queue.id}", f"queue-{c.queue.id}", c.unassigned)
                  for c in counts]
    if actor.can(Perm.INSIGHTS_READ) and actor.vendor_id is None:  # in-house: the figures count every vendor's work
        main.append(NavItem("Insights", "/console/insights", "insights"))
    more: list[NavItem] = [NavItem("Notifications", "/console/notifications", "notifications",
                                   notifications.unread_count(session, actor.user_id), "unread")]
    if actor.can(Perm.CASE_REPLY):
        more.append(NavItem("Response templates", "/console/templates", "templates"))
    if catalogue.may_read(actor):
        more.append(NavItem("Service catalogue", "/console/catalogue", "catalogue"))
    if actor.can(Perm.ROUTING_READ) and actor.vendor_id is None:  # in-house, like the catalogue it explains
        more.append(NavItem("Routing", "/console/routing", "routing"))
    if actor.can(Perm.DIRECTORY_READ):  # the targets agents work to (vendors' agents too)
        more.append(NavItem("Service levels", "/console/sla/policies", "sla"))
    if actor.can(Perm.ONCALL_READ):
        more.append(NavItem("Oncall", "/console/oncall", "oncall"))
    if actor.can(Perm.APPEALS_READ) and actor.vendor_id is None:  # in-house: enforcement decisions
        from trustdesk.appeals.repository import count_open_appeals

        more.append(NavItem("Appeals", "/console/appeals", "appeals", count_open_appeals(session), "open"))
    if actor.can(Perm.KB_EDIT) and actor.vendor_id is None:  # in-house: articles serve every market
        more.append(NavItem("Knowledge base", "/console/kb", "kb"))
    if actor.can(Perm.TEMPLATES_EDIT):
        more.append(NavItem("Suggested replies", "/console/assist/acceptance", "assist"))
    if actor.can(Perm.FEEDBACK_ADMIN) and actor.vendor_id is None:  # in-house: what customers are asked
        more.append(NavItem("Surveys", "/console/feedback/surveys", "surveys"))
    if actor.can(Perm.FEEDBACK_ADMIN) and actor.vendor_id is None:  # in-house: rules that flag any market's cases
        more.append(NavItem("Sentiment", "/console/feedback/sentiment", "sentiment"))
    if actor.can(Perm.QA_REVIEW) and actor.vendor_id is None:  # in-house: the platform reviews vendors' work too
        more.append(NavItem("Quality reviews", "/console/qa", "qa"))
    if actor.agent_id is not None:  # every agent reads the reviews of their own work
        from trustdesk.feedback.qa import unacknowledged_notes

        more.append(NavItem("My coaching", "/console/me/coaching", "coaching",
                            unacknowledged_notes(session, actor.agent_id), "to acknowledge"))
    if actor.can(Perm.DIRECTORY_ADMIN):
        more.append(NavItem("Administration", "/console/admin", "admin"))
    if actor.can(Perm.INTERNAL_REQUEST):
        more.append(NavItem("New internal request", "/internal/requests/new", "internal"))
    more.append(NavItem("Help center", "/help", "help"))
    presence = None
    if actor.agent_id is not None and actor.can(Perm.AGENT_PRESENCE):
        presence = directory.agent_by_id(session, actor.agent_id).presence
    return {"nav_main": main, "nav_queues": queues, "nav_more": more, "presence": presence}


def render_console(request: Request, session: Session, actor: Actor, name: str, context: dict[str, Any], *,
                   active: str, status_code: int = 200) -> HTMLResponse:
    ctx = {**console_nav(session, actor), "active": active, "notice": notice(request),
           "notice_ref": notice_reference(request)}
    ctx.update(context)
    return render(request, name, ctx, status_code=status_code)


def render_help(request: Request, name: str, context: dict[str, Any], *, active: str,
                status_code: int = 200) -> HTMLResponse:
    ctx = {"active": active, "notice": notice(request), "notice_ref": notice_reference(request)}
    ctx.update(context)
    return render(request, name, ctx, status_code=status_code)


# ---------------------------------------------------------------- routes


@router.get("/", dependencies=[Depends(public)])
def home(actor: MaybeActor) -> RedirectResponse:
    return RedirectResponse(home_for(actor), status_code=303)


@router.get("/login", dependencies=[Depends(public)])
def login_form(request: Request, actor: MaybeActor,
               next_path: Annotated[str | None, Query(alias="next", max_length=2000)] = None) -> Response:
    target = safe_next(next_path)
    if actor is not None:
        return RedirectResponse(target or home_for(actor), status_code=303)
    return render(request, "login.html", {"next": target or "", "email": "", "errors": {},
                                          "notice": notice(request)})


@router.post("/login", dependencies=[Depends(public)])
def login(request: Request, form: FormDep, session: SessionDep, settings: SettingsDep) -> Response:
    email = form_text(form, "email", max_chars=254).strip()
    password = form_text(form, "password", max_chars=1000)
    target = safe_next(form_text(form, "next"))
    errors: dict[str, str] = {}
    if not email:
        errors["email"] = "Enter your e-mail address."
    if not password:
        errors["password"] = "Enter your password."  # noqa: S105 - a message, not a secret
    if errors:
        return render(request, "login.html", {"next": target or "", "email": email, "errors": errors},
                      status_code=422)
    user = identity.authenticate(session, email, password)
    if user is None:
        return render(request, "login.html", {
            "next": target or "", "email": email, "errors": {},
            "failure": "That e-mail and password do not match an account. Check both and try again.",
        }, status_code=401)
    response = RedirectResponse(target or home_for(identity.actor_for(user)), status_code=303)
    response.set_cookie(SESSION_COOKIE, session_cookie_value(request, user), httponly=True, samesite="lax",
                        secure=settings.cookie_secure, max_age=settings.session_max_age_seconds, path="/")
    # A fresh CSRF token for the new session: a token planted before sign-in is worth nothing after.
    response.set_cookie(CSRF_COOKIE, secrets.token_urlsafe(32), httponly=True, samesite="lax",
                        secure=settings.cookie_secure, path="/")
    return response


@router.post("/logout", dependencies=[Depends(public)])
def logout(settings: SettingsDep) -> RedirectResponse:
    response = RedirectResponse("/login?notice=signed_out", status_code=303)
    response.delete_cookie(SESSION_COOKIE, path="/", httponly=True, samesite="lax", secure=settings.cookie_secure)
    return response
