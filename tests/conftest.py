"""Test fixtures: a migrated SQLite (always) or PostgreSQL (when TRUSTDESK_TEST_DATABASE_URL is set)
database, rolled back after each test; the real ASGI app over HTTP; a frozen clock you can move.

Every test that takes ``db``, ``client`` or ``world`` runs once per backend.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import Connection, Engine, text
from sqlalchemy.orm import Session, sessionmaker

from tests.factories.cli import database  # noqa: F401  (the CLI tests' SQLite file)
from tests.factories.fast_hashing import fast_password_hashing  # noqa: F401  (autouse: every test)
from tests.factories.receiver import receiver, smtp_server  # noqa: F401  (real HTTP and SMTP receivers)
from tests.factories.world import World, build_world
from trustdesk.app import create_app
from trustdesk.core.clock import FrozenClock
from trustdesk.core.db import make_engine
from trustdesk.core.migrate import upgrade
from trustdesk.core.settings import Settings

PG_URL = os.environ.get("TRUSTDESK_TEST_DATABASE_URL", "")
BACKENDS = ["sqlite", pytest.param("postgresql", marks=pytest.mark.skipif(
    not PG_URL, reason="set TRUSTDESK_TEST_DATABASE_URL to run on PostgreSQL"))]
START = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)  # a Monday morning


def _worker() -> str:
    return os.environ.get("PYTEST_XDIST_WORKER", "main")


def postgres_schema_url(schema: str) -> str:
    """The test URL with its own schema (one per xdist worker), so parallel workers never meet."""
    joiner = "&" if "?" in PG_URL else "?"
    return f"{PG_URL}{joiner}options=-csearch_path%3D{schema}"


def fresh_postgres_engine(schema: str) -> Engine:
    admin = make_engine(PG_URL)
    with admin.begin() as conn:
        conn.execute(text(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE'))
        conn.execute(text(f'CREATE SCHEMA "{schema}"'))
    admin.dispose()
    return make_engine(postgres_schema_url(schema))


_engines: dict[str, Engine] = {}


def _schema() -> str:
    return f"test_{_worker()}_{os.getpid()}"


@pytest.fixture(scope="session", autouse=True)
def _drop_postgres_schema() -> Iterator[None]:
    yield
    if "postgresql" in _engines:
        _engines.pop("postgresql").dispose()
        admin = make_engine(PG_URL)
        with admin.begin() as conn:
            conn.execute(text(f'DROP SCHEMA IF EXISTS "{_schema()}" CASCADE'))
        admin.dispose()


def migrated_engine(backend: str, tmp_root: Path) -> Engine:
    if backend not in _engines:
        if backend == "sqlite":
            path = tmp_root / f"test-{_worker()}.db"
            for suffix in ("", "-wal", "-shm"):
                Path(f"{path}{suffix}").unlink(missing_ok=True)
            engine = make_engine(f"sqlite:///{path}")
        else:
            # One schema per process: two suites running at once (two checkouts, a helper) never meet.
            engine = fresh_postgres_engine(_schema())
        upgrade(engine)
        _engines[backend] = engine
    return _engines[backend]


@pytest.fixture(scope="session")
def tmp_root(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("db")


@pytest.fixture(params=BACKENDS)
def backend(request: pytest.FixtureRequest) -> str:
    return str(request.param)


@pytest.fixture
def engine(backend: str, tmp_root: Path) -> Engine:
    return migrated_engine(backend, tmp_root)


@pytest.fixture
def connection(engine: Engine) -> Iterator[Connection]:
    """One outer transaction per test; everything the app commits is a savepoint inside it."""
    with engine.connect() as conn:
        outer = conn.begin()
        try:
            yield conn
        finally:
            outer.rollback()


@pytest.fixture
def factory(connection: Connection) -> sessionmaker[Session]:
    return sessionmaker(bind=connection, join_transaction_mode="create_savepoint", expire_on_commit=False)


@pytest.fixture
def db(factory: sessionmaker[Session]) -> Iterator[Session]:
    session = factory()
    try:
        yield session
    finally:
        session.close()


@pytest.fixture
def clock() -> FrozenClock:
    return FrozenClock(START)


@pytest.fixture
def settings(tmp_path: Path) -> Settings:
    return Settings(data_dir=tmp_path, database_url="sqlite://", secret_key="test-secret-key-" + "x" * 32)


@pytest.fixture
def app(settings: Settings, clock: FrozenClock, factory: sessionmaker[Session]):  # type: ignore[no-untyped-def]
    return create_app(settings, clock=clock, factory=factory, jobs="inline")


@pytest.fixture
def client(app) -> Iterator[TestClient]:  # type: ignore[no-untyped-def]
    with TestClient(app, raise_server_exceptions=False) as test_client:
        yield test_client


@pytest.fixture
def world(db: Session, clock: FrozenClock) -> World:
    """A small marketplace: two markets, two vendors, T1/T2 teams, queues, one user per role."""
    built = build_world(db, now=clock.now())
    db.commit()
    return built
