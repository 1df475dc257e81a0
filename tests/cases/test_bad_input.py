"""Bad input is refused with a problem naming the field, and nothing is half-written. Never a 500."""

from __future__ import annotations

import base64
import json
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy.orm import Session

from tests.factories.api import assert_problem, customer_case, fresh_case, intake_case, row_counts
from tests.factories.world import World
from trustdesk.core.settings import Settings

MAX_REQUEST_BYTES = Settings().max_request_bytes
MAX_ATTACHMENT_BYTES = Settings().max_attachment_bytes
NEW = {"channel": "web_form", "market": "US", "subject": "Where is my order?", "body": "It has not arrived."}
PARTY = {"kind": "buyer", "external_id": "b-1", "display_name": "Bea Buyer"}
PNG = {"filename": "label.png", "content_type": "image/png", "size_bytes": 2048}


def _without(data: dict[str, Any], key: str) -> dict[str, Any]:
    return {k: v for k, v in data.items() if k != key}


def _cursor(payload: Any) -> str:
    return base64.urlsafe_b64encode(json.dumps(payload).encode()).decode().rstrip("=")


@dataclass
class Bad:
    method: str
    path: str  # {case} is replaced by an existing case's id
    status: int
    field: str
    json: Any = None
    content: bytes | None = None
    who: str = "buyer"
    headers: dict[str, str] = field(default_factory=dict)
    params: dict[str, Any] | None = None


def _oversize_stream() -> Iterator[bytes]:
    chunk = b" " * 65536
    yield b'{"channel": "web_form", "market": "US", "subject": "s", "body": "'
    for _ in range(MAX_REQUEST_BYTES // len(chunk) + 2):
        yield chunk
    yield b'"}'


CASES = [
    # wrong types
    pytest.param(Bad("POST", "/cases", 422, "priority", json=NEW | {"priority": 5}), id="priority-5"),
    pytest.param(Bad("POST", "/cases", 422, "priority", json=NEW | {"priority": "asap"}), id="priority-unknown"),
    pytest.param(Bad("POST", "/cases", 422, "subject", json=NEW | {"subject": 123}), id="subject-123"),
    pytest.param(Bad("POST", "/cases", 422, "tags", json=NEW | {"tags": "x"}), id="tags-string"),
    pytest.param(Bad("POST", "/cases", 422, "tags", json=NEW | {"tags": ["ok", "not ok"]}), id="tags-bad-tag"),
    pytest.param(Bad("POST", "/cases", 422, "channel", json=NEW | {"channel": "fax"}), id="channel-unknown"),
    pytest.param(Bad("POST", "/cases", 422, "language", json=NEW | {"language": "english"}), id="language-bad"),
    pytest.param(Bad("POST", "/cases", 422, "custom_fields", json=NEW | {"custom_fields": {"a": {"b": 1}}}),
                 id="custom-fields-nested"),
    pytest.param(Bad("POST", "/cases", 422, "custom_fields", json=NEW | {"custom_fields": ["a"]}),
                 id="custom-fields-list"),
    pytest.param(Bad("POST", "/cases", 422, "attachments[0].size_bytes",
                     json=NEW | {"attachments": [PNG | {"size_bytes": "big"}]}), id="size-string"),
    pytest.param(Bad("POST", "/cases", 422, "attachments[0].size_bytes",
                     json=NEW | {"attachments": [PNG | {"size_bytes": 0}]}), id="size-zero"),
    # unknown and missing fields
    pytest.param(Bad("POST", "/cases", 422, "foo", json=NEW | {"foo": 1}), id="unknown-top-level"),
    pytest.param(Bad("POST", "/cases", 422, "party.nickname", who="lead",
                     json=NEW | {"party": PARTY | {"nickname": "B"}}), id="unknown-in-party"),
    pytest.param(Bad("POST", "/cases", 422, "attachments[0].path",
                     json=NEW | {"attachments": [PNG | {"path": "/etc/passwd"}]}), id="unknown-in-attachment"),
    pytest.param(Bad("POST", "/cases", 422, "subject", json=_without(NEW, "subject")), id="missing-subject"),
    pytest.param(Bad("POST", "/cases", 422, "body", json=_without(NEW, "body")), id="missing-body-text"),
    pytest.param(Bad("POST", "/cases", 422, "channel", json=_without(NEW, "channel")), id="missing-channel"),
    pytest.param(Bad("POST", "/cases", 422, "party.kind", who="lead", json=NEW | {"party": _without(PARTY, "kind")}),
                 id="missing-party-kind"),
    pytest.param(Bad("POST", "/cases", 422, "party.email", who="lead",
                     json=NEW | {"party": PARTY | {"email": "not-an-email"}}), id="party-email"),
    # sizes and types of content
    pytest.param(Bad("POST", "/cases", 413, "body", json=NEW | {"body": "x" * (MAX_REQUEST_BYTES + 1)}),
                 id="oversize-body"),
    pytest.param(Bad("POST", "/cases", 413, "body", content=b"streamed",
                     headers={"content-type": "application/json"}), id="oversize-body-streamed"),
    pytest.param(Bad("POST", "/cases", 413, "attachments[0].size_bytes",
                     json=NEW | {"attachments": [PNG | {"size_bytes": MAX_ATTACHMENT_BYTES + 1}]}),
                 id="oversize-attachment"),
    pytest.param(Bad("POST", "/cases", 413, "attachments[1].size_bytes",
                     json=NEW | {"attachments": [PNG, PNG | {"size_bytes": 2**40}]}), id="oversize-second-attachment"),
    pytest.param(Bad("POST", "/cases", 415, "attachments[0].content_type",
                     json=NEW | {"attachments": [PNG | {"content_type": "application/x-msdownload"}]}),
                 id="disallowed-content-type"),
    pytest.param(Bad("POST", "/cases", 422, "attachments", json=NEW | {"attachments": [PNG] * 21}),
                 id="too-many-attachments"),
    pytest.param(Bad("POST", "/cases/{case}/attachments", 415, "attachments[0].content_type",
                     json=[PNG | {"content_type": "text/html"}]), id="attach-disallowed-type"),
    pytest.param(Bad("POST", "/cases/{case}/messages", 413, "attachments[0].size_bytes",
                     json={"body": "photo", "attachments": [PNG | {"size_bytes": MAX_ATTACHMENT_BYTES + 1}]}),
                 id="reply-oversize-attachment"),
    pytest.param(Bad("POST", "/cases/{case}/messages", 422, "body", json={"body": "x" * 20_001}),
                 id="reply-too-long"),
    # references to things that do not exist
    pytest.param(Bad("POST", "/cases", 422, "market", json=NEW | {"market": "ZZ"}), id="unknown-market"),
    pytest.param(Bad("POST", "/cases", 422, "market", json=NEW | {"market": "U"}), id="market-too-short"),
    pytest.param(Bad("POST", "/cases", 422, "queue_id", who="lead",
                     json=NEW | {"party": PARTY, "queue_id": 999_999}), id="unknown-queue"),
    pytest.param(Bad("POST", "/cases", 422, "queue_id", who="lead", json=NEW | {"party": PARTY, "queue_id": 0}),
                 id="queue-zero"),
    pytest.param(Bad("POST", "/cases", 422, "queue_id", who="lead",
                     json=NEW | {"party": PARTY, "queue_id": 2**40}), id="queue-beyond-integer"),
    pytest.param(Bad("POST", "/cases/{case}/assign", 422, "agent_id", who="lead", json={"agent_id": 2**63}),
                 id="agent-beyond-integer"),
    pytest.param(Bad("GET", "/cases/1099511627776", 422, "case_id", who="agent_t1"), id="case-id-beyond-integer"),
    pytest.param(Bad("GET", "/cases/abc", 422, "case_id", who="agent_t1"), id="case-id-not-a-number"),
    pytest.param(Bad("POST", "/cases/0/status", 422, "case_id", who="agent_t1", json={"status": "solved"}),
                 id="case-id-zero"),
    # bytes that are not JSON
    pytest.param(Bad("POST", "/cases", 400, "body",
                     content=b'{"channel": "web_form", "market": "US", "subject": "\xff\xfe", "body": "x"}',
                     headers={"content-type": "application/json"}), id="invalid-utf8"),
    pytest.param(Bad("POST", "/cases", 422, "body", content=b"subject=hello&body=world",
                     headers={"content-type": "application/json"}), id="not-json"),
    pytest.param(Bad("POST", "/cases", 422, "body", content=b'{"channel": "web_form",',
                     headers={"content-type": "application/json"}), id="truncated-json"),
    pytest.param(Bad("POST", "/cases", 422, "body", json=[NEW]), id="json-array"),
    pytest.param(Bad("POST", "/cases", 422, "body", json="just a string"), id="json-string"),
    pytest.param(Bad("POST", "/cases", 422, "body", content=b"", headers={"content-type": "application/json"}),
                 id="empty-request-body"),
    pytest.param(Bad("POST", "/cases", 422, "body", content=b"<case/>", headers={"content-type": "application/xml"}),
                 id="xml-content-type"),
    # text that is empty once cleaned
    pytest.param(Bad("POST", "/cases", 422, "body", json=NEW | {"body": ""}), id="empty-text"),
    pytest.param(Bad("POST", "/cases", 422, "body", json=NEW | {"body": " \n\t "}), id="whitespace-text"),
    pytest.param(Bad("POST", "/cases", 422, "body", json=NEW | {"body": "\x00\x07\x1b"}), id="control-only-text"),
    pytest.param(Bad("POST", "/cases", 422, "subject", json=NEW | {"subject": "\u200b\x00 "}),
                 id="subject-invisible-only"),
    pytest.param(Bad("POST", "/cases/{case}/messages", 422, "body", json={"body": "   "}), id="reply-whitespace"),
    pytest.param(Bad("POST", "/cases/{case}/notes", 422, "body", who="agent_t1", json={"body": "\x00"}),
                 id="note-control-only"),
    pytest.param(Bad("POST", "/cases/{case}/messages", 422, "visibility", who="agent_t1",
                     json={"body": "x", "visibility": "secret"}), id="reply-visibility"),
    pytest.param(Bad("PATCH", "/cases/{case}", 422, "priority", who="agent_t1", json={"priority": 5},
                     headers={"If-Match": "*"}), id="patch-priority-5"),
    pytest.param(Bad("PATCH", "/cases/{case}", 422, "status", who="agent_t1", json={"status": "closed"},
                     headers={"If-Match": "*"}), id="patch-unknown-field"),
    pytest.param(Bad("POST", "/cases/{case}/status", 422, "status", who="agent_t1", json={}), id="status-missing"),
    pytest.param(Bad("POST", "/cases/{case}/reroute", 422, "note", who="agent_t1",
                     json={"queue_id": 1, "reason": "other", "note": "n" * 2001}), id="reroute-note-too-long"),
    pytest.param(Bad("POST", "/cases", 422, "Idempotency-Key", json=NEW, headers={"Idempotency-Key": "k" * 201}),
                 id="idempotency-key-too-long"),
    # listing parameters
    pytest.param(Bad("GET", "/cases", 422, "cursor", who="agent_t1", params={"cursor": "garbage!!"}),
                 id="cursor-garbage"),
    pytest.param(Bad("GET", "/cases", 422, "cursor", who="agent_t1", params={"cursor": _cursor([1, 2])}),
                 id="cursor-wrong-shape"),
    pytest.param(Bad("GET", "/cases", 422, "cursor", who="agent_t1",
                     params={"cursor": _cursor({"v": "2026-03-01T00:00:00", "id": 1})}), id="cursor-naive-time"),
    pytest.param(Bad("GET", "/cases", 422, "cursor", who="agent_t1",
                     params={"cursor": _cursor({"v": "2026-03-01T00:00:00+00:00", "id": 10**30})}),
                 id="cursor-huge-id"),
    pytest.param(Bad("GET", "/cases", 422, "limit", who="agent_t1", params={"limit": 0}), id="limit-0"),
    pytest.param(Bad("GET", "/cases", 422, "limit", who="agent_t1", params={"limit": 201}), id="limit-201"),
    pytest.param(Bad("GET", "/cases", 422, "limit", who="agent_t1", params={"limit": "ten"}), id="limit-text"),
    pytest.param(Bad("GET", "/cases", 422, "sort", who="agent_t1", params={"sort": "random"}), id="sort-unknown"),
    pytest.param(Bad("GET", "/cases", 422, "status[0]", who="agent_t1", params={"status": "archived"}),
                 id="status-filter-unknown"),
    pytest.param(Bad("GET", "/cases", 422, "queue_id", who="agent_t1", params={"queue_id": "abc"}),
                 id="queue-filter-text"),
    pytest.param(Bad("GET", "/cases", 422, "q", who="agent_t1", params={"q": "order\x00"}), id="q-with-nul"),
    pytest.param(Bad("GET", "/cases", 422, "q", who="agent_t1", params={"q": "x" * 201}), id="q-too-long"),
    pytest.param(Bad("GET", "/cases", 422, "tag", who="agent_t1", params={"tag": "vip\x00"}), id="tag-with-nul"),
]


@pytest.mark.parametrize("bad", CASES)
def test_bad_input_is_refused_and_nothing_is_half_written(client: TestClient, world: World, db: Session,
                                                          bad: Bad) -> None:
    case_id = customer_case(client, world)["id"] if "{case}" in bad.path else None
    before = row_counts(db)
    snapshot = fresh_case(db, case_id).version if case_id else None
    url = "/api/v1" + bad.path.replace("{case}", str(case_id))
    headers = world.auth(bad.who) | bad.headers
    if bad.content is not None:
        content: Any = _oversize_stream() if bad.content == b"streamed" else bad.content
        response = client.request(bad.method, url, headers=headers, content=content, params=bad.params)
    else:
        response = client.request(bad.method, url, headers=headers, json=bad.json, params=bad.params)

    assert_problem(response, bad.status, bad.field)
    assert row_counts(db) == before
    if case_id:
        assert fresh_case(db, case_id).version == snapshot


def test_control_characters_are_stripped_and_text_is_normalised(client: TestClient, world: World,
                                                                 db: Session) -> None:
    created = intake_case(client, world, subject="Parcel\x00 lost\x07", body="Line one\r\nLine two\x1b[0m\tend\x00",
                          party={"kind": "buyer", "external_id": "ctl\x00-1", "display_name": "Ann\x00 Lee\x7f"},
                          topic="ship\x00ping", custom_fields={"note": "a\x00b", "codes": ["x\x01y"]},
                          tags=["vip"], attachments=[PNG | {"filename": "la\x00bel.png"}])
    assert created["subject"] == "Parcel lost"
    assert created["messages"][0]["body"] == "Line one\nLine two[0m\tend"
    assert created["party"]["display_name"] == "Ann Lee"
    assert created["party"]["external_id"] == "ctl-1"
    assert created["topic"] == "shipping"
    assert created["custom_fields"] == {"note": "ab", "codes": ["xy"]}
    assert created["attachments"][0]["filename"] == "label.png"
    # Combining sequences are stored composed (NFC), so searching and comparing work.
    composed = customer_case(client, world, subject="Cafe\u0301", body="Re\u0301sume\u0301 of my order problem")
    assert composed["subject"] == "Caf\u00e9"
    assert composed["messages"][0]["body"] == "R\u00e9sum\u00e9 of my order problem"


def test_control_characters_in_replies_and_notes_are_stripped(client: TestClient, world: World) -> None:
    created = customer_case(client, world)
    reply = client.post(f"/api/v1/cases/{created['id']}/messages", headers=world.auth("buyer"),
                        json={"body": "\x00Still\x08 waiting\x1f"})
    assert reply.status_code == 201 and reply.json()["body"] == "Still waiting"
    note = client.post(f"/api/v1/cases/{created['id']}/status", headers=world.auth("agent_t1"),
                       json={"status": "pending", "reason": "waiting\x00 on carrier"})
    assert note.status_code == 200, note.text


HOSTILE_BODIES: list[Any] = [None, [], "text", 0, True, {"": None}, {"a" * 300: 1},
                             {"body": None, "status": None, "agent_id": None, "queue_id": None},
                             {"body": ["x"], "status": {"x": 1}, "agent_id": "1", "queue_id": -1},
                             {"body": "\ud800"}, {"case_id": 1.5, "kind": None, "into_case_id": "2"}]


def test_hostile_bodies_never_cause_a_500(client: TestClient, world: World, db: Session) -> None:
    case_id = customer_case(client, world)["id"]
    before = row_counts(db)
    routes = [("POST", "/cases"), ("PATCH", f"/cases/{case_id}"), ("POST", f"/cases/{case_id}/messages"),
              ("POST", f"/cases/{case_id}/notes"), ("POST", f"/cases/{case_id}/attachments"),
              ("POST", f"/cases/{case_id}/status"), ("POST", f"/cases/{case_id}/assign"),
              ("POST", f"/cases/{case_id}/reroute"), ("POST", f"/cases/{case_id}/links"),
              ("POST", f"/cases/{case_id}/merge"), ("POST", "/internal-requests")]
    failures = []
    for method, path in routes:
        for body in HOSTILE_BODIES:
            raw = json.dumps(body).encode()
            response = client.request(method, f"/api/v1{path}", content=raw,
                                      headers=world.auth("admin") | {"If-Match": "*",
                                                                     "content-type": "application/json"})
            ok = 400 <= response.status_code < 500 and response.headers["content-type"].startswith(
                "application/problem+json") and response.json().get("errors")
            if not ok:
                failures.append(f"{method} {path} {raw[:60]!r}: {response.status_code} {response.text[:100]}")
    assert not failures, "\n".join(failures)
    assert row_counts(db) == before
