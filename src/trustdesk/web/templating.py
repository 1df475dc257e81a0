"""Jinja2 for the console and the help center: one environment, every domain's templates."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path
from typing import Any

from fastapi import Request
from fastapi.responses import HTMLResponse, Response
from fastapi.templating import Jinja2Templates
from jinja2 import ChoiceLoader, FileSystemLoader

from trustdesk.core.permissions import Perm, Role
from trustdesk.web.deps import CSRF_COOKIE, csrf_token, state

PACKAGE_ROOT = Path(__file__).resolve().parent.parent
TEMPLATE_DIRS = [PACKAGE_ROOT / "web" / "templates", PACKAGE_ROOT / "cases" / "templates",
                 PACKAGE_ROOT / "directory" / "templates", PACKAGE_ROOT / "routing" / "templates",
                 PACKAGE_ROOT / "sla" / "templates", PACKAGE_ROOT / "oncall" / "templates",
                 PACKAGE_ROOT / "knowledge" / "templates", PACKAGE_ROOT / "assist" / "templates",
                 PACKAGE_ROOT / "appeals" / "templates", PACKAGE_ROOT / "feedback" / "templates",
                 PACKAGE_ROOT / "insights" / "templates"]

templates = Jinja2Templates(directory=str(TEMPLATE_DIRS[0]))
templates.env.loader = ChoiceLoader([FileSystemLoader(str(d)) for d in TEMPLATE_DIRS if d.exists()])
templates.env.autoescape = True


def _when(value: datetime | None, fmt: str = "%Y-%m-%d %H:%M") -> str:
    return value.strftime(fmt) + " UTC" if value else ""


def _ago(value: datetime | None, now: datetime | None = None) -> str:
    if value is None:
        return ""
    seconds = int(((now or datetime.now(value.tzinfo)) - value).total_seconds())
    for unit, size in (("d", 86400), ("h", 3600), ("m", 60)):
        if abs(seconds) >= size:
            return f"{seconds // size}{unit} ago"
    return "just now"


ROLE_LABELS: dict[str, str] = {
    Role.BUYER: "Buyer", Role.SELLER: "Seller", Role.CREATOR: "Creator", Role.SELLER_STAFF: "Seller staff",
    Role.AGENT_T1: "Tier 1 agent", Role.AGENT_T2: "Tier 2 agent", Role.ONCALL_SME: "Oncall specialist",
    Role.REVIEWER: "Appeal reviewer", Role.QA: "QA reviewer", Role.LEAD: "Team lead", Role.ADMIN: "Admin",
    Role.INTERNAL_REQUESTER: "Internal requester",
}

LANGUAGE_NAMES: dict[str, str] = {
    "ar": "Arabic", "cs": "Czech", "da": "Danish", "de": "German", "el": "Greek", "en": "English", "es": "Spanish",
    "fi": "Finnish", "fr": "French", "he": "Hebrew", "hi": "Hindi", "hu": "Hungarian", "id": "Indonesian",
    "it": "Italian", "ja": "Japanese", "ko": "Korean", "nl": "Dutch", "no": "Norwegian", "pl": "Polish",
    "pt": "Portuguese", "ro": "Romanian", "ru": "Russian", "sv": "Swedish", "th": "Thai", "tr": "Turkish",
    "uk": "Ukrainian", "vi": "Vietnamese", "zh": "Chinese",
}


def language_name(code: str) -> str:
    """``"pt-BR"`` -> ``"Portuguese (BR)"``; unknown codes stay as they are."""
    base, _, region = str(code).partition("-")
    name = LANGUAGE_NAMES.get(base.lower(), code)
    return f"{name} ({region})" if region and name != code else name


templates.env.globals.update(Perm=Perm, ROLE_LABELS=ROLE_LABELS)
templates.env.filters.update(
    capitalize_first=lambda text: str(text)[:1].upper() + str(text)[1:],
    pairs=lambda values: [(str(v), str(v)) for v in values],
    language_name=language_name,
)


templates.env.filters["when"] = _when
templates.env.globals["ago"] = _ago


def _due_in(due: datetime | None, now: datetime) -> str:
    """ "in 2h 10m" before a due time, "overdue 35m" after it (for SLA timers)."""
    if due is None:
        return ""
    seconds = int((due - now).total_seconds())
    left = abs(seconds)
    days, hours, minutes = left // 86400, left % 86400 // 3600, left % 3600 // 60
    amount = f"{days}d {hours}h" if days else f"{hours}h {minutes}m" if hours else f"{max(minutes, 1)}m"
    return f"in {amount}" if seconds > 0 else f"overdue {amount}"


templates.env.globals["due_in"] = _due_in


def render(request: Request, name: str, context: dict[str, Any] | None = None, *, status_code: int = 200,
           headers: dict[str, str] | None = None) -> HTMLResponse:
    ctx: dict[str, Any] = {
        "request": request,
        "actor": getattr(request.state, "actor", None),
        "csrf_token": csrf_token(request),
        "now": state(request).clock.now(),
    }
    ctx.update(context or {})
    response = templates.TemplateResponse(request, name, ctx, status_code=status_code, headers=headers)
    _ensure_csrf_cookie(request, response)
    return response


def _ensure_csrf_cookie(request: Request, response: Response) -> None:
    if request.cookies.get(CSRF_COOKIE) != csrf_token(request):
        response.set_cookie(CSRF_COOKIE, csrf_token(request), httponly=True, samesite="lax",
                            secure=state(request).settings.cookie_secure, path="/")


def render_error(request: Request, problem: dict[str, Any], *, headers: dict[str, str] | None = None) -> Response:
    template = "partials/error.html" if request.headers.get("hx-request") else "error.html"
    response = render(request, template, {"problem": problem}, status_code=int(problem["status"]), headers=headers)
    if request.headers.get("hx-request"):
        # Let htmx swap the error into the page's alert region instead of the target.
        response.headers["HX-Retarget"] = "#alerts"
        response.headers["HX-Reswap"] = "innerHTML"
    return response
