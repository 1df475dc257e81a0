"""Fixtures of the appeals tests: the test world with Spain ready for appeals."""

from __future__ import annotations

import pytest
from sqlalchemy.orm import Session

from tests.factories.appeals import AppealsWorld, make_appeals_world
from tests.factories.world import World
from trustdesk.core.clock import FrozenClock
from trustdesk.core.settings import Settings


@pytest.fixture
def aw(db: Session, world: World, clock: FrozenClock, settings: Settings) -> AppealsWorld:
    built = make_appeals_world(db, world, now=clock.now(), settings=settings)
    db.commit()
    return built
