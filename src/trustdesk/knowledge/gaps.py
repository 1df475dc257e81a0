"""FAQ and gap mining: what customers ask, grouped, and whether self-help answers it.

The question of a case is its first customer message (the subject when there is none): what the
customer wrote, not the subject, which forms usually fill from a menu (in the demo it names the
topic outright, and clustering it would only echo the menu back). Cases opened in the window
(``days`` up to ``now``), optionally of one market and one language, are mined; internal requests
are staff, not customers, and are left out, as are merged cases.

1. **Features**, per language (a model trained on English does not place a Spanish and an English
   question near each other): sentence embeddings (:mod:`trustdesk.text.embeddings`) for the
   languages the model was trained on (``search.Params.dense_languages``) when the extra is
   installed, cached per text in the process; else TF-IDF of words (1-2) and character n-grams
   (3-5, within words) with digits dropped (order numbers and amounts say nothing about the
   question).
2. **Clusters**: agglomerative clustering, average linkage on cosine distances, merging while
   the mean distance between two groups stays under a threshold; the number of clusters follows
   from the data. Then a few rounds of nearest-centroid reassignment (spherical k-means started
   from the clusters big enough to matter), which folds the small fragments into their topic;
   what stays in a cluster smaller than ``min_size`` (or ``min_share`` of the cases) is
   "unclustered". Chosen by measurement (``bench/gaps.py --compare``: the demo's 28 days, its
   1,500 sampled English questions, adjusted Rand index against the true topics): average
   linkage cut at 0.5 scores 0.69 (0.69 with the reassignment, in 48 clusters instead of 70);
   cut at 0.4 or 0.6, 0.61 and 0.52; complete linkage at best 0.59; Ward 0.64; HDBSCAN
   (``min_cluster_size`` 5-20) 0.07-0.53 while leaving 17-29% as noise, in eight times the time.
   On all 3,918 English questions of the window: average 0.70, HDBSCAN 0.24-0.35 in 8-9 s.
   TF-IDF needs a looser cut (0.9: 0.58 on the same questions).
3. **Labels**: the top terms of each cluster by class-based TF-IDF (c-TF-IDF: a term's share of
   the cluster's questions times ``log(1 + mean terms per cluster / the term's frequency in all
   clusters)``), words and two-word phrases without stopwords or digits; the representative
   question is the medoid (the member nearest the centroid, which for unit vectors is the one
   with the greatest summed cosine similarity to the others).
4. **Growth**: the previous window of equal length is assigned to the same centroids (the same
   floor of similarity), so the two counts are measured alike. ``growth = (size - previous) /
   previous``; ``None`` for a cluster with nothing before (new).
5. **Self-help**: the knowledge search (:func:`trustdesk.knowledge.index.search`, exactly as the
   bot asks it, in each case's own language and market) is asked the ``probes`` questions of
   the cluster most like its centre (the medoid first, then members spread over the central 80%).
   A question is answered when the first hit's confidence reaches ``kb_answer_threshold``. A
   cluster is a **gap** when fewer than ``gap_below`` of its probes are answered (no confident
   article for most of it); an **ineffective article** when an article answers it yet the
   cluster still brings at least ``ineffective_share`` of the window's cases (and
   ``ineffective_min`` cases); **covered** otherwise.
6. **Ranking**: gaps, then ineffective articles, then covered; within each by ``weight = size +
   max(0, size - previous)`` (volume, plus what it grew by), for gaps times the share of probes
   left unanswered (the cases self-help misses).

Large windows are sampled: at most ``max_cases`` cases of the window (``max_previous`` of the
previous one) are mined, chosen by a keyed hash of the case id (the same cases on every reload),
and the counts scaled up; the report says so. Embedding is the cost that grows with the cases;
clustering compares at most ``max_cluster`` questions per language pairwise, the rest are
assigned to the centroids.
"""

from __future__ import annotations

import hashlib
import itertools
import math
import re
import statistics
import threading
import time
from collections import Counter, OrderedDict
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from enum import StrEnum
from typing import Any, TypeAlias

import numpy as np
import numpy.typing as npt
from scipy.sparse import csr_matrix, hstack
from sklearn.cluster import AgglomerativeClustering
from sklearn.feature_extraction.text import TfidfVectorizer
from sklearn.metrics.pairwise import cosine_distances
from sklearn.preprocessing import normalize
from sqlalchemy import ColumnElement, func, select
from sqlalchemy.orm import Session

from trustdesk.cases.models import AuthorType, Case, Channel, Message
from trustdesk.core.errors import Invalid
from trustdesk.directory import service as directory
from trustdesk.directory.models import Market
from trustdesk.knowledge import index
from trustdesk.knowledge.models import KbArticle
from trustdesk.knowledge.search import Params as SearchParams
from trustdesk.knowledge.search import base_language, fold, words
from trustdesk.text.embeddings import Embedder

FloatArray = npt.NDArray[np.float64]
IntArray = npt.NDArray[np.int_]
Features: TypeAlias = FloatArray | csr_matrix

MAX_DAYS = 365
LANGUAGE = re.compile(r"^[a-z]{2,3}(-[A-Z]{2})?$")
TFIDF = "tf-idf"
_DIGITS = re.compile(r"\S*\d\S*")
_TERM = re.compile(r"\w+")
# The search module has stopwords for English and Spanish; labels in Indonesian need a few too.
_INDONESIAN_STOPWORDS = """
    saya aku kamu anda kami kita dia mereka ini itu yang di ke dari dan atau tapi untuk dengan pada
    ada adalah akan sudah belum tidak bukan bisa dapat mau ingin tolong mohon bagaimana kapan kenapa
    mengapa apa apakah mana berapa siapa juga lagi masih hanya sangat sekali sama karena jadi kalau
    jika agar supaya oleh sebagai saat setelah sebelum sejak hari halo hai terima kasih ya nya
"""
# Words too common in questions to name one, which the search's shorter lists keep.
_ENGLISH_FILLERS = """one anyway anything something someone somebody while still already really thing things way yet
    hasnt doesnt didnt isnt wasnt wont havent arent werent couldnt wouldnt shouldnt"""
_EXTRA_STOPWORDS = {"id": frozenset(_INDONESIAN_STOPWORDS.split()), "en": frozenset(_ENGLISH_FILLERS.split())}


class Verdict(StrEnum):
    GAP = "gap"  # no confident article for most of the cluster
    INEFFECTIVE = "ineffective"  # a confident article exists, yet the cases keep coming
    COVERED = "covered"


VERDICT_ORDER = {Verdict.GAP: 0, Verdict.INEFFECTIVE: 1, Verdict.COVERED: 2}


@dataclass(frozen=True)
class Params:
    dense_threshold: float = 0.5  # cosine distance where average linkage stops merging (embeddings)
    sparse_threshold: float = 0.9  # the same for TF-IDF, whose vectors are farther apart
    dense_floor: float = 0.35  # least cosine to a centroid to join its cluster (embeddings)
    sparse_floor: float = 0.1  # the same for TF-IDF
    refine_rounds: int = 3
    min_size: int = 3
    min_share: float = 0.003  # a cluster holds at least this share of its language's cases
    max_cases: int = 2500  # of the window, mined; beyond, a stable sample and scaled counts
    max_previous: int = 1000  # of the previous window, for growth
    max_cluster: int = 3000  # per language compared pairwise; the rest join the centroids
    max_chars: int = 500  # of each question shown, labelled and searched (the question comes first)
    embed_chars: int = 256  # of each question embedded: the cost of a vector grows with its length
    probes: int = 5  # questions per cluster asked to the knowledge search
    gap_below: float = 0.5
    ineffective_share: float = 0.02
    ineffective_min: int = 5
    terms: int = 5
    samples: int = 5
    sample_salt: str = "trustdesk-gaps"
    judged: int | None = None  # ask the search about only the N largest clusters (a report showing a few)


@dataclass(frozen=True)
class Question:
    """A case's first customer message, with what the search needs to ask it as the customer would."""

    case_id: int
    reference: str
    created_at: datetime
    market: str
    market_language: str
    language: str
    text: str


@dataclass(frozen=True)
class ArticleMatch:
    key: str
    title: str
    locale: str
    confidence: float  # median over the probes that found it
    confident: bool  # it answers most of the cluster at the threshold


@dataclass(frozen=True)
class SampleCase:
    case_id: int
    reference: str
    text: str


@dataclass(frozen=True)
class Cluster:
    verdict: Verdict
    language: str
    size: int  # cases in the window (scaled when the window was sampled)
    previous: int  # cases of the previous window nearest to this cluster (scaled likewise)
    growth: float | None  # (size - previous) / previous; None when previous is 0
    score: float  # what the ranking sorts by within a verdict
    terms: tuple[str, ...]
    question: str  # the medoid's text
    samples: tuple[SampleCase, ...]
    article: ArticleMatch | None  # the best article the probes found (confident or not)
    answered: float  # share of the probes answered confidently
    probes: int
    markets: tuple[tuple[str, int], ...]  # most first
    languages: tuple[tuple[str, int], ...]
    members: tuple[int, ...] = field(repr=False)  # case ids in the window (of the sample when sampled)

    @property
    def is_new(self) -> bool:
        return self.previous == 0


@dataclass(frozen=True)
class Report:
    since: datetime
    until: datetime
    previous_since: datetime
    days: int
    market: str | None
    language: str | None
    threshold: float
    cases: int  # in the window
    mined: int  # of them, mined (all unless sampled)
    previous_cases: int
    unclustered: int  # scaled like the sizes
    methods: dict[str, str]  # language -> the embedding model or "tf-idf"
    clusters: tuple[Cluster, ...]
    seconds: float

    @property
    def sampled(self) -> bool:
        return self.mined < self.cases

    def as_dict(self) -> dict[str, Any]:
        return {
            "since": self.since.isoformat(), "until": self.until.isoformat(),
            "previous_since": self.previous_since.isoformat(), "days": self.days, "market": self.market,
            "language": self.language, "threshold": self.threshold, "cases": self.cases, "mined": self.mined,
            "previous_cases": self.previous_cases, "unclustered": self.unclustered, "methods": self.methods,
            "seconds": round(self.seconds, 3),
            "clusters": [{
                "rank": rank, "verdict": c.verdict.value, "language": c.language, "size": c.size,
                "previous": c.previous, "growth": None if c.growth is None else round(c.growth, 4),
                "score": round(c.score, 2), "terms": list(c.terms), "question": c.question,
                "samples": [{"case_id": s.case_id, "reference": s.reference, "text": s.text} for s in c.samples],
                "article": None if c.article is None else {
                    "key": c.article.key, "title": c.article.title, "locale": c.article.locale,
                    "confidence": round(c.article.confidence, 4), "confident": c.article.confident},
                "answered": round(c.answered, 4), "probes": c.probes,
                "markets": dict(c.markets), "languages": dict(c.languages),
            } for rank, c in enumerate(self.clusters, start=1)],
        }


# ---------------------------------------------------------------------------- the service


def check_filters(*, days: int, language: str | None) -> None:
    if not 1 <= days <= MAX_DAYS:
        raise Invalid(f"a window of 1 to {MAX_DAYS} days", field="days")
    if language is not None and not LANGUAGE.match(language):
        raise Invalid("a language code such as en or es-MX", field="language")


def mine(session: Session, *, now: datetime, days: int = 28, market: str | None = None,
         language: str | None = None, threshold: float, scope: ColumnElement[bool] | None = None,
         embedder: Embedder | None = None, params: Params | None = None) -> Report:
    """The clusters of what customers asked in the ``days`` before ``now``, ranked (see the module
    docstring). ``scope`` limits the cases to those an actor may see (``cases.access.scope_for``);
    ``embedder`` is the sentence embedder (``None``: TF-IDF for every language)."""
    started = time.perf_counter()
    params = params or Params()
    check_filters(days=days, language=language)
    if market is not None:
        market = directory.market_by_code(session, market.strip().upper()).code
    since, previous_since = now - timedelta(days=days), now - timedelta(days=2 * days)
    current = questions(session, since=since, until=now, market=market, language=language, scope=scope)
    previous = questions(session, since=previous_since, until=since, market=market, language=language,
                         scope=scope)
    mined = sample_questions(current, params.max_cases, params.sample_salt)
    previous_mined = sample_questions(previous, params.max_previous, params.sample_salt)
    scale = len(current) / len(mined) if mined else 1.0
    previous_scale = len(previous) / len(previous_mined) if previous_mined else 1.0
    groups = mine_questions(mined, previous_mined, embedder=embedder, params=params)
    clustered = sum(len(group.members) for group in groups)
    if params.judged is not None:  # the search is the costly part: judge the largest groups only
        groups = sorted(groups, key=lambda g: -len(g.members))[:params.judged]
    clusters = [_judge(session, group, scale=scale, previous_scale=previous_scale, total=len(current),
                       threshold=threshold, params=params) for group in groups]
    clusters.sort(key=lambda c: (VERDICT_ORDER[c.verdict], -c.score, -c.size, c.question))
    return Report(since=since, until=now, previous_since=previous_since, days=days, market=market,
                  language=language, threshold=threshold, cases=len(current), mined=len(mined),
                  previous_cases=len(previous), unclustered=round((len(mined) - clustered) * scale),
                  methods=_methods(mined, embedder),
                  clusters=tuple(clusters), seconds=time.perf_counter() - started)


def questions(session: Session, *, since: datetime, until: datetime, market: str | None = None,
              language: str | None = None, scope: ColumnElement[bool] | None = None) -> list[Question]:
    """The first customer message of every case opened in [since, until), oldest first."""
    window = (Case.created_at >= since, Case.created_at < until)
    first = (select(Message.case_id, func.min(Message.id).label("message_id"))
             .join(Case, Case.id == Message.case_id)
             .where(Message.author_type == AuthorType.CUSTOMER.value, *window)
             .group_by(Message.case_id).subquery())
    query = (select(Case.id, Case.reference, Case.created_at, Case.language, Case.subject, Market.code,
                    Market.default_language, Message.body)
             .join(first, first.c.case_id == Case.id)
             .join(Message, Message.id == first.c.message_id)
             .join(Market, Market.id == Case.market_id)
             .where(*window, Case.merged_into_id.is_(None), Case.channel != Channel.INTERNAL_FORM.value))
    if market is not None:
        query = query.where(Market.code == market)
    if language is not None:
        query = query.where((Case.language == language) | Case.language.like(f"{language}-%"))
    if scope is not None:
        query = query.where(scope)
    out = []
    for case_id, reference, created_at, case_language, subject, code, market_language, body in session.execute(
            query.order_by(Case.created_at, Case.id)):
        text = " ".join((body or "").split()) or " ".join(subject.split())
        if text:
            out.append(Question(case_id=case_id, reference=reference or str(case_id), created_at=created_at,
                                market=code, market_language=market_language, language=case_language, text=text))
    return out


def sample_questions(items: list[Question], limit: int, salt: str) -> list[Question]:
    """All of them, or ``limit`` chosen by a keyed hash of the case id: the same cases on every
    reload, and mostly the same as new cases arrive."""
    if len(items) <= limit:
        return items
    def rank(q: Question) -> bytes:
        return hashlib.sha256(f"{salt}:{q.case_id}".encode()).digest()
    chosen = sorted(items, key=rank)[:limit]
    return sorted(chosen, key=lambda q: (q.created_at, q.case_id))


def _methods(items: Sequence[Question], embedder: Embedder | None) -> dict[str, str]:
    return {lang: _method(lang, embedder) for lang in sorted({base_language(q.language) for q in items})}


def _method(language: str, embedder: Embedder | None) -> str:
    return embedder.name if embedder is not None and language in SearchParams().dense_languages else TFIDF


# ---------------------------------------------------------------------------- mining (no database)


@dataclass(frozen=True)
class Group:
    """One cluster before it is judged: its members (best first), the previous window's count."""

    language: str
    method: str
    members: tuple[Question, ...]  # most central first; members[0] is the medoid
    previous: int
    terms: tuple[str, ...]


def mine_questions(current: Sequence[Question], previous: Sequence[Question] = (), *,
                   embedder: Embedder | None, params: Params | None = None) -> list[Group]:
    """Cluster ``current`` per language, label the clusters, count ``previous`` against them."""
    params = params or Params()
    by_language: dict[str, list[Question]] = {}
    for q in current:
        by_language.setdefault(base_language(q.language), []).append(q)
    before: dict[str, list[Question]] = {}
    for q in previous:
        before.setdefault(base_language(q.language), []).append(q)
    groups: list[Group] = []
    for language in sorted(by_language):
        groups.extend(_mine_language(language, by_language[language], before.get(language, []),
                                     embedder=embedder, params=params))
    return groups


def _mine_language(language: str, items: list[Question], previous: list[Question], *,
                   embedder: Embedder | None, params: Params) -> list[Group]:
    min_size = max(params.min_size, math.ceil(params.min_share * len(items)))
    if len(items) < min_size:
        return []
    method = _method(language, embedder)
    dense = embedder is not None and method != TFIDF
    featurize = _dense(embedder, params) if embedder is not None and dense else _sparse(params)
    vectors, transform = featurize([q.text for q in items])
    labels, centroids = cluster(vectors, threshold=params.dense_threshold if dense else params.sparse_threshold,
                                floor=params.dense_floor if dense else params.sparse_floor,
                                min_size=min_size, params=params)
    if not len(centroids):
        return []
    previous_counts = np.zeros(len(centroids), dtype=np.int_)
    if previous:
        earlier = _nearest(transform([q.text for q in previous]), centroids,
                           params.dense_floor if dense else params.sparse_floor)
        previous_counts = np.bincount(earlier[earlier >= 0], minlength=len(centroids))
    similarity = _to_dense(vectors @ centroids.T)
    members = []
    for k in range(len(centroids)):
        rows = np.flatnonzero(labels == k)
        order = rows[np.argsort(-similarity[rows, k], kind="stable")]
        members.append(order)
    terms = label_terms([[items[i].text for i in rows] for rows in members], language, top=params.terms)
    return [Group(language=language, method=method, members=tuple(items[i] for i in rows),
                  previous=int(previous_counts[k]), terms=terms[k]) for k, rows in enumerate(members)]


def cluster(vectors: Features, *, threshold: float, floor: float, min_size: int,
            params: Params | None = None) -> tuple[IntArray, FloatArray]:
    """Labels (``-1``: unclustered) and unit centroids: average-linkage agglomerative clustering on
    cosine distances cut at ``threshold``, then nearest-centroid rounds from the clusters of at
    least ``min_size``; a row joins a centroid only with a cosine of at least ``floor``."""
    params = params or Params()
    n = vectors.shape[0]
    if n < max(2, min_size):
        return np.full(n, -1, dtype=np.int_), np.zeros((0, vectors.shape[1]))
    # Pairwise distances cost n^2: compare a spread of rows (every k-th, the rows are in time order).
    step = max(1, math.ceil(n / params.max_cluster))
    compared = np.arange(0, n, step)
    distances = np.clip(cosine_distances(vectors[compared]), 0.0, 2.0)
    merged = AgglomerativeClustering(n_clusters=None, distance_threshold=threshold, metric="precomputed",
                                     linkage="average").fit(distances).labels_
    ids, counts = np.unique(merged, return_counts=True)
    seeds = [k for k, count in zip(ids, counts, strict=True) if count * step >= min_size]
    if not seeds:
        return np.full(n, -1, dtype=np.int_), np.zeros((0, vectors.shape[1]))
    centroids = _unit(np.vstack([_mean(vectors[compared[merged == k]]) for k in seeds]))
    labels = _nearest(vectors, centroids, floor)
    for _ in range(params.refine_rounds):
        centroids = _unit(np.vstack([_mean(vectors[labels == k]) if np.any(labels == k) else centroids[k:k + 1]
                                     for k in range(len(centroids))]))
        labels = _nearest(vectors, centroids, floor)
    # Clusters left too small are not a question many ask: their rows are unclustered.
    sizes = np.bincount(labels[labels >= 0], minlength=len(centroids))
    kept = np.flatnonzero(sizes >= min_size)
    if not len(kept):
        return np.full(n, -1, dtype=np.int_), np.zeros((0, vectors.shape[1]))
    remap = np.full(len(centroids), -1, dtype=np.int_)
    remap[kept] = np.arange(len(kept))
    labels = np.where(labels >= 0, remap[np.maximum(labels, 0)], -1)
    centroids = _unit(np.vstack([_mean(vectors[labels == k]) for k in range(len(kept))]))
    return labels.astype(np.int_), centroids


def _nearest(vectors: Features, centroids: FloatArray, floor: float) -> IntArray:
    similarity = _to_dense(vectors @ centroids.T)
    best = similarity.argmax(axis=1)
    return np.where(similarity[np.arange(len(best)), best] >= floor, best, -1).astype(np.int_)


def _mean(rows: Features) -> FloatArray:
    return np.asarray(rows.mean(axis=0), dtype=np.float64).reshape(1, -1)


def _unit(matrix: FloatArray) -> FloatArray:
    return np.asarray(normalize(matrix), dtype=np.float64)


def _to_dense(matrix: Any) -> FloatArray:
    return np.asarray(matrix.toarray() if hasattr(matrix, "toarray") else matrix, dtype=np.float64)


Featurizer = Callable[[list[str]], tuple[Features, Callable[[list[str]], Features]]]


def _dense(embedder: Embedder, params: Params) -> Featurizer:
    def encode(texts: list[str]) -> FloatArray:
        return vectors_of(embedder, [text[:params.embed_chars] for text in texts])

    def fit(texts: list[str]) -> tuple[Features, Callable[[list[str]], Features]]:
        return encode(texts), encode
    return fit


def _sparse(params: Params) -> Featurizer:
    def fit(texts: list[str]) -> tuple[Features, Callable[[list[str]], Features]]:
        cleaned = [_DIGITS.sub(" ", text[:params.max_chars].casefold()) for text in texts]
        word = TfidfVectorizer(ngram_range=(1, 2), sublinear_tf=True, dtype=np.float64)
        char = TfidfVectorizer(analyzer="char_wb", ngram_range=(3, 5), sublinear_tf=True, dtype=np.float64)
        try:
            matrix = hstack([word.fit_transform(cleaned), char.fit_transform(cleaned)]).tocsr()
        except ValueError:  # nothing but digits and blanks: no vocabulary
            return csr_matrix((len(texts), 1), dtype=np.float64), lambda more: csr_matrix((len(more), 1))

        def transform(more: list[str]) -> Features:
            again = [_DIGITS.sub(" ", text[:params.max_chars].casefold()) for text in more]
            return csr_matrix(normalize(hstack([word.transform(again), char.transform(again)]).tocsr()))
        return csr_matrix(normalize(matrix)), transform
    return fit


# ---------------------------------------------------------------------------- embeddings, cached


class _VectorCache:
    """Sentence vectors by (model, text), least recently used out first: mining the same window
    again (another filter, a reload) embeds only the new questions."""

    def __init__(self, capacity: int) -> None:
        self.capacity = capacity
        self._vectors: OrderedDict[tuple[str, str], npt.NDArray[np.float32]] = OrderedDict()
        self._lock = threading.Lock()

    def vectors(self, embedder: Embedder, texts: Sequence[str]) -> FloatArray:
        if not texts:
            return np.zeros((0, embedder.dimensions))
        with self._lock:
            found = {t: v for t in set(texts) if (v := self._vectors.get((embedder.name, t))) is not None}
            for text in found:
                self._vectors.move_to_end((embedder.name, text))
        missing = [t for t in dict.fromkeys(texts) if t not in found]
        if missing:
            found.update(zip(missing, embedder.encode(missing), strict=True))
            with self._lock:
                for text in missing:
                    self._vectors[(embedder.name, text)] = found[text]
                while len(self._vectors) > self.capacity:
                    self._vectors.popitem(last=False)
        return np.vstack([found[t] for t in texts]).astype(np.float64)

    def clear(self) -> None:
        with self._lock:
            self._vectors.clear()


_cache = _VectorCache(capacity=40_000)  # about 60 MB of 384-float vectors


def vectors_of(embedder: Embedder, texts: Sequence[str]) -> FloatArray:
    """Unit sentence vectors of ``texts`` (float64), from the process's cache where it has them."""
    return _cache.vectors(embedder, texts)


# ---------------------------------------------------------------------------- labels


def _stopwords(language: str) -> Callable[[str], bool]:
    extra = _EXTRA_STOPWORDS.get(language, frozenset())
    memo: dict[str, bool] = {}

    def is_stop(token: str) -> bool:
        if token not in memo:
            folded = fold(token)
            memo[token] = folded in extra or not words(folded, language) or any(ch.isdigit() for ch in token)
        return memo[token]
    return is_stop


def _terms_of(text: str, is_stop: Callable[[str], bool]) -> set[str]:
    # "hasn't" is one word (hasnt), not "hasn" and "t".
    plain = _DIGITS.sub(" ", text.casefold()).replace("'", "").replace("\u2019", "")
    tokens = [t for t in _TERM.findall(plain) if len(t) > 1]
    content = [t for t in tokens if not is_stop(t)]
    out = set(content)
    for a, b in itertools.pairwise(tokens):
        if not is_stop(a) and not is_stop(b) and a != b:
            out.add(f"{a} {b}")
    return out


def label_terms(clusters: Sequence[Sequence[str]], language: str, *, top: int = 5) -> list[tuple[str, ...]]:
    """The top terms of each cluster by c-TF-IDF: a term's share of the cluster's questions, times
    ``log(1 + A / f)`` with ``A`` the mean number of terms per cluster and ``f`` the term's count
    over all clusters. A word is skipped when a chosen phrase already holds it, and a phrase when
    both its words are chosen."""
    is_stop = _stopwords(language)
    counts: list[Counter[str]] = []
    for texts in clusters:
        counter: Counter[str] = Counter()
        for text in texts:
            counter.update(_terms_of(text, is_stop))
        counts.append(counter)
    totals: Counter[str] = Counter()
    for counter in counts:
        totals.update(counter)
    average = sum(totals.values()) / max(1, len(counts))
    out: list[tuple[str, ...]] = []
    for texts, counter in zip(clusters, counts, strict=True):
        size = max(1, len(texts))
        least = 2 if size >= 4 else 1  # a word one question used is not the cluster's
        scored = sorted(((share * math.log(1 + average / totals[term]), term)
                         for term, n in counter.items() if n >= least for share in (n / size,)),
                        key=lambda pair: (-pair[0], pair[1]))
        chosen: list[str] = []
        for _score, term in scored:
            parts = term.split(" ")
            if len(parts) == 1 and any(term in c.split(" ") for c in chosen if " " in c):
                continue
            if len(parts) == 2 and all(p in chosen for p in parts):
                continue
            chosen = [c for c in chosen if not (len(parts) == 2 and c in parts)] + [term]
            if len(chosen) == top:
                break
        out.append(tuple(chosen))
    return out


# ---------------------------------------------------------------------------- judging


def _probe_rows(count: int, probes: int) -> list[int]:
    """The medoid, then rows spread over the most central 80% of the members."""
    if count <= probes:
        return list(range(count))
    span = max(probes, math.ceil(0.8 * count)) - 1
    return sorted({round(i * span / (probes - 1)) for i in range(probes)})


@dataclass(frozen=True)
class _Answer:
    """What the search answered one question: its first hit (article, title, locale, confidence)."""

    key: str
    title: str
    locale: str
    confidence: float


class _AnswerCache:
    """The search's first hit by question, for one state of the help center: mining again (a reload,
    another filter, the next day) asks the search only the new questions. It empties itself when what
    the search can answer changes: the index (rebuilt whenever something is published or retired) or
    an article's visibility (active, markets)."""

    def __init__(self, capacity: int) -> None:
        self.capacity = capacity
        self._state: tuple[object, tuple[Any, ...]] | None = None
        self._answers: OrderedDict[tuple[str, str, str, str], _Answer | None] = OrderedDict()
        self._lock = threading.Lock()

    def ask(self, session: Session, questions: Sequence[Question], *, max_chars: int) -> list[_Answer | None]:
        built = index.current(session)
        visibility = tuple((article_id, active, tuple(markets or ()), str(updated))
                           for article_id, active, markets, updated in session.execute(
                               select(KbArticle.id, KbArticle.is_active, KbArticle.markets, KbArticle.updated_at)
                               .order_by(KbArticle.id)))
        with self._lock:
            if self._state is None or self._state[0] is not built or self._state[1] != visibility:
                self._state = (built, visibility)
                self._answers.clear()
        out: list[_Answer | None] = []
        for q in questions:
            text = q.text[:max_chars]
            key = (text, q.language, q.market, q.market_language)
            with self._lock:
                cached = key in self._answers
                answer = self._answers.get(key)
            if not cached:
                found = index.search(session, text, locale=q.language, market=q.market,
                                     market_default=q.market_language, k=1)
                answer = (_Answer(found[0].hit.key, found[0].shown.version.title, found[0].shown.version.locale,
                                  found[0].hit.confidence) if found else None)
                with self._lock:
                    self._answers[key] = answer
                    while len(self._answers) > self.capacity:
                        self._answers.popitem(last=False)
            out.append(answer)
        return out

    def clear(self) -> None:
        with self._lock:
            self._state = None
            self._answers.clear()


_answers = _AnswerCache(capacity=20_000)


def clear_caches() -> None:
    """Forget the cached sentence vectors and search answers (a benchmark's cold start)."""
    _cache.clear()
    _answers.clear()


def _judge(session: Session, group: Group, *, scale: float, previous_scale: float, total: int, threshold: float,
           params: Params) -> Cluster:
    asked = [group.members[row] for row in _probe_rows(len(group.members), params.probes)]
    hits = [hit for hit in _answers.ask(session, asked, max_chars=params.max_chars) if hit is not None]
    answered = [hit for hit in hits if hit.confidence >= threshold]
    share = len(answered) / len(asked) if asked else 0.0
    confident = share >= params.gap_below
    # The article that answers the cluster; for a gap, the one the search comes closest with.
    article = _article(answered if confident else hits, confident=confident)
    size = round(len(group.members) * scale)
    previous = round(group.previous * previous_scale)
    if not confident:
        verdict = Verdict.GAP
    elif size >= max(params.ineffective_min, params.ineffective_share * total):
        verdict = Verdict.INEFFECTIVE
    else:
        verdict = Verdict.COVERED
    weight = size + max(0, size - previous)
    score = weight * (1.0 - share) if verdict is Verdict.GAP else float(weight)
    return Cluster(
        verdict=verdict, language=group.language, size=size, previous=previous,
        growth=(size - previous) / previous if previous else None, score=score, terms=group.terms,
        question=group.members[0].text[:params.max_chars],
        samples=tuple(SampleCase(q.case_id, q.reference, q.text[:params.max_chars])
                      for q in group.members[:params.samples]),
        article=article, answered=share, probes=len(asked),
        markets=tuple(Counter(q.market for q in group.members).most_common()),
        languages=tuple(Counter(q.language for q in group.members).most_common()),
        members=tuple(q.case_id for q in group.members))


def _article(hits: Sequence[_Answer], *, confident: bool) -> ArticleMatch | None:
    """The article found most often (ties: the more confident), with its median confidence."""
    if not hits:
        return None
    by_key: dict[str, list[_Answer]] = {}
    for hit in hits:
        by_key.setdefault(hit.key, []).append(hit)
    key, same = max(by_key.items(), key=lambda pair: (len(pair[1]), statistics.median(h.confidence for h in pair[1]),
                                                      pair[0]))
    return ArticleMatch(key=key, title=same[0].title, locale=same[0].locale,
                        confidence=float(statistics.median(h.confidence for h in same)), confident=confident)
