"""FAQ and gap mining (``knowledge.gaps``): the demo's cases grouped back into their Bitext intents,
a removed article found as the top gap, ranking by growth, labels, the CLI and the console page."""

from __future__ import annotations

import json
import random
from collections import Counter
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from functools import cache
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from sklearn.metrics import adjusted_rand_score
from sqlalchemy import select
from sqlalchemy.orm import Session
from typer.testing import CliRunner

from tests.factories.directory import make_market
from tests.factories.world import World
from tests.web.test_pages_auth import sign_in
from trustdesk import cli
from trustdesk.cases.access import scope_for
from trustdesk.cases.models import AuthorType, Case, Channel, Message, Party, PartyKind, Visibility
from trustdesk.core.clock import FrozenClock
from trustdesk.core.db import make_engine, make_session_factory, transaction
from trustdesk.core.errors import Invalid
from trustdesk.core.identity import actor_for
from trustdesk.core.settings import get_settings
from trustdesk.demo import texts
from trustdesk.demo.bitext import find_data_dir, load_utterances
from trustdesk.demo.build import login_overrides
from trustdesk.demo.catalog import MARKETS
from trustdesk.demo.kb import ensure_kb
from trustdesk.demo.kb import load as load_articles
from trustdesk.demo.people import customers
from trustdesk.demo.planner import CasePlan, Planner
from trustdesk.demo.structure import login_customers
from trustdesk.demo.timeline import build_slots
from trustdesk.directory.models import Market
from trustdesk.knowledge import gaps
from trustdesk.knowledge.models import KbArticle
from trustdesk.text.embeddings import Embedder, embedder

THRESHOLD = 0.5  # the confidence the search needs here (the page and the CLI pass kb_answer_threshold)
SEED, DEMO_CASES = 7, 21_000  # the demo's defaults
BITEXT_TOPICS = frozenset(i.topic for i in texts.BUYER_INTENTS)
SAMPLE = 600  # English customer cases of the demo's last 28 days (both acceptance tests: the same texts)
# The page and CLI tests publish a few of the demo's articles (the index builds in a moment), never
# the newsletter's: its questions are the gap.
FEW_ARTICLES = frozenset({"reset-your-password", "track-your-order", "request-a-refund", "payment-methods"})


# ---------------------------------------------------------------- the demo's cases, as rows


@cache
def _planner(now: datetime) -> tuple[Planner, tuple[object, ...]]:
    slots = build_slots(SEED, DEMO_CASES, now)
    logins = login_customers()
    planner = Planner(SEED, load_utterances(find_data_dir()), customers(SEED, DEMO_CASES), logins,
                      login_overrides(slots, logins))
    return planner, tuple(slots)


def demo_plans(now: datetime, *, count: int, days: int = 28, language: str = "en") -> list[CasePlan]:
    """A seeded sample of the cases the demo plays in the ``days`` before ``now`` (customers only,
    in ``language``): each with its text and its true topic."""
    planner, slots = _planner(now)
    recent = [s for s in slots if now - timedelta(days=days) <= s.at < now]  # type: ignore[attr-defined]
    random.Random(SEED).shuffle(recent)
    out: list[CasePlan] = []
    for slot in recent:
        out.extend(p for p in planner.plan(slot)  # type: ignore[arg-type]
                   if p.language == language and p.kind is not PartyKind.INTERNAL and p.at < now)
        if len(out) >= count:
            break
    return out[:count]


def demo_markets(db: Session, now: datetime) -> dict[str, Market]:
    return {m.code: make_market(db, now=now, code=m.code, name=m.name, time_zone=m.time_zone,
                                languages=list(m.languages), default_language=m.default_language,
                                currency=m.currency) for m in MARKETS}


def write_cases(db: Session, markets: dict[str, Market], rows: Sequence[tuple[str, str, str, datetime]], *,
                prefix: str = "GAP") -> list[int]:
    """Cases (market code, language, first message, opened at) with their first customer message."""
    parties: dict[str, Party] = {}
    for code, *_rest in rows:
        if code not in parties:
            parties[code] = Party(kind=PartyKind.BUYER.value, market_id=markets[code].id,
                                  external_id=f"{prefix.lower()}-{code.lower()}", display_name="Pat Customer",
                                  created_at=min(r[3] for r in rows))
    db.add_all(parties.values())
    db.flush()
    cases = [Case(reference=f"{prefix}-{n:06d}", channel=Channel.WEB_FORM.value, market_id=markets[code].id,
                  language=language, party_id=parties[code].id, subject="Help", topic=None, priority="normal",
                  status="new", tags=[], custom_fields={}, created_at=at, updated_at=at)
             for n, (code, language, _body, at) in enumerate(rows)]
    db.add_all(cases)
    db.flush()
    db.add_all([Message(case_id=case.id, visibility=Visibility.PUBLIC.value, author_type=AuthorType.CUSTOMER.value,
                        author_name="Pat Customer", channel=Channel.WEB_FORM.value, body=body, created_at=at)
                for case, (_code, _language, body, at) in zip(cases, rows, strict=True)])
    db.flush()
    return [case.id for case in cases]


def write_plans(db: Session, markets: dict[str, Market], plans: Sequence[CasePlan]) -> dict[int, str]:
    """The plans as cases; returns each case's true topic by case id."""
    ids = write_cases(db, markets, [(p.market, p.language, p.body, p.at) for p in plans])
    return dict(zip(ids, (p.topic for p in plans), strict=True))


def _all_but(keys: frozenset[str]) -> frozenset[str]:
    return frozenset(a["key"] for a in load_articles()["articles"]) - keys


def _embedder() -> Embedder:
    found = embedder()
    if found is None:
        pytest.skip("the embeddings extra is not installed")
    return found


def _ari(report: gaps.Report, topics: dict[int, str], only: frozenset[str]) -> float:
    """Adjusted Rand index of the clusters against the true topics, over the cases whose topic is in
    ``only``; an unclustered case counts as a cluster of its own."""
    cluster_of = {case_id: k for k, c in enumerate(report.clusters) for case_id in c.members}
    ids = [i for i, topic in topics.items() if topic in only]
    return float(adjusted_rand_score([topics[i] for i in ids], [cluster_of.get(i, -i) for i in ids]))


def _main_topic(cluster: gaps.Cluster, topics: dict[int, str]) -> tuple[str, float]:
    topic, n = Counter(topics[i] for i in cluster.members).most_common(1)[0]
    return topic, n / len(cluster.members)


# ---------------------------------------------------------------- acceptance


def test_mining_the_demos_cases_recovers_the_bitext_intents(db: Session, clock: FrozenClock) -> None:
    now = clock.now()
    markets = demo_markets(db, now)
    plans = demo_plans(now, count=SAMPLE)
    topics = write_plans(db, markets, plans)
    assert len(BITEXT_TOPICS & set(topics.values())) >= 25, "the sample holds (nearly) every Bitext intent"

    report = gaps.mine(db, now=now, days=28, threshold=THRESHOLD, embedder=_embedder())

    ari = _ari(report, topics, BITEXT_TOPICS)
    assert ari >= 0.6, f"adjusted Rand index {ari:.3f} against the Bitext intents"
    assert report.cases == len(plans) and report.methods == {"en": "all-MiniLM-L6-v2"}
    assert report.unclustered < 0.05 * report.cases
    assert 20 <= len(report.clusters) <= 90
    # No article is published: everything customers ask is a gap, and no article is named.
    assert {c.verdict for c in report.clusters} == {gaps.Verdict.GAP}
    assert all(c.article is None and c.answered == 0.0 for c in report.clusters)
    # Each cluster's representative question and samples are its own members' texts.
    by_id = {p_id: p.body for p_id, p in zip(topics, plans, strict=True)}
    for c in report.clusters:
        assert c.samples[0].text == c.question == by_id[c.members[0]][:500]
        assert {s.case_id for s in c.samples} <= set(c.members)


def test_a_removed_article_is_the_top_gap(db: Session, clock: FrozenClock) -> None:
    now = clock.now()
    markets = demo_markets(db, now)
    topics = write_plans(db, markets, demo_plans(now, count=SAMPLE))
    ensure_kb(db, now=now - timedelta(days=200))
    before = gaps.mine(db, now=now, days=28, threshold=THRESHOLD, embedder=_embedder())
    tracking = [c for c in before.clusters if _main_topic(c, topics)[0] == "order.track_order"]
    biggest = max(tracking, key=lambda c: c.size)
    assert biggest.verdict is not gaps.Verdict.GAP and biggest.article is not None
    assert biggest.article.key == "track-your-order" and biggest.article.confidence >= THRESHOLD
    assert biggest.article.confident and biggest.answered >= 0.5

    article = db.scalar(select(KbArticle).where(KbArticle.key == "track-your-order"))
    assert article is not None
    article.is_active = False  # taken out of the help center
    db.flush()
    after = gaps.mine(db, now=now, days=28, threshold=THRESHOLD, embedder=_embedder())

    top = after.clusters[0]
    assert top.verdict is gaps.Verdict.GAP
    topic, share = _main_topic(top, topics)
    assert topic == "order.track_order" and share >= 0.8, (topic, share, top.terms)
    assert top.article is None or top.article.key != "track-your-order"
    assert top.answered < 0.5


# ---------------------------------------------------------------- ranking, growth, labels


def _bitext(intent: str, n: int, *, having: str = "", without: str = "\0") -> list[str]:
    """The first ``n`` Bitext utterances of ``intent`` (with the word ``having``, without ``without``)."""
    found = [t for t in load_utterances(find_data_dir()).by_intent[intent] if having in t and without not in t]
    return found[:n]


def test_a_growing_question_ranks_above_a_steady_one_of_the_same_size(db: Session, clock: FrozenClock) -> None:
    now = clock.now()
    markets = {"US": make_market(db, now=now)}
    day = timedelta(days=1)
    rows = []
    # Forgotten passwords (not hacked accounts: another question), the newsletter, invoices.
    for (intent, having, without), now_count, before_count in ((("recover_password", "password", "hack"), 12, 12),
                                                              (("newsletter_subscription", "", "\0"), 12, 3),
                                                              (("check_invoices", "invoice", "bill"), 8, 0)):
        utterances = _bitext(intent, now_count + before_count, having=having, without=without)
        rows += [("US", "en", text, now - (1 + i % 20) * day) for i, text in enumerate(utterances[:now_count])]
        rows += [("US", "en", text, now - (30 + i % 20) * day) for i, text in enumerate(utterances[now_count:])]
    rows.append(("US", "en", "an old question from last year", now - 400 * day))
    write_cases(db, markets, rows)

    report = gaps.mine(db, now=now, days=28, threshold=THRESHOLD, embedder=_embedder())

    assert (report.cases, report.previous_cases) == (32, 15)
    # Volume plus what it grew by (all are gaps: no article): 12 + 9, then 8 + 8 (all new), then 12 + 0.
    assert [(c.size, c.previous, c.score) for c in report.clusters] == [(12, 3, 21), (8, 0, 16), (12, 12, 12)]
    rising, new, steady = report.clusters
    assert rising.growth == pytest.approx(3.0) and steady.growth == pytest.approx(0.0)
    assert new.growth is None and new.is_new
    assert "newsletter" in rising.terms and any("password" in term for term in steady.terms)
    assert any("invoice" in term for term in new.terms)
    assert rising.question in _bitext("newsletter_subscription", 12)


def _two_questions(now: datetime) -> list[tuple[str, str, str, datetime]]:
    """Ten US cases forgetting a password (an article answers it), ten asking for the newsletter (none does)."""
    return [("US", "en", text, now - timedelta(days=1 + i % 20))
            for texts_of in (_bitext("recover_password", 10, having="password", without="hack"),
                             _bitext("newsletter_subscription", 10))
            for i, text in enumerate(texts_of)]


def test_labels_are_the_words_that_set_a_cluster_apart() -> None:
    refunds = ["I want a refund for order 12345", "how do I get a refund?", "refund my money please",
               "can I have a refund, the item BR-998877 broke"]
    passwords = ["I forgot my password", "reset my password please", "my password does not work",
                 "password reset link expired"]
    both = gaps.label_terms([refunds, passwords], "en", top=3)
    assert both[0][0] == "refund" and both[1][0] == "password"
    flat = [term for terms in both for term in terms]
    assert not any(ch.isdigit() for term in flat for ch in term)  # order numbers say nothing
    assert not {"my", "i", "how", "please", "br"} & set(flat)  # nor stopwords
    spanish = gaps.label_terms([["¿Dónde está mi devolución?", "quiero mi devolución ya", "la devolución no llega"],
                                ["no puedo pagar con tarjeta", "la tarjeta da error al pagar",
                                 "pago con tarjeta rechazado"]], "es", top=2)
    assert spanish[0][0] == "devolución" and spanish[1][0] == "tarjeta"  # accents kept for reading


def test_without_embeddings_words_and_character_ngrams_group_the_questions(db: Session,
                                                                          clock: FrozenClock) -> None:
    now = clock.now()
    markets = {"US": make_market(db, now=now)}
    rows = [("US", "en", text, now - timedelta(hours=1 + i)) for intent in ("recover_password", "get_invoice")
            for i, text in enumerate(_bitext(intent, 15))]
    write_cases(db, markets, rows)

    report = gaps.mine(db, now=now, days=7, threshold=THRESHOLD, embedder=None)

    assert report.methods == {"en": "tf-idf"}
    assert len(report.clusters) >= 2
    groups = [{row[2] for row in rows[:15]}, {row[2] for row in rows[15:]}]
    for c in report.clusters:  # no cluster mixes the two questions
        texts_of = {s.text for s in c.samples}
        assert any(texts_of <= group for group in groups)


def test_filters_are_checked(db: Session, clock: FrozenClock) -> None:
    for kwargs, field in (({"days": 0}, "days"), ({"days": 366}, "days"), ({"language": "English"}, "language"),
                          ({"market": "XX"}, "market")):
        with pytest.raises(Invalid) as refused:
            gaps.mine(db, now=clock.now(), threshold=THRESHOLD, **kwargs)
        assert refused.value.field == field


def test_only_the_cases_the_reader_may_see_are_mined(db: Session, world: World, clock: FrozenClock) -> None:
    now = clock.now()
    ids = write_cases(db, {"US": world.us}, _two_questions(now))
    in_vendor_a = db.scalars(select(Case).where(Case.id.in_(ids[:10]))).all()
    for case in in_vendor_a:
        case.team_id = world.t1_a.id
    db.flush()
    vendor_a = actor_for(world.users["agent_t2"], vendor_id=world.vendor_a.id)
    vendor_b = actor_for(world.users["agent_t2"], vendor_id=world.vendor_b.id)

    seen_by_a = gaps.mine(db, now=now, threshold=THRESHOLD, scope=scope_for(vendor_a), embedder=None)
    seen_by_b = gaps.mine(db, now=now, threshold=THRESHOLD, scope=scope_for(vendor_b), embedder=None)
    in_house = gaps.mine(db, now=now, threshold=THRESHOLD, scope=scope_for(actor_for(world.users["lead"])),
                         embedder=None)

    assert (seen_by_a.cases, seen_by_b.cases, in_house.cases) == (10, 0, 20)
    assert {i for c in seen_by_a.clusters for i in c.members} <= set(ids[:10])


# ---------------------------------------------------------------- the CLI


runner = CliRunner()


def test_the_cli_prints_the_ranking(database: str, tmp_path: Path) -> None:
    assert runner.invoke(cli.app, ["migrate"]).exit_code == 0
    now = datetime.now(UTC)
    factory = make_session_factory(make_engine(database))
    with transaction(factory) as session:
        ensure_kb(session, now=now - timedelta(days=200), skip=_all_but(FEW_ARTICLES))
        markets = {"US": make_market(session, now=now - timedelta(days=200))}
        write_cases(session, markets, _two_questions(now))

    result = runner.invoke(cli.app, ["kb", "gaps", "--days", "28", "--json"])
    assert result.exit_code == 0, result.output
    figures = json.loads(result.output)
    assert figures["cases"] == 20 and figures["days"] == 28
    assert figures["threshold"] == get_settings().kb_answer_threshold
    first, *rest = figures["clusters"]
    assert first["rank"] == 1 and first["verdict"] == "gap" and "newsletter" in first["terms"]
    assert first["size"] == 10 and first["markets"] == {"US": 10} and len(first["samples"]) == 5
    assert [c["verdict"] for c in rest] == ["ineffective"]
    assert rest[0]["article"]["key"] == "reset-your-password" and rest[0]["article"]["confident"]

    text = runner.invoke(cli.app, ["kb", "gaps", "--language", "en"])
    assert text.exit_code == 0, text.output
    assert "1. GAP · 10 cases (new) · en · US 10" in text.output
    assert "2. INEFFECTIVE ARTICLE" in text.output and 'reset-your-password "' in text.output

    refused = runner.invoke(cli.app, ["kb", "gaps", "--market", "XX"])
    assert refused.exit_code == 2 and "--market" in refused.output and "unknown market" in refused.output


# ---------------------------------------------------------------- the console page


def test_the_page_puts_gaps_first_with_links_to_cases_and_articles(client: TestClient, world: World, db: Session,
                                                                   clock: FrozenClock) -> None:
    now = clock.now()
    ensure_kb(db, now=now - timedelta(days=200), skip=_all_but(FEW_ARTICLES))
    rows = _two_questions(now)
    rows.append(("US", "en", "<script>alert(1)</script> newsletter newsletter", now - timedelta(days=2)))
    ids = write_cases(db, {"US": world.us}, rows)
    db.commit()
    sign_in(client, "lead")

    page = client.get("/console/kb/gaps")

    assert page.status_code == 200, page.text
    html = page.text
    assert "What customers ask that self-help misses" in html and 'aria-current="page">Gaps' in html
    assert html.index('id="gap-title"') < html.index("newsletter") < html.index('id="ineffective-title"')
    assert html.index('id="ineffective-title"') < html.index('href="/console/kb/articles/reset-your-password"')
    assert f'href="/console/cases/{ids[0]}"' in html or f'href="/console/cases/{ids[1]}"' in html
    assert "<script>alert(1)</script>" not in html
    assert "No article found" in html or "Closest:" in html

    spain = client.get("/console/kb/gaps?market=ES&days=14")
    assert spain.status_code == 200 and "No customer cases in the last 14 days for these filters" in spain.text


def test_the_page_has_a_clear_empty_state_and_checks_its_filters(client: TestClient, world: World) -> None:
    sign_in(client, "lead")
    empty = client.get("/console/kb/gaps")
    assert empty.status_code == 200 and "No customer cases in the last 28 days" in empty.text

    unknown = client.get("/console/kb/gaps?market=XX")
    assert unknown.status_code == 422 and 'id="f-market-error">Unknown market' in unknown.text
    assert client.get("/console/kb/gaps?days=0").status_code == 422


@pytest.mark.parametrize("who", ["agent_t1", "buyer"])
def test_the_page_is_for_knowledge_editors(client: TestClient, world: World, who: str) -> None:
    assert client.get("/console/kb/gaps", follow_redirects=False).status_code in (302, 303)  # not signed in
    sign_in(client, who)
    assert client.get("/console/kb/gaps").status_code == 403
