"""Console page "What customers ask that self-help misses": the clusters of recent case questions
(``knowledge.gaps``), gaps first, then ineffective articles, then what is covered.

In-house only, as the knowledge-base console it leads to (writing the missing article); the mining
still goes through ``cases.access.scope_for``, so it never reads a case its reader may not see.
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query, Request
from fastapi.responses import HTMLResponse

from trustdesk.cases.access import scope_for
from trustdesk.core.db import read_only, release
from trustdesk.core.errors import DomainError
from trustdesk.core.identity import Actor
from trustdesk.core.permissions import Perm
from trustdesk.directory import service as directory
from trustdesk.knowledge import gaps, service
from trustdesk.text.embeddings import embedder
from trustdesk.web.deps import ClockDep, PageRequires, SessionDep, SettingsDep, state
from trustdesk.web.pages import render_console, with_query

router = APIRouter(include_in_schema=False)
Editor = Annotated[Actor, Depends(PageRequires(Perm.KB_EDIT, in_house=True))]  # as the KB console it serves
PATH = "/console/kb/gaps"
WINDOWS = (7, 14, 28, 56, 90)
FIELDS = ("days", "market", "language")
SECTIONS = (
    (gaps.Verdict.GAP, "Gaps", "No confident article for most of these questions: the bot stays quiet and a person "
                               "answers. Write an article, or add these words to the one that should answer."),
    (gaps.Verdict.INEFFECTIVE, "Ineffective articles", "An article answers these questions with confidence, yet they "
                                                       "keep arriving as cases: check that it solves the problem, "
                                                       "and where customers look before they write."),
    (gaps.Verdict.COVERED, "Covered", "A confident article answers these, and few cases still come."),
)


def window_options(days: int) -> list[tuple[int, str]]:
    """The usual windows, plus the one in the address when it is another."""
    return [(d, f"Last {d} days" if d != 1 else "Last day") for d in sorted({*WINDOWS, days})]


@router.get(PATH)
def gaps_page(request: Request, session: SessionDep, clock: ClockDep, settings: SettingsDep, actor: Editor,
              days: Annotated[int, Query(ge=1, le=gaps.MAX_DAYS)] = 28,
              market: Annotated[str, Query(max_length=8, pattern=r"^[A-Za-z]{0,8}$")] = "",
              language: Annotated[str, Query(max_length=16, pattern=r"^([a-z]{2,3}(-[A-Z]{2})?)?$")] = "",
              ) -> HTMLResponse:
    market = market.upper()
    values: dict[str, str | int] = {"days": days, "market": market, "language": language}
    report: gaps.Report | None = None
    errors: dict[str, str] = {}
    status_code = 200
    release(session)
    try:
        with read_only(state(request).factory) as reader:  # mining reads for seconds: no write lock held
            report = gaps.mine(reader, now=clock.now(), days=days, market=market or None,
                               language=language or None, threshold=settings.kb_answer_threshold,
                               scope=scope_for(actor), embedder=embedder())
    except DomainError as error:
        errors = {error.field if error.field in FIELDS else "form": error.detail}
        status_code = error.status
    markets = directory.list_markets(session, active_only=True)
    context: dict[str, Any] = {
        "section": "gaps", "review_count": len(service.in_review(session)),
        "can_publish": actor.can(Perm.KB_PUBLISH), "report": report, "values": values, "errors": errors,
        "filtered": bool(market or language), "sections": _sections(report),
        "window_options": window_options(days),
        "market_options": [(m.code, f"{m.code} · {m.name}") for m in markets],
        "language_options": [(code, code) for code in sorted({lang for m in markets for lang in m.languages})],
        "clear_url": with_query(PATH, days=days if days != 28 else None),
    }
    return render_console(request, session, actor, "knowledge/gaps.html", context, active="kb",
                          status_code=status_code)


def _sections(report: gaps.Report | None) -> list[dict[str, Any]]:
    """Each verdict's clusters with their rank in the whole list (the report's order)."""
    if report is None:
        return []
    ranked = list(enumerate(report.clusters, start=1))
    return [{"key": verdict.value, "title": title, "about": about,
             "rows": [(rank, c) for rank, c in ranked if c.verdict is verdict],
             "cases": sum(c.size for _rank, c in ranked if c.verdict is verdict)}
            for verdict, title, about in SECTIONS]
