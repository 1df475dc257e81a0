"""Measure the topic classifier on a held-out set: ``trustdesk routing evaluate``.

Trains a fresh model on TRAIN, predicts TEST and reports accuracy, macro-F1, training time and
single-message latency. With a reject label (the out-of-scope class of a data set such as
CLINC150), rows with that label are never learnt as a topic; the triage threshold is chosen on
out-of-fold predictions of TRAIN only, and a TEST prediction below it counts as "send to triage",
which is right exactly for the rows with the reject label.
"""

from __future__ import annotations

import csv
import math
import statistics
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
from sklearn.metrics import f1_score

from trustdesk.routing.classifier import Params, TopicClassifier, triage_threshold
from trustdesk.text.embeddings import embedder as load_embedder

LATENCY_SAMPLE = 300  # single-message predictions timed, spread evenly over TEST
LATENCY_WARMUP = 10


class DatasetError(ValueError):
    """A CSV that cannot be used, with the file and column named."""


@dataclass(frozen=True)
class Dataset:
    texts: list[str]
    labels: list[str]


def read_dataset(path: Path, *, text_column: str, label_column: str) -> Dataset:
    if not path.is_file():
        raise DatasetError(f"{path}: no such file")
    with path.open(newline="", encoding="utf-8") as handle:
        reader = csv.DictReader(handle)
        columns = reader.fieldnames or []
        for column in (text_column, label_column):
            if column not in columns:
                raise DatasetError(f"{path}: no column {column!r} (columns: {', '.join(columns) or 'none'})")
        texts, labels = [], []
        for row in reader:
            text, label = (row.get(text_column) or "").strip(), (row.get(label_column) or "").strip()
            if text and label:
                texts.append(text)
                labels.append(label)
    if not texts:
        raise DatasetError(f"{path}: no rows with both {text_column!r} and {label_column!r}")
    return Dataset(texts, labels)


def evaluate(train: Dataset, test: Dataset, *, reject_label: str | None = None,
             params: Params | None = None, use_embeddings: bool = True) -> dict[str, Any]:
    embedder = load_embedder() if use_embeddings else None
    classifier = TopicClassifier(params, embedder)
    started = time.perf_counter()
    oof = classifier.fit(train.texts, train.labels, reject_label=reject_label)
    if reject_label is not None and oof is not None:
        classifier.threshold = triage_threshold(oof)
    train_seconds = time.perf_counter() - started

    predictions = classifier.predict(test.texts)
    if reject_label is not None:
        predicted = [p.label if p.confident else reject_label for p in predictions]
    else:
        predicted = [p.label for p in predictions]
    truth = test.labels
    result: dict[str, Any] = {
        "accuracy": round(float(np.mean([a == b for a, b in zip(predicted, truth, strict=True)])), 4),
        "macro_f1": round(float(f1_score(truth, predicted, average="macro", zero_division=0)), 4),
        "n_train": len(train.texts),
        "n_test": len(test.texts),
        "train_seconds": round(train_seconds, 2),
    }
    result |= _latency(classifier, test.texts)
    if reject_label is not None:
        in_scope = [i for i, label in enumerate(truth) if label != reject_label]
        out_scope = [i for i, label in enumerate(truth) if label == reject_label]
        result["in_scope_accuracy"] = round(
            sum(predicted[i] == truth[i] for i in in_scope) / len(in_scope), 4) if in_scope else None
        result["reject_recall"] = round(
            sum(predicted[i] == reject_label for i in out_scope) / len(out_scope), 4) if out_scope else None
        result["threshold"] = round(classifier.threshold, 4)
    result["model"] = {
        "features": "tfidf word 1-2 + char 2-5" + (f" + {embedder.name} embeddings" if embedder else ""),
        "embeddings": embedder.name if embedder else None,
        "temperature": round(classifier.temperature, 4),
    }
    return result


def _latency(classifier: TopicClassifier, texts: list[str]) -> dict[str, float]:
    """Single-message prediction time, the way a case arriving alone is classified."""
    step = max(1, len(texts) // LATENCY_SAMPLE)
    sample = texts[::step][:LATENCY_SAMPLE]
    for text in sample[:LATENCY_WARMUP]:
        classifier.predict_one(text)
    timings = []
    for text in sample:
        started = time.perf_counter()
        classifier.predict_one(text)
        timings.append((time.perf_counter() - started) * 1000)
    timings.sort()
    p99_index = min(len(timings) - 1, math.ceil(0.99 * len(timings)) - 1)
    return {"p50_ms": round(statistics.median(timings), 2), "p99_ms": round(timings[p99_index], 2)}
