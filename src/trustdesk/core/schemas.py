"""Building blocks of every domain's API shapes: strict input, attribute-reading output, row ids."""

from __future__ import annotations

import re
from functools import lru_cache
from typing import Annotated, Any
from zoneinfo import available_timezones

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, model_validator

from trustdesk.core.db import MAX_ID

# A reference to a row: positive and within the database's INTEGER range.
DbId = Annotated[int, Field(ge=1, le=MAX_ID)]

# For query parameters: text with control characters matches nothing, so it is refused by name.
PRINTABLE = r"^[^\x00-\x1f\x7f]*$"
CONTROL_CHARACTERS = re.compile(r"[\x00-\x08\x0b-\x1f\x7f-\x9f]")


def without_control_characters(value: Any) -> Any:
    """``value`` with control characters (other than newline and tab) removed from every string in it.

    They have no place in text people read, and PostgreSQL cannot store NUL at all.
    """
    if isinstance(value, str):
        return CONTROL_CHARACTERS.sub("", value)
    if isinstance(value, list):
        return [without_control_characters(item) for item in value]
    if isinstance(value, dict):
        return {without_control_characters(k): without_control_characters(v) for k, v in value.items()}
    return value


_known_zones = lru_cache(maxsize=1)(available_timezones)


def _known_zone(value: str) -> str:
    if value not in _known_zones():
        raise ValueError(f"unknown IANA time zone {value!r}")
    return value


# An IANA time zone name (e.g. Europe/Madrid), checked against the zones this machine knows.
TimeZoneName = Annotated[str, Field(min_length=1, max_length=64), AfterValidator(_known_zone)]


class StrictIn(BaseModel):
    """Input: unknown fields are refused, strings trimmed and cleaned of control characters."""

    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)

    @model_validator(mode="before")
    @classmethod
    def _strip_control_characters(cls, data: Any) -> Any:
        return without_control_characters(data)


class Out(BaseModel):
    model_config = ConfigDict(from_attributes=True)
