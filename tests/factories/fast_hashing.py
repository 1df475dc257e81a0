"""A cheap password hasher for the whole suite (used by ``tests/conftest.py``).

The world fixture creates fourteen users; at Argon2's production cost that is over a second
per test. The hashes stay real Argon2 (``verify_password`` still works), just cheap to compute.
"""

from __future__ import annotations

import pytest
from argon2 import PasswordHasher

from trustdesk.core import identity


@pytest.fixture(autouse=True)
def fast_password_hashing(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(identity, "_hasher", PasswordHasher(time_cost=1, memory_cost=8, parallelism=1))
