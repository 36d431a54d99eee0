"""Exotel StatusCallbacks under load through gunicorn: acknowledgement latency next to a bare view, and
no delivery lost or stored twice.

Run by hand on PostgreSQL and Redis, never in the test suite (see bench/README.md):

    DATABASE_URL=postgres://postgres@127.0.0.1:5432/caly_bench REDIS_URL=redis://127.0.0.1:6379/0 \\
        .venv/bin/python bench/webhooks.py

Starts gunicorn (the project's gunicorn.conf.py, on 127.0.0.1 and a free port) with
bench/webhooks_settings.py, then sends form-encoded StatusCallbacks from many concurrent senders
(asyncio + httpx), a share of them deliberate repeats, and the same load of the same bodies to a bare
view behind the same middleware. Prints requests, errors, throughput, p50/p99 and the ratios measured
in this one run, then counts the stored events against the deliveries sent.
"""
# ruff: noqa: E402 - Django is set up before the project's modules are imported

from __future__ import annotations

import argparse
import asyncio
import contextlib
import os
import random
import signal
import socket
import subprocess
import sys
import tempfile
import time
import uuid
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlencode, urlsplit

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "caly.settings.local")
os.environ.setdefault("LOG_LEVEL", "warning")

import django

django.setup()

import httpx
from django.db import connection
from django.db.migrations.executor import MigrationExecutor
from django_tasks_db.models import DBTaskResult

from accounts.models import Client
from integrations.exotel.services import exotel_callback_urls
from integrations.models import ExotelConnection, WebhookEvent

BARE_PATH = "/api/v1/bench/ok"
ACK_P99_TARGET_MS = 50.0  # with as many senders as the server has threads: its own time, not a queue's
OVERHEAD_TARGET = 5.0  # verify, store, queue: a few queries over a view that does nothing


# --- the server -----------------------------------------------------------------------------------


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@contextlib.contextmanager
def gunicorn(*, workers: int, threads: int, log: Path):
    port = free_port()
    env = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "bench.webhooks_settings",
        "BIND_ADDRESS": "127.0.0.1",
        "PORT": str(port),
        "WEB_CONCURRENCY": str(workers),
        "GUNICORN_THREADS": str(threads),
        "LOG_LEVEL": "warning",  # an access-log line per request would cost more than the view
        "RATE_LIMIT_WEBHOOK": "100000000/m",  # the limit is not what is measured
        "TASKS_BACKEND": "database",  # as in production: the event and its task commit together
        "PYTHONPATH": str(ROOT),
    }
    with log.open("w") as out:
        process = subprocess.Popen(
            [sys.executable, "-m", "caly.serve", "--config", "gunicorn.conf.py"],
            cwd=ROOT,
            env=env,
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    try:
        deadline = time.monotonic() + 60
        while True:
            if process.poll() is not None:
                raise SystemExit(f"gunicorn exited with {process.returncode}:\n{log.read_text(errors='replace')}")
            with contextlib.suppress(httpx.HTTPError):
                if httpx.get(f"http://127.0.0.1:{port}/health/live", timeout=2).status_code == 200:
                    break
            if time.monotonic() > deadline:
                raise SystemExit(f"gunicorn was not ready in 60 s:\n{log.read_text(errors='replace')}")
            time.sleep(0.2)
        yield f"http://127.0.0.1:{port}"
    finally:
        if process.poll() is None:
            process.send_signal(signal.SIGTERM)
            try:
                process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                os.killpg(process.pid, signal.SIGKILL)
                process.wait(timeout=10)


# --- the load -------------------------------------------------------------------------------------


def callback_body(call_sid: str) -> bytes:
    return urlencode(
        {
            "CallSid": call_sid,
            "EventType": "terminal",
            "Status": "completed",
            "DateCreated": "2026-11-20 14:03:11",
            "DateUpdated": "2026-11-20 14:07:42",
            "From": "09812345678",
            "To": "08047112233",
            "Direction": "inbound",
            "StartTime": "2026-11-20 14:03:11",
            "EndTime": "2026-11-20 14:07:40",
            "ConversationDuration": "261",
            "RecordingUrl": "",
            "CustomField": "order-1042",
        }
    ).encode()


@dataclass
class Run:
    """One phase of load: what was sent, how long each answer took, what came back."""

    name: str
    latencies_ms: list[float] = field(default_factory=list)
    statuses: Counter = field(default_factory=Counter)
    errors: Counter = field(default_factory=Counter)
    acknowledged: set[str] = field(default_factory=set)  # CallSids answered 200 at least once
    sent: set[str] = field(default_factory=set)
    repeats: int = 0
    seconds: float = 0.0

    @property
    def requests(self) -> int:
        return sum(self.statuses.values()) + sum(self.errors.values())

    @property
    def failures(self) -> int:
        return sum(count for status, count in self.statuses.items() if status != 200) + sum(self.errors.values())

    def percentile(self, q: float) -> float:
        ordered = sorted(self.latencies_ms)
        return ordered[min(len(ordered) - 1, int(q / 100 * len(ordered)))] if ordered else float("nan")


async def load(
    url: str, *, name: str, prefix: str, senders: int, seconds: float, max_requests: int, repeat_share: float
) -> Run:
    """`senders` coroutines post callbacks until `seconds` pass or `max_requests` are sent; a share are repeats."""
    run = Run(name=name)
    rng = random.Random(7)
    counter = iter(range(10**9))
    deadline = time.perf_counter() + seconds
    limits = httpx.Limits(max_connections=senders, max_keepalive_connections=0)

    async with httpx.AsyncClient(limits=limits, timeout=30) as http:

        async def sender() -> None:
            while time.perf_counter() < deadline and run.requests < max_requests:
                if run.sent and rng.random() < repeat_share:
                    call_sid = rng.choice(tuple(run.sent))
                    run.repeats += 1
                else:
                    call_sid = f"{prefix}{next(counter):010d}"
                    run.sent.add(call_sid)
                started = time.perf_counter()
                try:
                    response = await http.post(
                        url,
                        content=callback_body(call_sid),
                        headers={"Content-Type": "application/x-www-form-urlencoded"},
                    )
                except httpx.HTTPError as exc:
                    run.errors[type(exc).__name__] += 1
                    continue
                run.latencies_ms.append((time.perf_counter() - started) * 1000)
                run.statuses[response.status_code] += 1
                if response.status_code == 200:
                    run.acknowledged.add(call_sid)

        started = time.perf_counter()
        await asyncio.gather(*(sender() for _ in range(senders)))
        run.seconds = time.perf_counter() - started
    return run


# --- the check ------------------------------------------------------------------------------------


def bench_connection() -> ExotelConnection:
    client, _ = Client.objects.get_or_create(slug="bench-webhooks", defaults={"name": "Bench webhooks"})
    found = ExotelConnection.objects.filter(client=client).first()
    return found or ExotelConnection.objects.create(
        client=client,
        account_sid="benchwebhooks",
        api_key="bench",
        api_token="never-used-no-worker-runs",  # noqa: S106
        api_host="api.exotel.com",
    )


PROCESS_TASK = "integrations.tasks.process_webhook_event"


def stored_events(connection_: ExotelConnection, prefix: str) -> tuple[Counter, int]:
    """Stored events per CallSid of this run (the dedupe key is <client>:<CallSid>:status:…), and how
    many processing tasks were queued for them."""
    events = WebhookEvent.objects.filter(
        client=connection_.client, dedupe_key__startswith=f"{connection_.client.public_id}:{prefix}"
    )
    per_call = Counter(key.split(":")[1] for key in events.values_list("dedupe_key", flat=True))
    ids = list(events.values_list("pk", flat=True))
    queued = DBTaskResult.objects.filter(task_path=PROCESS_TASK, args_kwargs__args__0__in=ids).count() if ids else 0
    return per_call, queued


def clean(connection_: ExotelConnection) -> None:
    """Remove the events this benchmark stored and their queued processing (no worker runs meanwhile)."""
    ids = list(WebhookEvent.objects.filter(client=connection_.client).values_list("pk", flat=True))
    for start in range(0, len(ids), 5000):
        batch = ids[start : start + 5000]
        DBTaskResult.objects.filter(task_path=PROCESS_TASK, args_kwargs__args__0__in=batch).delete()
        WebhookEvent.objects.filter(pk__in=batch).delete()


def check_events(exotel: ExotelConnection, run: Run, prefix: str) -> bool:
    """Every acknowledged delivery stored once and queued once; prints the counts."""
    stored, queued = stored_events(exotel, prefix)
    lost = run.acknowledged - set(stored)
    doubled = {sid for sid, count in stored.items() if count > 1}
    print(
        f"{run.name}: {run.requests} deliveries, {len(run.sent)} distinct calls, {run.repeats} deliberate repeats,"
        f" {len(run.acknowledged)} calls acknowledged; stored {sum(stored.values())} events for {len(stored)} calls,"
        f" {queued} processing tasks queued; lost {len(lost)}, stored twice {len(doubled)},"
        f" stored without a 200 {len(set(stored) - run.acknowledged)}"
    )
    return not lost and not doubled and queued == sum(stored.values()) == len(run.acknowledged) and not run.failures


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--senders", type=int, default=100, help="concurrent senders of the load cases (default 100)")
    parser.add_argument("--seconds", type=float, default=20.0, help="length of each measured case")
    parser.add_argument("--max-requests", type=int, default=1_000_000, help="stop a case after this many")
    parser.add_argument("--repeats", type=float, default=0.1, help="share of deliveries that repeat an earlier one")
    parser.add_argument("--warmup", type=float, default=3.0, help="seconds of untimed load first, per view")
    parser.add_argument("--workers", type=int, default=os.cpu_count() or 2, help="gunicorn workers")
    parser.add_argument("--threads", type=int, default=4, help="threads per gunicorn worker")
    args = parser.parse_args()
    if connection.vendor != "postgresql":
        parser.error("needs PostgreSQL: set DATABASE_URL=postgres://… (see bench/README.md)")
    if not os.environ.get("REDIS_URL"):
        parser.error("needs Redis for the shared rate-limit counters: set REDIS_URL=redis://…")
    executor = MigrationExecutor(connection)
    if executor.migration_plan(executor.loader.graph.leaf_nodes()):
        parser.error("the database has unapplied migrations: run manage.py migrate with the same DATABASE_URL")

    exotel = bench_connection()
    clean(exotel)
    webhook_path = urlsplit(exotel_callback_urls(connection=exotel)["status_callback"]).path
    run_id = uuid.uuid4().hex[:8]
    log = Path(tempfile.gettempdir()) / f"caly-bench-webhooks-{run_id}.log"
    capacity = args.workers * args.threads  # requests the server works on at once
    cases = [("bare view", BARE_PATH, "b"), ("Exotel callback", webhook_path, "h")]
    runs: dict[tuple[str, int], Run] = {}

    with gunicorn(workers=args.workers, threads=args.threads, log=log) as origin:
        options = {"max_requests": args.max_requests, "repeat_share": args.repeats}
        for name, path, letter in cases:
            asyncio.run(
                load(
                    origin + path,
                    name=name,
                    prefix=f"w{run_id}{letter}",
                    senders=capacity,
                    seconds=args.warmup,
                    **options,
                )
            )
        for senders in (capacity, args.senders):
            for name, path, letter in cases:
                prefix = f"{letter}{senders}x{run_id}"
                runs[(name, senders)] = asyncio.run(
                    load(origin + path, name=name, prefix=prefix, senders=senders, seconds=args.seconds, **options)
                )

    with connection.cursor() as db:
        db.execute("SHOW server_version")
        (version,) = db.fetchone()
    print()
    print(f"PostgreSQL {version}; gunicorn {args.workers} workers × {args.threads} threads (gthread) on 127.0.0.1;")
    print(f"senders: asyncio + httpx, a new connection per delivery (as Exotel), {args.seconds:.0f} s per case;")
    print(f"{os.cpu_count()} CPUs shared by the server, PostgreSQL, Redis and the senders")
    print()
    print(f"{'case':<16} {'senders':>7} {'requests':>9} {'errors':>7} {'req/s':>8} {'p50 ms':>8} {'p99 ms':>8}")
    for (name, senders), run in runs.items():
        print(
            f"{name:<16} {senders:>7} {run.requests:>9} {run.failures:>7} {run.requests / run.seconds:>8.0f}"
            f" {run.percentile(50):>8.1f} {run.percentile(99):>8.1f}"
        )
    paced, loaded = ({name: runs[(name, senders)] for name, _, _ in cases} for senders in (capacity, args.senders))
    hooks, bare = "Exotel callback", "bare view"
    ratios = [  # (name, value, target)
        (f"webhook ack p99 ms, {capacity} senders", paced[hooks].percentile(99), ("<=", ACK_P99_TARGET_MS)),
        (
            f"webhook / bare p50, {capacity} senders",
            paced[hooks].percentile(50) / paced[bare].percentile(50),
            ("<=", OVERHEAD_TARGET),
        ),
        (
            f"webhook / bare p99, {args.senders} senders",
            loaded[hooks].percentile(99) / loaded[bare].percentile(99),
            None,
        ),
        (
            f"bare / webhook req/s, {args.senders} senders",
            (loaded[bare].requests / loaded[bare].seconds) / (loaded[hooks].requests / loaded[hooks].seconds),
            None,
        ),
    ]
    print()
    print(f"{'ratio':<34} {'value':>8}  target")
    missed = 0
    for name, value, target in ratios:
        if target is None:
            print(f"{name:<34} {value:>8.2f}")
            continue
        op, limit = target
        met = value <= limit if op == "<=" else value >= limit
        missed += not met
        print(f"{name:<34} {value:>8.2f}  {op} {limit:<5} {'ok' if met else 'MISSED'}")
    print()
    correct = all(
        check_events(exotel, runs[(hooks, senders)], f"h{senders}x{run_id}") for senders in (capacity, args.senders)
    )
    print("events: ok" if correct else "events: WRONG")
    clean(exotel)
    print(f"(gunicorn's log: {log})")
    return 0 if correct and not missed else 1


if __name__ == "__main__":
    sys.exit(main())
