"""Console pages of the appeals reports: where appeals come from and which decisions they prove wrong
(``insights``), and the DSA Art. 15(1)(d) / 24(1) figures on internal complaints (``transparency``).

In-house staff with appeals.read. Handlers are thin: they read the period and market from the address,
call the report functions and render them, or hand back the report modules' own CSV and JSON, byte for
byte, so a download always matches the CLI (``trustdesk appeals volume|policy-report|transparency``).
A period is whole UTC days, both ends included, like the CLI's ``--from`` and ``--to``.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import UTC, date, datetime, time, timedelta
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query, Request
from fastapi.responses import HTMLResponse, Response
from sqlalchemy.orm import Session

from trustdesk.appeals import insights, repository, transparency
from trustdesk.appeals import page_queries as queries
from trustdesk.appeals.insights import OwnerSection, VolumeReport, VolumeRow
from trustdesk.appeals.models import DisputeOutcome
from trustdesk.appeals.service import DECIDER_AUTOMATION, DECIDER_HUMAN
from trustdesk.core.errors import Invalid
from trustdesk.core.identity import Actor
from trustdesk.core.permissions import Perm
from trustdesk.directory import service as directory
from trustdesk.web.deps import ClockDep, PageRequires, SessionDep
from trustdesk.web.pages import render_console, with_query

router = APIRouter(include_in_schema=False)

Reader = Annotated[Actor, Depends(PageRequires(Perm.APPEALS_READ, in_house=True))]
Text = Annotated[str, Query(max_length=100)]
FromDay = Annotated[str, Query(alias="from", max_length=100)]
ToDay = Annotated[str, Query(alias="to", max_length=100)]
InsightsFormat = Annotated[str, Query(alias="format", pattern=r"^(html|csv)$")]
TransparencyFormat = Annotated[str, Query(alias="format", pattern=r"^(html|csv|json)$")]

BASE = "/console/appeals"
PRESETS: dict[str, int] = {"28": 28, "90": 90}
CUSTOM = "custom"
PRESET_LABELS = {"28": "Last 28 days", "90": "Last 90 days"}
DEFAULT_DAYS = 28
OFFENDERS_SHOWN = 10
DIMENSION_TITLES: dict[str, str] = {
    "policy": "Policy", "source": "Detection source", "market": "Market", "reason": "Appellant's reason",
    "item_kind": "Item kind",
}
TABLES = ("volume", *insights.DIMENSIONS, "offenders", "owners")
Table = Annotated[str, Query(pattern=r"^(" + "|".join(TABLES) + r")$")]
BASIS_TITLES: dict[str, str] = {
    "decision_ground": "Ground of the contested decision", "category": "Category of the contested decision",
    "item_kind": "Kind of item", "policy": "Policy", "reason": "The appellant's reason",
    "automated_decision": "How the contested decision was taken",
}
AUTOMATION_LABELS = {"automated": "Fully or partly automated", "not_automated": "Not automated: a person decided"}
DECIDER_LABELS = {DECIDER_HUMAN: "A person", DECIDER_AUTOMATION: "Automation"}
DISPUTE_OUTCOME_LABELS: dict[str, str] = {
    DisputeOutcome.DECISION_UPHELD.value: "Our decision upheld",
    DisputeOutcome.DECISION_REVERSED.value: "Found for the appellant",
    DisputeOutcome.SETTLED.value: "Settled", DisputeOutcome.DISCONTINUED.value: "Discontinued",
}


# ---------------------------------------------------------------- the period and the market


@dataclass(frozen=True)
class Period:
    first: date
    last: date  # included

    @property
    def since(self) -> datetime:
        return datetime.combine(self.first, time(), tzinfo=UTC)

    @property
    def until(self) -> datetime:
        return datetime.combine(self.last + timedelta(days=1), time(), tzinfo=UTC)

    @property
    def days(self) -> int:
        return (self.last - self.first).days + 1


@dataclass
class Choice:
    """What the address asked for, as typed (to show again), and the problems next to their fields."""

    preset: str
    first: str
    last: str
    market: str
    period: Period | None = None
    errors: dict[str, str] = field(default_factory=dict)

    @property
    def markets(self) -> list[str] | None:
        return [self.market] if self.market else None

    def query(self, **extra: str) -> dict[str, str]:
        return {"period": self.preset, "from": self.first, "to": self.last, "market": self.market, **extra}


FIRST_DAY, LAST_DAY = date(2000, 1, 1), date(2099, 12, 31)  # reports of real periods (and no date overflow)


def _day(text: str, name: str, errors: dict[str, str]) -> date | None:
    if not text.strip():
        errors[name] = f"enter the {'first' if name == 'from' else 'last'} day, as YYYY-MM-DD"
        return None
    try:
        day = date.fromisoformat(text.strip())
    except ValueError:
        errors[name] = f"{text.strip()[:20]!r} is not a day: write it as YYYY-MM-DD, e.g. 2026-03-01"
        return None
    if not FIRST_DAY <= day <= LAST_DAY:
        errors[name] = f"choose a day from {FIRST_DAY} to {LAST_DAY}"
        return None
    return day


def _choice(session: Session, *, preset: str, first: str, last: str, market: str, today: date,
            presets: bool) -> Choice:
    """The period (a preset counted back from today, or the from-to days) and the market, checked."""
    if not presets:
        preset = CUSTOM
    elif preset not in PRESETS and preset != CUSTOM:
        preset = CUSTOM if (first or last) else str(DEFAULT_DAYS)
    if presets and preset in PRESETS:
        start = today - timedelta(days=PRESETS[preset] - 1)
        choice = Choice(preset, start.isoformat(), today.isoformat(), market.strip().upper())
        choice.period = Period(start, today)
    else:
        if not presets and not first and not last:
            first, last = (today - timedelta(days=DEFAULT_DAYS - 1)).isoformat(), today.isoformat()
        choice = Choice(preset, first.strip(), last.strip(), market.strip().upper())
        start_day, end_day = _day(first, "from", choice.errors), _day(last, "to", choice.errors)
        if start_day and end_day:
            if end_day < start_day:
                choice.errors["to"] = "the last day comes on or after the first"
            else:
                choice.period = Period(start_day, end_day)
    if choice.market:
        try:
            transparency.market_ids(session, [choice.market])
        except Invalid:
            choice.errors["market"] = f"there is no market {choice.market[:8]!r}: choose one from the list"
    return choice


def _market_options(session: Session) -> list[tuple[str, str]]:
    return [(m.code, f"{m.name} ({m.code})") for m in sorted(directory.list_markets(session), key=lambda m: m.code)]


def _download(text: str, *, media_type: str, filename: str) -> Response:
    return Response(text.encode("utf-8"), media_type=media_type,
                    headers={"content-disposition": f'attachment; filename="{filename}"'})


def _filename(stem: str, choice: Choice, extension: str) -> str:
    assert choice.period is not None
    market = f"-{choice.market}" if choice.market else ""
    return f"{stem}-{choice.period.first.isoformat()}-to-{choice.period.last.isoformat()}{market}.{extension}"


def _render(request: Request, session: Session, actor: Actor, name: str, context: dict[str, Any], *,
            active: str) -> HTMLResponse:
    choice: Choice = context["choice"]
    presets = [(key, text, with_query(request.url.path, period=key, market=choice.market))
               for key, text in PRESET_LABELS.items()]
    context = {"preset_links": presets, "market_options": _market_options(session),
               "labels": {"reason": queries.REASON_LABELS, "item_kind": queries.ITEM_KIND_LABELS}, **context}
    return render_console(request, session, actor, name, context, active=active,
                          status_code=422 if choice.errors else 200)


# ---------------------------------------------------------------- where appeals come from


def _appeal_ids(session: Session, references: set[str]) -> dict[str, int]:
    """The ids of the example appeals, to link them (one query for every example on the page).

    The report names an appeal by its reference, or by its id when it has none."""
    ids = {ref: int(ref) for ref in references if ref.isdigit()}
    wanted = sorted(references - ids.keys())
    return ids | repository.appeal_ids_by_reference(session, wanted)


def _worst_overturned_first(rows: Sequence[VolumeRow]) -> list[VolumeRow]:
    return sorted(rows, key=lambda r: (-r.overturned, -(r.overturn_rate or 0.0), -r.appeals, r.key))


def _names(session: Session) -> dict[str, dict[str, str]]:
    """Every dimension's keys in words (a key without a name shows as itself)."""
    return {
        "policy": {p.key: p.name for p in repository.policies(session)},
        "source": {s.key: s.name for s in repository.sources(session)},
        "market": {m.code: m.name for m in directory.list_markets(session)},
        "reason": queries.REASON_LABELS, "item_kind": queries.ITEM_KIND_LABELS,
    }


def _slice(report: VolumeReport, dimension: str) -> VolumeReport:
    """The report with one dimension's table, for ``insights.to_csv`` to write that table alone."""
    return replace(report, by={dimension: report.by[dimension]})


def _insights_csv(table: str, report: VolumeReport, owners: Callable[[], Sequence[OwnerSection]]) -> str:
    if table == "volume":
        return insights.to_csv(report)
    if table == "offenders":
        return insights.offenders_to_csv(report)
    if table == "owners":
        return insights.owners_to_csv(owners())
    return insights.to_csv(_slice(report, table))


@router.get(f"{BASE}/insights")
def insights_page(request: Request, session: SessionDep, clock: ClockDep, actor: Reader, period: Text = "",
                  first: FromDay = "", last: ToDay = "", market: Text = "", as_format: InsightsFormat = "html",
                  table: Table = "volume") -> Response:
    choice = _choice(session, preset=period, first=first, last=last, market=market, today=clock.now().date(),
                     presets=True)
    if choice.period is None or choice.errors:
        return _render(request, session, actor, "appeals/insights.html", {"choice": choice, "report": None},
                       active="appeals-insights")
    since, until, codes = choice.period.since, choice.period.until, choice.markets
    report = insights.volume(session, since=since, until=until, market_codes=codes)

    def owners() -> list[OwnerSection]:
        return insights.policy_owner_report(session, since=since, until=until, market_codes=codes)

    if as_format == "csv":
        return _download(_insights_csv(table, report, owners), media_type="text/csv; charset=utf-8",
                         filename=_filename(f"appeals-{table}", choice, "csv"))
    sections = owners()
    offenders = report.worst_offenders[:OFFENDERS_SHOWN]
    examples = {ref for o in offenders for ref in o.examples}
    examples |= {ref for s in sections if s.look_first for ref in s.look_first.examples}
    path = f"{BASE}/insights"
    return _render(request, session, actor, "appeals/insights.html", {
        "choice": choice, "report": report, "owners": sections, "offenders": offenders,
        "more_offenders": len(report.worst_offenders) - len(offenders),
        "tables": [(dim, DIMENSION_TITLES[dim], _worst_overturned_first(report.by[dim]))
                   for dim in insights.DIMENSIONS],
        "names": _names(session), "appeal_ids": _appeal_ids(session, examples),
        "csv_urls": {t: with_query(path, **choice.query(period=CUSTOM, format="csv", table=t)) for t in TABLES},
    }, active="appeals-insights")


# ---------------------------------------------------------------- DSA transparency figures


@dataclass(frozen=True)
class BasisValue:
    label: str
    code: str
    count: int


def _basis_tables(received_by: Mapping[str, Mapping[str, int]],
                  policy_names: Mapping[str, str]) -> list[tuple[str, list[BasisValue]]]:
    """The bases of the complaints received, each value in words next to its code."""
    words: dict[str, Callable[[str], str]] = {
        "decision_ground": lambda v: queries.GROUND_LABELS.get(v, queries.code_words(v)),
        "category": queries.code_words,
        "item_kind": lambda v: queries.ITEM_KIND_LABELS.get(v, v),
        "policy": lambda v: policy_names.get(v, v),
        "reason": lambda v: queries.REASON_LABELS.get(v, v),
        "automated_decision": lambda v: AUTOMATION_LABELS.get(v, v),
    }
    return [(BASIS_TITLES.get(basis, basis), [BasisValue(words.get(basis, str)(value), value, count)
                                              for value, count in values.items()])
            for basis, values in received_by.items()]


@router.get(f"{BASE}/transparency")
def transparency_page(request: Request, session: SessionDep, clock: ClockDep, actor: Reader,
                      first: FromDay = "", last: ToDay = "", market: Text = "",
                      as_format: TransparencyFormat = "html") -> Response:
    choice = _choice(session, preset=CUSTOM, first=first, last=last, market=market, today=clock.now().date(),
                     presets=False)
    if choice.period is None or choice.errors:
        return _render(request, session, actor, "appeals/transparency.html", {"choice": choice, "report": None},
                       active="appeals-transparency")
    report = transparency.report(session, since=choice.period.since, until=choice.period.until,
                                 market_codes=choice.markets)
    if as_format == "csv":
        return _download(transparency.to_csv(report), media_type="text/csv; charset=utf-8",
                         filename=_filename("transparency", choice, "csv"))
    if as_format == "json":  # as the CLI writes it
        return _download(json.dumps(transparency.to_json(report), indent=2) + "\n",
                         media_type="application/json", filename=_filename("transparency", choice, "json"))
    path = f"{BASE}/transparency"
    query = {k: v for k, v in choice.query().items() if k != "period"}
    return _render(request, session, actor, "appeals/transparency.html", {
        "choice": choice, "report": report,
        "bases": _basis_tables(report.received_by, {p.key: p.name for p in repository.policies(session)}),
        "outcome_labels": queries.OUTCOME_LABELS, "decider_labels": DECIDER_LABELS,
        "dispute_outcome_labels": DISPUTE_OUTCOME_LABELS,
        "csv_url": with_query(path, **query, format="csv"), "json_url": with_query(path, **query, format="json"),
    }, active="appeals-transparency")
