"""The template language: checked at save time (syntax, variables, constructs), rendered in a sandbox,
missing values shown for the agent to fill in, and the locale fallback chain."""

from __future__ import annotations

import pytest
from jinja2.exceptions import SecurityError

from trustdesk.assist import rendering
from trustdesk.core.errors import Invalid

EVERY_VARIABLE = "\n".join(f"{name}={{{{ {name} }}}}" for name in rendering.VARIABLES)


def _refusal(source: str) -> Invalid:
    with pytest.raises(Invalid) as caught:
        rendering.check_body(source, field="bodies.es")
    assert caught.value.field == "bodies.es"
    return caught.value


def test_an_unknown_variable_is_refused_naming_it() -> None:
    error = _refusal("Hola {{ customer_name }}, tu pedido {{ order_no }} y {{ tracking }}")

    assert "{{ order_no }}" in error.detail and "{{ tracking }}" in error.detail
    assert error.problem()["variables"] == ["order_no", "tracking"]
    assert error.problem()["errors"] == [{"field": "bodies.es", "message": error.detail}]


def test_a_syntax_error_is_refused_with_its_line() -> None:
    error = _refusal("Hi {{ customer_name }},\n\nYour order {{ order_id ")

    assert error.detail.startswith("syntax error on line 3")
    assert _refusal("{% if order_id %}no end").detail.startswith("syntax error on line 1")


@pytest.mark.parametrize("source", [
    "{{ ''.__class__ }}",
    "{{ customer_name.__class__.__mro__ }}",
    "{{ customer_name.upper() }}",
    "{{ customer_name['__class__'] }}",
    "{% for x in range(100000) %}{% for y in range(100000) %}x{% endfor %}{% endfor %}",
    "{{ lipsum() }}",
    "{% set x = 1 %}",
    "{% include 'layout/base.html' %}",
    "{{ customer_name|attr('__class__') }}",
    "{{ 'x' * 100000000 }}",
])
def test_code_is_refused_at_save_time(source: str) -> None:
    error = _refusal(source)

    assert "cannot be used in a response template" in error.detail or "is not available" in error.detail


def test_the_sandbox_refuses_internals_even_past_the_checks() -> None:
    # The environment itself, without the save-time checks: attribute access to internals is a SecurityError.
    for source in ("{{ ''.__class__.__mro__ }}", "{{ customer_name.__class__.__base__.__subclasses__() }}"):
        with pytest.raises(SecurityError):
            rendering.ENV.from_string(source).render(customer_name="Ana")
    assert "range" not in rendering.ENV.globals and "attr" not in rendering.ENV.filters


def test_every_variable_renders() -> None:
    rendering.check_body(EVERY_VARIABLE, field="bodies.en")

    text, missing = rendering.render_text(EVERY_VARIABLE, rendering.SAMPLE)

    assert missing == []
    assert text.splitlines() == [f"{name}={rendering.SAMPLE[name]}" for name in rendering.VARIABLES]


def test_a_missing_value_is_shown_and_reported_never_a_silent_blank() -> None:
    source = ("Hi {{ customer_first_name }}, order {{ order_id }} is due {{ sla_due|upper }}."
              "{% if order_id %} (tracked){% endif %} Ref: {{ order_id|default('your order') }}")
    rendering.check_body(source, field="bodies.en")

    text, missing = rendering.render_text(source, {"customer_first_name": "Ana", "sla_due": None})

    assert text == "Hi Ana, order [[order_id]] is due [[SLA_DUE]]. Ref: your order"
    assert missing == ["order_id", "sla_due"]
    assert rendering.missing_in("All filled in, order BR-1") == []
    assert rendering.missing_in("Still [[order_id]] and [[not_a_variable]]") == ["order_id"]


def test_the_locale_chain_is_case_language_then_base_then_default() -> None:
    assert rendering.locale_chain("es-MX", "en") == ["es-MX", "es", "en"]
    assert rendering.locale_chain("es", "es") == ["es"]
    assert rendering.pick_locale(["en", "es"], "es-MX", "en") == "es"
    assert rendering.pick_locale(["en", "es", "es-MX"], "es-MX", "en") == "es-MX"
    assert rendering.pick_locale(["en", "es"], "id", "en") == "en"
    assert rendering.normalize_locale("ES_mx", field="locale") == "es-MX"
    with pytest.raises(Invalid):
        rendering.normalize_locale("spanish", field="locale")
