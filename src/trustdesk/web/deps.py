"""Request plumbing shared by every router: the unit of work, the actor, permissions, CSRF.

Every route declares exactly one of ``Requires(perm)`` (API), ``PageRequires(perm)`` (console)
or ``public`` — ``tests/core/test_permissions.py`` walks the app and fails on a route without.
"""

from __future__ import annotations

import hmac
import secrets
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Annotated, Any

from fastapi import Depends, Request
from itsdangerous import BadSignature, URLSafeTimedSerializer
from sqlalchemy.orm import Session, sessionmaker
from starlette.concurrency import run_in_threadpool
from starlette.datastructures import FormData

from trustdesk.core.clock import Clock
from trustdesk.core.errors import DomainError, Forbidden, Unauthorized
from trustdesk.core.identity import Actor, User, actor_for, user_for_token
from trustdesk.core.permissions import Perm
from trustdesk.core.settings import Settings
from trustdesk.directory.service import agent_for_user

SESSION_COOKIE = "td_session"
CSRF_COOKIE = "td_csrf"
CSRF_FIELD = "csrf_token"
CSRF_HEADER = "x-csrf-token"
UNSAFE_METHODS = frozenset({"POST", "PUT", "PATCH", "DELETE"})


@dataclass
class AppState:
    settings: Settings
    factory: sessionmaker[Session]
    clock: Clock
    signer: URLSafeTimedSerializer


def state(request: Request) -> AppState:
    return request.app.state.trustdesk  # type: ignore[no-any-return]


def get_session(request: Request) -> Iterator[Session]:
    """One transaction per request: committed when the handler returns, rolled back on error."""
    session = state(request).factory()
    try:
        yield session
        session.commit()
    except BaseException:
        session.rollback()
        raise
    finally:
        session.close()


SessionDep = Annotated[Session, Depends(get_session, scope="function")]


# Async on purpose: they only read app state, and a sync dependency costs a thread-pool round trip
# per request (FastAPI runs every sync dependency in the pool).
async def get_clock(request: Request) -> Clock:
    return state(request).clock


async def get_settings_dep(request: Request) -> Settings:
    return state(request).settings


ClockDep = Annotated[Clock, Depends(get_clock)]
SettingsDep = Annotated[Settings, Depends(get_settings_dep)]


class NotSignedIn(DomainError):
    """A console page was opened without a session: the handler redirects to the login page."""

    status = 401
    slug = "unauthorized"
    title = "Sign in required"


def read_session_cookie(request: Request) -> dict[str, Any] | None:
    raw = request.cookies.get(SESSION_COOKIE)
    if not raw:
        return None
    app_state = state(request)
    try:
        data = app_state.signer.loads(raw, salt="session", max_age=app_state.settings.session_max_age_seconds)
    except BadSignature:
        return None
    return data if isinstance(data, dict) else None


def session_cookie_value(request: Request, user: User) -> str:
    return state(request).signer.dumps({"uid": user.id, "gen": user.session_generation}, salt="session")


def _actor_from_user(session: Session, user: User) -> Actor:
    agent = agent_for_user(session, user.id)
    return actor_for(user, agent_id=agent.id if agent else None, vendor_id=agent.vendor_id if agent else None)


def resolve_actor(request: Request, session: Session) -> tuple[Actor | None, str]:
    """The signed-in actor and how they proved it ("token", "cookie" or "" when anonymous)."""
    cached = getattr(request.state, "actor", None)
    if cached is not None:
        return cached, request.state.auth_method
    header = request.headers.get("authorization", "")
    user: User | None = None
    method = ""
    if header.lower().startswith("bearer "):
        user = user_for_token(session, header[7:].strip(), now=state(request).clock.now())
        if user is None:
            raise Unauthorized("the bearer token is unknown or revoked", field="Authorization")
        method = "token"
    else:
        data = read_session_cookie(request)
        if data is not None:
            candidate = session.get(User, data.get("uid"))
            if candidate is not None and candidate.is_active and candidate.session_generation == data.get("gen"):
                user, method = candidate, "cookie"
    if user is None:
        return None, ""
    actor = _actor_from_user(session, user)
    request.state.actor, request.state.auth_method = actor, method
    return actor, method


def csrf_token(request: Request) -> str:
    """The visitor's CSRF token (double-submit): a cookie, echoed in every form and htmx request."""
    token = getattr(request.state, "csrf_token", None)
    if token is None:
        token = request.cookies.get(CSRF_COOKIE) or secrets.token_urlsafe(32)
        request.state.csrf_token = token
    return token


async def check_csrf(request: Request) -> None:
    if request.method not in UNSAFE_METHODS:
        return
    cookie = request.cookies.get(CSRF_COOKIE, "")
    sent = request.headers.get(CSRF_HEADER, "")
    if not sent and request.headers.get("content-type", "").startswith(
        ("application/x-www-form-urlencoded", "multipart/form-data")
    ):
        form: FormData = await request.form()
        value = form.get(CSRF_FIELD)
        sent = value if isinstance(value, str) else ""
    if not cookie or not sent or not hmac.compare_digest(cookie, sent):
        raise Forbidden("the form's security token is missing or stale; reload the page and try again",
                        field=CSRF_FIELD)


def _check_in_house(actor: Actor) -> None:
    if actor.vendor_id is not None:
        raise Forbidden("this is for in-house staff: a vendor's staff do not see the platform's own configuration")


class Requires:
    """API permission (any of the given ones): bearer token or console cookie (cookie writes also
    need the CSRF header). The handler then asks the access gate for the precise permission.
    ``in_house``: refused to a vendor's staff whatever their role (catalogue, routing configuration)."""

    def __init__(self, *permissions: Perm, in_house: bool = False) -> None:
        if not permissions:
            raise ValueError("declare at least one permission")
        self.permissions = permissions
        self.in_house = in_house

    # Synchronous on purpose: FastAPI runs it in the thread pool, so the token lookup never
    # blocks the event loop. Cookie-authenticated writes must carry the X-CSRF-Token header.
    def __call__(self, request: Request, session: SessionDep) -> Actor:
        actor, method = resolve_actor(request, session)
        if actor is None:
            raise Unauthorized("sign in or send a bearer token", field="Authorization")
        if method == "cookie" and request.method in UNSAFE_METHODS:
            cookie, sent = request.cookies.get(CSRF_COOKIE, ""), request.headers.get(CSRF_HEADER, "")
            if not cookie or not sent or not hmac.compare_digest(cookie, sent):
                raise Forbidden("cookie-authenticated writes need the X-CSRF-Token header", field=CSRF_HEADER)
        if not any(actor.can(p) for p in self.permissions):
            raise Forbidden(f"this needs the {' or '.join(p.value for p in self.permissions)} permission")
        if self.in_house:
            _check_in_house(actor)
        return actor


class PageRequires:
    """Console permission: a signed-in session; every unsafe method is CSRF-checked."""

    def __init__(self, permission: Perm, *, in_house: bool = False) -> None:
        self.permission = permission
        self.in_house = in_house

    async def __call__(self, request: Request, session: SessionDep) -> Actor:
        # Async because the CSRF check reads the form; the database lookup goes to the pool.
        actor, _method = await run_in_threadpool(resolve_actor, request, session)
        if actor is None:
            raise NotSignedIn("sign in to continue")
        await check_csrf(request)
        if not actor.can(self.permission):
            raise Forbidden(f"this page needs the {self.permission.value} permission")
        if self.in_house:
            _check_in_house(actor)
        return actor


def _cannot_be_forged(request: Request) -> bool:
    """A JSON body or a custom header makes a browser ask the server first (a CORS preflight), which
    TrustDesk answers for no other origin, so another site cannot send such a request."""
    return (request.headers.get("content-type", "").startswith("application/json")
            or "x-bot-token" in request.headers)


async def public(request: Request) -> None:
    """Declares a route open to anyone (health, login, static, the bot); forms on it are still
    CSRF-checked, JSON calls need not be (see ``_cannot_be_forged``)."""
    if not _cannot_be_forged(request):
        await check_csrf(request)


def optional_actor(request: Request, session: SessionDep) -> Actor | None:
    actor, _method = resolve_actor(request, session)
    return actor
