"""``trustdesk kb``: the knowledge base from the shell: list, import an articles file, evaluate search."""

from __future__ import annotations

import csv
import json
from datetime import timedelta
from pathlib import Path
from typing import Annotated

import typer
from sqlalchemy.orm import Session, sessionmaker

from trustdesk.core.clock import SystemClock
from trustdesk.core.db import make_engine, make_session_factory, transaction
from trustdesk.core.settings import get_settings
from trustdesk.knowledge import evaluation, funnel, index, service

app = typer.Typer(help="The knowledge base: articles and how well search answers.", no_args_is_help=True)


def _factory() -> sessionmaker[Session]:
    return make_session_factory(make_engine(get_settings().resolved_database_url()))


@app.command("list")
def list_articles(locale: Annotated[str, typer.Option(help="Titles in this locale (falls back to English)")] = "en",
                  ) -> None:
    """Every published article by category, in LOCALE where it exists."""
    with transaction(_factory()) as session:
        for category, items in service.catalogue(session, locale=locale, market=None, market_default=None):
            typer.echo(service.category_name(category, locale))
            for shown in items:
                typer.echo(f"  {shown.article.key:<40} {shown.version.locale:<5} v{shown.version.version}  "
                           f"{shown.version.title}")


@app.command("import")
def import_articles(file: Annotated[Path, typer.Argument(help="An articles YAML file (categories, articles)",
                                                         dir_okay=False)]) -> None:
    """Create the categories and articles of FILE that do not exist yet, each published as version 1."""
    from trustdesk.demo.kb import ensure_kb

    if not file.is_file():
        raise typer.BadParameter(f"{file}: no such file", param_hint="FILE")
    with transaction(_factory()) as session:
        created = ensure_kb(session, now=SystemClock().now(), path=file)
    typer.echo(f"{created} article(s) created")


@app.command("evaluate")
def evaluate(
    questions: Annotated[Path, typer.Option(help="CSV with columns text,article_key", dir_okay=False)],
    locale: Annotated[str, typer.Option(help="The questions' language")] = "en",
    threshold: Annotated[float | None, typer.Option(help="Confidence the bot needs to answer (default: the "
                                                         "setting kb_answer_threshold)")] = None,
    as_json: Annotated[bool, typer.Option("--json")] = False,
) -> None:
    """Search every question in the published knowledge base: top1, top3, answer_rate and
    wrong_answer_rate at the threshold, p50 latency."""
    rows = _questions(questions, param="--questions")
    cutoff = threshold if threshold is not None else get_settings().kb_answer_threshold
    with transaction(_factory()) as session:
        built = index.current(session)
    figures = evaluation.evaluate(built, rows, locale=locale, threshold=cutoff)
    if as_json:
        typer.echo(json.dumps(figures, indent=2))
        return
    typer.echo(f"{figures['n']} questions ({locale}): top1 {figures['top1']:.3f} · top3 {figures['top3']:.3f} · "
               f"answered {figures['answer_rate']:.3f} at {cutoff} · wrong {figures['wrong_answer_rate']:.3f} · "
               f"p50 {figures['p50_ms']:.1f} ms")


def _questions(path: Path, *, param: str) -> list[tuple[str, str]]:
    if not path.is_file():
        raise typer.BadParameter(f"{path}: no such file", param_hint=param)
    with path.open(newline="", encoding="utf-8") as handle:
        reader = csv.DictReader(handle)
        if not {"text", "article_key"} <= set(reader.fieldnames or []):
            raise typer.BadParameter("the CSV needs the columns text,article_key", param_hint=param)
        rows = [(row["text"], row["article_key"]) for row in reader if row["text"].strip()]
    if not rows:
        raise typer.BadParameter("the CSV has no questions", param_hint=param)
    return rows


@app.command("calibrate")
def calibrate(
    questions: Annotated[Path, typer.Option(help="CSV with columns text,article_key: questions that are neither "
                                                 "example questions nor the ones you evaluate on", dir_okay=False)],
    locale: Annotated[str, typer.Option(help="The questions' language")] = "en",
) -> None:
    """Fit how far to trust the search in LOCALE and store it; prints the threshold it suggests."""
    from trustdesk.core.errors import Invalid
    from trustdesk.knowledge import tuning

    rows = _questions(questions, param="--questions")
    try:
        with transaction(_factory()) as session:
            done = tuning.calibrate(session, index.current(session), rows, locale=locale, now=SystemClock().now())
    except Invalid as error:
        raise typer.BadParameter(error.detail, param_hint=f"--{error.field}") from error
    typer.echo(f"{locale}: calibrated on {done.questions} questions; at threshold {done.threshold:.4f} the bot "
               f"answers {done.answer_rate:.1%} of them, {done.wrong_answer_rate:.1%} of those wrong. "
               f"Set TRUSTDESK_KB_ANSWER_THRESHOLD={done.threshold:.2f} to answer at it.")


@app.command("examples")
def import_examples(
    file: Annotated[Path, typer.Argument(help="CSV with columns text,article_key (and locale, else --locale)",
                                         dir_okay=False)],
    locale: Annotated[str, typer.Option(help="Locale of rows without one")] = "en",
) -> None:
    """Add example questions (customers' words an article answers) to the articles; known ones are skipped."""
    from trustdesk.core.errors import DomainError
    from trustdesk.knowledge import tuning

    if not file.is_file():
        raise typer.BadParameter(f"{file}: no such file", param_hint="FILE")
    with file.open(newline="", encoding="utf-8") as handle:
        reader = csv.DictReader(handle)
        if not {"text", "article_key"} <= set(reader.fieldnames or []):
            raise typer.BadParameter("the CSV needs the columns text,article_key", param_hint="FILE")
        grouped: dict[tuple[str, str], list[str]] = {}
        for row in reader:
            grouped.setdefault((row["article_key"], (row.get("locale") or locale).strip()), []).append(row["text"])
    added = 0
    try:
        with transaction(_factory()) as session:
            for (key, row_locale), texts in grouped.items():
                added += tuning.add_examples(session, key, row_locale, texts, source="import",
                                             now=SystemClock().now())
    except DomainError as error:
        raise typer.BadParameter(f"{error.detail} (nothing was added)", param_hint="FILE") from error
    typer.echo(f"{added} example question(s) added")


@app.command("deflection")
def deflection_funnel(
    days: Annotated[int, typer.Option(min=1, max=funnel.MAX_DAYS,
                                      help="Conversations started in the last N days")] = 28,
    by: Annotated[str, typer.Option(help="Group by topic, market or language")] = "topic",
    as_json: Annotated[bool, typer.Option("--json")] = False,
) -> None:
    """The deflection funnel per topic, market or language: attempts, answers, clicks, helped, handed
    off, and resolved (no case by the same person within kb_deflection_days), contacted, pending and
    unknown (nobody signed in). Deflection rate = resolved / attempts."""
    if by not in funnel.GROUPS:
        raise typer.BadParameter(f"one of {', '.join(funnel.GROUPS)}", param_hint="--by")
    now = SystemClock().now()
    with transaction(_factory()) as session:
        figures = funnel.report(session, since=now - timedelta(days=days), until=now, now=now,
                                days=get_settings().kb_deflection_days, by=by)
    if as_json:
        typer.echo(json.dumps(figures.as_dict(), indent=2))
        return
    typer.echo(f"Bot conversations of the last {days} days by {by}; resolved = no case by the same person "
               f"within {figures.days} days")
    header = ("attempts", "answers", "clicks", "helped", "handed_off", "resolved", "contacted", "pending",
              "unknown")
    typer.echo(f"{by:<32}" + "".join(f"{name:>11}" for name in header) + f"{'deflection':>11}")
    for row in [*figures.rows, figures.total]:
        label = "total" if row is figures.total else (row.key or f"(no {by})")
        rate = row.deflection_rate
        typer.echo(f"{label[:31]:<32}" + "".join(f"{getattr(row, name):>11}" for name in header)
                   + f"{'—' if rate is None else f'{rate:.1%}':>11}")


@app.command("gaps")
def gaps_report(
    days: Annotated[int, typer.Option(min=1, max=365, help="Cases opened in the last N days (growth: against "
                                                           "the N days before)")] = 28,
    market: Annotated[str | None, typer.Option(help="Only this market's cases (its code, e.g. US)")] = None,
    language: Annotated[str | None, typer.Option(help="Only cases in this language (e.g. en)")] = None,
    embeddings: Annotated[bool, typer.Option(help="Sentence embeddings where the model knows the language "
                                                  "(else word and character n-grams)")] = True,
    as_json: Annotated[bool, typer.Option("--json")] = False,
) -> None:
    """What customers ask that self-help misses: recent case questions grouped, each group with its
    top terms and representative question, ranked gaps first (no confident article), then
    ineffective articles (answered, yet the cases keep coming), then covered."""
    from trustdesk.core.errors import Invalid
    from trustdesk.knowledge import gaps
    from trustdesk.text.embeddings import embedder

    settings = get_settings()
    try:
        with transaction(_factory()) as session:
            report = gaps.mine(session, now=SystemClock().now(), days=days, market=market, language=language,
                               threshold=settings.kb_answer_threshold, embedder=embedder() if embeddings else None)
    except Invalid as error:
        raise typer.BadParameter(error.detail, param_hint=f"--{error.field}") from error
    if as_json:
        typer.echo(json.dumps(report.as_dict(), indent=2, ensure_ascii=False))
        return
    scope = " · ".join(part for part in (report.market, report.language) if part)
    typer.echo(f"Cases opened in the {days} days to {report.until:%Y-%m-%d %H:%M} UTC{f' ({scope})' if scope else ''}: "
               f"{report.cases}, {report.previous_cases} in the {days} days before; "
               f"{len(report.clusters)} groups, {report.unclustered} unclustered; "
               f"self-help answers at confidence >= {report.threshold:.2f}")
    if report.sampled:
        typer.echo(f"Estimated from {report.mined} of the {report.cases} cases (a fixed sample; counts scaled)")
    if not report.cases:
        typer.echo("No customer cases in this window.")
        return
    if not report.clusters:
        typer.echo("No question came up often enough to group.")
        return
    labels = {gaps.Verdict.GAP: "GAP", gaps.Verdict.INEFFECTIVE: "INEFFECTIVE ARTICLE",
              gaps.Verdict.COVERED: "covered"}
    for rank, cluster in enumerate(report.clusters, start=1):
        growth = "new" if cluster.growth is None else f"{cluster.growth:+.0%} on {cluster.previous}"
        where = ", ".join(f"{code} {n}" for code, n in cluster.markets)
        typer.echo(f"\n{rank}. {labels[cluster.verdict]} · {cluster.size} cases ({growth}) · {cluster.language} · "
                   f"{where}")
        typer.echo(f"   terms: {', '.join(cluster.terms)}")
        typer.echo(f"   asked: \"{cluster.question[:160]}\"")
        answered = round(cluster.answered * cluster.probes)
        if cluster.article is None:
            typer.echo(f"   article: none found (answers {answered} of {cluster.probes})")
        else:
            closest = "" if cluster.article.confident else "closest "
            typer.echo(f"   {closest}article: {cluster.article.key} \"{cluster.article.title}\" at "
                       f"{cluster.article.confidence:.2f} (answers {answered} of {cluster.probes})")
        typer.echo(f"   cases: {', '.join(s.reference for s in cluster.samples)}")
