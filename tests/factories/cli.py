"""The ``trustdesk`` command against a real SQLite file: a fixture that points the settings at it."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from trustdesk.core.settings import get_settings


@pytest.fixture
def database(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:
    url = f"sqlite:///{tmp_path / 'cli.db'}"
    monkeypatch.setenv("TRUSTDESK_DATABASE_URL", url)
    monkeypatch.setenv("TRUSTDESK_DATA_DIR", str(tmp_path))
    get_settings.cache_clear()
    yield url
    get_settings.cache_clear()
