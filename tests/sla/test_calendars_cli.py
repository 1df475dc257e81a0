"""``trustdesk calendars`` against a real SQLite file."""

from __future__ import annotations

from pathlib import Path

from typer.testing import CliRunner

from tests.conftest import START
from tests.sla.test_calendars_api import ICS, MADRID
from trustdesk import cli
from trustdesk.core.db import make_engine, make_session_factory, transaction
from trustdesk.sla import calendars
from trustdesk.sla.schemas import CalendarIn

runner = CliRunner()


def test_import_holidays_and_ask_when_it_is_due(database: str, tmp_path: Path) -> None:
    assert runner.invoke(cli.app, ["migrate"]).exit_code == 0
    with transaction(make_session_factory(make_engine(database))) as session:
        calendars.create_calendar(session, CalendarIn(**MADRID), now=START)
    ics = tmp_path / "es.ics"
    ics.write_text(ICS, encoding="utf-8")
    first = runner.invoke(cli.app, ["calendars", "import-holidays", "es-t1", str(ics)])
    assert first.exit_code == 0, first.output
    assert "3 created, 0 updated, 0 unchanged" in first.output and "skipped: Team party" in first.output
    assert "0 created, 0 updated, 3 unchanged" in runner.invoke(
        cli.app, ["calendars", "import-holidays", "es-t1", str(ics)]).output
    due = runner.invoke(cli.app, ["calendars", "due", "es-t1", "--minutes", "180", "--start",
                                  "2026-04-02T17:00+02:00"])
    assert due.exit_code == 0, due.output
    assert due.output.strip() == "2026-04-07 09:00 UTC  (Tue 2026-04-07 11:00 Europe/Madrid)"
    assert "es-t1" in runner.invoke(cli.app, ["calendars", "list"]).output
    missing = runner.invoke(cli.app, ["calendars", "import-holidays", "nope", str(ics)])
    assert missing.exit_code == 2 and "calendar 'nope' does not exist" in missing.output


def test_sla_replay_recomputes_the_clocks_from_the_event_log(database: str) -> None:
    import json
    from datetime import timedelta

    from tests.factories.cases import make_case, make_party
    from tests.factories.directory import make_market, make_queue, make_team
    from trustdesk.sla import policies
    from trustdesk.sla.schemas import PolicyIn

    assert runner.invoke(cli.app, ["migrate"]).exit_code == 0
    targets = {p: {"first_reply": {"minutes": 60, "business": False}} for p in ("low", "normal", "high", "urgent")}
    with transaction(make_session_factory(make_engine(database))) as session:
        policies.create_policy(session, PolicyIn(key="standard", name="Standard", is_default=True, targets=targets),
                               now=START)
        market = make_market(session, now=START)
        queue = make_queue(session, now=START, key="q1", team=make_team(session, now=START, key="t1"), market=market)
        case = make_case(session, market=market, party=make_party(session, market, now=START), queue=queue,
                         now=START)
        reference, case_id = case.reference, case.id
    at = (START + timedelta(minutes=90)).isoformat()
    replayed = runner.invoke(cli.app, ["sla", "replay", str(reference), "--at", at, "--json"])
    assert replayed.exit_code == 0, replayed.output
    rows = json.loads(replayed.output)
    assert rows == [{"metric": "first_reply", "outcome": "running", "started_at": START.isoformat(),
                     "due_at": (START + timedelta(hours=1)).isoformat(),
                     "breached_at": (START + timedelta(hours=1)).isoformat(), "used_minutes": 0.0}]
    with transaction(make_session_factory(make_engine(database))) as session:
        snapshot = policies.snapshot_of(session, case_id)
        assert snapshot is not None
        live = policies.case_clocks(session, snapshot, now=START + timedelta(minutes=90))
    assert [c.due_at for c in live] == [START + timedelta(hours=1)]  # the API's answer is the replay's
