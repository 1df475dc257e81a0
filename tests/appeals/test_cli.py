"""``trustdesk appeals`` and ``trustdesk market`` against a real migrated SQLite file."""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from pathlib import Path

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker
from typer.testing import CliRunner

from tests.factories.appeals import AppealsWorld, decide, make_appeal, make_appeals_world, make_decision
from tests.factories.world import build_world
from trustdesk import cli
from trustdesk.appeals.models import EnforcementDecision, Outcome
from trustdesk.core.db import make_engine, make_session_factory, transaction
from trustdesk.core.settings import get_settings
from trustdesk.core.webhooks import WebhookEndpoint

runner = CliRunner()


@dataclass
class Seeded:
    factory: sessionmaker[Session]
    day: date  # the day the appeals were filed and decided
    aw: AppealsWorld


@pytest.fixture
def seeded(database: str) -> Iterator[Seeded]:
    assert runner.invoke(cli.app, ["migrate"]).exit_code == 0
    engine = make_engine(database)
    factory = make_session_factory(engine)
    day = (datetime.now(UTC) - timedelta(days=30)).date()
    start = datetime.combine(day, time(9), tzinfo=UTC)
    settings = get_settings()
    with transaction(factory) as session:
        world = build_world(session, now=start)
        aw = make_appeals_world(session, world, now=start, settings=settings)
        first = make_decision(session, aw, now=start, external_id="dec-1")
        second = make_decision(session, aw, now=start, external_id="dec-2")
        appeal = make_appeal(session, aw, first, now=start + timedelta(hours=1), settings=settings)
        make_appeal(session, aw, second, now=start + timedelta(hours=2), settings=settings)
        decide(session, aw, appeal, Outcome.OVERTURNED, now=start + timedelta(hours=13), settings=settings)
    yield Seeded(factory=factory, day=day, aw=aw)
    engine.dispose()


def test_transparency_as_csv_and_json(seeded: Seeded, tmp_path: Path) -> None:
    day = seeded.day.isoformat()
    as_csv = runner.invoke(cli.app, ["appeals", "transparency", "--from", day, "--to", day, "--format", "csv"])
    assert as_csv.exit_code == 0, as_csv.output
    lines = as_csv.stdout.splitlines()
    assert lines[0] == "section,dimension,value,count" and lines.count(lines[0]) == 1
    for expected in ("complaints,received,,2", "complaints,reason,not_a_violation,2", "decisions,total,,1",
                     "decisions,outcome,overturned,1", "decisions,outcome,upheld,0", "decisions,median_hours,,12.0",
                     "decisions,median_days,,0.5", "reversals,total,,1", "reversals,confirmed,,0",
                     "out_of_court,pending_at_end,,0", "misuse,suspensions,,0"):
        assert expected in lines, expected
    out = tmp_path / "figures.json"
    as_json = runner.invoke(cli.app, ["appeals", "transparency", "--from", day, "--to", day, "--market", "ES",
                                      "--out", str(out)])
    assert as_json.exit_code == 0, as_json.output
    figures = json.loads(out.read_text(encoding="utf-8"))
    assert figures["complaints"]["received"] == 2 and figures["markets"] == ["ES"]
    assert figures["decisions"]["median_hours"] == 12.0 and figures["reversals"] == {"total": 1, "confirmed": 0}
    assert figures["period"]["until"] == f"{(seeded.day + timedelta(days=1)).isoformat()}T00:00:00+00:00"
    # The day after holds nothing: --to is the last day included, not the first day excluded.
    after = (seeded.day + timedelta(days=1)).isoformat()
    nothing = json.loads(runner.invoke(cli.app, ["appeals", "transparency", "--from", after, "--to", after]).stdout)
    assert nothing["complaints"]["received"] == 0 and nothing["decisions"]["median_hours"] is None
    backwards = runner.invoke(cli.app, ["appeals", "transparency", "--from", after, "--to", day])
    assert backwards.exit_code == 2
    unknown = runner.invoke(cli.app, ["appeals", "transparency", "--from", day, "--to", day, "--market", "XX"])
    assert unknown.exit_code == 2 and "market: unknown market 'XX'" in unknown.output


def _copies(session: Session, template: EnforcementDecision, count: int, *, prefix: str) -> list[EnforcementDecision]:
    """Decisions copied row by row (cheaper than the service, and able to hold what it would refuse)."""
    copies = []
    for i in range(count):
        copy = EnforcementDecision(**{column.key: getattr(template, column.key)
                                      for column in EnforcementDecision.__table__.columns if column.key != "id"})
        copy.external_id, copy.puid = f"{prefix}-{i}", f"td-{prefix}-{i}"
        copy.statement = dict(template.statement)
        session.add(copy)
        copies.append(copy)
    return copies


def test_export_sor_writes_batches_and_lists_the_rejected(seeded: Seeded, tmp_path: Path) -> None:
    with transaction(seeded.factory) as session:
        first = session.scalar(select(EnforcementDecision).where(EnforcementDecision.external_id == "dec-1"))
        assert first is not None
        _copies(session, first, 101, prefix="bulk")
        (bad,) = _copies(session, first, 1, prefix="bad")
        bad.statement = {k: v for k, v in first.statement.items() if k != "decision_facts"}
        (outside,) = _copies(session, first, 1, prefix="march")
        outside.application_date = date(2026, 3, 15)
        outside.statement = {**first.statement, "application_date": "2026-03-15"}
        (us,) = _copies(session, first, 1, prefix="us")
        us.market_id = seeded.aw.world.us.id  # no appeals settings: the DSA does not apply there
    out = tmp_path / "sor"
    result = runner.invoke(cli.app, ["appeals", "export-sor", "--from", "2026-02-01", "--to", "2026-02-28",
                                     "--out", str(out)])
    assert result.exit_code == 1, result.output
    assert result.stdout.strip() == f"103 statement(s) in 2 batch file(s) written to {out}; 1 rejected"
    assert "rejected td-bad-0: decision_facts" in result.stderr
    assert sorted(p.name for p in out.iterdir()) == ["rejected.json", "statements-0001.json", "statements-0002.json"]
    one = json.loads((out / "statements-0001.json").read_text(encoding="utf-8"))["statements"]
    two = json.loads((out / "statements-0002.json").read_text(encoding="utf-8"))["statements"]
    assert (len(one), len(two)) == (100, 3)
    puids = [s["puid"] for s in one + two]
    assert len(set(puids)) == 103 and {"td-dec-1", "td-dec-2", "td-bulk-0", "td-bulk-100"} <= set(puids)
    assert not {"td-bad-0", "td-march-0", "td-us-0"} & set(puids)
    assert one[0] == {**first.statement, "puid": "td-dec-1"} and list(one[0]) == sorted(one[0])
    rejected = json.loads((out / "rejected.json").read_text(encoding="utf-8"))
    assert [(r["puid"], r["field"]) for r in rejected] == [("td-bad-0", "decision_facts")]
    again = runner.invoke(cli.app, ["appeals", "export-sor", "--from", "2026-02-01", "--to", "2026-02-28",
                                    "--out", str(out)])
    assert again.exit_code == 2 and "empty directory" in again.output


def test_export_sor_with_nothing_rejected_exits_0(seeded: Seeded, tmp_path: Path) -> None:
    result = runner.invoke(cli.app, ["appeals", "export-sor", "--from", "2026-02-21", "--to", "2026-02-21",
                                     "--market", "ES", "--out", str(tmp_path / "sor")])
    assert result.exit_code == 0, result.output
    assert result.stdout.strip().endswith("2 statement(s) in 1 batch file(s) written to " + str(tmp_path / "sor")
                                          + "; 0 rejected")
    assert json.loads((tmp_path / "sor" / "rejected.json").read_text(encoding="utf-8")) == []


def test_market_readiness_open_and_configure(seeded: Seeded, tmp_path: Path) -> None:
    ready = runner.invoke(cli.app, ["market", "readiness", "ES"])
    assert ready.exit_code == 0, ready.output
    assert ready.stdout.strip() == "ready"
    with transaction(seeded.factory) as session:
        endpoint = session.scalar(select(WebhookEndpoint).where(WebhookEndpoint.key == "enforcement"))
        assert endpoint is not None
        endpoint.is_active = False
    broken = runner.invoke(cli.app, ["market", "readiness", "ES"])
    assert broken.exit_code == 1
    assert broken.stdout.splitlines() == [
        "reversals: no webhook endpoint receives enforcement.reversal_requested: an overturn could not reach the "
        "enforcement system", "    fix: add a webhook endpoint for enforcement.reversal_requested", "1 gaps"]
    as_json = json.loads(runner.invoke(cli.app, ["market", "readiness", "es", "--json"]).stdout)
    assert as_json["ready"] is False and [g["area"] for g in as_json["gaps"]] == ["reversals"]

    us = runner.invoke(cli.app, ["market", "readiness", "US"])
    assert us.exit_code == 1 and "settings: US has no appeals settings" in us.stdout
    assert runner.invoke(cli.app, ["market", "readiness", "XX"]).exit_code == 2
    assert runner.invoke(cli.app, ["market", "close", "US"]).exit_code == 2  # not set up

    texts = tmp_path / "ooc.yaml"
    texts.write_text("en: Take this decision to a certified out-of-court body or to the courts.\n", encoding="utf-8")
    configured = runner.invoke(cli.app, ["market", "configure", "US", "--languages", "en", "--window-months", "5",
                                         "--no-dsa", "--qa-percent", "5", "--out-of-court-file", str(texts)])
    assert configured.exit_code == 0, configured.output
    assert configured.stdout.strip() == ("US: languages en, window 5 months, DSA no, human review required, second "
                                         "review 5%, out-of-court text in en; not open")
    refused = runner.invoke(cli.app, ["market", "open", "US"])
    assert refused.exit_code == 1 and "US is not ready for appeals" in refused.output
    short = runner.invoke(cli.app, ["market", "configure", "ES", "--window-months", "5"])
    assert short.exit_code == 2 and "window_months" in short.output

    with transaction(seeded.factory) as session:
        endpoint = session.scalar(select(WebhookEndpoint).where(WebhookEndpoint.key == "enforcement"))
        assert endpoint is not None
        endpoint.is_active = True
    assert runner.invoke(cli.app, ["market", "close", "ES"]).stdout.strip() == "ES takes no new appeals"
    reopened = runner.invoke(cli.app, ["market", "open", "ES"])
    assert reopened.exit_code == 0 and reopened.stdout.strip() == "ES takes appeals"


def test_volume_and_policy_report(seeded: Seeded) -> None:
    day = seeded.day.isoformat()
    volume = runner.invoke(cli.app, ["appeals", "volume", "--from", day, "--to", day, "--json"])
    assert volume.exit_code == 0, volume.output
    figures = json.loads(volume.stdout)
    assert figures["total"] == {"key": "total", "decisions": 2, "appeals": 2, "appeal_rate": 1.0, "decided": 1,
                                "overturned": 1, "overturn_rate": 1.0}
    assert [(o["policy"], o["source"], o["overturned"]) for o in figures["worst_offenders"]] == [
        ("counterfeit", "brand-protection-team", 1)]
    text = runner.invoke(cli.app, ["appeals", "volume", "--from", day, "--to", day])
    assert text.exit_code == 0 and "1. counterfeit / brand-protection-team: 1 of 1 decided overturned" in text.stdout
    report = runner.invoke(cli.app, ["appeals", "policy-report", "--from", day, "--to", day])
    assert report.exit_code == 0, report.output
    assert "Lead <lead@example.test>: look first at counterfeit / brand-protection-team" in report.stdout
    owners = json.loads(runner.invoke(cli.app, ["appeals", "policy-report", "--from", day, "--to", day,
                                                "--json"]).stdout)
    assert [s["owner"] for s in owners] == ["Lead", "Oncall_Sme"]
