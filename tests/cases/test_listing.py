"""Listing cases: filters, sorts, keyset pagination under inserts, and a fixed number of queries."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import Connection, event, update
from sqlalchemy.orm import Session

from tests.factories.api import assert_problem, fresh_case
from tests.factories.cases import make_case, make_party
from tests.factories.world import World
from trustdesk.cases.models import Case, Channel, Party, Priority, Status
from trustdesk.cases.service import change_status
from trustdesk.core.clock import FrozenClock
from trustdesk.core.events import SYSTEM
from trustdesk.directory.models import Market, Queue


def _ids(client: TestClient, world: World, who: str = "lead", **params: Any) -> list[int]:
    response = client.get("/api/v1/cases", headers=world.auth(who), params=params | {"limit": 200})
    assert response.status_code == 200, response.text
    assert response.json()["next_cursor"] is None
    return [item["id"] for item in response.json()["items"]]


class Dataset:
    def __init__(self, db: Session, world: World, clock: FrozenClock, *, minutes_apart: int = 1) -> None:
        self.db, self.world, self.clock, self.minutes_apart = db, world, clock, minutes_apart
        self.us_party = make_party(db, world.us, now=clock.now(), user=world.users["buyer"])
        self.es_party = make_party(db, world.es, now=clock.now(), user=world.users["buyer2"])

    def case(self, *, market: Market | None = None, queue: Queue | None = None, **data: Any) -> Case:
        self.clock.advance(minutes=self.minutes_apart)
        market = market or self.world.us
        party = self.us_party if market is self.world.us else self.es_party
        case = make_case(self.db, market=market, party=party, queue=queue or self.world.queue_t2,
                         now=self.clock.now(), **data)
        self.db.commit()
        return case


@pytest.fixture
def data(db: Session, world: World, clock: FrozenClock, client: TestClient) -> dict[str, int]:
    ds = Dataset(db, world, clock)
    cases = {
        # auto-assigned to agent_t1 on commit
        "crushed": ds.case(queue=world.queue_a, channel=Channel.WEB_FORM, priority=Priority.HIGH, tags=["vip"],
                           subject="Parcel damaged", body="The parcel arrived crushed."),
        # auto-assigned to agent_t1_b
        "spain": ds.case(market=world.es, queue=world.queue_b, channel=Channel.EMAIL, language="es",
                         subject="Pedido roto", body="Mi pedido llegó roto."),
        "refund": ds.case(channel=Channel.API, priority=Priority.LOW, tags=["vip", "refund"],
                          subject="Money back", body="Refund for the blender, please."),
        "waiting": ds.case(channel=Channel.IN_APP_CHAT, priority=Priority.URGENT, subject="Account locked",
                           body="I cannot sign in."),
    }
    change_status(db, cases["waiting"], Status.PENDING, actor=SYSTEM, now=clock.now())
    db.commit()
    ids = {name: case.id for name, case in cases.items()}
    clock.advance(minutes=1)
    reply = client.post(f"/api/v1/cases/{ids['refund']}/messages", headers=world.auth("agent_t2"),
                        json={"body": "We will refund the kettle today."})
    assert reply.status_code == 201
    return ids


def test_filters(client: TestClient, world: World, data: dict[str, int]) -> None:
    crushed, spain, refund, waiting = data["crushed"], data["spain"], data["refund"], data["waiting"]
    everything = {crushed, spain, refund, waiting}
    assert set(_ids(client, world)) == everything
    assert set(_ids(client, world, status="open")) == {crushed, spain, refund}
    assert set(_ids(client, world, status=["pending", "new"])) == {waiting}
    assert set(_ids(client, world, queue_id=world.queue_t2.id)) == {refund, waiting}
    assert set(_ids(client, world, team_id=world.t1_b.id)) == {spain}
    assert set(_ids(client, world, market="ES")) == {spain}
    assert set(_ids(client, world, market="us")) == {crushed, refund, waiting}
    assert set(_ids(client, world, assignee_id=world.agents["agent_t1"].id)) == {crushed}
    assert set(_ids(client, world, unassigned="true")) == {refund, waiting}
    assert set(_ids(client, world, priority="urgent")) == {waiting}
    assert set(_ids(client, world, channel="email")) == {spain}
    assert set(_ids(client, world, tag="vip")) == {crushed, refund}
    assert set(_ids(client, world, tag="refund")) == {refund}
    assert set(_ids(client, world, tag="VIP")) == {crushed, refund}  # as normalised on write
    assert set(_ids(client, world, tag="vi")) == set()
    assert set(_ids(client, world, tag="vip", priority="high")) == {crushed}


def test_search_by_reference_subject_and_message_text(client: TestClient, world: World, db: Session,
                                                      data: dict[str, int]) -> None:
    reference = fresh_case(db, data["spain"]).reference
    assert reference is not None
    assert _ids(client, world, q=reference) == [data["spain"]]
    assert _ids(client, world, q=reference.lower()) == [data["spain"]]
    assert _ids(client, world, q="kettle") == [data["refund"]]  # an agent's later reply
    assert _ids(client, world, q="CRUSHED") == [data["crushed"]]  # the first message, any case
    assert _ids(client, world, q="account locked") == [data["waiting"]]  # the subject
    assert _ids(client, world, q="%") == _ids(client, world, q="_") == []  # wildcards are literal, never "all"
    assert _ids(client, world, q="nothing like this") == []


def test_search_treats_wildcards_literally(client: TestClient, world: World, db: Session,
                                           clock: FrozenClock) -> None:
    ds = Dataset(db, world, clock)
    coupon = ds.case(subject="Coupon", body="The code SAVE_50% did not work at checkout.").id
    other = ds.case(subject="Coupon too", body="The code SAVEX50 did not work either.").id
    assert _ids(client, world, q="SAVE_50%") == [coupon]
    assert set(_ids(client, world, q="coupon")) == {coupon, other}
    assert _ids(client, world, q="%") == [coupon]
    assert _ids(client, world, q="\\") == []


@pytest.mark.parametrize(("sort", "order"), [
    ("created_desc", ["waiting", "refund", "spain", "crushed"]),
    ("created_asc", ["crushed", "spain", "refund", "waiting"]),
    ("updated_desc", ["refund", "waiting", "spain", "crushed"]),
    ("updated_asc", ["crushed", "spain", "waiting", "refund"]),
])
def test_sorts(client: TestClient, world: World, data: dict[str, int], sort: str, order: list[str]) -> None:
    assert _ids(client, world, sort=sort) == [data[name] for name in order]


def test_default_sort_is_newest_first(client: TestClient, world: World, data: dict[str, int]) -> None:
    assert _ids(client, world) == _ids(client, world, sort="created_desc")


# ---------------------------------------------------------------- keyset pagination


def _walk(client: TestClient, world: World, *, limit: int, between: Any = None, who: str = "lead",
          **params: Any) -> Iterator[list[int]]:
    cursor = None
    while True:
        query = params | {"limit": limit} | ({"cursor": cursor} if cursor else {})
        response = client.get("/api/v1/cases", headers=world.auth(who), params=query)
        assert response.status_code == 200, response.text
        page = response.json()
        assert len(page["items"]) <= limit
        yield [item["id"] for item in page["items"]]
        cursor = page["next_cursor"]
        if cursor is None:
            return
        if between is not None:
            between()


@pytest.mark.parametrize("sort", ["created_desc", "created_asc"])
@pytest.mark.parametrize("same_time", [True, False], ids=["same-timestamp", "advancing-clock"])
def test_pagination_walks_every_row_once_even_with_inserts(client: TestClient, world: World, db: Session,
                                                           clock: FrozenClock, sort: str, same_time: bool) -> None:
    # With same_time every case shares one created_at, and only the id orders them.
    ds = Dataset(db, world, clock, minutes_apart=0 if same_time else 1)
    originals = [ds.case().id for _ in range(23)]
    inserted: list[int] = []

    def insert() -> None:
        inserted.extend(ds.case().id for _ in range(2))

    pages = list(_walk(client, world, limit=5, between=insert, sort=sort))
    seen = [case_id for page in pages for case_id in page]
    assert len(seen) == len(set(seen)), "a row was returned twice"
    assert set(originals) <= set(seen), "a row was skipped"
    expected = sorted(originals, reverse=sort == "created_desc")
    assert [case_id for case_id in seen if case_id in originals] == expected
    assert len({fresh_case(db, i).created_at for i in originals}) == (1 if same_time else len(originals))
    if sort == "created_desc":
        # Newer rows land before the cursor: a walk already under way never sees them.
        assert not set(inserted) & set(seen)
    else:
        # Oldest first, the new rows join the end of the walk, each exactly once.
        assert seen[len(originals):] == inserted[:len(seen) - len(originals)]


def test_pagination_respects_filters_and_scope(client: TestClient, world: World, db: Session,
                                               clock: FrozenClock) -> None:
    ds = Dataset(db, world, clock)
    for _ in range(7):
        ds.case()
        ds.case(market=world.es, queue=world.queue_b, language="es")
    pages = list(_walk(client, world, limit=3, market="ES"))
    assert [len(p) for p in pages] == [3, 3, 1]
    # A vendor-B agent pages through only vendor B's cases.
    vendor_b = [i for p in _walk(client, world, limit=4, who="agent_t1_b") for i in p]
    assert len(vendor_b) == 7 and {fresh_case(db, i).queue_id for i in vendor_b} == {world.queue_b.id}
    # The customer pages through their own.
    mine = [i for p in _walk(client, world, limit=2, who="buyer2") for i in p]
    assert sorted(mine) == sorted(vendor_b)


def test_an_unknown_sort_is_refused_even_with_a_cursor(client: TestClient, world: World, db: Session,
                                                             clock: FrozenClock) -> None:
    ds = Dataset(db, world, clock)
    for _ in range(4):
        ds.case()
    first = client.get("/api/v1/cases", headers=world.auth("lead"), params={"limit": 2}).json()
    response = client.get("/api/v1/cases", headers=world.auth("lead"),
                          params={"limit": 2, "cursor": first["next_cursor"], "sort": "nonsense"})
    assert_problem(response, 422, "sort")


# ---------------------------------------------------------------- no N+1


class StatementCounter:
    def __init__(self, connection: Connection) -> None:
        self.statements: list[str] = []
        event.listen(connection, "before_cursor_execute", self._count)
        self.connection = connection

    def _count(self, _conn: Any, _cursor: Any, statement: str, *_args: Any) -> None:
        if not statement.lstrip().upper().startswith(("SAVEPOINT", "RELEASE", "ROLLBACK TO")):
            self.statements.append(statement)

    def during(self, action: Any) -> int:
        self.statements.clear()
        action()
        return len(self.statements)

    def close(self) -> None:
        event.remove(self.connection, "before_cursor_execute", self._count)


@pytest.fixture
def counter(connection: Connection) -> Iterator[StatementCounter]:
    made = StatementCounter(connection)
    yield made
    made.close()


def _many_cases(db: Session, world: World, clock: FrozenClock, count: int, offset: int) -> None:
    markets = [(world.us, world.queue_t2), (world.es, world.queue_t2)]
    for index in range(offset, offset + count):
        market, queue = markets[index % 2]
        party = make_party(db, market, now=clock.now(), external_id=f"party-{index % 7}")
        make_case(db, market=market, party=party, queue=queue, now=clock.now(), tags=[f"t{index % 3}"])
    db.commit()


@pytest.mark.parametrize("who", ["lead", "buyer"])
def test_listing_costs_the_same_number_of_queries_for_5_or_50_cases(
        client: TestClient, world: World, db: Session, clock: FrozenClock, counter: StatementCounter,
        who: str) -> None:
    listed: list[int] = []

    def listing() -> None:
        response = client.get("/api/v1/cases", headers=world.auth(who), params={"limit": 200})
        assert response.status_code == 200
        listed[:] = [item["id"] for item in response.json()["items"]]

    def add_cases(count: int, offset: int) -> None:
        _many_cases(db, world, clock, count, offset)
        if who == "buyer":  # make every party the buyer's, so the customer lists them all
            db.execute(update(Party).values(user_id=world.users["buyer"].id))
            db.commit()

    add_cases(5, 0)
    counter.during(listing)  # warm up: the first request of a token touches it
    few = counter.during(listing)
    assert len(listed) == 5
    add_cases(45, 5)
    many = counter.during(listing)
    assert len(listed) == 50
    assert 0 < few == many <= 10, (few, many, counter.statements)


def test_queue_and_agent_lists_cost_a_fixed_number_of_queries(
        client: TestClient, world: World, db: Session, clock: FrozenClock, counter: StatementCounter) -> None:
    def queues() -> None:
        assert client.get("/api/v1/queues", headers=world.auth("lead")).status_code == 200

    def agents() -> None:
        assert client.get("/api/v1/agents", headers=world.auth("lead")).status_code == 200

    counter.during(queues)
    few_queues, few_agents = counter.during(queues), counter.during(agents)
    _many_cases(db, world, clock, 30, 0)
    assert counter.during(queues) == few_queues
    assert counter.during(agents) == few_agents

