"""YAML typed by people (rules, ladders): read as plain data, with errors that say where."""

from __future__ import annotations

import re
from typing import Any

import yaml

from trustdesk.core.errors import Invalid

KEY = r"[a-z0-9][a-z0-9_.-]{0,63}"  # keys of things people name (ladders, schedules)


def read_yaml(text: str, *, field: str) -> Any:
    """The text as data (YAML or JSON). Anchors and aliases are refused: a few lines of them can
    stand for a structure too large to check or store."""
    try:
        if any(isinstance(event, yaml.AliasEvent) for event in yaml.parse(text, Loader=yaml.SafeLoader)):
            raise Invalid("anchors and aliases (& and *) are not supported; write each item out", field=field)
        return yaml.safe_load(text)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f" (line {mark.line + 1}, column {mark.column + 1})" if mark is not None else ""
        problem = getattr(exc, "problem", None) or "cannot be read"
        raise Invalid(f"this is not valid YAML{where}: {problem}", field=field) from exc


def write_yaml(data: Any) -> str:
    return yaml.safe_dump(data, sort_keys=False, allow_unicode=True, default_flow_style=None, width=100)


def check_fields(raw: Any, allowed: tuple[str, ...], *, what: str, field: str) -> dict[str, Any]:
    """``raw`` as a mapping with only ``allowed`` keys, or ``Invalid`` saying what a ``what`` has."""
    if not isinstance(raw, dict):
        raise Invalid(f"write a {what}: {', '.join(allowed)}", field=field)
    unknown = sorted(set(raw) - set(allowed))
    if unknown:
        raise Invalid(f"unknown field {unknown[0]!r}; a {what} has {', '.join(allowed)}", field=field)
    return raw


def check_key_and_name(raw: dict[str, Any]) -> tuple[str, str]:
    key, name = raw.get("key"), raw.get("name")
    if not isinstance(key, str) or not re.fullmatch(KEY, key):
        raise Invalid("key: lower-case letters, digits, dot, dash or underscore", field="key")
    if not isinstance(name, str) or not name.strip():
        raise Invalid("name: a few words", field="name")
    return key, name.strip()[:100]
