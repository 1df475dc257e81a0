"""Topic classifier benchmark: accuracy, macro-F1, training time, single-message latency, memory.

Runs what ``trustdesk routing evaluate`` runs, on BANKING77 (../shared/data/banking77), once with
sentence embeddings (the ``embeddings`` extra) and once with TF-IDF alone (the light fallback),
and prints both with the figures issue #3 asks for: accuracy >= 0.94 and p50 single-message
latency <= 15 ms on 2 cores.

``--cv`` also reruns the hyper-parameter study: 5-fold stratified cross-validation on the
TRAINING set only, over the embedding weight and the SVM's C (the test set is never used to
choose anything). It takes a few minutes.

Run: ``.venv/bin/python bench/routing.py [--cv] [--json]``. Results: docs/benchmarks.md.
"""

from __future__ import annotations

import argparse
import itertools
import json
import os
import platform
import resource
import subprocess
import sys
import time
from dataclasses import replace
from pathlib import Path
from typing import Any

import numpy as np
from sklearn.model_selection import StratifiedKFold

from trustdesk.routing.classifier import Params, TopicClassifier
from trustdesk.routing.evaluation import Dataset, evaluate, read_dataset
from trustdesk.text import embeddings

REPO = Path(__file__).resolve().parents[1]
DATA = Path(os.environ.get("TRUSTDESK_BANKING77", "/work/shared/data/banking77"))
TARGET_ACCURACY = 0.94
TARGET_P50_MS = 15.0
CV_WEIGHTS = (1.5, 2.0, 3.0)
CV_C = (0.25, 0.5, 1.0)


def commit() -> str:
    try:
        return subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=REPO, capture_output=True,
                              text=True, check=True).stdout.strip()
    except (OSError, subprocess.CalledProcessError):
        return "unknown"


def cross_validate(train: Dataset, folds: int = 5) -> list[dict[str, Any]]:
    """Mean accuracy per (embedding weight, C) over stratified folds of TRAIN."""
    embedder = embeddings.embedder()
    if embedder is None:
        raise SystemExit("--cv needs the embeddings extra")
    vectors = embedder.encode(train.texts).astype(np.float64)
    labels = np.array(train.labels)
    splitter = StratifiedKFold(n_splits=folds, shuffle=True, random_state=0)
    scores: dict[tuple[float, float], list[float]] = {}
    for fold, (fit_rows, held_rows) in enumerate(splitter.split(np.zeros(len(labels)), labels), start=1):
        for weight, c in itertools.product(CV_WEIGHTS, CV_C):
            model = TopicClassifier(replace(Params(), embedding_weight=weight, c=c))
            model._fit_once([train.texts[i] for i in fit_rows], list(labels[fit_rows]), vectors[fit_rows])
            predicted = np.array(model.labels)[model._scores([train.texts[i] for i in held_rows],
                                                            vectors[held_rows]).argmax(axis=1)]
            scores.setdefault((weight, c), []).append(float((predicted == labels[held_rows]).mean()))
        print(f"  cv fold {fold}/{folds} done", file=sys.stderr, flush=True)
    rows = [{"embedding_weight": w, "c": c, "mean_accuracy": round(float(np.mean(v)), 4),
             "std": round(float(np.std(v)), 4)} for (w, c), v in scores.items()]
    return sorted(rows, key=lambda r: -r["mean_accuracy"])


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--data", type=Path, default=DATA, help="folder with train.csv and test.csv")
    parser.add_argument("--cv", action="store_true", help="rerun the cross-validation study on TRAIN")
    parser.add_argument("--json", dest="as_json", action="store_true", help="print JSON on stdout")
    options = parser.parse_args(argv)

    train = read_dataset(options.data / "train.csv", text_column="text", label_column="label")
    test = read_dataset(options.data / "test.csv", text_column="text", label_column="label")
    runs: dict[str, Any] = {}
    for name, use in (("tfidf", False), ("tfidf+embeddings", True)):
        if use and not embeddings.available():
            print("  embeddings extra not installed: skipping that run", file=sys.stderr)
            continue
        started = time.perf_counter()
        runs[name] = evaluate(train, test, use_embeddings=use) | {
            "wall_seconds": round(time.perf_counter() - started, 1)}
    report: dict[str, Any] = {
        "commit": commit(), "machine": f"{os.cpu_count()} CPUs, Python {platform.python_version()}",
        "data": str(options.data), "runs": runs,
        # ru_maxrss is in KiB on Linux: the peak of this process, model and both runs included.
        "peak_rss_mib": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024),
    }
    if options.cv:
        report["cross_validation"] = cross_validate(train)

    lines = [f"Topic classifier on BANKING77  commit {report['commit']}  {report['machine']}",
             f"{'features':<18} {'accuracy':>8} {'macro_f1':>8} {'train s':>8} {'p50 ms':>7} {'p99 ms':>7}"]
    for name, run in runs.items():
        lines.append(f"{name:<18} {run['accuracy']:>8.4f} {run['macro_f1']:>8.4f} {run['train_seconds']:>8.1f} "
                     f"{run['p50_ms']:>7.2f} {run['p99_ms']:>7.2f}")
    lines.append(f"peak memory (RSS) of the benchmark process: {report['peak_rss_mib']} MiB")
    best = runs.get("tfidf+embeddings")
    if best:
        met = best["accuracy"] >= TARGET_ACCURACY and best["p50_ms"] <= TARGET_P50_MS
        lines.append(f"targets accuracy >= {TARGET_ACCURACY} and p50 <= {TARGET_P50_MS} ms: "
                     f"{'met' if met else 'NOT met'}")
    for row in report.get("cross_validation", []):
        lines.append(f"  cv weight {row['embedding_weight']:<4} C {row['c']:<5} "
                     f"{row['mean_accuracy']:.4f} ± {row['std']:.4f}")
    lines.append(f"reproduce: .venv/bin/python bench/routing.py{' --cv' if options.cv else ''}")
    print("\n".join(lines), file=sys.stderr if options.as_json else sys.stdout)
    if options.as_json:
        print(json.dumps(report))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
