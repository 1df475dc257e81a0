"""The ``trustdesk`` command against a real SQLite file: migrate, users, tokens, cases, serve's options."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select
from typer.testing import CliRunner

from tests.conftest import START
from tests.factories.cases import make_case, make_party
from tests.factories.directory import make_market, make_queue, make_team
from trustdesk import cli
from trustdesk.core.db import make_engine, make_session_factory, transaction
from trustdesk.core.identity import ApiToken, User
from trustdesk.core.settings import get_settings

runner = CliRunner()


def run(*args: str) -> Any:
    return runner.invoke(cli.app, list(args))


def test_migrate_then_manage_users_and_tokens(database: str) -> None:
    assert "database at head" in run("migrate").output
    assert "database at head" in run("migrate").output  # a second run is a no-op

    created = run("users", "create", "lead@example.test", "--name", "Lena Lead", "--role", "lead",
                  "--password", "a-long-enough-password")
    assert created.exit_code == 0, created.output
    token = run("users", "token", "lead@example.test", "--name", "integration")
    assert token.exit_code == 0, token.output
    secret = token.output.strip()
    assert secret.startswith("td_")

    assert run("users", "set-role", "lead@example.test", "admin").exit_code == 0
    listing = run("users", "list").output
    assert "admin" in listing and "lead@example.test" in listing

    with make_session_factory(make_engine(database))() as session:
        user = session.scalars(select(User)).one()
        stored = session.scalars(select(ApiToken)).one()
    assert user.role == "admin"
    # Only the token's hash is kept.
    assert stored.token_hash == hashlib.sha256(secret.encode()).hexdigest()
    assert secret not in (stored.token_hash, stored.prefix)


def test_unknown_users_and_roles_are_refused(database: str) -> None:
    run("migrate")
    missing = run("users", "token", "nobody@example.test")
    assert missing.exit_code == 2 and "no user nobody@example.test" in missing.output
    bad_role = run("users", "create", "x@example.test", "--name", "X", "--role", "wizard")
    assert bad_role.exit_code == 2 and "wizard" in bad_role.output


def test_cases_list_and_show(database: str) -> None:
    run("migrate")
    with transaction(make_session_factory(make_engine(database))) as session:
        market = make_market(session, now=START)
        queue = make_queue(session, now=START, key="us-buyers", team=make_team(session, now=START, key="t1"),
                           market=market, intake_channels=["web_form"])
        party = make_party(session, market, now=START)
        case = make_case(session, market=market, party=party, queue=queue, now=START,
                         subject="Parcel never arrived", body="Order 991 <b>never</b> came.")
        reference = case.reference

    listing = run("cases", "list", "--queue", "us-buyers")
    assert listing.exit_code == 0 and reference in listing.output and "Parcel never arrived" in listing.output
    assert reference not in run("cases", "list", "--status", "closed").output
    assert run("cases", "list", "--queue", "nope").exit_code == 2

    shown = json.loads(run("cases", "show", reference, "--json").output)
    assert shown["reference"] == reference
    assert [m["body"] for m in shown["messages"]] == ["Order 991 <b>never</b> came."]
    assert shown["events"][0]["type"] == "case.created"
    assert run("cases", "show", "ID-2026-999999").exit_code == 2


@pytest.mark.parametrize(("jobs", "expected"), [("thread", True), ("off", False)])
def test_serve_passes_the_jobs_choice_to_the_app(database: str, monkeypatch: pytest.MonkeyPatch,
                                                  jobs: str, expected: bool) -> None:
    seen: dict[str, Any] = {}

    def fake_run(target: str, **options: Any) -> None:  # uvicorn would import the app in this process
        seen.update(options, target=target, jobs=get_settings().run_jobs_in_process)

    monkeypatch.setattr("uvicorn.run", fake_run)
    # serve sets this variable for the worker processes; monkeypatch puts the original back afterwards.
    monkeypatch.setenv("TRUSTDESK_RUN_JOBS_IN_PROCESS", "true" if expected is False else "false")
    get_settings.cache_clear()
    get_settings()  # cached before serve runs, as in a real process
    result = run("serve", "--port", "8765", "--jobs", jobs)
    assert result.exit_code == 0, result.output
    assert (seen["target"], seen["port"], seen["jobs"]) == ("trustdesk.asgi:app", 8765, expected)


def test_serve_refuses_an_unknown_jobs_mode(database: str) -> None:
    result = run("serve", "--jobs", "sometimes")
    assert result.exit_code == 2 and "--jobs" in result.output


def test_topics_import_and_who_owns_then_and_now(database: str, tmp_path: Path) -> None:
    from trustdesk.core import identity
    from trustdesk.core.permissions import Role
    from trustdesk.directory import catalogue
    from trustdesk.directory.schemas import CatalogueEntryIn

    run("migrate")
    tree = tmp_path / "topics.yaml"
    tree.write_text("- key: orders\n  names: {en: Orders, es: Pedidos}\n  children:\n"
                    "    - key: late\n      names: {en: Late}\n")
    imported = run("topics", "import", str(tree))
    assert imported.exit_code == 0, imported.output
    assert "2 created, 0 updated, 0 unchanged" in imported.output
    assert "Pedidos" in run("topics", "list", "--locale", "es").output
    bad = tmp_path / "bad.csv"
    bad.write_text("key,en\norders.x.y,Orphan\n")
    refused = run("topics", "import", str(bad))
    assert refused.exit_code == 2 and "orders.x" in refused.output

    with transaction(make_session_factory(make_engine(database))) as session:
        market = make_market(session, now=START)
        team = make_team(session, now=START, key="orders-t2")
        author, approver = (identity.actor_for(identity.create_user(
            session, email=f"{role.value}@example.test", display_name=role.value, role=role, password=None,
            now=START)) for role in (Role.LEAD, Role.ADMIN))
        draft = catalogue.propose(session, CatalogueEntryIn(topic="orders", team_id=team.id, sla_policy_key="std"),
                                  author=author, now=START)
        catalogue.approve(session, draft, approver=approver, now=START)
        assert market.code == "US"

    now = run("catalogue", "who", "--market", "US", "--topic", "orders.late")
    assert now.exit_code == 0, now.output
    assert now.output.startswith("orders-t2 (t1)") and "SLA std" in now.output
    before = run("catalogue", "who", "--market", "US", "--topic", "orders.late", "--at", "2026-01-01T00:00")
    assert before.exit_code == 1 and "nobody" in before.output and "triage" in before.output
    as_json = json.loads(run("catalogue", "who", "--market", "US", "--topic", "orders", "--json").output)
    assert as_json["entry"]["team_key"] == "orders-t2" and as_json["specificity"] == [1, 0, 0, 0]
    unknown = run("catalogue", "who", "--market", "US", "--topic", "nope")
    assert unknown.exit_code == 2 and "unknown topic" in unknown.output
