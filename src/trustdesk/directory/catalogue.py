"""The topic taxonomy and the service catalogue: who owns what, and who owned it when.

Topics form a tree named by dotted keys (``orders.delivery.late``). The catalogue maps
topic (any level) x market scope (a market, a region or ``*``) x channel x party kind to the
owning team, its tier, a point of contact, an escalation contact and an SLA policy key.

Entries are versioned. A change is proposed as a draft version and takes effect only when a
second person approves it (four eyes); approving closes the version in force at the new one's
``valid_from``. Rows are never deleted, so the catalogue at any past time can be rebuilt, and
:func:`who_owns` answers for any time, deterministically:

1. only approved versions in force at that time, whose every non-empty condition matches;
2. the most specific wins, compared in this order: the deeper topic (an entry for
   ``orders.delivery.late`` beats one for ``orders``, which beats one for every topic), then the
   market scope (the market itself, then its region, then ``*``), then a named channel, then a
   named party kind;
3. then the lower ``position``, then the older entry.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

import yaml
from pydantic import ValidationError
from sqlalchemy.orm import Session

from trustdesk.core.errors import Conflict, Forbidden, Invalid, NotFound
from trustdesk.core.identity import Actor, User
from trustdesk.core.notifications import holders_of, notify
from trustdesk.core.permissions import Perm
from trustdesk.directory import repository
from trustdesk.directory.models import CatalogueEntry, CatalogueStatus, Market, Team, Topic
from trustdesk.directory.schemas import CatalogueEntryIn, TopicIn

ANY_MARKET = "*"

# ---------------------------------------------------------------- topics


def parent_key(key: str) -> str | None:
    return key.rsplit(".", 1)[0] if "." in key else None


def lineage(key: str) -> list[str]:
    """``a.b.c`` -> ``["a", "a.b", "a.b.c"]``: the topic and every ancestor, root first."""
    parts = key.split(".")
    return [".".join(parts[: i + 1]) for i in range(len(parts))]


def topic_name(topic: Topic, locale: str | None) -> str:
    """The topic's name in ``locale`` (or its base language), else English."""
    names: dict[str, str] = topic.names
    if locale:
        for candidate in (locale, locale.split("-", 1)[0]):
            if candidate in names:
                return names[candidate]
    return names.get("en") or topic.key


def topic_by_key(session: Session, key: str, *, field: str = "topic") -> Topic:
    topic = repository.topic_by_key(session, key)
    if topic is None or not topic.is_active:
        raise Invalid(f"unknown topic {key!r}", field=field)
    return topic


def list_topics(session: Session, *, active_only: bool = False) -> Sequence[Topic]:
    return repository.topics(session, active_only=active_only)


def save_topic(session: Session, data: TopicIn, *, now: datetime, field_prefix: str = "") -> tuple[Topic, str]:
    """Create or update one topic; its parent must exist. Returns the topic and what happened:
    ``created``, ``updated`` or ``unchanged``."""
    topic = repository.topic_by_key(session, data.key)
    parent = None
    if (parent_of := parent_key(data.key)) is not None:
        parent = repository.topic_by_key(session, parent_of)
        if parent is None:
            raise Invalid(f"topic {data.key!r} needs its parent {parent_of!r} first", field=f"{field_prefix}key")
    if topic is None:
        topic = Topic(key=data.key, parent_id=parent.id if parent else None, depth=data.key.count(".") + 1,
                      names=dict(data.names), description=data.description, is_active=data.is_active,
                      created_at=now, updated_at=now)
        session.add(topic)
        session.flush()
        return topic, "created"
    changed = (topic.names, topic.description, topic.is_active) != (dict(data.names), data.description,
                                                                    data.is_active)
    if changed:
        if not data.is_active and topic.is_active:
            _refuse_retiring_a_parent_of_live_topics(session, topic)
        topic.names, topic.description, topic.is_active = dict(data.names), data.description, data.is_active
        topic.updated_at = now
    return topic, "updated" if changed else "unchanged"


def _refuse_retiring_a_parent_of_live_topics(session: Session, topic: Topic) -> None:
    live = [t.key for t in repository.topics(session, active_only=True) if t.key.startswith(topic.key + ".")]
    if live:
        raise Conflict(f"topic {topic.key} still has active sub-topics: {', '.join(live[:5])}", field="is_active")


@dataclass
class TopicImport:
    created: list[str] = field(default_factory=list)
    updated: list[str] = field(default_factory=list)
    unchanged: int = 0


def import_topics(session: Session, rows: Sequence[TopicIn], *, now: datetime) -> TopicImport:
    """Upsert topics, parents before children (whatever the order in the file). Nothing is
    deleted: a topic missing from the file stays as it is."""
    seen: set[str] = set()
    for index, row in enumerate(rows):
        if row.key in seen:
            raise Invalid(f"topic {row.key!r} appears twice", field=f"rows[{index}].key")
        seen.add(row.key)
    report = TopicImport()
    ordered = sorted(enumerate(rows), key=lambda pair: (pair[1].key.count("."), pair[0]))
    for index, row in ordered:
        _, outcome = save_topic(session, row, now=now, field_prefix=f"rows[{index}].")
        if outcome == "created":
            report.created.append(row.key)
        elif outcome == "updated":
            report.updated.append(row.key)
        else:
            report.unchanged += 1
    return report


def parse_topics(text: str, *, format: str) -> list[TopicIn]:
    """Topics from CSV (``key,en,es,...,description``: one column per locale) or YAML (a list of
    ``{key, names: {locale: name}, description, children: [...]}``, children's keys relative)."""
    if format == "csv":
        raw = _topics_from_csv(text)
    elif format in ("yaml", "yml"):
        raw = _topics_from_yaml(text)
    else:
        raise Invalid(f"unknown topic file format {format!r}; use csv or yaml", field="format")
    rows = []
    for index, item in enumerate(raw):
        try:
            rows.append(TopicIn.model_validate(item))
        except ValidationError as exc:
            error = exc.errors()[0]
            where = ".".join(str(part) for part in error["loc"])
            raise Invalid(f"row {index + 1}: {error['msg']}", field=f"rows[{index}].{where}") from exc
    return rows


def _topics_from_csv(text: str) -> list[dict[str, Any]]:
    reader = csv.DictReader(io.StringIO(text))
    columns = reader.fieldnames or []
    if "key" not in columns:
        raise Invalid("a topic CSV needs a key column and one column per locale (en required)", field="key")
    locales = [c for c in columns if c not in ("key", "description", "is_active")]
    out = []
    for row in reader:
        names = {locale: (row.get(locale) or "").strip() for locale in locales if (row.get(locale) or "").strip()}
        item: dict[str, Any] = {"key": (row.get("key") or "").strip(), "names": names,
                                "description": (row.get("description") or "").strip() or None}
        if (row.get("is_active") or "").strip():
            item["is_active"] = row["is_active"].strip().lower() in ("1", "true", "yes")
        out.append(item)
    return out


def _topics_from_yaml(text: str) -> list[dict[str, Any]]:
    try:
        document = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        raise Invalid(f"not valid YAML: {exc}", field="file") from exc
    if not isinstance(document, list):
        raise Invalid("a topic YAML file is a list of topics", field="file")
    out: list[dict[str, Any]] = []

    def walk(items: Iterable[Any], prefix: str) -> None:
        for item in items:
            if not isinstance(item, dict) or "key" not in item:
                raise Invalid(f"each topic needs a key (under {prefix or 'the top level'})", field="key")
            key = f"{prefix}.{item['key']}" if prefix else str(item["key"])
            out.append({k: v for k, v in item.items() if k != "children"} | {"key": key})
            walk(item.get("children") or [], key)

    walk(document, "")
    return out


# ---------------------------------------------------------------- the catalogue: proposing and deciding


def _check_entry(session: Session, data: CatalogueEntryIn) -> tuple[Topic | None, Team]:
    from trustdesk.cases.models import Channel, PartyKind  # the case vocabulary, not its tables

    topic = topic_by_key(session, data.topic) if data.topic else None
    team = session.get(Team, data.team_id)
    if team is None:
        raise Invalid(f"team {data.team_id} does not exist", field="team_id")
    scope = _scope(data.market_scope)
    if scope != ANY_MARKET and repository.market_by_code(session, scope) is None and (
            repository.market_by_region(session, scope) is None):
        raise Invalid(f"{data.market_scope!r} is neither a market nor a region of one", field="market_scope")
    if data.channel is not None and data.channel not in set(Channel):
        raise Invalid(f"unknown channel {data.channel!r}", field="channel")
    if data.party_kind is not None and data.party_kind not in set(PartyKind):
        raise Invalid(f"unknown party kind {data.party_kind!r}", field="party_kind")
    for name in ("contact_user_id", "escalation_user_id", "owner_user_id"):
        user_id = getattr(data, name)
        if user_id is not None and session.get(User, user_id) is None:
            raise Invalid(f"user {user_id} does not exist", field=name)
    return topic, team


def propose(session: Session, data: CatalogueEntryIn, *, author: Actor, now: datetime,
            entry_id: int | None = None) -> CatalogueEntry:
    """A draft: a new entry, or (with ``entry_id``) a new version of an existing one."""
    topic, team = _check_entry(session, data)
    if data.valid_from is not None and data.valid_from < now:
        raise Invalid("a change cannot take effect in the past", field="valid_from")
    version = 1
    if entry_id is not None:
        latest = repository.catalogue_latest_version(session, entry_id)
        if latest == 0:
            raise NotFound(f"catalogue entry {entry_id} does not exist", field="entry_id")
        version = latest + 1
    values = data.model_dump(exclude={"topic", "tier", "market_scope"})
    row = CatalogueEntry(**values, entry_id=entry_id, version=version, status=CatalogueStatus.DRAFT.value,
                         topic_id=topic.id if topic else None, tier=(data.tier or team.tier),
                         market_scope=_scope(data.market_scope), author_user_id=author.user_id,
                         approver_user_id=None, decided_at=None, reviewed_at=None, review_reminded_at=None,
                         created_at=now)
    session.add(row)
    session.flush()
    if row.entry_id is None:
        row.entry_id = row.id
    return row


def _scope(scope: str) -> str:
    """Market codes and regions are kept upper case; ``*`` is every market."""
    return scope if scope == ANY_MARKET else scope.upper()


def draft_by_id(session: Session, version_id: int) -> CatalogueEntry:
    row = session.get(CatalogueEntry, version_id)
    if row is None:
        raise NotFound(f"catalogue version {version_id} does not exist", field="version_id")
    return row


def approve(session: Session, draft: CatalogueEntry, *, approver: Actor, now: datetime,
            note: str | None = None) -> CatalogueEntry:
    """Put a draft in force from its ``valid_from`` (now when empty or already past)."""
    _decidable(draft, approver)
    start = max(draft.valid_from or now, now)
    versions = [v for v in repository.catalogue_versions(session, draft.entry_id or draft.id)
                if v.status == CatalogueStatus.APPROVED.value and v.id != draft.id]
    later = [v for v in versions if v.valid_from is not None and v.valid_from >= start]
    if later:
        raise Conflict(f"version {later[0].version} is scheduled from {later[0].valid_from:%Y-%m-%d %H:%M} UTC; "
                       "retire or supersede it first", field="valid_from")
    for version in versions:
        if version.valid_to is None or version.valid_to > start:
            version.valid_to = start
    draft.status, draft.valid_from = CatalogueStatus.APPROVED.value, start
    draft.approver_user_id, draft.decided_at, draft.reviewed_at = approver.user_id, now, now
    if note:
        draft.note = note
    return draft


def reject(session: Session, draft: CatalogueEntry, *, approver: Actor, now: datetime,
           note: str | None) -> CatalogueEntry:
    """Turn a draft down; the author is told why, so a reason is required."""
    _decidable(draft, approver)
    if not note or not note.strip():
        raise Invalid("say why the change is rejected", field="note")
    draft.status, draft.approver_user_id, draft.decided_at, draft.note = (
        CatalogueStatus.REJECTED.value, approver.user_id, now, note)
    return draft


def _decidable(draft: CatalogueEntry, approver: Actor) -> None:
    if draft.status != CatalogueStatus.DRAFT.value:
        raise Conflict(f"version {draft.version} of entry {draft.entry_id} is {draft.status}, not a draft",
                       field="status")
    if draft.author_user_id == approver.user_id:
        raise Forbidden("a catalogue change needs a second person: its author cannot approve or reject it")


def current_version(session: Session, entry_id: int, *, at: datetime) -> CatalogueEntry:
    found = repository.catalogue_versions_in_force(session, at, entry_id=entry_id)
    if not found:
        raise NotFound(f"catalogue entry {entry_id} is not in force", field="entry_id")
    return found[0]


def retire(session: Session, entry_id: int, *, actor: Actor, now: datetime, at: datetime | None = None,
           note: str | None = None) -> CatalogueEntry:
    """Stop an entry applying from ``at`` (default now). The history stays."""
    at = at or now
    if at < now:
        raise Invalid("an entry cannot be retired in the past", field="at")
    version = current_version(session, entry_id, at=now)
    version.valid_to = at
    if note:
        version.note = note
    return version


def mark_reviewed(session: Session, entry_id: int, *, actor: Actor, now: datetime) -> CatalogueEntry:
    version = current_version(session, entry_id, at=now)
    version.reviewed_at, version.review_reminded_at = now, None
    return version


def review_due_at(version: CatalogueEntry) -> datetime | None:
    last = version.reviewed_at or version.decided_at
    return last + timedelta(days=version.review_interval_days) if last else None


def review_overdue(version: CatalogueEntry, *, now: datetime) -> bool:
    due = review_due_at(version)
    return due is not None and due <= now


def overdue_reviews(session: Session, *, now: datetime) -> list[CatalogueEntry]:
    """Entries in force whose review is overdue and whose owner was not reminded since it fell due."""
    return [v for v in in_force(session, at=now) if review_overdue(v, now=now) and (
        v.review_reminded_at is None or v.review_reminded_at < (review_due_at(v) or now))]


def remind_overdue_reviews(session: Session, *, now: datetime) -> int:
    """Tell each overdue entry's owner (or, without one, the catalogue's approvers) once per due date."""
    approvers: list[int] | None = None
    reminded = 0
    for version in overdue_reviews(session, now=now):
        if version.owner_user_id is not None:
            recipients = [version.owner_user_id]
        else:
            approvers = approvers if approvers is not None else holders_of(session, Perm.CATALOGUE_APPROVE)
            recipients = approvers
        due = review_due_at(version)
        notify(session, recipients, kind="catalogue.review_due", now=now,
               title=f"Review catalogue entry {version.entry_id}: it was due {due:%Y-%m-%d}",
               body=(f"Entry {version.entry_id} v{version.version} (market {version.market_scope}) is reviewed every "
                     f"{version.review_interval_days} days. Check that its owner, contact and escalation are still "
                     "right, then mark it reviewed."),
               link="/console/catalogue", dedupe_key=f"catalogue.review:{version.entry_id}:{due:%Y-%m-%d}")
        version.review_reminded_at = now
        reminded += 1
    return reminded


# ---------------------------------------------------------------- reading the catalogue


def may_read(actor: Actor) -> bool:
    """The catalogue names every team and contact; one vendor's staff never learn of another's."""
    return actor.can(Perm.CATALOGUE_READ) and actor.vendor_id is None


def require_in_house(actor: Actor) -> None:
    if actor.vendor_id is not None:
        raise Forbidden("the service catalogue is for in-house staff")


def in_force(session: Session, *, at: datetime) -> Sequence[CatalogueEntry]:
    return repository.catalogue_versions_in_force(session, at)


def drafts(session: Session) -> Sequence[CatalogueEntry]:
    return repository.catalogue_drafts(session)


def versions(session: Session, entry_id: int) -> Sequence[CatalogueEntry]:
    """Every version of an entry, oldest first."""
    rows = repository.catalogue_versions(session, entry_id)
    if not rows:
        raise NotFound(f"catalogue entry {entry_id} does not exist", field="entry_id")
    return rows


# ---------------------------------------------------------------- who owns what


@dataclass(frozen=True)
class Ownership:
    entry: CatalogueEntry | None
    specificity: tuple[int, int, int, int] | None
    considered: list[CatalogueEntry]  # every matching version, best first
    topic_key: str | None
    explanation: str


def specificity(entry: CatalogueEntry, *, topic_depths: dict[int, int], market: Market) -> tuple[int, int, int, int]:
    market_level = 2 if entry.market_scope == market.code else 1 if entry.market_scope != ANY_MARKET else 0
    return (topic_depths.get(entry.topic_id, 0) if entry.topic_id is not None else 0, market_level,
            1 if entry.channel else 0, 1 if entry.party_kind else 0)


@dataclass(frozen=True)
class Snapshot:
    """Every approved version and every topic, read once: who_owns for many cases in one transaction
    (bulk loads, replays) without a query each. Valid until the catalogue changes."""

    versions: Sequence[CatalogueEntry]
    topics: dict[str, Topic]

    def candidates(self, at: datetime, *, topic_ids: Sequence[int], scopes: Sequence[str], channel: str | None,
                   party_kind: str | None) -> list[CatalogueEntry]:
        """The same rows as ``repository.catalogue_candidates``, in the same order."""
        return [v for v in self.versions
                if v.valid_from is not None and v.valid_from <= at and (v.valid_to is None or v.valid_to > at)
                and (v.topic_id is None or v.topic_id in topic_ids) and v.market_scope in scopes
                and (v.channel is None or v.channel == channel)
                and (v.party_kind is None or v.party_kind == party_kind)]


def snapshot(session: Session) -> Snapshot:
    versions = sorted(repository.approved_versions(session), key=lambda v: (v.position, v.entry_id or 0))
    return Snapshot(versions=versions, topics={t.key: t for t in list_topics(session)})


def who_owns(session: Session, *, topic: str | None, market: Market, channel: str | None,
             party_kind: str | None, at: datetime, using: Snapshot | None = None) -> Ownership:
    """The catalogue's answer at ``at``; ``entry`` is None when nothing matches (send to triage)."""
    lineage_topics: list[Topic] = []
    if topic is not None:
        found = ({k: using.topics[k] for k in lineage(topic) if k in using.topics} if using is not None
                 else repository.topics_by_keys(session, lineage(topic)))
        if topic not in found:
            raise Invalid(f"unknown topic {topic!r}", field="topic")
        lineage_topics = [found[k] for k in lineage(topic) if k in found]
    scopes = [market.code, ANY_MARKET] + ([market.region] if market.region else [])
    # With no channel or party kind asked, only entries that do not name one can answer.
    topic_ids = [t.id for t in lineage_topics]
    candidates = (using.candidates(at, topic_ids=topic_ids, scopes=scopes, channel=channel, party_kind=party_kind)
                  if using is not None else
                  repository.catalogue_candidates(session, at, topic_ids=topic_ids, scopes=scopes, channel=channel,
                                                  party_kind=party_kind))
    depths = {t.id: t.depth for t in lineage_topics}
    ranked = sorted(candidates, key=lambda c: (tuple(-x for x in specificity(c, topic_depths=depths, market=market)),
                                               c.position, c.entry_id or c.id))
    asked = f"{topic or 'any topic'} in {market.code}" + (f" via {channel}" if channel else "") + (
        f" from a {party_kind}" if party_kind else "")
    if not ranked:
        return Ownership(entry=None, specificity=None, considered=[], topic_key=topic,
                         explanation=f"no catalogue entry covers {asked} at {at:%Y-%m-%d %H:%M} UTC, so such cases "
                                     "go to the market's triage queue")
    best = ranked[0]
    spec = specificity(best, topic_depths=depths, market=market)
    why = [f"entry {best.entry_id} v{best.version}"]
    if len(ranked) > 1:
        runner_up = ranked[1]
        runner_spec = specificity(runner_up, topic_depths=depths, market=market)
        if runner_spec == spec:
            why.append(f"as specific as entry {runner_up.entry_id}, earlier in order "
                       f"({best.position} < {runner_up.position})" if best.position != runner_up.position else
                       f"as specific and as early as entry {runner_up.entry_id}, and older")
        else:
            why.append(f"more specific than entry {runner_up.entry_id} "
                       f"({_describe(spec)} against {_describe(runner_spec)})")
    return Ownership(entry=best, specificity=spec, considered=ranked, topic_key=topic,
                     explanation=f"{asked}: " + ", ".join(why))


def scope_labels(session: Session, versions: Iterable[tuple[int, int]]) -> dict[tuple[int, int], str]:
    """What each (entry, version) covers, in words: "orders · US · buyer · any channel"."""
    wanted = set(versions)
    rows = [row for entry_id in sorted({e for e, _ in wanted})
            for row in repository.catalogue_versions(session, entry_id) if (row.entry_id, row.version) in wanted]
    topics = repository.topic_keys_by_ids(session, {r.topic_id for r in rows if r.topic_id is not None})
    return {(r.entry_id or r.id, r.version): " · ".join([
        topics.get(r.topic_id, "?") if r.topic_id is not None else "any topic",
        "every market" if r.market_scope == ANY_MARKET else r.market_scope,
        r.party_kind or "any party", r.channel or "any channel"]) for r in rows}


def _describe(spec: tuple[int, int, int, int]) -> str:
    topic, market, channel, party = spec
    parts = [f"topic level {topic}" if topic else "any topic",
             ("the market", "its region", "any market")[2 - market],
             "this channel" if channel else "any channel", "this party kind" if party else "any party kind"]
    return ", ".join(parts)
