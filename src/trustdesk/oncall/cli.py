"""``trustdesk oncall``: who is on call, a schedule's final rotation, and a manual scheduler tick."""

from __future__ import annotations

import json
from datetime import timedelta
from typing import Annotated
from zoneinfo import ZoneInfo

import typer
from sqlalchemy.orm import Session, sessionmaker

from trustdesk.core import mail
from trustdesk.core.clock import SystemClock, parse_time
from trustdesk.core.db import make_engine, make_session_factory, transaction
from trustdesk.core.errors import DomainError
from trustdesk.core.settings import get_settings
from trustdesk.oncall import jobs, metrics, paging, schedules

app = typer.Typer(help="Oncall: schedules, who is on call, escalations.", no_args_is_help=True)


def _factory() -> sessionmaker[Session]:
    return make_session_factory(make_engine(get_settings().resolved_database_url()))


def _fail(exc: DomainError, hint: str) -> typer.BadParameter:
    return typer.BadParameter(exc.detail, param_hint=hint)


@app.command("schedules")
def list_schedules() -> None:
    """Every schedule with whoever is on call now."""
    now = SystemClock().now()
    with transaction(_factory()) as session:
        rows = [(s.key, s.name, schedules.oncall_user(session, s.key, now)) for s in schedules.list_schedules(session)]
        names = schedules.user_names(session, [u for _, _, u in rows if u is not None])
    for key, name, user in rows:
        typer.echo(f"{key:<28} {name:<32} {names.get(user, '-') if user is not None else 'nobody (gap)'}")


@app.command("who")
def who(
    team: Annotated[str, typer.Option(help="Team key")],
    at: Annotated[str | None, typer.Option(help="ISO time (UTC if no offset); default now")] = None,
    as_json: Annotated[bool, typer.Option("--json")] = False,
) -> None:
    """Who is on call for TEAM at a time, on each of its schedules."""
    try:
        when = parse_time(at, field="at") if at is not None else SystemClock().now()
        with transaction(_factory()) as session:
            answers = [(s.key, u) for s, u in schedules.who_is_oncall(session, team_key=team, at=when)]
            names = schedules.user_names(session, [u for _, u in answers if u is not None])
    except DomainError as exc:
        raise _fail(exc, "--team" if exc.field == "team" else "--at") from exc
    if as_json:
        typer.echo(json.dumps([{"schedule": k, "user_id": u, "name": names.get(u) if u else None}
                               for k, u in answers], indent=2))
        return
    if not answers:
        typer.echo(f"team {team} has no oncall schedule")
    for key, user in answers:
        typer.echo(f"{key}: {names.get(user, str(user)) if user is not None else 'nobody (a gap)'}")


@app.command("schedule")
def schedule(
    key: Annotated[str, typer.Argument(help="Schedule key")],
    days: Annotated[int, typer.Option(min=1, max=400, help="How far ahead")] = 7,
    since: Annotated[str | None, typer.Option(help="ISO start (default now)")] = None,
    as_json: Annotated[bool, typer.Option("--json")] = False,
) -> None:
    """The final schedule (layers, swaps, overrides) with its gaps, coverage and balance."""
    now = SystemClock().now()
    try:
        start = parse_time(since, field="since") if since is not None else now
        with transaction(_factory()) as session:
            row = schedules.schedule_by_key(session, key)
            report = schedules.report(session, row, start=start, end=start + timedelta(days=days), now=now)
            names = schedules.user_names(session, [int(s.who) for s in report.shifts])
            zone = ZoneInfo(row.time_zone)
    except DomainError as exc:
        raise _fail(exc, "KEY" if exc.field == "key" else "--since") from exc
    if as_json:
        typer.echo(json.dumps({
            "schedule": key, "coverage": report.coverage, "fairness": report.fairness,
            "shifts": [{"starts_at": s.starts_at.isoformat(), "ends_at": s.ends_at.isoformat(), "user_id": int(s.who),
                        "name": names.get(int(s.who)), "source": s.source} for s in report.shifts],
            "gaps": [{"starts_at": a.isoformat(), "ends_at": b.isoformat()} for a, b in report.gaps]}, indent=2))
        return
    pieces = [(s.starts_at, s.ends_at, names.get(int(s.who), s.who), s.source) for s in report.shifts]
    pieces += [(a, b, "NOBODY (gap)", "") for a, b in report.gaps]
    for a, b, who_, source in sorted(pieces):
        typer.echo(f"{a.astimezone(zone):%a %Y-%m-%d %H:%M} -> {b.astimezone(zone):%a %Y-%m-%d %H:%M}  "
                   f"{who_:<28} {source}")
    typer.echo(f"coverage {report.coverage:.1%} · balance {report.fairness:.2f} · {len(report.gaps)} gaps "
               f"({row.time_zone})")


@app.command("metrics")
def metrics_command(days: Annotated[int, typer.Option(min=1, max=400, help="The last N days")] = 28) -> None:
    """Escalation rate, time to acknowledge and oncall load over the last DAYS, as JSON."""
    now = SystemClock().now()
    with transaction(_factory()) as session:
        figures = metrics.figures(session, since=now - timedelta(days=days), until=now).as_dict()
    typer.echo(json.dumps(figures, indent=2))


@app.command("tick")
def tick() -> None:
    """Run every escalation step and ack timeout that is due (what the embedded worker does every 15 s)."""
    settings = get_settings()
    mail.configure(settings.smtp_url, settings.smtp_from)  # pages email and link as the app does
    paging.configure(settings.base_url)
    ran = jobs.tick(_factory(), SystemClock())
    typer.echo(f"{ran} step(s) ran")
