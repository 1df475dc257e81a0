"""What every ``trustdesk`` sub-command shares: one transaction per command, days and periods as options,
output to a file or the terminal."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, date, datetime, time, timedelta
from pathlib import Path

import typer
from sqlalchemy.orm import Session, sessionmaker

from trustdesk.core.db import make_engine, make_session_factory, transaction
from trustdesk.core.errors import DomainError
from trustdesk.core.settings import get_settings


def factory() -> sessionmaker[Session]:
    return make_session_factory(make_engine(get_settings().resolved_database_url()))


@contextmanager
def unit_of_work() -> Iterator[Session]:
    """One transaction; a domain error is printed with its field and exits 2 (nothing is kept)."""
    try:
        with transaction(factory()) as session:
            yield session
    except DomainError as exc:
        raise typer.BadParameter(f"{exc.field}: {exc.detail}" if exc.field else exc.detail) from exc


def day(text: str, option: str) -> date:
    try:
        day = date.fromisoformat(text)
    except ValueError as exc:
        raise typer.BadParameter(f"a day as YYYY-MM-DD, not {text!r}", param_hint=option) from exc
    if not date(2000, 1, 1) <= day <= date(2099, 12, 31):
        raise typer.BadParameter("a day from 2000-01-01 to 2099-12-31", param_hint=option)
    return day


def period(first: str, last: str) -> tuple[date, date, datetime, datetime]:
    """``--from`` and ``--to`` as days and as ``[from 00:00 UTC, to+1 00:00 UTC)``."""
    start, end = day(first, "--from"), day(last, "--to")
    if end < start:
        raise typer.BadParameter("the last day comes on or after the first", param_hint="--to")
    return (start, end, datetime.combine(start, time(), tzinfo=UTC),
            datetime.combine(end + timedelta(days=1), time(), tzinfo=UTC))


def emit(text: str, out: Path | None) -> None:
    if out is None:
        typer.echo(text, nl=not text.endswith("\n"))
        return
    out.write_text(text, encoding="utf-8")
    typer.echo(f"written to {out}", err=True)
