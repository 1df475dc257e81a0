"""Routing rows as API shapes (names resolved in one query each)."""

from __future__ import annotations

from sqlalchemy.orm import Session

from trustdesk.directory import service as directory
from trustdesk.routing.models import RoutingDecision
from trustdesk.routing.schemas import DecisionOut


def decision_out(session: Session, decision: RoutingDecision, *, redact: bool = False) -> DecisionOut:
    """``redact``: for a vendor's staff, without the platform's rules and catalogue (in-house configuration)."""
    out = DecisionOut.model_validate(decision)
    if redact:
        out.rules, out.rule_set_version, out.catalogue_entry_id, out.catalogue_version = [], None, None, None
        out.explanation = f"routed by {decision.source.replace('_', ' ')}" + (
            f" ({decision.triage_reason.replace('_', ' ')})" if decision.triage_reason else "")
    queue = directory.queue_by_id(session, decision.queue_id)
    out.queue_key = queue.key
    if decision.team_id is not None:
        out.team_key = directory.team_by_id(session, decision.team_id).key
    return out
