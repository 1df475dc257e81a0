"""Knowledge-base search: which article answers a customer's question, which paragraph of it to
quote, and how sure we are. Pure (no database): build an :class:`Index` from documents (and,
optionally, example questions), then ask.

Every article of the query's locale gets these scores, each in [0, 1]:

- **BM25** (Okapi, k1 = 1.2, b = 0.75) over the title (counted ``title_repeat`` times) and the
  text, on language-aware tokens: case-folded Unicode words with accents stripped, a short
  stopword list per language and a light plural stemmer. The score is divided by the most the
  query could score (every query word matched, unknown words priced at the highest idf), so it
  means the same for a two-word and a twenty-word question.
- **Character n-grams** (TF-IDF of 3-5-grams within words, cosine) of the title and text:
  tolerate typos and word forms the stemmer misses.
- **Sentence embeddings** (cosine with the title and the title plus direct answer) from
  :func:`trustdesk.text.embeddings.embedder`, when the ``embeddings`` extra is installed and the
  locale's language is one the model was trained on (English): paraphrases with no word in common.
- **Example questions**: the mean of the ``example_top`` best similarities (character n-grams
  and, when available, embeddings) between the query and the questions the article is known to
  answer: its title, plus the :class:`Example` questions given to :meth:`Index.build` (editors'
  "also asked as", or past customer questions the article resolved). Articles describe; customers
  ask in other words, and a few dozen real questions per article close most of that gap.

The fused score is their weighted sum, divided by the sum of the weights in use. ``confidence``
is a logistic function of the top hit's fused score and its margin over the best other article,
fitted per locale by :meth:`Index.calibrate` on questions with known answers (training questions,
never the ones used to measure it; see :class:`Confidence` for the defaults). The weights were
chosen on Bitext training utterances (``bench/kb.py --study``).

The passage is the paragraph of the article that best matches the question, with a head start
for the first paragraph, which the articles write as the direct answer.
"""

from __future__ import annotations

import enum
import math
import re
import unicodedata
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field

import numpy as np
import numpy.typing as npt
from scipy.sparse import csr_matrix
from sklearn.feature_extraction.text import TfidfVectorizer

from trustdesk.text.embeddings import Embedder

FloatArray = npt.NDArray[np.float64]
IntArray = npt.NDArray[np.int_]


class _Auto(enum.Enum):
    AUTO = "auto"


AUTO = _Auto.AUTO  # Index.build(embedder=AUTO): the shared embedder when the extra is installed


# ---------------------------------------------------------------------------- public shapes


@dataclass(frozen=True)
class Document:
    """One article in one language; ``text`` is plain text (the caller strips the Markdown) whose
    paragraphs are separated by blank lines, the first being the direct answer."""

    key: str
    locale: str
    title: str
    text: str


@dataclass(frozen=True)
class Example:
    """A question the article ``key`` is known to answer, in ``locale``."""

    key: str
    locale: str
    text: str


@dataclass(frozen=True)
class Passage:
    index: int  # position among the article's passages; 0 is the direct answer
    text: str

    @property
    def is_direct_answer(self) -> bool:
        return self.index == 0


@dataclass(frozen=True)
class Hit:
    key: str
    locale: str  # the locale of the article found (the fallback's when the query's had none)
    score: float  # the fused score that ranks the hits
    confidence: float  # estimated probability that this article answers the question, in [0, 1]
    passage: Passage


@dataclass(frozen=True)
class Confidence:
    """``confidence = sigmoid(intercept + score_weight * score + margin_weight * margin)`` where
    ``margin`` is the hit's score minus the best score of any other article (negative for every
    hit but the first).

    The defaults are the fit on 3,000 Bitext training utterances against the English articles
    alone (no example questions, no embeddings): the situation of a locale nobody calibrated,
    such as Spanish, whose articles have neither."""

    intercept: float = -1.60
    score_weight: float = 3.36
    margin_weight: float = 8.10

    def __call__(self, score: float, margin: float) -> float:
        z = self.intercept + self.score_weight * score + self.margin_weight * margin
        return 1.0 / (1.0 + math.exp(-max(-50.0, min(50.0, z))))


# The threshold that goes with the default Confidence: the lowest at which at most 5% of the
# answered training utterances were answered wrong in that fit. A calibrated locale gets its own
# (evaluation.choose_threshold).
UNCALIBRATED_THRESHOLD = 0.84


@dataclass(frozen=True)
class Params:
    k1: float = 1.2
    b: float = 0.75
    title_repeat: int = 2
    char_ngrams: tuple[int, int] = (3, 5)
    example_char_ngrams: tuple[int, int] = (2, 5)
    example_top: int = 3
    # Chosen by top-1 on 3,000 Bitext training utterances (bench/kb.py --study): the example
    # questions carry most of the signal; the article's own words break their ties.
    bm25_weight: float = 0.25
    char_weight: float = 0.5
    dense_weight: float = 0.5  # the weights of embeddings apply only where there are embeddings
    example_char_weight: float = 1.0
    example_dense_weight: float = 1.0
    dense_languages: tuple[str, ...] = ("en",)  # all-MiniLM-L6-v2 was trained on English only
    # Within an article, words matter more than for choosing it: BM25, character n-grams and
    # embeddings weigh 1 : 0.5 : 1 there, and the direct answer wins unless another paragraph
    # scores clearly (this fraction) better.
    passage_weights: tuple[float, float, float] = (1.0, 0.5, 1.0)
    first_passage_bonus: float = 0.25
    confidence: Confidence = field(default_factory=Confidence)


# ---------------------------------------------------------------------------- text handling

_ENGLISH_STOPWORDS = """
        a an the and or but if then so of to in on at for with by from about as into than
        is are was were be been being am do does did doing have has had having get got
        i me my mine myself you your yours we our ours us it its this that these those there here
        he she him her his they them their what which who whom whose when where why how
        can could would will shall should may might must
        please pls plz help want wanna need like tell know let ask show
        t s d ll ve re m u ur im id ive dont cant
        any some all just also very much more most not no yes ok okay hi hello hey thanks thank
"""
_SPANISH_STOPWORDS = """
        a al ante con contra de del desde durante e el en entre hacia hasta la las le les lo los
        mediante o para pero por que se sin sobre su sus tras u un una unos unas y ya
        yo me mi mis mio tu tus te ti usted ustedes nos nosotros nuestro nuestra vos
        el ella ellos ellas este esta estos estas ese esa esos esas esto eso aqui alli
        es son ser fue era soy estoy esta estan estar he ha han hay haber tengo tiene tienen
        como cual cuales cuando donde que quien quienes porque cuanto cuanta
        puedo puede pueden podria podrias quiero quisiera necesito favor ayuda ayudar ayudame
        decir dime saber hola gracias muy mas tambien no si algo todo todos
"""  # written without accents: they are compared with folded tokens
_STOPWORDS = {"en": frozenset(_ENGLISH_STOPWORDS.split()), "es": frozenset(_SPANISH_STOPWORDS.split())}
_WORD = re.compile(r"\w+")


def base_language(locale: str) -> str:
    return locale.replace("_", "-").split("-", 1)[0].lower()


def fold(text: str) -> str:
    """Case-folded, accents stripped: ``Devolución`` and ``devolucion`` match."""
    decomposed = unicodedata.normalize("NFKD", text.casefold())
    return "".join(ch for ch in decomposed if not unicodedata.combining(ch))


def _stem(token: str, language: str) -> str:
    """A light plural stemmer: enough to match ``orders``/``order`` and ``direcciones``/``direccion``
    without the over-stemming of a full Porter stemmer on short texts."""
    if len(token) <= 3 or token.isdigit():
        return token
    if language == "en":
        if token.endswith("ies") and len(token) > 4:
            return token[:-3] + "y"
        if token.endswith(("sses", "shes", "ches", "xes")):
            return token[:-2]
        if token.endswith("s") and not token.endswith(("ss", "us", "is")):
            return token[:-1]
        return token
    if language == "es":
        if token.endswith("ces") and len(token) > 4:
            return token[:-3] + "z"
        if token.endswith("es") and len(token) > 4 and token[-3] not in "aeiou":
            return token[:-2]
        if token.endswith("s") and token[-2] in "aeiou":
            return token[:-1]
    return token


def words(text: str, language: str) -> list[str]:
    """Folded word tokens without the language's stopwords (unstemmed)."""
    stop = _STOPWORDS.get(language, frozenset())
    return [t for t in _WORD.findall(fold(text)) if t not in stop and (len(t) > 1 or t.isdigit())]


def tokens(text: str, language: str) -> list[str]:
    """What BM25 matches on: :func:`words`, stemmed."""
    return [_stem(t, language) for t in words(text, language)]


def split_passages(text: str) -> list[str]:
    """Paragraphs (blocks separated by blank lines), each line stripped. A heading (one short line
    without a full stop: "Steps", "Still need help?") or a lead-in ending with a colon joins the
    paragraph after it, so the bot never quotes a bare "Steps" or "To do this:"."""
    blocks = [block.strip() for block in re.split(r"\n\s*\n", text.strip())]
    blocks = ["\n".join(line.strip() for line in block.splitlines() if line.strip()) for block in blocks]
    out: list[str] = []
    carry = ""
    for block in (b for b in blocks if b):
        if carry:
            block = f"{carry}\n{block}"
            carry = ""
        single_line = "\n" not in block
        is_heading = single_line and len(block) <= 80 and not block.endswith((".", "!", "…"))
        if is_heading or block.endswith(":"):
            carry = block
            continue
        out.append(block)
    if carry:
        out.append(carry)
    return out


# ---------------------------------------------------------------------------- the index


@dataclass
class _Bm25:
    vocabulary: dict[str, int]
    idf: FloatArray
    max_idf: float
    documents: csr_matrix  # (documents x vocabulary) term weights; score = documents @ query
    passages: csr_matrix  # (passages x vocabulary), passage-length normalised


@dataclass
class _Examples:
    char: TfidfVectorizer
    char_matrix: csr_matrix  # (examples x n-grams)
    dense: FloatArray | None  # (examples x dimensions)
    slots: IntArray  # (documents x most examples of one document): rows of the examples, padded with -1


@dataclass
class _LocaleIndex:
    locale: str
    language: str
    documents: list[Document]
    passages: list[list[Passage]]
    passage_start: IntArray  # document row -> its first row in the passage matrices
    bm25: _Bm25
    char: TfidfVectorizer
    char_documents: csr_matrix
    char_passages: csr_matrix
    dense_documents: FloatArray | None
    dense_passages: FloatArray | None
    examples: _Examples


@dataclass(frozen=True)
class Signals:
    """The per-article scores of one query (rows in the order of :meth:`Index.keys`), for fusing
    and for studying the fusion (``bench/kb.py --study``)."""

    locale: str
    bm25: FloatArray
    char: FloatArray
    dense: FloatArray | None
    example_char: FloatArray
    example_dense: FloatArray | None


@dataclass(frozen=True)
class _QueryVectors:
    bm25: FloatArray | None
    char: csr_matrix | None
    dense: FloatArray | None


class Index:
    """A search index over documents in one or more locales; build with :meth:`build`. Searching
    never changes it; :meth:`calibrate` replaces the confidence parameters of one locale."""

    def __init__(self, locales: dict[str, _LocaleIndex], params: Params, embedder: Embedder | None) -> None:
        self._locales = locales
        self.params = params
        self.embedder = embedder
        self._confidence: dict[str, Confidence] = {}  # per locale, from calibrate()

    @classmethod
    def build(cls, documents: Iterable[Document], *, examples: Iterable[Example] = (),
              embedder: Embedder | _Auto | None = AUTO, params: Params | None = None) -> Index:
        """``embedder=AUTO`` uses the shared sentence embedder when the extra is installed;
        ``None`` builds without embeddings (character n-grams still give a fuzzy signal).
        ``examples`` must name documents of their locale."""
        params = params or Params()
        if embedder is AUTO:
            from trustdesk.text.embeddings import embedder as shared_embedder

            embedder = shared_embedder()
        by_locale: dict[str, list[Document]] = {}
        seen: set[tuple[str, str]] = set()
        for document in documents:
            if (document.key, document.locale) in seen:
                raise ValueError(f"document {document.key!r} appears twice in locale {document.locale!r}")
            seen.add((document.key, document.locale))
            by_locale.setdefault(document.locale, []).append(document)
        examples_by_locale: dict[str, list[Example]] = {}
        for example in examples:
            if (example.key, example.locale) not in seen:
                raise ValueError(f"example for {example.key!r} in {example.locale!r}: no such document")
            examples_by_locale.setdefault(example.locale, []).append(example)
        locales = {locale: _build_locale(locale, docs, examples_by_locale.get(locale, []), params, embedder)
                   for locale, docs in by_locale.items()}
        return cls(locales, params, embedder)

    @property
    def locales(self) -> list[str]:
        return sorted(self._locales)

    def keys(self, locale: str) -> list[str]:
        index = self._locales.get(locale)
        return [d.key for d in index.documents] if index else []

    def resolve_locale(self, locale: str, fallback_locale: str | None = None) -> str | None:
        """The locale whose documents answer a query in ``locale``: the same locale, else one of
        the same language (``es-MX`` finds ``es``), else the fallback resolved the same way."""
        for wanted in (locale, fallback_locale):
            if not wanted:
                continue
            if wanted in self._locales:
                return wanted
            language = base_language(wanted)
            same_language = sorted(lo for lo in self._locales if base_language(lo) == language)
            if language in same_language:
                return language
            if same_language:
                return same_language[0]
        return None

    # ------------------------------------------------------------ searching

    def search(self, query: str, *, locale: str, fallback_locale: str | None = None, k: int = 3) -> list[Hit]:
        """The ``k`` best articles for ``query``, best first; empty when neither locale has
        documents or the query is blank."""
        resolved = self.resolve_locale(locale, fallback_locale)
        if resolved is None or k <= 0 or not query.strip():
            return []
        index = self._locales[resolved]
        signals, query_vectors = self._signals(index, query)
        fused = self._fuse(signals)
        confidence = self.confidence(resolved)
        order = np.argsort(-fused, kind="stable")
        best, second = fused[order[0]], (fused[order[1]] if len(fused) > 1 else 0.0)
        hits = []
        for row in order[:k]:
            margin = fused[row] - (second if row == order[0] else best)
            hits.append(Hit(key=index.documents[row].key, locale=resolved, score=round(float(fused[row]), 6),
                            confidence=confidence(float(fused[row]), float(margin)),
                            passage=self._best_passage(index, int(row), query_vectors)))
        return hits

    def signals(self, query: str, *, locale: str) -> Signals | None:
        """The separate per-article scores (for calibration and study); ``None`` when no document
        is in ``locale`` or its language."""
        resolved = self.resolve_locale(locale)
        if resolved is None:
            return None
        return self._signals(self._locales[resolved], query)[0]

    def fuse(self, signals: Signals) -> FloatArray:
        """The fused score of every article (rows in the order of :meth:`keys`)."""
        return self._fuse(signals)

    def _signals(self, index: _LocaleIndex, query: str) -> tuple[Signals, _QueryVectors]:
        query_words = words(query, index.language)
        bm25_query = _bm25_query(index.bm25, [_stem(w, index.language) for w in query_words], self.params.k1)
        bm25 = (np.asarray(index.bm25.documents @ bm25_query, dtype=np.float64) if bm25_query is not None
                else np.zeros(len(index.documents)))
        joined = " ".join(query_words)
        char_query = index.char.transform([joined])
        char = cosines(index.char_documents, char_query)
        example_char = _top_mean(cosines(index.examples.char_matrix, index.examples.char.transform([joined])),
                                 index.examples.slots, self.params.example_top)
        dense = example_dense = dense_query = None
        if index.dense_documents is not None and self.embedder is not None:
            dense_query = self.embedder.encode([query])[0].astype(np.float64)
            dense = index.dense_documents @ dense_query
            if index.examples.dense is not None:
                example_dense = _top_mean(index.examples.dense @ dense_query, index.examples.slots,
                                          self.params.example_top)
        signals = Signals(index.locale, bm25, char, dense, example_char, example_dense)
        return signals, _QueryVectors(bm25_query, char_query, dense_query)

    def _fuse(self, signals: Signals) -> FloatArray:
        p = self.params
        parts = [(p.bm25_weight, signals.bm25), (p.char_weight, signals.char),
                 (p.example_char_weight, signals.example_char)]
        if signals.dense is not None:
            parts.append((p.dense_weight, signals.dense))
        if signals.example_dense is not None:
            parts.append((p.example_dense_weight, signals.example_dense))
        total = sum(weight for weight, _ in parts) or 1.0
        return np.asarray(sum(weight * values for weight, values in parts) / total, dtype=np.float64)

    def _best_passage(self, index: _LocaleIndex, row: int, query: _QueryVectors) -> Passage:
        passages = index.passages[row]
        if len(passages) == 1:
            return passages[0]
        rows = slice(int(index.passage_start[row]), int(index.passage_start[row]) + len(passages))
        bm25_weight, char_weight, dense_weight = self.params.passage_weights
        score = np.zeros(len(passages))
        if query.bm25 is not None:
            score += bm25_weight * np.asarray(index.bm25.passages[rows] @ query.bm25)
        if query.char is not None:
            score += char_weight * cosines(index.char_passages[rows], query.char)
        if query.dense is not None and index.dense_passages is not None:
            score += dense_weight * (index.dense_passages[rows] @ query.dense)
        score[0] += self.params.first_passage_bonus * max(float(score.max()), 1e-9)
        return passages[int(np.argmax(score))]

    # ------------------------------------------------------------ calibration

    def confidence(self, locale: str) -> Confidence:
        """The confidence function of the articles in ``locale``: its calibration, else the
        defaults (``Params.confidence``)."""
        return self._confidence.get(locale, self.params.confidence)

    def warm(self, queries: Sequence[str]) -> None:
        """Encode ``queries`` in one batch ahead of searching them one by one (the embedder keeps
        the vectors): for calibrating or evaluating on thousands of questions."""
        if self.embedder is not None and queries:
            self.embedder.encode(list(queries))

    def use_confidence(self, locale: str, confidence: Confidence) -> None:
        """Use ``confidence`` (a stored calibration) for the articles in ``locale``."""
        if locale not in self._locales:
            raise ValueError(f"no documents in {locale!r}")
        self._confidence[locale] = confidence

    def calibrate(self, questions: Sequence[tuple[str, str]], *, locale: str) -> Confidence:
        """Fit the confidence of ``locale``'s articles on questions with known answers
        (``(text, article key)``) asked in that locale, and use it from now on; returns it.

        A locale has its own fit because the signals differ between locales (embeddings only for
        English, example questions only where there are some), so the same fused score does not
        mean the same certainty everywhere. Use questions that are neither examples of the index
        nor the ones the confidence is then measured on."""
        from sklearn.linear_model import LogisticRegression

        resolved = self.resolve_locale(locale)
        if resolved is None:
            raise ValueError(f"no documents in {locale!r} to calibrate")
        keys = self.keys(resolved)
        features, right = [], []
        for text, key in questions:
            signals = self.signals(text, locale=locale)
            if signals is None or not text.strip():
                continue
            fused = self._fuse(signals)
            order = np.argsort(-fused, kind="stable")
            margin = fused[order[0]] - (fused[order[1]] if len(fused) > 1 else 0.0)
            features.append((float(fused[order[0]]), float(margin)))
            right.append(keys[order[0]] == key)
        if len(set(right)) < 2:
            raise ValueError("calibration needs questions answered both right and wrong")
        model = LogisticRegression(C=10.0).fit(np.array(features), np.array(right))
        fitted = Confidence(intercept=float(model.intercept_[0]), score_weight=float(model.coef_[0][0]),
                            margin_weight=float(model.coef_[0][1]))
        self._confidence[resolved] = fitted
        return fitted

    def with_params(self, params: Params) -> Index:
        """The same index scored with other weights or confidence (nothing is rebuilt)."""
        fixed = ("k1", "b", "title_repeat", "char_ngrams", "example_char_ngrams", "dense_languages")
        if any(getattr(params, name) != getattr(self.params, name) for name in fixed):
            raise ValueError(f"{', '.join(fixed)} are fixed when the index is built")
        index = Index(self._locales, params, self.embedder)
        index._confidence = dict(self._confidence)
        return index


def cosines(rows: csr_matrix, query: csr_matrix) -> FloatArray:
    """``rows @ query.T`` as a flat array (TF-IDF rows are L2-normalised: cosines)."""
    return np.asarray((rows @ query.T).toarray(), dtype=np.float64).ravel()


def _top_mean(similarities: FloatArray, slots: IntArray, top: int) -> FloatArray:
    """Per document, the mean of its ``top`` best similarities (of all it has when fewer)."""
    padded = np.append(similarities, -np.inf)[slots]  # slot -1 picks the -inf at the end
    best = padded if padded.shape[1] <= top else np.partition(padded, padded.shape[1] - top, axis=1)[:, -top:]
    present = np.isfinite(best)
    return np.asarray(np.where(present, best, 0.0).sum(axis=1) / np.maximum(present.sum(axis=1), 1),
                      dtype=np.float64)


def _bm25_query(bm25: _Bm25, terms: list[str], k1: float) -> FloatArray | None:
    """The query as a vector over the vocabulary, divided by the most it could score: every
    distinct query term at its idf (the highest idf for terms no document has) times (k1 + 1)."""
    if not terms:
        return None
    vector = np.zeros(len(bm25.vocabulary))
    most = 0.0
    for term in set(terms):
        column = bm25.vocabulary.get(term)
        if column is None:
            most += bm25.max_idf
        else:
            vector[column] = 1.0
            most += float(bm25.idf[column])
    return vector / (most * (k1 + 1.0))


def _build_locale(locale: str, documents: list[Document], examples: list[Example], params: Params,
                  embedder: Embedder | None) -> _LocaleIndex:
    language = base_language(locale)
    passages = []
    for document in documents:
        texts = split_passages(document.text) or [document.title]
        passages.append([Passage(i, text) for i, text in enumerate(texts)])
    flat = [p for group in passages for p in group]
    start = np.concatenate([[0], np.cumsum([len(group) for group in passages])[:-1]]).astype(np.int_)

    fields = [" ".join([d.title] * params.title_repeat + [d.text]) for d in documents]
    bm25 = _build_bm25([tokens(text, language) for text in fields], [tokens(p.text, language) for p in flat],
                       params)
    char = TfidfVectorizer(analyzer="char_wb", ngram_range=params.char_ngrams, sublinear_tf=True,
                           lowercase=False, dtype=np.float64)
    char_documents = char.fit_transform([" ".join(words(text, language)) for text in fields])
    char_passages = char.transform([" ".join(words(p.text, language)) for p in flat])

    use_dense = embedder is not None and language in params.dense_languages
    dense_documents = dense_passages = None
    if embedder is not None and use_dense:
        titles = embedder.encode([d.title for d in documents]).astype(np.float64)
        leads = embedder.encode([f"{d.title}. {group[0].text}"
                                 for d, group in zip(documents, passages, strict=True)]).astype(np.float64)
        dense_documents = _normalised(titles + leads)
        dense_passages = embedder.encode([p.text for p in flat]).astype(np.float64)
    return _LocaleIndex(locale=locale, language=language, documents=documents, passages=passages,
                        passage_start=start, bm25=bm25, char=char, char_documents=char_documents,
                        char_passages=char_passages, dense_documents=dense_documents,
                        dense_passages=dense_passages,
                        examples=_build_examples(documents, examples, language, params,
                                                 embedder if use_dense else None))


def _build_examples(documents: list[Document], examples: list[Example], language: str, params: Params,
                    embedder: Embedder | None) -> _Examples:
    """Every document's title is its first example question."""
    row_of = {d.key: row for row, d in enumerate(documents)}
    texts = [d.title for d in documents] + [e.text for e in examples]
    owners = list(range(len(documents))) + [row_of[e.key] for e in examples]
    rows_of_document: list[list[int]] = [[] for _ in documents]
    for example_row, owner in enumerate(owners):
        rows_of_document[owner].append(example_row)
    widest = max(len(rows) for rows in rows_of_document)
    slots = np.full((len(documents), widest), -1, dtype=np.int_)
    for owner, rows in enumerate(rows_of_document):
        slots[owner, :len(rows)] = rows
    char = TfidfVectorizer(analyzer="char_wb", ngram_range=params.example_char_ngrams, sublinear_tf=True,
                           lowercase=False, dtype=np.float64)
    char_matrix = char.fit_transform([" ".join(words(text, language)) for text in texts])
    dense = embedder.encode(texts).astype(np.float64) if embedder is not None else None
    return _Examples(char=char, char_matrix=char_matrix, dense=dense, slots=slots)


def _normalised(vectors: FloatArray) -> FloatArray:
    return np.asarray(vectors / np.maximum(np.linalg.norm(vectors, axis=1, keepdims=True), 1e-12),
                      dtype=np.float64)


def _build_bm25(document_terms: list[list[str]], passage_terms: list[list[str]], params: Params) -> _Bm25:
    vocabulary: dict[str, int] = {}
    for terms in document_terms:
        for term in terms:
            vocabulary.setdefault(term, len(vocabulary))
    counts = _term_counts(document_terms, vocabulary)
    n = counts.shape[0]
    df = np.asarray((counts > 0).sum(axis=0), dtype=np.float64).ravel()
    idf = np.log1p((n - df + 0.5) / (df + 0.5))
    max_idf = float(math.log1p((n + 0.5) / 0.5))
    return _Bm25(vocabulary=vocabulary, idf=idf, max_idf=max_idf,
                 documents=_bm25_weights(counts, idf, params),
                 passages=_bm25_weights(_term_counts(passage_terms, vocabulary), idf, params))


def _term_counts(rows: list[list[str]], vocabulary: dict[str, int]) -> csr_matrix:
    data: list[int] = []
    indices: list[int] = []
    indptr = [0]
    for terms in rows:
        row: dict[int, int] = {}
        for term in terms:
            column = vocabulary.get(term)
            if column is not None:
                row[column] = row.get(column, 0) + 1
        indices.extend(row)
        data.extend(row.values())
        indptr.append(len(indices))
    return csr_matrix((np.array(data, dtype=np.float64), np.array(indices, dtype=np.int_), np.array(indptr)),
                      shape=(len(rows), len(vocabulary)))


def _bm25_weights(counts: csr_matrix, idf: FloatArray, params: Params) -> csr_matrix:
    """Each (row, term) entry becomes idf * tf * (k1 + 1) / (tf + k1 * (1 - b + b * len / avg len))."""
    lengths = np.asarray(counts.sum(axis=1), dtype=np.float64).ravel()
    average = float(lengths.mean()) if len(lengths) and lengths.mean() > 0 else 1.0
    weights = counts.tocoo(copy=True)
    tf = weights.data
    norm = params.k1 * (1.0 - params.b + params.b * lengths[weights.row] / average)
    weights.data = idf[weights.col] * tf * (params.k1 + 1.0) / (tf + norm)
    return csr_matrix(weights)
