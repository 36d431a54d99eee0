"""Exotel callback acknowledgement while outbound webhooks fan out: p99 without and with 1,000 events
going to 3 endpoints, measured side by side in one run.

Run by hand on PostgreSQL and Redis, never in the test suite (see bench/README.md):

    DATABASE_URL=postgres://postgres@127.0.0.1:5432/caly_bench REDIS_URL=redis://127.0.0.1:6379/0 \\
        .venv/bin/python bench/outbound_webhooks.py

Starts gunicorn as bench/webhooks.py does (its helpers), task workers (`manage.py db_worker`) and a
receiver on 127.0.0.1 (a process of its own answering 204). Both cases post terminal StatusCallbacks
to a client's callback URL while the workers run; the workers process those callbacks (calls are
created) in both. In the second case another process first creates 1,000 completed calls for a
client with 3 endpoints subscribed to `call.completed`: each call writes its event and 3 deliveries in
its transaction, and the workers deliver the 3,000 signed requests while the callbacks keep coming.
"""
# ruff: noqa: E402 - Django is set up before the project's modules are imported

from __future__ import annotations

import argparse
import asyncio
import contextlib
import os
import signal
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from datetime import timedelta
from pathlib import Path
from urllib.parse import urlsplit

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "caly.settings.local")
os.environ.setdefault("LOG_LEVEL", "warning")

import django

django.setup()

from django.db import connection, transaction
from django.db.migrations.executor import MigrationExecutor
from django.db.models import Count
from django.utils import timezone
from django_tasks_db.models import DBTaskResult

from accounts.models import Client
from bench.webhooks import free_port, gunicorn, load
from integrations.exotel.services import exotel_callback_urls
from integrations.models import ExotelConnection, WebhookEvent
from integrations.outbound import services as outbound
from integrations.outbound.models import DeliveryStatus, OutboundDelivery, OutboundEvent, WebhookEndpoint
from recordings.models import Call
from recordings.services import call_create

ACK_P99_TARGET_MS = 50.0
EMISSION_TARGET = 2.0  # a call's write with its event and deliveries, against the same write with no endpoint
MOVED_TARGET = 1.25  # p99 with the fan-out / without: "not moved", within the noise of a shared VM
BENCH_TASKS = [
    "integrations.outbound.tasks.deliver_webhook",
    "integrations.tasks.process_webhook_event",
    "integrations.exotel.tasks.reconcile_call",
]
ACK_SLUG, FANOUT_SLUG = "bench-outbound-ack", "bench-outbound-fanout"
RECEIVER = """
import sys
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

class Handler(BaseHTTPRequestHandler):
    def do_POST(self):
        self.rfile.read(int(self.headers.get("Content-Length") or 0))
        self.send_response(204)
        self.end_headers()

    def log_message(self, *args):
        pass

server = ThreadingHTTPServer(("127.0.0.1", int(sys.argv[1])), Handler)
server.daemon_threads = True
server.serve_forever()
"""


def child_env() -> dict[str, str]:
    return {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "bench.webhooks_settings",
        "TASKS_BACKEND": "database",
        "LOG_LEVEL": "warning",
        "PYTHONPATH": str(ROOT),
    }


@contextlib.contextmanager
def processes(commands: list[list[str]], log: Path):
    with log.open("a") as out:
        started = [
            subprocess.Popen(
                command, cwd=ROOT, env=child_env(), stdout=out, stderr=subprocess.STDOUT, start_new_session=True
            )
            for command in commands
        ]
    try:
        yield started
    finally:
        for process in started:
            if process.poll() is None:
                process.send_signal(signal.SIGTERM)
        for process in started:
            try:
                process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                os.killpg(process.pid, signal.SIGKILL)
                process.wait(timeout=10)


def ack_connection() -> ExotelConnection:
    client, _ = Client.objects.get_or_create(slug=ACK_SLUG, defaults={"name": "Bench outbound (callbacks)"})
    return ExotelConnection.objects.filter(client=client).first() or ExotelConnection.objects.create(
        client=client,
        account_sid="benchoutbound",
        api_key="bench",
        api_token="never-used-the-callbacks-carry-numbers",  # noqa: S106
        api_host="api.exotel.com",
    )


def fanout_client(receiver_port: int, endpoints: int) -> Client:
    client, _ = Client.objects.get_or_create(slug=FANOUT_SLUG, defaults={"name": "Bench outbound (fan-out)"})
    WebhookEndpoint.objects.filter(client=client).delete()
    for n in range(endpoints):
        outbound.endpoint_create(
            client=client, actor=None, url=f"http://127.0.0.1:{receiver_port}/hooks/{n}", event_types=["call.completed"]
        )
    return client


def clean() -> None:
    """What earlier runs left: the two clients' calls, events, deliveries and queued tasks."""
    clients = list(Client.objects.filter(slug__in=[ACK_SLUG, FANOUT_SLUG]))
    OutboundEvent.objects.filter(client__in=clients).delete()
    WebhookEndpoint.objects.filter(client__in=clients).delete()
    for call_ids in _batches(Call.objects.filter(client__in=clients).values_list("pk", flat=True)):
        Call.objects.filter(pk__in=call_ids).delete()
    WebhookEvent.objects.filter(client__in=clients).delete()
    DBTaskResult.objects.filter(status__in=["READY", "RUNNING"], task_path__in=BENCH_TASKS).delete()


def _batches(values, size: int = 5000):
    values = list(values)
    for start in range(0, len(values), size):
        yield values[start : start + size]


def emit(slug: str, events: int, run_id: str) -> None:
    """The second process's work: `events` completed calls, each emitting call.completed in its transaction."""
    client = Client.objects.get(slug=slug)
    started = timezone.now() - timedelta(hours=1)
    clock = time.perf_counter()
    for n in range(events):
        with transaction.atomic():
            call_create(
                client=client,
                provider_call_id=f"fanout-{run_id}-{n}",
                direction="inbound",
                from_number=f"+9198{n % 10**8:08d}",
                to_number="+918047112233",
                status="completed",
                started_at=started,
                duration_seconds=60,
            )
    print(f"emitted {events} calls in {time.perf_counter() - clock:.1f} s", flush=True)


def emission_cost(fanout: Client, plain: Client, calls: int, run_id: str) -> tuple[float, float]:
    """Median seconds of creating one completed call (its transaction) for a client with no endpoint and for
    the fan-out client (its event and deliveries written too), taking turns."""
    started = timezone.now() - timedelta(hours=2)
    timings: dict[int, list[float]] = {plain.pk: [], fanout.pk: []}
    for n in range(calls):
        for client in (plain, fanout) if n % 2 else (fanout, plain):
            clock = time.perf_counter()
            with transaction.atomic():
                call_create(
                    client=client,
                    provider_call_id=f"cost-{run_id}-{n}",
                    direction="inbound",
                    from_number=f"+9197{n % 10**8:08d}",
                    to_number="+918047112233",
                    status="completed",
                    started_at=started,
                    duration_seconds=60,
                )
            timings[client.pk].append(time.perf_counter() - clock)
    return statistics.median(timings[plain.pk]), statistics.median(timings[fanout.pk])


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--events", type=int, default=1000, help="calls (call.completed events) to fan out")
    parser.add_argument("--endpoints", type=int, default=3, help="endpoints subscribed to them")
    parser.add_argument("--delivery-workers", type=int, default=2, help="db_worker processes")
    parser.add_argument("--seconds", type=float, default=30.0, help="length of each measured case")
    parser.add_argument("--warmup", type=float, default=3.0, help="seconds of untimed load first")
    parser.add_argument("--workers", type=int, default=os.cpu_count() or 2, help="gunicorn workers")
    parser.add_argument("--threads", type=int, default=4, help="threads per gunicorn worker")
    parser.add_argument("--cost-calls", type=int, default=200, help="calls per side of the emission cost figure")
    parser.add_argument("--emit", metavar="SLUG", help=argparse.SUPPRESS)  # the emitting process
    parser.add_argument("--run-id", default="", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.emit:
        emit(args.emit, args.events, args.run_id)
        return 0
    if connection.vendor != "postgresql":
        parser.error("needs PostgreSQL: set DATABASE_URL=postgres://… (see bench/README.md)")
    if not os.environ.get("REDIS_URL"):
        parser.error("needs Redis for the shared rate-limit counters: set REDIS_URL=redis://…")
    executor = MigrationExecutor(connection)
    if executor.migration_plan(executor.loader.graph.leaf_nodes()):
        parser.error("the database has unapplied migrations: run manage.py migrate with the same DATABASE_URL")

    clean()
    run_id = uuid.uuid4().hex[:8]
    log = Path(tempfile.gettempdir()) / f"caly-bench-outbound-{run_id}.log"
    receiver_port = free_port()
    exotel = ack_connection()
    client = fanout_client(receiver_port, args.endpoints)
    path = urlsplit(exotel_callback_urls(connection=exotel)["status_callback"]).path
    plain_seconds, emitting_seconds = emission_cost(client, exotel.client, args.cost_calls, run_id)
    OutboundEvent.objects.filter(client=client).delete()  # no worker runs yet: these are never delivered
    DBTaskResult.objects.filter(status="READY", task_path=BENCH_TASKS[0]).delete()
    senders = args.workers * args.threads
    worker = [sys.executable, "manage.py", "db_worker", "--no-startup-delay", "--interval", "0.1", "--no-reload"]
    receiver = [sys.executable, "-c", RECEIVER, str(receiver_port)]
    emitter = [sys.executable, "bench/outbound_webhooks.py", "--emit", FANOUT_SLUG, "--events", str(args.events)]
    runs = {}
    with (
        processes([receiver] + [worker] * args.delivery_workers, log),
        gunicorn(workers=args.workers, threads=args.threads, log=log) as origin,
    ):
        url = origin + path
        options = {"max_requests": 10**9, "repeat_share": 0.0}
        asyncio.run(load(url, name="warm-up", prefix=f"w{run_id}", senders=senders, seconds=args.warmup, **options))
        runs["without fan-out"] = asyncio.run(
            load(url, name="without", prefix=f"a{run_id}", senders=senders, seconds=args.seconds, **options)
        )
        with processes([[*emitter, "--run-id", run_id]], log) as (emitting,):
            emitting.wait(timeout=900)  # the events and their deliveries are written; the workers start on them
        clock = time.perf_counter()
        delivered_before = OutboundDelivery.objects.filter(client=client, status=DeliveryStatus.SUCCEEDED).count()
        runs["with fan-out"] = asyncio.run(
            load(url, name="with", prefix=f"b{run_id}", senders=senders, seconds=args.seconds, **options)
        )
        delivered_in_window = OutboundDelivery.objects.filter(client=client, status=DeliveryStatus.SUCCEEDED).count()
        expected = args.events * args.endpoints
        deadline = time.monotonic() + 600
        while time.monotonic() < deadline:
            pending = OutboundDelivery.objects.filter(client=client, status=DeliveryStatus.PENDING).count()
            created = OutboundDelivery.objects.filter(client=client).count()
            if created == expected and not pending:
                break
            time.sleep(0.5)
        fanout_seconds = time.perf_counter() - clock
        runs["without, after"] = asyncio.run(
            load(url, name="after", prefix=f"c{run_id}", senders=senders, seconds=args.seconds, **options)
        )

    counts = dict(OutboundDelivery.objects.filter(client=client).values_list("status").annotate(n=Count("id")))
    with connection.cursor() as db:
        db.execute("SHOW server_version")
        (version,) = db.fetchone()
    print()
    print(
        f"PostgreSQL {version}; gunicorn {args.workers} workers × {args.threads} threads;"
        f" {args.delivery_workers} db_worker processes;"
    )
    print(f"{os.cpu_count()} CPUs shared by everything; {senders} callback senders, {args.seconds:.0f} s per case")
    print()
    print(f"{'case':<16} {'requests':>9} {'errors':>7} {'req/s':>8} {'p50 ms':>8} {'p99 ms':>8}")
    for name, run in runs.items():
        print(
            f"{name:<16} {run.requests:>9} {run.failures:>7} {run.requests / run.seconds:>8.0f}"
            f" {run.percentile(50):>8.1f} {run.percentile(99):>8.1f}"
        )
    without, with_, after = runs["without fan-out"], runs["with fan-out"], runs["without, after"]
    print()
    print(
        f"fan-out: {args.events} events × {args.endpoints} endpoints = {expected} deliveries; {delivered_before}"
        f" delivered while they were written, {delivered_in_window - delivered_before} more during the measured"
        f" case, the rest {fanout_seconds:.1f} s after it began; outcome {counts}"
    )
    ratios = [
        ("ack p99 ms without fan-out", without.percentile(99), ACK_P99_TARGET_MS),
        ("ack p99 ms with fan-out", with_.percentile(99), ACK_P99_TARGET_MS),
        ("p99 with / without", with_.percentile(99) / without.percentile(99), MOVED_TARGET),
        ("p99 with / without, after", with_.percentile(99) / after.percentile(99), None),
        ("p50 with / without", with_.percentile(50) / without.percentile(50), None),
        (f"call write, {args.endpoints} endpoints / none", emitting_seconds / plain_seconds, EMISSION_TARGET),
    ]
    print()
    print(f"{'figure':<34} {'value':>8}  target")
    missed = 0
    for name, value, limit in ratios:
        if limit is None:
            print(f"{name:<34} {value:>8.2f}")
            continue
        missed += value > limit
        print(f"{name:<34} {value:>8.2f}  <= {limit:<5} {'ok' if value <= limit else 'MISSED'}")
    delivered = counts.get(DeliveryStatus.SUCCEEDED, 0) == expected and not any(run.failures for run in runs.values())
    print(f"(a call's write: {plain_seconds * 1000:.1f} ms with no endpoint, {emitting_seconds * 1000:.1f} ms with)")
    print("deliveries: ok" if delivered else "deliveries: WRONG")
    print(f"(logs: {log})")
    clean()
    return 0 if delivered and not missed else 1


if __name__ == "__main__":
    sys.exit(main())
