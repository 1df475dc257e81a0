"""JSON responses rendered straight from a pydantic model, and replayed ones (Idempotency-Key).

A handler that returns a model makes FastAPI validate it again against ``response_model`` and
then serialize it; for pages of cases that was a sizeable share of each request. ``ModelResponse``
serializes once, in pydantic's Rust core. Routes keep their ``response_model`` for the OpenAPI
document.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from datetime import datetime
from typing import Any

from pydantic import BaseModel
from sqlalchemy.orm import Session
from starlette.responses import Response

from trustdesk.core import idempotency
from trustdesk.core.identity import Actor


class ModelResponse(Response):
    media_type = "application/json"

    def __init__(self, model: BaseModel, status_code: int = 200, headers: Mapping[str, str] | None = None) -> None:
        super().__init__(model.model_dump_json().encode(), status_code=status_code, headers=headers)


def once_per_key(session: Session, actor: Actor, key: str | None, payload: dict[str, Any], now: datetime,
                 work: Callable[[], Response]) -> Response:
    """Run ``work`` once per (actor, Idempotency-Key); a retry returns the first response, byte for byte
    (with ``Idempotent-Replayed: true``); the same key with another body is refused (422)."""
    if key is None:
        return work()
    key = idempotency.validate_key(key)
    scope, digest = f"user:{actor.user_id}", idempotency.fingerprint(payload)
    earlier = idempotency.claim(session, scope, key, digest, now)
    if earlier is not None:
        # The body is kept as the text that was sent: PostgreSQL's JSONB would reorder its keys.
        headers = {"Idempotent-Replayed": "true"}
        if earlier.response.get("location"):
            headers["Location"] = earlier.response["location"]
        return Response(earlier.response["raw"], status_code=earlier.status_code, headers=headers,
                        media_type="application/json")
    response = work()
    idempotency.complete(session, scope, key, response.status_code,
                         {"raw": bytes(response.body).decode(), "location": response.headers.get("location")})
    return response
