"""The topic classifier: learns a case's topic from its text, with a calibrated confidence.

Features are TF-IDF word (1-2) and character (2-5, within word boundaries) n-grams, plus, when
the ``embeddings`` extra is installed, the case text's sentence embedding scaled by
``embedding_weight``; a linear SVM (one-vs-rest) scores every topic. The scores become
probabilities through a softmax whose temperature is fitted on out-of-fold scores of the
training set (one parameter, so it cannot overfit the way per-class calibration can), which
makes ``confidence`` comparable across models and topics and lets a threshold send unsure cases
to triage.

The hyper-parameters below were chosen by 5-fold cross-validation on the BANKING77 training set
only (``bench/routing.py --cv``; figures in docs/benchmarks.md); the test set was never used to
choose anything.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import numpy.typing as npt
from scipy.sparse import csr_matrix, hstack
from sklearn.feature_extraction.text import TfidfVectorizer
from sklearn.model_selection import StratifiedKFold
from sklearn.svm import LinearSVC

from trustdesk.text.embeddings import Embedder

FloatArray = npt.NDArray[np.float64]
TRIAGE = None  # what ``Prediction.routed_label`` is when the classifier is not sure enough


@dataclass(frozen=True)
class Params:
    word_ngrams: tuple[int, int] = (1, 2)
    char_ngrams: tuple[int, int] = (2, 5)
    char_min_df: int = 2
    embedding_weight: float = 3.0
    c: float = 0.25
    calibration_folds: int = 3
    seed: int = 7


@dataclass(frozen=True)
class Prediction:
    label: str
    confidence: float
    top: list[tuple[str, float]]  # the three most likely labels with their probabilities
    threshold: float

    @property
    def confident(self) -> bool:
        return self.confidence >= self.threshold

    @property
    def routed_label(self) -> str | None:
        return self.label if self.confident else TRIAGE


@dataclass
class OutOfFold:
    """Predictions for training rows by models that did not see them: used to calibrate and to
    choose thresholds without touching any held-out data."""

    labels: list[str]
    predicted: list[str]
    confidence: FloatArray
    rejected_rows: npt.NDArray[np.bool_] = field(default_factory=lambda: np.zeros(0, dtype=bool))


class TopicClassifier:
    """Fit on (text, label) pairs; predict a label, its probability and the runners-up."""

    def __init__(self, params: Params | None = None, embedder: Embedder | None = None) -> None:
        self.params = params or Params()
        self.embedder = embedder
        self.embedding_model = embedder.name if embedder else None
        self.labels: list[str] = []
        self.temperature = 1.0
        self.threshold = 0.0
        self._word: TfidfVectorizer | None = None
        self._char: TfidfVectorizer | None = None
        self._svm: LinearSVC | None = None

    # ------------------------------------------------------------ training

    def fit(self, texts: Sequence[str], labels: Sequence[str], *, reject_label: str | None = None,
            embeddings: FloatArray | None = None) -> OutOfFold | None:
        """Train on every row whose label is not ``reject_label``; returns the out-of-fold
        predictions the calibration used (``None`` when there is too little data to hold any out).

        Rows labelled ``reject_label`` (out of scope) are never learnt as a topic; they are held
        out with the others so the threshold can be chosen to send them to triage.
        """
        texts, labels = list(texts), list(labels)
        if len(texts) != len(labels):
            raise ValueError("texts and labels differ in length")
        vectors = self._embed(texts) if embeddings is None else embeddings
        in_scope = np.array([label != reject_label for label in labels], dtype=bool)
        if len({label for label, keep in zip(labels, in_scope, strict=True) if keep}) < 2:
            raise ValueError("a classifier needs at least two topics with examples")
        oof = self._out_of_fold(texts, labels, vectors, in_scope)
        if oof is not None:
            self.temperature = _fit_temperature(oof.scores, oof.truth)
            out = OutOfFold(labels=labels, predicted=oof.predicted,
                            confidence=_softmax(oof.scores, self.temperature).max(axis=1), rejected_rows=~in_scope)
        else:
            out = None
        keep = np.flatnonzero(in_scope)
        self._fit_once([texts[i] for i in keep], [labels[i] for i in keep],
                       vectors[keep] if vectors is not None else None)
        return out

    def _fit_once(self, texts: list[str], labels: list[str], vectors: FloatArray | None) -> None:
        p = self.params
        self._word = TfidfVectorizer(ngram_range=p.word_ngrams, sublinear_tf=True)
        char_min_df = p.char_min_df if len(texts) >= 50 else 1
        self._char = TfidfVectorizer(analyzer="char_wb", ngram_range=p.char_ngrams, sublinear_tf=True,
                                     min_df=char_min_df)
        features = hstack([self._word.fit_transform(texts), self._char.fit_transform(texts),
                           *self._dense(vectors)]).tocsr()
        self._svm = LinearSVC(C=p.c, random_state=p.seed).fit(features, labels)
        self.labels = [str(label) for label in self._svm.classes_]

    def _out_of_fold(self, texts: list[str], labels: list[str], vectors: FloatArray | None,
                     in_scope: npt.NDArray[np.bool_]) -> _Folds | None:
        counts: dict[str, int] = {}
        for label in labels:
            counts[label] = counts.get(label, 0) + 1
        folds = min(self.params.calibration_folds, min(counts.values()))
        if folds < 2 or len(texts) < 30:
            return None
        all_labels = sorted({label for label, keep in zip(labels, in_scope, strict=True) if keep})
        column = {label: index for index, label in enumerate(all_labels)}
        scores = np.full((len(texts), len(all_labels)), -1e3)
        splitter = StratifiedKFold(n_splits=folds, shuffle=True, random_state=self.params.seed)
        for train_rows, held_rows in splitter.split(np.zeros(len(labels)), labels):
            fit_rows = train_rows[in_scope[train_rows]]
            fold = TopicClassifier(self.params)
            fold._fit_once([texts[i] for i in fit_rows], [labels[i] for i in fit_rows],
                           vectors[fit_rows] if vectors is not None else None)
            held_scores = fold._scores([texts[i] for i in held_rows],
                                       vectors[held_rows] if vectors is not None else None)
            for source, label in enumerate(fold.labels):
                scores[held_rows, column[label]] = held_scores[:, source]
        truth = np.array([column.get(label, -1) for label in labels])
        predicted = [all_labels[i] for i in scores.argmax(axis=1)]
        return _Folds(scores=scores, truth=truth, predicted=predicted)

    # ------------------------------------------------------------ prediction

    def predict(self, texts: Sequence[str]) -> list[Prediction]:
        texts = list(texts)
        if not texts:
            return []
        probabilities = _softmax(self._scores(texts, self._embed(texts)), self.temperature)
        out = []
        for row in probabilities:
            order = np.argsort(-row)[:3]
            top = [(self.labels[i], round(float(row[i]), 4)) for i in order]
            out.append(Prediction(label=top[0][0], confidence=float(row[order[0]]), top=top,
                                  threshold=self.threshold))
        return out

    def predict_one(self, text: str) -> Prediction:
        return self.predict([text])[0]

    def _scores(self, texts: list[str], vectors: FloatArray | None) -> FloatArray:
        if self._svm is None or self._word is None or self._char is None:
            raise RuntimeError("the classifier is not trained")
        features = hstack([self._word.transform(texts), self._char.transform(texts),
                           *self._dense(vectors)]).tocsr()
        scores = np.asarray(self._svm.decision_function(features), dtype=np.float64)
        if scores.ndim == 1:  # two topics: one column, positive means the second
            scores = np.column_stack([-scores, scores])
        return scores

    def _embed(self, texts: list[str]) -> FloatArray | None:
        if self.embedder is None:
            return None
        return self.embedder.encode(texts).astype(np.float64)

    def _dense(self, vectors: FloatArray | None) -> list[csr_matrix]:
        if vectors is None:
            return []
        return [csr_matrix(vectors * self.params.embedding_weight)]

    # ------------------------------------------------------------ persistence

    def __getstate__(self) -> dict[str, Any]:
        state = dict(self.__dict__)
        state["embedder"] = None  # the model comes from its package when loaded, never from the file
        return state

    def attach(self, embedder: Embedder | None) -> None:
        """Reconnect a loaded classifier to the embedding model it was trained with."""
        if self.embedding_model is not None and (embedder is None or embedder.name != self.embedding_model):
            raise RuntimeError(f"this model needs the {self.embedding_model} embeddings; install the "
                               "embeddings extra (pip install 'trustdesk[embeddings]')")
        self.embedder = embedder if self.embedding_model else None


@dataclass
class _Folds:
    """Out-of-fold scores of every training row, in the order of the rows."""

    scores: FloatArray
    truth: npt.NDArray[np.int_]  # column of the true label, -1 for out-of-scope rows
    predicted: list[str]


def _softmax(scores: FloatArray, temperature: float) -> FloatArray:
    z = scores / temperature
    z = z - z.max(axis=1, keepdims=True)
    e = np.exp(z)
    return np.asarray(e / e.sum(axis=1, keepdims=True), dtype=np.float64)


def _fit_temperature(scores: FloatArray, truth: npt.NDArray[np.int_]) -> float:
    """The softmax temperature that minimises the log loss of the in-scope out-of-fold rows.

    The targets are smoothed by one part in (rows + 1): n held-out rows cannot show that the
    model is surer than that, and without it perfectly separated training data would drive the
    temperature to zero and every confidence to 1.0, whatever the text.
    """
    rows = truth >= 0
    if not rows.any():
        return 1.0
    s, t = scores[rows], truth[rows]
    classes = s.shape[1]
    epsilon = 1.0 / (len(t) + 1)
    target = np.full(s.shape, epsilon / max(1, classes - 1))
    target[np.arange(len(t)), t] = 1.0 - epsilon

    def loss(temperature: float) -> float:
        z = s / temperature
        z = z - z.max(axis=1, keepdims=True)
        log_p = z - np.log(np.exp(z).sum(axis=1, keepdims=True))
        return float(-(target * log_p).sum(axis=1).mean())

    # Log-spaced search, then a finer pass around the best; the loss is smooth and unimodal here.
    grid = [math.exp(x) for x in np.linspace(math.log(0.01), math.log(10.0), 40)]
    best = min(grid, key=loss)
    fine = [best * math.exp(x) for x in np.linspace(-0.2, 0.2, 21)]
    return float(min(fine, key=loss))


def triage_threshold(oof: OutOfFold) -> float:
    """The confidence below which a case goes to triage, chosen on out-of-fold training rows that
    include out-of-scope examples (``rejected_rows``).

    Every row counts once: an in-scope row is right when it is kept and its topic is right; an
    out-of-scope row is right when it is sent to triage. The threshold that makes the most rows
    right wins; on a tie the middle of the tied candidates, so the choice does not sit on the
    edge of one training example.
    """
    rejected = oof.rejected_rows if len(oof.rejected_rows) else np.zeros(len(oof.labels), dtype=bool)
    kept_right = np.array([p == label for p, label in zip(oof.predicted, oof.labels, strict=True)]) & ~rejected
    order = np.argsort(oof.confidence)
    conf_sorted = oof.confidence[order]
    # For a threshold t the rows below t go to triage (right iff out of scope) and the rest are
    # kept (right iff kept_right); prefix and suffix sums price every candidate at once.
    reject_prefix = np.concatenate([[0], np.cumsum(rejected[order])])
    right_suffix = np.concatenate([np.cumsum(kept_right[order][::-1])[::-1], [0]])
    candidates = np.unique(np.concatenate([[0.0], oof.confidence, [1.0]]))
    below = np.searchsorted(conf_sorted, candidates, side="left")
    score = reject_prefix[below] + right_suffix[below]
    tied = candidates[score == score.max()]
    return float((tied.min() + tied.max()) / 2)


def precision_threshold(oof: OutOfFold, *, precision: float) -> float:
    """The lowest confidence at which the cases kept are right at least ``precision`` of the time.

    For routing without out-of-scope examples: everything below goes to triage with its top-3
    suggestions. Returns 1.0 (everything to triage) when no threshold reaches the precision.
    """
    right = np.array([p == label for p, label in zip(oof.predicted, oof.labels, strict=True)])
    order = np.argsort(-oof.confidence, kind="stable")
    conf_sorted, right_sorted = oof.confidence[order], right[order]
    kept_precision = np.cumsum(right_sorted) / np.arange(1, len(right_sorted) + 1)
    # Keeping the k most confident rows is possible only at a threshold equal to the k-th
    # confidence; it must also keep every row tied with it.
    best = 1.0
    for k in range(len(conf_sorted)):
        if k + 1 < len(conf_sorted) and conf_sorted[k + 1] == conf_sorted[k]:
            continue
        if kept_precision[k] >= precision:
            best = float(conf_sorted[k])
    return best
