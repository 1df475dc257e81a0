"""Browser tests: the real app served by uvicorn on a free port, driven by Playwright in Debian's Chromium.

Chromium comes from Debian (`apt-get install chromium`), never from `playwright install`. Without it
the tests skip with a reason, unless TRUSTDESK_REQUIRE_BROWSER=1 (CI), where its absence fails.
"""

from __future__ import annotations

import os
import socket
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest
import uvicorn
from sqlalchemy.orm import Session, sessionmaker

from tests.conftest import START
from tests.factories.world import World, build_world
from trustdesk.app import create_app
from trustdesk.core.clock import SystemClock
from trustdesk.core.db import make_engine, make_session_factory, transaction
from trustdesk.core.migrate import upgrade
from trustdesk.core.settings import Settings

CHROMIUM = "/usr/bin/chromium"
LAUNCH_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-dev-shm-usage"]
ARTIFACTS = Path(__file__).resolve().parents[2] / "test-artifacts"


def _require_browser() -> None:
    if Path(CHROMIUM).exists():
        return
    if os.environ.get("TRUSTDESK_REQUIRE_BROWSER") == "1":
        pytest.fail(f"{CHROMIUM} is missing and browser tests are mandatory here (apt-get install chromium)")
    pytest.skip(f"{CHROMIUM} not installed (apt-get install chromium); browser tests skipped")


@dataclass
class LiveServer:
    url: str
    world: World
    factory: sessionmaker[Session]  # the server's database, for tests that seed data behind the UI


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@pytest.fixture
def live_server(tmp_path: Path) -> Iterator[LiveServer]:
    _require_browser()
    engine = make_engine(f"sqlite:///{tmp_path / 'browser.db'}")
    upgrade(engine)
    factory = make_session_factory(engine)
    with transaction(factory) as session:
        world = build_world(session, now=START)
    settings = Settings(data_dir=tmp_path, database_url="sqlite://", secret_key="browser-secret-" + "y" * 32)
    app = create_app(settings, clock=SystemClock(), factory=factory, jobs="inline")
    port = _free_port()
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning", lifespan="on"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:
        try:
            if httpx.get(f"{url}/api/v1/health", timeout=1).status_code == 200:
                break
        except httpx.HTTPError:
            time.sleep(0.1)
    else:
        pytest.fail("the live server did not start")
    yield LiveServer(url=url, world=world, factory=factory)
    server.should_exit = True
    thread.join(timeout=10)
    engine.dispose()


@pytest.fixture
def browser() -> Iterator[Any]:
    _require_browser()
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        instance = playwright.chromium.launch(executable_path=CHROMIUM, headless=True, args=LAUNCH_ARGS)
        try:
            yield instance
        finally:
            instance.close()
