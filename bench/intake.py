"""Intake benchmark: how fast `trustdesk serve` takes in cases and answers the two reads agents use most.

What it does, end to end, on a fresh clone with PostgreSQL at 127.0.0.1:5432 (trust auth):

1. Drops and recreates a scratch database (``trustdesk_bench``; any database or SQLite file whose
   name contains "bench" with ``--database-url``), runs the migrations and seeds a minimal
   marketplace through the domain services: one market, a vendor's Tier 1 team with an
   auto-assign queue taking web-form and API cases from buyers, six online agents, buyer
   parties, and an integration user (role ``lead``, which has ``cases.intake``) with a bearer token.
2. Starts ``trustdesk serve`` as a subprocess on a free port of 127.0.0.1 (``--workers 1`` and/or
   ``2``), with the embedded outbox runner on: cases are auto-assigned in the background while
   the load runs, as in production.
3. Warms up (excluded from the figures), then measures with N concurrent keep-alive clients:
   ``create``: POST /api/v1/cases on behalf of a party, each with its own Idempotency-Key, bodies
   taken from the Bitext customer-support utterances; ``list``: GET /api/v1/cases?queue_id=…&limit=50;
   ``show``: GET /api/v1/cases/{id} for random ids of the cases just created.
4. Prints count, errors, wall time, req/s and p50/p95/p99 latency per phase, the CPU each request
   cost the server, PostgreSQL and this client (from /proc), the outbox backlog, whether the
   targets are met, and the exact command to reproduce. ``--json`` prints the same as JSON on
   stdout (the tables then go to stderr).

Targets (issue): create >= 500 req/s; list and show p95 < 50 ms; on 2 cores.
Bounded (fixed request counts, timeouts everywhere) and talks only to 127.0.0.1.
Run: ``make bench`` or ``.venv/bin/python bench/intake.py --help``. Results: docs/benchmarks.md.
"""

from __future__ import annotations

import argparse
import contextlib
import csv
import itertools
import json
import math
import os
import platform
import random
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from collections.abc import Iterator
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
from sqlalchemy import Engine, make_url, text
from sqlalchemy.engine import URL

from trustdesk.cases import service as cases
from trustdesk.cases.models import Channel, PartyKind
from trustdesk.cases.schemas import PartyIn
from trustdesk.core import identity
from trustdesk.core.clock import SystemClock
from trustdesk.core.db import make_engine, make_session_factory, transaction
from trustdesk.core.migrate import upgrade
from trustdesk.core.permissions import Role
from trustdesk.directory import service as directory
from trustdesk.directory.models import Presence, Tier
from trustdesk.directory.schemas import AgentIn, MarketIn, QueueIn, TeamIn, VendorIn

REPO = Path(__file__).resolve().parents[1]
DEFAULT_DATABASE_URL = "postgresql+psycopg://postgres@127.0.0.1:5432/trustdesk_bench"
DEFAULT_UTTERANCES = Path("/work/shared/data/bitext-customer-support/utterances.csv")
TARGET_CREATE_RPS = 500.0
TARGET_READ_P95_MS = 50.0
HOST = "127.0.0.1"
AGENTS = 6
PARTIES = 300

# Used only when the Bitext file is not available, so the benchmark still runs anywhere.
FALLBACK_UTTERANCES = [
    ("track_order", "I ordered a pair of running shoes last week and the tracking page has not moved since Monday, "
                    "where is my parcel?"),
    ("get_refund", "The seller accepted my return ten days ago but I still have not received the refund on my card."),
    ("cancel_order", "Please cancel order 4471, I placed it twice by mistake and only need one."),
    ("payment_issue", "My card was charged but the order page says the payment failed, can you check what happened?"),
    ("change_shipping_address", "I moved last week, can I still change the delivery address of the order I placed "
                                "yesterday?"),
    ("delivery_period", "How long does delivery to Spain usually take for items shipped from the US warehouse?"),
    ("complaint", "The jacket arrived torn at the seam and the seller does not answer my messages at all."),
    ("recover_password", "I cannot sign in, the password reset e-mail never arrives in my inbox or spam folder."),
    ("check_invoice", "I need an invoice with my company's VAT number for the laptop I bought on the 3rd."),
    ("contact_human_agent", "I have tried the help articles twice already, please let me talk to a real person."),
]


# ---------------------------------------------------------------- options and environment


@dataclass
class Options:
    database_url: str
    workers: list[int]
    cases: int
    reads: int
    concurrency: int
    warmup: int
    seed: int
    utterances: Path
    as_json: bool
    check: bool
    keep: bool
    jobs: str
    drain_timeout: float


def parse_args(argv: list[str] | None = None) -> Options:
    parser = argparse.ArgumentParser(
        description="Create cases over HTTP against `trustdesk serve`, then list a queue and open cases; "
                    "print req/s and p50/p95/p99 per phase.",
    )
    parser.add_argument("--database-url", default=DEFAULT_DATABASE_URL,
                        help="SQLAlchemy URL of a scratch database, DROPPED and recreated each run; its name must "
                             "contain 'bench' (PostgreSQL, or SQLite such as sqlite:////tmp/bench.db). "
                             f"Default: {DEFAULT_DATABASE_URL}")
    parser.add_argument("--workers", type=int, nargs="+", default=[2],
                        help="uvicorn worker processes; several values run one fresh round each (default: 2, "
                             "the faster of 1 and 2 on 2 cores, see docs/benchmarks.md)")
    parser.add_argument("--cases", type=int, default=2000, help="cases to create (default: 2000)")
    parser.add_argument("--reads", type=int, default=200, help="queue lists and case opens, each (default: 200)")
    parser.add_argument("--concurrency", type=int, default=4, help="concurrent keep-alive clients (default: 4)")
    parser.add_argument("--warmup", type=int, default=100, help="unmeasured creates before measuring (default: 100)")
    parser.add_argument("--seed", type=int, default=7, help="random seed for bodies, parties and ids (default: 7)")
    parser.add_argument("--utterances", type=Path, default=DEFAULT_UTTERANCES,
                        help="Bitext customer-support CSV (text,intent,...); built-in samples when missing")
    parser.add_argument("--json", dest="as_json", action="store_true",
                        help="print results as JSON on stdout (the human-readable tables go to stderr)")
    parser.add_argument("--check", action="store_true", help="exit 1 when a target is missed or a request failed")
    parser.add_argument("--keep", action="store_true", help="keep the scratch database of the last round to inspect")
    parser.add_argument("--jobs", choices=("thread", "off"), default="thread",
                        help="`serve --jobs`: thread (default; the outbox runner assigns cases during the load) or "
                             "off (diagnostic: intake and reads without background assignment)")
    parser.add_argument("--drain-timeout", type=float, default=120.0,
                        help="after the reads, wait up to this many seconds for the outbox to drain and report how "
                             "long assignment lagged behind intake (default: 120; 0 skips)")
    args = parser.parse_args(argv)
    for name in ("cases", "reads", "concurrency"):
        if getattr(args, name) < 1:
            parser.error(f"--{name} must be at least 1")
    if any(w < 1 or w > 16 for w in args.workers):
        parser.error("--workers takes values from 1 to 16")
    if "bench" not in (make_url(args.database_url).database or ""):
        parser.error("the database is dropped and recreated, so its name must contain 'bench' "
                     f"(got {make_url(args.database_url).database!r})")
    return Options(database_url=args.database_url, workers=args.workers, cases=args.cases, reads=args.reads,
                   concurrency=args.concurrency, warmup=max(0, args.warmup), seed=args.seed,
                   utterances=args.utterances, as_json=args.as_json, check=args.check, keep=args.keep, jobs=args.jobs,
                   drain_timeout=max(0.0, args.drain_timeout))


def machine() -> dict[str, Any]:
    cpu_model = ""
    with contextlib.suppress(OSError):
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu_model = line.split(":", 1)[1].strip()
                break
    memory_gib = 0.0
    with contextlib.suppress(OSError, ValueError, IndexError):
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemTotal:"):
                memory_gib = round(int(line.split()[1]) / 1024 / 1024, 1)
    commit = ""
    with contextlib.suppress(OSError, subprocess.SubprocessError):
        commit = subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=REPO, capture_output=True,
                                text=True, timeout=10, check=False).stdout.strip()
        changed = subprocess.run(["git", "status", "--porcelain", "--untracked-files=no", "--", "src"], cwd=REPO,
                                 capture_output=True, text=True, timeout=10, check=False).stdout.strip()
        if commit and changed:
            commit += "+uncommitted changes in src/"
    return {
        "date": datetime.now(UTC).isoformat(timespec="seconds"), "commit": commit, "nproc": os.cpu_count(),
        "cpu": cpu_model or platform.processor(), "memory_gib": memory_gib, "python": platform.python_version(),
        "loadavg_before": [round(x, 2) for x in os.getloadavg()],
    }


def cpu_busy(seconds: float = 1.0) -> float | None:
    """Share of all CPUs busy over ``seconds`` (from /proc/stat): is something else running?"""

    def sample() -> tuple[int, int]:
        values = [int(v) for v in Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:]]
        idle = values[3] + (values[4] if len(values) > 4 else 0)
        return sum(values), idle

    try:
        total_a, idle_a = sample()
        time.sleep(seconds)
        total_b, idle_b = sample()
    except (OSError, ValueError, IndexError):
        return None
    return round(1 - (idle_b - idle_a) / max(1, total_b - total_a), 2)


def log(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


# ---------------------------------------------------------------- the scratch database


def recreate_database(url: URL) -> None:
    """Drop and create the bench database (PostgreSQL via the maintenance database; SQLite: delete the file)."""
    if url.get_backend_name() == "sqlite":
        if not url.database or url.database == ":memory:":
            raise SystemExit("SQLite needs a file: sqlite:////tmp/bench.db (the server is another process)")
        for suffix in ("", "-wal", "-shm"):
            Path(f"{url.database}{suffix}").unlink(missing_ok=True)
        return
    import psycopg
    from psycopg import sql

    maintenance = url.set(drivername="postgresql", database="postgres").render_as_string(hide_password=False)
    name = sql.Identifier(str(url.database))
    with psycopg.connect(maintenance, autocommit=True, connect_timeout=10) as conn:
        conn.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(name))
        conn.execute(sql.SQL("CREATE DATABASE {}").format(name))


def drop_database(url: URL) -> None:
    if url.get_backend_name() == "sqlite":
        for suffix in ("", "-wal", "-shm"):
            Path(f"{url.database}{suffix}").unlink(missing_ok=True)
        return
    import psycopg
    from psycopg import sql

    maintenance = url.set(drivername="postgresql", database="postgres").render_as_string(hide_password=False)
    with psycopg.connect(maintenance, autocommit=True, connect_timeout=10) as conn:
        conn.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(str(url.database))))


@dataclass
class Seeded:
    token: str
    queue_id: int
    market: str
    parties: list[dict[str, str]]


def seed(engine: Engine) -> Seeded:
    """A minimal marketplace, built through the domain services as the console would."""
    now = SystemClock().now()
    with transaction(make_session_factory(engine)) as session:
        market = directory.create_market(session, MarketIn(
            code="US", name="United States", time_zone="America/Los_Angeles", languages=["en", "es"],
            default_language="en", currency="USD"), now=now)
        vendor = directory.create_vendor(session, VendorIn(code="bench-bpo", name="Bench BPO"), now=now)
        team = directory.create_team(session, TeamIn(key="us-t1", name="US Tier 1", tier=Tier.T1,
                                                     vendor_id=vendor.id), now=now)
        queue = directory.create_queue(session, QueueIn(
            key="us-buyers", name="US buyers", team_id=team.id, market_id=market.id,
            intake_channels=[Channel.WEB_FORM.value, Channel.API.value],
            intake_party_kinds=[PartyKind.BUYER.value], auto_assign=True), now=now)
        for number in range(1, AGENTS + 1):
            user = identity.create_user(session, email=f"agent{number}@bench.test", display_name=f"Agent {number}",
                                        role=Role.AGENT_T1, password=None, now=now)
            # Room for every case of the run, so each one is really assigned (the work we want to load).
            agent = directory.create_agent(session, AgentIn(user_id=user.id, vendor_id=vendor.id,
                                                            languages=["en", "es"], capacity=500,
                                                            team_ids=[team.id]), now=now)
            directory.set_presence(session, agent, Presence.ONLINE)
        lead = identity.create_user(session, email="intake@bench.test", display_name="Intake integration",
                                    role=Role.LEAD, password=None, now=now)
        _token, secret = identity.issue_token(session, lead, name="bench", now=now)
        parties = []
        for number in range(1, PARTIES + 1):
            data = PartyIn(kind=PartyKind.BUYER, external_id=f"buyer-{number:05d}",
                           display_name=f"Buyer {number}", email=f"buyer{number}@example.test")
            cases.upsert_party(session, market, data, now=now)
            parties.append(data.model_dump(mode="json", exclude_none=True))
        return Seeded(token=secret, queue_id=queue.id, market=market.code, parties=parties)


def outbox_state(engine: Engine) -> dict[str, int]:
    with engine.connect() as conn:
        pending = conn.scalar(text("SELECT count(*) FROM outbox WHERE delivered_at IS NULL AND failed_at IS NULL"))
        failed = conn.scalar(text("SELECT count(*) FROM outbox WHERE failed_at IS NOT NULL"))
        total = conn.scalar(text("SELECT count(*) FROM cases"))
        assigned = conn.scalar(text("SELECT count(*) FROM cases WHERE assignee_id IS NOT NULL"))
    return {"pending": int(pending or 0), "failed": int(failed or 0), "cases": int(total or 0),
            "assigned": int(assigned or 0)}


# ---------------------------------------------------------------- request bodies


def load_utterances(path: Path) -> tuple[list[tuple[str, str]], str]:
    if not path.is_file():
        return FALLBACK_UTTERANCES, "built-in samples"
    with path.open(newline="", encoding="utf-8") as handle:
        rows = [(row["intent"], row["text"].strip()) for row in csv.DictReader(handle) if row.get("text")]
    return rows, str(path)


def case_bodies(count: int, utterances: list[tuple[str, str]], seeded: Seeded, rng: random.Random) -> list[bytes]:
    """Web-form and API intake as a channel integration sends it: one to three sentences of one intent."""
    by_intent: dict[str, list[str]] = {}
    for intent, sentence in utterances:
        by_intent.setdefault(intent, []).append(sentence)
    intents = sorted(by_intent)
    bodies = []
    for _ in range(count):
        intent = rng.choice(intents)
        sentences = rng.sample(by_intent[intent], k=min(len(by_intent[intent]), rng.choice((1, 1, 2, 3))))
        order = f"Order {rng.randint(10_000_000, 99_999_999)}."
        bodies.append(json.dumps({
            "channel": rng.choice((Channel.WEB_FORM.value, Channel.API.value)),
            "market": seeded.market,
            "subject": intent.replace("_", " ").capitalize(),
            "body": " ".join([*sentences, order]),
            "party": rng.choice(seeded.parties),
            "tags": [intent.replace("_", "-")],
        }).encode())
    return bodies


# ---------------------------------------------------------------- CPU accounting (Linux /proc)

TICKS = os.sysconf("SC_CLK_TCK") if hasattr(os, "sysconf") else 100


def _stat(pid: int) -> tuple[int, float] | None:
    """(parent pid, CPU seconds of all the process's threads) or None when it is gone."""
    try:
        raw = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    fields = raw[raw.rindex(")") + 2:].split()
    return int(fields[1]), (int(fields[11]) + int(fields[12])) / TICKS


def process_tree(root: int) -> list[int]:
    parents: dict[int, int] = {}
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            found = _stat(int(entry.name))
            if found is not None:
                parents[int(entry.name)] = found[0]
    tree, frontier = [root], [root]
    while frontier:
        frontier = [pid for pid, parent in parents.items() if parent in frontier]
        tree.extend(frontier)
    return tree


def cpu_of(pids: list[int]) -> dict[int, float]:
    found = {pid: _stat(pid) for pid in pids}
    return {pid: stat[1] for pid, stat in found.items() if stat is not None}


class CpuMeter:
    """CPU seconds spent by the server's processes, the bench database's PostgreSQL backends and us."""

    def __init__(self, server_pid: int, engine: Engine) -> None:
        self.server_pid = server_pid
        self.engine = engine
        self.available = Path("/proc/self/stat").exists()

    def _backends(self) -> list[int]:
        if self.engine.dialect.name != "postgresql":
            return []
        with self.engine.connect() as conn:
            rows = conn.execute(text("SELECT pid FROM pg_stat_activity WHERE datname = current_database() "
                                     "AND pid <> pg_backend_pid()"))
            return [int(r[0]) for r in rows]

    def snapshot(self) -> dict[str, Any]:
        if not self.available:
            return {}
        return {"server": cpu_of(process_tree(self.server_pid)), "postgres": cpu_of(self._backends()),
                "client": time.process_time()}

    @staticmethod
    def delta(before: dict[str, Any], after: dict[str, Any]) -> dict[str, Any]:
        if not before or not after:
            return {}
        server = {pid: after["server"][pid] - before["server"].get(pid, 0.0) for pid in after["server"]}
        postgres = sum(cpu - before["postgres"].get(pid, 0.0) for pid, cpu in after["postgres"].items())
        return {"server_s": sum(server.values()), "server_by_pid_s": {str(k): round(v, 3) for k, v in server.items()},
                "postgres_s": postgres, "client_s": after["client"] - before["client"]}


# ---------------------------------------------------------------- the server


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((HOST, 0))
        return int(sock.getsockname()[1])


def trustdesk_command() -> str:
    found = Path(sys.executable).parent / "trustdesk"
    if found.exists():
        return str(found)
    which = shutil.which("trustdesk")
    if which is None:
        raise SystemExit("the `trustdesk` command is not installed in this environment (make install)")
    return which


@contextlib.contextmanager
def running_server(database_url: str, workers: int, jobs: str, workdir: Path) -> Iterator[tuple[str, int]]:
    """`trustdesk serve` on a free port of 127.0.0.1 (outbox runner on unless ``jobs`` is off); stopped on exit."""
    port = free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith("TRUSTDESK_")}
    env.update(TRUSTDESK_DATABASE_URL=database_url, TRUSTDESK_SECRET_KEY="bench-" + "k" * 40,
               TRUSTDESK_DATA_DIR=str(workdir / "var"))
    command = [trustdesk_command(), "serve", "--host", HOST, "--port", str(port), "--workers", str(workers),
               "--jobs", jobs]
    log_path = workdir / f"serve-{workers}.log"
    with log_path.open("wb") as server_log:
        process = subprocess.Popen(command, cwd=workdir, env=env, stdout=server_log, stderr=subprocess.STDOUT,
                                   start_new_session=True)
    base_url = f"http://{HOST}:{port}"
    try:
        deadline = time.monotonic() + 60
        with httpx.Client(base_url=base_url, timeout=5) as probe:
            while True:
                if process.poll() is not None:
                    raise SystemExit(f"`trustdesk serve` exited with {process.returncode}:\n{log_path.read_text()}")
                with contextlib.suppress(httpx.HTTPError):
                    if probe.get("/api/v1/health").status_code == 200:
                        break
                if time.monotonic() > deadline:
                    raise SystemExit(f"`trustdesk serve` did not answer /api/v1/health in 60 s:\n"
                                     f"{log_path.read_text()}")
                time.sleep(0.1)
        yield base_url, process.pid
    finally:
        if process.poll() is None:
            process.send_signal(signal.SIGINT)
            try:
                process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                os.killpg(process.pid, signal.SIGKILL)  # our own session: the supervisor and its workers
                process.wait(timeout=10)


# ---------------------------------------------------------------- load


@dataclass
class Request:
    method: str
    path: str
    expect: int
    body: bytes | None = None
    headers: dict[str, str] = field(default_factory=dict)


@dataclass
class Phase:
    name: str
    count: int
    errors: int
    wall_s: float
    rps: float
    p50_ms: float
    p95_ms: float
    p99_ms: float
    max_ms: float
    cpu_ms_per_request: dict[str, float] = field(default_factory=dict)
    cores_busy: float = 0.0
    server_cpu_by_pid_s: dict[str, float] = field(default_factory=dict)
    first_errors: list[str] = field(default_factory=list)


def percentile(sorted_values: list[float], pct: float) -> float:
    """Nearest rank: the smallest value with at least pct% of the samples at or below it."""
    if not sorted_values:
        return 0.0
    rank = max(1, math.ceil(pct / 100 * len(sorted_values)))
    return sorted_values[rank - 1]


class Load:
    """N keep-alive clients (one httpx.Client per thread) that stay connected across phases."""

    def __init__(self, base_url: str, token: str, concurrency: int) -> None:
        headers = {"Authorization": f"Bearer {token}", "Accept": "application/json"}
        limits = httpx.Limits(max_connections=1, max_keepalive_connections=1)
        self.clients = [httpx.Client(base_url=base_url, headers=headers, timeout=30, limits=limits)
                        for _ in range(concurrency)]

    def close(self) -> None:
        for client in self.clients:
            client.close()

    def run(self, name: str, requests: list[Request], meter: CpuMeter | None = None) -> tuple[Phase, list[str]]:
        """Send every request once, spread over the clients; returns the figures and the Location headers."""
        cursor = itertools.count()  # next() on a count is atomic under the GIL
        results: list[list[tuple[float, bool, str]]] = [[] for _ in self.clients]
        start = threading.Barrier(len(self.clients) + 1)

        def client_loop(index: int) -> None:
            client, mine = self.clients[index], results[index]
            start.wait()
            while (n := next(cursor)) < len(requests):
                request = requests[n]
                began = time.perf_counter()
                try:
                    response = client.request(request.method, request.path, content=request.body,
                                              headers=request.headers)
                    response.read()
                    elapsed = time.perf_counter() - began
                    ok = response.status_code == request.expect
                    note = response.headers.get("location", "") if ok else \
                        f"{request.method} {request.path}: {response.status_code} {response.text[:300]}"
                except httpx.HTTPError as exc:
                    elapsed, ok, note = time.perf_counter() - began, False, f"{request.method} {request.path}: {exc!r}"
                mine.append((elapsed, ok, note))

        threads = [threading.Thread(target=client_loop, args=(i,), daemon=True) for i in range(len(self.clients))]
        for thread in threads:
            thread.start()
        before = meter.snapshot() if meter else {}
        start.wait()
        began = time.perf_counter()
        for thread in threads:
            thread.join(timeout=600)
        wall = time.perf_counter() - began
        cpu = CpuMeter.delta(before, meter.snapshot() if meter else {})

        samples = [s for per_client in results for s in per_client]
        latencies = sorted(s[0] * 1000 for s in samples)
        failures = [s[2] for s in samples if not s[1]]
        done = len(samples)
        phase = Phase(
            name=name, count=done, errors=len(failures) + (len(requests) - done), wall_s=round(wall, 3),
            rps=round(done / wall, 1) if wall else 0.0,
            p50_ms=round(percentile(latencies, 50), 2), p95_ms=round(percentile(latencies, 95), 2),
            p99_ms=round(percentile(latencies, 99), 2), max_ms=round(latencies[-1] if latencies else 0.0, 2),
            first_errors=failures[:5],
        )
        if cpu and done:
            phase.cpu_ms_per_request = {
                "server": round(cpu["server_s"] * 1000 / done, 3),
                "postgres": round(cpu["postgres_s"] * 1000 / done, 3),
                "client": round(cpu["client_s"] * 1000 / done, 3),
            }
            phase.cores_busy = round((cpu["server_s"] + cpu["postgres_s"] + cpu["client_s"]) / wall, 2)
            phase.server_cpu_by_pid_s = cpu["server_by_pid_s"]
        locations = [s[2] for s in samples if s[1]]
        return phase, locations


def create_requests(bodies: list[bytes]) -> list[Request]:
    return [Request("POST", "/api/v1/cases", 201, body,
                    {"Content-Type": "application/json", "Idempotency-Key": f"bench-{uuid.uuid4()}"})
            for body in bodies]


def read_requests(queue_id: int, case_ids: list[int], reads: int, rng: random.Random) -> tuple[list[Request], ...]:
    lists = [Request("GET", f"/api/v1/cases?queue_id={queue_id}&limit=50", 200) for _ in range(reads)]
    shows = [Request("GET", f"/api/v1/cases/{rng.choice(case_ids)}", 200) for _ in range(reads)]
    return lists, shows


# ---------------------------------------------------------------- one round


@dataclass
class Round:
    backend: str
    database: str
    workers: int
    concurrency: int
    phases: list[Phase]
    outbox_after_create: dict[str, int]
    outbox_after_run: dict[str, int]
    targets: dict[str, bool]
    jobs: str = "thread"
    assign_lag_s: float | None = None
    drain: dict[str, Any] = field(default_factory=dict)


def drain_outbox(engine: Engine, meter: CpuMeter, created_at_end: float,
                 timeout: float) -> tuple[float | None, dict[str, Any]]:
    """Wait (bounded) until every auto-assign message is delivered.

    Returns how long after the last create that happened, and what the delivery of the backlog
    left after the reads cost (server and PostgreSQL CPU per message), measured with no requests in flight.
    """
    deadline = time.monotonic() + timeout
    before, start = meter.snapshot(), outbox_state(engine)
    state = start
    while state["pending"] and time.monotonic() < deadline:
        time.sleep(0.25)
        state = outbox_state(engine)
    finished = time.monotonic()
    lag = round(finished - created_at_end, 2) if not state["pending"] else None
    delivered = start["pending"] - state["pending"]
    cost = CpuMeter.delta(before, meter.snapshot())
    drain: dict[str, Any] = {"backlog": start["pending"], "delivered": delivered, "assigned": state["assigned"],
                             "cases": state["cases"]}
    if cost and delivered >= 50:  # too few messages say nothing per message
        drain["cpu_ms_per_message"] = {"server": round(cost["server_s"] * 1000 / delivered, 3),
                                       "postgres": round(cost["postgres_s"] * 1000 / delivered, 3)}
    return lag, drain


def run_round(options: Options, workers: int, utterances: list[tuple[str, str]]) -> Round:
    url = make_url(options.database_url)
    rng = random.Random(options.seed)
    log(f"[{workers} worker{'s' if workers > 1 else ''}] recreating {url.render_as_string(hide_password=True)}")
    recreate_database(url)
    engine = make_engine(options.database_url)
    try:
        upgrade(engine)
        seeded = seed(engine)
        warm_bodies = case_bodies(options.warmup, utterances, seeded, rng)
        bodies = case_bodies(options.cases, utterances, seeded, rng)
        with tempfile.TemporaryDirectory(prefix="trustdesk-bench-") as workdir, \
                running_server(options.database_url, workers, options.jobs, Path(workdir)) as (base_url, server_pid):
            load = Load(base_url, seeded.token, options.concurrency)
            try:
                meter = CpuMeter(server_pid, engine)
                log(f"  warm-up: {options.warmup} creates, {options.concurrency * 5} lists and shows")
                _, warm_locations = load.run("warm-up", create_requests(warm_bodies))
                warm_ids = [int(loc.rsplit("/", 1)[1]) for loc in warm_locations if loc] or [1]
                warm_lists, warm_shows = read_requests(seeded.queue_id, warm_ids, options.concurrency * 5, rng)
                load.run("warm-up", warm_lists + warm_shows)

                log(f"  create: {options.cases} POST /api/v1/cases, {options.concurrency} clients")
                create, locations = load.run("create", create_requests(bodies), meter)
                created_at_end = time.monotonic()
                created_ids = [int(loc.rsplit("/", 1)[1]) for loc in locations if loc]
                after_create = outbox_state(engine)
                lists, shows = read_requests(seeded.queue_id, created_ids or warm_ids, options.reads, rng)
                log(f"  list: {options.reads} GET /api/v1/cases?queue_id=…&limit=50")
                listing, _ = load.run("list", lists, meter)
                log(f"  show: {options.reads} GET /api/v1/cases/{{id}}")
                showing, _ = load.run("show", shows, meter)
                after_run = outbox_state(engine)
                lag, drain = None, {}
                if options.jobs == "thread" and options.drain_timeout:
                    log(f"  waiting up to {options.drain_timeout:g} s for the outbox to drain")
                    lag, drain = drain_outbox(engine, meter, created_at_end, options.drain_timeout)
            finally:
                load.close()
    finally:
        engine.dispose()
    targets = {
        f"create >= {TARGET_CREATE_RPS:g} req/s": create.rps >= TARGET_CREATE_RPS and create.errors == 0,
        f"list p95 < {TARGET_READ_P95_MS:g} ms": listing.p95_ms < TARGET_READ_P95_MS and listing.errors == 0,
        f"show p95 < {TARGET_READ_P95_MS:g} ms": showing.p95_ms < TARGET_READ_P95_MS and showing.errors == 0,
    }
    return Round(backend=url.get_backend_name(), database=url.render_as_string(hide_password=True), workers=workers,
                 concurrency=options.concurrency, phases=[create, listing, showing],
                 outbox_after_create=after_create, outbox_after_run=after_run, targets=targets, jobs=options.jobs,
                 assign_lag_s=lag, drain=drain)


# ---------------------------------------------------------------- reporting


def reproduce_command(options: Options) -> str:
    parts = [".venv/bin/python", "bench/intake.py", "--workers", *map(str, options.workers)]
    if options.database_url != DEFAULT_DATABASE_URL:
        parts += ["--database-url", options.database_url]
    defaults = (("cases", 2000), ("reads", 200), ("concurrency", 4), ("warmup", 100), ("seed", 7), ("jobs", "thread"),
                ("drain_timeout", 120.0))
    for name, default in defaults:
        if getattr(options, name) != default:
            parts += [f"--{name.replace('_', '-')}", f"{getattr(options, name):g}" if name == "drain_timeout"
                      else str(getattr(options, name))]
    return " ".join(parts)


def worker_split(phase: Phase) -> str:
    busy = {pid: cpu for pid, cpu in phase.server_cpu_by_pid_s.items() if cpu > 0.05}
    total = sum(busy.values())
    return " / ".join(f"{cpu / total:.0%}" for cpu in sorted(busy.values(), reverse=True)) if total else ""


def describe(rounds: list[Round], env: dict[str, Any], options: Options, corpus: str) -> str:
    lines = [
        f"TrustDesk intake benchmark  {env['date']}  commit {env['commit'] or '?'}",
        f"machine: {env['nproc']} CPUs ({env['cpu']}), {env['memory_gib']} GiB, Python {env['python']}, "
        f"load average before {env['loadavg_before']}, after {env['loadavg_after']}; CPUs busy just before: "
        + (f"{env['cpu_busy_before']:.0%}" if env.get("cpu_busy_before") is not None else "?"),
        f"load: {options.cases} creates, {options.reads} lists and {options.reads} shows, {options.concurrency} "
        f"keep-alive clients, {options.warmup} warm-up creates excluded; bodies from {corpus}",
        "",
    ]
    header = (f"{'backend':<10} {'workers':>7}  {'phase':<6} {'count':>6} {'errors':>6} {'wall s':>7} {'req/s':>7} "
              f"{'p50 ms':>7} {'p95 ms':>7} {'p99 ms':>7} {'max ms':>7}  {'CPU ms/req srv+pg+cli':>22} {'cores':>5}")
    lines += [header, "-" * len(header)]
    for r in rounds:
        for p in r.phases:
            cpu = p.cpu_ms_per_request
            cpu_text = f"{cpu['server']:.2f}+{cpu['postgres']:.2f}+{cpu['client']:.2f}" if cpu else "n/a"
            lines.append(f"{r.backend:<10} {r.workers:>7}  {p.name:<6} {p.count:>6} {p.errors:>6} {p.wall_s:>7.2f} "
                         f"{p.rps:>7.1f} {p.p50_ms:>7.2f} {p.p95_ms:>7.2f} {p.p99_ms:>7.2f} {p.max_ms:>7.1f}  "
                         f"{cpu_text:>22} {p.cores_busy:>5.2f}")
    lines.append("")
    for r in rounds:
        verdict = ", ".join(f"{name}: {'met' if ok else 'NOT met'}" for name, ok in r.targets.items())
        a, b = r.outbox_after_create, r.outbox_after_run
        lines.append(f"{r.backend}, {r.workers} worker(s): {verdict}")
        split = worker_split(r.phases[0])
        if r.workers > 1 and split:
            lines.append(f"  server CPU per process during the creates: {split} (4 keep-alive connections are "
                         "shared out when they connect; an uneven split caps throughput)")
        if r.jobs == "off":
            lines.append("  outbox runner off (--jobs off): no case was assigned during the run")
        else:
            lines.append(f"  outbox: {a['pending']} auto-assign messages pending when the creates finished, "
                         f"{b['pending']} after the reads; {b['failed']} failed deliveries")
            cost = r.drain.get("cpu_ms_per_message")
            per_message = (f"; delivering the last {r.drain['delivered']} cost {cost['server']:.2f} ms server + "
                           f"{cost['postgres']:.2f} ms PostgreSQL CPU each" if cost else "")
            lag = f"{r.assign_lag_s:.1f} s" if r.assign_lag_s is not None else "not within the drain timeout"
            assigned = f" ({r.drain['assigned']} of {r.drain['cases']} cases assigned)" if r.drain else ""
            lines.append(f"  outbox drained {lag} after the last create{assigned}{per_message}")
        for p in r.phases:
            for error in p.first_errors:
                lines.append(f"  {p.name} error: {error}")
    lines += ["", f"reproduce: {reproduce_command(options)}"]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    options = parse_args(argv)
    env = machine()
    env["cpu_busy_before"] = cpu_busy()
    if env["cpu_busy_before"] is not None and env["cpu_busy_before"] > 0.15:
        log(f"warning: {env['cpu_busy_before']:.0%} of the CPUs were busy before the run; the figures will be low")
    utterances, corpus = load_utterances(options.utterances)
    rounds = [run_round(options, workers, utterances) for workers in options.workers]
    env["loadavg_after"] = [round(x, 2) for x in os.getloadavg()]
    if not options.keep:
        with contextlib.suppress(Exception):
            drop_database(make_url(options.database_url))
    report = describe(rounds, env, options, corpus)
    if options.as_json:
        print(report, file=sys.stderr)
        print(json.dumps({"machine": env, "corpus": corpus, "command": reproduce_command(options),
                          "rounds": [asdict(r) for r in rounds]}, indent=2))
    else:
        print(report)
    failed = any(not ok for r in rounds for ok in r.targets.values())
    return 1 if options.check and failed else 0


if __name__ == "__main__":
    sys.exit(main())
