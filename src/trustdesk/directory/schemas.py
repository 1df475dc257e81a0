"""API shapes of the directory."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

from pydantic import AwareDatetime, BaseModel, Field, StringConstraints, field_validator

from trustdesk.core.schemas import DbId, Out, StrictIn, TimeZoneName
from trustdesk.directory.models import Presence, Tier

# The zone database is read from disk on every call; it does not change while the process runs.
_CODE = r"^[A-Za-z0-9][A-Za-z0-9_.-]*$"
_LANG = r"^[a-z]{2,3}(-[A-Za-z0-9]{2,8})?$"
_REGION = r"^[A-Z][A-Z0-9_]{1,15}$"  # e.g. EU, SEA; never the code of a market (checked on save)
LanguageCode = Annotated[str, StringConstraints(pattern=_LANG)]
Skill = Annotated[str, StringConstraints(min_length=1, max_length=64, strip_whitespace=True)]


class MarketIn(StrictIn):
    code: str = Field(min_length=2, max_length=8, pattern=_CODE)
    name: str = Field(min_length=1, max_length=100)
    time_zone: TimeZoneName
    languages: list[LanguageCode] = Field(min_length=1, max_length=20)
    default_language: str = Field(pattern=_LANG)
    currency: str = Field(pattern=r"^[A-Z]{3}$")
    region: str | None = Field(default=None, pattern=_REGION)
    routing_threshold: float | None = Field(
        default=None, ge=0.0, le=1.0,
        description="Classifier confidence below which cases go to triage; empty means the model's own")
    is_active: bool = True


class MarketOut(Out):
    id: int
    code: str
    name: str
    time_zone: str
    languages: list[str]
    default_language: str
    currency: str
    region: str | None
    routing_threshold: float | None
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


# ---------------------------------------------------------------- topics and the service catalogue

TOPIC_KEY = r"^[a-z0-9][a-z0-9_]*(\.[a-z0-9][a-z0-9_]*){0,5}$"  # dotted path, at most six levels
TopicKey = Annotated[str, StringConstraints(pattern=TOPIC_KEY, max_length=200)]
TopicName = Annotated[str, StringConstraints(min_length=1, max_length=200, strip_whitespace=True)]


class TopicIn(StrictIn):
    key: TopicKey
    names: dict[LanguageCode, TopicName] = Field(min_length=1, max_length=50)
    description: str | None = Field(default=None, max_length=1000)
    is_active: bool = True

    @field_validator("names")
    @classmethod
    def _english_name(cls, value: dict[str, str]) -> dict[str, str]:
        if "en" not in value:
            raise ValueError("an English name (en) is required; other locales fall back to it")
        return value


class TopicOut(Out):
    id: int
    key: str
    parent_key: str | None
    depth: int
    names: dict[str, str]
    description: str | None
    is_active: bool


class TopicImportOut(BaseModel):
    created: list[str]
    updated: list[str]
    unchanged: int


MarketScope = Annotated[str, StringConstraints(pattern=r"^(\*|[A-Za-z0-9][A-Za-z0-9_.-]{0,15})$")]


class CatalogueEntryIn(StrictIn):
    """A proposed version of a catalogue entry; it takes effect when a second person approves it."""

    topic: TopicKey | None = Field(default=None, description="Topic key at any level; empty matches every topic")
    market_scope: MarketScope = Field(default="*", description="A market code, a region, or * for all")
    channel: str | None = Field(default=None, max_length=32, description="Empty matches every channel")
    party_kind: str | None = Field(default=None, max_length=16, description="Empty matches every party kind")
    team_id: DbId
    tier: Tier | None = Field(default=None, description="Defaults to the team's tier")
    contact_user_id: DbId | None = None
    escalation_user_id: DbId | None = None
    sla_policy_key: str | None = Field(default=None, max_length=64, pattern=_CODE)
    position: int = Field(default=100, ge=0, le=1_000_000)
    valid_from: AwareDatetime | None = Field(default=None, description="When it takes effect; default: on approval")
    note: str | None = Field(default=None, max_length=1000)
    owner_user_id: DbId | None = None
    review_interval_days: int = Field(default=90, ge=1, le=3650)


class DecisionIn(StrictIn):
    note: str | None = Field(default=None, max_length=1000)


class RetireIn(StrictIn):
    at: AwareDatetime | None = Field(default=None, description="When it stops applying; default: now")
    note: str | None = Field(default=None, max_length=1000)


class CatalogueEntryOut(Out):
    id: int
    entry_id: int
    version: int
    status: str
    topic: str | None
    market_scope: str
    channel: str | None
    party_kind: str | None
    team_id: int
    team_key: str
    tier: str
    contact_user_id: int | None
    escalation_user_id: int | None
    sla_policy_key: str | None
    position: int
    valid_from: datetime | None
    valid_to: datetime | None
    note: str | None
    author_user_id: int
    approver_user_id: int | None
    decided_at: datetime | None
    owner_user_id: int | None
    review_interval_days: int
    review_due_at: datetime | None


class OwnerOut(BaseModel):
    """The answer to "who owns topic T in market M for channel C (and party kind P) at time t"."""

    at: datetime
    topic: str | None
    market: str
    channel: str | None
    party_kind: str | None
    entry: CatalogueEntryOut | None
    specificity: list[int] | None
    considered: list[CatalogueEntryOut]
    explanation: str
