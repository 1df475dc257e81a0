"""A real HTTP receiver on localhost for webhook tests: it records every request and answers with
the status codes (or status and JSON body) it is told to (then 200); told to stall, it holds every
answer until the test ends (a receiver that times out)."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest


@dataclass
class Received:
    path: str
    headers: dict[str, str]
    body: str


@dataclass
class Receiver:
    url: str
    requests: list[Received] = field(default_factory=list)
    statuses: list[int] = field(default_factory=list)  # answered in order; then 200
    replies: list[tuple[int, str]] = field(default_factory=list)  # (status, JSON body), answered before statuses
    stalled: bool = False

    def answer(self, *codes: int) -> None:
        self.statuses.extend(codes)

    def reply(self, code: int, body: str) -> None:
        self.replies.append((code, body))


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    state = Receiver(url="")
    released = threading.Event()

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            length = int(self.headers.get("content-length", "0"))
            body = self.rfile.read(length).decode()
            state.requests.append(Received(path=self.path, headers={k.lower(): v for k, v in self.headers.items()},
                                           body=body))
            if state.stalled:
                released.wait(30)
            code, payload = state.replies.pop(0) if state.replies else (
                state.statuses.pop(0) if state.statuses else 200, "")
            try:
                self.send_response(code)
                if payload:
                    self.send_header("content-type", "application/json")
                self.send_header("content-length", str(len(payload.encode())))
                self.end_headers()
                self.wfile.write(payload.encode())
            except OSError:  # the caller gave up waiting (a timeout test)
                return

        def log_message(self, format: str, *args: object) -> None:
            return

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    state.url = f"http://127.0.0.1:{server.server_address[1]}/hook"
    try:
        yield state
    finally:
        released.set()
        server.shutdown()
        server.server_close()


@dataclass
class Mailbox:
    """What a tiny SMTP server on localhost received: (from, [to], message text)."""

    port: int = 0
    messages: list[tuple[str, list[str], str]] = field(default_factory=list)


@pytest.fixture
def smtp_server() -> Iterator[Mailbox]:
    """A minimal SMTP server (RFC 5321's happy path) that keeps every message it is given."""
    import socketserver

    box = Mailbox()

    class Session(socketserver.StreamRequestHandler):
        def reply(self, line: str) -> None:
            self.wfile.write(f"{line}\r\n".encode())

        def handle(self) -> None:
            self.reply("220 localhost test SMTP")
            sender, recipients = "", []
            while raw := self.rfile.readline():
                command = raw.decode().strip()
                verb = command.split(" ", 1)[0].upper()
                if verb in ("EHLO", "HELO"):
                    self.reply("250 localhost")
                elif verb == "MAIL":
                    sender, recipients = command.split(":", 1)[1].strip(" <>"), []
                    self.reply("250 OK")
                elif verb == "RCPT":
                    recipients.append(command.split(":", 1)[1].strip(" <>"))
                    self.reply("250 OK")
                elif verb == "DATA":
                    self.reply("354 end with a dot")
                    lines = []
                    while (line := self.rfile.readline().decode()) not in (".\r\n", ".\n", ""):
                        lines.append(line[1:] if line.startswith("..") else line)
                    box.messages.append((sender, recipients, "".join(lines)))
                    self.reply("250 queued")
                elif verb == "QUIT":
                    self.reply("221 bye")
                    return
                else:
                    self.reply("250 OK")

    server = socketserver.ThreadingTCPServer(("127.0.0.1", 0), Session)
    server.daemon_threads = True
    box.port = server.server_address[1]
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield box
    finally:
        server.shutdown()
        server.server_close()
