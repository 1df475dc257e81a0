"""Outgoing webhooks, signed per the Standard Webhooks scheme and delivered through the outbox.

Each (event, endpoint) pair is its own outbox message, so a failing receiver is retried with
back-off on its own and never holds up another. The ``webhook-id`` is fixed when the event is
emitted and kept on every retry, so a receiver that saw a delivery before a restart recognises the
redelivery; the signature covers ``id.timestamp.body`` with HMAC-SHA256 (``webhook-signature:
v1,<base64>``) and the secret is ``whsec_`` + base64 of 24 random bytes.

The body carries ``type``, ``timestamp`` and ``data`` (the Standard Webhooks shape) and, when the
event has words for people, Slack's ``text`` and ``blocks``: the same body posted to a Slack
incoming-webhook URL shows as a message (Slack ignores the other keys).
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import logging
import secrets
import uuid
from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any
from urllib.parse import urlsplit

import httpx
from sqlalchemy import String, select
from sqlalchemy.orm import Mapped, Session, mapped_column, sessionmaker

from trustdesk.core.db import Base, transaction
from trustdesk.core.errors import Conflict, Invalid, NotFound
from trustdesk.core.outbox import enqueue, sender

log = logging.getLogger(__name__)

SECRET_PREFIX = "whsec_"  # noqa: S105 (the scheme's marker, not a secret)
DELIVER_TOPIC = "webhooks.deliver"
TIMEOUT_SECONDS = 10.0
EVENT_TYPES = ("page.triggered", "page.acknowledged", "escalation.step", "crisis.declared", "crisis.updated",
               "sla.breached", "enforcement.reversal_requested", "insight.emerging_issue",
               "insight.emerging_issue_ended", "insight.weekly_report")


class WebhookEndpoint(Base):
    """A receiver of TrustDesk's events: a URL, its signing secret and the event types it wants."""

    __tablename__ = "webhook_endpoints"

    id: Mapped[int] = mapped_column(primary_key=True)
    key: Mapped[str] = mapped_column(String(64), unique=True)
    url: Mapped[str] = mapped_column(String(2000))
    secret: Mapped[str] = mapped_column(String(100))
    event_types: Mapped[list[str]]  # ["*"] for every event
    description: Mapped[str] = mapped_column(String(300), default="")
    is_active: Mapped[bool] = mapped_column(default=True)
    created_at: Mapped[datetime]
    updated_at: Mapped[datetime]


class WebhookDeliveryFailed(Exception):
    """The receiver did not answer 2xx; the outbox retries the message with back-off."""


# ---------------------------------------------------------------- the scheme


def new_secret() -> str:
    return SECRET_PREFIX + base64.b64encode(secrets.token_bytes(24)).decode()


def _secret_bytes(secret: str) -> bytes:
    return base64.b64decode(secret.removeprefix(SECRET_PREFIX))


def sign(secret: str, webhook_id: str, timestamp: int, body: str) -> str:
    """The ``webhook-signature`` header value for one delivery attempt."""
    mac = hmac.new(_secret_bytes(secret), f"{webhook_id}.{timestamp}.{body}".encode(), hashlib.sha256)
    return "v1," + base64.b64encode(mac.digest()).decode()


def verify(secret: str, headers: dict[str, str], body: str, *, now: datetime, tolerance_seconds: int = 300) -> bool:
    """What a receiver does: the timestamp is recent and one of the ``v1`` signatures matches."""
    lowered = {k.lower(): v for k, v in headers.items()}
    try:
        webhook_id, timestamp = lowered["webhook-id"], int(lowered["webhook-timestamp"])
    except (KeyError, ValueError):
        return False
    if abs(now.timestamp() - timestamp) > tolerance_seconds:
        return False
    expected = sign(secret, webhook_id, timestamp, body).split(",", 1)[1]
    offered = [part.split(",", 1)[1] for part in lowered.get("webhook-signature", "").split()
               if part.startswith("v1,")]
    return any(hmac.compare_digest(expected, candidate) for candidate in offered)


def headers_for(secret: str, webhook_id: str, timestamp: int, body: str) -> dict[str, str]:
    return {"content-type": "application/json", "user-agent": "TrustDesk-Webhooks/1",
            "webhook-id": webhook_id, "webhook-timestamp": str(timestamp),
            "webhook-signature": sign(secret, webhook_id, timestamp, body)}


# ---------------------------------------------------------------- endpoints


def _check_url(url: str) -> str:
    parts = urlsplit(url.strip())
    if parts.scheme not in ("http", "https") or not parts.netloc:
        raise Invalid("the URL must be an absolute http(s) URL", field="url")
    return url.strip()


def _check_types(event_types: Sequence[str]) -> list[str]:
    if not event_types:
        raise Invalid("name at least one event type, or * for all", field="event_types")
    for index, name in enumerate(event_types):
        if name != "*" and name not in EVENT_TYPES:
            raise Invalid(f"unknown event type {name!r}; one of *, {', '.join(EVENT_TYPES)}",
                          field=f"event_types[{index}]")
    return sorted(set(event_types))


def create_endpoint(session: Session, *, key: str, url: str, event_types: Sequence[str], description: str = "",
                    now: datetime) -> WebhookEndpoint:
    if session.scalar(select(WebhookEndpoint.id).where(WebhookEndpoint.key == key)) is not None:
        raise Conflict(f"webhook endpoint {key!r} exists", field="key")
    row = WebhookEndpoint(key=key, url=_check_url(url), secret=new_secret(), event_types=_check_types(event_types),
                          description=description, is_active=True, created_at=now, updated_at=now)
    session.add(row)
    session.flush()
    return row


def update_endpoint(session: Session, row: WebhookEndpoint, *, url: str, event_types: Sequence[str],
                    description: str, is_active: bool, now: datetime) -> WebhookEndpoint:
    row.url, row.event_types = _check_url(url), _check_types(event_types)
    row.description, row.is_active, row.updated_at = description, is_active, now
    return row


def rotate_secret(row: WebhookEndpoint, *, now: datetime) -> WebhookEndpoint:
    row.secret, row.updated_at = new_secret(), now
    return row


def endpoint_by_key(session: Session, key: str, *, field: str = "key") -> WebhookEndpoint:
    row = session.scalar(select(WebhookEndpoint).where(WebhookEndpoint.key == key))
    if row is None:
        raise NotFound(f"webhook endpoint {key!r} does not exist", field=field)
    return row


def list_endpoints(session: Session) -> Sequence[WebhookEndpoint]:
    return session.scalars(select(WebhookEndpoint).order_by(WebhookEndpoint.key)).all()


# ---------------------------------------------------------------- emitting and delivering


def body_for(event_type: str, data: dict[str, Any], *, now: datetime, text: str | None = None,
             blocks: list[dict[str, Any]] | None = None) -> str:
    body: dict[str, Any] = {"type": event_type, "timestamp": now.astimezone(UTC).isoformat(), "data": data}
    if text is not None:
        body["text"] = text
        body["blocks"] = blocks or [{"type": "section", "text": {"type": "mrkdwn", "text": text}}]
    return json.dumps(body, separators=(",", ":"), sort_keys=True)


def endpoints_for(session: Session, event_type: str) -> list[WebhookEndpoint]:
    """The active endpoints that want ``event_type``."""
    return [e for e in session.scalars(select(WebhookEndpoint).where(WebhookEndpoint.is_active.is_(True))
                                       .order_by(WebhookEndpoint.id))
            if "*" in e.event_types or event_type in e.event_types]


def emit(session: Session, event_type: str, data: dict[str, Any], *, now: datetime, text: str | None = None,
         blocks: list[dict[str, Any]] | None = None, endpoint: WebhookEndpoint | None = None,
         webhook_id: str | None = None) -> list[str]:
    """Queue the event for every active endpoint that wants it (or for ``endpoint`` only, whatever it
    subscribes to: a ladder's "call a webhook" step). Returns the webhook ids, one per delivery.

    ``webhook_id`` makes this a redelivery of one logical message (an appeal's reversal, sent again until
    confirmed): every delivery carries that id, so receivers drop what they have seen."""
    targets = endpoints_for(session, event_type) if endpoint is None else [endpoint] if endpoint.is_active else []
    body = body_for(event_type, data, now=now, text=text, blocks=blocks)
    ids = []
    for target in targets:
        delivery_id = webhook_id or f"msg_{uuid.uuid4().hex}"
        enqueue(session, DELIVER_TOPIC, {"endpoint_id": target.id, "webhook_id": delivery_id, "type": event_type,
                                         "body": body}, now=now)
        ids.append(delivery_id)
    return ids


@sender(DELIVER_TOPIC)
def deliver(factory: sessionmaker[Session], payload: dict[str, Any], now: datetime) -> None:
    """POST one delivery (no transaction open meanwhile); anything but 2xx raises, and the outbox
    retries it later with back-off."""
    with transaction(factory) as session:
        endpoint = session.get(WebhookEndpoint, payload["endpoint_id"])
        target = (endpoint.key, endpoint.url, endpoint.secret) if endpoint is not None and endpoint.is_active else None
    if target is None:
        log.info("webhook %s dropped: endpoint %s is gone or paused", payload["webhook_id"], payload["endpoint_id"])
        return
    key, url, secret = target
    body = str(payload["body"])
    headers = headers_for(secret, str(payload["webhook_id"]), int(now.timestamp()), body)
    try:
        response = httpx.post(url, content=body.encode(), headers=headers, timeout=TIMEOUT_SECONDS)
    except httpx.HTTPError as exc:
        raise WebhookDeliveryFailed(f"{key}: {type(exc).__name__}: {exc}") from exc
    if not 200 <= response.status_code < 300:
        raise WebhookDeliveryFailed(f"{key}: HTTP {response.status_code}")
