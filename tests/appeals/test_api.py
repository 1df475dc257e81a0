"""The appeals JSON API over HTTP: ingest, filing, deciding, reversals, second reviews, misuse, permissions."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta
from typing import Any

import pytest
from dateutil.relativedelta import relativedelta
from fastapi.testclient import TestClient
from sqlalchemy import Connection, event, func, select
from sqlalchemy.orm import Session

from tests.factories.api import assert_problem
from tests.factories.appeals import REASONS, AppealsWorld, decide, make_appeal, make_decision, statement
from tests.factories.world import World
from trustdesk.appeals.models import (
    Appeal,
    AppealEvent,
    EnforcementDecision,
    MisuseMeasure,
    Outcome,
    QaReview,
    Reversal,
)
from trustdesk.cases import service as cases
from trustdesk.cases.models import Case, Party, PartyKind
from trustdesk.core.clock import FrozenClock
from trustdesk.core.idempotency import IdempotencyRecord
from trustdesk.core.identity import actor_for
from trustdesk.core.settings import Settings

API = "/api/v1"


def decision_body(world: World, clock: FrozenClock, **overrides: Any) -> dict[str, Any]:
    """An ingest body about the seller's listing in ES, decided by a moderator yesterday."""
    seller = world.users["seller"]
    yesterday = (clock.now() - timedelta(days=1)).isoformat()
    return {
        "external_id": "dec-api-1", "market": "ES",
        "party": {"kind": "seller", "external_id": f"user-{seller.id}", "display_name": seller.display_name,
                  "email": seller.email},
        "item_kind": "listing", "item_ref": "listing-77", "item_title": "Leather handbag",
        "policy": "counterfeit", "source": "brand-protection-team", "decided_at": yesterday,
        "notified_at": yesterday, "decided_by_email": world.users["agent_t2"].email, "statement": statement(),
    } | overrides


def link_seller(db: Session, world: World, clock: FrozenClock) -> Party:
    """The seller's own party in ES (as if they had contacted support), so ingested decisions are theirs."""
    party = cases.party_for_customer(db, actor_for(world.users["seller"]), world.es, now=clock.now(),
                                     kind=PartyKind.SELLER)
    db.commit()
    return party


def count(db: Session, model: Any, *where: Any) -> int:
    db.expire_all()
    return int(db.scalar(select(func.count()).select_from(model).where(*where)) or 0)


def file_via_api(client: TestClient, world: World, external_id: str = "dec-1", who: str = "seller",
                 **overrides: Any) -> Any:
    body = {"decision": external_id, "reason": "not_a_violation", "language": "es",
            "statement": "The bag is genuine; the supplier's invoices show it."} | overrides
    return client.post(f"{API}/appeals", headers=world.auth(who), json=body)


# ---------------------------------------------------------------- ingest


def test_ingest_records_a_decision_once_per_idempotency_key(client: TestClient, db: Session, world: World,
                                                           aw: AppealsWorld, clock: FrozenClock) -> None:
    body = decision_body(world, clock)
    headers = world.auth("admin") | {"Idempotency-Key": "ingest-1"}
    first = client.post(f"{API}/enforcement/decisions", headers=headers, json=body)
    assert first.status_code == 201, first.text
    assert first.headers["location"] == "/api/v1/enforcement/decisions/dec-api-1"
    data = first.json()
    assert data["external_id"] == "dec-api-1" and data["status"] == "in_force" and data["market"] == "ES"
    assert data["policy"] == "counterfeit" and data["source"] == "brand-protection-team"
    assert data["statement"]["decision_ground"] == "DECISION_GROUND_INCOMPATIBLE_CONTENT"
    assert data["redress"] == ["internal_complaint", "out_of_court", "judicial"]
    assert data["puid"] == "td-dec-api-1"
    notified = clock.now() - timedelta(days=1)
    assert data["window_ends_at"].startswith((notified + relativedelta(months=6)).date().isoformat())
    assert data["may_appeal"] is True and data["why_not"] is None

    replay = client.post(f"{API}/enforcement/decisions", headers=headers, json=body)
    assert replay.status_code == 201
    assert replay.headers["idempotent-replayed"] == "true"
    assert replay.headers["location"] == first.headers["location"]
    assert replay.content == first.content
    assert count(db, EnforcementDecision) == 1
    assert count(db, AppealEvent, AppealEvent.type == "decision.recorded") == 1

    other = client.post(f"{API}/enforcement/decisions", headers=headers,
                        json=body | {"item_title": "Another bag"})
    assert_problem(other, 422, "Idempotency-Key")
    assert count(db, EnforcementDecision) == 1
    assert count(db, IdempotencyRecord) == 1


def test_ingest_without_a_key_refuses_a_second_recording(client: TestClient, db: Session, world: World,
                                                         aw: AppealsWorld, clock: FrozenClock) -> None:
    body = decision_body(world, clock)
    assert client.post(f"{API}/enforcement/decisions", headers=world.auth("admin"), json=body).status_code == 201
    again = client.post(f"{API}/enforcement/decisions", headers=world.auth("admin"), json=body)
    assert_problem(again, 409, "external_id")
    assert count(db, EnforcementDecision) == 1


@pytest.mark.parametrize(("overrides", "field"), [
    ({"statement": statement(decision_ground="DECISION_GROUND_MADE_UP")}, "statement.decision_ground"),
    ({"decided_at": "2026-03-01T09:00:00"}, "decided_at"),
    ({"notified_at": "2026-03-01T09:00:00"}, "notified_at"),
    ({"policy": "no-such-policy"}, "policy"),
    ({"source": "no-such-source"}, "source"),
    ({"item_kind": "spaceship"}, "item_kind"),
    ({"market": "XX"}, "market"),
    ({"redress": ["internal_complaint", "carrier_pigeon"]}, "redress"),
    ({"party": {"kind": "seller", "external_id": "p-1"}}, "party.display_name"),
    ({"colour": "red"}, "colour"),
])
def test_ingest_names_the_bad_field_and_writes_nothing(client: TestClient, db: Session, world: World,
                                                       aw: AppealsWorld, clock: FrozenClock,
                                                       overrides: dict[str, Any], field: str) -> None:
    response = client.post(f"{API}/enforcement/decisions", headers=world.auth("admin"),
                           json=decision_body(world, clock, **overrides))
    assert_problem(response, 422, field)
    assert count(db, EnforcementDecision) == 0


def test_notified_before_decided_is_refused(client: TestClient, db: Session, world: World, aw: AppealsWorld,
                                            clock: FrozenClock) -> None:
    early = (clock.now() - timedelta(days=3)).isoformat()
    response = client.post(f"{API}/enforcement/decisions", headers=world.auth("admin"),
                           json=decision_body(world, clock, notified_at=early))
    assert_problem(response, 422, "notified_at")


@pytest.mark.parametrize("who", ["seller", "reviewer", "lead", "agent_t1"])
def test_only_the_enforcement_systems_ingest(client: TestClient, db: Session, world: World, aw: AppealsWorld,
                                             clock: FrozenClock, who: str) -> None:
    response = client.post(f"{API}/enforcement/decisions", headers=world.auth(who), json=decision_body(world, clock))
    assert_problem(response, 403)
    assert count(db, EnforcementDecision) == 0


# ---------------------------------------------------------------- reading decisions


def test_staff_and_the_party_read_a_decision_others_get_404(client: TestClient, db: Session, world: World,
                                                            aw: AppealsWorld, clock: FrozenClock) -> None:
    make_decision(db, aw, now=clock.now())
    db.commit()
    staff = client.get(f"{API}/enforcement/decisions/dec-1", headers=world.auth("reviewer"))
    assert staff.status_code == 200, staff.text
    assert staff.json()["decided_by_email"] == aw.moderator.email
    assert staff.json()["source"] == aw.source.key

    own = client.get(f"{API}/enforcement/decisions/dec-1", headers=world.auth("seller"))
    assert own.status_code == 200
    body = own.json()
    assert "decided_by_email" not in body and "source" not in body
    assert body["statement"]["category"] == "STATEMENT_CATEGORY_INTELLECTUAL_PROPERTY_INFRINGEMENTS"
    assert body["may_appeal"] is True and body["window_ends_at"]

    assert_problem(client.get(f"{API}/enforcement/decisions/dec-1", headers=world.auth("buyer")), 404)
    assert_problem(client.get(f"{API}/enforcement/decisions/nope", headers=world.auth("reviewer")), 404)
    assert_problem(client.get(f"{API}/enforcement/decisions/dec-1", headers=world.auth("agent_t1")), 403)

    mine = client.get(f"{API}/me/decisions", headers=world.auth("seller"))
    assert [d["external_id"] for d in mine.json()["items"]] == ["dec-1"]
    assert client.get(f"{API}/me/decisions", headers=world.auth("buyer")).json()["items"] == []


def test_a_decision_past_its_window_says_why_it_cannot_be_appealed(client: TestClient, db: Session,
                                                                   world: World, aw: AppealsWorld,
                                                                   clock: FrozenClock) -> None:
    make_decision(db, aw, now=clock.now())
    db.commit()
    clock.advance(days=200)
    body = client.get(f"{API}/enforcement/decisions/dec-1", headers=world.auth("seller")).json()
    assert body["may_appeal"] is False and "window closed" in body["why_not"]
    assert_problem(file_via_api(client, world), 409, "decision")


# ---------------------------------------------------------------- filing


def test_the_seller_files_an_appeal_and_gets_a_case(client: TestClient, db: Session, world: World,
                                                    aw: AppealsWorld, clock: FrozenClock) -> None:
    link_seller(db, world, clock)
    ingest = client.post(f"{API}/enforcement/decisions", headers=world.auth("admin"),
                         json=decision_body(world, clock))
    assert ingest.status_code == 201
    headers = world.auth("seller") | {"Idempotency-Key": "appeal-1"}
    body = {"decision": "dec-api-1", "reason": "not_a_violation", "language": "es",
            "statement": "The bag is genuine; the supplier's invoices show it.",
            "attachments": [{"filename": "invoice.pdf", "content_type": "application/pdf", "size_bytes": 2048}]}
    response = client.post(f"{API}/appeals", headers=headers, json=body)
    assert response.status_code == 201, response.text
    appeal = response.json()
    assert response.headers["location"] == f"/api/v1/appeals/{appeal['id']}"
    assert appeal["reference"] == f"AP-2026-{appeal['id']:06d}"
    assert appeal["status"] == "open" and appeal["decision"] == "dec-api-1" and appeal["outcome"] is None
    assert appeal["filed_at"].startswith("2026-03-02T09:00")
    assert appeal["deadline_at"].startswith("2026-09-01")
    assert "decider_user_id" not in appeal

    row = db.get(Appeal, appeal["id"])
    assert row is not None and row.case_id == appeal["case_id"]
    case = db.get(Case, appeal["case_id"])
    assert case is not None and case.channel == "appeal_form" and case.queue_id == aw.queue.id
    assert case.custom_fields["decision_reference"] == "dec-api-1"

    replay = client.post(f"{API}/appeals", headers=headers, json=body)
    assert replay.status_code == 201 and replay.headers["idempotent-replayed"] == "true"
    assert replay.json()["id"] == appeal["id"]
    assert count(db, Appeal) == 1

    read = client.get(f"{API}/appeals/{appeal['id']}", headers=world.auth("seller"))
    assert read.status_code == 200 and read.json()["reference"] == appeal["reference"]


@pytest.mark.parametrize("who", ["buyer", "buyer2", "admin"])
def test_only_the_party_appeals_its_decision(client: TestClient, db: Session, world: World, aw: AppealsWorld,
                                             clock: FrozenClock, who: str) -> None:
    make_decision(db, aw, now=clock.now())
    db.commit()
    assert_problem(file_via_api(client, world, who=who), 404, "decision")
    assert count(db, Appeal) == 0


def test_a_second_open_appeal_is_refused(client: TestClient, db: Session, world: World, aw: AppealsWorld,
                                         clock: FrozenClock) -> None:
    make_decision(db, aw, now=clock.now())
    db.commit()
    assert file_via_api(client, world).status_code == 201
    assert_problem(file_via_api(client, world), 409, "decision")
    assert count(db, Appeal) == 1


@pytest.mark.parametrize(("overrides", "field"), [
    ({"reason": "i_dont_like_it"}, "reason"),
    ({"statement": ""}, "statement"),
    ({"language": "Spanish"}, "language"),
    ({"attachments": [{"filename": "a.pdf", "content_type": "application/pdf", "size_bytes": 0}]},
     "attachments[0].size_bytes"),
])
def test_filing_names_the_bad_field(client: TestClient, db: Session, world: World, aw: AppealsWorld,
                                    clock: FrozenClock, overrides: dict[str, Any], field: str) -> None:
    make_decision(db, aw, now=clock.now())
    db.commit()
    assert_problem(file_via_api(client, world, **overrides), 422, field)
    assert count(db, Appeal) == 0


def test_another_customer_cannot_read_or_withdraw_the_appeal(client: TestClient, db: Session, world: World,
                                                             aw: AppealsWorld, clock: FrozenClock) -> None:
    make_decision(db, aw, now=clock.now())
    db.commit()
    appeal_id = file_via_api(client, world).json()["id"]
    assert_problem(client.get(f"{API}/appeals/{appeal_id}", headers=world.auth("buyer")), 404)
    assert_problem(client.post(f"{API}/appeals/{appeal_id}/withdraw", headers=world.auth("buyer")), 404)
    assert_problem(client.post(f"{API}/appeals/{appeal_id}/withdraw", headers=world.auth("admin")), 404)

    withdrawn = client.post(f"{API}/appeals/{appeal_id}/withdraw", headers=world.auth("seller"))
    assert withdrawn.status_code == 200 and withdrawn.json()["status"] == "withdrawn"
    assert_problem(client.post(f"{API}/appeals/{appeal_id}/withdraw", headers=world.auth("seller")), 409, "appeal")
    assert count(db, AppealEvent, AppealEvent.type == "appeal.withdrawn") == 1


# ---------------------------------------------------------------- deciding and reversing


def test_an_overturn_sends_the_letter_reverses_and_is_confirmed(client: TestClient, db: Session, world: World,
                                                                aw: AppealsWorld, clock: FrozenClock) -> None:
    make_decision(db, aw, now=clock.now())
    db.commit()
    appeal_id = file_via_api(client, world).json()["id"]
    clock.advance(hours=5)
    decided = client.post(f"{API}/appeals/{appeal_id}/decision", headers=world.auth("reviewer"),
                          json={"outcome": "overturned", "reasons": REASONS})
    assert decided.status_code == 200, decided.text
    staff_view = decided.json()
    assert staff_view["outcome"] == "overturned" and staff_view["status"] == "decided"
    assert staff_view["decider_user_id"] == world.users["reviewer"].id and staff_view["decider_kind"] == "human"
    assert staff_view["lifted_measures"] == ["decision_visibility"]
    reversal = staff_view["reversal"]
    assert reversal["status"] == "requested" and reversal["action"] == "restore_listing"

    seller_view = client.get(f"{API}/appeals/{appeal_id}", headers=world.auth("seller")).json()
    assert "succeeded" in seller_view["letter"] and REASONS in seller_view["letter"]
    assert seller_view["decision_reasons"] == REASONS
    assert not {"decider_user_id", "decider_name", "decider_kind", "reversal"} & seller_view.keys()
    decision = client.get(f"{API}/enforcement/decisions/dec-1", headers=world.auth("seller")).json()
    assert decision["status"] == "reversed"
    assert fresh_case_status(db, staff_view["case_id"]) == "solved"

    confirm_url = f"{API}/enforcement/reversals/{reversal['reversal_id']}/confirm"
    assert_problem(client.post(confirm_url, headers=world.auth("seller"), json={"reference": "x"}), 403)
    clock.advance(hours=1)
    confirmed = client.post(confirm_url, headers=world.auth("admin"), json={"reference": "ENF-991"})
    assert confirmed.status_code == 200, confirmed.text
    assert confirmed.json()["status"] == "confirmed" and confirmed.json()["confirmation_ref"] == "ENF-991"
    clock.advance(hours=1)
    again = client.post(confirm_url, headers=world.auth("admin"))
    assert again.status_code == 200 and again.json()["confirmed_at"] == confirmed.json()["confirmed_at"]
    db.expire_all()
    row = db.scalar(select(Reversal).where(Reversal.appeal_id == appeal_id))
    assert row is not None and row.status == "confirmed" and row.confirmation_ref == "ENF-991"
    assert count(db, AppealEvent, AppealEvent.type == "appeal.reversal_confirmed") == 1
    assert_problem(client.post(f"{API}/enforcement/reversals/msg_rev_nope/confirm", headers=world.auth("admin")),
                   404, "reversal_id")


def fresh_case_status(db: Session, case_id: int) -> str:
    db.expire_all()
    case = db.get(Case, case_id)
    assert case is not None
    return case.status


def test_the_original_decider_cannot_decide_the_appeal(client: TestClient, db: Session, world: World,
                                                       aw: AppealsWorld, clock: FrozenClock) -> None:
    link_seller(db, world, clock)
    body = decision_body(world, clock, decided_by_email=world.users["reviewer"].email)
    assert client.post(f"{API}/enforcement/decisions", headers=world.auth("admin"), json=body).status_code == 201
    appeal_id = file_via_api(client, world, external_id="dec-api-1").json()["id"]
    response = client.post(f"{API}/appeals/{appeal_id}/decision", headers=world.auth("reviewer"),
                           json={"outcome": "upheld", "reasons": REASONS})
    assert_problem(response, 403, "reviewer")
    appeal = db.get(Appeal, appeal_id)
    db.refresh(appeal)
    assert appeal is not None and appeal.status == "open" and appeal.outcome is None


def test_automation_alone_may_not_decide_in_a_dsa_market(client: TestClient, db: Session, world: World,
                                                         aw: AppealsWorld, clock: FrozenClock) -> None:
    make_decision(db, aw, now=clock.now())
    db.commit()
    appeal_id = file_via_api(client, world).json()["id"]
    response = client.post(f"{API}/appeals/{appeal_id}/decision", headers=world.auth("reviewer"),
                           json={"outcome": "upheld", "reasons": REASONS, "decider_kind": "automation"})
    assert_problem(response, 409, "decider_kind")
    bad = client.post(f"{API}/appeals/{appeal_id}/decision", headers=world.auth("reviewer"),
                      json={"outcome": "upheld", "reasons": REASONS, "decider_kind": "robot"})
    assert_problem(bad, 422, "decider_kind")
    short = client.post(f"{API}/appeals/{appeal_id}/decision", headers=world.auth("reviewer"),
                        json={"outcome": "upheld", "reasons": "No."})
    assert_problem(short, 422, "reasons")
    assert_problem(client.post(f"{API}/appeals/{appeal_id}/decision", headers=world.auth("qa"),
                               json={"outcome": "upheld", "reasons": REASONS}), 403)
    assert count(db, Appeal, Appeal.status == "open") == 1
    assert count(db, AppealEvent, AppealEvent.type == "appeal.decided") == 0


# ---------------------------------------------------------------- listing


class StatementCounter:
    def __init__(self, connection: Connection) -> None:
        self.statements: list[str] = []
        self.connection = connection
        event.listen(connection, "before_cursor_execute", self._count)

    def _count(self, _conn: Any, _cursor: Any, statement: str, *_args: Any) -> None:
        if not statement.lstrip().upper().startswith(("SAVEPOINT", "RELEASE", "ROLLBACK TO")):
            self.statements.append(statement)

    def close(self) -> None:
        event.remove(self.connection, "before_cursor_execute", self._count)


@pytest.fixture
def counter(connection: Connection) -> Iterator[StatementCounter]:
    made = StatementCounter(connection)
    yield made
    made.close()


def test_appeals_list_filters_pages_and_does_not_grow_queries(client: TestClient, db: Session, world: World,
                                                              aw: AppealsWorld, clock: FrozenClock,
                                                              settings: Settings,
                                                              counter: StatementCounter) -> None:
    ids = []
    for index in range(5):
        decision = make_decision(db, aw, now=clock.now(), external_id=f"dec-{index}")
        ids.append(make_appeal(db, aw, decision, now=clock.now(), settings=settings).id)
        clock.advance(minutes=1)
    first = db.get(Appeal, ids[0])
    assert first is not None
    decide(db, aw, first, Outcome.UPHELD, now=clock.now(), settings=settings)
    db.commit()

    def listing(**params: Any) -> Any:
        response = client.get(f"{API}/appeals", headers=world.auth("reviewer"), params=params)
        assert response.status_code == 200, response.text
        return response.json()

    listing(limit=1)  # the first request also records the token's use
    counter.statements.clear()
    page = listing(limit=2)
    small = len(counter.statements)
    assert [a["id"] for a in page["items"]] == [ids[4], ids[3]] and page["next_before_id"] == ids[3]
    assert page["items"][0]["market"] == "ES" and page["items"][0]["policy"] == "counterfeit"
    assert "letter" not in page["items"][0]
    counter.statements.clear()
    everything = listing(limit=200)
    assert len(counter.statements) == small
    assert [a["id"] for a in everything["items"]] == ids[::-1] and everything["next_before_id"] is None
    rest = listing(limit=2, before_id=page["next_before_id"])
    assert [a["id"] for a in rest["items"]] == [ids[2], ids[1]]
    assert [a["id"] for a in listing(status="decided")["items"]] == [ids[0]]
    assert len(listing(status="open", market="ES", policy="counterfeit")["items"]) == 4
    assert listing(market="US")["items"] == [] and listing(policy="spam")["items"] == []
    assert_problem(client.get(f"{API}/appeals", headers=world.auth("reviewer"), params={"status": "lost"}),
                   422, "status")
    assert_problem(client.get(f"{API}/appeals", headers=world.auth("reviewer"), params={"limit": 201}),
                   422, "limit")


@pytest.mark.parametrize("who", ["buyer", "seller", "agent_t1", "agent_t2"])
def test_customers_and_vendor_staff_cannot_list_appeals(client: TestClient, world: World, aw: AppealsWorld,
                                                        who: str) -> None:
    assert_problem(client.get(f"{API}/appeals", headers=world.auth(who)), 403)


# ---------------------------------------------------------------- second reviews


def _decided_appeal(db: Session, aw: AppealsWorld, clock: FrozenClock, settings: Settings,
                    external_id: str = "dec-1", outcome: Outcome = Outcome.UPHELD,
                    manifestly_unfounded: bool = False) -> Appeal:
    decision = make_decision(db, aw, now=clock.now(), external_id=external_id)
    appeal = make_appeal(db, aw, decision, now=clock.now(), settings=settings)
    clock.advance(hours=2)
    decide(db, aw, appeal, outcome, now=clock.now(), settings=settings, manifestly_unfounded=manifestly_unfounded)
    db.commit()
    return appeal


def test_second_review_is_blind_then_calibrated_by_a_lead(client: TestClient, db: Session, world: World,
                                                          aw: AppealsWorld, clock: FrozenClock,
                                                          settings: Settings) -> None:
    appeal = _decided_appeal(db, aw, clock, settings)
    url = f"{API}/appeals/{appeal.id}"
    assert_problem(client.post(f"{url}/qa-review", headers=world.auth("qa"), json={"outcome": "upheld"}),
                   404, "appeal_id")
    assert_problem(client.post(f"{url}/qa-sample", headers=world.auth("qa")), 403)
    sampled = client.post(f"{url}/qa-sample", headers=world.auth("lead"))
    assert sampled.status_code == 201, sampled.text
    assert sampled.json()["status"] == "pending"
    assert_problem(client.post(f"{url}/qa-sample", headers=world.auth("lead")), 409, "appeal")

    queue = client.get(f"{API}/appeals/qa", headers=world.auth("qa"))
    assert queue.status_code == 200
    [item] = queue.json()["items"]
    assert item["appeal_id"] == appeal.id and item["reference"] == appeal.reference
    assert not {"outcome", "first_outcome", "decision_reasons", "letter"} & item.keys()
    assert_problem(client.get(f"{API}/appeals/qa", headers=world.auth("reviewer")), 403)

    assert_problem(client.post(f"{url}/qa-review", headers=world.auth("qa"), json={"outcome": "maybe"}),
                   422, "outcome")
    reviewed = client.post(f"{url}/qa-review", headers=world.auth("qa"),
                           json={"outcome": "overturned", "notes": "The invoices look genuine to me."})
    assert reviewed.status_code == 200, reviewed.text
    assert reviewed.json()["status"] == "disagreed"
    assert reviewed.json()["first_outcome"] == "upheld" and reviewed.json()["outcome"] == "overturned"
    assert client.get(f"{API}/appeals/qa", headers=world.auth("qa")).json()["items"] == []
    assert_problem(client.post(f"{url}/qa-review", headers=world.auth("qa"), json={"outcome": "upheld"}),
                   409, "appeal")

    note = {"outcome": "overturned", "note": "Authorised-distributor invoices outweigh the notice."}
    assert_problem(client.post(f"{url}/calibration", headers=world.auth("reviewer"), json=note), 403)
    assert_problem(client.post(f"{url}/calibration", headers=world.auth("qa"), json=note), 403)
    calibrated = client.post(f"{url}/calibration", headers=world.auth("lead"), json=note)
    assert calibrated.status_code == 200, calibrated.text
    assert calibrated.json()["status"] == "calibrated" and calibrated.json()["calibrated_outcome"] == "overturned"
    db.expire_all()
    review = db.scalar(select(QaReview).where(QaReview.appeal_id == appeal.id))
    assert review is not None and review.status == "calibrated"
    assert review.reviewer_user_id == world.users["qa"].id
    assert count(db, AppealEvent, AppealEvent.type == "appeal.calibrated") == 1


def test_only_a_decided_appeal_is_sampled(client: TestClient, db: Session, world: World, aw: AppealsWorld,
                                          clock: FrozenClock) -> None:
    make_decision(db, aw, now=clock.now())
    db.commit()
    appeal_id = file_via_api(client, world).json()["id"]
    assert_problem(client.post(f"{API}/appeals/{appeal_id}/qa-sample", headers=world.auth("admin")), 409, "appeal")
    assert count(db, QaReview) == 0


# ---------------------------------------------------------------- misuse (Art. 23)


def test_misuse_warning_then_suspension_over_the_api(client: TestClient, db: Session, world: World,
                                                     aw: AppealsWorld, clock: FrozenClock,
                                                     settings: Settings) -> None:
    first = _decided_appeal(db, aw, clock, settings, external_id="dec-u0", manifestly_unfounded=True)
    party_url = f"{API}/parties/{first.party_id}/misuse"
    reasons = "Three appeals in a month repeated the same claim the invoices disproved."

    assert_problem(client.post(f"{party_url}/warning", headers=world.auth("admin"), json={"reasons": reasons}),
                   409, "party")
    for index in (1, 2):
        _decided_appeal(db, aw, clock, settings, external_id=f"dec-u{index}", manifestly_unfounded=True)
    state = client.get(party_url, headers=world.auth("admin"))
    assert state.status_code == 200, state.text
    assert state.json()["may_warn"] is True and len(state.json()["unfounded"]) == 3
    assert_problem(client.get(party_url, headers=world.auth("reviewer")), 403)

    assert_problem(client.post(f"{party_url}/warning", headers=world.auth("admin"), json={"reasons": "spam"}),
                   422, "reasons")
    warned = client.post(f"{party_url}/warning", headers=world.auth("admin"), json={"reasons": reasons})
    assert warned.status_code == 201, warned.text
    assert warned.json()["kind"] == "warning" and len(warned.json()["unfounded_appeal_ids"]) == 3
    assert_problem(client.post(f"{party_url}/warning", headers=world.auth("admin"), json={"reasons": reasons}),
                   409, "party")
    assert_problem(client.post(f"{party_url}/suspension", headers=world.auth("admin"),
                               json={"reasons": reasons, "days": 30}), 409, "party")

    clock.advance(hours=1)
    for index in (3, 4, 5):
        _decided_appeal(db, aw, clock, settings, external_id=f"dec-u{index}", manifestly_unfounded=True)
    assert_problem(client.post(f"{party_url}/suspension", headers=world.auth("admin"),
                               json={"reasons": reasons, "days": 400}), 422, "days")
    assert_problem(client.post(f"{party_url}/suspension", headers=world.auth("admin"),
                               json={"reasons": reasons, "days": 91}), 422, "days")
    suspended = client.post(f"{party_url}/suspension", headers=world.auth("admin"),
                            json={"reasons": reasons, "days": 30})
    assert suspended.status_code == 201, suspended.text
    assert suspended.json()["kind"] == "suspension"
    assert suspended.json()["ends_at"].startswith((clock.now() + timedelta(days=30)).date().isoformat())
    assert count(db, MisuseMeasure) == 2
    assert client.get(party_url, headers=world.auth("admin")).json()["suspension"]["id"] == suspended.json()["id"]

    make_decision(db, aw, now=clock.now(), external_id="dec-new")
    db.commit()
    assert_problem(file_via_api(client, world, external_id="dec-new"), 403, "decision")
    assert_problem(client.get(f"{API}/parties/999999/misuse", headers=world.auth("admin")), 404, "party_id")
