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

    assert text == "Hi Ana, order [[order_id]] is due [[sla_due]]. Ref: your order"
    assert missing == ["order_id", "sla_due"]
    assert rendering.missing_in("All filled in, order BR-1") == []
    assert rendering.missing_in("Still [[order_id]] and [[not_a_variable]]") == ["order_id"]
    assert rendering.missing_in("Edited by hand: [[ORDER_ID]]") == ["order_id"]


@pytest.mark.parametrize("source", [
    "Order {{ order_id|truncate(5) }}",
    "Order {{ order_id|upper }}",
    "Order {{ order_id|title|truncate(3) }}",
    "Order {{ order_id|trim|capitalize }}",
    "Order {{ order_id|lower }}",
])
def test_no_filter_mangles_a_missing_value(source: str) -> None:
    rendering.check_body(source, field="bodies.en")

    text, missing = rendering.render_text(source, {})

    assert (text, missing) == ("Order [[order_id]]", ["order_id"])
    shown, none_missing = rendering.render_text(source, {"order_id": "br-204518837"})
    assert none_missing == [] and "[[" not in shown


def test_a_filter_applies_to_a_variable_so_nothing_hides_a_missing_one() -> None:
    assert "applies to a variable" in _refusal('{{ (order_id ~ "")|truncate(5) }}').detail
    assert "applies to a variable" in _refusal('{{ ("Order " ~ order_id)|upper }}').detail
    text, missing = rendering.render_text('{{ order_id|default("your order")|upper }}', {})
    assert (text, missing) == ("YOUR ORDER", [])


@pytest.mark.parametrize("source", [
    '{% if customer_name != "Alex Morgan" and customer_name is string %}'
    '{{ customer_name|replace("", customer_name)|replace("", customer_name) }}{% endif %}',
    '{% if customer_name != "Alex Morgan" %}x{% endif %}',
    '{% if order_id == "BR-1" %}x{% elif customer_name in "Alex" %}y{% endif %}',
    "{% if order_id is defined %}x{% endif %}",
    "{% if not customer_name is none %}x{% endif %}",
    '{% if order_id|default("") %}x{% endif %}',
    '{% if "yes" %}x{% endif %}',
])
def test_a_condition_only_asks_whether_a_value_is_there(source: str) -> None:
    error = _refusal(source)

    assert "cannot be used in a response template's {% if %}" in error.detail
    assert error.problem()["construct"] == "condition"


@pytest.mark.parametrize(("source", "words"), [
    ('{{ customer_name|replace("", customer_name) }}', "the filter |replace is not available"),
    ('{{ customer_name|replace("a", "b", "x") }}', "the filter |replace is not available"),
    ("{{ customer_name|center(100000) }}", "the filter |center is not available"),
    ("{{ customer_name|indent(100000) }}", "the filter |indent is not available"),
    ("{{ order_id|default(customer_name) }}", "write the filter |default as |default"),
    ('{{ order_id|default("x", true) }}', "write the filter |default as |default"),
    ("{{ customer_name|truncate(5.5) }}", "write the filter |truncate as |truncate(40)"),
    ("{{ customer_name|truncate(-1) }}", "write the filter |truncate as |truncate(40)"),
    ("{{ customer_name|truncate(order_id) }}", "write the filter |truncate as |truncate(40)"),
    ("{{ customer_name|truncate(length=5) }}", "write the filter |truncate as |truncate(40)"),
    ("{{ customer_name|truncate(5, true, 'x') }}", "write the filter |truncate as |truncate(40)"),
    ('{{ customer_name|upper("x") }}', "write the filter |upper as |upper: it takes no arguments"),
    ('{{ customer_name if order_id else "there" }}', "inline if … else"),
])
def test_only_filters_that_cannot_multiply_the_text_with_literal_arguments(source: str, words: str) -> None:
    assert words in _refusal(source).detail


def test_every_branch_is_tried_at_save_time_and_any_error_is_the_fields() -> None:
    # Neither all values present nor all missing takes this branch: it is tried all the same.
    hidden = _refusal("{% if customer_name and not order_id %}{{ customer_name|truncate(1) }}{% endif %}")
    assert hidden.detail == "the text cannot be rendered: expected length >= 3, got 1"
    plain = _refusal("Hi {{ customer_name|truncate(1) }}")  # AssertionError inside Jinja
    assert plain.detail == "the text cannot be rendered: expected length >= 3, got 1"
    # Each branch alone is short; all of them count, as any case may take any of them.
    branch = "{{ case_url }}" * 180
    long = _refusal(f"{{% if order_id %}}{branch}{{% elif agent_name %}}{branch}{{% else %}}{branch}{{% endif %}}")
    assert long.detail.startswith(f"the rendered text is longer than {rendering.MAX_RENDERED} characters")
    assert rendering.check_body(f"{{% if order_id %}}{branch}{{% endif %}}", field="bodies.en") == [
        "case_url", "order_id"]


def test_rendering_for_a_case_stops_at_the_budget_and_never_crashes() -> None:
    # Checked bodies, but the case's values are long: rendering stops past the budget instead of growing.
    source = "{{ case_subject }}" * 500
    rendering.check_body(source, field="bodies.en")
    text, _missing = rendering.render_text(source, {"case_subject": "x" * 40})
    assert len(text) == rendering.MAX_RENDERED == 20_000
    for subject in ("x" * 41, "x" * 1_000_000):
        with pytest.raises(rendering.RenderFailed) as too_long:
            rendering.render_text(source, {"case_subject": subject})
        assert too_long.value.status == 409
        assert too_long.value.detail == "the text would be longer than 20000 characters"

    # Texts saved before today's checks: any error is a RenderFailed, never an exception of Jinja's.
    for stored, reason in (('{{ customer_name|replace("a", "b", "x") }}', "No filter named 'replace'"),
                           ("{{ customer_name|truncate(1) }}", "expected length >= 3, got 1"),
                           ("{% if customer_name is string %}x{% endif %}", "No test named 'string'")):
        with pytest.raises(rendering.RenderFailed) as failed:
            rendering.render_text(stored, rendering.SAMPLE)
        assert reason in failed.value.detail, failed.value.detail


def test_the_locale_chain_is_case_language_then_base_then_default() -> None:
    assert rendering.locale_chain("es-MX", "en") == ["es-MX", "es", "en"]
    assert rendering.locale_chain("es", "es") == ["es"]
    assert rendering.pick_locale(["en", "es"], "es-MX", "en") == "es"
    assert rendering.pick_locale(["en", "es", "es-MX"], "es-MX", "en") == "es-MX"
    assert rendering.pick_locale(["en", "es"], "id", "en") == "en"
    assert rendering.normalize_locale("ES_mx", field="locale") == "es-MX"
    with pytest.raises(Invalid):
        rendering.normalize_locale("spanish", field="locale")
