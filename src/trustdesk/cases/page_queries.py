"""Small read-only lookups for the case pages (batched by id, so lists cost a fixed number of queries)."""

from __future__ import annotations

from collections.abc import Iterable

from sqlalchemy import ColumnElement, select
from sqlalchemy.orm import Session

from trustdesk.cases.models import Case


def references(session: Session, case_ids: Iterable[int], scope: ColumnElement[bool]) -> dict[int, str]:
    """Reference of each case in ``case_ids`` that the scope lets the actor see (others are left out)."""
    ids = set(case_ids)
    if not ids:
        return {}
    rows = session.execute(select(Case.id, Case.reference).where(Case.id.in_(ids), scope))
    return {case_id: ref for case_id, ref in rows if ref}
