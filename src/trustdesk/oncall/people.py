"""Who may carry a pager: active in-house staff. Customers, seller staff and a vendor's agents are
never put on call, made a crisis owner or paged by a ladder: a page carries the case's subject and a
link that acknowledges it."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from trustdesk.core.errors import Invalid
from trustdesk.core.identity import User
from trustdesk.core.permissions import AGENT_ROLES
from trustdesk.directory.models import Agent


def responders(session: Session, user_ids: Sequence[int]) -> set[int]:
    """The ids among ``user_ids`` of active staff who belong to no vendor."""
    if not user_ids:
        return set()
    vendor_staff = select(Agent.user_id).where(Agent.vendor_id.is_not(None))
    return set(session.scalars(select(User.id).where(
        User.id.in_(list(user_ids)), User.is_active.is_(True), User.role.in_([r.value for r in AGENT_ROLES]),
        User.id.not_in(vendor_staff))))


def check_responders(session: Session, user_ids: Sequence[int], field: str) -> list[int]:
    """``user_ids`` when each may carry a pager; else ``Invalid`` naming the first that may not."""
    allowed = responders(session, user_ids)
    for index, user_id in enumerate(user_ids):
        if user_id not in allowed:
            raise Invalid(f"user {user_id} cannot be on call: only active in-house staff can",
                          field=f"{field}[{index}]")
    return list(user_ids)


def user_ids(session: Session, values: Any, field: str) -> list[int]:
    """People written by e-mail (or by id) as user ids; ``Invalid`` names the first unknown one."""
    if not isinstance(values, list):
        raise Invalid("a list of people, by e-mail", field=field)
    emails = sorted({v.lower() for v in values if isinstance(v, str)})
    by_email = {email.lower(): user_id for email, user_id in session.execute(
        select(User.email, User.id).where(User.email.in_(emails)))} if emails else {}
    out = []
    for index, value in enumerate(values):
        if isinstance(value, str):
            if value.lower() not in by_email:
                raise Invalid(f"nobody has the e-mail {value!r}", field=f"{field}[{index}]")
            value = by_email[value.lower()]
        if not isinstance(value, int) or isinstance(value, bool):
            raise Invalid("a person's e-mail", field=f"{field}[{index}]")
        out.append(value)
    return out


def emails_of(session: Session, ids: Sequence[int]) -> dict[int, str]:
    wanted = sorted(set(ids))
    return {user_id: email for user_id, email in session.execute(
        select(User.id, User.email).where(User.id.in_(wanted)))} if wanted else {}
