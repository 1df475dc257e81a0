"""``trustdesk appeals`` (the transparency figures, the statements of reasons for the DSA Transparency
Database, the volume and policy-owner reports) and ``trustdesk market`` (a market's appeals set-up:
readiness, open, close, configure). Each command is one transaction, committed once at the end."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated, Any

import typer
from sqlalchemy import select

from trustdesk.cli_common import emit, factory, period, unit_of_work
from trustdesk.core.clock import SystemClock
from trustdesk.core.db import transaction
from trustdesk.core.errors import DomainError
from trustdesk.core.settings import get_settings

app = typer.Typer(help="Appeals: transparency figures, statements of reasons, where appeals come from.",
                  no_args_is_help=True)
market_app = typer.Typer(help="A market's appeals set-up: readiness, open, close, configure.", no_args_is_help=True)

FromOption = Annotated[str, typer.Option("--from", help="First day, YYYY-MM-DD (UTC)")]
ToOption = Annotated[str, typer.Option("--to", help="Last day, YYYY-MM-DD (UTC), included")]
MarketsOption = Annotated[list[str] | None, typer.Option("--market", help="Only this market (repeatable)")]
JsonOption = Annotated[bool, typer.Option("--json")]


def _rate(value: float | None) -> str:
    return "—" if value is None else f"{value:.1%}"


# ---------------------------------------------------------------- trustdesk appeals


@app.command("transparency")
def transparency_report(
    first: FromOption, last: ToOption, market: MarketsOption = None,
    output: Annotated[str, typer.Option("--format", help="json or csv")] = "json",
    out: Annotated[Path | None, typer.Option("--out", help="Write to this file instead of stdout",
                                             dir_okay=False)] = None,
) -> None:
    """The DSA Art. 15(1)(d) / 24(1) figures on internal complaints for the days FROM to TO."""
    from trustdesk.appeals import transparency

    if output not in ("json", "csv"):
        raise typer.BadParameter("json or csv", param_hint="--format")
    _, _, since, until = period(first, last)
    with unit_of_work() as session:
        figures = transparency.report(session, since=since, until=until, market_codes=market)
    text = (json.dumps(transparency.to_json(figures), indent=2) + "\n" if output == "json"
            else transparency.to_csv(figures))
    emit(text, out)


@app.command("export-sor")
def export_sor(
    first: FromOption, last: ToOption,
    out: Annotated[Path, typer.Option("--out", help="Directory for statements-NNNN.json and rejected.json",
                                      file_okay=False)],
    market: MarketsOption = None,
) -> None:
    """The statements of reasons applied from FROM to TO in markets where the DSA applies, as the
    Transparency Database's API takes them: batches of at most 100, one file each. Statements that
    fail its rules are listed (stderr and rejected.json) and make the command exit 1; the valid
    ones are written all the same."""
    from trustdesk.appeals import sor
    from trustdesk.appeals.models import EnforcementDecision, MarketAppealSettings
    from trustdesk.appeals.transparency import market_ids

    start, end, _, _ = period(first, last)
    if out.exists() and any(out.glob("statements-*.json")):
        raise typer.BadParameter(f"{out} holds statements already; export into an empty directory",
                                 param_hint="--out")
    with unit_of_work() as session:
        ids = market_ids(session, market)
        query = (select(EnforcementDecision.puid, EnforcementDecision.statement)
                 .join(MarketAppealSettings, MarketAppealSettings.market_id == EnforcementDecision.market_id)
                 .where(MarketAppealSettings.dsa_applies.is_(True), EnforcementDecision.application_date >= start,
                        EnforcementDecision.application_date <= end)
                 .order_by(EnforcementDecision.application_date, EnforcementDecision.id))
        if ids is not None:
            query = query.where(EnforcementDecision.market_id.in_(ids))
        found = session.execute(query).all()
    valid: list[dict[str, Any]] = []
    rejected: list[dict[str, str]] = []
    for puid, statement in found:
        cleaned = sor.clean_statement({**statement, "puid": puid})
        problems = sor.validate_statement(cleaned, for_tdb=True)
        if problems:
            rejected += [{"puid": puid, "field": p.field, "message": p.message} for p in problems]
        else:
            valid.append(cleaned)
    out.mkdir(parents=True, exist_ok=True)
    chunks = sor.batches(valid)
    for number, chunk in enumerate(chunks, start=1):
        problems = sor.validate_batch(chunk)
        if problems:  # a duplicate puid cannot pass the table's unique index; kept as a last guard
            rejected += [{"puid": "", "field": p.field, "message": p.message} for p in problems]
            continue
        (out / f"statements-{number:04d}.json").write_text(
            json.dumps({"statements": chunk}, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
    (out / "rejected.json").write_text(json.dumps(rejected, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
    for problem in rejected:
        typer.echo(f"rejected {problem['puid']}: {problem['field']} {problem['message']}", err=True)
    rejected_statements = len({p["puid"] for p in rejected})
    typer.echo(f"{len(valid)} statement(s) in {len(chunks)} batch file(s) written to {out}; "
               f"{rejected_statements} rejected")
    if rejected:
        raise typer.Exit(1)


@app.command("volume")
def volume_report(first: FromOption, last: ToOption, market: MarketsOption = None,
                  as_json: JsonOption = False) -> None:
    """Appeals next to the decisions that caused them, per policy, detection source, market, reason
    and item kind, and the (policy, source) pairs whose decisions appeals overturned most."""
    from trustdesk.appeals import insights

    _, _, since, until = period(first, last)
    with unit_of_work() as session:
        figures = insights.volume(session, since=since, until=until, market_codes=market)
    if as_json:
        typer.echo(json.dumps(figures.as_dict(), indent=2, ensure_ascii=False))
        return
    header = f"{'decisions':>10}{'appeals':>9}{'rate':>8}{'decided':>9}{'overturned':>11}{'rate':>8}"
    for dimension, rows in figures.by.items():
        typer.echo(f"\nby {dimension:<29}{header}")
        for row in [*rows, figures.total]:
            decisions = "—" if row.decisions is None else str(row.decisions)
            typer.echo(f"{row.key[:31]:<32}{decisions:>10}{row.appeals:>9}{_rate(row.appeal_rate):>8}"
                       f"{row.decided:>9}{row.overturned:>11}{_rate(row.overturn_rate):>8}")
    typer.echo("\nworst offenders (policy / source, by overturned decisions)")
    if not figures.worst_offenders:
        typer.echo("  no appeal overturned a decision in the period")
    for rank, o in enumerate(figures.worst_offenders, start=1):
        typer.echo(f"{rank:>3}. {o.policy} / {o.source}: {o.overturned} of {o.decided} decided overturned "
                   f"({_rate(o.overturn_rate)}), {o.appeals} appeals on {o.decisions} decisions; owners "
                   f"{o.policy_owner or '(none)'} / {o.source_owner or '(none)'}; e.g. {', '.join(o.examples)}")


@app.command("policy-report")
def policy_report(first: FromOption, last: ToOption, as_json: JsonOption = False) -> None:
    """Per owner of a policy or detection source: their figures and what to look at first."""
    from trustdesk.appeals import insights

    _, _, since, until = period(first, last)
    with unit_of_work() as session:
        sections = insights.policy_owner_report(session, since=since, until=until)
    if as_json:
        typer.echo(json.dumps([s.as_dict() for s in sections], indent=2, ensure_ascii=False))
        return
    if not sections:
        typer.echo("no policy or detection source has an owner")
    for section in sections:
        typer.echo(f"\n{section.owner} <{section.owner_email}>: {section.advice}")
        for kind, rows in (("policy", section.policies), ("source", section.sources)):
            for row in rows:
                typer.echo(f"  {kind} {row.key}: {row.decisions} decisions, {row.appeals} appeals "
                           f"({_rate(row.appeal_rate)}), {row.overturned} of {row.decided} decided overturned "
                           f"({_rate(row.overturn_rate)})")


# ---------------------------------------------------------------- trustdesk market


def _print_gaps(gaps: Any) -> None:
    for gap in gaps:
        typer.echo(f"{gap['area']}: {gap['what']}\n    fix: {gap['fix']}")


@market_app.command("readiness")
def readiness(market: Annotated[str, typer.Argument(help="Market code, e.g. ES")], as_json: JsonOption = False) -> None:
    """Every piece MARKET lacks before it may take appeals; exits 1 when it is not ready."""
    from trustdesk.appeals import markets
    from trustdesk.directory import service as directory

    with unit_of_work() as session:
        found = directory.market_by_code(session, market.upper())
        result = markets.check(session, found, settings=get_settings(), now=SystemClock().now())
        gaps = [{"area": g.area, "what": g.what, "fix": g.fix} for g in result.gaps]
        code = found.code
    if as_json:
        typer.echo(json.dumps({"market": code, "ready": not gaps, "checked": result.checked, "gaps": gaps},
                              indent=2, ensure_ascii=False))
    else:
        _print_gaps(gaps)
        typer.echo("ready" if not gaps else f"{len(gaps)} gaps")
    if gaps:
        raise typer.Exit(1)


@market_app.command("open")
def open_market(market: Annotated[str, typer.Argument(help="Market code, e.g. ES")]) -> None:
    """Open MARKET for appeals; refused (exit 1, with the gaps) until the readiness check passes."""
    from trustdesk.appeals import markets
    from trustdesk.core.errors import Conflict
    from trustdesk.core.events import SYSTEM
    from trustdesk.directory import service as directory

    try:
        with transaction(factory()) as session:
            found = directory.market_by_code(session, market.upper())
            markets.open_market(session, found, actor=SYSTEM, settings=get_settings(), now=SystemClock().now())
            code = found.code
    except Conflict as exc:
        if "gaps" not in exc.extra:
            raise typer.BadParameter(f"{exc.field}: {exc.detail}" if exc.field else exc.detail) from exc
        typer.echo(exc.detail, err=True)
        _print_gaps(exc.extra["gaps"])
        raise typer.Exit(1) from exc
    except DomainError as exc:
        raise typer.BadParameter(f"{exc.field}: {exc.detail}" if exc.field else exc.detail) from exc
    typer.echo(f"{code} takes appeals")


@market_app.command("close")
def close_market(market: Annotated[str, typer.Argument(help="Market code, e.g. ES")]) -> None:
    """Stop taking new appeals in MARKET (open ones are still decided)."""
    from trustdesk.appeals import markets
    from trustdesk.core.events import SYSTEM
    from trustdesk.directory import service as directory

    with unit_of_work() as session:
        found = directory.market_by_code(session, market.upper())
        markets.close_market(session, found, actor=SYSTEM, now=SystemClock().now())
        code = found.code
    typer.echo(f"{code} takes no new appeals")


@market_app.command("configure")
def configure(
    market: Annotated[str, typer.Argument(help="Market code, e.g. ES")],
    languages: Annotated[str | None, typer.Option(help="Appeal languages, comma-separated (e.g. es,en)")] = None,
    window_months: Annotated[int | None, typer.Option(help="Months to appeal from the notification")] = None,
    dsa: Annotated[bool | None, typer.Option("--dsa/--no-dsa", help="The DSA applies (an EU market)")] = None,
    human_review: Annotated[bool | None, typer.Option("--human-review/--no-human-review",
                                                      help="A person decides every appeal")] = None,
    qa_percent: Annotated[int | None, typer.Option(help="Share of decided appeals given a second review")] = None,
    out_of_court_file: Annotated[Path | None, typer.Option(help="YAML: locale: out-of-court settlement text",
                                                           dir_okay=False)] = None,
) -> None:
    """Create or change MARKET's appeals settings; what is not given keeps its current value (or the
    default: the market's languages, 6 months, no DSA, human review, 10%)."""
    from trustdesk.appeals import markets, repository
    from trustdesk.core.errors import Invalid
    from trustdesk.core.events import SYSTEM
    from trustdesk.core.yamltext import read_yaml
    from trustdesk.directory import service as directory

    with unit_of_work() as session:
        found = directory.market_by_code(session, market.upper())
        row = repository.market_settings(session, found.id)
        texts: dict[str, str] = dict(row.out_of_court) if row is not None else {}
        if out_of_court_file is not None:
            if not out_of_court_file.is_file():
                raise typer.BadParameter(f"{out_of_court_file}: no such file", param_hint="--out-of-court-file")
            raw = read_yaml(out_of_court_file.read_text(encoding="utf-8"), field="out_of_court_file")
            if not isinstance(raw, dict) or not all(isinstance(k, str) and isinstance(v, str) for k, v in raw.items()):
                raise Invalid("write one line per locale: `es: text`", field="out_of_court_file")
            texts = dict(raw)
        saved = markets.configure(
            session, found,
            languages=languages.split(",") if languages is not None else (row.languages if row else found.languages),
            window_months=window_months if window_months is not None else (row.window_months if row else 6),
            dsa_applies=dsa if dsa is not None else (row.dsa_applies if row else False),
            human_review_required=human_review if human_review is not None else (
                row.human_review_required if row else True),
            qa_sample_percent=qa_percent if qa_percent is not None else (row.qa_sample_percent if row else 10),
            out_of_court=texts,
            misuse_threshold=row.misuse_threshold if row else 3,
            misuse_window_days=row.misuse_window_days if row else 180,
            misuse_max_suspension_days=row.misuse_max_suspension_days if row else 90,
            actor=SYSTEM, now=SystemClock().now())
        summary = (f"{found.code}: languages {', '.join(saved.languages) or '(none)'}, window {saved.window_months} "
                   f"months, DSA {'yes' if saved.dsa_applies else 'no'}, human review "
                   f"{'required' if saved.human_review_required else 'not required'}, second review "
                   f"{saved.qa_sample_percent}%, out-of-court text in "
                   f"{', '.join(sorted(saved.out_of_court)) or '(none)'}"
                   f"; {'open' if saved.is_open else 'not open'}")
    typer.echo(summary)
