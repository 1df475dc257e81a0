"""Email over SMTP, sent through the outbox when ``TRUSTDESK_SMTP_URL`` is configured.

``send`` only queues a message in the caller's transaction; the consumer talks to the server after
commit, and a refused or unreachable server is retried by the outbox with back-off. Without a
configured server nothing is queued (``enabled()`` is false) and pages go to webhooks and the
in-app inbox only.

``smtp://user:password@host:587?starttls=true`` or ``smtps://host:465``; the sender address comes
from ``TRUSTDESK_SMTP_FROM``.
"""

from __future__ import annotations

import smtplib
import ssl
from dataclasses import dataclass
from datetime import datetime
from email.message import EmailMessage
from typing import Any
from urllib.parse import parse_qs, unquote, urlsplit

from sqlalchemy.orm import Session, sessionmaker

from trustdesk.core.outbox import enqueue, sender

TOPIC = "mail.send"
TIMEOUT_SECONDS = 15.0


@dataclass(frozen=True)
class SmtpServer:
    host: str
    port: int
    sender: str
    username: str | None = None
    password: str | None = None
    tls: bool = False  # smtps: TLS from the first byte
    starttls: bool = False

    @classmethod
    def from_url(cls, url: str, sender: str) -> SmtpServer:
        parts = urlsplit(url)
        if parts.scheme not in ("smtp", "smtps") or not parts.hostname:
            raise ValueError("TRUSTDESK_SMTP_URL must look like smtp://user:password@host:587?starttls=true")
        query = parse_qs(parts.query)
        return cls(host=parts.hostname, port=parts.port or (465 if parts.scheme == "smtps" else 25), sender=sender,
                   username=unquote(parts.username) if parts.username else None,
                   password=unquote(parts.password) if parts.password else None, tls=parts.scheme == "smtps",
                   starttls=query.get("starttls", ["false"])[0].lower() in ("1", "true", "yes"))


_server: SmtpServer | None = None


def configure(url: str, sender: str) -> None:
    """Called once when the app or worker starts; an empty URL turns email off."""
    global _server
    _server = SmtpServer.from_url(url, sender) if url else None


def enabled() -> bool:
    return _server is not None


def send(session: Session, *, to: str, subject: str, text: str, now: datetime) -> bool:
    """Queue one plain-text email; False when no server is configured."""
    if _server is None:
        return False
    enqueue(session, TOPIC, {"to": to, "subject": " ".join(subject.split())[:200], "text": text}, now=now)
    return True


@sender(TOPIC)
def _deliver(_factory: sessionmaker[Session], payload: dict[str, Any], _now: datetime) -> None:
    server = _server
    if server is None:  # switched off since it was queued: nothing to deliver to
        return
    message = EmailMessage()
    message["From"], message["To"] = server.sender, payload["to"]
    message["Subject"] = " ".join(str(payload["subject"]).split())  # a header is one line
    message.set_content(str(payload["text"]))
    context = ssl.create_default_context()  # certificates and host names are checked
    if server.tls:
        client: smtplib.SMTP = smtplib.SMTP_SSL(server.host, server.port, timeout=TIMEOUT_SECONDS, context=context)
    else:
        client = smtplib.SMTP(server.host, server.port, timeout=TIMEOUT_SECONDS)
    with client:
        if server.starttls:
            client.starttls(context=context)
        if server.username:
            if not (server.tls or server.starttls):
                raise ValueError("refusing to send the SMTP password in clear text: use smtps:// or ?starttls=true")
            client.login(server.username, server.password or "")
        client.send_message(message)
