"""YAML typed by people (rules, ladders): read as plain data, with errors that say where."""

from __future__ import annotations

from typing import Any

import yaml

from trustdesk.core.errors import Invalid


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
