"""Translations for customer-facing text: one JSON catalogue per language in ``core/locales``.

Keys are the English source strings, so a missing translation falls back to readable English.
Locales such as ``es-MX`` fall back to ``es``, then to English.
"""

from __future__ import annotations

import json
from functools import lru_cache
from pathlib import Path
from typing import Any

LOCALES_DIR = Path(__file__).resolve().parent / "locales"
DEFAULT_LOCALE = "en"


@lru_cache
def catalogue(language: str) -> dict[str, str]:
    path = LOCALES_DIR / f"{language}.json"
    if not path.exists():
        return {}
    data: dict[str, str] = json.loads(path.read_text(encoding="utf-8"))
    return data


def available_locales() -> list[str]:
    return sorted({DEFAULT_LOCALE} | {p.stem for p in LOCALES_DIR.glob("*.json")})


def fallbacks(locale: str | None, *then: str | None) -> list[str]:
    """Where text in ``locale`` is looked for: the locale, its language (``es-MX`` -> ``es``), then each of
    ``then`` (a market's default language, English...), each once, empty ones skipped."""
    chain: list[str] = []
    for candidate in (locale, locale.split("-", 1)[0] if locale else None, *then):
        if candidate and candidate not in chain:
            chain.append(candidate)
    return chain


def translate(text: str, locale: str | None, **values: Any) -> str:
    """``text`` in ``locale`` (or its base language, or English), with ``{name}`` values filled in."""
    result = text
    if locale:
        for candidate in (locale, locale.split("-", 1)[0]):
            found = catalogue(candidate).get(text)
            if found:
                result = found
                break
    return result.format(**values) if values else result


def negotiate(candidates: list[str | None], supported: list[str]) -> str:
    """The first candidate (explicit choice, user, market, browser) that ``supported`` has."""
    wanted = {code.split("-", 1)[0]: code for code in supported}
    for candidate in candidates:
        if not candidate:
            continue
        if candidate in supported:
            return candidate
        base = candidate.split("-", 1)[0].lower()
        if base in wanted:
            return wanted[base]
    return supported[0] if supported else DEFAULT_LOCALE


def accept_language(header: str | None) -> list[str]:
    """Languages from an Accept-Language header, best first."""
    if not header:
        return []
    weighted = []
    for index, part in enumerate(header.split(",")):
        piece = part.strip()
        if not piece:
            continue
        code, _, params = piece.partition(";")
        quality = 1.0
        if params.strip().startswith("q="):
            try:
                quality = float(params.strip()[2:])
            except ValueError:
                quality = 0.0
        weighted.append((-quality, index, code.strip()))
    return [code for _q, _i, code in sorted(weighted) if code != "*"]
