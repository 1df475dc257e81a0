"""FAQ and gap mining benchmark: does clustering the demo's case questions recover their true topics,
and what does mining cost.

Data: the cases the demo (seed 7, 21,000 cases over 90 days) opens in the last ``--days`` days and
in the ``--days`` before them (for growth), planned by ``trustdesk.demo.planner`` exactly as
``trustdesk demo`` plays them (first message, market, language, true topic), written as rows into
a scratch SQLite database with the demo's knowledge base (27 articles, English and Spanish).
Internal requests are left out, as mining leaves them out.

Figures: adjusted Rand index (ARI) of the clusters against the true topics (an unclustered case
counts as a cluster of its own), for the English cases whose topic is a Bitext intent (the
acceptance figure), for all English cases, per language and over all; the number of clusters by
verdict; wall time of ``knowledge.gaps.mine`` cold (embedding every question) and warm (the
vectors cached, as a page reload finds them), and with TF-IDF only; the peak memory the mining
added to the process (``ru_maxrss``, the model already loaded). ``--compare`` also reruns the
clustering algorithms the choice was made between on the English embeddings.

Run: ``.venv/bin/python bench/gaps.py [--days 28] [--max-cases 3000] [--compare] [--json]``.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import resource
import sys
import tempfile
import time
import tracemalloc
from collections import Counter
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import numpy as np
from sklearn.cluster import HDBSCAN, AgglomerativeClustering
from sklearn.metrics import adjusted_rand_score
from sqlalchemy.orm import Session

from trustdesk.cases.models import AuthorType, Case, Message, Party, PartyKind, Visibility
from trustdesk.core.db import make_engine
from trustdesk.core.migrate import upgrade
from trustdesk.core.settings import Settings
from trustdesk.demo import texts
from trustdesk.demo.bitext import find_data_dir, load_utterances
from trustdesk.demo.build import login_overrides
from trustdesk.demo.catalog import MARKETS
from trustdesk.demo.kb import ensure_kb
from trustdesk.demo.people import customers
from trustdesk.demo.planner import CasePlan, Planner
from trustdesk.demo.structure import login_customers
from trustdesk.demo.timeline import build_slots
from trustdesk.directory.models import Market
from trustdesk.knowledge import gaps, index
from trustdesk.knowledge.search import base_language
from trustdesk.text.embeddings import Embedder
from trustdesk.text.embeddings import embedder as load_embedder

SEED, DEMO_CASES = 7, 21_000
NOW = "2026-03-02T09:00:00+00:00"  # the tests' clock
BITEXT_TOPICS = frozenset(i.topic for i in texts.BUYER_INTENTS)


def plan_windows(now: datetime, days: int) -> list[CasePlan]:
    """Every customer case the demo opens in the ``2 * days`` before ``now``."""
    slots = build_slots(SEED, DEMO_CASES, now)
    logins = login_customers()
    planner = Planner(SEED, load_utterances(find_data_dir()), customers(SEED, DEMO_CASES), logins,
                      login_overrides(slots, logins))
    since = now - timedelta(days=2 * days)
    return [plan for slot in slots if since <= slot.at < now for plan in planner.plan(slot)
            if plan.kind is not PartyKind.INTERNAL and plan.at < now]


def write(session: Session, plans: list[CasePlan], now: datetime) -> dict[int, str]:
    """The plans as cases with their first customer message; returns the true topic by case id."""
    markets = {}
    for spec in MARKETS:
        market = Market(code=spec.code, name=spec.name, time_zone=spec.time_zone, languages=list(spec.languages),
                        default_language=spec.default_language, currency=spec.currency, region=None,
                        routing_threshold=None, is_active=True, created_at=now - timedelta(days=400))
        session.add(market)
        markets[spec.code] = market
    session.flush()
    parties = {}
    for code, market in markets.items():
        party = Party(kind=PartyKind.BUYER.value, market_id=market.id, external_id=f"bench-{code.lower()}",
                      display_name="Bench Customer", created_at=now - timedelta(days=400))
        session.add(party)
        parties[code] = party
    session.flush()
    topics: dict[int, str] = {}
    for start in range(0, len(plans), 2000):
        chunk = plans[start:start + 2000]
        cases = [Case(reference=f"BENCH-{start + n:07d}", channel=p.channel.value, market_id=markets[p.market].id,
                      language=p.language, party_id=parties[p.market].id, subject=p.subject[:300], topic=p.topic,
                      priority=p.priority.value, status="new", tags=[], custom_fields={}, created_at=p.at,
                      updated_at=p.at) for n, p in enumerate(chunk)]
        session.add_all(cases)
        session.flush()
        session.add_all([Message(case_id=c.id, visibility=Visibility.PUBLIC.value,
                                 author_type=AuthorType.CUSTOMER.value, author_name="Bench Customer",
                                 channel=c.channel, body=p.body, created_at=p.at) for c, p in zip(cases, chunk,
                                                                                                 strict=True)])
        session.flush()
        topics.update({c.id: p.topic for c, p in zip(cases, chunk, strict=True)})
    return topics


def ari(report: gaps.Report, topics: dict[int, str], ids: list[int]) -> float | None:
    cluster_of = {case_id: k for k, c in enumerate(report.clusters) for case_id in c.members}
    if len(ids) < 2:
        return None
    return round(float(adjusted_rand_score([topics[i] for i in ids], [cluster_of.get(i, -i) for i in ids])), 4)


def figures(report: gaps.Report, mined: list[gaps.Question], topics: dict[int, str]) -> dict[str, Any]:
    """ARI over the cases mined (all of the window, or its sample), and the counts."""
    language_of = {q.case_id: base_language(q.language) for q in mined}
    ids = [q.case_id for q in mined]
    english = [i for i in ids if language_of[i] == "en"]
    return {
        "ari_english_bitext": ari(report, topics, [i for i in english if topics[i] in BITEXT_TOPICS]),
        "ari_english": ari(report, topics, english),
        "ari_by_language": {lang: ari(report, topics, [i for i in ids if language_of[i] == lang])
                            for lang in sorted(set(language_of.values()))},
        "ari_all": ari(report, topics, ids),
        "clusters": len(report.clusters),
        "clusters_by_verdict": dict(Counter(c.verdict.value for c in report.clusters)),
        "unclustered": report.unclustered,
        "cases": report.cases, "mined": report.mined, "previous_cases": report.previous_cases,
        "sampled": report.sampled, "methods": report.methods,
    }


def compare(mined: list[gaps.Question], topics: dict[int, str]) -> list[dict[str, Any]]:
    """The algorithms the choice was made between, on the English questions' (cached) embeddings."""
    embedder = load_embedder()
    english = [q for q in mined if base_language(q.language) == "en"]
    if embedder is None or len(english) < 2:
        return []
    vectors = gaps.vectors_of(embedder, [q.text[:gaps.Params().max_chars] for q in english])
    truth = [topics[q.case_id] for q in english]
    rows = []
    candidates: list[tuple[str, Any]] = [
        *[(f"average linkage, cosine, cut {t}", AgglomerativeClustering(
            n_clusters=None, distance_threshold=t, metric="cosine", linkage="average")) for t in (0.4, 0.5, 0.6)],
        *[(f"complete linkage, cosine, cut {t}", AgglomerativeClustering(
            n_clusters=None, distance_threshold=t, metric="cosine", linkage="complete")) for t in (0.6, 0.7, 0.8)],
        *[(f"Ward, cut {t}", AgglomerativeClustering(n_clusters=None, distance_threshold=t, linkage="ward"))
          for t in (3.0, 4.0)],
        *[(f"HDBSCAN, min_cluster_size {m}", HDBSCAN(min_cluster_size=m, copy=True)) for m in (5, 10, 20)],
    ]
    for name, model in candidates:
        started = time.perf_counter()
        labels = model.fit(vectors).labels_
        seconds = time.perf_counter() - started
        noise = labels < 0
        labels = np.where(noise, -1 - np.arange(len(labels)), labels)  # noise: a cluster each
        rows.append({"algorithm": name, "clusters": len(set(labels[~noise])),
                     "noise": round(float(np.mean(noise)), 3),
                     "ari": round(float(adjusted_rand_score(truth, labels)), 4), "seconds": round(seconds, 2)})
    started = time.perf_counter()
    labels, _centroids = gaps.cluster(vectors, threshold=gaps.Params().dense_threshold, floor=gaps.Params().dense_floor,
                                      min_size=max(3, int(np.ceil(gaps.Params().min_share * len(english)))))
    seconds = time.perf_counter() - started
    noise = labels < 0
    rows.append({"algorithm": "chosen: average 0.5 + centroid rounds", "clusters": len(set(labels[~noise])),
                 "noise": round(float(np.mean(noise)), 3),
                 "ari": round(float(adjusted_rand_score(truth, np.where(noise, -1 - np.arange(len(labels)), labels))),
                              4), "seconds": round(seconds, 2)})
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--days", type=int, default=28)
    parser.add_argument("--max-cases", type=int, default=gaps.Params().max_cases,
                        help="cases of the window mined before sampling (default: the mining's own)")
    parser.add_argument("--max-previous", type=int, default=gaps.Params().max_previous)
    parser.add_argument("--now", default=NOW, help="the end of the window (ISO 8601; the demo's timeline is laid "
                                                   "on the days before it; default: fixed, so runs compare)")
    parser.add_argument("--compare", action="store_true", help="also rerun the candidate algorithms (English)")
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()

    now = datetime.fromisoformat(args.now).astimezone(UTC)
    params = gaps.Params(max_cases=args.max_cases, max_previous=args.max_previous)
    threshold = Settings().kb_answer_threshold
    load_started = time.perf_counter()
    embedder = load_embedder()
    if embedder is not None:
        embedder.encode(["warm up"])
    load_seconds = time.perf_counter() - load_started
    with tempfile.TemporaryDirectory(prefix="trustdesk-bench-gaps-") as folder:
        engine = make_engine(f"sqlite:///{Path(folder) / 'gaps.db'}")
        upgrade(engine)
        with Session(engine) as session:
            plans = plan_windows(now, args.days)
            topics = write(session, plans, now)
            ensure_kb(session, now=now - timedelta(days=200))
            session.commit()
            window = gaps.questions(session, since=now - timedelta(days=args.days), until=now)
            mined = gaps.sample_questions(window, params.max_cases, params.sample_salt)
            index_started = time.perf_counter()
            index.current(session)  # built once per published state, whoever asks first; not mining's cost
            index_seconds = time.perf_counter() - index_started

            def run(embedder: Embedder | None) -> gaps.Report:
                return gaps.mine(session, now=now, days=args.days, threshold=threshold, embedder=embedder,
                                 params=params)
            gaps.clear_caches()
            cold = run(embedder)
            warm = run(embedder)
            gaps.clear_caches()
            sparse = run(None)
            gaps.clear_caches()
            tracemalloc.start()
            run(embedder)  # again from cold, for the memory it takes (numpy and Python; not torch's own)
            traced_peak = tracemalloc.get_traced_memory()[1]
            tracemalloc.stop()
            peak_rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
            result: dict[str, Any] = {
                "date": datetime.now(UTC).date().isoformat(), "now": now.isoformat(),
                "machine": f"{os.cpu_count()} CPUs, {platform.machine()}, Python {platform.python_version()}",
                "load_average": [round(x, 2) for x in os.getloadavg()],
                "window_days": args.days, "threshold": threshold,
                "embeddings": figures(cold, mined, topics) | {"cold_seconds": round(cold.seconds, 2),
                                                                   "warm_seconds": round(warm.seconds, 2)},
                "tfidf": figures(sparse, mined, topics) | {"seconds": round(sparse.seconds, 2)},
                "model_load_seconds": round(load_seconds, 2), "index_build_seconds": round(index_seconds, 2),
                "peak_rss_mib": round(peak_rss / 1024, 1),
                "mining_peak_traced_mib": round(traced_peak / 2**20, 1),
                "top": [{"verdict": c.verdict.value, "size": c.size, "growth": c.growth, "terms": list(c.terms),
                         "question": c.question[:100], "article": c.article.key if c.article else None,
                         "true_topic": Counter(topics[i] for i in c.members).most_common(1)[0][0]}
                        for c in cold.clusters[:8]],
                "command": " ".join([".venv/bin/python", "bench/gaps.py", *sys.argv[1:]]),
            }
            if args.compare:
                result["compare"] = compare(mined, topics)
    if args.json:
        print(json.dumps(result, indent=2, ensure_ascii=False))
        return
    emb, tf = result["embeddings"], result["tfidf"]
    print(f"FAQ and gap mining on the demo's cases ({result['date']}, {result['machine']}, "
          f"load average {result['load_average']}); window ends {result['now']}")
    print(f"window {args.days} days: {emb['cases']} cases ({emb['mined']} mined"
          f"{', sampled' if emb['sampled'] else ''}), {emb['previous_cases']} in the window before")
    for name, row in (("embeddings", emb), ("tf-idf only", tf)):
        print(f"  {name:<12} ARI English Bitext intents {row['ari_english_bitext']} · English {row['ari_english']} · "
              f"by language {row['ari_by_language']} · all {row['ari_all']}")
        print(f"  {'':<12} {row['clusters']} clusters {row['clusters_by_verdict']} · {row['unclustered']} unclustered")
    print(f"  time: cold {emb['cold_seconds']} s (embedding every question, asking the search), warm "
          f"{emb['warm_seconds']} s (cached), tf-idf only {tf['seconds']} s (cold); model load "
          f"{result['model_load_seconds']} s, search index build {result['index_build_seconds']} s")
    print(f"  memory: peak RSS of the process {result['peak_rss_mib']} MiB (model included); mining's own peak "
          f"{result['mining_peak_traced_mib']} MiB (tracemalloc: numpy and Python)")
    for rank, row in enumerate(result["top"], start=1):
        print(f"  {rank}. {row['verdict']:<11} {row['size']:>4} {row['terms'][:3]} ({row['true_topic']}; "
              f"article {row['article']})")
    for row in result.get("compare", []):
        print(f"  compare: {row['algorithm']:<36} {row['clusters']:>4} clusters, noise {row['noise']:.3f}, "
              f"ARI {row['ari']:.3f}, {row['seconds']} s")
    print(f"reproduce: {result['command']}")


if __name__ == "__main__":
    main()
