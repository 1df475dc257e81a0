"""Shaping cases for output (API and pages), batching lookups so lists cost a fixed number of queries."""

from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy.orm import Session

from trustdesk.cases import repository
from trustdesk.cases.models import Attachment, Case, Message, Visibility
from trustdesk.cases.schemas import (
    AttachmentOut,
    CaseDetailOut,
    CaseOut,
    CustomerCaseDetailOut,
    CustomerCaseOut,
    MessageOut,
    PartyOut,
)
from trustdesk.cases.service import Opened
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


def case_detail(session: Session, case: Case, actor: Actor, *,
                thread: tuple[Sequence[Message], Sequence[Attachment]] | None = None,
                ) -> CaseDetailOut | CustomerCaseDetailOut:
    """One case with its thread; ``thread`` is the messages and attachments when the caller has
    just written all of them (a new case), which saves reading them back."""
    if not actor.is_agent:
        base = customer_case_outs(session, [case])[0]
        messages = repository.messages(session, case.id, public_only=True) if thread is None else [
            m for m in thread[0] if m.visibility == Visibility.PUBLIC.value]
        return CustomerCaseDetailOut(**base.model_dump(),
                                     messages=[MessageOut.model_validate(m) for m in messages])
    full = case_outs(session, [case])[0]
    messages, attachments = thread if thread is not None else (
        repository.messages(session, case.id, public_only=False), repository.attachments(session, case.id))
    return CaseDetailOut(
        **full.model_dump(),
        messages=[MessageOut.model_validate(m) for m in messages],
        attachments=[AttachmentOut.model_validate(a) for a in attachments],
    )


def opened_detail(session: Session, opened: Opened, actor: Actor) -> CaseDetailOut | CustomerCaseDetailOut:
    return case_detail(session, opened.case, actor, thread=([opened.message], opened.attachments))
