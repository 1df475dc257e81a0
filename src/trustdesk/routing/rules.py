"""The routing rule language: ordered condition -> action rules stored as data, never code.

A rule set is a list of rules, tried in order::

    - id: us-spanish-buyers                 # stable key: decisions and reports name it
      name: Spanish-speaking US buyers go to the Spanish line
      when:                                 # every condition must hold
        - {field: market, op: eq, value: US}
        - {field: language, op: eq, value: es}
        - any:                              # ... one of these
            - {field: channel, op: in, value: [in_app_chat, web_form]}
            - {field: tags, op: contains, value: vip}
      then: {team: us-buyers-es, priority: high, add_tags: [spanish]}
      stop: true                            # no later rule runs once this one fired

Fields: ``channel``, ``market``, ``region``, ``language``, ``party_kind``, ``subject``, ``body``,
``text`` (subject and body), ``topic``, ``priority``, ``tags`` and ``custom_fields.<key>``.
Operators: ``eq``, ``ne``, ``in``, ``not_in``, ``contains``, ``not_contains`` (case-insensitive
text, or membership for tags), ``matches`` (a regular expression, case-insensitive), ``under``
(the topic or one of its descendants), ``exists``, ``missing``, and ``gt``/``gte``/``lt``/``lte``
for numbers. Actions: ``topic``, ``team``, ``priority``, ``add_tags``, ``remove_tags``.

**Loop guard.** A rule that changes the topic, priority or tags makes evaluation start again
from the top, so an earlier rule can react to it (a rule may set a topic another rule routes).
Each rule fires at most once per case, so evaluation always ends; when a change brings the
case back to a state it was already in (rules undoing each other) the decision names the rules
caught in the loop, and the rules after them still run.

**Patterns** run with the third-party ``regex`` engine and a time limit per match: a pattern
that backtracks catastrophically on some text does not match it (and is logged), instead of
holding up intake.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import regex

from trustdesk.core import yamltext
from trustdesk.core.errors import Invalid

log = logging.getLogger(__name__)

RULE_ID = re.compile(r"^[a-z0-9][a-z0-9_-]{0,63}$")
TEXT_FIELDS = frozenset({"subject", "body", "text"})
SCALAR_FIELDS = frozenset({"channel", "market", "region", "language", "party_kind", "topic", "priority"})
FIELDS = TEXT_FIELDS | SCALAR_FIELDS | {"tags"}
CUSTOM_PREFIX = "custom_fields."
NUMBER_OPS = frozenset({"gt", "gte", "lt", "lte"})
LIST_OPS = frozenset({"in", "not_in"})
VALUELESS_OPS = frozenset({"exists", "missing"})
OPS = frozenset({"eq", "ne", "contains", "not_contains", "matches", "under"}) | NUMBER_OPS | LIST_OPS | VALUELESS_OPS
ACTIONS = frozenset({"topic", "team", "priority", "add_tags", "remove_tags"})
PRIORITIES = ("low", "normal", "high", "urgent")
MAX_RULES = 500
MAX_CONDITIONS = 50
MAX_PATTERN = 300
MAX_TEXT = 20_000  # text beyond this is not searched
MATCH_SECONDS = 0.05  # per pattern and text: past this the pattern does not match


@dataclass(frozen=True)
class Condition:
    field: str
    op: str
    value: Any = None
    pattern: regex.Pattern[str] | None = None
    any_of: tuple[Condition, ...] = ()  # an "any" group: the other attributes are unused


@dataclass(frozen=True)
class Rule:
    id: str
    version: int
    name: str
    when: tuple[Condition, ...]
    then: Mapping[str, Any]
    stop: bool
    enabled: bool

    def ref(self) -> dict[str, Any]:
        return {"id": self.id, "version": self.version, "name": self.name}


@dataclass
class Facts:
    """What rules see of a case, and the four things they may change."""

    channel: str
    market: str
    region: str | None
    language: str
    party_kind: str
    subject: str
    body: str
    topic: str | None = None
    priority: str = "normal"
    tags: list[str] = field(default_factory=list)
    custom_fields: Mapping[str, Any] = field(default_factory=dict)
    team: str | None = None

    def state(self) -> tuple[str | None, str, tuple[str, ...], str | None]:
        return (self.topic, self.priority, tuple(sorted(self.tags)), self.team)


@dataclass
class Outcome:
    fired: list[Rule]
    stopped_by: str | None = None
    loop: list[str] = field(default_factory=list)  # rule ids caught undoing each other
    changed: dict[str, list[str]] = field(default_factory=dict)  # rule id -> what it changed

    @property
    def refs(self) -> list[dict[str, Any]]:
        return [rule.ref() | {"changed": self.changed.get(rule.id, [])} for rule in self.fired]


# ---------------------------------------------------------------- parsing and validation


def parse(raw: Any, *, previous: Sequence[Rule] = ()) -> list[Rule]:
    """Check a rule set written as data and return it parsed; an error names the bad field.

    ``previous`` is the rule set in force: a rule keeps its version when unchanged and gets the
    next one when its conditions, actions or flags changed.
    """
    if not isinstance(raw, list):
        raise Invalid("must be a list of rules", field="rules")
    if len(raw) > MAX_RULES:
        raise Invalid(f"at most {MAX_RULES} rules", field="rules")
    before = {rule.id: rule for rule in previous}
    rules: list[Rule] = []
    seen: set[str] = set()
    for index, item in enumerate(raw):
        where = f"rules[{index}]"
        if not isinstance(item, Mapping):
            raise Invalid("must be an object with id, when and then", field=where)
        unknown = set(item) - {"id", "name", "when", "then", "stop", "enabled", "version"}
        if unknown:
            raise Invalid(f"unknown key {sorted(unknown)[0]!r}", field=f"{where}.{sorted(unknown)[0]}")
        rule_id = item.get("id")
        if not isinstance(rule_id, str) or not RULE_ID.match(rule_id):
            raise Invalid("must be 1-64 lowercase letters, digits, '-' or '_'", field=f"{where}.id")
        if rule_id in seen:
            raise Invalid(f"rule {rule_id!r} appears twice", field=f"{where}.id")
        seen.add(rule_id)
        name = item.get("name", rule_id)
        if not isinstance(name, str) or not name.strip() or len(name) > 200:
            raise Invalid("must be text of at most 200 characters", field=f"{where}.name")
        when = _conditions(item.get("when", []), f"{where}.when")
        then = _actions(item.get("then"), f"{where}.then")
        stop, enabled = item.get("stop", False), item.get("enabled", True)
        for key, flag in (("stop", stop), ("enabled", enabled)):
            if not isinstance(flag, bool):
                raise Invalid("must be true or false", field=f"{where}.{key}")
        draft = Rule(id=rule_id, version=1, name=name.strip(), when=when, then=then, stop=stop, enabled=enabled)
        old = before.get(rule_id)
        if old is not None:
            draft = Rule(id=rule_id, version=old.version if same(old, draft) else old.version + 1, name=draft.name,
                         when=when, then=then, stop=stop, enabled=enabled)
        rules.append(draft)
    return rules


def same(a: Rule, b: Rule) -> bool:
    """Equal in behaviour (a new name alone is not a new version)."""
    return dump(a) | {"name": "", "version": 0} == dump(b) | {"name": "", "version": 0}


def _conditions(raw: Any, where: str, *, depth: int = 0) -> tuple[Condition, ...]:
    if not isinstance(raw, list):
        raise Invalid("must be a list of conditions", field=where)
    if len(raw) > MAX_CONDITIONS:
        raise Invalid(f"at most {MAX_CONDITIONS} conditions", field=where)
    return tuple(_condition(item, f"{where}[{i}]", depth=depth) for i, item in enumerate(raw))


def _condition(raw: Any, where: str, *, depth: int) -> Condition:
    if not isinstance(raw, Mapping):
        raise Invalid("must be an object with field, op and value (or any)", field=where)
    if "any" in raw:
        if set(raw) != {"any"}:
            raise Invalid("an 'any' group holds nothing else", field=where)
        if depth >= 2:
            raise Invalid("'any' groups nest at most two deep", field=f"{where}.any")
        group = _conditions(raw["any"], f"{where}.any", depth=depth + 1)
        if not group:
            raise Invalid("must hold at least one condition", field=f"{where}.any")
        return Condition(field="any", op="any", any_of=group)
    unknown = set(raw) - {"field", "op", "value"}
    if unknown:
        raise Invalid(f"unknown key {sorted(unknown)[0]!r}", field=f"{where}.{sorted(unknown)[0]}")
    name, op = raw.get("field"), raw.get("op")
    if not isinstance(name, str) or not (name in FIELDS or (name.startswith(CUSTOM_PREFIX)
                                                              and len(name) > len(CUSTOM_PREFIX))):
        raise Invalid(f"unknown field {name!r}; one of {', '.join(sorted(FIELDS))} or custom_fields.<key>",
                      field=f"{where}.field")
    if op not in OPS:
        raise Invalid(f"unknown operator {op!r}; one of {', '.join(sorted(OPS))}", field=f"{where}.op")
    value = raw.get("value")
    if op in VALUELESS_OPS:
        if "value" in raw:
            raise Invalid(f"{op} takes no value", field=f"{where}.value")
        return Condition(field=name, op=op)
    if "value" not in raw:
        raise Invalid(f"{op} needs a value", field=f"{where}.value")
    if op in LIST_OPS:
        if not isinstance(value, list) or not value or not all(isinstance(v, str | int | float) for v in value):
            raise Invalid(f"{op} needs a non-empty list of values", field=f"{where}.value")
    elif op in NUMBER_OPS:
        if isinstance(value, bool) or not isinstance(value, int | float):
            raise Invalid(f"{op} needs a number", field=f"{where}.value")
    elif not isinstance(value, str | int | float) or isinstance(value, bool) or value == "":
        raise Invalid(f"{op} needs a non-empty text or number", field=f"{where}.value")
    if op == "under" and name != "topic":
        raise Invalid("'under' applies to the topic only", field=f"{where}.op")
    if name == "tags" and op not in ("contains", "not_contains", "exists", "missing"):
        raise Invalid("tags take contains, not_contains, exists or missing", field=f"{where}.op")
    if op == "matches":
        return Condition(field=name, op=op, value=value, pattern=_compile(str(value), f"{where}.value"))
    return Condition(field=name, op=op, value=value)


def _compile(pattern: str, where: str) -> regex.Pattern[str]:
    if len(pattern) > MAX_PATTERN:
        raise Invalid(f"a pattern holds at most {MAX_PATTERN} characters", field=where)
    try:
        return regex.compile(pattern, regex.IGNORECASE | regex.VERSION0)
    except regex.error as exc:
        raise Invalid(f"not a valid regular expression: {exc}", field=where) from exc


def _actions(raw: Any, where: str) -> dict[str, Any]:
    if not isinstance(raw, Mapping) or not raw:
        raise Invalid("must set at least one of " + ", ".join(sorted(ACTIONS)), field=where)
    unknown = set(raw) - ACTIONS
    if unknown:
        raise Invalid(f"unknown action {sorted(unknown)[0]!r}; one of {', '.join(sorted(ACTIONS))}",
                      field=f"{where}.{sorted(unknown)[0]}")
    actions: dict[str, Any] = {}
    for key in ("topic", "team"):
        if key in raw:
            if not isinstance(raw[key], str) or not raw[key]:
                raise Invalid(f"must be a {key} key", field=f"{where}.{key}")
            actions[key] = raw[key]
    if "priority" in raw:
        if raw["priority"] not in PRIORITIES:
            raise Invalid(f"must be one of {', '.join(PRIORITIES)}", field=f"{where}.priority")
        actions["priority"] = raw["priority"]
    for key in ("add_tags", "remove_tags"):
        if key in raw:
            tags = raw[key]
            if not isinstance(tags, list) or not tags or not all(isinstance(t, str) and 0 < len(t) <= 50
                                                                 for t in tags):
                raise Invalid("must be a non-empty list of tags (1-50 characters each)", field=f"{where}.{key}")
            actions[key] = list(dict.fromkeys(tags))
    return actions


def dump(rule: Rule) -> dict[str, Any]:
    """The rule as stored (the inverse of ``parse`` for one rule)."""
    return {"id": rule.id, "version": rule.version, "name": rule.name, "when": [_dump_condition(c) for c in rule.when],
            "then": dict(rule.then), "stop": rule.stop, "enabled": rule.enabled}


def _dump_condition(condition: Condition) -> dict[str, Any]:
    if condition.any_of:
        return {"any": [_dump_condition(c) for c in condition.any_of]}
    if condition.op in VALUELESS_OPS:
        return {"field": condition.field, "op": condition.op}
    return {"field": condition.field, "op": condition.op, "value": condition.value}


def load(stored: Sequence[Mapping[str, Any]]) -> list[Rule]:
    """Rules from a stored set, keeping their recorded versions."""
    parsed = parse([{k: v for k, v in item.items() if k != "version"} for item in stored])
    return [Rule(id=r.id, version=int(item.get("version", 1)), name=r.name, when=r.when, then=r.then, stop=r.stop,
                 enabled=r.enabled) for r, item in zip(parsed, stored, strict=True)]


def references(rules: Sequence[Rule]) -> list[tuple[str, str, str]]:
    """(field path, kind, key) of every topic and team a rule set names, for the caller to check."""
    found: list[tuple[str, str, str]] = []
    for index, rule in enumerate(rules):
        for key in ("topic", "team"):
            if key in rule.then:
                found.append((f"rules[{index}].then.{key}", key, rule.then[key]))
    return found


def read_yaml(text: str, *, field: str = "rules_yaml") -> Any:
    """A rule set written as YAML (or JSON) as data, for ``parse``; the API's body shape is taken too."""
    raw = yamltext.read_yaml(text, field=field)
    if isinstance(raw, dict) and set(raw) == {"rules"}:  # the API's body shape, pasted as is
        raw = raw["rules"]
    return raw


# ---------------------------------------------------------------- evaluation


def _value(facts: Facts, name: str) -> Any:
    if name.startswith(CUSTOM_PREFIX):
        return facts.custom_fields.get(name[len(CUSTOM_PREFIX):])
    if name == "text":
        return f"{facts.subject}\n{facts.body}"
    return getattr(facts, name)


def _text(value: Any) -> str:
    return str(value)[:MAX_TEXT].casefold()


def _number(value: Any) -> float | None:
    if isinstance(value, bool):
        return None
    try:
        return float(value)
    except (TypeError, ValueError):
        return None


_COMPARE: dict[str, Callable[[float, float], bool]] = {
    "gt": lambda a, b: a > b, "gte": lambda a, b: a >= b, "lt": lambda a, b: a < b, "lte": lambda a, b: a <= b,
}


def holds(condition: Condition, facts: Facts) -> bool:
    if condition.any_of:
        return any(holds(c, facts) for c in condition.any_of)
    value, op, expected = _value(facts, condition.field), condition.op, condition.value
    if op == "exists":
        return value not in (None, "", [])
    if op == "missing":
        return value in (None, "", [])
    if condition.field == "tags":
        tags = {t.casefold() for t in value}
        return (str(expected).casefold() in tags) == (op == "contains")
    if value is None:
        return op in ("ne", "not_in", "not_contains")
    if op in NUMBER_OPS:
        number = _number(value)
        return number is not None and _COMPARE[op](number, float(expected))
    if op == "matches":
        assert condition.pattern is not None
        try:
            return condition.pattern.search(str(value)[:MAX_TEXT], timeout=MATCH_SECONDS) is not None
        except TimeoutError:
            log.warning("routing rule pattern %r gave up after %.2f s", condition.pattern.pattern, MATCH_SECONDS)
            return False
    if op == "under":
        return str(value) == expected or str(value).startswith(f"{expected}.")
    if op in ("contains", "not_contains"):
        return (_text(expected) in _text(value)) == (op == "contains")
    if op in LIST_OPS:
        return (_text(value) in {_text(v) for v in expected}) == (op == "in")
    return (_text(value) == _text(expected)) == (op == "eq")


def _apply(rule: Rule, facts: Facts) -> None:
    then = rule.then
    if "topic" in then:
        facts.topic = then["topic"]
    if "team" in then:
        facts.team = then["team"]
    if "priority" in then:
        facts.priority = then["priority"]
    tags = list(facts.tags)
    for tag in then.get("add_tags", ()):
        if tag not in tags:
            tags.append(tag)
    removed = set(then.get("remove_tags", ()))
    facts.tags = [t for t in tags if t not in removed]


def evaluate(rules: Sequence[Rule], facts: Facts) -> Outcome:
    """Run the rules over ``facts`` (changed in place); see the module doc for the loop guard."""
    outcome = Outcome(fired=[])
    fired: set[str] = set()
    seen = [facts.state()]
    restart = True
    while restart:
        restart = False
        for rule in rules:
            if not rule.enabled or rule.id in fired or not all(holds(c, facts) for c in rule.when):
                continue
            before = facts.state()
            _apply(rule, facts)
            fired.add(rule.id)
            outcome.fired.append(rule)
            after = facts.state()
            outcome.changed[rule.id] = [name for name, old, new in zip(
                ("topic", "priority", "tags", "team"), before, after, strict=True) if old != new]
            if rule.stop:
                outcome.stopped_by = rule.id
                return outcome
            if after != before and after in seen and not outcome.loop:
                first = seen.index(after)
                outcome.loop = [r.id for r in outcome.fired[first:]]
            seen.append(after)
            # A change that later conditions may read (not the team alone) restarts from the top.
            if after[:3] != before[:3]:
                restart = True
                break
    return outcome
