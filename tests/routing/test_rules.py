"""The rule language: validation names the bad field, evaluation order, stop, and the loop guard."""

from __future__ import annotations

from typing import Any

import pytest

from trustdesk.core.errors import Invalid
from trustdesk.routing import rules


def _facts(**overrides: Any) -> rules.Facts:
    values: dict[str, Any] = {"channel": "web_form", "market": "US", "region": "NA", "language": "en",
                              "party_kind": "buyer", "subject": "Where is my parcel?",
                              "body": "Order 123 has not arrived", "tags": [], "custom_fields": {}}
    return rules.Facts(**(values | overrides))


def _rule(rule_id: str, when: list[dict[str, Any]], then: dict[str, Any], **extra: Any) -> dict[str, Any]:
    return {"id": rule_id, "when": when, "then": then} | extra


@pytest.mark.parametrize(("raw", "field"), [
    ({"not": "a list"}, "rules"),
    (["a rule?"], "rules[0]"),
    ([_rule("Bad Id", [], {"team": "t2"})], "rules[0].id"),
    ([_rule("a", [], {"team": "t2"}), _rule("a", [], {"team": "t2"})], "rules[1].id"),
    ([_rule("a", [], {"team": "t2"}, colour="red")], "rules[0].colour"),
    ([_rule("a", [{"field": "mood", "op": "eq", "value": "x"}], {"team": "t2"})], "rules[0].when[0].field"),
    ([_rule("a", [{"field": "market", "op": "like", "value": "x"}], {"team": "t2"})], "rules[0].when[0].op"),
    ([_rule("a", [{"field": "market", "op": "eq"}], {"team": "t2"})], "rules[0].when[0].value"),
    ([_rule("a", [{"field": "market", "op": "in", "value": "US"}], {"team": "t2"})], "rules[0].when[0].value"),
    ([_rule("a", [{"field": "custom_fields.amount", "op": "gt", "value": "lots"}], {"team": "t2"})],
     "rules[0].when[0].value"),
    ([_rule("a", [{"field": "text", "op": "matches", "value": "(unclosed"}], {"team": "t2"})],
     "rules[0].when[0].value"),
    ([_rule("a", [{"field": "text", "op": "matches", "value": "x" * 301}], {"team": "t2"})],
     "rules[0].when[0].value"),
    ([_rule("a", [{"field": "market", "op": "under", "value": "US"}], {"team": "t2"})], "rules[0].when[0].op"),
    ([_rule("a", [{"field": "tags", "op": "eq", "value": "vip"}], {"team": "t2"})], "rules[0].when[0].op"),
    ([_rule("a", [{"field": "market", "op": "exists", "value": "US"}], {"team": "t2"})], "rules[0].when[0].value"),
    ([_rule("a", [{"any": [{"field": "x", "op": "eq", "value": 1}]}], {"team": "t2"})],
     "rules[0].when[0].any[0].field"),
    ([_rule("a", [{"any": []}], {"team": "t2"})], "rules[0].when[0].any"),
    ([_rule("a", [], {})], "rules[0].then"),
    ([_rule("a", [], {"escalate": True})], "rules[0].then.escalate"),
    ([_rule("a", [], {"priority": "asap"})], "rules[0].then.priority"),
    ([_rule("a", [], {"add_tags": "vip"})], "rules[0].then.add_tags"),
    ([_rule("a", [], {"team": "t2"}, stop="yes")], "rules[0].stop"),
])
def test_invalid_rules_name_the_field(raw: Any, field: str) -> None:
    with pytest.raises(Invalid) as caught:
        rules.parse(raw)
    assert caught.value.field == field


def test_conditions_and_actions() -> None:
    parsed = rules.parse([
        _rule("refund-words", [{"field": "text", "op": "matches", "value": r"\brefund(s|ed)?\b"}],
              {"topic": "payments.refund", "add_tags": ["refund"]}),
        _rule("big-refunds", [{"field": "topic", "op": "under", "value": "payments"},
                              {"field": "custom_fields.amount", "op": "gte", "value": 500}],
              {"team": "t2", "priority": "high"}, stop=True),
        _rule("never", [], {"priority": "low"}),
    ])
    small = _facts(body="I want a REFUND for order 9", custom_fields={"amount": "40"})
    outcome = rules.evaluate(parsed, small)
    assert [r.id for r in outcome.fired] == ["refund-words", "never"]
    assert (small.topic, small.team, small.priority, small.tags) == ("payments.refund", None, "low", ["refund"])

    big = _facts(body="Refunded? Not yet.", custom_fields={"amount": 900})
    outcome = rules.evaluate(parsed, big)
    assert [r.id for r in outcome.fired] == ["refund-words", "big-refunds"]
    assert outcome.stopped_by == "big-refunds"
    assert (big.topic, big.team, big.priority) == ("payments.refund", "t2", "high")

    other = _facts(body="Refundable deposit", market="ES")  # \b keeps "refundable" out
    assert [r.id for r in rules.evaluate(parsed, other).fired] == ["never"]


def test_any_groups_lists_missing_values_and_case_insensitivity() -> None:
    parsed = rules.parse([_rule("spanish-us", [
        {"field": "market", "op": "eq", "value": "us"},
        {"any": [{"field": "language", "op": "in", "value": ["ES", "pt"]}, {"field": "tags", "op": "contains",
                                                                             "value": "Spanish"}]},
        {"field": "topic", "op": "missing"},
        {"field": "custom_fields.order", "op": "ne", "value": "X"},
    ], {"team": "us-es"})])
    assert rules.evaluate(parsed, _facts(language="es")).fired
    assert rules.evaluate(parsed, _facts(tags=["spanish"])).fired
    assert not rules.evaluate(parsed, _facts(language="en")).fired
    assert not rules.evaluate(parsed, _facts(language="es", topic="orders")).fired


def test_a_change_restarts_from_the_top_so_earlier_rules_see_it() -> None:
    parsed = rules.parse([
        _rule("route-payments", [{"field": "topic", "op": "eq", "value": "payments"}], {"team": "payments-t2"}),
        _rule("classify", [{"field": "text", "op": "contains", "value": "card"}], {"topic": "payments"}),
    ])
    facts = _facts(body="my card was charged twice")
    outcome = rules.evaluate(parsed, facts)
    assert [r.id for r in outcome.fired] == ["classify", "route-payments"]
    assert facts.team == "payments-t2"


def test_a_pattern_that_backtracks_forever_gives_up_instead_of_holding_intake() -> None:
    parsed = rules.parse([_rule("slow", [{"field": "body", "op": "matches", "value": "(a|a)+$"}],
                                {"add_tags": ["x"]}),
                          _rule("after", [], {"priority": "high"})])
    facts = _facts(body="a" * 40 + "b")  # 2**40 paths for a backtracking engine
    outcome = rules.evaluate(parsed, facts)
    assert [r.id for r in outcome.fired] == ["after"] and facts.tags == []
    assert rules.evaluate(parsed, _facts(body="aaaa")).fired[0].id == "slow"  # and it still matches


def test_loop_guard_names_rules_that_undo_each_other_and_the_rest_still_run() -> None:
    parsed = rules.parse([
        _rule("tag-vip", [{"field": "tags", "op": "missing"}], {"add_tags": ["vip"]}),
        _rule("untag-vip", [{"field": "tags", "op": "contains", "value": "vip"}], {"remove_tags": ["vip"]}),
        _rule("retag", [{"field": "tags", "op": "missing"}], {"add_tags": ["vip"]}),
        _rule("after", [], {"priority": "high"}),
    ])
    facts = _facts()
    outcome = rules.evaluate(parsed, facts)
    # tag-vip adds, untag-vip removes (back to the start: a loop, named); each fires once, so
    # retag adds the tag again and the rule after them still runs.
    assert outcome.loop == ["tag-vip", "untag-vip"]
    assert [r.id for r in outcome.fired] == ["tag-vip", "untag-vip", "retag", "after"]
    assert (facts.tags, facts.priority) == (["vip"], "high")


def test_each_rule_fires_once_even_when_its_condition_holds_again() -> None:
    parsed = rules.parse([
        _rule("bump", [{"field": "priority", "op": "ne", "value": "urgent"}], {"priority": "urgent"}),
        _rule("calm", [{"field": "priority", "op": "eq", "value": "urgent"}], {"priority": "high"}),
    ])
    facts = _facts()
    outcome = rules.evaluate(parsed, facts)
    assert [r.id for r in outcome.fired] == ["bump", "calm"] and facts.priority == "high" and not outcome.loop


def test_outcome_says_what_each_rule_changed() -> None:
    parsed = rules.parse([_rule("tag", [], {"add_tags": ["t"]}), _rule("route", [], {"team": "t2", "priority": "high"}),
                          _rule("noop", [], {"priority": "high"})])
    outcome = rules.evaluate(parsed, _facts())
    assert [r["changed"] for r in outcome.refs] == [["tags"], ["priority", "team"], []]


def test_versions_carry_over_unchanged_rules_and_bump_changed_ones() -> None:
    first = rules.parse([_rule("a", [], {"priority": "high"}), _rule("b", [], {"team": "t2"})])
    second = rules.parse([_rule("a", [], {"priority": "high"}, name="A renamed"),
                          _rule("b", [], {"team": "t1"}), _rule("c", [], {"add_tags": ["x"]})], previous=first)
    assert [(r.id, r.version) for r in second] == [("a", 1), ("b", 2), ("c", 1)]
    stored = [rules.dump(r) for r in second]
    assert [(r.id, r.version) for r in rules.load(stored)] == [("a", 1), ("b", 2), ("c", 1)]
