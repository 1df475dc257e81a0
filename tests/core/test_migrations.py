"""Migrations build the schema from nothing, and the models agree with them (alembic check)."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from sqlalchemy import Connection, Engine, inspect, text
from sqlalchemy.exc import DBAPIError
from sqlalchemy.orm import Session

from tests.conftest import START
from tests.factories.cases import make_case, make_party
from tests.factories.directory import make_market, make_queue, make_team
from trustdesk.core.clock import FrozenClock
from trustdesk.core.migrate import MIGRATIONS, check
from trustdesk.core.models_registry import metadata


def test_models_and_migrations_agree(engine: Engine) -> None:
    check(engine)  # raises if autogenerate would produce any operation
    tables = set(inspect(engine).get_table_names())
    assert set(metadata.tables) <= tables


def test_revision_files_are_date_prefixed() -> None:
    files = sorted(p.name for p in (Path(MIGRATIONS) / "versions").glob("*.py"))
    assert files, "no migrations"
    for name in files:
        assert re.match(r"^\d{4}_\d{2}_\d{2}_\d{4}-[0-9a-z]+_[a-z0-9_]+\.py$", name), name


def test_sqlite_runs_in_wal_mode_with_foreign_keys(engine: Engine, backend: str) -> None:
    if backend != "sqlite":
        return
    with engine.connect() as conn:
        assert conn.exec_driver_sql("PRAGMA journal_mode").scalar() == "wal"
        assert conn.exec_driver_sql("PRAGMA foreign_keys").scalar() == 1


def test_event_log_refuses_update_and_delete_in_sql(connection: Connection) -> None:
    session = Session(bind=connection, join_transaction_mode="create_savepoint")
    now = FrozenClock(START).now()
    market = make_market(session, now=now)
    queue = make_queue(session, now=now, key="q-events", team=make_team(session, now=now, key="t-events"),
                       market=market, intake_channels=["web_form"])
    make_case(session, market=market, party=make_party(session, market, now=now), queue=queue, now=now)
    session.flush()
    for statement in ("UPDATE case_events SET type = 'x'", "DELETE FROM case_events"):
        with pytest.raises(DBAPIError, match="append-only"), session.begin_nested():
            session.execute(text(statement))
    session.close()
