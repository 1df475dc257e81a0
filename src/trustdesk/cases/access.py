"""The one gate that loads a case for an actor, or refuses.

Customers see only cases of their own parties; a vendor's agents see only cases in their
vendor's teams. A case out of scope is reported as missing (404), never as forbidden, so
its existence does not leak.
"""

from __future__ import annotations

from sqlalchemy import ColumnElement, select
from sqlalchemy.orm import Session

from trustdesk.cases import repository
from trustdesk.cases.models import Case
from trustdesk.core.db import is_postgres
from trustdesk.core.errors import Forbidden, NotFound
from trustdesk.core.identity import Actor
from trustdesk.core.permissions import Perm


def scope_for(actor: Actor) -> ColumnElement[bool]:
    if actor.is_agent:
        return repository.scope_clause(vendor_id=actor.vendor_id, user_id=None)
    return repository.scope_clause(vendor_id=None, user_id=actor.user_id)


def case_for(session: Session, actor: Actor, case_id: int, *, permission: Perm, for_update: bool = False,
             field: str = "case_id") -> Case:
    if not actor.can(permission):
        raise Forbidden(f"this needs the {permission.value} permission")
    query = select(Case).where(Case.id == case_id, scope_for(actor))
    if for_update and is_postgres(session):
        query = query.with_for_update(of=Case)
    case = session.scalar(query)
    if case is None:
        raise NotFound(f"case {case_id} does not exist", field=field)
    return case


def case_by_reference_for(session: Session, actor: Actor, reference: str, *, permission: Perm,
                          for_update: bool = False) -> Case:
    if not actor.can(permission):
        raise Forbidden(f"this needs the {permission.value} permission")
    query = select(Case.id).where(Case.reference == reference.strip().upper(), scope_for(actor))
    case_id = session.scalar(query)
    if case_id is None:
        raise NotFound(f"case {reference} does not exist", field="reference")
    return case_for(session, actor, case_id, permission=permission, for_update=for_update)
