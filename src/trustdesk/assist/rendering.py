"""Rendering response templates: the variables, the sandbox, the checks made at save time and the
locale a case's text is taken in.

A template's text per locale is a small Jinja2 text template rendered in an immutable sandbox. It is
checked when it is saved, never when it is sent: its syntax, the constructs it uses (text, variables,
``{% if %}`` and a few filters: no loops, calls or attribute access), the variables it uses (only the
known ones below), then a trial run with every value present and with every value missing. What passes
renders on any case.

A variable the case has no value for (no order ID in its fields, no running SLA clock) renders as
``[[order_id]]`` and is reported as missing, so the agent fills it in; ``{% if order_id %}`` is false
for a missing value and ``{{ order_id|default("your order") }}`` replaces it, for templates that can
do without.

The text used on a case is the case language's, else its base language's (es-MX -> es), else the
template's default locale's.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from datetime import datetime
from functools import lru_cache
from typing import Any
from zoneinfo import ZoneInfo

from jinja2 import StrictUndefined, Template, TemplateError, TemplateSyntaxError, Undefined, meta, nodes
from jinja2.sandbox import ImmutableSandboxedEnvironment
from sqlalchemy.orm import Session

from trustdesk.cases.models import Case, Party
from trustdesk.core.errors import Invalid
from trustdesk.core.identity import Actor
from trustdesk.core.settings import Settings
from trustdesk.directory import catalogue
from trustdesk.directory import service as directory
from trustdesk.sla import timers as sla_timers

LOCALE = re.compile(r"^[a-z]{2,3}(-[A-Z]{2})?$")
MAX_BODY = 10_000
MAX_RENDERED = 20_000

# The variables a template may use, with what each holds (shown to template authors).
VARIABLES: dict[str, str] = {
    "customer_name": "The customer's name, as the case has it",
    "customer_first_name": "The first word of the customer's name",
    "order_id": "The order ID from the case's fields (order_id); missing when the case has none",
    "sla_due": "When the case's next service-level target falls due, in the market's local time",
    "agent_name": "Your name: the agent who uses the template",
    "agent_first_name": "Your first name",
    "case_reference": "The case's reference, e.g. ID-2026-000123",
    "case_subject": "The case's subject line",
    "case_url": "The case's page in the help center, where the customer follows it",
    "market": "The market's name, e.g. Spain",
    "topic": "The case's topic, named in the reply's language",
    "team_name": "The team working the case",
    "help_center_url": "The help center's address",
}
# Made-up values for the preview and the trial run at save time.
SAMPLE: dict[str, str] = {
    "customer_name": "Alex Morgan", "customer_first_name": "Alex", "order_id": "BR-204518837",
    "sla_due": "2026-03-02 17:00 EST", "agent_name": "Sam Rivera", "agent_first_name": "Sam",
    "case_reference": "ID-2026-000123", "case_subject": "Where is my order?",
    "case_url": "https://support.example.com/help/cases/ID-2026-000123", "market": "United States",
    "topic": "Track an order", "team_name": "T1 US", "help_center_url": "https://support.example.com/help",
}
# The case fields an order ID is read from, in order.
ORDER_FIELDS = ("order_id", "order_number", "order")
FILTERS = frozenset({"default", "d", "upper", "lower", "title", "capitalize", "trim", "truncate", "replace"})
TESTS = frozenset({"defined", "undefined", "none", "string"})
MARKER = re.compile(r"\[\[([A-Za-z_]{1,40})\]\]")


# ---------------------------------------------------------------- the sandbox


class MissingValue(Undefined):
    """A known variable the case has no value for: prints as ``[[name]]`` (never as a silent blank),
    is false in ``{% if %}`` and is replaced by ``|default(...)``."""

    __slots__ = ()

    def __str__(self) -> str:
        return f"[[{self._undefined_name}]]"


def _environment() -> ImmutableSandboxedEnvironment:
    env = ImmutableSandboxedEnvironment(undefined=StrictUndefined, autoescape=False, keep_trailing_newline=True,
                                        auto_reload=False)
    env.globals.clear()  # no range(), lipsum(), namespace(): templates hold text, not programs
    env.filters = {name: f for name, f in env.filters.items() if name in FILTERS}
    env.tests = {name: t for name, t in env.tests.items() if name in TESTS}
    return env


ENV = _environment()

_ALLOWED_NODES: tuple[type[nodes.Node], ...] = (
    nodes.Template, nodes.Output, nodes.TemplateData, nodes.Name, nodes.Const, nodes.If, nodes.Filter, nodes.Test,
    nodes.Not, nodes.And, nodes.Or, nodes.Compare, nodes.Operand, nodes.CondExpr, nodes.Concat, nodes.Keyword,
)
_REFUSED_WORDS: dict[type[nodes.Node], str] = {
    nodes.For: "{% for %} loops", nodes.Call: "calling functions or methods", nodes.Macro: "macros",
    nodes.CallBlock: "{% call %} blocks", nodes.Assign: "{% set %}", nodes.AssignBlock: "{% set %}",
    nodes.Include: "{% include %}", nodes.Import: "{% import %}", nodes.FromImport: "{% import %}",
    nodes.Extends: "{% extends %}", nodes.Block: "{% block %}", nodes.FilterBlock: "{% filter %} blocks",
    nodes.With: "{% with %}", nodes.Getitem: "item access (name[...])", nodes.BinExpr: "arithmetic",
    nodes.UnaryExpr: "arithmetic", nodes.List: "lists", nodes.Tuple: "lists", nodes.Dict: "dictionaries",
}


def _check_constructs(tree: nodes.Template, field: str) -> None:
    for node in tree.find_all(nodes.Node):
        if isinstance(node, nodes.Getattr):
            raise Invalid(f"attribute access (.{node.attr}) cannot be used in a response template; use the "
                          "variables as they are", field=field, construct="attribute")
        if not isinstance(node, _ALLOWED_NODES):
            words = next((w for kind, w in _REFUSED_WORDS.items() if isinstance(node, kind)),
                         f"this construct ({type(node).__name__})")
            raise Invalid(f"{words} cannot be used in a response template: it holds text, variables and "
                          "{% if %} only", field=field, construct=type(node).__name__.lower())
        if isinstance(node, nodes.Filter) and node.name not in FILTERS:
            raise Invalid(f"the filter |{node.name} is not available; use one of {', '.join(sorted(FILTERS))}",
                          field=field, construct="filter")
        if isinstance(node, nodes.Test) and node.name not in TESTS:
            raise Invalid(f"the test 'is {node.name}' is not available; use one of {', '.join(sorted(TESTS))}",
                          field=field, construct="test")


@lru_cache(maxsize=512)
def _compiled(source: str) -> Template:
    return ENV.from_string(source)


def _context(values: Mapping[str, str | None]) -> dict[str, Any]:
    return {name: values[name] if values.get(name) else MissingValue(name=name) for name in VARIABLES}


def missing_in(text: str) -> list[str]:
    """The known variables still shown as ``[[name]]`` in ``text`` (any letter case: a filter such as
    |upper may have changed it)."""
    return sorted({name.lower() for name in MARKER.findall(text) if name.lower() in VARIABLES})


def render_text(source: str, values: Mapping[str, str | None]) -> tuple[str, list[str]]:
    """``source`` rendered with ``values`` (a checked body: see ``check_body``), and the variables
    left missing in it."""
    text = _compiled(source).render(_context(values))
    return text, missing_in(text)


def check_body(source: str, *, field: str) -> list[str]:
    """Refuse a body that would not render on every case; return the variables it uses."""
    if not source.strip():
        raise Invalid("write the text of the reply", field=field)
    if len(source) > MAX_BODY:
        raise Invalid(f"must be at most {MAX_BODY} characters", field=field)
    try:
        tree = ENV.parse(source)
    except TemplateSyntaxError as error:
        raise Invalid(f"syntax error on line {error.lineno}: {error.message}", field=field,
                      line=error.lineno) from error
    _check_constructs(tree, field)
    used = meta.find_undeclared_variables(tree)
    unknown = sorted(used - VARIABLES.keys())
    if unknown:
        names = ", ".join("{{ " + name + " }}" for name in unknown)
        raise Invalid(f"unknown variable{'s' if len(unknown) > 1 else ''} {names}; the variables are "
                      f"{', '.join(VARIABLES)}", field=field, variables=unknown)
    for values in (SAMPLE, {}):  # every value present, then every value missing
        try:
            text, _missing = render_text(source, values)
        except (TemplateError, ArithmeticError, TypeError, ValueError) as error:
            raise Invalid(f"the text cannot be rendered: {error}", field=field) from error
        if len(text) > MAX_RENDERED:
            raise Invalid(f"the rendered text is longer than {MAX_RENDERED} characters", field=field)
    return sorted(used)


# ---------------------------------------------------------------- locales


def canonical_locale(value: str) -> str:
    """``es_mx`` or ``ES-mx`` -> ``es-MX`` (a case's language may be written either way)."""
    base, _, region = value.strip().replace("_", "-").partition("-")
    return base.lower() + (f"-{region.upper()}" if region else "")


def normalize_locale(value: str, *, field: str) -> str:
    """A template's locale, canonical; anything that is not a language code is refused."""
    code = canonical_locale(value)
    if not LOCALE.match(code):
        raise Invalid("use a language code such as en, es or es-MX", field=field)
    return code


def locale_chain(requested: str | None, default_locale: str) -> list[str]:
    """Where a case's text is looked for: the case language, its base language, the template's default."""
    chain: list[str] = []
    requested = canonical_locale(requested) if requested else None
    for candidate in (requested, requested.split("-", 1)[0] if requested else None, default_locale):
        if candidate and candidate not in chain:
            chain.append(candidate)
    return chain


def pick_locale(available: Sequence[str], requested: str | None, default_locale: str) -> str:
    for candidate in locale_chain(requested, default_locale):
        if candidate in available:
            return candidate
    return default_locale



# ---------------------------------------------------------------- the values on a case


def _format_due(due: datetime, time_zone: str) -> str:
    local = due.astimezone(ZoneInfo(time_zone))
    return f"{local:%Y-%m-%d %H:%M} {local.tzname()}"


def _topic_words(session: Session, key: str | None, locale: str) -> str | None:
    if not key:
        return None
    try:
        return catalogue.topic_name(catalogue.topic_by_key(session, key), locale)
    except Invalid:  # a retired or unknown topic: its last part, in words
        return key.rsplit(".", 1)[-1].replace("_", " ")


def case_values(session: Session, case: Case, *, actor: Actor, settings: Settings,
                locale: str) -> dict[str, str | None]:
    """Each variable's value on ``case`` (None: the case has none), for ``actor`` writing in ``locale``."""
    party = session.get(Party, case.party_id)
    market = directory.market_by_id(session, case.market_id)
    team = directory.team_by_id(session, case.team_id) if case.team_id is not None else None
    due = sla_timers.next_due(session, [case.id]).get(case.id)
    order = next((str(case.custom_fields[k]).strip() for k in ORDER_FIELDS
                  if case.custom_fields.get(k) not in (None, "")), None)
    base = settings.base_url.rstrip("/")
    customer = party.display_name.strip() if party is not None else ""
    agent = actor.display_name.strip()
    return {
        "customer_name": customer or None, "customer_first_name": customer.split()[0] if customer else None,
        "order_id": order or None, "sla_due": _format_due(due[1], market.time_zone) if due else None,
        "agent_name": agent or None, "agent_first_name": agent.split()[0] if agent else None,
        "case_reference": case.reference, "case_subject": case.subject,
        "case_url": f"{base}/help/cases/{case.reference}" if case.reference else None, "market": market.name,
        "topic": _topic_words(session, case.topic, locale), "team_name": team.name if team else None,
        "help_center_url": f"{base}/help",
    }
