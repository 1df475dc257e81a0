"""The insight dashboards over HTTP on the seeded fortnight (tests/insights/history.py): each page shows the
metrics' own figures, each chart's CSV holds the numbers behind it, bad fields are named, and only in-house
insight readers get in."""

from __future__ import annotations

import csv
import io

from fastapi.testclient import TestClient
from sqlalchemy.orm import Session

from tests.factories.directory import make_agent
from tests.factories.identity import make_user
from tests.factories.world import World
from tests.insights.history import NOW, History, history
from tests.web.test_pages_auth import sign_in
from trustdesk.core.clock import FrozenClock
from trustdesk.core.permissions import Role

__all__ = ["history"]  # the fixture

BASE = "/console/insights"
FORTNIGHT = {"from": "2026-03-02", "to": "2026-03-15"}
DASHBOARDS = ("operations", "quality", "routing", "appeals")


def _lead(client: TestClient, db: Session, clock: FrozenClock) -> None:
    db.commit()
    clock.set(NOW)
    sign_in(client, "lead")


def _csv(text: str) -> list[list[str]]:
    return list(csv.reader(io.StringIO(text)))


def test_the_overview_and_every_dashboard_show_the_fortnight(client: TestClient, db: Session, history: History,
                                                             clock: FrozenClock) -> None:
    _lead(client, db, clock)
    overview = client.get(BASE, params=FORTNIGHT)
    assert overview.status_code == 200, overview.text
    assert "2 Mar 2026 to 15 Mar 2026" in overview.text and "14 days" in overview.text
    for key in DASHBOARDS:
        page = client.get(f"{BASE}/{key}", params=FORTNIGHT)
        assert page.status_code == 200, (key, page.text[:500])
        assert f'href="/console/insights/{key}?from=2026-03-02&amp;to=2026-03-15" aria-current="page"' in page.text
    operations = client.get(f"{BASE}/operations", params=FORTNIGHT).text
    assert "11 of 14 targets" in operations  # SLA compliance, as test_metrics computes it
    quality = client.get(f"{BASE}/quality", params=FORTNIGHT).text
    assert "75.0%" in quality and "3 of 4 ratings" in quality
    assert quality.count('<svg role="img"') >= 3
    routing = client.get(f"{BASE}/routing", params=FORTNIGHT).text
    assert "14.3%" in routing and "1 of 7 routed cases" in routing  # C5, rerouted for a wrong topic


def test_a_chart_s_csv_is_the_numbers_behind_it(client: TestClient, db: Session, history: History,
                                                clock: FrozenClock) -> None:
    _lead(client, db, clock)
    download = client.get(f"{BASE}/operations/sla_by_target.csv", params=FORTNIGHT)

    assert download.status_code == 200 and download.headers["content-type"].startswith("text/csv")
    assert ('filename="insights-operations-sla_by_target-2026-03-02-to-2026-03-15.csv"'
            in download.headers["content-disposition"])
    rows = _csv(download.text)
    assert rows[0] == ["target", "targets met in time"]
    assert {r[0]: round(float(r[1]), 4) for r in rows[1:]} == {"First reply": round(6 / 7, 4),
                                                               "Resolution": round(5 / 7, 4)}
    by_market = _csv(client.get(f"{BASE}/quality/csat_by_market.csv", params=FORTNIGHT).text)
    assert {r[0]: round(float(r[1]), 4) for r in by_market[1:]} == {"US": round(2 / 3, 4), "ES": 1.0}
    only_es = _csv(client.get(f"{BASE}/quality/csat_by_market.csv", params={**FORTNIGHT, "market": "ES"}).text)
    assert [r[0] for r in only_es[1:]] == ["ES"]


def test_bad_fields_are_named_and_unknown_charts_are_not_found(client: TestClient, db: Session, history: History,
                                                               clock: FrozenClock) -> None:
    _lead(client, db, clock)
    page = client.get(f"{BASE}/quality", params={"from": "2026-03-15", "to": "2026-03-02", "market": "ZZ"})
    assert page.status_code == 422
    assert "To: the last day comes on or after the first" in page.text and "Market:" in page.text
    assert '<svg role="img"' not in page.text

    refused = client.get(f"{BASE}/quality/csat_by_market.csv", params={**FORTNIGHT, "tier": "t9"})
    assert refused.status_code == 422  # a download link opened in the browser: the console's error page
    assert "<code>tier</code>: one of t1, t2" in refused.text
    missing = client.get(f"{BASE}/quality/no_such_chart.csv", params=FORTNIGHT)
    assert missing.status_code == 404 and "We couldn't find that page" in missing.text
    too_long = client.get(f"{BASE}/operations", params={"from": "2025-01-01", "to": "2026-03-15"})
    assert too_long.status_code == 422 and "at most" in too_long.text


def test_only_in_house_insight_readers_get_in(client: TestClient, db: Session, world: World,
                                              clock: FrozenClock) -> None:
    vendor_lead = make_user(db, Role.LEAD, now=clock.now(), email="vendor.lead@example.test", name="Vendor Lead")
    make_agent(db, vendor_lead, now=clock.now(), teams=[world.t1_a], vendor=world.vendor_a)
    db.commit()
    paths = [BASE, *(f"{BASE}/{key}" for key in DASHBOARDS), f"{BASE}/operations/sla_by_target.csv"]
    for who in ("agent_t1", "agent_t2", "reviewer", "vendor.lead"):
        client.cookies.clear()
        sign_in(client, who)
        for path in paths:
            assert client.get(path).status_code == 403, (who, path)
        nav = client.get("/console").text
        assert 'href="/console/insights"' not in nav, who  # nor is it offered
    client.cookies.clear()
    sign_in(client, "qa")
    assert all(client.get(path).status_code == 200 for path in paths)
    assert 'href="/console/insights"' in client.get("/console").text
