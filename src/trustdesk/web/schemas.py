"""API shapes of identity: the signed-in user, users and tokens."""

from __future__ import annotations

from datetime import datetime

from pydantic import BaseModel, ConfigDict, Field

from trustdesk.core.permissions import Role


class StrictIn(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)


class MeOut(BaseModel):
    user_id: int
    email: str
    display_name: str
    role: Role
    permissions: list[str]
    agent_id: int | None
    vendor_id: int | None


class UserIn(StrictIn):
    email: str = Field(min_length=3, max_length=254)
    display_name: str = Field(min_length=1, max_length=200)
    role: Role
    password: str | None = Field(default=None, min_length=8, max_length=200)
    locale: str = Field(default="en", max_length=16)


class UserOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)
    id: int
    email: str
    display_name: str
    role: Role
    locale: str
    is_active: bool
    created_at: datetime


class RoleIn(StrictIn):
    role: Role


class TokenIn(StrictIn):
    name: str = Field(min_length=1, max_length=100)


class TokenOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)
    id: int
    name: str
    prefix: str
    created_at: datetime
    last_used_at: datetime | None
    revoked_at: datetime | None


class NewTokenOut(TokenOut):
    token: str = Field(description="Shown once; only its hash is kept.")
