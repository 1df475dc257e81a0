"""Shaping cases for output (API and pages), batching lookups so lists cost a fixed number of queries."""

from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy.orm import Session

from trustdesk.cases import repository
from trustdesk.cases.models import Case
from trustdesk.cases.schemas import (
    AttachmentOut,
    CaseDetailOut,
    CaseOut,
    CustomerCaseDetailOut,
    CustomerCaseOut,
    MessageOut,
    PartyOut,
)
from trustdesk.core.identity import Actor


def etag(case: Case) -> str:
    return f'"{case.version}"'


def case_outs(session: Session, cases: Sequence[Case]) -> list[CaseOut]:
    parties = repository.parties_by_ids(session, {c.party_id for c in cases})
    markets = repository.market_codes(session, {c.market_id for c in cases})
    return [
        CaseOut.model_validate({
            **{k: getattr(c, k) for k in CaseOut.model_fields if k not in ("market", "party") and hasattr(c, k)},
            "market": markets[c.market_id], "party": PartyOut.model_validate(parties[c.party_id]),
        })
        for c in cases
    ]


def customer_case_outs(session: Session, cases: Sequence[Case]) -> list[CustomerCaseOut]:
    markets = repository.market_codes(session, {c.market_id for c in cases})
    return [
        CustomerCaseOut.model_validate({
            **{k: getattr(c, k) for k in CustomerCaseOut.model_fields if k != "market"},
            "market": markets[c.market_id],
        })
        for c in cases
    ]


def case_detail(session: Session, case: Case, actor: Actor) -> CaseDetailOut | CustomerCaseDetailOut:
    if not actor.is_agent:
        base = customer_case_outs(session, [case])[0]
        messages = repository.messages(session, case.id, public_only=True)
        return CustomerCaseDetailOut(**base.model_dump(),
                                     messages=[MessageOut.model_validate(m) for m in messages])
    full = case_outs(session, [case])[0]
    return CaseDetailOut(
        **full.model_dump(),
        messages=[MessageOut.model_validate(m) for m in repository.messages(session, case.id, public_only=False)],
        attachments=[AttachmentOut.model_validate(a) for a in repository.attachments(session, case.id)],
    )
