"""Fixtures for the case tests that need transactions to really commit."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import Engine

from tests.conftest import BACKENDS, _worker, fresh_postgres_engine
from trustdesk.core.db import make_engine
from trustdesk.core.migrate import upgrade


@pytest.fixture(params=BACKENDS)
def committed_engine(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Engine]:
    """A database of its own where transactions really commit (so threads really race)."""
    if request.param == "sqlite":
        engine = make_engine(f"sqlite:///{tmp_path / 'race.db'}")
    else:
        engine = fresh_postgres_engine(f"race_{_worker()}")
    upgrade(engine)
    yield engine
    engine.dispose()
