"""Rendering response templates: the variables, the sandbox, the checks made at save time and the
locale a case's text is taken in.

A template's text per locale is a small Jinja2 text template rendered in an immutable sandbox. It is
checked when it is saved: its syntax, the constructs it uses (text, variables, ``{% if %}`` on whether
variables have a value, and a few filters with literal arguments: no loops, calls, comparisons or
attribute access), the variables it uses (only the known ones below), then a trial run of every branch
at once (each ``{% if %}``'s body, its ``{% elif %}`` and ``{% else %}`` bodies all rendered), with every
value present and with every value missing. As a condition only asks whether a value is there and no
filter can fail on a value nor multiply its length, that trial covers every text the template can give.
Rendering at send time still stops past ``MAX_RENDERED`` characters, and any failure there (a text saved
before these rules) is a ``RenderFailed``, never a crash.

A variable the case has no value for (no order ID in its fields, no running SLA clock) renders as
``[[order_id]]`` and is reported as missing, so the agent fills it in; no filter changes it (only
``default`` replaces it). ``{% if order_id %}`` is false for a missing value and
``{{ order_id|default("your order") }}`` says something else instead, for templates that can do without.

The text used on a case is the case language's, else its base language's (es-MX -> es), else the
template's default locale's.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Collection, Generator, Mapping, Sequence
from datetime import datetime
from functools import lru_cache
from typing import Any, NamedTuple
from zoneinfo import ZoneInfo

from jinja2 import StrictUndefined, Template, TemplateSyntaxError, Undefined, meta, nodes
from jinja2 import filters as jinja_filters
from jinja2.sandbox import ImmutableSandboxedEnvironment
from sqlalchemy.orm import Session

from trustdesk.cases.models import Case, Party
from trustdesk.core import i18n
from trustdesk.core.errors import Conflict, Invalid
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
MARKER = re.compile(r"\[\[([A-Za-z_]{1,40})\]\]")


# ---------------------------------------------------------------- the sandbox


class MissingValue(Undefined):
    """A known variable the case has no value for: prints as ``[[name]]`` (never as a silent blank),
    is false in ``{% if %}``, goes through every filter unchanged and is replaced by ``|default(...)``."""

    __slots__ = ()

    def __str__(self) -> str:
        return f"[[{self._undefined_name}]]"


class RenderFailed(Conflict):
    """A template's text cannot be rendered (for a case: longer than ``MAX_RENDERED`` characters, or an
    error in a text saved before the save-time checks were what they are). 409; callers that render many
    templates (the picker, suggested replies) catch it and leave that template out."""


class _TooLong(Exception):
    pass


def _keeps_missing(apply: Callable[[str], str]) -> Callable[[Any], Any]:
    def run(value: Any) -> Any:
        return value if isinstance(value, Undefined) else apply(str(value))
    return run


def _default(value: Any, fallback: str = "") -> Any:
    return fallback if isinstance(value, Undefined) else value


def _truncate(value: Any, length: int) -> Any:
    if isinstance(value, Undefined):
        return value
    return jinja_filters.do_truncate(ENV, str(value), length)


class _Filter(NamedTuple):
    function: Callable[..., Any]
    types: tuple[type, ...]  # its arguments' types: literals written in the template
    required: int  # how many of them must be there
    usage: str  # how it is written, shown to authors
    arguments: str  # its arguments in words


_NO_ARGUMENTS = "it takes no arguments"
_FILTERS: dict[str, _Filter] = {
    "default": _Filter(_default, (str,), 0, 'default("your order")', "at most one argument, a text in quotes"),
    "d": _Filter(_default, (str,), 0, 'd("your order")', "at most one argument, a text in quotes"),
    "upper": _Filter(_keeps_missing(jinja_filters.do_upper), (), 0, "upper", _NO_ARGUMENTS),
    "lower": _Filter(_keeps_missing(jinja_filters.do_lower), (), 0, "lower", _NO_ARGUMENTS),
    "title": _Filter(_keeps_missing(jinja_filters.do_title), (), 0, "title", _NO_ARGUMENTS),
    "capitalize": _Filter(_keeps_missing(jinja_filters.do_capitalize), (), 0, "capitalize", _NO_ARGUMENTS),
    "trim": _Filter(_keeps_missing(str.strip), (), 0, "trim", _NO_ARGUMENTS),
    "truncate": _Filter(_truncate, (int,), 1, "truncate(40)", "one argument, a whole number of characters"),
}
FILTERS = frozenset(_FILTERS)
# How each filter is written, for the form's help (``d`` is ``default`` again).
FILTER_USAGE = [f.usage for name, f in _FILTERS.items() if name != "d"]


def _environment() -> ImmutableSandboxedEnvironment:
    env = ImmutableSandboxedEnvironment(undefined=StrictUndefined, autoescape=False, keep_trailing_newline=True,
                                        auto_reload=False)
    env.globals.clear()  # no range(), lipsum(), namespace(): templates hold text, not programs
    env.filters = {name: f.function for name, f in _FILTERS.items()}
    env.tests = {}  # conditions ask whether a value is there: {% if name %}, never "is ..."
    return env


ENV = _environment()

_REFUSED_WORDS: dict[type[nodes.Node], str] = {
    nodes.For: "{% for %} loops", nodes.Call: "calling functions or methods", nodes.Macro: "macros",
    nodes.CallBlock: "{% call %} blocks", nodes.Assign: "{% set %}", nodes.AssignBlock: "{% set %}",
    nodes.Include: "{% include %}", nodes.Import: "{% import %}", nodes.FromImport: "{% import %}",
    nodes.Extends: "{% extends %}", nodes.Block: "{% block %}", nodes.FilterBlock: "{% filter %} blocks",
    nodes.With: "{% with %}", nodes.Getitem: "item access (name[...])", nodes.Compare: "comparisons (==, !=, <, in)",
    nodes.Test: "tests (is defined, is string…)", nodes.CondExpr: "inline if … else (use {% if %} … {% endif %})",
    nodes.And: "and / or outside {% if %}", nodes.Or: "and / or outside {% if %}", nodes.Not: "not outside {% if %}",
    nodes.BinExpr: "arithmetic", nodes.UnaryExpr: "arithmetic", nodes.List: "lists", nodes.Tuple: "lists",
    nodes.Dict: "dictionaries",
}
CONDITION_HELP = ("a condition asks whether variables have a value: {% if order_id %}, {% if not order_id %}, "
                  "joined with and / or")


def _refuse(node: nodes.Node, field: str) -> Invalid:
    attribute = node if isinstance(node, nodes.Getattr) else next(node.find_all(nodes.Getattr), None)
    if isinstance(attribute, nodes.Getattr):
        return Invalid(f"attribute access (.{attribute.attr}) cannot be used in a response template; use the "
                       "variables as they are", field=field, construct="attribute")
    words = next((w for kind, w in _REFUSED_WORDS.items() if isinstance(node, kind)),
                 f"this construct ({type(node).__name__})")
    return Invalid(f"{words} cannot be used in a response template: it holds text, variables, filters and "
                   "{% if %} only", field=field, construct=type(node).__name__.lower())


def _check_condition(node: nodes.Node, field: str) -> None:
    if isinstance(node, nodes.Name):
        return
    if isinstance(node, nodes.Not):
        _check_condition(node.node, field)
    elif isinstance(node, nodes.And | nodes.Or):
        _check_condition(node.left, field)
        _check_condition(node.right, field)
    elif isinstance(node, nodes.Compare | nodes.Test | nodes.Const | nodes.Filter | nodes.CondExpr):
        words = _REFUSED_WORDS.get(type(node), "filters and values")
        raise Invalid(f"{words} cannot be used in a response template's {{% if %}}: {CONDITION_HELP}",
                      field=field, construct="condition")
    else:
        raise _refuse(node, field)


def _check_filter(node: nodes.Filter, field: str) -> None:
    if node.name not in _FILTERS:
        raise Invalid(f"the filter |{node.name} is not available; use one of {', '.join(FILTER_USAGE)}",
                      field=field, construct="filter")
    spec = _FILTERS[node.name]
    if not isinstance(node.node, nodes.Name | nodes.Filter):
        raise Invalid(f"the filter |{node.name} applies to a variable, e.g. {{{{ order_id|{spec.usage} }}}}",
                      field=field, construct="filter")
    literal = all(isinstance(arg, nodes.Const) and type(arg.value) is kind
                  for arg, kind in zip(node.args, spec.types, strict=False))
    if (node.kwargs or node.dyn_args or node.dyn_kwargs or not spec.required <= len(node.args) <= len(spec.types)
            or not literal):
        raise Invalid(f"write the filter |{node.name} as |{spec.usage}: {spec.arguments}, written out",
                      field=field, construct="filter")
    if isinstance(node.node, nodes.Filter):
        _check_filter(node.node, field)


def _check_value(node: nodes.Node, field: str) -> None:
    if isinstance(node, nodes.Name | nodes.Const | nodes.TemplateData):
        return
    if isinstance(node, nodes.Concat):
        for part in node.nodes:
            _check_value(part, field)
    elif isinstance(node, nodes.Filter):
        _check_filter(node, field)
    else:
        raise _refuse(node, field)


def _check_statements(body: Sequence[nodes.Node], field: str) -> None:
    for node in body:
        if isinstance(node, nodes.Output):
            for part in node.nodes:
                _check_value(part, field)
        elif isinstance(node, nodes.If):
            _check_condition(node.test, field)
            _check_statements(node.body, field)
            _check_statements(node.elif_, field)
            _check_statements(node.else_, field)
        else:
            raise _refuse(node, field)


def _check_constructs(tree: nodes.Template, field: str) -> None:
    _check_statements(tree.body, field)


def _every_branch(body: Sequence[nodes.Node]) -> list[nodes.Node]:
    """The statements with each ``{% if %}`` replaced by all its bodies, one after the other."""
    flat: list[nodes.Node] = []
    for node in body:
        if isinstance(node, nodes.If):
            flat += _every_branch(node.body)
            for branch in node.elif_:
                flat += _every_branch(branch.body)
            flat += _every_branch(node.else_)
        else:
            flat.append(node)
    return flat


@lru_cache(maxsize=512)
def _compiled(source: str) -> Template:
    return ENV.from_string(source)


def _context(values: Mapping[str, str | None]) -> dict[str, Any]:
    return {name: values[name] if values.get(name) else MissingValue(name=name) for name in VARIABLES}


def _generate(template: Template, context: dict[str, Any], budget: int) -> str:
    """The text, produced piece by piece and abandoned once past ``budget`` characters."""
    parts: list[str] = []
    size = 0
    pieces = template.generate(context)
    try:
        for piece in pieces:
            size += len(piece)
            if size > budget:
                raise _TooLong
            parts.append(piece)
    finally:
        if isinstance(pieces, Generator):  # stop Jinja's generator now, not when it is collected
            pieces.close()
    return "".join(parts)


def _reason(error: Exception) -> str:
    return str(error).strip() or type(error).__name__


def missing_in(text: str) -> list[str]:
    """The known variables still shown as ``[[name]]`` in ``text`` (any letter case: a reply may have
    been edited by hand)."""
    return sorted({name.lower() for name in MARKER.findall(text) if name.lower() in VARIABLES})


def render_text(source: str, values: Mapping[str, str | None], *,
                budget: int = MAX_RENDERED) -> tuple[str, list[str]]:
    """``source`` rendered with ``values`` and the variables left missing in it. Never more than
    ``budget`` characters: past that, or on any error, ``RenderFailed``."""
    try:
        text = _generate(_compiled(source), _context(values), budget)
    except _TooLong as too_long:
        raise RenderFailed(f"the text would be longer than {budget} characters") from too_long
    except Exception as error:  # any failure of a stored text is reported, never a crash
        raise RenderFailed(f"the text cannot be rendered: {_reason(error)}") from error
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
    tree.body = _every_branch(tree.body)
    for values in (SAMPLE, {}):  # every branch at once, with every value present, then every value missing
        try:
            _generate(ENV.from_string(tree), _context(values), MAX_RENDERED)
        except _TooLong as too_long:
            raise Invalid(f"the rendered text is longer than {MAX_RENDERED} characters (counting every "
                          "{% if %} branch)", field=field) from too_long
        except Exception as error:  # whatever Jinja raises (AssertionError, TypeError…): the author's to fix
            raise Invalid(f"the text cannot be rendered: {_reason(error)}", field=field) from error
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
    return i18n.fallbacks(canonical_locale(requested) if requested else None, default_locale)


def pick_locale(available: Sequence[str], requested: str | None, default_locale: str) -> str:
    for candidate in locale_chain(requested, default_locale):
        if candidate in available:
            return candidate
    return default_locale



# ---------------------------------------------------------------- the values on a case


def _format_due(due: datetime, time_zone: str) -> str:
    local = due.astimezone(ZoneInfo(time_zone))
    return f"{local:%Y-%m-%d %H:%M} {local.tzname()}"


def _topic_namer(session: Session, key: str | None) -> Callable[[str], str | None]:
    """The case topic's name in a locale (one look-up of the topic, whatever the locales asked)."""
    if not key:
        return lambda _locale: None
    try:
        topic = catalogue.topic_by_key(session, key)
    except Invalid:  # a retired or unknown topic: its last part, in words
        words = key.rsplit(".", 1)[-1].replace("_", " ")
        return lambda _locale: words
    return lambda locale: catalogue.topic_name(topic, locale)


def case_values_in(session: Session, case: Case, *, actor: Actor, settings: Settings,
                   locales: Collection[str]) -> dict[str, dict[str, str | None]]:
    """Each variable's value on ``case`` (None: the case has none), for ``actor`` writing in each of
    ``locales``: the case is read once, whatever the number of locales."""
    party = session.get(Party, case.party_id)
    market = directory.market_by_id(session, case.market_id)
    team = directory.team_by_id(session, case.team_id) if case.team_id is not None else None
    due = sla_timers.next_due(session, [case.id]).get(case.id)
    order = next((str(case.custom_fields[k]).strip() for k in ORDER_FIELDS
                  if case.custom_fields.get(k) not in (None, "")), None)
    base = settings.base_url.rstrip("/")
    customer = party.display_name.strip() if party is not None else ""
    agent = actor.display_name.strip()
    values: dict[str, str | None] = {
        "customer_name": customer or None, "customer_first_name": customer.split()[0] if customer else None,
        "order_id": order or None, "sla_due": _format_due(due[1], market.time_zone) if due else None,
        "agent_name": agent or None, "agent_first_name": agent.split()[0] if agent else None,
        "case_reference": case.reference, "case_subject": case.subject,
        "case_url": f"{base}/help/cases/{case.reference}" if case.reference else None, "market": market.name,
        "topic": None, "team_name": team.name if team else None, "help_center_url": f"{base}/help",
    }
    topic = _topic_namer(session, case.topic)
    return {locale: values | {"topic": topic(locale)} for locale in locales}


def case_values(session: Session, case: Case, *, actor: Actor, settings: Settings,
                locale: str) -> dict[str, str | None]:
    """Each variable's value on ``case`` (None: the case has none), for ``actor`` writing in ``locale``."""
    return case_values_in(session, case, actor=actor, settings=settings, locales=[locale])[locale]
