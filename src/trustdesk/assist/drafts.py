"""An optional draft reply from a language model behind an OpenAI-compatible chat API
(``TRUSTDESK_LLM_BASE_URL``, ``TRUSTDESK_LLM_MODEL``, ``TRUSTDESK_LLM_API_KEY``).

The model is given only the customer's words and the suggestions' texts (already made
impersonal) and asked to write one reply in the case's language from them, inventing nothing.
Any failure (timeout, refused, malformed answer) means no draft: the suggestions are shown
without it and the failure is logged. Without the setting nothing leaves the machine.
"""

from __future__ import annotations

import logging
from typing import Any

import httpx

from trustdesk.assist.suggestions import Suggestion
from trustdesk.core.settings import Settings

log = logging.getLogger(__name__)
MAX_DRAFT_CHARS = 4000

SYSTEM = ("You help customer-support agents of an online marketplace. Write ONE reply to the customer, in the "
          "language whose code is given, using only the facts in the sources. Do not invent order details, dates, "
          "amounts or policies. Keep [[placeholders]] as they are. Plain text, no Markdown headings.")


def configured(settings: Settings) -> bool:
    return bool(settings.llm_base_url.strip())


def prompt(question: str, language: str, sources: list[Suggestion]) -> list[dict[str, str]]:
    listed = "\n\n".join(f"Source {s.rank} ({s.source}: {s.title}):\n{s.text}" for s in sources)
    return [{"role": "system", "content": SYSTEM},
            {"role": "user", "content": f"Language: {language}\n\nThe customer wrote:\n{question}\n\n{listed}"}]


def draft(settings: Settings, question: str, language: str, sources: list[Suggestion]) -> str | None:
    """The model's draft, or None when it is not configured or did not answer usefully."""
    if not configured(settings) or not sources:
        return None
    url = settings.llm_base_url.rstrip("/") + "/chat/completions"
    payload: dict[str, Any] = {"messages": prompt(question, language, sources), "temperature": 0.2}
    if settings.llm_model:
        payload["model"] = settings.llm_model
    headers = {"Authorization": f"Bearer {settings.llm_api_key}"} if settings.llm_api_key else {}
    try:
        with httpx.Client(timeout=settings.llm_timeout_seconds) as client:
            response = client.post(url, json=payload, headers=headers)
            response.raise_for_status()
            content = response.json()["choices"][0]["message"]["content"]
    except (httpx.HTTPError, ValueError, KeyError, IndexError, TypeError) as error:
        log.warning("no draft reply from %s: %s", url, error)
        return None
    if not isinstance(content, str) or not content.strip():
        log.warning("no draft reply from %s: empty answer", url)
        return None
    return content.strip()[:MAX_DRAFT_CHARS]
