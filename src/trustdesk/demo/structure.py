"""Writes the demo marketplace's structure: markets, vendors, teams, queues, request types, staff,
agents and customers. Each entity is found by its key first, so a second run creates nothing.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from trustdesk.cases.models import Case, Party, PartyKind, RequestType
from trustdesk.core import identity
from trustdesk.core.identity import Actor, User
from trustdesk.core.permissions import ROLE_PERMISSIONS, Role
from trustdesk.demo.catalog import (
    ADMIN_EMAIL,
    CUSTOMER_LOGINS,
    LOGIN_DOMAIN,
    MARKETS,
    QUEUES,
    REQUEST_TYPES,
    STAFF,
    STAFF_TENURE_DAYS,
    TEAMS,
    VENDORS,
    email_of,
)
from trustdesk.demo.people import CustomerSpec
from trustdesk.demo.planner import staff_party_key
from trustdesk.directory import repository as directory_repository
from trustdesk.directory import service as directory
from trustdesk.directory.models import Agent, Market, Queue, Team, Vendor
from trustdesk.directory.schemas import AgentIn, MarketIn, QueueIn, TeamIn, VendorIn

PARTY_PREFIX = "demo-"
ROLE_OF_KIND = {PartyKind.BUYER.value: Role.BUYER, PartyKind.SELLER.value: Role.SELLER,
                PartyKind.CREATOR.value: Role.CREATOR, PartyKind.INTERNAL.value: Role.INTERNAL_REQUESTER}


def login_customers() -> dict[str, CustomerSpec]:
    """The customer logins as customers: external id -> spec."""
    logins = {}
    for login in CUSTOMER_LOGINS:
        external_id = f"{PARTY_PREFIX}login-{login.email}"
        first = login.name.split()[0]
        logins[external_id] = CustomerSpec(external_id, login.market, login.kind, login.name, first,
                                           email_of(login.email), login.language, login.role)
    return logins


@dataclass
class Directory:
    """The demo's directory rows as one session sees them, by key."""

    markets: dict[str, Market]
    vendors: dict[str, Vendor]
    teams: dict[str, Team]
    queues: dict[str, Queue]
    request_types: dict[str, RequestType]
    users: dict[str, User]  # staff by e-mail local part
    agents: dict[str, Agent]  # by e-mail local part
    actors: dict[str, Actor]  # staff by e-mail local part

    @property
    def agent_keys(self) -> dict[int, str]:
        return {agent.id: key for key, agent in self.agents.items()}


def build_now_from(session: Session) -> datetime | None:
    """The "now" of the build that created the demo (its admin joined STAFF_TENURE_DAYS before)."""
    admin = identity.user_by_email(session, ADMIN_EMAIL)
    return None if admin is None else admin.created_at + timedelta(days=STAFF_TENURE_DAYS)


def ensure_structure(session: Session, *, now: datetime, password_hash: str) -> int:
    """Create what is missing; returns how many rows were created."""
    created = 0
    since = now - timedelta(days=STAFF_TENURE_DAYS)
    markets = {m.code: m for m in directory.list_markets(session)}
    for spec in MARKETS:
        if spec.code not in markets:
            markets[spec.code] = directory.create_market(session, MarketIn(
                code=spec.code, name=spec.name, time_zone=spec.time_zone, languages=list(spec.languages),
                default_language=spec.default_language, currency=spec.currency), now=since)
            created += 1
    vendors = {v.code: v for v in directory.list_vendors(session)}
    for vendor_spec in VENDORS:
        if vendor_spec.code not in vendors:
            vendors[vendor_spec.code] = directory.create_vendor(
                session, VendorIn(code=vendor_spec.code, name=vendor_spec.name), now=since)
            created += 1
    teams = {t.key: t for t in directory.list_teams(session)}
    for team_spec in TEAMS:
        if team_spec.key not in teams:
            vendor_id = vendors[team_spec.vendor].id if team_spec.vendor else None
            teams[team_spec.key] = directory.create_team(session, TeamIn(
                key=team_spec.key, name=team_spec.name, tier=team_spec.tier, vendor_id=vendor_id), now=since)
            created += 1
    for queue_spec in QUEUES:
        if directory.queue_by_key(session, queue_spec.key) is None:
            directory.create_queue(session, QueueIn(
                key=queue_spec.key, name=queue_spec.name, team_id=teams[queue_spec.team].id,
                market_id=markets[queue_spec.market].id if queue_spec.market else None,
                intake_channels=list(queue_spec.intake_channels),
                intake_party_kinds=list(queue_spec.intake_party_kinds), intake_order=queue_spec.intake_order,
                auto_assign=queue_spec.auto_assign, is_triage=queue_spec.is_triage), now=since)
            created += 1
    existing_types = {t.key for t in session.scalars(select(RequestType))}
    for type_spec in REQUEST_TYPES:
        if type_spec.key not in existing_types:
            queue = directory.queue_by_key(session, type_spec.queue)
            assert queue is not None
            # cases.service has no create_request_type yet (request types are seeded data), so the row is
            # written here with the same columns an admin form would fill.
            session.add(RequestType(key=type_spec.key, name=type_spec.name, description=type_spec.description,
                                    queue_id=queue.id, fields=[f.as_data() for f in type_spec.fields],
                                    is_active=True, created_at=since))
            created += 1
    session.flush()
    created += _ensure_staff(session, teams, vendors, markets, now=now, password_hash=password_hash)
    return created


def _ensure_staff(session: Session, teams: dict[str, Team], vendors: dict[str, Vendor], markets: dict[str, Market],
                  *, now: datetime, password_hash: str) -> int:
    created = 0
    for index, spec in enumerate(STAFF):
        email = email_of(spec.email)
        user = identity.user_by_email(session, email)
        if user is None:
            # The admin joined exactly STAFF_TENURE_DAYS before the build: build_now_from() reads it back.
            joined = now - timedelta(days=STAFF_TENURE_DAYS + (0 if email == ADMIN_EMAIL else index % 40))
            user = identity.create_user(session, email=email, display_name=spec.name, role=spec.role, password=None,
                                        now=joined, locale=spec.languages[0])
            # One Argon2 hash of the published demo password, shared by every demo login: hashing it
            # per user would cost seconds and protect nothing.
            user.password_hash = password_hash
            created += 1
        if spec.role is Role.INTERNAL_REQUESTER:
            created += _ensure_party(session, user, markets[spec.market], PartyKind.INTERNAL,
                                     staff_party_key(spec.email, spec.market), now=user.created_at)
            continue
        if directory.agent_for_user(session, user.id) is None:
            agent = directory.create_agent(session, AgentIn(
                user_id=user.id, vendor_id=vendors[spec.vendor].id if spec.vendor else None,
                languages=list(spec.languages), skills=list(spec.skills), capacity=spec.capacity,
                team_ids=[teams[key].id for key in spec.teams]), now=user.created_at)
            directory.set_presence(session, agent, spec.presence)
            created += 1
    for external_id, customer in login_customers().items():
        user = identity.user_by_email(session, customer.email)
        if user is None:
            user = identity.create_user(session, email=customer.email, display_name=customer.display_name,
                                        role=customer.role, password=None, now=now - timedelta(days=400),
                                        locale=customer.language)
            user.password_hash = password_hash
            created += 1
        created += _ensure_party(session, user, markets[customer.market], customer.kind, external_id,
                                 now=user.created_at)
    session.flush()
    return created


def _ensure_party(session: Session, user: User, market: Market, kind: PartyKind, external_id: str, *,
                  now: datetime) -> int:
    query = select(Party.id).where(Party.market_id == market.id, Party.kind == kind.value,
                                   Party.external_id == external_id)
    if session.scalar(query) is not None:
        return 0
    session.add(Party(kind=kind.value, market_id=market.id, external_id=external_id, display_name=user.display_name,
                      email=user.email, locale=user.locale, user_id=user.id, created_at=now))
    session.flush()
    return 1


def ensure_customers(session: Session, pools: Iterable[list[CustomerSpec]], *, now: datetime) -> int:
    """Every pool customer as a user (no password) with a linked party, in bulk.

    Thousands of customers would take seconds one service call at a time; they are written as
    plain rows with the columns ``identity.create_user`` and ``cases.service.upsert_party`` set
    (e-mails are generated lower-case and unique, so their checks have nothing to catch).
    """
    known = set(session.scalars(select(Party.external_id).where(Party.external_id.like(f"{PARTY_PREFIX}%"))))
    markets = {m.code: m for m in directory.list_markets(session)}
    missing = [c for pool in pools for c in pool if c.external_id not in known]
    for start in range(0, len(missing), 2000):
        chunk = missing[start:start + 2000]
        users = [User(email=c.email, display_name=c.display_name, role=c.role.value, password_hash=None,
                      locale=c.language, is_active=True, session_generation=0,
                      created_at=now - timedelta(days=200 + (hash_days(c.external_id)))) for c in chunk]
        session.add_all(users)
        session.flush()
        session.add_all([
            Party(kind=c.kind.value, market_id=markets[c.market].id, external_id=c.external_id,
                  display_name=c.display_name, email=c.email, locale=c.language, user_id=u.id,
                  created_at=u.created_at)
            for c, u in zip(chunk, users, strict=True)
        ])
        session.flush()
    return len(missing) * 2


def hash_days(key: str) -> int:
    """A stable small number of days from a key (Python's hash() is salted per process)."""
    return sum(key.encode()) % 600


def load_directory(session: Session) -> Directory:
    markets = {m.code: m for m in directory.list_markets(session)}
    vendors = {v.code: v for v in directory.list_vendors(session)}
    teams = {t.key: t for t in directory.list_teams(session)}
    queues = {q.key: q for q, _team in directory_repository.queues_with_teams(session)}
    request_types = {t.key: t for t in session.scalars(select(RequestType))}
    users: dict[str, User] = {}
    agents: dict[str, Agent] = {}
    actors: dict[str, Actor] = {}
    by_email = {u.email: u for u in session.scalars(select(User).where(User.email.like(f"%@{LOGIN_DOMAIN}")))}
    vendor_of = {v.id: v for v in vendors.values()}
    agent_rows = {a.user_id: a for a in session.scalars(select(Agent))}
    for spec in STAFF:
        user = by_email.get(email_of(spec.email))
        if user is None:
            continue
        users[spec.email] = user
        agent = agent_rows.get(user.id)
        if agent is not None:
            agents[spec.email] = agent
        vendor = vendor_of.get(agent.vendor_id) if agent and agent.vendor_id else None
        actors[spec.email] = identity.actor_for(user, agent_id=agent.id if agent else None,
                                                vendor_id=vendor.id if vendor else None)
    return Directory(markets, vendors, teams, queues, request_types, users, agents, actors)


def customer_actor(party: Party) -> Actor:
    """The customer behind a demo party, acting in the help center (their user is the party's)."""
    role = ROLE_OF_KIND[party.kind]
    assert party.user_id is not None
    return Actor(user_id=party.user_id, role=role, display_name=party.display_name, email=party.email or "",
                 permissions=ROLE_PERMISSIONS[role])


def parties_by_key(session: Session, keys: Iterable[str]) -> dict[str, Party]:
    wanted = sorted(set(keys))
    found: dict[str, Party] = {}
    for start in range(0, len(wanted), 500):
        chunk = wanted[start:start + 500]
        found.update({p.external_id: p for p in session.scalars(select(Party).where(Party.external_id.in_(chunk)))})
    return found


def demo_case_count(session: Session) -> int:
    query = (select(func.count(Case.id)).join(Party, Party.id == Case.party_id)
             .where(Party.external_id.like(f"{PARTY_PREFIX}%")))
    return int(session.scalar(query) or 0)

