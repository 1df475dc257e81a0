"""API shapes of the directory."""

from __future__ import annotations

from datetime import datetime
from functools import lru_cache
from typing import Annotated
from zoneinfo import available_timezones

from pydantic import BaseModel, Field, StringConstraints, field_validator

from trustdesk.core.schemas import DbId, Out, StrictIn
from trustdesk.directory.models import Presence, Tier

# The zone database is read from disk on every call; it does not change while the process runs.
_known_zones = lru_cache(maxsize=1)(available_timezones)
_CODE = r"^[A-Za-z0-9][A-Za-z0-9_.-]*$"
_LANG = r"^[a-z]{2,3}(-[A-Za-z0-9]{2,8})?$"
LanguageCode = Annotated[str, StringConstraints(pattern=_LANG)]
Skill = Annotated[str, StringConstraints(min_length=1, max_length=64, strip_whitespace=True)]


class MarketIn(StrictIn):
    code: str = Field(min_length=2, max_length=8, pattern=_CODE)
    name: str = Field(min_length=1, max_length=100)
    time_zone: str = Field(min_length=1, max_length=64)
    languages: list[LanguageCode] = Field(min_length=1, max_length=20)
    default_language: str = Field(pattern=_LANG)
    currency: str = Field(pattern=r"^[A-Z]{3}$")
    is_active: bool = True

    @field_validator("time_zone")
    @classmethod
    def _known_zone(cls, value: str) -> str:
        if value not in _known_zones():
            raise ValueError(f"unknown IANA time zone {value!r}")
        return value


class MarketOut(Out):
    id: int
    code: str
    name: str
    time_zone: str
    languages: list[str]
    default_language: str
    currency: str
    is_active: bool


class VendorIn(StrictIn):
    code: str = Field(min_length=2, max_length=32, pattern=_CODE)
    name: str = Field(min_length=1, max_length=100)


class VendorOut(Out):
    id: int
    code: str
    name: str


class TeamIn(StrictIn):
    key: str = Field(min_length=2, max_length=64, pattern=_CODE)
    name: str = Field(min_length=1, max_length=100)
    tier: Tier
    vendor_id: DbId | None = None


class TeamOut(Out):
    id: int
    key: str
    name: str
    tier: Tier
    vendor_id: int | None


class QueueIn(StrictIn):
    key: str = Field(min_length=2, max_length=64, pattern=_CODE)
    name: str = Field(min_length=1, max_length=100)
    team_id: DbId
    market_id: DbId | None = None
    intake_channels: list[str] = Field(default_factory=list, max_length=10)
    intake_party_kinds: list[str] = Field(default_factory=list, max_length=10)
    intake_order: int = Field(default=100, ge=0, le=10_000)
    auto_assign: bool = True
    is_triage: bool = False
    is_active: bool = True


class QueueOut(Out):
    id: int
    key: str
    name: str
    team_id: int
    market_id: int | None
    intake_channels: list[str]
    intake_party_kinds: list[str]
    intake_order: int
    auto_assign: bool
    is_triage: bool
    is_active: bool


class QueueCount(BaseModel):
    queue: QueueOut
    team_name: str
    new: int
    open: int
    pending: int
    on_hold: int
    unassigned: int


class AgentIn(StrictIn):
    user_id: DbId
    vendor_id: DbId | None = None
    languages: list[LanguageCode] = Field(min_length=1, max_length=20)
    skills: list[Skill] = Field(default_factory=list, max_length=50)
    capacity: int = Field(default=10, ge=0, le=500)
    team_ids: list[DbId] = Field(default_factory=list, max_length=50)


class AgentUpdate(StrictIn):
    languages: list[LanguageCode] | None = Field(default=None, min_length=1, max_length=20)
    skills: list[Skill] | None = Field(default=None, max_length=50)
    capacity: int | None = Field(default=None, ge=0, le=500)
    team_ids: list[DbId] | None = Field(default=None, max_length=50)
    presence: Presence | None = None


class PresenceIn(StrictIn):
    presence: Presence


class AgentOut(Out):
    id: int
    user_id: int
    display_name: str
    vendor_id: int | None
    languages: list[str]
    skills: list[str]
    capacity: int
    presence: Presence
    team_ids: list[int]
    open_cases: int
    last_assigned_at: datetime | None
