"""Builders for the replies tests: templates through the API (as the lead), cases by intake."""

from __future__ import annotations

from typing import Any

from fastapi.testclient import TestClient

from tests.factories.api import intake_case
from tests.factories.world import World
from trustdesk.directory.models import Queue

REFUND = {
    "key": "refund-issued", "name": "Refund issued", "default_locale": "en",
    "bodies": {
        "en": "Hi {{ customer_first_name }}, the refund for order {{ order_id }} is on its way. {{ agent_name }}",
        "es": "Hola {{ customer_first_name }}, el reembolso del pedido {{ order_id }} va de camino. {{ agent_name }}",
    },
    "actions": {"status": "solved", "add_tags": ["refund", "Refund-Issued"], "priority": "high"},
}
# The tables a use of a template writes to (a refused use leaves them as they were).
USE_TABLES = ("case_messages", "case_events", "response_template_uses", "outbox")


def create_template(client: TestClient, world: World, who: str = "lead", **overrides: Any) -> dict[str, Any]:
    body = REFUND | overrides
    response = client.post("/api/v1/templates", headers=world.auth(who), json=body)
    assert response.status_code == 201, response.text
    return response.json()  # type: ignore[no-any-return]


def open_case(client: TestClient, world: World, queue: Queue, *, external_id: str = "cust-1",
              **overrides: Any) -> dict[str, Any]:
    market = "ES" if queue.market_id == world.es.id else "US"
    return intake_case(client, world, queue=queue, external_id=external_id, market=market, **overrides)
