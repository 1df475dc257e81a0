"""Turning every error into RFC 9457 problem+json (API) or a readable error page (console)."""

from __future__ import annotations

import logging
from typing import Any
from urllib.parse import quote

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, RedirectResponse, Response
from sqlalchemy.orm.exc import StaleDataError
from starlette.exceptions import HTTPException as StarletteHTTPException

from trustdesk.core.errors import PROBLEM_TYPE_BASE, Conflict, DomainError

log = logging.getLogger(__name__)
PROBLEM_JSON = "application/problem+json"


def wants_html(request: Request) -> bool:
    path = request.url.path
    return not (path.startswith("/api/") or path in ("/openapi.json", "/healthz"))


def field_name(loc: tuple[Any, ...] | list[Any]) -> str:
    """``("body", "party", "kind")`` -> ``party.kind``; ``("header", "if-match")`` -> ``If-Match``."""
    parts = list(loc)
    source = parts.pop(0) if parts and parts[0] in ("body", "query", "path", "header", "cookie") else None
    if source == "header" and parts:
        return "-".join(p.capitalize() for p in str(parts[0]).split("-"))
    name = ""
    for part in parts:
        name += f"[{part}]" if isinstance(part, int) else (f".{part}" if name else str(part))
    return name or (source or "body")


def problem_response(request: Request, body: dict[str, Any], headers: dict[str, str] | None = None) -> Response:
    body.setdefault("instance", request.url.path)
    if wants_html(request):
        from trustdesk.web.templating import render_error

        return render_error(request, body, headers=headers)
    return JSONResponse(body, status_code=body["status"], media_type=PROBLEM_JSON, headers=headers)


def install(app: FastAPI) -> None:
    @app.exception_handler(DomainError)
    async def domain_error(request: Request, exc: DomainError) -> Response:
        from trustdesk.web.deps import NotSignedIn

        if isinstance(exc, NotSignedIn) and wants_html(request):
            target = request.url.path + (f"?{request.url.query}" if request.url.query else "")
            if request.headers.get("hx-request"):
                return Response(status_code=401, headers={"HX-Redirect": f"/login?next={quote(target)}"})
            return RedirectResponse(f"/login?next={quote(target)}", status_code=303)
        return problem_response(request, exc.problem())

    @app.exception_handler(RequestValidationError)
    async def validation_error(request: Request, exc: RequestValidationError) -> Response:
        errors = []
        for error in exc.errors():
            message = str(error.get("msg", "invalid"))
            kind = error.get("type", "")
            field = field_name(error.get("loc", ()))
            if kind == "extra_forbidden":
                message = "unknown field"
            elif kind == "json_invalid":
                # Its loc holds the character offset of the syntax error, not a field.
                message, field = "the body is not valid JSON (UTF-8)", "body"
            errors.append({"field": field, "message": message, "type": kind})
        first = errors[0] if errors else {"field": "body", "message": "invalid"}
        body = {
            "type": PROBLEM_TYPE_BASE + "invalid",
            "title": "Invalid input",
            "status": 422,
            "detail": f"{first['field']}: {first['message']}",
            "errors": errors,
        }
        return problem_response(request, body)

    @app.exception_handler(StaleDataError)
    async def stale(request: Request, exc: StaleDataError) -> Response:
        problem = Conflict("the case was changed by someone else meanwhile; reload and try again", field="version")
        return problem_response(request, problem.problem())

    @app.exception_handler(StarletteHTTPException)
    async def http_error(request: Request, exc: StarletteHTTPException) -> Response:
        titles = {404: "Not found", 405: "Method not allowed", 413: "Payload too large"}
        body = {
            "type": PROBLEM_TYPE_BASE + ("not-found" if exc.status_code == 404 else "http-error"),
            "title": titles.get(exc.status_code, "Error"),
            "status": exc.status_code,
            "detail": str(exc.detail) if exc.detail else titles.get(exc.status_code, "Error"),
        }
        if exc.status_code == 400:
            # FastAPI answers 400 when the body cannot be decoded at all (e.g. invalid UTF-8).
            body["errors"] = [{"field": "body", "message": "the body is not valid JSON (UTF-8)"}]
        return problem_response(request, body, headers=getattr(exc, "headers", None))

    @app.exception_handler(Exception)
    async def unexpected(request: Request, exc: Exception) -> Response:
        log.exception("unhandled error on %s %s", request.method, request.url.path)
        body = {"type": PROBLEM_TYPE_BASE + "internal", "title": "Internal error", "status": 500,
                "detail": "something went wrong on our side; the change was not saved"}
        return problem_response(request, body)
