"""The weekly insight report on the seeded fortnight (tests/insights/history.py): its figures are the
metrics' own, the PDF renders to pages with the charts drawn on them, the console serves it to leads only,
and ``trustdesk report weekly`` writes it from the shell."""

from __future__ import annotations

import shutil
import subprocess
from datetime import date
from pathlib import Path

import numpy
import pytest
from fastapi.testclient import TestClient
from PIL import Image
from sqlalchemy.orm import Session
from typer.testing import CliRunner

from tests.factories.cli import database
from tests.factories.directory import make_agent
from tests.factories.identity import make_user
from tests.factories.world import World, build_world
from tests.insights.history import NOW, History, history
from tests.web.test_pages_auth import sign_in
from trustdesk import cli
from trustdesk.core.clock import FrozenClock
from trustdesk.core.db import make_engine, make_session_factory, transaction
from trustdesk.core.errors import Invalid
from trustdesk.core.permissions import Role
from trustdesk.insights import charts, report

__all__ = ["database", "history"]  # fixtures

WEEK = date(2026, 3, 2)  # the first week of the fortnight: C1, C2, C4, C5, C6 and C7 open in it, C3 on its Friday
PAGE = "/console/insights/report"
needs_poppler = pytest.mark.skipif(shutil.which("pdftoppm") is None or shutil.which("pdftotext") is None,
                                   reason="poppler-utils (pdftoppm, pdftotext) is not installed: apt-get install "
                                          "poppler-utils")


def _bar_pixels(png: Path) -> int:
    """Pixels in the charts' first colour (the bars), give or take anti-aliasing."""
    target = tuple(int(charts.PALETTE[0][i:i + 2], 16) for i in (1, 3, 5))
    pixels = numpy.asarray(Image.open(png).convert("RGB"), dtype=numpy.int16)
    return int((numpy.abs(pixels - numpy.array(target, dtype=numpy.int16)) <= 24).all(axis=2).sum())


def test_the_figures_are_the_metrics_of_the_week(db: Session, history: History) -> None:
    built = report.weekly(db, market=None, week_start=WEEK, now=NOW)

    assert [s.key for s in built.sections] == ["drivers", "csat", "emerging", "repeats", "routing", "sla", "gaps"]
    assert built.since.isoformat() == "2026-03-02T00:00:00+00:00" and built.until.isoformat() == \
        "2026-03-09T00:00:00+00:00"
    assert built.section("drivers").kpis[0].value == 7  # C1-C7 opened in the week
    csat = built.section("csat").kpis[0]
    assert (csat.value, csat.basis) == (0.75, "3 of 4 ratings")  # C1 5, C2 2 (its latest), C5 4, C7 5
    sla = built.section("sla").kpis[0]
    assert (sla.value, sla.basis) == (0.9, "9 of 10 targets")
    unhappy = built.section("csat").tables[0]
    assert unhappy.rows == (("orders.delivery", 1, 4, 0.75),)
    # The week before had nothing: no change to speak of, never a made-up zero.
    assert csat.previous is None and csat.change_words == "no figure for the period before"


def test_a_market_s_week_is_its_own_time_zone_s_and_only_its_cases(db: Session, history: History) -> None:
    es = report.weekly(db, market="es", week_start=WEEK, now=NOW)

    assert es.market == "ES" and es.zone == "Europe/Madrid"
    assert es.since.isoformat() == "2026-03-01T23:00:00+00:00"  # Monday 00:00 in Madrid
    assert es.section("drivers").kpis[0].value == 1  # C7 alone
    with pytest.raises(Invalid) as refused:
        report.weekly(db, market=None, week_start=date(2026, 3, 4), now=NOW)
    assert refused.value.field == "week" and "Monday" in refused.value.detail
    with pytest.raises(Invalid) as unknown:
        report.weekly(db, market="ZZ", week_start=WEEK, now=NOW)
    assert unknown.value.field == "market"


@needs_poppler
def test_the_pdf_has_its_pages_and_the_charts_are_drawn_on_them(db: Session, history: History,
                                                                 tmp_path: Path) -> None:
    built = report.weekly(db, market=None, week_start=WEEK, now=NOW)
    pdf = tmp_path / "report.pdf"
    pdf.write_bytes(report.to_pdf(built))

    info = subprocess.run(["pdfinfo", str(pdf)], capture_output=True, text=True, check=True).stdout
    pages = int(next(line.split()[-1] for line in info.splitlines() if line.startswith("Pages:")))
    subprocess.run(["pdftoppm", "-r", "40", "-png", str(pdf), str(tmp_path / "page")], check=True)
    images = sorted(tmp_path.glob("page-*.png"))
    assert len(images) == pages and 3 <= pages <= 8
    drawn = [c for c in built.charts if not c.empty]
    assert len(drawn) >= 8  # drivers, CSAT by topic, low-rating reasons, repeats x2, misroutes x2, SLA
    # Every chart is there: its title, and its axis labels drawn from the SVG's text.
    text = subprocess.run(["pdftotext", "-layout", str(pdf), "-"], capture_output=True, text=True,
                          check=True).stdout
    for chart in drawn:
        assert chart.title in " ".join(text.split()), chart.title
    assert "routed cases misrouted" in text and "targets met in time" in text
    # ... and its bars are painted: most pages carry bars in the charts' colour.
    painted = [_bar_pixels(png) for png in images]
    assert sum(1 for count in painted if count > 200) >= pages - 1, painted
    assert f"page 1 of {pages}" in text


def test_the_html_is_one_standalone_document_with_inline_charts(db: Session, history: History) -> None:
    built = report.weekly(db, market=None, week_start=WEEK, now=NOW)
    page = report.to_html(built)

    assert page.startswith("<!doctype html>") and "<style>" in page
    assert page.count('<svg role="img"') == len([c for c in built.charts if not c.empty])
    assert "<script" not in page and "http://" not in page.split("<body>")[1].split("xmlns")[0]


def _lead_client(client: TestClient, clock: FrozenClock) -> None:
    clock.set(NOW)
    sign_in(client, "lead")


def test_the_console_page_shows_the_week_and_downloads_it(client: TestClient, db: Session, history: History,
                                                          clock: FrozenClock) -> None:
    db.commit()
    _lead_client(client, clock)
    page = client.get(PAGE, params={"week": "2026-03-04"})  # any day of the week

    assert page.status_code == 200, page.text
    assert "week of 2 March 2026 to 8 March 2026" in page.text
    assert 'id="report-csat"' in page.text and "3 of 4 ratings" in page.text
    assert page.text.count('<svg role="img"') >= 8
    # The self-service gaps (the knowledge search, the slow part) load after the page.
    assert 'hx-get="/console/insights/report/gaps?week=2026-03-02"' in page.text
    gaps = client.get(f"{PAGE}/gaps", params={"week": "2026-03-02"}, headers={"HX-Request": "true"})
    assert gaps.status_code == 200
    assert 'id="report-gaps"' in gaps.text and "What self-help missed" in gaps.text and "<html" not in gaps.text
    alone = client.get(f"{PAGE}/gaps", params={"week": "2026-03-02", "market": "ES"})
    assert alone.status_code == 200 and "<h1>Self-service gaps</h1>" in alone.text
    assert client.get(f"{PAGE}/gaps", params={"week": "soon"}).status_code == 422
    default = client.get(PAGE)  # the last complete week before 16 March: 9 March
    assert "week of 9 March 2026" in default.text
    pdf = client.get(PAGE, params={"week": "2026-03-02", "format": "pdf"})
    assert pdf.status_code == 200 and pdf.headers["content-type"] == "application/pdf"
    assert pdf.content.startswith(b"%PDF-")
    assert 'filename="insights-weekly-all-markets-2026-03-02.pdf"' in pdf.headers["content-disposition"]
    html = client.get(PAGE, params={"week": "2026-03-02", "market": "es", "format": "html"})
    assert html.status_code == 200 and "Weekly insight report: ES" in html.text
    assert 'filename="insights-weekly-ES-2026-03-02.html"' in html.headers["content-disposition"]


def test_bad_fields_are_named_on_the_page(client: TestClient, db: Session, history: History,
                                          clock: FrozenClock) -> None:
    db.commit()
    _lead_client(client, clock)
    bad = client.get(PAGE, params={"week": "last week", "market": "zz"})

    assert bad.status_code == 422
    assert "Week: &#39;last week&#39; is not a day" in bad.text and "Market: there is no market" in bad.text
    assert 'id="report-csat"' not in bad.text
    assert client.get(PAGE, params={"format": "docx"}).status_code == 422


def test_only_in_house_insight_readers_open_the_report(client: TestClient, db: Session, world: World,
                                                       clock: FrozenClock) -> None:
    vendor_lead = make_user(db, Role.LEAD, now=clock.now(), email="vendor.lead@example.test", name="Vendor Lead")
    make_agent(db, vendor_lead, now=clock.now(), teams=[world.t1_a], vendor=world.vendor_a)
    db.commit()
    anonymous = client.get(PAGE, follow_redirects=False)
    assert anonymous.status_code in (303, 401)
    for who in ("agent_t1", "agent_t2", "vendor.lead"):
        client.cookies.clear()
        sign_in(client, who)
        assert client.get(PAGE).status_code == 403, who
        assert client.get(PAGE, params={"format": "pdf"}).status_code == 403, who
    client.cookies.clear()
    sign_in(client, "qa")
    assert client.get(PAGE).status_code == 200  # QA reads insights


runner = CliRunner()


@needs_poppler
def test_trustdesk_report_weekly_writes_the_pdf_and_the_html(database: str, tmp_path: Path) -> None:
    assert runner.invoke(cli.app, ["migrate"]).exit_code == 0
    factory = make_session_factory(make_engine(database))
    with transaction(factory) as session:
        build_world(session, now=NOW)
    out = tmp_path / "report.pdf"

    written = runner.invoke(cli.app, ["report", "weekly", "--market", "US", "--week", "2026-03-02", "--out",
                                      str(out)])
    assert written.exit_code == 0, written.output
    assert "PDF" in written.output and str(out) in written.output
    assert out.read_bytes().startswith(b"%PDF-")
    text = subprocess.run(["pdftotext", str(out), "-"], capture_output=True, text=True, check=True).stdout
    assert "Weekly insight report: US" in text and "No cases in this period" not in text.split("Top contact")[0]
    html = tmp_path / "report.html"
    assert runner.invoke(cli.app, ["report", "weekly", "--out", str(html)]).exit_code == 0
    assert html.read_text().startswith("<!doctype html>")
    bad = runner.invoke(cli.app, ["report", "weekly", "--market", "ZZ", "--out", str(out)])
    assert bad.exit_code == 2 and "market" in bad.output
    docx = runner.invoke(cli.app, ["report", "weekly", "--out", str(tmp_path / "report.docx")])
    assert docx.exit_code == 2 and "--format" in docx.output
