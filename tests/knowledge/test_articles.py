"""Knowledge-base articles: Markdown rendered safe, versions through review, locale fallback to the
market's language and then English, per-market visibility, feedback."""

from __future__ import annotations

import pytest
from sqlalchemy.orm import Session

from tests.factories.world import World
from trustdesk.core.clock import FrozenClock
from trustdesk.core.errors import Conflict, Forbidden, Invalid, NotFound
from trustdesk.core.identity import actor_for
from trustdesk.knowledge import service
from trustdesk.knowledge.models import KbArticle


@pytest.mark.parametrize(("markdown", "absent", "present"), [
    ("<script>alert(1)</script> hi", ["<script"], ["&lt;script&gt;alert(1)&lt;/script&gt; hi"]),
    ("[click](javascript:alert(1))", ["<a", "href"], ["click"]),  # left as words, never a link
    ("[click](JaVaScRiPt:alert(1))", ["<a", "href"], ["click"]),
    ("![x](data:text/html;base64,PHNjcmlwdD4=)", ["<img", "src="], []),
    ('<a href="#" onclick="x()">a</a>', ["<a "], ["&lt;a href="]),  # raw HTML is shown as text, inert
    ("[help](https://example.com/help)", [],
     ['<a href="https://example.com/help" rel="noopener noreferrer nofollow">help</a>']),
    ("## Steps\n\n1. Open **Orders**\n2. Tap *Cancel*", [], ["<h2>Steps</h2>", "<strong>Orders</strong>", "<ol>"]),
])
def test_markdown_is_rendered_and_sanitised(markdown: str, absent: list[str], present: list[str]) -> None:
    html = service.render(markdown)
    for bad in absent:
        assert bad not in html, html
    for good in present:
        assert good in html, html


def _article(db: Session, clock: FrozenClock, key: str = "track-my-order", markets: list[str] | None = None
             ) -> KbArticle:
    category = service.ensure_category(db, key="orders", names={"en": "Orders", "es": "Pedidos"}, position=1,
                                       now=clock.now())
    return service.create_article(db, key=key, category=category, markets=markets or [], now=clock.now())


def _published(db: Session, clock: FrozenClock, article: KbArticle, locale: str, title: str) -> None:
    draft = service.save_draft(db, article, locale=locale, title=title, body=f"{title} body", author=None,
                               now=clock.now())
    service.submit(draft, now=clock.now())
    service.publish(db, draft, reviewer=None, now=clock.now())


def test_a_version_is_published_by_someone_else_and_retires_the_last(db: Session, world: World,
                                                                    clock: FrozenClock) -> None:
    article = _article(db, clock)
    author, reviewer = actor_for(world.users["agent_t2"]), actor_for(world.users["lead"])
    first = service.save_draft(db, article, locale="en", title="Track an order", body="Open **Orders**.",
                               author=author, now=clock.now())
    with pytest.raises(Conflict):
        service.publish(db, first, reviewer=reviewer, now=clock.now())  # a draft goes to review first
    service.submit(first, now=clock.now())
    with pytest.raises(Forbidden):
        service.publish(db, first, reviewer=author, now=clock.now())  # not by its author
    service.publish(db, first, reviewer=reviewer, now=clock.now())
    second = service.save_draft(db, article, locale="en", title="Track your order", body="Open **Orders** now.",
                                author=author, now=clock.now())
    assert (second.version, second.status) == (2, "draft")
    assert service.show(db, article.key, locale="en", market=None, market_default=None).version.id == first.id
    service.submit(second, now=clock.now())
    service.publish(db, second, reviewer=reviewer, now=clock.now())
    assert (first.status, second.status) == ("retired", "published")
    assert second.body_html == "<p>Open <strong>Orders</strong> now.</p>\n"


def test_locale_falls_back_to_the_market_language_then_english(db: Session, clock: FrozenClock) -> None:
    article = _article(db, clock)
    _published(db, clock, article, "en", "Track an order")
    _published(db, clock, article, "es", "Seguir un pedido")
    assert service.show(db, article.key, locale="es", market="ES", market_default="es").version.title == \
        "Seguir un pedido"
    # A reader in Spanish from Mexico (es-MX) reads the Spanish text; in Catalan in Spain, Spanish.
    assert service.show(db, article.key, locale="es-MX", market="US", market_default="en").version.locale == "es"
    shown = service.show(db, article.key, locale="ca", market="ES", market_default="es")
    assert (shown.version.locale, shown.fell_back) == ("es", True)
    # Indonesian in Indonesia with no Indonesian text: English, the last fallback.
    assert service.show(db, article.key, locale="id", market="ID", market_default="id").version.locale == "en"


def test_an_article_is_shown_only_in_its_markets(db: Session, clock: FrozenClock) -> None:
    article = _article(db, clock, markets=["ES"])
    _published(db, clock, article, "es", "Solo en España")
    assert service.show(db, article.key, locale="es", market="ES", market_default="es").version.title
    with pytest.raises(NotFound):
        service.show(db, article.key, locale="es", market="US", market_default="en")
    listed = service.catalogue(db, locale="en", market="US", market_default="en")
    assert listed == []
    [(category, items)] = service.catalogue(db, locale="es", market="ES", market_default="es")
    assert service.category_name(category, "es") == "Pedidos" and [s.article.key for s in items] == [article.key]


def test_a_draft_is_never_shown_and_bad_input_names_the_field(db: Session, clock: FrozenClock) -> None:
    article = _article(db, clock)
    service.save_draft(db, article, locale="en", title="Draft", body="Not yet", author=None, now=clock.now())
    with pytest.raises(NotFound):
        service.show(db, article.key, locale="en", market=None, market_default=None)
    for kwargs, field in (({"title": " ", "body": "x"}, "title"), ({"title": "x", "body": ""}, "body"),
                          ({"title": "x", "body": "y", "locale": "english"}, "locale")):
        with pytest.raises(Invalid) as error:
            service.save_draft(db, article, **({"locale": "en"} | kwargs), author=None, now=clock.now())
        assert error.value.field == field


def test_feedback_is_counted_per_article(db: Session, clock: FrozenClock) -> None:
    article = _article(db, clock)
    _published(db, clock, article, "en", "Track an order")
    shown = service.show(db, article.key, locale="en", market="US", market_default="en")
    for helpful in (True, True, False):
        service.record_feedback(db, shown, helpful=helpful, comment="", user_id=None, market="US", now=clock.now())
    assert service.feedback_counts(db, [article.id]) == {article.id: (2, 1)}


def test_plain_text_keeps_each_block_a_paragraph_for_quoting() -> None:
    text = service.plain_text("You can track it in **Orders**.\n\n## Steps\n\n1. Open *Orders*\n2. Tap &amp; go\n\n"
                              "See [refunds](/help/articles/refunds).")
    assert text.split("\n\n") == ["You can track it in Orders.", "Steps", "Open Orders", "Tap & go", "See refunds."]
