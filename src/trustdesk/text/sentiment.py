"""The sentiment of a customer's message, offline: a score from -1 (negative) to 1 (positive) and a label.

English is VADER (``vaderSentiment``: its lexicon and rules, Hutto & Gilbert 2014), with the words that in a
support request are a request formula, not a feeling, set to 0 ("please", "help", "want", "pay", "number",
"would like"). Spanish and Indonesian
have no offline lexicon of VADER's quality on PyPI, so they are scored by our own lexicons
(``lexicons/es.tsv``, ``lexicons/id.tsv``: customer-service words and phrases, valence -4..+4) with VADER's
rules re-implemented for those languages:

- a word's valence is negated (x -0.74) by a negator in the three tokens before it (es "no, nunca, jamás,
  tampoco, ni, sin, nada, nadie, ningún"; id "tidak, tak, bukan, belum, jangan, tanpa, gak, nggak, ga" and
  their chat spellings), once: Spanish and Indonesian double negatives reinforce, they do not cancel;
- boosters and dampeners before it add or take 0.293 (es "muy, bastante, super, totalmente, poco";
  id "sangat, amat, kurang, agak"), less with distance; Indonesian also boosts after the word ("bagus
  sekali", "kecewa banget"). "poco" and "kurang" right before a positive word negate it ("poco útil",
  "kurang puas" mean not useful, not satisfied);
- after "pero" / "tapi, tetapi, namun" the words count 1.5 times and before it half;
- a word in capitals among words that are not adds 0.733; each "!" (up to four) adds 0.292;
- the sum is normalised as VADER's compound: s / sqrt(s² + 15).

One deviation from VADER: a negator or booster reaches only within its clause (up to , . ; : ! ?), so
"No, gracias" is thanks, not negated thanks.

Labels use VADER's thresholds: positive from 0.05, negative from -0.05, neutral between. A language tag
("es-MX") is scored in its base language. A language with no scorer gets a neutral 0 from model
``"none"``: English VADER on another language would only see the few English words in it, and a
guess dressed as a measurement is worse than none (the feedback service stores nothing for those
languages, so their messages are scored once a lexicon exists).

Pure functions: no database, no network; lexicons load once, on first use.
"""

from __future__ import annotations

import math
import re
import threading
import unicodedata
from collections.abc import Iterable
from dataclasses import dataclass, field
from enum import Enum
from functools import lru_cache
from importlib import metadata
from pathlib import Path
from typing import Any

from trustdesk.text.language import base_language as _base

POSITIVE_FROM = 0.05
NEGATIVE_FROM = -0.05
MAX_CHARS = 5_000  # VADER's cost grows with the square of a text's words; the opening carries the tone
CACHE_CHARS = 300  # short texts recur (templated "Thanks!"): cache their scores
NONE_MODEL = "none"
LEXICON_DIR = Path(__file__).resolve().parent / "lexicons"
LEXICON_VERSION = 1
ENGLISH_VERSION = 1  # of the overrides below, on top of VADER's own lexicon
# In a support message these ask for something; VADER's lexicon (written for social media) scores them
# as warmth: "Please help, I want to pay" would read as positive.
ENGLISH_OVERRIDES: dict[str, float] = {"please": 0.0, "help": 0.0, "want": 0.0, "pay": 0.0, "number": 0.0}
_WOULD_LIKE = re.compile(r"\b(would|i'd|i\u2019d|we'd|we\u2019d)\s+like\b", re.IGNORECASE)

# VADER's empirically derived constants (vaderSentiment 3.3.2).
B_INCR = 0.293
B_DECR = -0.293
C_INCR = 0.733
N_SCALAR = -0.74
ALPHA = 15.0
EXCLAMATION = 0.292
MAX_EXCLAMATIONS = 4
QUESTION = 0.18
QUESTION_FLOOD = 0.96
BUT_BEFORE = 0.5
BUT_AFTER = 1.5
DISTANCE = (1.0, 0.95, 0.9)  # a modifier's weight one, two and three tokens before the word


@dataclass(frozen=True)
class Sentiment:
    score: float  # -1 .. 1 (VADER's compound)
    label: str  # negative, neutral, positive
    model: str  # which scorer and version, e.g. "vader-3.3.2" or "td-lexicon-es-1"


def label_of(score: float) -> str:
    if score >= POSITIVE_FROM:
        return "positive"
    if score <= NEGATIVE_FROM:
        return "negative"
    return "neutral"


def base_language(tag: str) -> str:
    """``"es-MX"``, ``"es_MX"``, ``"ES"`` -> ``"es"``."""
    return _base(tag.strip().replace("_", "-"))


def normalize(total: float, alpha: float = ALPHA) -> float:
    """VADER's compound: the sum of valences squashed into -1 .. 1."""
    return max(-1.0, min(1.0, total / math.sqrt(total * total + alpha)))


# ------------------------------------------------------------------------------------------ language rules


@dataclass(frozen=True)
class Rules:
    """How one language modifies the words of its lexicon (see the module docstring)."""

    negators: frozenset[str]
    boosters: dict[str, float]  # before the word; a negative scalar dampens
    but_words: frozenset[str]
    negating_dampeners: frozenset[str] = frozenset()  # right before a positive word: a negator
    post_boosters: dict[str, float] = field(default_factory=dict)  # after the word
    particles: tuple[str, ...] = ()  # suffixes tried off a word the lexicon lacks


SPANISH = Rules(
    negators=frozenset({"no", "nunca", "jamas", "tampoco", "ni", "sin", "nada", "nadie", "ningun", "ninguno",
                        "ninguna"}),
    boosters={
        **dict.fromkeys(("muy", "bastante", "super", "totalmente", "completamente", "absolutamente", "realmente",
                         "verdaderamente", "extremadamente", "tremendamente", "increiblemente", "sumamente",
                         "demasiado", "tan", "mucho", "muchisimo", "mas", "re", "altamente", "especialmente",
                         "enormemente", "profundamente", "francamente"), B_INCR),
        **dict.fromkeys(("poco", "un poco", "algo", "casi", "apenas", "medio", "ligeramente", "un tanto",
                         "relativamente"), B_DECR),
    },
    but_words=frozenset({"pero", "sin embargo"}),
    negating_dampeners=frozenset({"poco"}),
    post_boosters=dict.fromkeys(("para nada", "en absoluto"), B_INCR),
    particles=("es", "s"),
)

INDONESIAN = Rules(
    negators=frozenset({"tidak", "tak", "bukan", "belum", "jangan", "tanpa", "gak", "nggak", "ga", "enggak",
                        "engga", "ngga", "ndak", "kagak", "tdk", "gk", "blm", "bkn"}),
    boosters={
        **dict.fromkeys(("sangat", "amat", "sungguh", "benar-benar", "bener-bener", "terlalu", "paling", "super",
                         "begitu", "lebih", "makin", "semakin"), B_INCR),
        **dict.fromkeys(("kurang", "agak", "sedikit", "cukup"), B_DECR),
    },
    but_words=frozenset({"tapi", "tetapi", "namun", "tp", "cuma"}),
    negating_dampeners=frozenset({"kurang"}),
    post_boosters=dict.fromkeys(("sekali", "banget", "bgt", "bener", "sama sekali"), B_INCR),
    particles=("nya", "lah", "kah", "pun"),
)

RULES: dict[str, Rules] = {"es": SPANISH, "id": INDONESIAN}
SUPPORTED: tuple[str, ...] = ("en", *RULES)


def supports(language: str) -> bool:
    """Whether messages in ``language`` are scored (by VADER or one of our lexicons)."""
    return base_language(language) in SUPPORTED


# ------------------------------------------------------------------------------------------ tokens

_WORD_OR_MARKS = re.compile(r"[\w'\u2019-]+|[^\w\s]+")
_ELONGATED = re.compile(r"(.)\1{2,}")
CLAUSE_END = frozenset(",.;:!?…")


@lru_cache(maxsize=65_536)
def fold(word: str) -> str:
    """The lookup key of a word: lower case, no accents, letters repeated for effect cut to one."""
    decomposed = unicodedata.normalize("NFD", word.lower())
    plain = "".join(ch for ch in decomposed if not unicodedata.combining(ch))
    return _ELONGATED.sub(r"\1", plain)


class Kind(Enum):
    WORD = "word"  # in the lexicon: has a valence
    NEGATOR = "negator"
    BOOSTER = "booster"
    POST_BOOSTER = "post_booster"
    BUT = "but"
    OTHER = "other"


@dataclass
class Token:
    key: str
    upper: bool  # written in capitals
    clause: int
    kind: Kind = Kind.OTHER
    value: float = 0.0  # the valence of a word, the scalar of a booster


def _raw_tokens(text: str, emoticons: frozenset[str]) -> tuple[list[Token], bool]:
    """Words, emoticons and emoji with their clause number; and whether some but not all words are capitals."""
    tokens: list[Token] = []
    clause = 0
    for chunk in text.split():
        if chunk in emoticons:
            tokens.append(Token(chunk, False, clause))
            continue
        for piece in _WORD_OR_MARKS.findall(chunk):
            if piece[0].isalnum() or piece[0] == "_":
                word = piece.strip("'\u2019-") or piece
                tokens.append(Token(fold(word), word.isupper(), clause))
            elif piece in emoticons:
                tokens.append(Token(piece, False, clause))
            else:
                for ch in piece:
                    key = fold(ch)
                    if key in emoticons:
                        tokens.append(Token(key, False, clause))
                    elif ch in CLAUSE_END:
                        clause += 1
    words = [t for t in tokens if any(ch.isalpha() for ch in t.key)]
    capitals = sum(1 for t in words if t.upper)
    return tokens, 0 < capitals < len(words)


# ------------------------------------------------------------------------------------------ the scorer


def read_lexicon(path: Path) -> dict[str, float]:
    """``word<TAB>valence`` lines (``#`` comments, blank lines skipped), keyed by :func:`fold`."""
    entries: dict[str, float] = {}
    for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1):
        if not line.strip() or line.startswith("#"):
            continue
        try:
            term, valence = line.split("\t")[:2]
            value = float(valence)
        except ValueError as exc:
            raise ValueError(f"{path.name}:{number}: expected 'term<TAB>valence', got {line!r}") from exc
        if not -4.0 <= value <= 4.0:
            raise ValueError(f"{path.name}:{number}: valence {value} is outside -4 .. 4")
        entries[" ".join(fold(part) for part in term.split())] = value
    return entries


class LexiconScorer:
    """VADER's rules over one of our lexicons (see the module docstring)."""

    def __init__(self, entries: dict[str, float], rules: Rules, model: str) -> None:
        self.rules = rules
        self.model = model
        self.words = {k: v for k, v in entries.items() if " " not in k}
        self.emoticons = frozenset(k for k in self.words if not any(ch.isalnum() for ch in k))
        # Phrases (of the lexicon and of the modifiers), by first word, longest first.
        phrases: dict[str, list[tuple[tuple[str, ...], Kind, float]]] = {}
        multi: list[tuple[str, Kind, float]] = [(k, Kind.WORD, v) for k, v in entries.items() if " " in k]
        multi += [(k, Kind.BOOSTER, v) for k, v in rules.boosters.items() if " " in k]
        multi += [(k, Kind.POST_BOOSTER, v) for k, v in rules.post_boosters.items() if " " in k]
        multi += [(k, Kind.BUT, 0.0) for k in rules.but_words if " " in k]
        for key, kind, value in multi:
            parts = tuple(key.split())
            phrases.setdefault(parts[0], []).append((parts, kind, value))
        for candidates in phrases.values():
            candidates.sort(key=lambda c: -len(c[0]))
        self.phrases = phrases

    def _lookup(self, key: str) -> float | None:
        found = self.words.get(key)
        if found is not None:
            return found
        for particle in self.rules.particles:
            if key.endswith(particle) and len(key) - len(particle) >= 3:
                found = self.words.get(key[:-len(particle)])
                if found is not None:
                    return found
        return None

    def _classify(self, key: str) -> tuple[Kind, float]:
        rules = self.rules
        if key in rules.negators:
            return Kind.NEGATOR, 0.0
        if key in rules.boosters:
            return Kind.BOOSTER, rules.boosters[key]
        if key in rules.post_boosters:
            return Kind.POST_BOOSTER, rules.post_boosters[key]
        if key in rules.but_words:
            return Kind.BUT, 0.0
        valence = self._lookup(key)
        if valence is not None:
            return Kind.WORD, valence
        return Kind.OTHER, 0.0

    def tokens(self, text: str) -> tuple[list[Token], bool]:
        """The text's tokens with phrases merged and each one classified."""
        raw, cap_differential = _raw_tokens(text, self.emoticons)
        merged: list[Token] = []
        index = 0
        while index < len(raw):
            token = raw[index]
            for parts, kind, value in self.phrases.get(token.key, ()):
                span = raw[index:index + len(parts)]
                if (len(span) == len(parts) and all(t.key == p for t, p in zip(span, parts, strict=True))
                        and span[-1].clause == token.clause):
                    merged.append(Token(" ".join(parts), all(t.upper for t in span), token.clause, kind, value))
                    index += len(parts)
                    break
            else:
                token.kind, token.value = self._classify(token.key)
                merged.append(token)
                index += 1
        return merged, cap_differential

    def valences(self, text: str) -> list[float]:
        tokens, cap_differential = self.tokens(text)
        rules = self.rules
        sentiments: list[float] = []
        but_at = next((i for i, t in enumerate(tokens) if t.kind is Kind.BUT), None)
        for i, token in enumerate(tokens):
            if token.kind is not Kind.WORD or token.value == 0:
                continue
            valence = token.value
            sign = 1.0 if valence > 0 else -1.0
            if token.upper and cap_differential:
                valence += C_INCR * sign
            negated = False
            for distance in range(3):
                j = i - distance - 1
                if j < 0 or tokens[j].clause != token.clause:
                    break
                before = tokens[j]
                if before.kind is Kind.NEGATOR:
                    negated = True
                elif before.kind is Kind.BOOSTER:
                    if distance == 0 and before.key in rules.negating_dampeners and token.value > 0:
                        negated = True
                        continue
                    scalar = before.value * sign
                    if before.upper and cap_differential:
                        scalar += C_INCR * sign
                    valence += scalar * DISTANCE[distance]
            if negated:
                valence *= N_SCALAR
            post_sign = 1.0 if valence > 0 else -1.0
            for distance in range(2):
                j = i + distance + 1
                if j >= len(tokens) or tokens[j].clause != token.clause:
                    break
                if tokens[j].kind is Kind.POST_BOOSTER:
                    valence += tokens[j].value * post_sign * DISTANCE[distance]
            if but_at is not None:
                valence *= BUT_BEFORE if i < but_at else BUT_AFTER
            sentiments.append(valence)
        return sentiments

    def compound(self, text: str) -> float:
        sentiments = self.valences(text)
        if not sentiments:
            return 0.0
        total = sum(sentiments)
        emphasis = _punctuation_emphasis(text)
        if total > 0:
            total += emphasis
        elif total < 0:
            total -= emphasis
        return round(normalize(total), 4)


def _punctuation_emphasis(text: str) -> float:
    """VADER's: each "!" up to four, and two or more "?"."""
    amplifier = min(text.count("!"), MAX_EXCLAMATIONS) * EXCLAMATION
    questions = text.count("?")
    if questions > 1:
        amplifier += questions * QUESTION if questions <= 3 else QUESTION_FLOOD
    return amplifier


# ------------------------------------------------------------------------------------------ loading, once

_lock = threading.Lock()
_vader: Any = None
_scorers: dict[str, LexiconScorer] = {}


def vader_model() -> str:
    return f"vader-{metadata.version('vaderSentiment')}+td-{ENGLISH_VERSION}"


def lexicon_model(language: str) -> str:
    return f"td-lexicon-{language}-{LEXICON_VERSION}"


def _english() -> Any:
    global _vader
    with _lock:
        if _vader is None:
            from vaderSentiment.vaderSentiment import SentimentIntensityAnalyzer

            analyzer = SentimentIntensityAnalyzer()
            analyzer.lexicon.update(ENGLISH_OVERRIDES)
            _vader = analyzer
    return _vader


def scorer(language: str) -> LexiconScorer:
    """The lexicon scorer of ``es`` or ``id`` (loaded on first use)."""
    with _lock:
        found = _scorers.get(language)
        if found is None:
            found = LexiconScorer(read_lexicon(LEXICON_DIR / f"{language}.tsv"), RULES[language],
                                  lexicon_model(language))
            _scorers[language] = found
    return found


@lru_cache(maxsize=4)
def _model_of(language: str) -> str:
    if language == "en":
        return vader_model()
    if language in RULES:
        return lexicon_model(language)
    return NONE_MODEL


# ------------------------------------------------------------------------------------------ scoring


def _score(text: str, language: str) -> Sentiment:
    model = _model_of(language)
    if model == NONE_MODEL or not text.strip():
        return Sentiment(0.0, "neutral", model)
    if language == "en":
        compound = float(_english().polarity_scores(_WOULD_LIKE.sub(r"\1", text))["compound"])
    else:
        compound = scorer(language).compound(text)
    return Sentiment(compound, label_of(compound), model)


_score_cached = lru_cache(maxsize=16_384)(_score)


def score(text: str, language: str) -> Sentiment:
    """The sentiment of ``text`` written in ``language`` (a tag such as ``en``, ``es-MX`` or ``id``)."""
    language = base_language(language)
    text = text[:MAX_CHARS]
    if len(text) <= CACHE_CHARS:
        return _score_cached(text, language)
    return _score(text, language)


def score_many(items: Iterable[tuple[str, str]]) -> list[Sentiment]:
    """:func:`score` of each (text, language)."""
    return [score(text, language) for text, language in items]
