"""``trustdesk insights``: the case facts (rebuild from the event log, catch up) and any metric's figures."""

from __future__ import annotations

import json
from typing import Annotated

import typer

from trustdesk.cli_common import period, unit_of_work
from trustdesk.core.clock import SystemClock
from trustdesk.insights import emerging, facts, metrics

app = typer.Typer(help="Insights: metric figures and the case facts they are computed from.", no_args_is_help=True)

FromOption = Annotated[str, typer.Option("--from", help="First day, YYYY-MM-DD (UTC)")]
ToOption = Annotated[str, typer.Option("--to", help="Last day, YYYY-MM-DD (UTC), included")]


@app.command("rebuild")
def rebuild() -> None:
    """Fold every case's facts again from the event log (after a bulk load, or to check the read model)."""
    with unit_of_work() as session:
        count = facts.rebuild(session, now=SystemClock().now())
    typer.echo(f"{count:,} cases folded from their events")


@app.command("refresh")
def refresh() -> None:
    """Fold the cases whose events changed since they were last folded (what the background job does)."""
    total = 0
    while True:
        with unit_of_work() as session:
            done = facts.refresh_stale(session, now=SystemClock().now())
        total += done
        if not done:
            break
    typer.echo(f"{total:,} cases refreshed")


@app.command("metrics")
def list_metrics() -> None:
    """Every metric definition: key, unit, what is better, and what it counts."""
    for d in metrics.DEFINITIONS.values():
        typer.echo(f"{d.key:30} {d.unit.value:8} {d.better.value:7} {d.description}")


@app.command("metric")
def metric(key: Annotated[str, typer.Argument(help="A metric key (see `trustdesk insights metrics`)")],
           first: FromOption, last: ToOption,
           market: Annotated[str | None, typer.Option(help="A market code")] = None,
           team: Annotated[int | None, typer.Option(help="A team id")] = None,
           tier: Annotated[str | None, typer.Option(help="t1, t2, oncall, ...")] = None,
           channel: Annotated[str | None, typer.Option(help="A channel")] = None,
           topic: Annotated[str | None, typer.Option(help="A topic (its sub-topics included)")] = None,
           by: Annotated[str | None, typer.Option(help="market, team, tier, channel, topic, day or week")] = None,
           as_json: Annotated[bool, typer.Option("--json")] = False) -> None:
    """One metric over a period, for the filtered cases, optionally grouped."""
    _, _, since, until = period(first, last)
    with unit_of_work() as session:
        window = metrics.Period(since, until)
        filters = metrics.Filters(market=market, team=team, tier=tier, channel=channel, topic=topic)
        values = metrics.compute(session, key, window, filters, by=by, now=SystemClock().now())
    definition = metrics.definition(key)
    if as_json:
        typer.echo(json.dumps({"metric": key, "unit": definition.unit.value, "from": first, "to": last,
                               "filters": filters.given(), "by": by, "values": [v.as_dict() for v in values]},
                              indent=2))
        return
    for v in values:
        figure = "—" if v.value is None else (f"{v.value:.1%}" if definition.unit is metrics.Unit.RATIO
                                              else f"{v.value:,.1f}")
        basis = f" ({v.numerator}/{v.denominator})" if v.denominator is not None else f" (n={v.count})"
        typer.echo(f"{v.group or definition.label:30} {figure}{basis}")


# ---------------------------------------------------------------- emerging issues


@app.command("emerging")
def emerging_issues(days: Annotated[int, typer.Option(help="Also the issues that ended within N days")] = 30,
                    as_json: Annotated[bool, typer.Option("--json")] = False) -> None:
    """The active emerging issues and those that ended recently: topic x market, figures, owners."""
    with unit_of_work() as session:
        found = emerging.issues(session, now=SystemClock().now(), days=days)
        rows = [emerging.issue_data(i) | {"acknowledged_at": i.acknowledged_at.isoformat() if i.acknowledged_at
                                          else None, "note": i.note, "example_case_ids": list(i.example_case_ids)}
                for i in found]
    if as_json:
        typer.echo(json.dumps({"days": days, "issues": rows}, indent=2))
        return
    if not rows:
        typer.echo(f"No emerging issue is active or ended in the last {days} days.")
        return
    for r in rows:
        span = f"{r['started_on']} to {r['ended_on'] or 'now'}"
        typer.echo(f"#{r['issue_id']:<5} {r['status']:7} {r['market']:3} {r['topic']:34} {span:26} "
                   f"peak {r['observed']} vs {r['expected']:.1f} expected ({r['chance']}), {r['total_cases']} cases")


@app.command("detect")
def detect() -> None:
    """Run the emerging-issue detector now (what the hourly job does): fold stale facts, judge every pair."""
    from trustdesk.cli_common import factory
    from trustdesk.core.settings import get_settings
    from trustdesk.insights.emerging_jobs import refresh_facts

    clock = SystemClock()
    refreshed = refresh_facts(factory(), clock)
    with unit_of_work() as session:
        report = emerging.detect(session, now=clock.now(), base_url=get_settings().base_url)
    typer.echo(f"{refreshed:,} cases refreshed; {report.describe()}")
