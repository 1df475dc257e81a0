"""Language detection for incoming text, constrained to the languages a market serves.

py3langid ships its model inside the PyPI package, so it loads offline (about 0.5 s once).
"""

from __future__ import annotations

import threading
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

_lock = threading.Lock()
_identifier: Any = None

# Below this many letters the guess is noise; the market's default language is used instead.
MIN_LETTERS = 12
MIN_CONFIDENCE = 0.6


@dataclass(frozen=True)
class Detection:
    language: str
    confidence: float
    detected: bool  # False when the fallback was used


def _model() -> Any:
    global _identifier
    with _lock:
        if _identifier is None:
            from py3langid.langid import MODEL_FILE, LanguageIdentifier

            _identifier = LanguageIdentifier.from_model_file(MODEL_FILE, norm_probs=True)
    return _identifier


def base_language(code: str) -> str:
    return code.split("-", 1)[0].lower()


def detect_language(text: str, candidates: Sequence[str], fallback: str) -> Detection:
    """The most likely of ``candidates`` (codes such as ``en`` or ``es-MX``) for ``text``."""
    letters = sum(ch.isalpha() for ch in text)
    if letters < MIN_LETTERS or not candidates:
        return Detection(fallback, 0.0, False)
    by_base = {base_language(c): c for c in candidates}
    ranked = _model().rank(text)
    scores = {lang: float(p) for lang, p in ranked if lang in by_base}
    # langid confuses Malay and Indonesian; credit either to the one the market serves.
    for a, b in (("ms", "id"), ("id", "ms")):
        if a in by_base and b not in by_base:
            scores[a] = scores.get(a, 0.0) + next((float(p) for lang, p in ranked if lang == b), 0.0)
    total = sum(scores.values())
    if total <= 0:
        return Detection(fallback, 0.0, False)
    best, score = max(scores.items(), key=lambda item: item[1])
    confidence = score / total
    if confidence < MIN_CONFIDENCE or score < 0.05:  # none of the market's languages fits
        return Detection(fallback, confidence, False)
    return Detection(by_base[best], round(confidence, 4), True)
