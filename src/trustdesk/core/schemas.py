"""Building blocks of every domain's API shapes: strict input, attribute-reading output, row ids."""

from __future__ import annotations

import re
from typing import Annotated, Any

from pydantic import BaseModel, ConfigDict, Field, model_validator

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


class StrictIn(BaseModel):
    """Input: unknown fields are refused, strings trimmed and cleaned of control characters."""

    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)

    @model_validator(mode="before")
    @classmethod
    def _strip_control_characters(cls, data: Any) -> Any:
        return without_control_characters(data)


class Out(BaseModel):
    model_config = ConfigDict(from_attributes=True)
