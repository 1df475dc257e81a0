"""Shared routing fixtures."""

from __future__ import annotations

from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy.orm import Session

from tests.factories.routing_history import seed_misroute_history
from tests.factories.world import World
from trustdesk.core.clock import FrozenClock


@pytest.fixture
def history(client: TestClient, world: World, db: Session, clock: FrozenClock) -> dict[str, Any]:
    """The report's eight-case history (tests/factories/routing_history.py), ending two days ago. It takes
    ``client`` so the app is up and the jobs the cases enqueue run inline, as they would in production."""
    return seed_misroute_history(db, world, now=clock.now())
