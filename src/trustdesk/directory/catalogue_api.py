"""JSON routes of the topic taxonomy and the service catalogue."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Body, Depends, Path, Query
from pydantic import AwareDatetime

from trustdesk.core.db import MAX_ID
from trustdesk.core.errors import Invalid
from trustdesk.core.identity import Actor
from trustdesk.core.permissions import Perm
from trustdesk.core.schemas import PRINTABLE
from trustdesk.directory import catalogue, service, views
from trustdesk.directory.schemas import (
    TOPIC_KEY,
    CatalogueEntryIn,
    CatalogueEntryOut,
    DecisionIn,
    OwnerOut,
    RetireIn,
    TopicImportOut,
    TopicIn,
    TopicOut,
)
from trustdesk.web.deps import ClockDep, Requires, SessionDep

router = APIRouter(tags=["catalogue"])
RowId = Annotated[int, Path(ge=1, le=MAX_ID)]


Reader = Annotated[Actor, Depends(Requires(Perm.CATALOGUE_READ, in_house=True))]
Editor = Annotated[Actor, Depends(Requires(Perm.CATALOGUE_EDIT, in_house=True))]
Approver = Annotated[Actor, Depends(Requires(Perm.CATALOGUE_APPROVE, in_house=True))]


# ---------------------------------------------------------------- topics


@router.get("/topics", response_model=list[TopicOut], summary="The topic taxonomy")
def list_topics(session: SessionDep, actor: Reader, active_only: bool = False) -> list[TopicOut]:
    return views.topic_outs(catalogue.list_topics(session, active_only=active_only))


@router.put("/topics/{key}", response_model=TopicOut, summary="Create or update a topic (its parent must exist)")
def save_topic(key: Annotated[str, Path(pattern=TOPIC_KEY, max_length=200)], body: TopicIn, session: SessionDep,
               clock: ClockDep, actor: Editor) -> TopicOut:
    if body.key != key:
        raise Invalid(f"the body's key must be the one in the path ({key})", field="key")
    topic, _ = catalogue.save_topic(session, body, now=clock.now())
    return views.topic_outs([topic])[0]


@router.post("/topics/import", response_model=TopicImportOut,
             summary="Upsert topics from CSV (key,en,es,...) or YAML (a tree); nothing is deleted")
def import_topics(session: SessionDep, clock: ClockDep, actor: Editor,
                  content: Annotated[str, Body(media_type="text/plain", max_length=2_000_000)],
                  format: Annotated[str, Query(pattern="^(csv|yaml)$")] = "csv") -> TopicImportOut:
    report = catalogue.import_topics(session, catalogue.parse_topics(content, format=format), now=clock.now())
    return TopicImportOut(created=report.created, updated=report.updated, unchanged=report.unchanged)


# ---------------------------------------------------------------- the catalogue


@router.get("/catalogue", response_model=list[CatalogueEntryOut],
            summary="Entries in force at a time (default now)")
def list_entries(session: SessionDep, clock: ClockDep, actor: Reader,
                 at: AwareDatetime | None = None) -> list[CatalogueEntryOut]:
    return views.catalogue_outs(session, catalogue.in_force(session, at=at or clock.now()))


@router.get("/catalogue/drafts", response_model=list[CatalogueEntryOut], summary="Changes waiting for approval")
def list_drafts(session: SessionDep, actor: Reader) -> list[CatalogueEntryOut]:
    return views.catalogue_outs(session, catalogue.drafts(session))


@router.get("/catalogue/who", response_model=OwnerOut,
            summary="Who owns topic T in market M for channel C (and party kind P) at time t")
def who_owns(
    session: SessionDep, clock: ClockDep, actor: Reader,
    market: Annotated[str, Query(min_length=2, max_length=8, pattern=PRINTABLE)],
    topic: Annotated[str | None, Query(pattern=TOPIC_KEY, max_length=200)] = None,
    channel: Annotated[str | None, Query(max_length=32, pattern=PRINTABLE)] = None,
    party_kind: Annotated[str | None, Query(max_length=16, pattern=PRINTABLE)] = None,
    at: AwareDatetime | None = None,
) -> OwnerOut:
    found = service.market_by_code(session, market)
    when = at or clock.now()
    ownership = catalogue.who_owns(session, topic=topic, market=found, channel=channel, party_kind=party_kind,
                                   at=when)
    return views.owner_out(session, ownership, market=found, channel=channel, party_kind=party_kind, at=when)


@router.get("/catalogue/{entry_id}/versions", response_model=list[CatalogueEntryOut],
            summary="Every version of an entry, oldest first")
def entry_versions(entry_id: RowId, session: SessionDep, actor: Reader) -> list[CatalogueEntryOut]:
    return views.catalogue_outs(session, catalogue.versions(session, entry_id))


@router.post("/catalogue", response_model=CatalogueEntryOut, status_code=201,
             summary="Propose a new entry (a draft until someone else approves it)")
def propose_entry(body: CatalogueEntryIn, session: SessionDep, clock: ClockDep, actor: Editor) -> CatalogueEntryOut:
    return views.catalogue_outs(session, [catalogue.propose(session, body, author=actor, now=clock.now())])[0]


@router.post("/catalogue/{entry_id}/versions", response_model=CatalogueEntryOut, status_code=201,
             summary="Propose a new version of an entry")
def propose_version(entry_id: RowId, body: CatalogueEntryIn, session: SessionDep, clock: ClockDep,
                    actor: Editor) -> CatalogueEntryOut:
    row = catalogue.propose(session, body, author=actor, now=clock.now(), entry_id=entry_id)
    return views.catalogue_outs(session, [row])[0]


@router.post("/catalogue/versions/{version_id}/approve", response_model=CatalogueEntryOut,
             summary="Approve someone else's draft; it replaces the version in force from its valid_from")
def approve_version(version_id: RowId, session: SessionDep, clock: ClockDep, actor: Approver,
                    body: DecisionIn | None = None) -> CatalogueEntryOut:
    row = catalogue.approve(session, catalogue.draft_by_id(session, version_id), approver=actor, now=clock.now(),
                            note=body.note if body else None)
    return views.catalogue_outs(session, [row])[0]


@router.post("/catalogue/versions/{version_id}/reject", response_model=CatalogueEntryOut,
             summary="Reject someone else's draft, saying why")
def reject_version(version_id: RowId, body: DecisionIn, session: SessionDep, clock: ClockDep,
                   actor: Approver) -> CatalogueEntryOut:
    row = catalogue.reject(session, catalogue.draft_by_id(session, version_id), approver=actor, now=clock.now(),
                           note=body.note)
    return views.catalogue_outs(session, [row])[0]


@router.post("/catalogue/{entry_id}/retire", response_model=CatalogueEntryOut,
             summary="Stop an entry applying (now or later); its history stays")
def retire_entry(entry_id: RowId, body: RetireIn, session: SessionDep, clock: ClockDep,
                 actor: Approver) -> CatalogueEntryOut:
    row = catalogue.retire(session, entry_id, actor=actor, now=clock.now(), at=body.at, note=body.note)
    return views.catalogue_outs(session, [row])[0]


@router.post("/catalogue/{entry_id}/review", response_model=CatalogueEntryOut,
             summary="Record that the entry was reviewed and is still right")
def review_entry(entry_id: RowId, session: SessionDep, clock: ClockDep, actor: Editor) -> CatalogueEntryOut:
    return views.catalogue_outs(session, [catalogue.mark_reviewed(session, entry_id, actor=actor,
                                                                  now=clock.now())])[0]
