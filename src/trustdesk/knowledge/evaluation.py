"""Measure knowledge-base search on questions with known answers, choose the confidence threshold
under which the bot stays quiet, and split the Bitext utterances into a held-out test set and
the rest.

Definitions (``evaluate``), for ``n`` questions each with the key of the article that answers it:

- ``top1`` / ``top3``: share of the ``n`` questions whose article is the first hit / among the
  first three hits.
- ``answer_rate``: share of the ``n`` questions the bot answers, i.e. whose first hit has
  ``confidence >= threshold``.
- ``wrong_answer_rate``: share of the ANSWERED questions whose first hit is not their article
  (the error rate the customers who get an answer see: wrong answers / answered questions, not
  wrong answers / all questions); 0.0 when nothing is answered.
- ``p50_ms``: median wall time of one ``Index.search`` call, in milliseconds.

The held-out split is deterministic: unique utterances (whitespace collapsed, compared
case-insensitively) are ordered by a keyed hash of their text and the first ``heldout`` are held
out, so the split depends neither on the order of the file nor on the Python version, and a
text that occurs twice is never on both sides. Utterances flagged ``W`` (offensive language) are
left out on both sides, as the demo leaves them out.
"""

from __future__ import annotations

import csv
import hashlib
import statistics
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from trustdesk.knowledge.search import Index

Question = tuple[str, str]  # (text, key of the article that answers it)

SEED = 7
HELDOUT = 2000
WRONG_ANSWER_TARGET = 0.05
UTTERANCES = Path("bitext-customer-support") / "utterances.csv"


@dataclass(frozen=True)
class Answer:
    """What the search answered to one question."""

    expected: str
    ranked: tuple[str, ...]  # keys of the hits, best first
    confidence: float  # of the first hit; 0.0 when there was none
    milliseconds: float

    @property
    def right(self) -> bool:
        return bool(self.ranked) and self.ranked[0] == self.expected


def answer_all(index: Index, questions: Sequence[Question], *, locale: str, k: int = 3) -> list[Answer]:
    """Search every question once, timing each search."""
    out = []
    for text, expected in questions:
        started = time.perf_counter()
        hits = index.search(text, locale=locale, k=k)
        elapsed = (time.perf_counter() - started) * 1000.0
        out.append(Answer(expected=expected, ranked=tuple(h.key for h in hits),
                          confidence=hits[0].confidence if hits else 0.0, milliseconds=elapsed))
    return out


def metrics(answers: Sequence[Answer], *, threshold: float) -> dict[str, Any]:
    """The figures of the module docstring for answers already computed."""
    n = len(answers)
    if n == 0:
        raise ValueError("no questions to measure")
    answered = [a for a in answers if a.ranked and a.confidence >= threshold]
    wrong = sum(1 for a in answered if not a.right)
    return {
        "n": n,
        "top1": sum(a.right for a in answers) / n,
        "top3": sum(1 for a in answers if a.expected in a.ranked[:3]) / n,
        "threshold": threshold,
        "answer_rate": len(answered) / n,
        "wrong_answer_rate": wrong / len(answered) if answered else 0.0,
        "p50_ms": statistics.median(a.milliseconds for a in answers),
    }


def evaluate(index: Index, questions: Sequence[Question], *, locale: str, threshold: float) -> dict[str, Any]:
    """``n``, ``top1``, ``top3``, ``answer_rate``, ``wrong_answer_rate``, ``p50_ms`` (and the
    ``threshold``) of ``index`` on ``questions`` asked in ``locale``; see the module docstring."""
    return metrics(answer_all(index, questions, locale=locale), threshold=threshold)


def lowest_threshold(answers: Sequence[Answer], *, target: float = WRONG_ANSWER_TARGET) -> float:
    """The lowest confidence threshold at which at most ``target`` of the answered questions are
    answered wrong (so the bot answers as many as it can); 1.0 when no threshold gets there."""
    ranked = sorted((a for a in answers if a.ranked), key=lambda a: -a.confidence)
    best = 1.0
    wrong = 0
    for position, answer in enumerate(ranked):
        answered = position + 1
        wrong += not answer.right
        # A threshold equal to this confidence also answers every question tied with it.
        tied_with_next = position + 1 < len(ranked) and ranked[position + 1].confidence == answer.confidence
        if not tied_with_next and wrong <= target * answered:
            best = answer.confidence
    return best


def choose_threshold(index: Index, questions: Sequence[Question], *, locale: str,
                     target: float = WRONG_ANSWER_TARGET) -> float:
    """:func:`lowest_threshold` on a calibration set: use training questions, never the ones the
    threshold is then measured on."""
    return lowest_threshold(answer_all(index, questions, locale=locale), target=target)


# ---------------------------------------------------------------------------- the Bitext split


def utterances_path(path: Path) -> Path:
    """``path`` itself, or the Bitext CSV inside a data folder (``shared/data``)."""
    return path / UTTERANCES if path.is_dir() else path


def _normalised(text: str) -> str:
    return " ".join(text.split())


def _read(path: Path) -> list[tuple[str, str]]:
    rows = []
    with utterances_path(path).open(newline="", encoding="utf-8") as handle:
        for row in csv.DictReader(handle):
            if "W" in row["flags"]:
                continue
            text = _normalised(row["text"])
            if text:
                rows.append((text, row["intent"]))
    return rows


def bitext_split(path: Path, *, seed: int = SEED, heldout: int = HELDOUT) -> tuple[list[Question], list[Question]]:
    """``(held_out, rest)``: ``heldout`` unique utterances as ``(text, intent)`` and every other
    utterance (each text once), both in file order. ``path`` is the CSV or the data folder."""
    rows = _read(path)
    first: dict[str, tuple[str, str]] = {}
    for text, intent in rows:
        first.setdefault(text.casefold(), (text, intent))
    held_keys = set(sorted(first, key=lambda key: _rank(seed, key))[:heldout])
    if len(held_keys) < heldout:
        raise ValueError(f"{path} has {len(first)} usable utterances, fewer than the {heldout} to hold out")
    held = [pair for key, pair in first.items() if key in held_keys]
    rest = [pair for key, pair in first.items() if key not in held_keys]
    return held, rest


def heldout_texts(path: Path, *, seed: int = SEED, heldout: int = HELDOUT) -> frozenset[str]:
    """Every spelling in the file (whitespace collapsed, as ``demo.bitext.load_utterances`` reads
    them) of the held-out utterances: what anything trained or shown must leave out."""
    held = {text.casefold() for text, _ in bitext_split(path, seed=seed, heldout=heldout)[0]}
    return frozenset(text for text, _ in _read(path) if text.casefold() in held)


def _rank(seed: int, key: str) -> bytes:
    return hashlib.blake2b(f"{seed}\x00{key}".encode(), digest_size=16).digest()


@dataclass(frozen=True)
class BitextPlan:
    """How the Bitext utterances are used, each for one purpose only: the held-out ``test`` set,
    ``calibration`` questions (fit the confidence, choose the threshold), ``study`` questions (compare
    fusion weights) and the ``examples`` that become the articles' example questions. Each is a list
    of (text, article key); utterances whose intent has no article are left out."""

    test: list[Question]
    calibration: list[Question]
    study: list[Question]
    examples: list[Question]


def bitext_plan(path: Path, key_of_intent: dict[str, str], *, seed: int = SEED, calibration: int = 3000,
                study: int = 3000, per_article: int = 30) -> BitextPlan:
    """The held-out split (:func:`bitext_split`, fixed), then the rest shuffled with ``seed``: the first
    ``calibration``, the next ``study``, and from what is left the first ``per_article`` of each article."""
    import random

    held, rest = bitext_split(path)
    test = [(text, key_of_intent[intent]) for text, intent in held if intent in key_of_intent]
    pool = [(text, key_of_intent[intent]) for text, intent in rest if intent in key_of_intent]
    random.Random(seed).shuffle(pool)  # noqa: S311  (a fixed, reproducible sample, not a secret)
    taken: dict[str, int] = {}
    examples = []
    for text, key in pool[calibration + study:]:
        if taken.get(key, 0) < per_article:
            taken[key] = taken.get(key, 0) + 1
            examples.append((text, key))
    return BitextPlan(test=test, calibration=pool[:calibration], study=pool[calibration:calibration + study],
                      examples=examples)
