"""Emerging issues: the count test on known numbers, the weekly season, a seeded spike found within hours and
alerted to its catalogue owner once however long it lasts, the end after quiet days and a new issue after it,
and the page and API with their permissions.

The seeded history (Spain, Europe/Madrid, CET in February and March 2026): three cases a day of
``orders.delivery.late`` (08:30, 12:30, 17:30 local) for the 30 days before Wednesday 4 March (day D); then a
carrier spike: D has 12 cases from 07:00 to 09:45 and 10 more by 19:00, D+1 and D+2 have 20 each; D+3 to D+6
are normal again (3 a day); D+7 spikes again (15 cases).
"""

from __future__ import annotations

import math
from collections.abc import Iterator
from datetime import UTC, date, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import numpy as np
import pytest
from fastapi.testclient import TestClient
from scipy.stats import nbinom, poisson
from sqlalchemy import Connection, event, func, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, sessionmaker

from tests.factories.api import assert_problem
from tests.factories.cases import make_party
from tests.factories.routing import TOPICS_CSV
from tests.factories.world import World
from tests.web.test_pages_auth import sign_in
from trustdesk.cases import service as cases
from trustdesk.cases.models import Channel
from trustdesk.core import webhooks
from trustdesk.core.clock import FrozenClock
from trustdesk.core.events import SYSTEM, StaleCase
from trustdesk.core.identity import actor_for
from trustdesk.core.notifications import Notification, holders_of
from trustdesk.core.outbox import OutboxMessage
from trustdesk.core.permissions import Perm
from trustdesk.core.settings import Settings
from trustdesk.directory import catalogue
from trustdesk.directory.schemas import CatalogueEntryIn
from trustdesk.insights import emerging, emerging_jobs, facts, metrics
from trustdesk.insights.models import EmergingCheck, EmergingIssue

SETTINGS = Settings(database_url="sqlite://", secret_key="x" * 40)
MADRID = ZoneInfo("Europe/Madrid")
TOPIC = "orders.delivery.late"
D = date(2026, 3, 4)  # a Wednesday
H = timedelta(hours=1)
API = "/api/v1/insights/emerging-issues"
PAGE = "/console/insights/emerging"


def at(day: date, hour: int, minute: int = 0) -> datetime:
    """A local time in Madrid, as UTC."""
    return datetime.combine(day, time(hour, minute), tzinfo=MADRID).astimezone(UTC)


def plus(days: int) -> date:
    return D + timedelta(days=days)


# ---------------------------------------------------------------- the test on known numbers


def test_poisson_and_negative_binomial_tails_are_exact() -> None:
    # P(X >= 10) for Poisson(3), summed by hand.
    by_hand = 1 - sum(math.exp(-3) * 3**k / math.factorial(k) for k in range(10))
    assert emerging.tail_probability(10, 3.0) == pytest.approx(by_hand, rel=1e-9)
    assert by_hand == pytest.approx(0.0011025, rel=1e-4)
    assert emerging.tail_probability(10, 3.0) == pytest.approx(float(poisson.sf(9, 3.0)), rel=1e-12)
    # Negative binomial with mean 4 and phi 0.5 (size 2, p = 2 / 6): P(X >= 12) by hand.
    size, p = 2, 2 / 6
    by_hand = 1 - sum(math.comb(k + size - 1, k) * p**size * (1 - p) ** k for k in range(12))
    assert emerging.tail_probability(12, 4.0, 0.5) == pytest.approx(by_hand, rel=1e-9)
    assert emerging.tail_probability(12, 4.0, 0.5) == pytest.approx(float(nbinom.sf(11, 2, 1 / 3)), rel=1e-12)
    # Overdispersion makes the same count less surprising; none is never surprising.
    assert emerging.tail_probability(12, 4.0, 0.5) > emerging.tail_probability(12, 4.0)
    assert emerging.tail_probability(0, 4.0) == 1.0
    # The rule: improbable, at least 8 cases, and at least twice the expected.
    assert emerging.judge(14, 3.0).flagged
    assert not emerging.judge(7, 0.2).flagged  # p tiny, but 7 cases
    assert not emerging.judge(40, 30.0).flagged  # 40 where 30 are usual: neither improbable nor twice
    assert emerging.judge(12, 1.0).p_value < emerging.INTRADAY_ALPHA


def test_dispersion_by_moments_falls_back_to_poisson() -> None:
    assert emerging.moment_dispersion([2, 2, 2, 2], [2, 2, 2, 2]) == 0.0  # variance below the mean
    assert emerging.moment_dispersion([1, 3, 2, 2], [2, 2, 2, 2]) == 0.0  # variance (2/3) below the mean
    # (4/3 * 4 * 25 - 20) / (4 * 25)
    assert emerging.moment_dispersion([0, 10, 0, 10], [5, 5, 5, 5]) == pytest.approx((400 / 3 - 20) / 100)


def test_the_weekday_index_and_the_chance_in_words() -> None:
    weekdays = [d % 7 for d in range(28)]
    totals = [20.0 if w == 0 else 10.0 for w in weekdays]
    index = emerging.weekday_index(weekdays, totals)
    assert index[0] == pytest.approx(20 / (80 / 7)) and index[3] == pytest.approx(10 / (80 / 7))
    assert emerging.weekday_index([0, 1], [0.0, 0.0]) == (1.0,) * 7
    assert emerging.chance_in_words(1e-4) == "1 in 10,000 chance on a normal day"
    assert emerging.chance_in_words(2.34e-5) == "1 in 43,000 chance on a normal day"
    assert emerging.chance_in_words(1e-15) == "less than 1 in a trillion chance on a normal day"


def _volumes(daily: list[int], start: date = date(2026, 2, 2)) -> emerging.MarketVolumes:
    """One topic in Madrid with these cases a day (all at noon)."""
    cube = np.zeros((1, len(daily), 24), dtype=np.int64)
    cube[0, :, 12] = daily
    return emerging.MarketVolumes(code="ES", zone=MADRID, start=start, days=len(daily), topics=[TOPIC], cube=cube,
                                  history_from=0)


def test_a_busy_monday_is_not_flagged_but_the_same_count_on_a_wednesday_is() -> None:
    start = date(2026, 2, 2)  # a Monday
    week = [10, 3, 3, 3, 3, 3, 3]
    history = week * 4

    def judged(day_offset: int, count: int) -> emerging.DayJudgement:
        daily = history + [3] * day_offset + [count]
        volumes = _volumes(daily, start)
        found = emerging.judge_day(volumes, volumes.day(len(daily) - 1),
                                   excluded=np.zeros((1, len(daily)), dtype=np.bool_))
        assert found is not None
        return found

    monday = judged(0, 14)
    assert monday.day.weekday() == 0
    assert monday.expected[0] == pytest.approx(10.0, rel=0.1) and not monday.flagged[0]
    wednesday = judged(2, 14)
    assert wednesday.day.weekday() == 2
    assert wednesday.expected[0] == pytest.approx(3.0, rel=0.1) and wednesday.flagged[0]
    assert wednesday.p_value[0] < 1e-4 < monday.p_value[0]


def test_the_days_of_an_issue_are_left_out_of_its_baseline() -> None:
    daily = [3] * 28 + [25] * 6 + [25]
    volumes = _volumes(daily)
    last = volumes.day(len(daily) - 1)
    plain = emerging.judge_day(volumes, last, excluded=np.zeros((1, len(daily)), dtype=np.bool_))
    excluded = np.zeros((1, len(daily)), dtype=np.bool_)
    excluded[0, 28:34] = True  # the issue's first six days
    kept_out = emerging.judge_day(volumes, last, excluded=excluded)
    assert plain is not None and kept_out is not None
    assert kept_out.flagged[0] and kept_out.expected[0] == pytest.approx(3.0, rel=0.1)
    assert plain.expected[0] > 7 and not plain.flagged[0]  # left in, the spike becomes its own baseline


# ---------------------------------------------------------------- a seeded history, through the services


@pytest.fixture
def spike(db: Session, world: World) -> dict[str, Any]:
    """The history of the module docstring, written through the case services (facts not yet folded);
    the catalogue gives orders in ES to T1 Vendor B, owned by the lead (contact: agent_t2, escalation: oncall)."""
    long_ago = at(D - timedelta(days=60), 9)
    catalogue.import_topics(db, catalogue.parse_topics(TOPICS_CSV, format="csv"), now=long_ago)
    draft = catalogue.propose(db, CatalogueEntryIn(topic="orders", market_scope="ES", team_id=world.t1_b.id,
                                                   owner_user_id=world.users["lead"].id,
                                                   contact_user_id=world.users["agent_t2"].id,
                                                   escalation_user_id=world.users["oncall_sme"].id),
                              author=actor_for(world.users["lead"]), now=long_ago)
    catalogue.approve(db, draft, approver=actor_for(world.users["admin"]), now=long_ago)
    webhooks.create_endpoint(db, key="ops-chat", url="https://hooks.example.test/ops",
                             event_types=[emerging.WEBHOOK_OPENED, emerging.WEBHOOK_ENDED], now=long_ago)
    times: list[datetime] = []
    normal = ((8, 30), (12, 30), (17, 30))
    for back in range(30, 0, -1):
        times += [at(D - timedelta(days=back), h, m) for h, m in normal]
    times += [at(D, 7, 0) + k * timedelta(minutes=15) for k in range(12)]  # 07:00 to 09:45
    times += [at(D, 10 + k, 5) for k in range(10)]
    for day in (plus(1), plus(2)):
        times += [at(day, 8 + k // 2, 10 + 30 * (k % 2)) for k in range(20)]
    for day in (plus(3), plus(4), plus(5), plus(6)):
        times += [at(day, h, m) for h, m in normal]
    times += [at(plus(7), 8 + k // 2, 20 + 30 * (k % 2)) for k in range(15)]
    party = make_party(db, world.es, now=long_ago, external_id="carrier-spike")
    ids = []
    for when in times:
        ids.append(cases.open_case(db, cases.NewCase(
            channel=Channel.WEB_FORM, market=world.es, party=party, subject="Mi paquete no se mueve",
            body="Mi paquete de Parcelway no se mueve desde hace días.", language="es", topic=TOPIC),
            actor=SYSTEM, settings=SETTINGS, now=when).case.id)
    db.commit()
    return {"ids": ids, "owners": sorted(world.users[w].id for w in ("lead", "agent_t2", "oncall_sme"))}


def _fold(db: Session, spike: dict[str, Any]) -> None:
    facts.refresh(db, spike["ids"], now=at(plus(8), 23))


def _alerts(db: Session) -> list[Notification]:
    return list(db.scalars(select(Notification).where(Notification.kind == emerging.ALERT_KIND)
                           .order_by(Notification.user_id, Notification.id)))


def _webhooks(db: Session, event_type: str) -> int:
    return sum(1 for m in db.scalars(select(OutboxMessage).where(OutboxMessage.topic == webhooks.DELIVER_TOPIC))
               if m.payload["type"] == event_type)


def test_volumes_are_counted_on_the_market_day_and_agree_with_the_volume_metric(db: Session, world: World,
                                                                                spike: dict[str, Any]) -> None:
    _fold(db, spike)
    volumes = emerging.load_volumes(db, since=at(D, 0) - 3 * 24 * H, until=at(plus(3), 0))["ES"]
    assert volumes.daily[volumes.rows[TOPIC], volumes.index(D)] == 22
    # The first spike case came at 07:00 in Madrid: 06:00 UTC; a UTC day would split nothing here, but
    # the local day is what is counted: [D 00:00, D+1 00:00) Madrid = [D-1 23:00, D 23:00) UTC.
    day = metrics.Period(at(D, 0), at(plus(1), 0))
    figure = metrics.value(db, "volume", day, metrics.Filters(market="ES", topic=TOPIC), now=at(plus(3), 0))
    assert figure.value == 22


def test_a_seeded_spike_is_found_within_hours_and_alerts_the_catalogue_owner_once(
        db: Session, world: World, spike: dict[str, Any], factory: sessionmaker[Session]) -> None:
    # The job folds the stale facts first, then judges; before the spike, two weeks of hourly runs find nothing.
    clock = FrozenClock(at(D, 6))
    emerging_jobs.refresh_facts(factory, clock)
    assert db.scalar(select(func.count()).select_from(StaleCase)) == 0
    quiet = emerging.replay(db, since=at(D - timedelta(days=14), 0), until=at(D, 6))
    assert quiet.opened == [] and quiet.flagged == 0 and quiet.checks >= 14
    db.commit()
    # 10:00 in Madrid, three hours into the spike: the day so far (12 cases) against what is usual by 10:00.
    clock.set(at(D, 10))
    report = emerging_jobs.detect_job(factory, clock)
    assert len(report.opened) == 1 and report.alerts == 3
    db.expire_all()
    issue = db.get(EmergingIssue, report.opened[0])
    assert issue is not None
    assert (issue.topic, issue.market, issue.status, issue.started_on) == (TOPIC, "ES", "active", D)
    assert issue.peak_observed == 12 and issue.expected < 2 and issue.p_value < emerging.INTRADAY_ALPHA
    assert issue.owner_team_id == world.t1_b.id and sorted(int(u) for u in issue.owner_user_ids) == spike["owners"]
    assert len(issue.example_case_ids) == emerging.EXAMPLES
    assert set(issue.example_case_ids) <= {str(i) for i in spike["ids"]}
    alerts = _alerts(db)
    assert [a.user_id for a in alerts] == spike["owners"]
    body = alerts[0].body
    assert "12 cases" in body and "of a usual day" in body and "chance on a normal day" in body
    for case_id in issue.example_case_ids:
        assert f"/console/cases/{case_id}" in body
    assert alerts[0].link == f"{PAGE}#issue-{issue.id}"
    assert _webhooks(db, emerging.WEBHOOK_OPENED) == 1
    [opened] = emerging.events_of(db, issue.id)
    assert opened.type == "emerging_issue.opened" and opened.data["intraday"] is True
    assert sorted(opened.data["alerted_user_ids"]) == spike["owners"]
    today = db.scalar(select(EmergingCheck).where(EmergingCheck.topic == TOPIC, EmergingCheck.day == D))
    assert today is not None and today.flagged and today.observed == 12


def test_no_storm_hourly_runs_through_three_days_of_a_spike_make_one_issue_and_one_alert(
        db: Session, world: World, spike: dict[str, Any]) -> None:
    _fold(db, spike)
    opened: list[int] = []
    alerts = 0
    when = at(D, 0)
    while when < at(plus(3), 0):  # a fresh run every hour, as the job does: state comes from the database
        report = emerging.detect(db, now=when)
        opened += report.opened
        alerts += report.alerts
        when += H
    assert len(opened) == 1 and alerts == 3
    assert db.scalar(select(func.count()).select_from(EmergingIssue)) == 1
    assert [a.user_id for a in _alerts(db)] == spike["owners"]  # one each, never repeated
    assert all(a.repeats == 0 for a in _alerts(db))
    assert _webhooks(db, emerging.WEBHOOK_OPENED) == 1
    issue = db.get(EmergingIssue, opened[0])
    assert issue is not None and issue.status == "active"
    assert (issue.started_on, issue.last_flagged_on, issue.peak_observed, issue.total_cases) == (D, plus(2), 22, 62)
    assert [e.type for e in emerging.events_of(db, issue.id)] == [
        "emerging_issue.opened", "emerging_issue.flagged", "emerging_issue.flagged"]  # D+1, D+2: audit, no alert
    # Each complete day has a check for the pair; the spike's days are flagged.
    checks = {c.day: c for c in db.scalars(select(EmergingCheck).where(EmergingCheck.topic == TOPIC))}
    assert [checks[d].flagged for d in (D, plus(1), plus(2))] == [True, True, True]
    assert checks[D].observed == 22 and checks[D].expected == pytest.approx(3.0, rel=0.15)


def test_an_issue_ends_after_two_quiet_days_and_a_later_spike_opens_a_new_one_with_a_new_alert(
        db: Session, world: World, spike: dict[str, Any]) -> None:
    _fold(db, spike)
    report = emerging.replay(db, since=at(D, 0), until=at(plus(8), 23))
    assert len(report.opened) == 2 and report.alerts == 6 and len(report.ended) == 1
    first, second = (db.get(EmergingIssue, i) for i in report.opened)
    assert first is not None and second is not None
    assert (first.status, first.last_flagged_on, first.ended_on) == ("ended", plus(2), plus(4))
    assert (second.status, second.started_on) == ("active", plus(7))
    ended = [e for e in emerging.events_of(db, first.id) if e.type == "emerging_issue.ended"]
    assert [e.data["reason"] for e in ended] == ["quiet"] and ended[0].actor_id is None
    assert [a.user_id for a in _alerts(db)] == sorted(spike["owners"] * 2)
    assert _webhooks(db, emerging.WEBHOOK_OPENED) == 2 and _webhooks(db, emerging.WEBHOOK_ENDED) == 1
    # The quiet days were judged against a baseline without the spike's days.
    quiet = db.scalar(select(EmergingCheck).where(EmergingCheck.topic == TOPIC, EmergingCheck.day == plus(3)))
    assert quiet is not None and not quiet.flagged and quiet.expected == pytest.approx(3.0, rel=0.15)


def test_the_owners_come_from_the_catalogue_or_else_the_leads(db: Session, world: World,
                                                              spike: dict[str, Any]) -> None:
    now = at(D, 12)
    assert emerging.owners(db, TOPIC, world.es, [], now=now) == (world.t1_b.id, spike["owners"])
    leads = holders_of(db, Perm.INSIGHTS_ADMIN)
    assert world.users["lead"].id in leads and world.users["admin"].id not in leads
    assert emerging.owners(db, "payments.double_charge", world.es, [], now=now) == (None, leads)
    assert emerging.owners(db, "not.a.topic", world.es, [], now=now) == (None, leads)


def test_one_active_issue_per_pair_is_a_database_rule(db: Session) -> None:
    def issue(status: str) -> EmergingIssue:
        return EmergingIssue(topic=TOPIC, market="ES", status=status, started_on=D, last_flagged_on=D,
                             ended_on=None if status == "active" else D, peak_observed=9, expected=1.0, p_value=1e-6,
                             total_cases=9, owner_user_ids=[], example_case_ids=[], note="", created_at=at(D, 9))

    db.add_all([issue("ended"), issue("ended"), issue("active")])
    db.flush()
    with pytest.raises(IntegrityError), db.begin_nested():
        db.add(issue("active"))
        db.flush()


# ---------------------------------------------------------------- acting by hand, the API and the page


@pytest.fixture
def found(db: Session, world: World, spike: dict[str, Any], clock: FrozenClock) -> EmergingIssue:
    """The spike's issue, found at 10:00 on its first day; the clock stands at 10:30."""
    _fold(db, spike)
    report = emerging.detect(db, now=at(D, 10))
    issue = db.get(EmergingIssue, report.opened[0])
    assert issue is not None
    db.commit()
    clock.set(at(D, 10, 30))
    return issue


def test_the_api_lists_issues_and_leads_acknowledge_and_end_them(client: TestClient, db: Session, world: World,
                                                                 found: EmergingIssue) -> None:
    listing = client.get(API, headers=world.auth("qa"))
    assert listing.status_code == 200, listing.text
    body = listing.json()
    assert body["days"] == 30 and [i["id"] for i in body["items"]] == [found.id]
    item = body["items"][0]
    assert {k: item[k] for k in ("topic", "market", "status", "started_on", "peak_observed")} == {
        "topic": TOPIC, "market": "ES", "status": "active", "started_on": D.isoformat(), "peak_observed": 12}
    assert item["first_day"]["observed"] == 12 and item["chance"].endswith("chance on a normal day")
    assert item["owner_team_id"] == world.t1_b.id and len(item["examples"]) == emerging.EXAMPLES
    assert item["examples"][0]["reference"].startswith("ID-") and item["examples"][0]["url"].startswith("/console/")
    assert client.get(API, headers=world.auth("qa"), params={"status": "ended"}).json()["items"] == []
    assert_problem(client.get(API, headers=world.auth("qa"), params={"days": 0}), 422, "days")
    assert_problem(client.get(API, headers=world.auth("agent_t1")), 403)
    assert_problem(client.get(API), 401)

    ack = f"{API}/{found.id}/acknowledge"
    assert_problem(client.post(ack, headers=world.auth("qa"), json={"note": "on it"}), 403)  # read, not admin
    assert_problem(client.post(ack, json={}), 401)
    done = client.post(ack, headers=world.auth("lead"), json={"note": "Carrier contacted"})
    assert done.status_code == 200, done.text
    assert done.json()["acknowledged_by_user_id"] == world.users["lead"].id and done.json()["status"] == "active"
    assert_problem(client.post(ack, headers=world.auth("lead"), json={}), 409, "status")
    assert_problem(client.get(f"{API}/999999", headers=world.auth("qa")), 404, "issue_id")

    end = f"{API}/{found.id}/end"
    assert_problem(client.post(end, headers=world.auth("lead"), json={"note": ""}), 422, "note")
    assert_problem(client.post(end, headers=world.auth("qa"), json={"note": "over"}), 403)
    ended = client.post(end, headers=world.auth("lead"), json={"note": "Parcelway's hub is moving again"})
    assert ended.status_code == 200, ended.text
    assert ended.json()["status"] == "ended" and ended.json()["ended_on"] == D.isoformat()
    assert ended.json()["note"] == "Parcelway's hub is moving again"
    events = emerging.events_of(db, found.id)
    assert [(e.type, e.actor_id) for e in events] == [
        ("emerging_issue.opened", None), ("emerging_issue.acknowledged", world.users["lead"].id),
        ("emerging_issue.ended", world.users["lead"].id)]
    assert events[-1].data["reason"] == "by_hand"
    # The rest of the ended day opens nothing; the spike still flagged the next day opens a new issue.
    db.expire_all()
    assert emerging.detect(db, now=at(D, 15)).opened == []
    assert len(emerging.detect(db, now=at(plus(1), 20)).opened) == 1


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


def test_the_list_does_not_grow_queries_with_issues(client: TestClient, db: Session, world: World,
                                                    found: EmergingIssue, counter: StatementCounter) -> None:
    client.get(API, headers=world.auth("qa"))  # the first request also records the token's use
    counter.statements.clear()
    assert len(client.get(API, headers=world.auth("qa")).json()["items"]) == 1
    one = len(counter.statements)
    for topic in ("payments.double_charge", "account.login"):
        db.add(EmergingIssue(topic=topic, market="ES", status="active", started_on=D, last_flagged_on=D,
                             peak_observed=9, expected=1.0, p_value=1e-6, total_cases=9, owner_team_id=world.t2.id,
                             owner_user_ids=[str(world.users["lead"].id)], example_case_ids=found.example_case_ids,
                             note="", created_at=at(D, 9)))
    db.commit()
    counter.statements.clear()
    assert len(client.get(API, headers=world.auth("qa")).json()["items"]) == 3
    assert len(counter.statements) == one


def test_the_console_page_shows_the_issue_its_chart_and_numbers(client: TestClient, db: Session, world: World,
                                                                found: EmergingIssue) -> None:
    sign_in(client, "qa")
    page = client.get(PAGE)
    assert page.status_code == 200, page.text
    html = page.text
    assert "Emerging issues" in html and f'id="issue-{found.id}"' in html and "Late delivery in Spain" in html
    assert "12 cases against" in html and "chance on a normal day" in html and "T1 Vendor B" in html
    assert '<svg role="img"' in html and "cases a day against expected" in html
    for case_id in found.example_case_ids:
        assert f'href="/console/cases/{case_id}"' in html
    assert "/acknowledge" not in html  # reading is not acting
    csv_text = client.get(f"{PAGE}/{found.id}.csv")
    assert csv_text.status_code == 200 and csv_text.headers["content-type"].startswith("text/csv")
    lines = csv_text.text.splitlines()
    assert lines[0] == "day,series,cases" and len(lines) == 1 + 2 * emerging.BASELINE_DAYS
    assert f"{D.isoformat()},cases,13" in lines  # the day so far at 10:30 (the 10:05 case too)
    token = client.cookies["td_csrf"]
    refused = client.post(f"{PAGE}/{found.id}/acknowledge", data={"csrf_token": token}, follow_redirects=False)
    assert refused.status_code == 403

    client.cookies.clear()
    token = sign_in(client, "lead")
    assert f'action="{PAGE}/{found.id}/acknowledge"' in client.get(PAGE).text
    blank = client.post(f"{PAGE}/{found.id}/end", data={"csrf_token": token, "note": " "}, follow_redirects=False)
    assert blank.status_code == 422 and "say why it is over" in blank.text.lower()
    done = client.post(f"{PAGE}/{found.id}/acknowledge", data={"csrf_token": token, "note": "Calling Parcelway"},
                       follow_redirects=False)
    assert done.status_code == 303 and done.headers["location"] == f"{PAGE}?done=acknowledged#issue-{found.id}"
    after = client.get(done.headers["location"])
    assert "Acknowledged: the issue stays active" in after.text and "Calling Parcelway" in after.text

    client.cookies.clear()
    sign_in(client, "agent_t1")
    assert client.get(PAGE).status_code == 403
    client.cookies.clear()
    anonymous = client.get(PAGE, follow_redirects=False)
    assert anonymous.status_code in (302, 303) and "/login" in anonymous.headers["location"]


def test_the_page_says_so_when_there_is_no_issue(client: TestClient, world: World) -> None:
    sign_in(client, "lead")
    page = client.get(PAGE, params={"days": 7})
    assert page.status_code == 200
    assert "No emerging issue now" in page.text and "No issue ended in the last 7 days" in page.text
