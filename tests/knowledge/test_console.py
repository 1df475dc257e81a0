"""The knowledge base's console over HTTP: write, preview (sanitised), send to review, publish by
someone else (the help center and its search show it at once), translate, diff versions, send back
with a comment, categories, attachments, readers' feedback, and who may do what."""

from __future__ import annotations

import re
import threading
import time
from collections.abc import Iterator
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import Connection, select, text
from sqlalchemy.orm import Session

from tests.cases.test_listing import StatementCounter
from tests.conftest import PG_URL, START, _schema, fresh_postgres_engine
from tests.factories.identity import make_user
from tests.factories.world import World
from tests.web.test_pages_auth import sign_in
from trustdesk.core.clock import FrozenClock
from trustdesk.core.db import make_session_factory, transaction
from trustdesk.core.errors import PreconditionFailed
from trustdesk.core.identity import actor_for
from trustdesk.core.migrate import upgrade
from trustdesk.core.permissions import Role
from trustdesk.knowledge import service
from trustdesk.knowledge.models import KbArticle, KbAttachment, KbVersion

XSS = "<script>alert(1)</script>"
BODY = ("Parcel lockers keep your order for **five days**.\n\n"
        f"Open the app, tap *Pick up* and scan the code. {XSS}\n\n"
        "[Evil](javascript:alert(2)) and [help](https://example.com/lockers).")


@pytest.fixture
def counter(connection: Connection) -> Iterator[StatementCounter]:
    made = StatementCounter(connection)
    yield made
    made.close()


def _second_lead(db: Session, clock: FrozenClock) -> None:
    make_user(db, Role.LEAD, now=clock.now(), email="lead2@example.test", name="Second Lead")
    db.commit()


def _category(db: Session, clock: FrozenClock, key: str = "orders") -> None:
    service.ensure_category(db, key=key, names={"en": key.title(), "es": "Pedidos"}, position=1, now=clock.now())
    db.commit()


def _version(db: Session, key: str, locale: str, number: int) -> KbVersion:
    db.expire_all()
    row = db.scalar(select(KbVersion).join(KbArticle, KbArticle.id == KbVersion.article_id)
                    .where(KbArticle.key == key, KbVersion.locale == locale, KbVersion.version == number))
    assert row is not None, (key, locale, number)
    return row


def _write(client: TestClient, token: str, key: str, locale: str, title: str, body: str, based_on: int,
           action: str = "submit") -> int:
    response = client.post(f"/console/kb/articles/{key}/edit", follow_redirects=False, data={
        "csrf_token": token, "locale": locale, "title": title, "body": body, "based_on": str(based_on),
        "action": action})
    return response.status_code


def _publish(client: TestClient, token: str, version_id: int) -> int:
    return client.post(f"/console/kb/versions/{version_id}/publish", data={"csrf_token": token},
                       follow_redirects=False).status_code


def _create(client: TestClient, token: str, key: str = "parcel-lockers", markets: tuple[str, ...] = ("US",)) -> None:
    created = client.post("/console/kb/articles", follow_redirects=False, data={
        "csrf_token": token, "key": key, "category": "orders", "markets": list(markets), "topic": "", "locale": "en"})
    assert created.status_code == 303, created.text
    assert created.headers["location"] == f"/console/kb/articles/{key}/edit?locale=en"


def test_write_preview_review_and_publish_then_readers_and_search_find_it(
        client: TestClient, world: World, db: Session, clock: FrozenClock) -> None:
    _category(db, clock)
    _second_lead(db, clock)
    token = sign_in(client, "lead")
    assert "The knowledge base is empty" in client.get("/console/kb").text
    _create(client, token)
    editor = client.get("/console/kb/articles/parcel-lockers/edit?locale=en")
    assert editor.status_code == 200 and 'name="based_on" value="0"' in editor.text

    preview = client.post("/console/kb/preview", data={"body": BODY},
                          headers={"X-CSRF-Token": token, "HX-Request": "true"})
    assert preview.status_code == 200 and "<html" not in preview.text
    assert "<strong>five days</strong>" in preview.text and 'href="https://example.com/lockers"' in preview.text
    assert "<script>" not in preview.text and 'href="javascript' not in preview.text
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in preview.text  # raw HTML is shown as text
    no_script = client.post("/console/kb/articles/parcel-lockers/edit", data={
        "csrf_token": token, "locale": "en", "title": "Parcel lockers", "body": BODY, "based_on": "0",
        "action": "preview"})
    assert no_script.status_code == 200 and "<strong>five days</strong>" in no_script.text
    assert not db.scalars(select(KbVersion)).all()  # a preview saves nothing

    assert _write(client, token, "parcel-lockers", "en", "Parcel lockers", BODY, 0) == 303
    v1 = _version(db, "parcel-lockers", "en", 1)
    assert v1.status == "review" and v1.author_id == world.users["lead"].id
    assert "<script>" not in v1.body_html and 'href="javascript' not in v1.body_html
    assert "Parcel lockers" in client.get("/console/kb/review").text

    own = client.post(f"/console/kb/versions/{v1.id}/publish", data={"csrf_token": token})
    assert own.status_code == 403 and "Someone other than the author reviews" in own.text
    assert _version(db, "parcel-lockers", "en", 1).status == "review"
    assert client.get("/help/articles/parcel-lockers?market=US").status_code == 404
    hits = client.get("/api/v1/kb/search", params={"q": "parcel locker pick up code", "market": "US"}).json()
    assert "parcel-lockers" not in [h["key"] for h in hits]

    client.cookies.clear()
    token = sign_in(client, "lead2")
    page = client.get(f"/console/kb/versions/{v1.id}")
    assert "Publish v1" in page.text and "The first version: everything is new" in page.text
    assert _publish(client, token, v1.id) == 303
    assert _version(db, "parcel-lockers", "en", 1).reviewer_id is not None

    reader = client.get("/help/articles/parcel-lockers?market=US&lang=en")
    assert reader.status_code == 200 and "<strong>five days</strong>" in reader.text and XSS not in reader.text
    assert client.get("/help/articles/parcel-lockers?market=ES").status_code == 404  # shown in the US only
    hits = client.get("/api/v1/kb/search", params={"q": "parcel locker pick up code", "market": "US"}).json()
    assert hits and hits[0]["key"] == "parcel-lockers"
    found = client.get("/help/search", params={"q": "parcel locker", "market": "US", "lang": "en"})
    assert "Parcel lockers" in found.text

    # A second version changes what search knows as soon as it is published (the index notices).
    v2_body = "Lockers hold a parcel for a fortnight; the courier texts you a **PIN** to open the door."
    assert _write(client, token, "parcel-lockers", "en", "Parcel lockers", v2_body, 1) == 303
    client.cookies.clear()
    token = sign_in(client, "lead")
    v2 = _version(db, "parcel-lockers", "en", 2)
    hits = client.get("/api/v1/kb/search", params={"q": "fortnight PIN courier", "market": "US"}).json()
    assert all("fortnight" not in h["passage"] for h in hits)
    assert _publish(client, token, v2.id) == 303
    hits = client.get("/api/v1/kb/search", params={"q": "fortnight PIN courier", "market": "US"}).json()
    assert hits and hits[0]["key"] == "parcel-lockers" and "fortnight" in hits[0]["passage"]
    assert _version(db, "parcel-lockers", "en", 1).status == "retired"


def test_a_translation_falls_back_until_published(client: TestClient, world: World, db: Session,
                                                 clock: FrozenClock) -> None:
    _category(db, clock)
    _second_lead(db, clock)
    token = sign_in(client, "lead")
    _create(client, token, markets=())
    assert _write(client, token, "parcel-lockers", "en", "Parcel lockers", BODY, 0) == 303
    client.cookies.clear()
    token = sign_in(client, "lead2")
    assert _publish(client, token, _version(db, "parcel-lockers", "en", 1).id) == 303

    article = client.get("/console/kb/articles/parcel-lockers").text
    assert 'id="translate-locale"' in article and '<option value="es">' in article
    translate = client.get("/console/kb/articles/parcel-lockers/edit?locale=es").text
    assert "Translating from" in translate and "five days" in translate
    spanish = "Los casilleros guardan tu pedido **cinco días**."
    assert _write(client, token, "parcel-lockers", "es", "Casilleros", spanish, 0) == 303
    fallback = client.get("/help/articles/parcel-lockers?market=ES&lang=es").text
    assert "Parcel lockers" in fallback and "Casilleros" not in fallback  # not published yet: English

    client.cookies.clear()
    token = sign_in(client, "lead")
    assert _publish(client, token, _version(db, "parcel-lockers", "es", 1).id) == 303
    read = client.get("/help/articles/parcel-lockers?market=ES&lang=es").text
    assert "Casilleros" in read and "<strong>cinco días</strong>" in read
    listed = client.get("/console/kb", params={"locale": "es", "status": "published"}).text
    assert "parcel-lockers" in listed


def test_version_history_diffs_and_sending_back_with_a_comment(client: TestClient, world: World, db: Session,
                                                               clock: FrozenClock) -> None:
    _category(db, clock)
    author = sign_in(client, "agent_t2")  # writes and sends to review; may not publish
    _create(client, author)
    first = "Line one stays.\n\nLine two goes.\n\nLine three stays."
    assert _write(client, author, "parcel-lockers", "en", "Lockers", first, 0, action="save") == 303
    assert _version(db, "parcel-lockers", "en", 1).status == "draft"
    second = "Line one stays.\n\nLine two is new.\n\nLine three stays."
    assert _write(client, author, "parcel-lockers", "en", "Lockers", second, 1) == 303
    v1, v2 = _version(db, "parcel-lockers", "en", 1), _version(db, "parcel-lockers", "en", 2)
    assert (v1.status, v2.status) == ("superseded", "review")
    stale = client.post("/console/kb/articles/parcel-lockers/edit", data={
        "csrf_token": author, "locale": "en", "title": "Lockers", "body": "x", "based_on": "1", "action": "save"})
    assert stale.status_code == 412 and "was saved since you opened the editor" in stale.text
    waiting = client.post("/console/kb/articles/parcel-lockers/edit", data={
        "csrf_token": author, "locale": "en", "title": "Lockers", "body": "x", "based_on": "2", "action": "save"})
    assert waiting.status_code == 409 and "waiting for review" in waiting.text
    assert client.post(f"/console/kb/versions/{v2.id}/publish", data={"csrf_token": author}).status_code == 403

    diff = client.get(f"/console/kb/versions/{v2.id}").text
    assert "Changes from v1" in diff
    assert re.search(r"<del><code>.*Line two goes\.</code></del>", diff)
    assert re.search(r"<ins><code>.*Line two is new\.</code></ins>", diff)
    assert "<ins>" not in diff.split("Line one stays.")[0].split("<tbody>")[-1]  # unchanged lines are plain
    assert client.get(f"/console/kb/versions/{v2.id}?against=9").status_code == 422

    client.cookies.clear()
    reviewer = sign_in(client, "lead")
    empty = client.post(f"/console/kb/versions/{v2.id}/reject", data={"csrf_token": reviewer, "comment": " "})
    assert empty.status_code == 422 and 'id="f-comment-error"' in empty.text
    sent_back = client.post(f"/console/kb/versions/{v2.id}/reject", follow_redirects=False,
                            data={"csrf_token": reviewer, "comment": "Say how long the locker keeps it."})
    assert sent_back.status_code == 303 and sent_back.headers["location"] == "/console/kb/review?notice=kb_rejected"
    v2 = _version(db, "parcel-lockers", "en", 2)
    assert (v2.status, v2.note, v2.reviewer_id) == ("rejected", "Say how long the locker keeps it.",
                                                    world.users["lead"].id)
    assert "Nothing waits for review" in client.get("/console/kb/review").text

    client.cookies.clear()
    author = sign_in(client, "agent_t2")
    assert "Say how long the locker keeps it." in client.get("/console/kb/articles/parcel-lockers").text
    editor = client.get("/console/kb/articles/parcel-lockers/edit?locale=en").text
    assert "was sent back" in editor and "Line two is new." in editor
    assert _write(client, author, "parcel-lockers", "en", "Lockers", second + "\n\nFive days.", 2) == 303
    assert _version(db, "parcel-lockers", "en", 3).status == "review"
    history = client.get("/console/kb/articles/parcel-lockers").text
    for label in ("Superseded", "Sent back", "In review"):
        assert label in history


def test_the_list_filters_and_shows_each_locales_state(client: TestClient, world: World, db: Session,
                                                      clock: FrozenClock) -> None:
    _category(db, clock)
    _category(db, clock, "payments")
    payments = service.category_by_key(db, "payments")
    for key, texts in (("refunds", {"en": "published", "es": "draft"}), ("cards", {"en": "review"})):
        article = service.create_article(db, key=key, category=payments, markets=[], now=clock.now())
        for locale, status in texts.items():
            version = service.save_draft(db, article, locale=locale, title=f"{key.title()} {locale}", body="Text.",
                                         author=None, now=clock.now())
            if status != "draft":
                service.submit(version, now=clock.now())
            if status == "published":
                service.publish(db, version, reviewer=None, now=clock.now())
    db.commit()
    sign_in(client, "agent_t2")

    def keys(**params: str) -> list[str]:
        response = client.get("/console/kb", params=params)
        assert response.status_code == 200, response.text
        return re.findall(r'<span class="mono small muted">([a-z0-9-]+)</span>', response.text)

    assert sorted(keys()) == ["cards", "refunds"]
    assert keys(status="review") == ["cards"]
    assert keys(locale="es") == ["refunds"] and keys(locale="es", status="draft") == ["refunds"]
    assert keys(locale="es", status="published") == []
    assert keys(locale="es", status="untranslated") == ["cards"]
    assert keys(q="REFUNDS en") == ["refunds"] and keys(category="orders") == []
    assert "No article matches these filters" in client.get("/console/kb", params={"q": "nothing"}).text
    assert client.get("/console/kb", params={"status": "bogus"}).status_code == 422
    page = client.get("/console/kb").text
    assert re.search(r"refunds</a>\s*<span class=\"badge status-solved\">Published</span>", page) is None  # key link
    assert "In review" in page and "Draft" in page and "Published" in page


def test_the_list_costs_the_same_queries_for_2_or_20_articles(client: TestClient, world: World, db: Session,
                                                              clock: FrozenClock,
                                                              counter: StatementCounter) -> None:
    _category(db, clock)
    orders = service.category_by_key(db, "orders")

    def add(start: int, count: int) -> None:
        for n in range(start, start + count):
            article = service.create_article(db, key=f"a-{n}", category=orders, markets=[], now=clock.now())
            for locale in ("en", "es"):
                service.save_draft(db, article, locale=locale, title=f"Article {n}", body="Text.", author=None,
                                   now=clock.now())
        db.commit()

    sign_in(client, "agent_t2")
    add(0, 2)
    client.get("/console/kb")
    few = counter.during(lambda: client.get("/console/kb"))
    add(2, 18)
    many = counter.during(lambda: client.get("/console/kb"))
    assert many == few, (few, many)


def test_categories_attachments_and_feedback(client: TestClient, world: World, db: Session,
                                             clock: FrozenClock) -> None:
    token = sign_in(client, "agent_t2")
    assert "No categories yet" in client.get("/console/kb/categories").text
    made = client.post("/console/kb/categories", follow_redirects=False, data={
        "csrf_token": token, "key": "orders", "name": "Orders", "names": "es: Pedidos\npt-BR: Pedidos BR",
        "position": "5"})
    assert made.status_code == 303
    again = client.post("/console/kb/categories", data={"csrf_token": token, "key": "orders", "name": "Again"})
    assert again.status_code == 409 and 'id="f-key-error"' in again.text
    bad = client.post("/console/kb/categories", data={"csrf_token": token, "key": "x", "name": "X",
                                                     "names": "Spanish Pedidos"})
    assert bad.status_code == 422 and 'id="f-names-error"' in bad.text
    edit = client.get("/console/kb/categories?edit=orders").text
    assert "es: Pedidos" in edit and 'name="editing" value="orders"' in edit
    renamed = client.post("/console/kb/categories", follow_redirects=False, data={
        "csrf_token": token, "editing": "orders", "key": "orders", "name": "Orders and delivery", "names": "",
        "position": "5"})
    assert renamed.status_code == 303
    db.expire_all()
    assert service.category_by_key(db, "orders").names == {"en": "Orders and delivery"}

    _create(client, token, markets=())
    unknown_market = client.post("/console/kb/articles/parcel-lockers", data={
        "csrf_token": token, "category": "orders", "markets": ["ZZ"]})
    assert unknown_market.status_code == 422 and 'id="f-markets-error"' in unknown_market.text

    refused = client.post("/console/kb/articles/parcel-lockers/attachments", data={
        "csrf_token": token, "filename": "steps.pdf", "content_type": "application/pdf", "size_bytes": "2048",
        "url": "javascript:alert(1)"})
    assert refused.status_code == 422 and 'id="f-url-error"' in refused.text
    assert not db.scalars(select(KbAttachment)).all()
    added = client.post("/console/kb/articles/parcel-lockers/attachments", follow_redirects=False, data={
        "csrf_token": token, "filename": "steps.pdf", "content_type": "application/pdf", "size_bytes": "2048",
        "url": "https://files.example.com/kb/steps.pdf"})
    assert added.status_code == 303
    [attachment] = db.scalars(select(KbAttachment)).all()
    page = client.get("/console/kb/articles/parcel-lockers").text
    assert 'href="https://files.example.com/kb/steps.pdf"' in page and "2,048 bytes" in page
    assert client.post(f"/console/kb/attachments/{attachment.id}/delete",
                       data={"csrf_token": token}, follow_redirects=False).status_code == 303
    db.expire_all()
    assert not db.scalars(select(KbAttachment)).all()

    article = service.article_by_key(db, "parcel-lockers")
    version = service.save_draft(db, article, locale="en", title="Parcel lockers", body="Text.", author=None,
                                 now=clock.now())
    service.submit(version, now=clock.now())
    service.publish(db, version, reviewer=None, now=clock.now())
    db.commit()
    shown = service.show(db, "parcel-lockers", locale="en", market="US", market_default="en")
    service.record_feedback(db, shown, helpful=False, comment=f"No locker near me {XSS}", user_id=None,
                            market="US", now=clock.now())
    service.record_feedback(db, shown, helpful=True, comment="", user_id=None, market="US", now=clock.now())
    db.commit()
    feedback = client.get("/console/kb/articles/parcel-lockers").text
    assert "1 yes · 1 no" in feedback and "50% helpful" in feedback
    assert "No locker near me &lt;script&gt;" in feedback and XSS not in feedback
    assert "50%" in client.get("/console/kb").text


def test_who_may_write_review_and_read_the_kb_console(client: TestClient, world: World, db: Session,
                                                     clock: FrozenClock) -> None:
    _category(db, clock)
    token = sign_in(client, "agent_t2")
    _create(client, token)
    assert _write(client, token, "parcel-lockers", "en", "Lockers", "Text.", 0) == 303
    version = _version(db, "parcel-lockers", "en", 1)
    assert 'href="/console/kb"' in client.get("/console").text  # the navigation offers it
    assert "Review v1" not in client.get("/console/kb/review").text
    for action in ("publish", "reject"):  # an editor without the publish permission
        response = client.post(f"/console/kb/versions/{version.id}/{action}",
                               data={"csrf_token": token, "comment": "no"})
        assert response.status_code == 403 and "kb.publish" in response.text

    for who in ("agent_t1", "buyer"):  # neither permission
        client.cookies.clear()
        token = sign_in(client, who)
        if who == "agent_t1":
            assert 'href="/console/kb"' not in client.get("/console").text
        for path in ("/console/kb", "/console/kb/review", "/console/kb/deflection", "/console/kb/categories",
                     "/console/kb/articles/parcel-lockers", f"/console/kb/versions/{version.id}"):
            assert client.get(path).status_code == 403, (who, path)
        for path in ("/console/kb/articles", f"/console/kb/versions/{version.id}/publish",
                     "/console/kb/preview", "/console/kb/articles/parcel-lockers/edit"):
            assert client.post(path, data={"csrf_token": token, "key": "x"}).status_code == 403, (who, path)
    assert _version(db, "parcel-lockers", "en", 1).status == "review"
    client.cookies.clear()
    assert client.get("/console/kb", follow_redirects=False).headers["location"].startswith("/login")


@pytest.mark.skipif(not PG_URL, reason="two writers really overlap on PostgreSQL only (SQLite's BEGIN IMMEDIATE "
                                       "makes the second wait before it reads)")
def test_two_saves_of_one_article_at_once_keep_one_and_refuse_the_other_with_412() -> None:
    engine = fresh_postgres_engine(f"kbrace_{_schema()}")
    try:
        upgrade(engine)
        factory = make_session_factory(engine)
        with transaction(factory) as session:
            author = actor_for(make_user(session, Role.LEAD, now=START, email="writer@example.test"))
            category = service.ensure_category(session, key="orders", names={"en": "Orders"}, position=1, now=START)
            service.create_article(session, key="lockers", category=category, markets=["US"], now=START)
        second: dict[str, Any] = {}

        def save_too() -> None:  # the other editor, who opened the editor at the same moment (based on 0)
            session = factory()
            try:
                second["pid"] = session.scalar(text("SELECT pg_backend_pid()"))
                article = service.article_by_key(session, "lockers")
                service.write_draft(session, article, locale="en", title="Theirs", body="Their text",
                                    author=author, based_on=0, now=START)
                session.commit()
            except Exception as error:  # checked below, in the test's thread
                second["error"] = error
            finally:
                session.rollback()
                session.close()

        first = factory()
        try:
            service.write_draft(first, service.article_by_key(first, "lockers"), locale="en", title="Mine",
                                body="My text", author=author, based_on=0, now=START)
            thread = threading.Thread(target=save_too)
            thread.start()
            with engine.connect() as watcher:  # until the second save waits on the first (a lock, not a clock)
                waiting = False
                for _ in range(6000):
                    waiting = "pid" in second and watcher.scalar(text(
                        "SELECT wait_event_type = 'Lock' FROM pg_stat_activity WHERE pid = :pid"),
                        {"pid": second["pid"]}) is True
                    if waiting or not thread.is_alive():
                        break
                    time.sleep(0.01)
            assert waiting, second
            first.commit()
        finally:
            first.close()
        thread.join(timeout=60)
        assert not thread.is_alive()
        error = second.get("error")
        assert isinstance(error, PreconditionFailed), repr(error)
        assert error.field == "based_on" and error.detail.startswith("en v1 was saved since you opened the editor")
        with transaction(factory) as session:
            saved = session.execute(select(KbVersion.version, KbVersion.title)).all()
        assert [tuple(row) for row in saved] == [(1, "Mine")]
    finally:
        engine.dispose()
