"""``trustdesk report``: the weekly insight report to a file (PDF or HTML), and its delivery schedules."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from trustdesk.cli_common import day, unit_of_work
from trustdesk.core.clock import SystemClock
from trustdesk.core.settings import get_settings
from trustdesk.insights import report, schedules

app = typer.Typer(help="The weekly insight report: write it, schedule its delivery.", no_args_is_help=True)
schedule_app = typer.Typer(help="Send the weekly report every week by e-mail or webhook.", no_args_is_help=True)
app.add_typer(schedule_app, name="schedule")


@app.command("weekly")
def weekly(
    out: Annotated[Path, typer.Option(help="Where to write it: a .pdf or an .html file")],
    market: Annotated[str, typer.Option(help="A market code; leave out for every market")] = "",
    week: Annotated[str, typer.Option(help="Any day of the week (YYYY-MM-DD); default: the last complete week")]
    = "",
    as_format: Annotated[str, typer.Option("--format", help="pdf or html; default: from the file's suffix")] = "",
) -> None:
    """Write the weekly report of one market (Monday to Sunday in its time zone) or of every market (UTC)."""
    chosen = (as_format or out.suffix.lstrip(".")).lower()
    if chosen not in ("pdf", "html"):
        raise typer.BadParameter("write a .pdf or .html file, or say --format pdf|html", param_hint="--format")
    now = SystemClock().now()
    with unit_of_work() as session:
        code = report.check_market(session, market)
        start = report.week_start(day(week, "--week")) if week else \
            report.last_complete_week(now, report.zone_of(session, code))
        built = report.weekly(session, market=code, week_start=start, now=now)
    data = report.to_pdf(built) if chosen == "pdf" else report.to_html(built).encode("utf-8")
    out.write_bytes(data)
    charts = sum(1 for c in built.charts if not c.empty)
    typer.echo(f"{built.title}: {chosen.upper()}, {len(data):,} bytes, {len(built.sections)} sections, "
               f"{charts} charts, written to {out}")


@schedule_app.command("add")
def schedule_add(
    email: Annotated[str, typer.Option(help="Send by e-mail to this address")] = "",
    webhook: Annotated[str, typer.Option(help="Send to the webhook endpoint with this key")] = "",
    market: Annotated[str, typer.Option(help="A market code; leave out for every market")] = "",
    weekday: Annotated[int, typer.Option(min=0, max=6, help="0 = Monday ... 6 = Sunday")] = 0,
    hour: Annotated[int, typer.Option(min=0, max=23, help="Hour of the day, UTC")] = 7,
) -> None:
    """Schedule the report of the week before, every week."""
    if bool(email) == bool(webhook):
        raise typer.BadParameter("say --email ADDRESS or --webhook KEY (one of them)", param_hint="--email")
    spec = schedules.ScheduleSpec(channel="email" if email else "webhook", recipient=email or webhook,
                                  market=market or None, weekday=weekday, hour=hour)
    with unit_of_work() as session:
        row = schedules.create(session, spec, created_by_user_id=None, now=SystemClock().now())
        typer.echo(f"schedule {row.id}: the report of {row.market or 'every market'} {schedules.describe(row)}")


@schedule_app.command("list")
def schedule_list() -> None:
    """Every schedule, and the last week each sent."""
    with unit_of_work() as session:
        rows = schedules.list_all(session)
        if not rows:
            typer.echo("No report is scheduled.")
        for row in rows:
            sent = row.last_week_sent.isoformat() if row.last_week_sent else "never"
            typer.echo(f"#{row.id:<4} {'on ' if row.active else 'off'} {row.market or 'all':4} "
                       f"{schedules.describe(row)}; last week sent: {sent}")


@schedule_app.command("remove")
def schedule_remove(schedule_id: Annotated[int, typer.Argument(help="The schedule's number")]) -> None:
    with unit_of_work() as session:
        schedules.delete(session, schedules.by_id(session, schedule_id))
    typer.echo(f"schedule {schedule_id} removed")


@schedule_app.command("send-due")
def schedule_send_due() -> None:
    """Send the reports that are due now (what the background job does every 15 minutes)."""
    with unit_of_work() as session:
        sent = schedules.send_due(session, now=SystemClock().now(), base_url=get_settings().base_url)
    typer.echo(sent.describe())
