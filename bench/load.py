"""The whole system under load: real users' mix of API requests plus Exotel callbacks, through gunicorn
with production settings, the task worker beside it, next to two floors measured in the same run.

Run by hand on PostgreSQL and Redis (`make bench` seeds the data and runs this), never in the test suite:

    DATABASE_URL=postgres://postgres@127.0.0.1:5432/caly_bench REDIS_URL=redis://127.0.0.1:6379/0 \\
        .venv/bin/python bench/load.py --users 100 300 --seconds 60

Starts a moto S3 server, gunicorn (gunicorn.conf.py, bench/load_settings.py: production settings plus
the floors' URLs) and `manage.py db_worker`, all on 127.0.0.1. Then: the capacity of the calls list
next to its floors (closed loop, as many requests at once as the server has threads), and for each
user count an open-model load for `--seconds`: every virtual user sends its next request on a Poisson
schedule whatever the server does, and a late answer's latency counts from when the request was due
(wrk2's correction for coordinated omission). Prints a table per phase and the targets of issue 8.
See bench/README.md for what each figure means.
"""
# ruff: noqa: E402 - Django is set up before the project's modules are imported

from __future__ import annotations

import argparse
import asyncio
import base64
import contextlib
import hashlib
import itertools
import json
import os
import random
import secrets
import subprocess
import sys
import tempfile
import time
import uuid
import zoneinfo
from collections import Counter, defaultdict
from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path
from urllib.parse import urlencode, urlsplit

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "caly.settings.local")
os.environ.setdefault("LOG_LEVEL", "warning")
# The server decrypts what this process encrypts (the Exotel callback tokens): one bench-only key.
BENCH_FIELD_KEY = base64.urlsafe_b64encode(hashlib.sha256(b"caly-bench-field-encryption").digest()).decode()
os.environ["FIELD_ENCRYPTION_KEYS"] = BENCH_FIELD_KEY

import django

django.setup()

from django.contrib.auth.hashers import make_password
from django.db import connection
from django.db.migrations.executor import MigrationExecutor
from django.utils import timezone
from django_tasks_db.models import DBTaskResult

from accounts.models import Client, User
from accounts.roles import Role
from bench import gc_pauses
from bench.harness import S3_BUCKET, child, free_port, memory_kib, moto_s3, s3_env, vacuum_analyze
from integrations.exotel.services import exotel_callback_urls
from integrations.models import ExotelConnection, Product, WebhookEvent
from recordings import demo
from recordings.models import Call

DEMO_SLUG = "demo-store"
USER_DOMAIN = "load.caly-bench.local"
CALLBACK_PREFIX = "lb"  # CallSids of this benchmark's callbacks; their calls are deleted afterwards
P95_TARGET_MS, P99_TARGET_MS, ACK_P99_TARGET_MS = 50.0, 100.0, 50.0
LIST_FLOOR_TARGET = 0.5


# --- processes ------------------------------------------------------------------------------------


def server_env(*, port: int, s3_endpoint: str, workers: int | None, threads: int | None, log_level: str) -> dict:
    """A complete production environment (bench/load_settings.py imports caly.settings.production)."""
    env = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "bench.load_settings",
        "SECRET_KEY": secrets.token_urlsafe(50),
        "ALLOWED_HOSTS": "127.0.0.1",
        "SITE_URL": "https://caly-bench.example",
        **s3_env(s3_endpoint),
        "EMAIL_URL": "consolemail://",
        "FIELD_ENCRYPTION_KEYS": BENCH_FIELD_KEY,
        "TASKS_BACKEND": "database",
        "LOG_LEVEL": log_level,
        "LOG_FORMAT": "json",
        # Callbacks arrive faster than one Exotel account would send them; the limit is not what is measured.
        "RATE_LIMIT_WEBHOOK": "100000000/m",
        "BIND_ADDRESS": "127.0.0.1",
        "PORT": str(port),
        "PYTHONPATH": str(ROOT),
    }
    for name, value in (("WEB_CONCURRENCY", workers), ("GUNICORN_THREADS", threads)):
        if value:
            env[name] = str(value)
    return env


def wait_ready(port: int, process: subprocess.Popen, log: Path) -> None:
    deadline = time.monotonic() + 90
    while True:
        if process.poll() is not None:
            raise SystemExit(f"gunicorn exited with {process.returncode}:\n{log.read_text(errors='replace')[-3000:]}")
        with contextlib.suppress(OSError, ValueError):
            answer = asyncio.run(http(port, "GET", "/health/live"))
            if answer.status == 200:
                return
        if time.monotonic() > deadline:
            raise SystemExit(f"gunicorn was not ready in 90 s:\n{log.read_text(errors='replace')[-3000:]}")
        time.sleep(0.3)


def worker_pids(master: int) -> list[int]:
    """gunicorn's worker processes: the master's children."""
    pids = []
    for stat in Path("/proc").glob("[0-9]*/stat"):
        with contextlib.suppress(OSError, IndexError, ValueError):
            if int(stat.read_text().rsplit(")", 1)[1].split()[1]) == master:
                pids.append(int(stat.parent.name))
    return sorted(pids)


# --- HTTP on 127.0.0.1 ----------------------------------------------------------------------------


@dataclass
class Answer:
    status: int
    headers: dict[str, str]
    body: bytes

    def json(self):
        return json.loads(self.body)


async def http(port: int, method: str, path: str, *, headers: dict | None = None, body: bytes = b"") -> Answer:
    """One request on a new connection, closed after the answer: what a proxy without upstream keep-alive
    sends (nginx's default) and how Exotel delivers callbacks. gthread workers serve only `threads`
    keep-alive connections at once, so clients holding connections open would measure that instead."""
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    try:
        lines = [
            f"{method} {path} HTTP/1.1",
            "Host: 127.0.0.1",
            "Connection: close",
            "X-Forwarded-Proto: https",  # TLS ends at the proxy, as in production
            "User-Agent: caly-bench",
            f"Content-Length: {len(body)}",
            *(f"{name}: {value}" for name, value in (headers or {}).items()),
        ]
        writer.write(("\r\n".join(lines) + "\r\n\r\n").encode() + body)
        raw = await reader.read()
    finally:
        writer.close()
    head, _, payload = raw.partition(b"\r\n\r\n")
    status_line, *header_lines = head.decode("latin-1").split("\r\n")
    parsed = {}
    for line in header_lines:
        name, _, value = line.partition(":")
        parsed[name.strip().lower()] = value.strip()
    return Answer(int(status_line.split(" ", 2)[1]), parsed, payload)


# --- what is measured -----------------------------------------------------------------------------


@dataclass
class Series:
    """Latencies of one endpoint in one phase: from when the request was due, and from when it was sent."""

    due_ms: list[float] = field(default_factory=list)
    sent_ms: list[float] = field(default_factory=list)
    errors: Counter = field(default_factory=Counter)

    @property
    def requests(self) -> int:
        return len(self.due_ms) + sum(self.errors.values())

    def percentile(self, q: float, *, corrected: bool = True) -> float:
        values = sorted(self.due_ms if corrected else self.sent_ms)
        return values[min(len(values) - 1, int(q / 100 * len(values)))] if values else float("nan")


class Recorder:
    def __init__(self):
        self.series: dict[str, Series] = defaultdict(Series)
        self.active = True

    async def timed(self, name: str, due: float, request, expect: tuple[int, ...] = (200,)) -> Answer | None:
        """Send `request` (a coroutine), record its latency under `name`; None if it failed."""
        sent = time.perf_counter()
        try:
            answer = await request
        except (OSError, ValueError, IndexError, asyncio.IncompleteReadError) as exc:
            if self.active:
                self.series[name].errors[type(exc).__name__] += 1
            return None
        done = time.perf_counter()
        if not self.active:
            return answer if answer.status in expect else None
        if answer.status not in expect:
            self.series[name].errors[f"HTTP {answer.status}"] += 1
            return None
        self.series[name].due_ms.append((done - due) * 1000)
        self.series[name].sent_ms.append((done - sent) * 1000)
        return answer


# --- the scenario ---------------------------------------------------------------------------------


@dataclass
class World:
    """What the virtual users need to know about the data: their logins and what to search for."""

    port: int
    password: str
    emails: list[str]
    callback_paths: list[str]
    product_words: dict[int, list[str]]  # client id -> words of its product titles
    user_clients: dict[str, int]
    today: str
    week_ago: str
    month_ago: str
    quarter_ago: str


LIST_FILTERS = [  # (weight, query) - what people filter the calls list by
    (40, {}),
    (12, {"status": "completed"}),
    (10, {"direction": "inbound"}),
    (10, {"has_recording": "true"}),
    (10, "last_week"),
    (6, {"status": "busy"}),
    (6, {"status": "no-answer", "direction": "outbound"}),
    (6, "number"),
]
STATS_RANGES = [(70, "week"), (20, "month"), (10, "quarter")]  # the dashboard opens on the last 7 days


@dataclass
class VirtualUser:
    email: str
    client_id: int
    rng: random.Random
    access: str = ""
    refresh: str = ""
    steps_left: int = 0
    cursor: str | None = None
    pages_left: int = 0
    list_query: dict = field(default_factory=dict)
    call_ids: list[str] = field(default_factory=list)
    numbers: list[str] = field(default_factory=list)
    recording_ids: list[str] = field(default_factory=list)

    def auth(self) -> dict:
        return {"Authorization": f"Bearer {self.access}"}


def pick(rng: random.Random, weighted):
    return rng.choices([item for _, item in weighted], weights=[weight for weight, _ in weighted])[0]


async def login(world: World, user: VirtualUser, recorder: Recorder, due: float) -> bool:
    body = json.dumps({"email": user.email, "password": world.password}).encode()
    answer = await recorder.timed(
        "login",
        due,
        http(world.port, "POST", "/api/v1/auth/login", headers={"Content-Type": "application/json"}, body=body),
    )
    if answer is None:
        return False
    tokens = answer.json()["data"]["tokens"]
    user.access, user.refresh = tokens["access"], tokens["refresh"]
    user.steps_left = int(user.rng.expovariate(1 / 60)) + 5  # a sign-in lasts about a minute of activity
    return True


async def step(world: World, user: VirtualUser, recorder: Recorder, due: float) -> None:
    """One request of a signed-in user: paging on when a list is open, else something new."""
    rng, port = user.rng, world.port
    user.steps_left -= 1
    if user.pages_left > 0 and user.cursor:
        user.pages_left -= 1
        query = {**user.list_query, "cursor": user.cursor}
        answer = await recorder.timed(
            "calls list, next pages", due, http(port, "GET", "/api/v1/calls?" + urlencode(query), headers=user.auth())
        )
        remember_page(user, answer)
        return
    action = pick(
        rng,
        [(14, "stats"), (26, "list"), (22, "detail"), (14, "download"), (14, "products"), (3, "refresh"), (7, "list")],
    )
    if (action == "detail" and not user.call_ids) or (action == "download" and not user.recording_ids):
        action = "list" if not user.call_ids else "detail"
    if action == "stats":
        first = {"week": world.week_ago, "month": world.month_ago, "quarter": world.quarter_ago}[
            pick(rng, STATS_RANGES)
        ]
        query = urlencode({"started_from": first, "started_to": world.today})
        await recorder.timed(
            "stats summary", due, http(port, "GET", f"/api/v1/stats/summary?{query}", headers=user.auth())
        )
    elif action == "list":
        choice = pick(rng, LIST_FILTERS)
        if choice == "last_week":
            query = {"started_from": world.week_ago, "started_to": world.today}
        elif choice == "number":
            query = {"number": rng.choice(user.numbers)} if user.numbers else {}
        else:
            query = dict(choice)
        user.list_query, user.pages_left = query, rng.randint(1, 8)  # people page on a few times
        answer = await recorder.timed(
            "calls list, first page", due, http(port, "GET", "/api/v1/calls?" + urlencode(query), headers=user.auth())
        )
        remember_page(user, answer)
    elif action == "detail":
        answer = await recorder.timed(
            "call detail", due, http(port, "GET", f"/api/v1/calls/{rng.choice(user.call_ids)}", headers=user.auth())
        )
        if answer is not None:
            found = [r["id"] for r in answer.json()["data"]["recordings"] if r["download_url"]]
            user.recording_ids = (found + user.recording_ids)[:20]
    elif action == "download":
        path = f"/api/v1/recordings/{rng.choice(user.recording_ids)}/download"
        await recorder.timed("recording download", due, http(port, "GET", path, headers=user.auth()), expect=(302,))
    elif action == "products":
        words = world.product_words.get(user.client_id) or ["a"]
        query = urlencode({"q": rng.choice(words)})
        await recorder.timed(
            "products search", due, http(port, "GET", f"/api/v1/products?{query}", headers=user.auth())
        )
    else:
        body = json.dumps({"refresh": user.refresh}).encode()
        answer = await recorder.timed(
            "token refresh",
            due,
            http(port, "POST", "/api/v1/auth/refresh", headers={"Content-Type": "application/json"}, body=body),
        )
        if answer is not None:
            data = answer.json()["data"]
            user.access, user.refresh = data["access"], data["refresh"]


def remember_page(user: VirtualUser, answer: Answer | None) -> None:
    if answer is None:
        user.pages_left = 0
        return
    body = answer.json()
    rows = body["data"]
    user.cursor = body["meta"]["pagination"]["next_cursor"]
    if rows:
        user.call_ids = [row["id"] for row in rows[:10]] + user.call_ids[:10]
        user.numbers = [row["from_number"] for row in rows[:3]] + user.numbers[:5]


async def sleep_until(moment: float) -> None:
    delay = moment - time.perf_counter()
    if delay > 0:
        await asyncio.sleep(delay)


async def user_loop(world, user, recorder, *, start: float, end: float, interval: float) -> None:
    """The user's requests on a Poisson schedule: a late answer delays the next send, never the next due time."""
    due = start + user.rng.expovariate(1 / interval)
    while due < end:
        await sleep_until(due)
        if user.steps_left <= 0 and not await login(world, user, recorder, due):
            due += user.rng.expovariate(1 / interval)
            continue
        if user.access:
            await step(world, user, recorder, due)
        due += user.rng.expovariate(1 / interval)


def callback_body(call_sid: str, rng: random.Random) -> bytes:
    """A StatusCallback that asks nothing of Exotel afterwards: no recording to fetch, and no completed
    call to reconcile (the worker would call Exotel's API minutes later)."""
    status, event_type = rng.choice(
        [("busy", "terminal"), ("no-answer", "terminal"), ("failed", "terminal"), ("in-progress", "answered")]
    )
    return urlencode(
        {
            "CallSid": call_sid,
            "EventType": event_type,
            "Status": status,
            "DateCreated": "2026-11-20 14:03:11",
            "DateUpdated": "2026-11-20 14:03:42",
            "From": "09812345678",
            "To": "08047112233",
            "Direction": "inbound",
            "StartTime": "2026-11-20 14:03:11",
            "CustomField": "order-1042",
        }
    ).encode()


async def callbacks(world: World, recorder: Recorder, *, start: float, end: float, rate: float, run_id: str):
    """Exotel's deliveries at a constant rate, each on its own connection whatever the server does (open
    model: no delivery waits for another); a twentieth repeat an earlier one, as Exotel retries."""
    rng = random.Random(f"callbacks-{run_id}")
    sent: list[tuple[str, str]] = []
    pending = set()
    due, n = start, 0
    while due < end:
        await sleep_until(due)
        if sent and rng.random() < 0.05:
            path, call_sid = rng.choice(sent)
        else:
            path, call_sid = rng.choice(world.callback_paths), f"{CALLBACK_PREFIX}{run_id}{n:07d}"
            sent.append((path, call_sid))
            n += 1
        request = http(
            world.port,
            "POST",
            path,
            headers={"Content-Type": "application/x-www-form-urlencoded"},
            body=callback_body(call_sid, random.Random(call_sid)),
        )
        task = asyncio.create_task(recorder.timed("Exotel callback (ack)", due, request))
        pending.add(task)
        task.add_done_callback(pending.discard)
        due += 1 / rate
    await asyncio.gather(*pending)


async def probes(world: World, recorder: Recorder, token: str, *, start: float, end: float, rate: float):
    """The two floors at a low constant rate under the same load: what any request waits for meanwhile."""
    pending = set()
    due, n = start, 0
    while due < end:
        await sleep_until(due)
        if n % 2:
            request = http(world.port, "GET", "/api/v1/bench/floor/calls", headers={"Authorization": f"Bearer {token}"})
            name = "floor: .values() list"
        else:
            request = http(world.port, "GET", "/api/v1/bench/ok")
            name = "floor: bare view"
        task = asyncio.create_task(recorder.timed(name, due, request))
        pending.add(task)
        task.add_done_callback(pending.discard)
        due += 1 / rate
        n += 1
    await asyncio.gather(*pending)


@dataclass
class Phase:
    users: int
    seconds: float
    recorder: Recorder
    load_before: tuple[float, float, float]
    load_after: tuple[float, float, float] = (0.0, 0.0, 0.0)
    memory: list[tuple[float, dict[int, tuple[int, int]]]] = field(default_factory=list)
    sign_in_seconds: float = 0.0
    cpu: dict[str, float] = field(default_factory=dict)
    window: tuple[float, float] = (0.0, 0.0)  # unix times: the phase's start and its last answer


_TICK = os.sysconf("SC_CLK_TCK")


def _cpu_of(pid: int | str, *, children: bool = False, kernel_only: bool = False) -> float:
    """CPU seconds a process used (plus, with `children`, those of its children it has reaped)."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except (OSError, IndexError):
        return 0.0
    user, system, children_user, children_system = (int(value) for value in fields[11:15])
    if kernel_only:
        return (system + (children_system if children else 0)) / _TICK
    return (user + system + (children_user + children_system if children else 0)) / _TICK


@dataclass
class CpuMeter:
    """Where the machine's CPU time goes during a phase: each part of the system, and everything else."""

    master: int
    task_worker: int | None
    database: str

    def sample(self) -> dict[str, float]:
        with Path("/proc/stat").open() as stat:
            jiffies = [int(value) for value in stat.readline().split()[1:]]
        idle = jiffies[3] + jiffies[4]
        postgres = 0.0
        for cmdline in Path("/proc").glob("[0-9]*/cmdline"):
            with contextlib.suppress(OSError):
                title = cmdline.read_bytes()  # "postgres: 15/main: <user> <database> 127.0.0.1(…) idle"
                if title.startswith(b"postgres:") and f" {self.database} 127.0.0.1(".encode() in title:
                    postgres += _cpu_of(cmdline.parent.name)
        workers = worker_pids(self.master)
        web = _cpu_of(self.master, children=True) + sum(_cpu_of(pid) for pid in workers)
        web_kernel = _cpu_of(self.master, children=True, kernel_only=True) + sum(
            _cpu_of(pid, kernel_only=True) for pid in workers
        )
        return {
            "web (gunicorn)": web,
            "of which in the kernel": web_kernel,
            "PostgreSQL (this database)": postgres,
            "task worker": _cpu_of(self.task_worker) if self.task_worker else 0.0,
            "load generator": _cpu_of("self"),
            "machine busy": (sum(jiffies) - idle) / _TICK,
            "machine total": sum(jiffies) / _TICK,
            "wall": time.perf_counter(),
        }

    @staticmethod
    def spent(before: dict[str, float], after: dict[str, float]) -> dict[str, float]:
        spent = {name: after[name] - before[name] for name in before}
        ours = sum(
            value for name, value in spent.items() if not name.startswith(("machine", "of which")) and name != "wall"
        )
        spent["everything else"] = max(0.0, spent["machine busy"] - ours)
        spent["idle"] = spent["machine total"] - spent["machine busy"]
        return spent


async def watch_memory(master: int, phase: Phase, end: float) -> None:
    while True:
        phase.memory.append((time.perf_counter(), {pid: memory_kib(pid) for pid in worker_pids(master)}))
        if time.perf_counter() >= end:
            return
        await asyncio.sleep(min(2.0, max(0.0, end - time.perf_counter())))


async def sign_in_all(world: World, users: list[VirtualUser], concurrency: int) -> None:
    """Sign in the users who have no tokens yet, a few at a time (untimed: the ramp before the window)."""
    recorder = Recorder()
    recorder.active = False
    queue = [user for user in users if not user.access]
    gate = asyncio.Semaphore(concurrency)

    async def one(user):
        async with gate:
            for _ in range(3):
                if await login(world, user, recorder, time.perf_counter()):
                    return
            raise SystemExit(f"{user.email} could not sign in")

    await asyncio.gather(*(one(user) for user in queue))


async def run_phase(world, users, *, count, seconds, interval, callback_rate, probe_rate, master, meter, run_id, token):
    active = users[:count]
    started = time.perf_counter()
    await sign_in_all(world, active, concurrency=4)
    phase = Phase(users=count, seconds=seconds, recorder=Recorder(), load_before=os.getloadavg())
    phase.sign_in_seconds = time.perf_counter() - started
    start = time.perf_counter() + 0.5
    end = start + seconds
    cpu_before = meter.sample()
    unix_start = time.time()
    await asyncio.gather(
        watch_memory(master, phase, end),
        callbacks(world, phase.recorder, start=start, end=end, rate=callback_rate * count, run_id=run_id),
        probes(world, phase.recorder, token, start=start, end=end, rate=probe_rate),
        *(user_loop(world, user, phase.recorder, start=start, end=end, interval=interval) for user in active),
    )
    phase.cpu = CpuMeter.spent(cpu_before, meter.sample())
    phase.window = (unix_start, time.time())
    phase.load_after = os.getloadavg()
    return phase


def profile(master: int, prefix: str, users: int, seconds: float) -> subprocess.Popen:
    """py-spy sampling gunicorn's workers (the master's subprocesses) for one phase, after its sign-ins."""
    return subprocess.Popen(
        [
            str(Path(sys.executable).with_name("py-spy")),
            "record",
            "--pid",
            str(master),
            "--subprocesses",
            "--nonblocking",
            "--gil",  # only threads holding the GIL: where the CPU goes, not where threads wait
            "--format",
            "raw",
            "--rate",
            "200",
            "--duration",
            str(int(seconds)),
            "--output",
            f"{prefix}-{users}.txt",
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )


# --- capacity next to the floors (closed loop) ----------------------------------------------------


async def capacity(port: int, tokens: list[str], *, concurrency: int, seconds: float, rounds: int) -> dict:
    """Requests a second each case sustains with `concurrency` requests always in flight, the cases taking
    turns for `rounds` rounds so background noise falls on all alike. The requests take turns among
    `tokens` (users of the 1M-call client), so no user reaches the API's per-user rate limit."""
    signed = itertools.cycle([{"Authorization": f"Bearer {token}"} for token in tokens])
    cases = {
        "floor: bare view": ("/api/v1/bench/ok", False),
        "floor: .values() list": ("/api/v1/bench/floor/calls", True),
        "calls list (API)": ("/api/v1/calls?limit=50", True),
    }
    results = {name: [0, 0.0, Series()] for name in cases}
    for _ in range(rounds):
        for name, (path, headers) in cases.items():
            recorder = Recorder()
            end = time.perf_counter() + seconds

            async def client(name=name, path=path, auth=headers, recorder=recorder, end=end):
                while time.perf_counter() < end:
                    request = http(port, "GET", path, headers=next(signed) if auth else None)
                    await recorder.timed(name, time.perf_counter(), request)

            started = time.perf_counter()
            await asyncio.gather(*(client() for _ in range(concurrency)))
            series = recorder.series[name]
            total = results[name]
            total[0] += series.requests
            total[1] += time.perf_counter() - started
            total[2].due_ms += series.due_ms
            total[2].errors += series.errors
    return {name: (requests / elapsed, series) for name, (requests, elapsed, series) in results.items()}


# --- data and fixtures ----------------------------------------------------------------------------


def check_database(parser, calls: int) -> Client:
    if connection.vendor != "postgresql":
        parser.error("needs PostgreSQL: set DATABASE_URL=postgres://… (see bench/README.md)")
    if not os.environ.get("REDIS_URL"):
        parser.error("needs Redis, as production: set REDIS_URL=redis://…")
    executor = MigrationExecutor(connection)
    if executor.migration_plan(executor.loader.graph.leaf_nodes()):
        parser.error("the database has unapplied migrations: run manage.py migrate with the same DATABASE_URL")
    client = Client.objects.filter(slug=DEMO_SLUG).first()
    found = Call.objects.for_client(client).count() if client else 0
    if found < calls:
        parser.error(
            f"{DEMO_SLUG} has {found:,} calls, fewer than --calls {calls:,}: seed first (see bench/README.md), e.g. "
            "manage.py seed_demo --calls 1000000 --clients 50 --other-calls 200000 --no-audio --recording-rows"
        )
    return client


def restore_samples(s3) -> int:
    """Put the seeded sample recordings into the fresh S3 server under their keys (the rows share them).

    `recording_rows_seed` stored each sample with `demo.wav_tones(seconds, seed=<call id>)`, so the bytes
    are made again here and checked against the sha256 the row keeps.
    """
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT DISTINCT ON (storage_key) storage_key, call_id, duration_seconds, sha256, content_type"
            " FROM recordings_recording WHERE status = 'stored' ORDER BY storage_key, id"
        )
        samples = cursor.fetchall()
    for key, call_id, seconds, sha256, content_type in samples:
        data = demo.wav_tones(seconds=seconds, seed=call_id)
        if hashlib.sha256(data).hexdigest() != sha256:
            raise SystemExit(f"the sample {key} cannot be made again (sha256 differs): reseed the database")
        s3.put_object(Bucket=S3_BUCKET, Key=key, Body=data, ContentType=content_type)
    return len(samples)


def bench_users(main: Client, count: int, password: str) -> tuple[list[str], dict[str, int]]:
    """`count` agents: two thirds at the 1M-call client, the others spread over the smaller clients."""
    others = list(Client.objects.filter(slug__startswith=f"{DEMO_SLUG}-").order_by("id")[:50]) or [main]
    encoded = make_password(password)  # hashed once, shared: creating 300 users needs no 300 Argon2 runs
    emails, clients = [], {}
    for n in range(count):
        client = others[n % len(others)] if n % 3 == 2 else main
        email = f"agent-{n}@{USER_DOMAIN}"
        user = User.objects.filter(email=email).first() or User.objects.create_user(
            email, client=client, role=Role.AGENT, email_verified_at=timezone.now()
        )
        emails.append(email)
        clients[email] = user.client_id
    User.objects.filter(email__endswith=f"@{USER_DOMAIN}").update(password=encoded)
    return emails, clients


def callback_paths(main: Client) -> list[str]:
    clients = [main, *Client.objects.filter(slug__startswith=f"{DEMO_SLUG}-").order_by("id")[:4]]
    paths = []
    for client in clients:
        found = ExotelConnection.objects.filter(client=client).first() or ExotelConnection.objects.create(
            client=client,
            account_sid=f"bench{client.pk}",
            api_key="bench",
            api_token="never-used-nothing-calls-exotel",  # noqa: S106
            api_host="api.exotel.com",
        )
        paths.append(urlsplit(exotel_callback_urls(connection=found)["status_callback"]).path)
    return paths


def product_words() -> dict[int, list[str]]:
    words: dict[int, set[str]] = defaultdict(set)
    for client_id, title in Product.objects.values_list("client_id", "title")[:20000]:
        words[client_id].update(word.lower() for word in title.split() if len(word) > 3)
    return {client_id: sorted(found) for client_id, found in words.items()}


def clean_callbacks() -> int:
    """Delete the calls, events and finished tasks this benchmark's callbacks made."""
    events = WebhookEvent.objects.filter(dedupe_key__contains=f":{CALLBACK_PREFIX}")
    ids = list(events.values_list("pk", flat=True))
    for start in range(0, len(ids), 5000):
        batch = ids[start : start + 5000]
        DBTaskResult.objects.filter(args_kwargs__args__0__in=batch).delete()
        WebhookEvent.objects.filter(pk__in=batch).delete()
    calls = Call.objects.filter(provider_call_id__startswith=CALLBACK_PREFIX, recordings__isnull=True)
    call_ids = list(calls.values_list("pk", flat=True))
    DBTaskResult.objects.filter(
        task_path="integrations.exotel.tasks.reconcile_call", args_kwargs__args__0__in=call_ids
    ).delete()
    return calls.delete()[0] if call_ids else 0


# --- report ---------------------------------------------------------------------------------------


def load_text(load: tuple[float, float, float]) -> str:
    return " ".join(f"{value:.2f}" for value in load)


def print_phase(phase: Phase, *, interval: float, callback_rate: float, probe_rate: float, gc_dir: Path) -> list[str]:
    """The table of one phase; returns the targets it missed (at 100 users only)."""
    series = phase.recorder.series
    bare = series.get("floor: bare view")
    bare_p50 = bare.percentile(50) if bare else float("nan")
    print()
    print(
        f"== {phase.users} users, {phase.seconds:.0f} s: each sends a request every {interval:g} s on average"
        f" (Poisson), {callback_rate * phase.users:g} Exotel callbacks/s, floors probed {probe_rate:g}/s"
    )
    print(
        f"   load average {load_text(phase.load_before)} before, {load_text(phase.load_after)} after;"
        f" {phase.sign_in_seconds:.1f} s to sign in the users first"
    )
    print(
        f"{'endpoint':<26} {'requests':>8} {'errors':>6} {'req/s':>6} {'p50 ms':>7} {'p95 ms':>7} {'p99 ms':>7}"
        f" {'max ms':>7} {'p50/bare':>8} {'p99 sent':>8}"
    )
    missed = []
    order = [
        "login",
        "token refresh",
        "stats summary",
        "calls list, first page",
        "calls list, next pages",
        "call detail",
        "recording download",
        "products search",
        "Exotel callback (ack)",
        "floor: bare view",
        "floor: .values() list",
    ]
    for name in order + sorted(set(series) - set(order)):
        if name not in series:
            continue
        s = series[name]
        p50, p95, p99 = s.percentile(50), s.percentile(95), s.percentile(99)
        worst = max(s.due_ms) if s.due_ms else float("nan")
        print(
            f"{name:<26} {s.requests:>8} {sum(s.errors.values()):>6} {s.requests / phase.seconds:>6.1f} {p50:>7.1f}"
            f" {p95:>7.1f} {p99:>7.1f} {worst:>7.1f} {p50 / bare_p50:>8.1f} {s.percentile(99, corrected=False):>8.1f}"
        )
        if s.errors:
            print(f"{'':<26} errors: {dict(s.errors)}")
        if phase.users != 100 or name.startswith("floor") or name == "login":
            continue
        if name.startswith("Exotel"):
            if p99 >= ACK_P99_TARGET_MS:
                missed.append(f"{name} p99 {p99:.1f} ms ≥ {ACK_P99_TARGET_MS:g}")
        elif p95 >= P95_TARGET_MS or p99 >= P99_TARGET_MS:
            missed.append(f"{name} p95 {p95:.1f} / p99 {p99:.1f} ms")
    errors = sum(sum(s.errors.values()) for s in series.values())
    if phase.users == 100 and errors:
        missed.append(f"{errors} errors")
    shares = [
        f"{name} {value:.1f} s ({value / phase.cpu['machine total'] * 100:.0f}%)"
        for name, value in phase.cpu.items()
        if not name.startswith("machine") and name != "wall"
    ]
    print(
        f"   CPU time of the {os.cpu_count()} CPUs over the {phase.cpu['wall']:.0f} s until the last answer: "
        + ", ".join(shares)
    )
    pauses = "; ".join(
        f"generation {generation}: {count} totalling {total:.0f} ms, longest {longest:.0f}"
        for generation, (count, total, longest) in gc_pauses.summary(gc_dir, *phase.window).items()
    )
    print(
        f"   web workers' garbage-collector pauses of {gc_pauses.MIN_MS:.0f} ms or more (the worker's threads wait):"
        f" {pauses or 'none'}"
    )
    first, last = phase.memory[0][1], phase.memory[-1][1]
    print("   web workers' RSS MiB (start → end, peak VmHWM):", end="")
    for pid in sorted(set(first) | set(last)):
        start_rss = first.get(pid, (0, 0))[0] / 1024
        end_rss, hwm = (value / 1024 for value in last.get(pid, (0, 0)))
        peak = max(snapshot.get(pid, (0, 0))[0] for _, snapshot in phase.memory) / 1024
        born = "" if pid in first else " (new)"
        gone = " (recycled)" if last.get(pid, (0, 0))[0] == 0 else ""
        print(f" [{pid}{born}{gone}: {start_rss:.0f} → {end_rss:.0f}, sampled max {peak:.0f}, HWM {hwm:.0f}]", end="")
    print()
    return missed


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--users", type=int, nargs="+", default=[100, 300], help="user counts, one phase each")
    parser.add_argument("--seconds", type=float, default=60.0, help="length of each load phase (default 60)")
    parser.add_argument("--interval", type=float, default=1.0, help="mean seconds between one user's requests")
    parser.add_argument("--callback-rate", type=float, default=0.1, help="Exotel callbacks a second per user")
    parser.add_argument("--probe-rate", type=float, default=4.0, help="floor requests a second during the load")
    parser.add_argument("--warmup", type=float, default=10.0, help="seconds of untimed load first (default 10)")
    parser.add_argument("--capacity-seconds", type=float, default=4.0, help="per case and round of the capacity run")
    parser.add_argument("--capacity-rounds", type=int, default=3)
    parser.add_argument("--calls", type=int, default=1_000_000, help="calls the demo client must have")
    parser.add_argument("--workers", type=int, default=None, help="gunicorn workers (default: gunicorn.conf.py's)")
    parser.add_argument("--threads", type=int, default=None, help="threads per worker (default: gunicorn.conf.py's)")
    parser.add_argument("--log-level", default="info", help="the server's LOG_LEVEL (production's default: info)")
    parser.add_argument("--no-worker", action="store_true", help="run without the task worker beside the server")
    parser.add_argument(
        "--profile",
        metavar="PREFIX",
        help="record each load phase of the web workers with py-spy into PREFIX-<users>.txt (collapsed stacks)",
    )
    args = parser.parse_args()
    main_client = check_database(parser, args.calls)

    run_id = uuid.uuid4().hex[:6]
    logs = Path(tempfile.gettempdir()) / f"caly-bench-load-{run_id}"
    logs.mkdir()
    password = secrets.token_urlsafe(16)
    clean_callbacks()
    emails, user_clients = bench_users(main_client, max(args.users), password)
    paths = callback_paths(main_client)
    today = timezone.localtime(timezone=zoneinfo.ZoneInfo(main_client.timezone)).date()
    port = free_port()
    world = World(
        port=port,
        password=password,
        emails=emails,
        callback_paths=paths,
        product_words=product_words(),
        user_clients=user_clients,
        today=today.isoformat(),
        week_ago=(today - timedelta(days=6)).isoformat(),
        month_ago=(today - timedelta(days=29)).isoformat(),
        quarter_ago=(today - timedelta(days=89)).isoformat(),
    )
    users = [VirtualUser(email, user_clients[email], random.Random(f"{run_id}-{email}")) for email in emails]
    phases: list[Phase] = []
    missed: list[str] = []
    print(f"load average {load_text(os.getloadavg())} at the start; logs in {logs}", flush=True)
    print(f"VACUUM ANALYZE: {vacuum_analyze(connection):.1f} s", flush=True)

    with moto_s3() as (s3_endpoint, s3):
        print(f"S3 (moto): restored {restore_samples(s3)} sample objects", flush=True)
        env = server_env(
            port=port, s3_endpoint=s3_endpoint, workers=args.workers, threads=args.threads, log_level=args.log_level
        )
        (logs / "gc").mkdir()
        env["BENCH_GC_DIR"] = str(logs / "gc")
        serve = [sys.executable, "-m", "caly.serve", "--config", "gunicorn.conf.py"]
        with child(serve, env=env, log=logs / "gunicorn.log") as server:
            wait_ready(port, server, logs / "gunicorn.log")
            workers = worker_pids(server.pid)
            task_worker = contextlib.nullcontext()
            if not args.no_worker:
                task_worker = child([sys.executable, "manage.py", "db_worker"], env=env, log=logs / "db_worker.log")
            with task_worker as task_worker:
                database = connection.settings_dict["NAME"]
                meter = CpuMeter(master=server.pid, task_worker=getattr(task_worker, "pid", None), database=database)
                threads = int(env.get("GUNICORN_THREADS") or 4)
                capacity_concurrency = len(workers) * threads

                async def everything():
                    main_users = [user for user in users if user.client_id == main_client.pk][:64]
                    await sign_in_all(world, main_users, concurrency=4)
                    token = main_users[0].access
                    # Warm every worker's threads: connections, caches, each thread's S3 client.
                    warm = Recorder()
                    warm.active = False
                    start = time.perf_counter()
                    await asyncio.gather(
                        *(
                            user_loop(world, user, warm, start=start, end=start + args.warmup, interval=args.interval)
                            for user in main_users[:50]
                        )
                    )
                    results = []
                    for count in args.users:
                        profiler = profile(server.pid, args.profile, count, args.seconds) if args.profile else None
                        results.append(
                            await run_phase(
                                world,
                                users,
                                count=count,
                                seconds=args.seconds,
                                interval=args.interval,
                                callback_rate=args.callback_rate,
                                probe_rate=args.probe_rate,
                                master=server.pid,
                                meter=meter,
                                run_id=run_id,
                                token=token,
                            )
                        )
                        if profiler:
                            profiler.wait(timeout=args.seconds + 120)
                    # Last: its thousands of requests a second make gunicorn recycle workers (max_requests),
                    # and a fresh worker's first requests would otherwise fall into the load phases.
                    floors = await capacity(
                        port,
                        [user.access for user in main_users],
                        concurrency=capacity_concurrency,
                        seconds=args.capacity_seconds,
                        rounds=args.capacity_rounds,
                    )
                    return floors, results

                floors, phases = asyncio.run(everything())
                presigned_ok = check_download(port, users)

    with connection.cursor() as cursor:
        cursor.execute("SHOW server_version")
        (version,) = cursor.fetchone()
    print()
    print(
        f"PostgreSQL {version}; gunicorn {len(workers)} workers × {threads} threads (gthread), production settings,"
        f" on 127.0.0.1; task worker {'off' if args.no_worker else 'on'}; {os.cpu_count()} CPUs shared by all"
    )
    print(
        f"Data: {Call.objects.for_client(main_client).count():,} calls for {DEMO_SLUG},"
        f" {Call.objects.exclude(client=main_client).count():,} for the others"
    )
    print()
    print(
        f"== capacity, closed loop: {capacity_concurrency} requests always in flight,"
        f" {args.capacity_rounds} rounds × {args.capacity_seconds:g} s per case"
    )
    print(f"{'case':<26} {'req/s':>7} {'errors':>6} {'p50 ms':>7} {'p99 ms':>7}")
    for name, (rate, series) in floors.items():
        print(
            f"{name:<26} {rate:>7.0f} {sum(series.errors.values()):>6} {series.percentile(50):>7.1f}"
            f" {series.percentile(99):>7.1f}"
        )
    ratio = floors["calls list (API)"][0] / floors["floor: .values() list"][0]
    print(
        f"calls list ÷ .values() floor throughput: {ratio:.2f} (target ≥ {LIST_FLOOR_TARGET})"
        f" {'ok' if ratio >= LIST_FLOOR_TARGET else 'MISSED'}"
    )
    if ratio < LIST_FLOOR_TARGET:
        missed.append(f"calls list throughput {ratio:.2f} × floor")
    for phase in phases:
        missed += print_phase(
            phase,
            interval=args.interval,
            callback_rate=args.callback_rate,
            probe_rate=args.probe_rate,
            gc_dir=logs / "gc",
        )
    print()
    print(f"presigned download URL served by S3: {'ok' if presigned_ok else 'FAILED'}")
    print(f"cleaned up {clean_callbacks()} calls made by the callbacks")
    print(f"load average {load_text(os.getloadavg())} at the end; logs in {logs}")
    if missed:
        print("targets at 100 users MISSED: " + "; ".join(missed))
    elif 100 in args.users:
        print("targets at 100 users: ok")
    return 1 if missed or not presigned_ok else 0


def check_download(port: int, users: list[VirtualUser]) -> bool:
    """Follow one download redirect to the S3 server: the presigned URL serves the sample's bytes."""
    import urllib.request

    user = next((user for user in users if user.recording_ids), None)
    if user is None:
        return False
    path = f"/api/v1/recordings/{user.recording_ids[0]}/download"
    answer = asyncio.run(http(port, "GET", path, headers=user.auth()))
    if answer.status != 302:
        return False
    opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))
    with opener.open(answer.headers["location"], timeout=10) as response:
        return response.status == 200 and response.read(4) == b"RIFF"


if __name__ == "__main__":
    sys.exit(main())
