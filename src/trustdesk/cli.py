"""The ``trustdesk`` command: serve, migrate, demo, users, cases, topics, catalogue, routing."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated

import typer
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from trustdesk.appeals import cli as appeals_cli
from trustdesk.core.clock import SystemClock
from trustdesk.core.db import make_engine, make_session_factory, transaction
from trustdesk.core.identity import Actor
from trustdesk.core.permissions import Role
from trustdesk.core.settings import get_settings
from trustdesk.insights import cli as insights_cli
from trustdesk.insights import report_cli
from trustdesk.knowledge import cli as kb_cli
from trustdesk.oncall import cli as oncall_cli

app = typer.Typer(help="TrustDesk: service and trust operations for online marketplaces.", no_args_is_help=True)
users_app = typer.Typer(help="Users, roles and API tokens.", no_args_is_help=True)
cases_app = typer.Typer(help="Look at cases from the shell.", no_args_is_help=True)
routing_app = typer.Typer(help="Routing: rules, the topic classifier, the misroute report.", no_args_is_help=True)
rules_app = typer.Typer(help="Routing rules: draft, simulate, publish.", no_args_is_help=True)
routing_app.add_typer(rules_app, name="rules")
topics_app = typer.Typer(help="The topic taxonomy.", no_args_is_help=True)
catalogue_app = typer.Typer(help="The service catalogue: who owns what.", no_args_is_help=True)
app.add_typer(users_app, name="users")
app.add_typer(cases_app, name="cases")
app.add_typer(routing_app, name="routing")
app.add_typer(topics_app, name="topics")
app.add_typer(catalogue_app, name="catalogue")
calendars_app = typer.Typer(help="Business-hours calendars and holidays.", no_args_is_help=True)
app.add_typer(calendars_app, name="calendars")
sla_app = typer.Typer(help="Service levels: a case's clocks.", no_args_is_help=True)
app.add_typer(sla_app, name="sla")
app.add_typer(oncall_cli.app, name="oncall")
app.add_typer(kb_cli.app, name="kb")
app.add_typer(appeals_cli.app, name="appeals")
app.add_typer(appeals_cli.market_app, name="market")
app.add_typer(insights_cli.app, name="insights")
app.add_typer(report_cli.app, name="report")


def _factory() -> sessionmaker[Session]:
    return make_session_factory(make_engine(get_settings().resolved_database_url()))


@app.command()
def migrate() -> None:
    """Bring the database schema up to date (Alembic upgrade head)."""
    from trustdesk.core import migrate as migrations

    settings = get_settings()
    engine = make_engine(settings.resolved_database_url())
    migrations.upgrade(engine)
    typer.echo(f"database at head: {engine.url.render_as_string(hide_password=True)}")


@app.command()
def serve(
    host: Annotated[str | None, typer.Option(help="Interface to bind")] = None,
    port: Annotated[int | None, typer.Option(help="Port to bind")] = None,
    workers: Annotated[int, typer.Option(help="uvicorn worker processes")] = 1,
    jobs: Annotated[str, typer.Option(help="thread | off: deliver the outbox in this process or not")] = "thread",
) -> None:
    """Serve the console, the help center and the API."""
    import os

    import uvicorn

    if jobs not in ("thread", "off"):
        raise typer.BadParameter("use thread or off", param_hint="--jobs")
    # Set before the settings are read: with one worker uvicorn imports the app in this process.
    os.environ["TRUSTDESK_RUN_JOBS_IN_PROCESS"] = "true" if jobs == "thread" else "false"
    get_settings.cache_clear()
    settings = get_settings()
    uvicorn.run("trustdesk.asgi:app", host=host or settings.host, port=port or settings.port, workers=workers,
                log_level="warning", access_log=False, proxy_headers=True)


@app.command()
def demo(
    seed: Annotated[int, typer.Option(help="Random seed (the demo is deterministic)")] = 7,
    cases: Annotated[int, typer.Option(help="Historical cases to generate")] = 21_000,
) -> None:
    """Load the demo marketplace (idempotent: a second run changes nothing)."""
    from trustdesk.demo.build import build_demo

    summary = build_demo(_factory(), SystemClock(), seed=seed, case_count=cases)
    typer.echo(summary.describe())


@users_app.command("create")
def users_create(
    email: str, name: Annotated[str, typer.Option(help="Display name")],
    role: Annotated[Role, typer.Option(help="Role")],
    password: Annotated[str | None, typer.Option(help="Console password (omit for API-only users)")] = None,
) -> None:
    """Create a user."""
    from trustdesk.core import identity

    with transaction(_factory()) as session:
        user = identity.create_user(session, email=email, display_name=name, role=role, password=password,
                                    now=SystemClock().now())
        typer.echo(f"user {user.id} {user.email} ({user.role})")


@users_app.command("set-role")
def users_set_role(email: str, role: Role) -> None:
    """Change a user's role (signs them out everywhere)."""
    from trustdesk.core import identity

    with transaction(_factory()) as session:
        user = identity.user_by_email(session, email)
        if user is None:
            raise typer.BadParameter(f"no user {email}")
        identity.set_role(session, user, role)
        typer.echo(f"{user.email} is now {role.value}")


@users_app.command("token")
def users_token(email: str, name: Annotated[str, typer.Option(help="What the token is for")] = "cli") -> None:
    """Issue an API bearer token (printed once; only its hash is stored)."""
    from trustdesk.core import identity

    with transaction(_factory()) as session:
        user = identity.user_by_email(session, email)
        if user is None:
            raise typer.BadParameter(f"no user {email}")
        _token, secret = identity.issue_token(session, user, name=name, now=SystemClock().now())
        typer.echo(secret)


@users_app.command("list")
def users_list() -> None:
    """List users and their roles."""
    from trustdesk.core.identity import User

    with transaction(_factory()) as session:
        for user in session.scalars(select(User).order_by(User.id)):
            typer.echo(f"{user.id:>5}  {user.role:<18} {user.email:<40} {user.display_name}")


@cases_app.command("list")
def cases_list(
    status: Annotated[list[str] | None, typer.Option(help="Filter by status (repeatable)")] = None,
    queue: Annotated[str | None, typer.Option(help="Queue key")] = None,
    market: Annotated[str | None, typer.Option(help="Market code")] = None,
    q: Annotated[str | None, typer.Option(help="Search reference, subject and messages")] = None,
    limit: int = 20,
) -> None:
    """List the newest cases."""
    from trustdesk.cases import repository
    from trustdesk.directory import service as directory

    with transaction(_factory()) as session:
        queue_id = None
        if queue:
            found = directory.queue_by_key(session, queue)
            if found is None:
                raise typer.BadParameter(f"no queue {queue}")
            queue_id = found.id
        filters = repository.CaseFilters(status=status, queue_id=queue_id, market=market, q=q)
        page, _ = repository.list_cases(session, filters, repository.scope_clause(vendor_id=None, user_id=None),
                                        limit=limit, cursor=None)
        for case in page:
            typer.echo(f"{case.reference:<16} {case.status:<8} {case.priority:<7} "
                       f"{case.created_at:%Y-%m-%d %H:%M}  {case.subject[:70]}")


@cases_app.command("show")
def cases_show(reference: str, as_json: Annotated[bool, typer.Option("--json")] = False) -> None:
    """Show one case with its thread and timeline."""
    from trustdesk.cases import repository

    with transaction(_factory()) as session:
        case = repository.case_by_reference(session, reference)
        if case is None:
            raise typer.BadParameter(f"no case {reference}")
        messages = repository.messages(session, case.id, public_only=False)
        events = repository.events(session, case.id)
        if as_json:
            typer.echo(json.dumps({
                "reference": case.reference, "status": case.status, "subject": case.subject,
                "messages": [{"at": m.created_at.isoformat(), "author": m.author_name, "visibility": m.visibility,
                              "body": m.body} for m in messages],
                "events": [{"at": e.occurred_at.isoformat(), "type": e.type, "data": e.data} for e in events],
            }, indent=2, ensure_ascii=False))
            return
        typer.echo(f"{case.reference}  [{case.status}] {case.priority}  {case.subject}")
        for m in messages:
            header = f"{m.created_at:%Y-%m-%d %H:%M} {m.author_name} ({m.author_type}, {m.visibility})"
            typer.echo(f"\n-- {header}\n{m.body}")
        typer.echo("\ntimeline:")
        for e in events:
            typer.echo(f"  {e.occurred_at:%Y-%m-%d %H:%M:%S}  {e.type:<22} {json.dumps(e.data, ensure_ascii=False)}")


@routing_app.command("evaluate")
def routing_evaluate(
    train: Annotated[Path, typer.Option(help="CSV to train on", dir_okay=False)],
    test: Annotated[Path, typer.Option(help="CSV to predict and score", dir_okay=False)],
    text_column: Annotated[str, typer.Option(help="Column holding the text")] = "text",
    label_column: Annotated[str, typer.Option(help="Column holding the topic")] = "label",
    reject_label: Annotated[str | None, typer.Option(
        help="Out-of-scope label: never learnt; its rows should fall below the triage threshold")] = None,
    embeddings: Annotated[bool, typer.Option(help="Use sentence embeddings when the extra is installed")] = True,
    as_json: Annotated[bool, typer.Option("--json", help="Print one JSON object")] = False,
) -> None:
    """Train a fresh topic model on TRAIN, predict TEST, print accuracy, macro-F1 and latency.

    Reads only the two files. Hyper-parameters are fixed (chosen by cross-validation on
    BANKING77's training set); a reject label's threshold is chosen on TRAIN only.
    """
    from trustdesk.routing import evaluation

    try:
        train_set = evaluation.read_dataset(train, text_column=text_column, label_column=label_column)
        test_set = evaluation.read_dataset(test, text_column=text_column, label_column=label_column)
        result = evaluation.evaluate(train_set, test_set, reject_label=reject_label, use_embeddings=embeddings)
    except evaluation.DatasetError as exc:
        raise typer.BadParameter(str(exc)) from exc
    except ValueError as exc:  # e.g. fewer than two topics
        raise typer.BadParameter(str(exc), param_hint="--train") from exc
    if as_json:
        typer.echo(json.dumps(result))
        return
    for key, value in result.items():
        typer.echo(f"{key:<18} {value}")


@topics_app.command("import")
def topics_import(
    file: Annotated[Path, typer.Argument(help="CSV (key,en,es,...) or YAML tree", dir_okay=False)],
) -> None:
    """Create or update topics from a file; parents first, nothing deleted."""
    from trustdesk.core.errors import DomainError
    from trustdesk.directory import catalogue

    if not file.is_file():
        raise typer.BadParameter(f"{file}: no such file", param_hint="FILE")
    file_format = "yaml" if file.suffix.lower() in (".yaml", ".yml") else "csv"
    try:
        with transaction(_factory()) as session:
            rows = catalogue.parse_topics(file.read_text(encoding="utf-8"), format=file_format)
            report = catalogue.import_topics(session, rows, now=SystemClock().now())
    except DomainError as exc:
        raise typer.BadParameter(f"{exc.field}: {exc.detail}" if exc.field else exc.detail, param_hint="FILE") from exc
    typer.echo(f"{len(report.created)} created, {len(report.updated)} updated, {report.unchanged} unchanged")


@topics_app.command("list")
def topics_list(locale: Annotated[str, typer.Option(help="Names in this locale (falls back to en)")] = "en") -> None:
    """The taxonomy as a tree."""
    from trustdesk.directory import catalogue

    with transaction(_factory()) as session:
        for topic in catalogue.list_topics(session):
            state = "" if topic.is_active else "  (inactive)"
            typer.echo(f"{'  ' * (topic.depth - 1)}{topic.key:<40} {catalogue.topic_name(topic, locale)}{state}")


@catalogue_app.command("who")
def catalogue_who(
    market: Annotated[str, typer.Option(help="Market code")],
    topic: Annotated[str | None, typer.Option(help="Topic key, e.g. orders.delivery.late")] = None,
    channel: Annotated[str | None, typer.Option(help="Channel, e.g. in_app_chat")] = None,
    party_kind: Annotated[str | None, typer.Option(help="buyer, seller, creator or internal")] = None,
    at: Annotated[str | None, typer.Option(help="ISO time (UTC if no offset); default now")] = None,
    as_json: Annotated[bool, typer.Option("--json")] = False,
) -> None:
    """Who owns TOPIC in MARKET for CHANNEL (and PARTY_KIND), now or at a past or future time."""
    from trustdesk.core.clock import parse_time
    from trustdesk.core.errors import DomainError
    from trustdesk.directory import catalogue, views
    from trustdesk.directory import service as directory

    try:
        when = parse_time(at, field="at") if at is not None else SystemClock().now()
        with transaction(_factory()) as session:
            found = directory.market_by_code(session, market)
            ownership = catalogue.who_owns(session, topic=topic, market=found, channel=channel,
                                           party_kind=party_kind, at=when)
            answer = views.owner_out(session, ownership, market=found, channel=channel, party_kind=party_kind,
                                     at=when)
    except DomainError as exc:
        raise typer.BadParameter(exc.detail, param_hint=f"--{(exc.field or 'market').replace('_', '-')}") from exc
    if as_json:
        typer.echo(answer.model_dump_json(indent=2))
        return
    entry = answer.entry
    if entry is None:
        typer.echo(f"nobody: {answer.explanation}")
        raise typer.Exit(1)
    typer.echo(f"{entry.team_key} ({entry.tier})  entry {entry.entry_id} v{entry.version}"
               f"{'  SLA ' + entry.sla_policy_key if entry.sla_policy_key else ''}")
    typer.echo(f"why: {answer.explanation}")


# ---------------------------------------------------------------- routing models, rules and report


def _domain_error(exc: Exception, default: str) -> typer.BadParameter:
    from trustdesk.core.errors import DomainError

    assert isinstance(exc, DomainError)
    return typer.BadParameter(exc.detail, param_hint=f"--{(exc.field or default).replace('_', '-')}")


@routing_app.command("train")
def routing_train(
    days: Annotated[int | None, typer.Option(help="History to learn from (default: the setting)")] = None,
    embeddings: Annotated[bool, typer.Option(help="Use sentence embeddings when the extra is installed")] = True,
    activate: Annotated[bool, typer.Option(help="Route with the new model at once")] = False,
) -> None:
    """Train a new topic model from closed cases (each case's final topic is its label)."""
    from trustdesk.core.errors import DomainError
    from trustdesk.routing import registry

    settings, now = get_settings(), SystemClock().now()
    try:
        with transaction(_factory()) as session:
            model = registry.train(session, settings=settings, now=now, trained_by="cli", days=days,
                                   use_embeddings=embeddings)
            if activate:
                registry.activate(session, model, settings=settings, now=now)
            typer.echo(f"model v{model.version} ({model.algorithm}): {model.n_train} cases, "
                       f"{len(model.labels)} topics, threshold {model.threshold:.2f}, {model.status}")
            typer.echo(json.dumps(model.metrics | {"topics": len(model.metrics.get("topics", {}))}))
    except DomainError as exc:
        raise _domain_error(exc, "days") from exc


@routing_app.command("models")
def routing_models() -> None:
    """Every model version with its status and held-out accuracy."""
    from trustdesk.routing import registry

    with transaction(_factory()) as session:
        for model in registry.models(session):
            accuracy = model.metrics.get("holdout_accuracy")
            typer.echo(f"v{model.version:<4} {model.status:<8} {model.algorithm:<40} {model.n_train:>7} cases  "
                       f"held-out accuracy {accuracy if accuracy is not None else '-'}  "
                       f"trained {model.trained_at:%Y-%m-%d %H:%M} by {model.trained_by}")


@routing_app.command("activate")
def routing_activate(version: int) -> None:
    """Route with model VERSION (the active one retires)."""
    from trustdesk.core.errors import DomainError
    from trustdesk.routing import registry

    try:
        with transaction(_factory()) as session:
            model = registry.activate(session, registry.model_by_version(session, version), settings=get_settings(),
                                      now=SystemClock().now())
            typer.echo(f"model v{model.version} is active")
    except DomainError as exc:
        raise _domain_error(exc, "version") from exc


@routing_app.command("rollback")
def routing_rollback() -> None:
    """Re-activate the model that was active before the current one."""
    from trustdesk.core.errors import DomainError
    from trustdesk.routing import registry

    try:
        with transaction(_factory()) as session:
            model = registry.rollback(session, settings=get_settings(), now=SystemClock().now())
            typer.echo(f"model v{model.version} is active again")
    except DomainError as exc:
        raise _domain_error(exc, "version") from exc


@routing_app.command("report")
def routing_report(
    days: Annotated[int, typer.Option(help="Period length in days", min=1, max=365)] = 28,
    until: Annotated[str | None, typer.Option(help="End of the period (ISO time; default now)")] = None,
    as_json: Annotated[bool, typer.Option("--json")] = False,
) -> None:
    """Misroutes in the period: rate, hops, time lost, ranked causes and the recovery plan."""
    from datetime import timedelta

    from trustdesk.core.clock import parse_time
    from trustdesk.core.errors import DomainError
    from trustdesk.routing import analysis

    try:
        end = parse_time(until, field="until") if until is not None else SystemClock().now()
    except DomainError as exc:
        raise _domain_error(exc, "until") from exc
    with transaction(_factory()) as session:
        report = analysis.report(session, since=end - timedelta(days=days), until=end, settings=get_settings())
    typer.echo(json.dumps(report, default=str, indent=2) if as_json else analysis.render_text(report))


@rules_app.command("show")
def rules_show() -> None:
    """The rule set in force and the drafts after it."""
    import yaml

    from trustdesk.routing import service as routing

    with transaction(_factory()) as session:
        for rule_set in routing.rule_sets(session):
            since = f" since {rule_set.published_at:%Y-%m-%d %H:%M}" if rule_set.published_at else ""
            typer.echo(f"# v{rule_set.version} {rule_set.status}{since}")
            if rule_set.status != "retired":
                typer.echo(yaml.safe_dump(rule_set.rules, sort_keys=False, allow_unicode=True))


@rules_app.command("draft")
def rules_draft(
    file: Annotated[Path, typer.Argument(help="YAML or JSON list of rules", dir_okay=False)],
    note: Annotated[str | None, typer.Option(help="What changed and why")] = None,
) -> None:
    """Save FILE as a new draft version of the whole rule set (checked; nothing routes by it yet)."""
    from trustdesk.core.errors import DomainError
    from trustdesk.routing import rules
    from trustdesk.routing import service as routing

    if not file.is_file():
        raise typer.BadParameter(f"{file}: no such file", param_hint="FILE")
    try:
        raw = rules.read_yaml(file.read_text(encoding="utf-8"), field="FILE")
        with transaction(_factory()) as session:
            rule_set = routing.save_draft(session, raw, author=_cli_actor(session), now=SystemClock().now(),
                                          note=note)
            typer.echo(f"draft v{rule_set.version}: {len(rule_set.rules)} rules")
    except DomainError as exc:
        raise typer.BadParameter(f"{exc.field}: {exc.detail}" if exc.field else exc.detail, param_hint="FILE") from exc


@rules_app.command("simulate")
def rules_simulate(
    version: int,
    days: Annotated[int, typer.Option(help="Replay the cases of the last N days", min=1, max=90)] = 14,
) -> None:
    """What draft VERSION would change over the last N days of cases, against the set in force."""
    from trustdesk.core.errors import DomainError
    from trustdesk.routing import service as routing
    from trustdesk.routing import simulation

    try:
        with transaction(_factory()) as session:
            result = simulation.simulate(session, routing.rule_set_by_version(session, version), days=days,
                                         now=SystemClock().now(), settings=get_settings())
    except DomainError as exc:
        raise _domain_error(exc, "version") from exc
    typer.echo(json.dumps(result, default=str, indent=2))


@rules_app.command("publish")
def rules_publish(version: int) -> None:
    """Route with draft VERSION from now on."""
    from trustdesk.core.errors import DomainError
    from trustdesk.routing import service as routing

    try:
        with transaction(_factory()) as session:
            rule_set = routing.publish(session, routing.rule_set_by_version(session, version),
                                       publisher=_cli_actor(session), now=SystemClock().now())
            typer.echo(f"rule set v{rule_set.version} is published")
    except DomainError as exc:
        raise _domain_error(exc, "version") from exc


def _cli_actor(session: Session) -> Actor:
    """Changes from the shell are the operator's, recorded without a user (the shell has none)."""
    return Actor(user_id=0, role=Role.ADMIN, display_name="trustdesk CLI")



# ---------------------------------------------------------------- calendars


@calendars_app.command("list")
def calendars_list() -> None:
    """Every calendar with its zone and weekly hours."""
    from trustdesk.sla import calendars

    with transaction(_factory()) as session:
        for row in calendars.list_calendars(session):
            hours = "24x7" if row.always_open else "; ".join(
                f"{day} {', '.join(spans)}" for day, spans in row.weekly.items() if spans)
            typer.echo(f"{row.key:<20} {row.time_zone:<20} {hours}")


@calendars_app.command("import-holidays")
def calendars_import_holidays(
    key: Annotated[str, typer.Argument(help="Calendar key")],
    file: Annotated[Path, typer.Argument(help="An iCalendar (.ics) file", dir_okay=False)],
) -> None:
    """Close every day of the file's all-day events (idempotent: a second import changes nothing)."""
    from trustdesk.core.errors import DomainError
    from trustdesk.sla import calendars

    if not file.is_file():
        raise typer.BadParameter(f"{file}: no such file", param_hint="FILE")
    try:
        with transaction(_factory()) as session:
            report = calendars.import_ical(session, calendars.calendar_by_key(session, key),
                                           file.read_text(encoding="utf-8"), now=SystemClock().now())
    except DomainError as exc:
        raise typer.BadParameter(exc.detail, param_hint="KEY" if exc.field == "key" else "FILE") from exc
    typer.echo(f"{report.created} created, {report.updated} updated, {report.unchanged} unchanged")
    for line in report.skipped:
        typer.echo(f"skipped: {line}")


@calendars_app.command("due")
def calendars_due(
    key: Annotated[str, typer.Argument(help="Calendar key")],
    minutes: Annotated[int, typer.Option(help="Business minutes", min=0)],
    start: Annotated[str | None, typer.Option(help="ISO time (UTC if no offset); default now")] = None,
) -> None:
    """When MINUTES of business time after START are over, in UTC and in the calendar's zone."""
    from datetime import timedelta
    from zoneinfo import ZoneInfo

    from trustdesk.core.clock import parse_time
    from trustdesk.core.errors import DomainError
    from trustdesk.sla import calendars

    try:
        when = parse_time(start, field="start") if start is not None else SystemClock().now()
        with transaction(_factory()) as session:
            row = calendars.calendar_by_key(session, key)
            due = calendars.load(session, row).add(when, timedelta(minutes=minutes))
    except DomainError as exc:
        raise _domain_error(exc, exc.field or "start") from exc
    typer.echo(f"{due:%Y-%m-%d %H:%M} UTC  ({due.astimezone(ZoneInfo(row.time_zone)):%a %Y-%m-%d %H:%M} "
               f"{row.time_zone})")



@sla_app.command("replay")
def sla_replay(
    reference: Annotated[str, typer.Argument(help="Case reference, e.g. ID-2026-000123")],
    at: Annotated[str | None, typer.Option(help="As of this ISO time (default now)")] = None,
    as_json: Annotated[bool, typer.Option("--json")] = False,
) -> None:
    """Recompute the case's SLA clocks from its event log on the terms it was given."""
    from trustdesk.cases.models import Case
    from trustdesk.core.clock import parse_time
    from trustdesk.core.errors import DomainError
    from trustdesk.sla import policies

    try:
        when = parse_time(at, field="at") if at is not None else SystemClock().now()
    except DomainError as exc:
        raise _domain_error(exc, "at") from exc
    with transaction(_factory()) as session:
        case = session.scalar(select(Case).where(Case.reference == reference))
        if case is None:
            raise typer.BadParameter(f"no case {reference}", param_hint="REFERENCE")
        snapshot = policies.snapshot_of(session, case.id)
        if snapshot is None:
            raise typer.BadParameter(f"{reference} has no SLA (no policy existed when it was opened)",
                                     param_hint="REFERENCE")
        clocks = policies.case_clocks(session, snapshot, now=when)
        header = f"{reference}: policy {snapshot.policy_key} v{snapshot.policy_version}, priority {snapshot.priority}"
    rows = [{"metric": c.metric.value, "outcome": c.outcome.value, "started_at": c.started_at.isoformat(),
             "due_at": c.due_at.isoformat() if c.due_at else None,
             "breached_at": c.breached_at.isoformat() if c.breached_at else None,
             "used_minutes": round(c.used.total_seconds() / 60, 2)} for c in clocks]
    if as_json:
        typer.echo(json.dumps(rows, indent=2))
        return
    typer.echo(header)
    for row in rows:
        typer.echo(f"  {row['metric']:<16} {row['outcome']:<10} used {row['used_minutes']:>8} min  "
                   f"due {row['due_at'] or '-'}  breached {row['breached_at'] or '-'}")


@sla_app.command("compliance")
def sla_compliance(
    days: Annotated[int, typer.Option(min=1, max=400, help="The last N days")] = 28,
    by: Annotated[str, typer.Option(help="metric | queue | team | market | tier")] = "metric",
) -> None:
    """SLA compliance: targets met on time / targets that came due, per target and group."""
    from datetime import timedelta

    from trustdesk.core.errors import DomainError
    from trustdesk.sla import metrics

    now = SystemClock().now()
    try:
        with transaction(_factory()) as session:
            rows = metrics.compliance(session, since=now - timedelta(days=days), until=now, by=by)
    except DomainError as exc:
        raise _domain_error(exc, "--by") from exc
    for row in rows:
        rate = "-" if row.rate is None else f"{row.rate:.1%}"
        typer.echo(f"{row.key:<24} {row.metric:<16} {row.met:>7} met {row.breached:>7} breached  {rate:>7}")


if __name__ == "__main__":
    app()
