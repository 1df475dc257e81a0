"""``trustdesk demo`` at a small size: the marketplace it promises, true histories, every role can
sign in, and a second run changes nothing."""

from __future__ import annotations

import csv
from datetime import timedelta
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import func, select
from sqlalchemy.orm import Session, sessionmaker

from trustdesk.cases.models import Case, Message, Party, RerouteReason, Status
from trustdesk.core.clock import FrozenClock
from trustdesk.core.events import CaseEvent
from trustdesk.core.identity import User
from trustdesk.core.permissions import Role
from trustdesk.demo.bitext import load_utterances
from trustdesk.demo.build import DemoSummary, build_demo
from trustdesk.demo.catalog import DEMO_PASSWORD, HISTORY_DAYS, LOGINS
from trustdesk.directory.models import Agent, Market, Queue, Team, Tier
from trustdesk.knowledge.evaluation import heldout_texts

DATA = Path(__file__).resolve().parent / "data"
CASES = 400


@pytest.fixture
def demo(factory: sessionmaker[Session], clock: FrozenClock) -> DemoSummary:
    return build_demo(factory, clock, seed=7, case_count=CASES, data_dir=DATA, progress=None)


def test_the_marketplace_has_markets_tiers_and_staff(demo: DemoSummary, db: Session) -> None:
    markets = db.scalars(select(Market)).all()
    assert len(markets) >= 3
    assert len({m.time_zone for m in markets}) >= 3
    assert len({language for m in markets for language in m.languages}) >= 3
    tiers = {team.tier for team in db.scalars(select(Team))}
    assert {Tier.T1, Tier.T2, Tier.APPEALS, Tier.ONCALL} <= tiers
    vendor_teams = db.scalars(select(Team).where(Team.tier == Tier.T1, Team.vendor_id.is_not(None))).all()
    assert len({team.vendor_id for team in vendor_teams}) >= 2
    assert db.scalar(select(func.count()).select_from(Queue)) >= 10
    assert db.scalar(select(func.count()).select_from(Agent)) >= 20


def test_the_history_is_ninety_days_of_real_cases(demo: DemoSummary, db: Session, clock: FrozenClock) -> None:
    cases = db.scalars(select(Case)).all()
    assert len(cases) >= CASES
    now = clock.now()
    assert all(now - timedelta(days=HISTORY_DAYS + 1) <= c.created_at <= now for c in cases)
    statuses = {c.status for c in cases}
    assert {Status.CLOSED, Status.OPEN, Status.PENDING} <= statuses
    kinds = set(db.scalars(select(Party.kind).where(Party.id.in_({c.party_id for c in cases}))))
    assert kinds >= {"buyer", "seller", "creator"}
    # Every case has a thread and a history that starts with its creation.
    without_messages = db.scalar(select(func.count()).select_from(Case).where(
        ~Case.id.in_(select(Message.case_id))))
    assert without_messages == 0
    first_events = db.execute(
        select(CaseEvent.case_id, CaseEvent.type).order_by(CaseEvent.case_id, CaseEvent.id)).all()
    seen: dict[int, str] = {}
    for case_id, kind in first_events:
        seen.setdefault(case_id, kind)
    assert set(seen.values()) == {"case.created"}
    # Buyer questions come from the Bitext utterances.
    with (DATA / "bitext-customer-support" / "utterances.csv").open(newline="", encoding="utf-8") as handle:
        sample = {row["text"] for row in csv.DictReader(handle)}
    bodies = {m.body for m in db.scalars(select(Message).where(Message.author_type == "customer"))}
    assert any(any(text in body for text in sample) for body in bodies)


def test_reroutes_carry_a_reason(demo: DemoSummary, db: Session) -> None:
    reroutes = db.scalars(select(CaseEvent).where(CaseEvent.type == "case.rerouted")).all()
    assert reroutes
    reasons = {RerouteReason(event.data["reason"]) for event in reroutes}
    assert len(reasons) >= 2


def test_every_role_has_a_demo_login(demo: DemoSummary, client: TestClient, db: Session) -> None:
    users = {u.email: u for u in db.scalars(select(User).where(User.email.in_([row.email for row in LOGINS])))}
    assert set(users) == {row.email for row in LOGINS}
    assert {u.role for u in users.values()} == set(Role)
    for row in LOGINS:
        client.cookies.clear()
        form = client.get("/login")
        token = client.cookies.get("td_csrf")
        response = client.post("/login", data={"email": row.email, "password": DEMO_PASSWORD, "csrf_token": token},
                               follow_redirects=False)
        assert form.status_code == 200
        assert response.status_code == 303, (row.email, response.text[:500])
    # The customer logins have their own cases to look at.
    buyer = users[next(row.email for row in LOGINS if row.email.startswith("buyer@"))]
    own = db.scalar(select(func.count()).select_from(Case).join(Party).where(Party.user_id == buyer.id))
    assert own and own >= 3


def test_a_second_run_changes_nothing(demo: DemoSummary, factory: sessionmaker[Session],
                                      clock: FrozenClock, db: Session) -> None:
    clock.advance(timedelta(hours=5))
    again = build_demo(factory, clock, seed=7, case_count=CASES, data_dir=DATA, progress=None)
    assert demo.changed and not again.changed
    assert again.counts == demo.counts
    assert again.cases_by_status == demo.cases_by_status


def test_markets_have_business_hours_calendars_with_holidays(demo: DemoSummary, db: Session) -> None:
    from trustdesk.sla import calendars

    rows = {c.key: c for c in calendars.list_calendars(db)}
    assert {"us-t1", "gb-t1", "es-t1", "id-t1", "follow-the-sun"} <= set(rows)
    assert rows["follow-the-sun"].always_open and rows["es-t1"].weekly["mon"] == ["09:00-14:00", "15:00-19:00"]
    assert [h.name for h in calendars.holidays(db, rows["us-t1"])][:2] == ["Labor Day", "Thanksgiving Day"]


def test_demo_cases_carry_sla_terms_from_their_market_policy(demo: DemoSummary, db: Session) -> None:
    from trustdesk.sla.models import CaseSla

    snapshots = db.scalars(select(CaseSla)).all()
    assert len(snapshots) == db.scalar(select(func.count()).select_from(Case))
    keys = {s.policy_key for s in snapshots}
    assert {"standard", "us-tier-1", "es-tier-1"} <= keys
    us = next(s for s in snapshots if s.policy_key == "us-tier-1")
    assert us.calendar_key == "us-t1" and us.terms["targets"]["first_reply"]["business"] is True


def test_demo_markets_set_their_routing_threshold(demo: DemoSummary, db: Session) -> None:
    from trustdesk.demo.routing import MARKET_THRESHOLD

    assert {m.routing_threshold for m in db.scalars(select(Market))} == {MARKET_THRESHOLD}


def test_the_demo_never_shows_the_held_out_utterances(tmp_path: Path) -> None:
    """bench/kb.py tests the search on 2,000 held-out Bitext utterances: the demo (its case texts,
    the routing model trained on them) must not contain any of them."""
    path = tmp_path / "bitext-customer-support" / "utterances.csv"
    path.parent.mkdir()
    with path.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle)
        writer.writerow(["text", "intent", "category", "flags"])
        for n in range(2400):
            writer.writerow([f"where  is my order number {n}", "track_order", "ORDER", "B"])
    held = heldout_texts(path)
    loaded = load_utterances(tmp_path).by_intent["track_order"]
    assert len(held) == 2000
    assert len(loaded) == 400
    assert not held & set(loaded)
    assert "where is my order number 0" in held | set(loaded)  # whitespace collapsed on both sides
