"""The help center's articles: browse by category in the reader's language, read one (falling back
to the market's language, then English), say whether it helped."""

from __future__ import annotations

from fastapi.testclient import TestClient
from sqlalchemy import select
from sqlalchemy.orm import Session

from tests.factories.world import World
from tests.web.test_pages_auth import csrf_from, sign_in
from trustdesk.core.clock import FrozenClock
from trustdesk.knowledge import service
from trustdesk.knowledge.models import KbFeedback


def _kb(db: Session, clock: FrozenClock) -> None:
    orders = service.ensure_category(db, key="orders", names={"en": "Orders", "es": "Pedidos"}, position=1,
                                     now=clock.now())
    for key, markets, texts in (
            ("track-an-order", [], {"en": ("Where is my order?", "Open **Orders** and tap the order."),
                                    "es": ("¿Dónde está mi pedido?", "Abre **Pedidos** y toca el pedido.")}),
            ("spain-only", ["ES"], {"es": ("Solo en España", "Un artículo para España.")}),
            ("english-only", [], {"en": ("Only in English", "Written in English <script>alert(1)</script>.")})):
        article = service.create_article(db, key=key, category=orders, markets=markets, now=clock.now())
        for locale, (title, body) in texts.items():
            version = service.save_draft(db, article, locale=locale, title=title, body=body, author=None,
                                         now=clock.now())
            service.submit(version, now=clock.now())
            service.publish(db, version, reviewer=None, now=clock.now())
    db.commit()


def test_a_visitor_browses_and_reads_in_their_language(client: TestClient, world: World, db: Session,
                                                       clock: FrozenClock) -> None:
    _kb(db, clock)
    browse = client.get("/help/articles?market=ES&lang=es")
    assert browse.status_code == 200
    assert "Pedidos" in browse.text and "¿Dónde está mi pedido?" in browse.text and "Solo en España" in browse.text
    assert "Only in English" in browse.text and "(English)" in browse.text  # no Spanish text: English, marked
    us = client.get("/help/articles?market=US&lang=en").text
    assert "Solo en España" not in us and "Where is my order?" in us
    read = client.get("/help/articles/track-an-order?market=ES")  # no lang: the market's language
    assert read.status_code == 200 and "<strong>Pedidos</strong>" in read.text and 'lang="es"' in read.text
    fallback = client.get("/help/articles/english-only?market=ES&lang=es").text
    assert "is not available in Spanish yet" in fallback and "<script>alert" not in fallback
    assert client.get("/help/articles/spain-only?market=US").status_code == 404
    assert client.get("/help/articles/no-such-article").status_code == 404


def test_did_this_help_is_recorded(client: TestClient, world: World, db: Session, clock: FrozenClock) -> None:
    _kb(db, clock)
    page = client.get("/help/articles/track-an-order?market=US&lang=en")
    token = csrf_from(page.text)
    assert client.post("/help/articles/track-an-order/feedback", data={"helpful": "yes"}).status_code == 403
    done = client.post("/help/articles/track-an-order/feedback",
                       data={"csrf_token": token, "helpful": "no", "market": "US", "lang": "en"})
    assert done.status_code == 200 and "Contact support" in done.text
    [row] = db.scalars(select(KbFeedback)).all()
    assert (row.helpful, row.locale, row.market, row.user_id) == (False, "en", "US", None)


def test_the_help_center_search_finds_articles_in_the_readers_language(client: TestClient, world: World,
                                                                      db: Session, clock: FrozenClock) -> None:
    _kb(db, clock)
    found = client.get("/help/search", params={"q": "where is my order", "market": "US", "lang": "en"})
    assert found.status_code == 200
    assert found.text.index("Where is my order?") < found.text.index("Contact support")
    assert "Open Orders and tap the order." in found.text  # the passage that answers it
    spanish = client.get("/help/search", params={"q": "dónde está mi pedido", "market": "ES", "lang": "es"}).text
    assert "¿Dónde está mi pedido?" in spanish and "Solo en España" not in spanish.split("Results")[0]
    hidden = client.get("/help/search", params={"q": "España", "market": "US", "lang": "es"}).text
    assert "Solo en España" not in hidden  # not shown in the US
    empty = client.get("/help/search", params={"q": "   "})
    assert empty.status_code == 200 and "Results" not in empty.text


def test_the_assistant_answers_then_hands_off_after_sign_in(client: TestClient, world: World, db: Session,
                                                            clock: FrozenClock) -> None:
    from trustdesk.demo.kb import ensure_kb

    ensure_kb(db, now=clock.now())
    db.commit()
    page = client.get("/help/assistant?market=US&lang=en")
    assert page.status_code == 200 and "Your question" in page.text
    token = csrf_from(page.text)
    answered = client.post("/help/assistant", data={"csrf_token": token, "market": "US", "lang": "en",
                                                    "text": "How can I track my order?"})
    assert answered.status_code == 200 and "Did this solve it?" in answered.text
    assert "/help/articles/track-your-order" in answered.text
    missed = client.post("/help/assistant", data={"csrf_token": token, "market": "US", "lang": "en",
                                                  "text": "Can my hamster sell knitted hats on Bramble?"})
    assert "pass you to a person" in missed.text and "Talk to a person" in missed.text
    to_login = client.post("/help/assistant/handoff", data={"csrf_token": token}, follow_redirects=False)
    assert to_login.status_code == 303 and to_login.headers["location"].startswith("/login")
    sign_in(client, "buyer")
    token = client.cookies["td_csrf"]
    opened = client.post("/help/assistant/handoff", data={"csrf_token": token}, follow_redirects=False)
    assert opened.status_code == 303 and opened.headers["location"].startswith("/help/cases/ID-")
    case = client.get(opened.headers["location"]).text
    assert "Can my hamster sell knitted hats on Bramble?" in case and "How can I track my order?" in case
    assert "Before you were connected, the assistant suggested:" in case
