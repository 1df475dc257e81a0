"""``trustdesk oncall`` against a real SQLite file: who is on call, a schedule's rotation, a tick."""

from __future__ import annotations

import json
from datetime import UTC, datetime

import pytest
from typer.testing import CliRunner

from tests.conftest import START
from tests.factories.directory import make_team
from tests.factories.identity import make_user
from trustdesk import cli
from trustdesk.core.db import make_engine, make_session_factory, transaction
from trustdesk.core.permissions import Role
from trustdesk.directory.models import Tier
from trustdesk.oncall import schedules
from trustdesk.oncall.schedules import LayerSpec

runner = CliRunner()


def test_who_is_on_call_and_the_schedule(database: str) -> None:
    assert runner.invoke(cli.app, ["migrate"]).exit_code == 0
    with transaction(make_session_factory(make_engine(database))) as session:
        make_team(session, now=START, key="payments", tier=Tier.T2, name="Payments")
        ana = make_user(session, Role.ONCALL_SME, now=START, email="ana@example.test", name="Ana Díaz")
        ben = make_user(session, Role.AGENT_T2, now=START, email="ben@example.test", name="Ben Okafor")
        schedules.create_schedule(session, key="payments-oncall", name="Payments", team_key="payments",
                                  time_zone="Europe/Madrid", description="", now=START, layers=[LayerSpec(
                                      name="weekly", time_zone="Europe/Madrid", starts_at=START,
                                      handoff="FREQ=WEEKLY;BYDAY=MO;BYHOUR=10", participants=[ana.id, ben.id],
                                      restrictions=[{"days": ["mon", "tue", "wed", "thu", "fri"], "start": "09:00",
                                                     "end": "18:00"}])])
    tuesday = "2026-03-03T12:00:00Z"  # the first week is Ana's, Madrid office hours
    who = runner.invoke(cli.app, ["oncall", "who", "--team", "payments", "--at", tuesday])
    assert who.exit_code == 0, who.output
    assert who.output.strip() == "payments-oncall: Ana Díaz"
    night = runner.invoke(cli.app, ["oncall", "who", "--team", "payments", "--at", "2026-03-03T22:00:00Z", "--json"])
    assert json.loads(night.output) == [{"schedule": "payments-oncall", "user_id": None, "name": None}]
    week = runner.invoke(cli.app, ["oncall", "schedule", "payments-oncall", "--days", "14", "--since",
                                   "2026-03-02T00:00:00Z", "--json"])
    data = json.loads(week.output)
    # Ana from Monday's 10:00 handoff through the next Monday's first hour, then Ben.
    assert [s["name"] for s in data["shifts"]] == ["Ana Díaz"] * 6 + ["Ben Okafor"] * 5
    assert data["shifts"][0]["starts_at"] == datetime(2026, 3, 2, 9, tzinfo=UTC).isoformat()  # 10:00 CET
    assert (data["shifts"][5]["starts_at"], data["shifts"][5]["ends_at"]) == (
        datetime(2026, 3, 9, 8, tzinfo=UTC).isoformat(), datetime(2026, 3, 9, 9, tzinfo=UTC).isoformat())
    assert data["coverage"] == pytest.approx(89 / 336, abs=1e-12)
    text = runner.invoke(cli.app, ["oncall", "schedule", "payments-oncall", "--since", "2026-03-02T00:00:00Z"])
    assert "Mon 2026-03-02 10:00 -> Mon 2026-03-02 18:00  Ana Díaz" in text.output
    missing = runner.invoke(cli.app, ["oncall", "who", "--team", "nope"])
    assert missing.exit_code == 2 and "team 'nope' does not exist" in missing.output
    assert runner.invoke(cli.app, ["oncall", "tick"]).output.strip() == "0 step(s) ran"
