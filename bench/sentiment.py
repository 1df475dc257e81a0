"""Sentiment scoring benchmark: how many customer messages a second ``trustdesk.text.sentiment.score`` takes,
per language, and how its labels fall on the demo's messages; with the accuracy on the hand-labelled set.

Data: every customer message the demo (seed 7, 21,000 cases over 90 days) writes, the first message of each
case and the customer's follow-ups, planned by ``trustdesk.demo.planner`` exactly as ``trustdesk demo`` plays
them (English from the Bitext utterances, Spanish and Indonesian hand-written); no database.

Figures per language: messages, distinct texts, messages a second cold (every text scored, the cache
cleared: the scorer's own speed) and as the demo scores them (through the cache of short texts), and the
share of each label. Then the accuracy on ``tests/text/data/sentiment_eval.csv``.

Run: ``.venv/bin/python bench/sentiment.py [--repeat 3] [--json]``.
"""

from __future__ import annotations

import argparse
import csv
import json
import os
import platform
import sys
import time
from collections import Counter, defaultdict
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from trustdesk.cases.models import PartyKind
from trustdesk.demo.bitext import find_data_dir, load_utterances
from trustdesk.demo.build import login_overrides
from trustdesk.demo.people import customers
from trustdesk.demo.planner import Action, Planner
from trustdesk.demo.structure import login_customers
from trustdesk.demo.timeline import build_slots
from trustdesk.text import sentiment

SEED, DEMO_CASES = 7, 21_000
NOW = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)
EVAL = Path(__file__).resolve().parent.parent / "tests" / "text" / "data" / "sentiment_eval.csv"


def demo_messages() -> list[tuple[str, str]]:
    """(text, language) of every customer message the demo writes."""
    slots = build_slots(SEED, DEMO_CASES, NOW)
    logins = login_customers()
    planner = Planner(SEED, load_utterances(find_data_dir()), customers(SEED, DEMO_CASES), logins,
                      login_overrides(slots, logins))
    out: list[tuple[str, str]] = []
    for slot in slots:
        for plan in planner.plan(slot):
            if plan.kind is PartyKind.INTERNAL:
                continue
            out.append((plan.body, plan.language))
            out.extend((step.text, plan.language) for step in plan.steps
                       if step.action is Action.CUSTOMER and step.text)
    return out


def clear_caches() -> None:
    sentiment._score_cached.cache_clear()
    sentiment.fold.cache_clear()


def speed(messages: list[tuple[str, str]], *, cached: bool, repeat: int) -> float:
    """Best of ``repeat`` runs, messages a second."""
    best = 0.0
    for _ in range(repeat):
        clear_caches()
        started = time.perf_counter()
        if cached:
            for text, language in messages:
                sentiment.score(text, language)
        else:
            for text, language in messages:
                sentiment._score(text[:sentiment.MAX_CHARS], sentiment.base_language(language))
        best = max(best, len(messages) / (time.perf_counter() - started))
    return best


def evaluation() -> dict[str, dict[str, Any]]:
    rows = list(csv.DictReader(EVAL.open(encoding="utf-8")))
    out: dict[str, dict[str, Any]] = {}
    for language in sorted({r["language"] for r in rows}):
        mine = [r for r in rows if r["language"] == language]
        right = sum(sentiment.score(r["text"], language).label == r["label"] for r in mine)
        out[language] = {"messages": len(mine), "accuracy": round(right / len(mine), 3)}
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()

    planned = time.perf_counter()
    messages = demo_messages()
    planned = time.perf_counter() - planned
    for language in sentiment.SUPPORTED:  # load the lexicons and VADER before timing
        sentiment.score("ok", language)
    by_language: dict[str, list[tuple[str, str]]] = defaultdict(list)
    for text, language in messages:
        by_language[sentiment.base_language(language)].append((text, language))
    rows = []
    for language in sorted(by_language):
        mine = by_language[language]
        labels = Counter(sentiment.score(text, lang).label for text, lang in mine)
        rows.append({"language": language, "messages": len(mine), "distinct": len({t for t, _ in mine}),
                     "cold_per_s": round(speed(mine, cached=False, repeat=args.repeat)),
                     "cached_per_s": round(speed(mine, cached=True, repeat=args.repeat)),
                     "labels": {k: round(labels[k] / len(mine), 3) for k in ("negative", "neutral", "positive")}})
    total = {"messages": len(messages), "cold_per_s": round(speed(messages, cached=False, repeat=args.repeat)),
             "cached_per_s": round(speed(messages, cached=True, repeat=args.repeat))}
    result = {"machine": f"{platform.processor() or platform.machine()}, {os.cpu_count()} CPUs, "
                         f"Python {platform.python_version()}",
              "load_average": os.getloadavg()[0], "planned_seconds": round(planned, 1), "languages": rows,
              "all": total, "evaluation": evaluation()}
    if args.json:
        json.dump(result, sys.stdout, indent=2)
        print()
        return
    print(f"{result['machine']}; load average {result['load_average']:.1f}; "
          f"{len(messages):,} demo customer messages planned in {planned:.1f} s")
    print(f"{'language':<9} {'messages':>9} {'distinct':>9} {'cold msg/s':>11} {'cached msg/s':>13}  "
          "negative / neutral / positive")
    for row in rows:
        shares = " / ".join(f"{100 * row['labels'][k]:.0f}%" for k in ("negative", "neutral", "positive"))
        print(f"{row['language']:<9} {row['messages']:>9,} {row['distinct']:>9,} {row['cold_per_s']:>11,} "
              f"{row['cached_per_s']:>13,}  {shares}")
    print(f"{'all':<9} {total['messages']:>9,} {'':>9} {total['cold_per_s']:>11,} {total['cached_per_s']:>13,}")
    print("accuracy on the hand-labelled set: " + ", ".join(
        f"{language} {figures['accuracy']:.3f} ({figures['messages']})"
        for language, figures in result["evaluation"].items()))


if __name__ == "__main__":
    main()
