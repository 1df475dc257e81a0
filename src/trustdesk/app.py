"""create_app(): settings, database, middleware, error handlers, routers, console and help center."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

from fastapi import FastAPI
from fastapi.staticfiles import StaticFiles
from itsdangerous import URLSafeTimedSerializer
from sqlalchemy import Engine
from sqlalchemy.orm import Session, sessionmaker

from trustdesk import __version__
from trustdesk.core.clock import Clock, SystemClock
from trustdesk.core.db import make_engine, make_session_factory
from trustdesk.core.outbox import OutboxRunner, clear_outbox_hooks, deliver_pending, on_outbox_commit
from trustdesk.core.settings import Settings, get_settings
from trustdesk.web import problems
from trustdesk.web.deps import AppState
from trustdesk.web.limits import BodySizeLimit

STATIC_DIR = Path(__file__).resolve().parent / "web" / "static"

API_DESCRIPTION = """
TrustDesk's JSON API. Authenticate with `Authorization: Bearer td_...` (create a token with
`trustdesk users token EMAIL` or on your profile page). Errors are RFC 9457
`application/problem+json` with an `errors` list naming each bad field. Case creation honours
`Idempotency-Key`; case updates need `If-Match` with the case's ETag.
"""


def create_app(settings: Settings | None = None, *, clock: Clock | None = None, engine: Engine | None = None,
               factory: sessionmaker[Session] | None = None, jobs: str | None = None) -> FastAPI:
    """Build the ASGI app.

    ``jobs`` says how the outbox is delivered: ``"thread"`` (the embedded worker, default for
    ``serve``), ``"inline"`` (right after each commit, in the committing thread: tests) or
    ``"off"`` (an external worker delivers).
    """
    settings = settings or get_settings()
    clock = clock or SystemClock()
    if factory is None:
        engine = engine or make_engine(settings.resolved_database_url())
        factory = make_session_factory(engine)
    mode = jobs or ("thread" if settings.run_jobs_in_process else "off")
    runner: OutboxRunner | None = None

    from trustdesk.appeals import reversals as appeal_reversals
    from trustdesk.cases import jobs as case_jobs  # registers the consumers
    from trustdesk.core import mail, webhooks  # noqa: F401  (their consumers deliver email and webhooks)
    from trustdesk.feedback import jobs as feedback_jobs
    from trustdesk.feedback import qa_jobs as feedback_qa_jobs
    from trustdesk.feedback import sentiment_job
    from trustdesk.insights import emerging_jobs
    from trustdesk.insights import jobs as insight_jobs
    from trustdesk.oncall import jobs as oncall_jobs
    from trustdesk.oncall import paging
    from trustdesk.routing import jobs as routing_jobs
    from trustdesk.sla import jobs as sla_jobs

    mail.configure(settings.smtp_url, settings.smtp_from)
    paging.configure(settings.base_url)

    @asynccontextmanager
    async def lifespan(_app: FastAPI) -> AsyncIterator[None]:
        nonlocal runner
        if mode == "thread":
            runner = OutboxRunner(factory, clock, poll_seconds=settings.outbox_poll_seconds,
                                  max_attempts=settings.outbox_max_attempts,
                                  periodic=case_jobs.PERIODIC + routing_jobs.PERIODIC + sla_jobs.PERIODIC
                                  + oncall_jobs.PERIODIC + appeal_reversals.PERIODIC + insight_jobs.PERIODIC
                                  + feedback_jobs.PERIODIC + emerging_jobs.PERIODIC + feedback_qa_jobs.PERIODIC
                                  + sentiment_job.PERIODIC)
            runner.start()
        elif mode == "inline":
            on_outbox_commit(lambda: deliver_pending(factory, clock, max_attempts=settings.outbox_max_attempts))
        try:
            yield
        finally:
            if runner is not None:
                runner.stop()
            clear_outbox_hooks()

    app = FastAPI(title="TrustDesk", version=__version__, description=API_DESCRIPTION, lifespan=lifespan,
                  docs_url="/docs", redoc_url=None, openapi_url="/openapi.json")
    app.state.trustdesk = AppState(
        settings=settings, factory=factory, clock=clock,
        signer=URLSafeTimedSerializer(settings.resolved_secret_key()),
    )
    problems.install(app)
    app.add_middleware(BodySizeLimit, max_bytes=settings.max_request_bytes)

    from trustdesk.appeals import api as appeals_api
    from trustdesk.appeals import help_pages as appeals_help_pages
    from trustdesk.appeals import insight_pages as appeals_insight_pages
    from trustdesk.appeals import pages as appeals_pages
    from trustdesk.assist import api as assist_api
    from trustdesk.assist import pages as assist_pages
    from trustdesk.assist import template_api, template_pages
    from trustdesk.cases import api as cases_api
    from trustdesk.cases import pages as cases_pages
    from trustdesk.directory import api as directory_api
    from trustdesk.directory import catalogue_api, catalogue_pages
    from trustdesk.directory import pages as directory_pages
    from trustdesk.feedback import api as feedback_api
    from trustdesk.feedback import qa_api as feedback_qa_api
    from trustdesk.feedback import qa_pages as feedback_qa_pages
    from trustdesk.feedback import sentiment_api as feedback_sentiment_api
    from trustdesk.feedback import sentiment_pages as feedback_sentiment_pages
    from trustdesk.feedback import survey_api as feedback_survey_api
    from trustdesk.feedback import survey_pages as feedback_survey_pages
    from trustdesk.insights import emerging_api, emerging_pages, okr_api, okr_pages, schedule_pages
    from trustdesk.insights import pages as insight_pages
    from trustdesk.knowledge import api as knowledge_api
    from trustdesk.knowledge import console as knowledge_console
    from trustdesk.knowledge import gap_pages as knowledge_gaps
    from trustdesk.knowledge import pages as knowledge_pages
    from trustdesk.oncall import api as oncall_api
    from trustdesk.oncall import pages as oncall_pages
    from trustdesk.routing import api as routing_api
    from trustdesk.routing import pages as routing_pages
    from trustdesk.sla import api as sla_api
    from trustdesk.sla import pages as sla_pages
    from trustdesk.web import api as web_api
    from trustdesk.web import pages as web_pages

    api_routers = (web_api.router, cases_api.router, directory_api.router, catalogue_api.router,
                   routing_api.router, sla_api.router, oncall_api.router,
                   knowledge_api.router, feedback_api.router, assist_api.router, template_api.router,
                   appeals_api.router, feedback_survey_api.router, feedback_qa_api.router,
                   feedback_sentiment_api.router, emerging_api.router, okr_api.router)
    page_routers = (web_pages.router, cases_pages.router, cases_pages.help_router, directory_pages.router,
                    catalogue_pages.router, routing_pages.router, sla_pages.router, oncall_pages.router,
                    knowledge_pages.router, knowledge_console.router, assist_pages.router, template_pages.router,
                    knowledge_gaps.router, appeals_insight_pages.router,  # before /console/appeals/{id}
                    appeals_pages.router, appeals_help_pages.help_router,
                    feedback_survey_pages.router, feedback_survey_pages.help_router, feedback_qa_pages.router,
                    feedback_sentiment_pages.router, emerging_pages.router,  # before /console/insights/{dashboard}
                    okr_pages.router, schedule_pages.router, insight_pages.router)
    for router in api_routers:
        app.include_router(router, prefix="/api/v1")
    for router in page_routers:
        app.include_router(router)
    # Kept for the test that proves every route declares its permission.
    app.state.routers = [("/api/v1", r) for r in api_routers] + [("", r) for r in page_routers]
    app.mount("/static", StaticFiles(directory=STATIC_DIR), name="static")
    return app
