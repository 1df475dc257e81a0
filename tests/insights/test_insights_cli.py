"""``trustdesk insights`` against a real migrated SQLite file: rebuild and refresh the facts, read a metric."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

from typer.testing import CliRunner

from tests.factories.cases import make_case, make_party
from tests.factories.world import build_world
from trustdesk import cli
from trustdesk.cases import service as cases
from trustdesk.cases.models import Status
from trustdesk.core.db import make_engine, make_session_factory, transaction
from trustdesk.core.identity import actor_for
from trustdesk.core.settings import Settings

runner = CliRunner()


def test_rebuild_then_a_metric_by_market(database: str) -> None:
    assert runner.invoke(cli.app, ["migrate"]).exit_code == 0
    factory = make_session_factory(make_engine(database))
    day = (datetime.now(UTC) - timedelta(days=3)).replace(hour=9, minute=0, second=0, microsecond=0)
    with transaction(factory) as session:
        world = build_world(session, now=day)
        agent = actor_for(world.users["agent_t1"], agent_id=world.agents["agent_t1"].id, vendor_id=world.vendor_a.id)
        for index, minutes in enumerate((30, 90, 150)):
            party = make_party(session, world.us, now=day, external_id=f"p{index}")
            case = make_case(session, market=world.us, party=party, now=day, queue=world.queue_a)
            cases.add_agent_reply(session, case, body="Done.", actor=agent, settings=Settings(),
                                  now=day + timedelta(minutes=minutes), then_status=Status.SOLVED)
    first, last = day.date().isoformat(), (day + timedelta(days=1)).date().isoformat()
    unfolded = runner.invoke(cli.app, ["insights", "metric", "volume", "--from", first, "--to", last, "--json"])
    assert unfolded.exit_code == 0, unfolded.output
    assert json.loads(unfolded.output)["values"][0]["value"] == 0  # nothing folded yet

    refreshed = runner.invoke(cli.app, ["insights", "refresh"])
    assert refreshed.exit_code == 0 and "3 cases refreshed" in refreshed.output
    rebuilt = runner.invoke(cli.app, ["insights", "rebuild"])
    assert rebuilt.exit_code == 0 and "3 cases folded" in rebuilt.output
    p90 = runner.invoke(cli.app, ["insights", "metric", "first_reply_p90", "--from", first, "--to", last,
                                  "--by", "market", "--json"])
    assert p90.exit_code == 0, p90.output
    body = json.loads(p90.output)
    assert body["unit"] == "minutes" and body["by"] == "market"
    assert [(v["group"], v["value"], v["count"]) for v in body["values"]] == [("US", 138.0, 3)]  # 90 + 0.8 * 60
    text = runner.invoke(cli.app, ["insights", "metric", "csat", "--from", first, "--to", last])
    assert text.exit_code == 0 and "—" in text.output  # no ratings: no figure, not zero

    bad = runner.invoke(cli.app, ["insights", "metric", "volume", "--from", first, "--to", last, "--by", "colour"])
    assert bad.exit_code == 2 and "by:" in bad.output
    unknown = runner.invoke(cli.app, ["insights", "metric", "nps", "--from", first, "--to", last])
    assert unknown.exit_code == 2 and "metric:" in unknown.output
    listed = runner.invoke(cli.app, ["insights", "metrics"])
    assert listed.exit_code == 0 and "first_reply_business_p90" in listed.output
