"""Guided flows of the answering bot, written as data (YAML): "where is my order?" asks for the order
number, calls a configured lookup webhook, answers from what it returned, or hands off to a person.

A flow names what starts it (the articles or intents whose confident answer it replaces, phrases per
locale) and its steps, run in order:

- ``ask``: a slot to fill, with a prompt per locale, a validation pattern, the text to show when the
  answer does not fit, and how many tries before ``on_exhausted``;
- ``lookup``: a POST to a lookup named in configuration (``TRUSTDESK_BOT_LOOKUPS``, never in the
  YAML), signed like TrustDesk's webhooks; response fields become variables; a 404 takes
  ``on_not_found``, anything else that is not a usable 2xx takes ``on_error``;
- ``answer``: a text per locale with the variables, rendered in a Jinja2 sandbox; then "did this
  solve it?" as for an article;
- ``handoff``: a text and a reason; the conversation goes to a person with the slots and the lookup
  results as context.

Any step may have ``when`` (variable -> value or list of values): a step whose ``when`` does not hold
is skipped. ``ask`` and ``lookup`` may name the ``next`` step; otherwise the one below runs.

A lookup tells the service who asks (``Customer``: the signed-in user and their party in the market),
so the service can refuse what is not theirs. A flow with a lookup requires a signed-in customer
(``requires_sign_in``, true by default when it has a lookup): without one it never calls the lookup.
At most ``MAX_LOOKUPS_PER_MESSAGE`` lookups run for one customer message and
``MAX_LOOKUPS_PER_CONVERSATION`` in a conversation; then the flow hands off. Over HTTP, the lookups
of one message share ``LOOKUP_BUDGET_SECONDS`` (they run inside the request's transaction).

A flow is checked when it is loaded, with errors that name the file, the step and the field; a file
that does not pass is left out (and logged), never half-run. The step machine here is pure: the
caller passes the lookup as a function, so the bot's rules never open a connection themselves (the
HTTP adapter, ``http_lookup``, is built by the request handlers from the settings). ``docs/flows.md``
describes the format and the lookup contract.
"""

from __future__ import annotations

import base64
import binascii
import json
import logging
import re
import sys
import threading
import time
import unicodedata
import uuid
from collections.abc import Callable, Collection, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any, Literal
from urllib.parse import urlsplit

import httpx
import regex
from jinja2 import StrictUndefined, Template, TemplateError, TemplateSyntaxError, meta
from jinja2.sandbox import ImmutableSandboxedEnvironment

from trustdesk.core import webhooks
from trustdesk.core.errors import Invalid
from trustdesk.core.settings import Settings
from trustdesk.core.yamltext import KEY, check_fields, read_yaml

log = logging.getLogger(__name__)

DEMO_FLOWS = Path(__file__).resolve().parents[1] / "demo" / "flows"
NAME = re.compile(r"^[a-z][a-z0-9_]{0,39}$")  # step ids, slots, variables, reasons
LOCALE = re.compile(r"^[a-z]{2,3}$")
FIELD_PATH = re.compile(r"^[A-Za-z0-9_-]{1,64}(\.[A-Za-z0-9_-]{1,64}){0,7}$")
BUILTIN_VARIABLES = ("market", "locale")
STEP_TYPES = ("ask", "lookup", "answer", "handoff")
COMMON_FIELDS = ("id", "type", "when")
STEP_FIELDS: dict[str, tuple[str, ...]] = {
    "ask": ("slot", "prompt", "pattern", "retry", "max_attempts", "max_length", "normalize", "on_exhausted", "next"),
    "lookup": ("lookup", "send", "map", "on_not_found", "on_error", "next"),
    "answer": ("text",),
    "handoff": ("reason", "text"),
}
FLOW_FIELDS = ("key", "title", "locales", "requires_sign_in", "trigger", "steps")
TRIGGER_FIELDS = ("articles", "intents", "phrases")
NORMALIZE = ("none", "upper", "lower")
MAX_STEPS = 50
MAX_TEXT = 2000
MAX_PATTERN = 300
MAX_BRANCHES = 5
MAX_HOPS = 25  # steps run for one message at most: a loop of lookups ends in a hand-off, not a hang
MATCH_SECONDS = 0.05
MAX_RESPONSE_BYTES = 65_536
MAX_LOOKUPS_PER_MESSAGE = 2  # then the flow hands off: no chain of lookups holds the customer's request
MAX_LOOKUPS_PER_CONVERSATION = 5  # across the conversation's flows: no guessing order numbers one by one
LOOKUP_BUDGET_SECONDS = 5.0  # all the lookups of one message, over HTTP (busy_timeout is 10 s on SQLite)
MAX_VALUE_CHARS = 500
LOOKUP_EVENT = "bot.lookup"

# The hand-offs a flow falls back on when it names no step of its own.
BUILTIN_TEXTS = {
    "en": {"not_found": "I couldn't find that. I'll pass you to a person who can look into it.",
           "lookup_failed": "Sorry, we could not look that up right now. I'll pass you to a person who can check "
                            "it for you.",
           "too_many_attempts": "That still doesn't look right, so I'll pass you to a person who can help.",
           "flow_failed": "Something went wrong on our side. I'll pass you to a person who can help.",
           "sign_in_required": "I can look that up once you're signed in, so that only you see your details. "
                               "Please sign in and ask me again.",
           "too_many_lookups": "I've looked up as much as I can in this conversation. I'll pass you to a person "
                               "who can check it for you."},
    "es": {"not_found": "No lo he encontrado. Te paso con una persona que lo revisará.",
           "lookup_failed": "Lo siento, ahora mismo no hemos podido consultarlo. Te paso con una persona que lo "
                            "revisará por ti.",
           "too_many_attempts": "Sigue sin parecer correcto, así que te paso con una persona que te ayudará.",
           "flow_failed": "Algo ha fallado por nuestra parte. Te paso con una persona que te ayudará.",
           "sign_in_required": "Puedo consultarlo cuando hayas iniciado sesión, para que solo tú veas tus datos. "
                               "Inicia sesión y vuelve a preguntarme.",
           "too_many_lookups": "Ya he consultado todo lo que puedo en esta conversación. Te paso con una persona "
                               "que lo revisará por ti."},
}

_env = ImmutableSandboxedEnvironment(undefined=StrictUndefined, autoescape=False, keep_trailing_newline=False)


class FlowInvalid(Invalid):
    """A flow that does not pass its check: the file, the step (id or position) and the field."""

    def __init__(self, detail: str, *, file: str, where: str, step: str | None = None) -> None:
        place = f"{file}" + (f", step {step}" if step else "") + f", {where}"
        super().__init__(f"{place}: {detail}", field=where)
        self.file, self.where, self.step, self.reason = file, where, step, detail


# ---------------------------------------------------------------- the definition

Texts = Mapping[str, Template]  # locale -> compiled template


@dataclass(frozen=True, eq=False)
class Ask:
    id: str
    when: Mapping[str, tuple[Any, ...]]
    slot: str
    prompt: Texts
    retry: Texts
    pattern: regex.Pattern[str] | None
    max_attempts: int
    max_length: int
    normalize: str
    on_exhausted: str | None
    next: str | None


@dataclass(frozen=True, eq=False)
class Lookup:
    id: str
    when: Mapping[str, tuple[Any, ...]]
    lookup: str
    send: tuple[str, ...]
    fields: Mapping[str, tuple[tuple[str, ...], bool]]  # variable -> (response path, optional)
    on_not_found: tuple[str, ...]  # the n-th 404 takes the n-th step (the last one repeats); empty: hand off
    on_error: tuple[str, ...]
    next: str | None


@dataclass(frozen=True, eq=False)
class Answer:
    id: str
    when: Mapping[str, tuple[Any, ...]]
    text: Texts


@dataclass(frozen=True, eq=False)
class Handoff:
    id: str
    when: Mapping[str, tuple[Any, ...]]
    reason: str
    text: Texts


Step = Ask | Lookup | Answer | Handoff


@dataclass(frozen=True, eq=False)
class Trigger:
    articles: frozenset[str]
    intents: frozenset[str]
    phrases: Mapping[str, tuple[str, ...]]  # locale -> normalised phrases


@dataclass(frozen=True, eq=False)
class Flow:
    key: str
    title: Mapping[str, str]
    locales: tuple[str, ...]
    trigger: Trigger
    steps: tuple[Step, ...]
    file: str
    requires_sign_in: bool = True  # no lookup for an anonymous conversation (see parse_flow for the default)

    def locale_for(self, locale: str) -> str:
        """The flow's locale for a conversation in ``locale`` (its language, else the flow's first)."""
        base = locale.split("-")[0].lower()
        return base if base in self.locales else self.locales[0]

    def position(self, step_id: str) -> int | None:
        return next((i for i, s in enumerate(self.steps) if s.id == step_id), None)

    def title_in(self, locale: str) -> str:
        return self.title[self.locale_for(locale)]


# ---------------------------------------------------------------- checking a flow


class _Checker:
    def __init__(self, file: str) -> None:
        self.file = file
        self.step: str | None = None

    def fail(self, detail: str, where: str) -> FlowInvalid:
        return FlowInvalid(detail, file=self.file, where=where, step=self.step)

    def name(self, value: Any, where: str, what: str) -> str:
        if not isinstance(value, str) or not NAME.fullmatch(value):
            raise self.fail(f"{what}: a lower-case name (letters, digits, underscore; starting with a letter)", where)
        return value

    def whole(self, value: Any, where: str, low: int, high: int) -> int:
        if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= high:
            raise self.fail(f"a whole number from {low} to {high}", where)
        return value

    def texts(self, raw: Any, where: str, locales: Sequence[str]) -> dict[str, str]:
        if isinstance(raw, str) or not isinstance(raw, dict) or not raw:
            raise self.fail(f"a text per locale ({', '.join(locales)})", where)
        for locale, text in raw.items():
            if locale not in locales:
                raise self.fail(f"locale {locale!r} is not one of the flow's locales ({', '.join(locales)})",
                                f"{where}.{locale}")
            if not isinstance(text, str) or not text.strip():
                raise self.fail("a text (not empty)", f"{where}.{locale}")
            if len(text) > MAX_TEXT:
                raise self.fail(f"at most {MAX_TEXT} characters", f"{where}.{locale}")
        for locale in locales:
            if locale not in raw:
                raise self.fail(f"the {locale!r} text is missing (every text is written in each of the flow's "
                                f"locales: {', '.join(locales)})", f"{where}.{locale}")
        return {locale: str(raw[locale]).strip() for locale in locales}

    def templates(self, raw: Any, where: str, locales: Sequence[str], known: Collection[str]) -> dict[str, Template]:
        out: dict[str, Template] = {}
        for locale, source in self.texts(raw, where, locales).items():
            try:
                parsed = _env.parse(source)
            except TemplateSyntaxError as exc:
                raise self.fail(f"the template cannot be read (line {exc.lineno}): {exc.message}",
                                f"{where}.{locale}") from exc
            unknown = sorted(meta.find_undeclared_variables(parsed) - set(known))
            if unknown:
                raise self.fail(f"unknown variable {unknown[0]!r}; the flow has {', '.join(sorted(known))}",
                                f"{where}.{locale}")
            out[locale] = _env.from_string(source)
        return out

    def targets(self, raw: Any, where: str, ids: Collection[str]) -> tuple[str, ...]:
        if raw is None:
            return ()
        items = [raw] if isinstance(raw, str) else raw
        if not isinstance(items, list) or not items or len(items) > MAX_BRANCHES:
            raise self.fail(f"a step id, or a list of 1 to {MAX_BRANCHES} step ids (the n-th time takes the n-th)",
                            where)
        for index, item in enumerate(items):
            place = where if isinstance(raw, str) else f"{where}[{index}]"
            if not isinstance(item, str) or item not in ids:
                raise self.fail(f"no step has the id {item!r}", place)
        return tuple(items)

    def when(self, raw: Any, where: str, known: Collection[str]) -> dict[str, tuple[Any, ...]]:
        if raw is None:
            return {}
        if not isinstance(raw, dict) or not raw:
            raise self.fail("when: variable -> value, or -> a list of values (any of them)", where)
        out: dict[str, tuple[Any, ...]] = {}
        scalars = (str, int, float, bool, type(None))
        for name, value in raw.items():
            if name not in known:
                raise self.fail(f"unknown variable {name!r}; the flow has {', '.join(sorted(known))}",
                                f"{where}.{name}")
            values = tuple(value) if isinstance(value, list) else (value,)
            if not values or not all(isinstance(v, scalars) for v in values):
                raise self.fail("a value (text, number, true/false, null) or a list of them", f"{where}.{name}")
            out[str(name)] = values
        return out


def _lookup_problem(name: str, lookups: Mapping[str, str], secret: str) -> str | None:
    if name not in lookups:
        configured = ", ".join(sorted(lookups)) or "none"
        return (f"lookup {name!r} is not configured (configured: {configured}); name its URL in "
                "TRUSTDESK_BOT_LOOKUPS, e.g. {\"" + name + "\": \"https://...\"}")
    parts = urlsplit(lookups[name])
    if parts.scheme not in ("http", "https") or not parts.netloc:
        return f"lookup {name!r} is configured with {lookups[name]!r}, not an absolute http(s) URL"
    if secret_problem(secret):
        return f"lookup {name!r}: {secret_problem(secret)}"
    return None


def secret_problem(secret: str) -> str | None:
    """Why ``secret`` cannot sign lookup calls, or None."""
    if not secret:
        return "set TRUSTDESK_BOT_LOOKUP_SECRET (whsec_ and base64, as webhook secrets are) to sign lookup calls"
    try:
        raw = base64.b64decode(secret.removeprefix(webhooks.SECRET_PREFIX), validate=True)
    except (binascii.Error, ValueError):
        return "TRUSTDESK_BOT_LOOKUP_SECRET is not base64 after its whsec_ prefix"
    return None if len(raw) >= 16 else "TRUSTDESK_BOT_LOOKUP_SECRET is too short (at least 16 bytes)"


def parse_flow(raw: Any, *, file: str, lookups: Mapping[str, str], secret: str) -> Flow:
    """The flow in ``raw`` (data read from YAML), checked, or ``FlowInvalid`` naming the first problem."""
    check = _Checker(file)
    try:
        raw = check_fields(raw, FLOW_FIELDS, what="flow", field="flow")
    except Invalid as exc:
        raise check.fail(exc.detail, "flow") from exc
    key = raw.get("key")
    if not isinstance(key, str) or not re.fullmatch(KEY, key):
        raise check.fail("key: lower-case letters, digits, dot, dash or underscore", "key")
    locales_raw = raw.get("locales")
    if (not isinstance(locales_raw, list) or not locales_raw
            or not all(isinstance(loc, str) and LOCALE.fullmatch(loc) for loc in locales_raw)):
        raise check.fail("locales: a list of languages, e.g. [en, es]", "locales")
    locales = tuple(dict.fromkeys(locales_raw))
    title = check.texts(raw.get("title"), "title", locales)
    trigger = _trigger(check, raw.get("trigger"), locales)
    steps_raw = raw.get("steps")
    if not isinstance(steps_raw, list) or not steps_raw:
        raise check.fail("steps: a list of steps", "steps")
    if len(steps_raw) > MAX_STEPS:
        raise check.fail(f"at most {MAX_STEPS} steps", "steps")

    # First pass: ids, types and the names they define, so any step may refer to any other.
    ids: list[str] = []
    slots: list[str] = []
    variables: list[str] = []
    for index, step in enumerate(steps_raw):
        check.step = f"#{index + 1}"
        where = f"steps[{index}]"
        if not isinstance(step, dict):
            raise check.fail("a step: id, type and the type's fields", where)
        kind = step.get("type")
        if kind not in STEP_TYPES:
            raise check.fail(f"unknown step type {kind!r}; one of {', '.join(STEP_TYPES)}", f"{where}.type")
        step_id = check.name(step.get("id"), f"{where}.id", "id")
        if step_id in ids:
            raise check.fail(f"two steps have the id {step_id!r}", f"{where}.id")
        ids.append(step_id)
        if kind == "ask":
            check.step = f"{step_id!r}"
            slot = check.name(step.get("slot"), f"{where}.slot", "slot")
            if slot in BUILTIN_VARIABLES:
                raise check.fail(f"{slot!r} is a built-in variable; name the slot otherwise", f"{where}.slot")
            if slot not in slots:
                slots.append(slot)
        elif kind == "lookup":
            check.step = f"{step_id!r}"
            mapping = step.get("map") or {}
            if not isinstance(mapping, dict):
                raise check.fail("map: variable -> response field (a.b.c), or -> {field, optional}", f"{where}.map")
            for name in mapping:
                check.name(name, f"{where}.map.{name}", "variable")
                if name in BUILTIN_VARIABLES or name in slots:
                    raise check.fail(f"{name!r} is already a slot or built-in variable", f"{where}.map.{name}")
                if name not in variables:
                    variables.append(name)
    known = (*BUILTIN_VARIABLES, *slots, *variables)

    steps: list[Step] = []
    for index, step in enumerate(steps_raw):
        kind, step_id, where = step["type"], step["id"], f"steps[{index}]"
        check.step = f"{step_id!r}"
        extra = sorted(set(step) - {*COMMON_FIELDS, *STEP_FIELDS[kind]})
        if extra:
            raise check.fail(f"a {kind} step does not take {extra[0]!r}; it has "
                             f"{', '.join((*COMMON_FIELDS, *STEP_FIELDS[kind]))}", f"{where}.{extra[0]}")
        when = check.when(step.get("when"), f"{where}.when", known)
        if kind == "ask":
            steps.append(_ask(check, step, where, when, locales, known, ids))
        elif kind == "lookup":
            steps.append(_lookup(check, step, where, when, ids, slots, lookups, secret))
        elif kind == "answer":
            steps.append(Answer(id=step_id, when=when, text=check.templates(step.get("text"), f"{where}.text",
                                                                            locales, known)))
        else:
            steps.append(Handoff(id=step_id, when=when, reason=check.name(step.get("reason"), f"{where}.reason",
                                                                          "reason"),
                                 text=check.templates(step.get("text"), f"{where}.text", locales, known)))
    last = steps[-1]
    check.step = f"{last.id!r}"
    if not isinstance(last, Answer | Handoff) or last.when:
        raise check.fail("the last step is an answer or a handoff without when, so every path ends",
                         f"steps[{len(steps) - 1}]")
    check.step = None
    # A lookup answers about someone's own things (an order, a payment): only for a signed-in customer,
    # unless the flow says its lookups are public (opening hours, a store's address).
    requires_sign_in = raw.get("requires_sign_in", any(isinstance(step, Lookup) for step in steps))
    if not isinstance(requires_sign_in, bool):
        raise check.fail("requires_sign_in: true or false", "requires_sign_in")
    return Flow(key=key, title=title, locales=locales, trigger=trigger, steps=tuple(steps), file=file,
                requires_sign_in=requires_sign_in)


def _trigger(check: _Checker, raw: Any, locales: Sequence[str]) -> Trigger:
    if not isinstance(raw, dict):
        raise check.fail(f"trigger: {', '.join(TRIGGER_FIELDS)} (at least one)", "trigger")
    unknown = sorted(set(raw) - set(TRIGGER_FIELDS))
    if unknown:
        raise check.fail(f"unknown field {unknown[0]!r}; a trigger has {', '.join(TRIGGER_FIELDS)}",
                         f"trigger.{unknown[0]}")
    lists: dict[str, frozenset[str]] = {}
    for name in ("articles", "intents"):
        value = raw.get(name) or []
        if not isinstance(value, list) or not all(isinstance(v, str) and re.fullmatch(r"[a-z0-9][a-z0-9_-]{0,99}", v)
                                                  for v in value):
            raise check.fail(f"{name}: a list of keys", f"trigger.{name}")
        lists[name] = frozenset(value)
    phrases_raw = raw.get("phrases") or {}
    if not isinstance(phrases_raw, dict):
        raise check.fail("phrases: locale -> a list of phrases", "trigger.phrases")
    phrases: dict[str, tuple[str, ...]] = {}
    for locale, items in phrases_raw.items():
        where = f"trigger.phrases.{locale}"
        if locale not in locales:
            raise check.fail(f"locale {locale!r} is not one of the flow's locales ({', '.join(locales)})", where)
        if not isinstance(items, list) or not items or not all(isinstance(p, str) and normalise(p) for p in items):
            raise check.fail("a list of phrases (words, not empty)", where)
        phrases[locale] = tuple(normalise(p) for p in items)
    if not lists["articles"] and not lists["intents"] and not phrases:
        raise check.fail("name at least one article, intent or phrase that starts the flow", "trigger")
    return Trigger(articles=lists["articles"], intents=lists["intents"], phrases=phrases)


def _ask(check: _Checker, step: dict[str, Any], where: str, when: Mapping[str, tuple[Any, ...]],
         locales: Sequence[str], known: Collection[str], ids: Collection[str]) -> Ask:
    pattern: regex.Pattern[str] | None = None
    source = step.get("pattern")
    if source is not None:
        if not isinstance(source, str) or not source or len(source) > MAX_PATTERN:
            raise check.fail(f"a regular expression of at most {MAX_PATTERN} characters", f"{where}.pattern")
        try:
            pattern = regex.compile(source, regex.VERSION0)
        except regex.error as exc:
            raise check.fail(f"not a valid regular expression: {exc}", f"{where}.pattern") from exc
    if pattern is not None and step.get("retry") is None:
        raise check.fail("an ask with a pattern needs a retry text (what to say when the answer does not fit)",
                         f"{where}.retry")
    normalize = step.get("normalize", "none")
    if normalize not in NORMALIZE:
        raise check.fail(f"normalize: one of {', '.join(NORMALIZE)}", f"{where}.normalize")
    prompt = check.templates(step.get("prompt"), f"{where}.prompt", locales, known)
    retry = check.templates(step["retry"], f"{where}.retry", locales, known) if step.get("retry") is not None \
        else prompt
    return Ask(id=step["id"], when=when, slot=step["slot"], prompt=prompt, retry=retry, pattern=pattern,
               max_attempts=check.whole(step.get("max_attempts", 3), f"{where}.max_attempts", 1, 10),
               max_length=check.whole(step.get("max_length", 200), f"{where}.max_length", 1, 2000),
               normalize=normalize, on_exhausted=_one(check.targets(step.get("on_exhausted"),
                                                                     f"{where}.on_exhausted", ids),
                                                       check, f"{where}.on_exhausted"),
               next=_one(check.targets(step.get("next"), f"{where}.next", ids), check, f"{where}.next"))


def _one(targets: tuple[str, ...], check: _Checker, where: str) -> str | None:
    if len(targets) > 1:
        raise check.fail("one step id", where)
    return targets[0] if targets else None


def _lookup(check: _Checker, step: dict[str, Any], where: str, when: Mapping[str, tuple[Any, ...]],
            ids: Collection[str], slots: Sequence[str], lookups: Mapping[str, str], secret: str) -> Lookup:
    name = step.get("lookup")
    if not isinstance(name, str) or not NAME.fullmatch(name):
        raise check.fail("lookup: the name of a configured lookup", f"{where}.lookup")
    problem = _lookup_problem(name, lookups, secret)
    if problem:
        raise check.fail(problem, f"{where}.lookup")
    send_raw = step.get("send")
    if send_raw is None:
        send = tuple(slots)
    elif isinstance(send_raw, list) and all(isinstance(s, str) for s in send_raw):
        for index, slot in enumerate(send_raw):
            if slot not in slots:
                raise check.fail(f"no ask step fills the slot {slot!r}", f"{where}.send[{index}]")
        send = tuple(send_raw)
    else:
        raise check.fail("send: a list of slots", f"{where}.send")
    fields: dict[str, tuple[tuple[str, ...], bool]] = {}
    for variable, spec in (step.get("map") or {}).items():
        place = f"{where}.map.{variable}"
        path, optional = (spec, False) if isinstance(spec, str) else (
            (spec.get("field"), spec.get("optional", False)) if isinstance(spec, dict) else (None, False))
        if isinstance(spec, dict) and set(spec) - {"field", "optional"}:
            raise check.fail("a mapped field has field and optional", place)
        if not isinstance(path, str) or not FIELD_PATH.fullmatch(path) or not isinstance(optional, bool):
            raise check.fail("a response field (a.b.c), or {field: a.b.c, optional: true}", place)
        fields[variable] = (tuple(path.split(".")), optional)
    return Lookup(id=step["id"], when=when, lookup=name, send=send, fields=fields,
                  on_not_found=check.targets(step.get("on_not_found"), f"{where}.on_not_found", ids),
                  on_error=check.targets(step.get("on_error"), f"{where}.on_error", ids),
                  next=_one(check.targets(step.get("next"), f"{where}.next", ids), check, f"{where}.next"))


def load_text(text: str, *, file: str, lookups: Mapping[str, str], secret: str) -> Flow:
    try:
        raw = read_yaml(text, field="flow")
    except Invalid as exc:
        raise FlowInvalid(exc.detail, file=file, where="flow") from exc
    return parse_flow(raw, file=file, lookups=lookups, secret=secret)


# ---------------------------------------------------------------- the flows of a folder


def normalise(text: str) -> str:
    """Lower case, no accents, words separated by single spaces: "¿Dónde está?" -> "donde esta"."""
    decomposed = unicodedata.normalize("NFKD", text.casefold())
    plain = "".join(c for c in decomposed if not unicodedata.combining(c))
    return " ".join(re.findall(r"\w+", plain))


@dataclass(frozen=True)
class Catalogue:
    flows: tuple[Flow, ...] = ()
    problems: tuple[FlowInvalid, ...] = ()

    def get(self, key: str | None) -> Flow | None:
        return next((f for f in self.flows if f.key == key), None)

    def by_phrase(self, question: str, locale: str) -> Flow | None:
        """The first flow with a phrase, in the question's language, found whole in the question."""
        text = f" {normalise(question)} "
        base = locale.split("-")[0].lower()
        for flow in self.flows:
            if any(f" {phrase} " in text for phrase in flow.trigger.phrases.get(base, ())):
                return flow
        return None

    def for_article(self, key: str, intent: str | None) -> Flow | None:
        """The first flow started by a confident answer from this article (or its intent)."""
        for flow in self.flows:
            if key in flow.trigger.articles or (intent is not None and intent in flow.trigger.intents):
                return flow
        return None


def load_folder(folder: Path, *, lookups: Mapping[str, str], secret: str) -> Catalogue:
    """Every ``*.yaml`` flow in ``folder`` (by file name) that passes its check; the rest as problems."""
    flows: list[Flow] = []
    problems: list[FlowInvalid] = []
    if not folder.is_dir():
        problems.append(FlowInvalid("there is no such folder (TRUSTDESK_BOT_FLOWS_DIR)", file=str(folder),
                                    where="folder"))
    paths = sorted(folder.glob("*.yaml")) if folder.is_dir() else []
    for path in paths:
        try:
            flow = load_text(path.read_text(encoding="utf-8"), file=path.name, lookups=lookups, secret=secret)
        except FlowInvalid as exc:
            problems.append(exc)
            continue
        except (OSError, UnicodeDecodeError) as exc:
            problems.append(FlowInvalid(f"cannot be read: {exc}", file=path.name, where="flow"))
            continue
        if any(f.key == flow.key for f in flows):
            problems.append(FlowInvalid(f"another file defines the flow {flow.key!r}", file=path.name, where="key"))
            continue
        flows.append(flow)
    return Catalogue(flows=tuple(flows), problems=tuple(problems))


def flows_folder(settings: Settings) -> Path:
    return settings.bot_flows_dir or DEMO_FLOWS


_cache: dict[tuple[Any, ...], Catalogue] = {}
_cache_lock = threading.Lock()


def catalogue(settings: Settings) -> Catalogue:
    """The configured folder's flows, read again when a file in it changes (or the lookups do)."""
    folder = flows_folder(settings)
    files = tuple((p.name, p.stat().st_mtime_ns, p.stat().st_size)
                  for p in sorted(folder.glob("*.yaml"))) if folder.is_dir() else ()
    signature = (str(folder), files, tuple(sorted(settings.bot_lookups.items())), settings.bot_lookup_secret)
    with _cache_lock:
        found = _cache.get(signature)
    if found is not None:
        return found
    loaded = load_folder(folder, lookups=settings.bot_lookups, secret=settings.bot_lookup_secret)
    for problem in loaded.problems:
        log.warning("guided flow left out: %s", problem.detail)
    with _cache_lock:
        if len(_cache) > 32:
            _cache.clear()
        _cache[signature] = loaded
    return loaded


# ---------------------------------------------------------------- running a flow


@dataclass(frozen=True)
class Customer:
    """Who asks: the signed-in user, and their party in the conversation's market when they have one
    (its external id is the marketplace's own id for them). The lookup service checks that what is
    asked for is theirs."""

    user_id: int
    party_external_id: str | None = None
    party_kind: str | None = None

    def as_json(self) -> dict[str, Any]:
        party = {"external_id": self.party_external_id, "kind": self.party_kind} \
            if self.party_external_id is not None else None
        return {"user_id": self.user_id, "party": party}


@dataclass(frozen=True)
class LookupRequest:
    name: str
    flow: str
    step: str
    conversation_id: int | None
    market: str
    locale: str
    slots: Mapping[str, str]
    customer: Customer | None = None  # None: nobody is signed in (only a flow not requiring sign-in)


@dataclass(frozen=True)
class LookupResult:
    outcome: Literal["found", "not_found", "error"]
    data: Mapping[str, Any] = field(default_factory=dict)
    detail: str | None = None  # why an error is one: "timeout", "HTTP 503", "not JSON", ...


LookupFn = Callable[[LookupRequest], LookupResult]


@dataclass
class Progress:
    """Where a conversation is in its flow; kept as JSON on the conversation between messages."""

    flow: str
    locale: str
    market: str
    title: str = ""  # the flow's title in the conversation's locale, for the agent's context
    step: str | None = None  # the ask step waiting for an answer; None when the flow has ended
    slots: dict[str, str] = field(default_factory=dict)
    variables: dict[str, Any] = field(default_factory=dict)
    attempts: dict[str, int] = field(default_factory=dict)  # ask step -> answers that did not fit
    branches: dict[str, int] = field(default_factory=dict)  # "step.not_found" -> times taken
    lookups: list[dict[str, Any]] = field(default_factory=list)  # name, outcome, detail of each call
    outcome: str | None = None  # answered, or the hand-off reason, when the flow has ended
    calls: int = 0  # lookups called in the conversation so far, its earlier flows' included

    def as_json(self) -> dict[str, Any]:
        return {"flow": self.flow, "locale": self.locale, "market": self.market, "title": self.title,
                "step": self.step,
                "slots": dict(self.slots), "variables": dict(self.variables), "attempts": dict(self.attempts),
                "branches": dict(self.branches), "lookups": list(self.lookups), "outcome": self.outcome,
                "calls": self.calls}

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> Progress:
        return cls(flow=str(data["flow"]), locale=str(data["locale"]), market=str(data["market"]),
                   title=str(data.get("title") or ""), step=data.get("step"), slots=dict(data.get("slots") or {}),
                   variables=dict(data.get("variables") or {}), attempts=dict(data.get("attempts") or {}),
                   branches=dict(data.get("branches") or {}), lookups=list(data.get("lookups") or []),
                   outcome=data.get("outcome"), calls=int(data.get("calls") or 0))

    @property
    def active(self) -> bool:
        return self.step is not None


@dataclass(frozen=True)
class Said:
    """What the bot says after a step: a prompt (it waits for an answer), the answer, or a hand-off."""

    kind: Literal["prompt", "answer", "handoff"]
    text: str
    reason: str | None = None  # a hand-off's reason


@dataclass(frozen=True)
class _Turn:
    """One customer message's run: how to look up, for whom, and how many lookups it made."""

    lookup: LookupFn
    conversation_id: int | None
    customer: Customer | None
    made: list[int] = field(default_factory=lambda: [0])


def begin(flow: Flow, *, locale: str, market: str, lookup: LookupFn, conversation_id: int | None = None,
          customer: Customer | None = None, calls: int = 0) -> tuple[Progress, Said]:
    """Start ``flow``: run its steps until one needs the customer or the flow ends. ``customer``: who
    asks (None when nobody is signed in); ``calls``: the lookups the conversation made before."""
    progress = Progress(flow=flow.key, locale=flow.locale_for(locale), market=market, title=flow.title_in(locale),
                        calls=calls)
    return progress, _run(flow, progress, 0, _Turn(lookup, conversation_id, customer))


def reply(flow: Flow, progress: Progress, text: str, *, lookup: LookupFn, conversation_id: int | None = None,
          customer: Customer | None = None) -> Said:
    """The customer's answer to the step waiting for one; what the bot says next."""
    position = flow.position(progress.step) if progress.step else None
    step = flow.steps[position] if position is not None else None
    if position is None or not isinstance(step, Ask):
        # The flow changed under a running conversation: hand off rather than guess.
        return _builtin_handoff(progress, "flow_failed")
    turn = _Turn(lookup, conversation_id, customer)
    value = " ".join(text.split())
    value = value.upper() if step.normalize == "upper" else value.lower() if step.normalize == "lower" else value
    if value and len(value) <= step.max_length and _fits(step, value):
        progress.slots[step.slot] = value
        progress.attempts.pop(step.id, None)
        following = flow.position(step.next) if step.next else position + 1
        return _run(flow, progress, following if following is not None else position + 1, turn)
    progress.attempts[step.id] = progress.attempts.get(step.id, 0) + 1
    if progress.attempts[step.id] >= step.max_attempts:
        progress.attempts.pop(step.id, None)
        if step.on_exhausted is None:
            return _builtin_handoff(progress, "too_many_attempts")
        target = flow.position(step.on_exhausted)
        return _run(flow, progress, target if target is not None else len(flow.steps), turn)
    return _say(flow, progress, "prompt", step.retry) or _builtin_handoff(progress, "flow_failed")


def _fits(step: Ask, value: str) -> bool:
    if step.pattern is None:
        return True
    try:
        return step.pattern.fullmatch(value, timeout=MATCH_SECONDS) is not None
    except TimeoutError:
        log.warning("flow slot pattern %r gave up after %.2f s", step.pattern.pattern, MATCH_SECONDS)
        return False


def variables_of(progress: Progress) -> dict[str, Any]:
    return {**progress.variables, **progress.slots, "market": progress.market, "locale": progress.locale}


def _holds(when: Mapping[str, tuple[Any, ...]], values: Mapping[str, Any]) -> bool:
    return all(name in values and values[name] in wanted for name, wanted in when.items())


def _run(flow: Flow, progress: Progress, position: int, turn: _Turn) -> Said:
    for _hop in range(MAX_HOPS):
        if position >= len(flow.steps):
            return _builtin_handoff(progress, "flow_failed")
        step = flow.steps[position]
        if step.when and not _holds(step.when, variables_of(progress)):
            position += 1
            continue
        if isinstance(step, Ask):
            progress.step = step.id
            return _say(flow, progress, "prompt", step.prompt) or _builtin_handoff(progress, "flow_failed")
        if isinstance(step, Answer):
            said = _say(flow, progress, "answer", step.text)
            if said is None:
                return _builtin_handoff(progress, "flow_failed")
            progress.step, progress.outcome = None, "answered"
            return said
        if isinstance(step, Handoff):
            said = _say(flow, progress, "handoff", step.text, reason=step.reason)
            if said is None:
                return _builtin_handoff(progress, "flow_failed")
            progress.step, progress.outcome = None, step.reason
            return said
        if flow.requires_sign_in and turn.customer is None:
            return _builtin_handoff(progress, "sign_in_required")  # never an oracle for someone else's things
        if turn.made[0] >= MAX_LOOKUPS_PER_MESSAGE or progress.calls >= MAX_LOOKUPS_PER_CONVERSATION:
            return _builtin_handoff(progress, "too_many_lookups")
        turn.made[0] += 1
        progress.calls += 1
        result = _call(turn.lookup, LookupRequest(
            name=step.lookup, flow=flow.key, step=step.id, conversation_id=turn.conversation_id,
            market=progress.market, locale=progress.locale,
            slots={s: progress.slots[s] for s in step.send if s in progress.slots}, customer=turn.customer), step)
        progress.lookups = [*progress.lookups[-4:], {"step": step.id, "lookup": step.lookup,
                                                      "outcome": result.outcome, "detail": result.detail}]
        if result.outcome == "found":
            progress.variables.update(result.data)
            following = flow.position(step.next) if step.next else position + 1
            position = following if following is not None else position + 1
            continue
        branch = f"{step.id}.{result.outcome}"
        taken = progress.branches.get(branch, 0)
        progress.branches[branch] = taken + 1
        targets = step.on_not_found if result.outcome == "not_found" else step.on_error
        if not targets:
            return _builtin_handoff(progress, "not_found" if result.outcome == "not_found" else "lookup_failed")
        target = flow.position(targets[min(taken, len(targets) - 1)])
        position = target if target is not None else len(flow.steps)
    return _builtin_handoff(progress, "flow_failed")


def _call(lookup: LookupFn, request: LookupRequest, step: Lookup) -> LookupResult:
    """The lookup's answer with the step's fields picked out; a missing field makes it an error."""
    try:
        result = lookup(request)
    except Exception as exc:  # a lookup that breaks must not lose the customer: it is an error branch
        log.exception("lookup %s failed", request.name)
        return LookupResult(outcome="error", detail=type(exc).__name__)
    if result.outcome != "found":
        return result
    picked: dict[str, Any] = {}
    for variable, (path, optional) in step.fields.items():
        value: Any = result.data
        for part in path:
            value = value.get(part) if isinstance(value, Mapping) else None
        if value is None and not optional:
            return LookupResult(outcome="error", detail=f"the response has no {'.'.join(path)}")
        if isinstance(value, str):
            value = value[:MAX_VALUE_CHARS]
        elif isinstance(value, list) and all(isinstance(v, str | int | float | bool) for v in value):
            value = [v[:MAX_VALUE_CHARS] if isinstance(v, str) else v for v in value[:20]]
        elif value is not None and not isinstance(value, int | float | bool):
            return LookupResult(outcome="error", detail=f"{'.'.join(path)} is not a text, number or list")
        picked[variable] = value
    return LookupResult(outcome="found", data=picked)


def render(template: Template, values: Mapping[str, Any]) -> str:
    """The text with its variables; spaces tidied, line breaks the author wrote kept."""
    lines = (" ".join(line.split()) for line in template.render(**values).splitlines())
    return "\n".join(line for line in lines if line)


def _say(flow: Flow, progress: Progress, kind: Literal["prompt", "answer", "handoff"], texts: Texts,
         reason: str | None = None) -> Said | None:
    """A step's text in the conversation's locale, or None when it cannot be rendered."""
    try:
        text = render(texts[progress.locale], variables_of(progress))
    except (TemplateError, KeyError) as exc:
        log.warning("flow %s could not render a %s: %s", flow.key, kind, exc)
        return None
    return Said(kind=kind, text=text[:MAX_TEXT], reason=reason) if text else None


def builtin_text(reason: str, locale: str) -> str:
    words = BUILTIN_TEXTS.get(locale.split("-")[0], BUILTIN_TEXTS["en"])
    return words.get(reason, words["flow_failed"])


def _builtin_handoff(progress: Progress, reason: str) -> Said:
    progress.step, progress.outcome = None, reason
    return Said(kind="handoff", text=builtin_text(reason, progress.locale), reason=reason)


# ---------------------------------------------------------------- the lookup over HTTP


def lookup_body(request: LookupRequest, *, now: datetime) -> str:
    """The JSON a lookup receives: the Standard Webhooks envelope (type, timestamp, data)."""
    return webhooks.body_for(LOOKUP_EVENT, {
        "lookup": request.name, "flow": request.flow, "step": request.step,
        "conversation_id": request.conversation_id, "market": request.market, "locale": request.locale,
        "slots": dict(request.slots), "customer": request.customer.as_json() if request.customer else None}, now=now)


def http_lookup(settings: Settings, *, now: datetime, budget_seconds: float = LOOKUP_BUDGET_SECONDS,
                timer: Callable[[], float] = time.monotonic) -> LookupFn:
    """The configured lookups, called over HTTP: signed, with a short timeout, the answer read as
    JSON. Never raises: a 404 is ``not_found``; a timeout, a refused connection, another status or
    a body that is not a JSON object (at most ``MAX_RESPONSE_BYTES``) is an ``error`` with the reason.

    One per customer message: its calls share ``budget_seconds`` from the first one on (each call's
    timeout is the setting or what is left, the smaller; an answer still arriving when it is spent is
    a timeout; once spent, a call is an error without a request), because they run while the
    request's transaction is open."""
    deadline: list[float] = []

    def call(request: LookupRequest) -> LookupResult:
        url = settings.bot_lookups.get(request.name)
        if url is None:
            return LookupResult(outcome="error", detail="not configured")
        if not deadline:
            deadline.append(timer() + budget_seconds)
        left = deadline[0] - timer()
        if left <= 0:
            return LookupResult(outcome="error", detail="time budget spent")
        body = lookup_body(request, now=now)
        headers = webhooks.headers_for(settings.bot_lookup_secret, f"msg_{uuid.uuid4().hex}", int(now.timestamp()),
                                       body) | {"user-agent": "TrustDesk-Lookups/1", "accept": "application/json"}
        timeout = min(settings.bot_lookup_timeout_seconds, left)
        try:
            with httpx.Client(timeout=timeout, follow_redirects=False) as client, \
                    client.stream("POST", url, content=body.encode(), headers=headers) as response:
                if response.status_code == 404:
                    return LookupResult(outcome="not_found", detail="HTTP 404")
                if not 200 <= response.status_code < 300:
                    return LookupResult(outcome="error", detail=f"HTTP {response.status_code}")
                content = b""
                for chunk in response.iter_bytes():
                    content += chunk
                    if len(content) > MAX_RESPONSE_BYTES:
                        return LookupResult(outcome="error", detail="response too large")
                    if timer() > deadline[0]:  # each read has a timeout; a slow trickle has the budget
                        return LookupResult(outcome="error", detail="timeout")
        except httpx.TimeoutException:
            return LookupResult(outcome="error", detail="timeout")
        except httpx.HTTPError as exc:
            return LookupResult(outcome="error", detail=type(exc).__name__)
        try:
            data = json.loads(content)
        except (ValueError, RecursionError):  # RecursionError: nested deeper than the parser goes
            return LookupResult(outcome="error", detail="not JSON")
        if not isinstance(data, dict):
            return LookupResult(outcome="error", detail="not a JSON object")
        return LookupResult(outcome="found", data=data)

    return call


@dataclass(frozen=True)
class Guide:
    """What the bot needs to run flows: the flows, and how to look things up."""

    flows: Catalogue
    lookup: LookupFn


def guide(settings: Settings, *, now: datetime) -> Guide:
    """For one customer message (the lookups' time budget is the message's)."""
    return Guide(flows=catalogue(settings), lookup=http_lookup(settings, now=now))


def check_folder(folder: Path, *, lookups: Mapping[str, str], secret: str) -> list[str]:
    """One line per flow: loaded, or why not (for operators checking a folder before deploying it)."""
    loaded = load_folder(folder, lookups=lookups, secret=secret)
    lines = [f"ok    {f.file}: {f.key} ({len(f.steps)} steps, {', '.join(f.locales)})" for f in loaded.flows]
    return lines + [f"error {p.detail}" for p in loaded.problems]


def main(argv: Iterable[str] | None = None) -> int:
    """``python -m trustdesk.knowledge.flows [FOLDER]``: check the flows with the current settings."""
    args = list(sys.argv[1:] if argv is None else argv)
    settings = Settings()
    folder = Path(args[0]) if args else flows_folder(settings)
    lines = check_folder(folder, lookups=settings.bot_lookups, secret=settings.bot_lookup_secret)
    print("\n".join(lines) if lines else f"no flows in {folder}")
    return 1 if any(line.startswith("error") for line in lines) else 0


if __name__ == "__main__":
    raise SystemExit(main())
