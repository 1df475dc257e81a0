"""``trustdesk kb``: the knowledge base from the shell: list, import an articles file, evaluate search."""

from __future__ import annotations

import csv
import json
from pathlib import Path
from typing import Annotated

import typer
from sqlalchemy.orm import Session, sessionmaker

from trustdesk.core.clock import SystemClock
from trustdesk.core.db import make_engine, make_session_factory, transaction
from trustdesk.core.settings import get_settings
from trustdesk.knowledge import evaluation, index, service

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
    if not questions.is_file():
        raise typer.BadParameter(f"{questions}: no such file", param_hint="--questions")
    with questions.open(newline="", encoding="utf-8") as handle:
        reader = csv.DictReader(handle)
        if not {"text", "article_key"} <= set(reader.fieldnames or []):
            raise typer.BadParameter("the CSV needs the columns text,article_key", param_hint="--questions")
        rows = [(row["text"], row["article_key"]) for row in reader if row["text"].strip()]
    if not rows:
        raise typer.BadParameter("the CSV has no questions", param_hint="--questions")
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
