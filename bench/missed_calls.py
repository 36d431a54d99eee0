"""Missed calls to ring back at 1M calls: the kept table (recordings.MissedCall) against reading the calls.

Run by hand on PostgreSQL, never in the test suite (see bench/README.md):

    DATABASE_URL=postgres://postgres@127.0.0.1:5432/caly_bench .venv/bin/python bench/missed_calls.py --calls 1000000

Seeds (once) a client with N calls and a small one with N/100 (one INSERT … SELECT with the demo's mix: 90 days,
about a quarter of the calls missed, inbound and outbound), recounts their numbers to ring back with
`missed_calls_rebuild`, then times in one run, cases taking turns:

- the dashboard's count: `selectors.missed_call_count` against the same figure computed from the calls (every
  missed inbound call without a later answered call with its number: what a page would cost without the table);
- the list: GET /api/v1/calls/missed (whole requests, every middleware) at its first and its last page, and
  beside it the calls list's first page (GET /api/v1/calls), the reference for what a page costs here;
- the write side: `services.missed_calls_refresh` of one number (what each saved call adds) in the large client
  against the small one: it reads that number's calls only, so the client's size must not show.
"""
# ruff: noqa: E402 - Django is set up before the project's modules are imported

from __future__ import annotations

import argparse
import os
import random
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "caly.settings.local")
os.environ.setdefault("LOG_LEVEL", "warning")

import django

django.setup()

from django.conf import settings
from django.db import connection
from django.db.models import Exists, OuterRef, Q
from django.test import Client as TestClient
from django.utils import timezone

from accounts.models import Client, User
from accounts.roles import Role
from caly.foundation.api.pagination import KeysetPagination
from recordings import selectors, services
from recordings.models import CALL_ANSWERED, CALL_MISSED, Call, MissedCall

PAGE = 50
TARGETS = {
    "list last / first page": ("<=", 1.5),
    "count from the calls / kept count": (">=", 20.0),
    "refresh, large / small client": ("<=", 1.5),
    "missed list / calls list, first page": ("<=", 1.5),
}


# One INSERT … SELECT: a million calls in seconds, where recordings.demo's generator (bulk_create from Python)
# takes minutes. The same mix as the demo: 65 % inbound, three quarters answered, about 333,000 customers, each
# call within the last 90 days, a store number on the other side.
SEED_SQL = """
INSERT INTO recordings_call (
    client_id, public_id, provider, provider_call_id, direction, from_number, to_number, status, started_at,
    answered_at, ended_at, duration_seconds, is_resolved, notes, transcript, metadata, has_recording,
    agent_number, created_at, updated_at
)
SELECT %(client)s, gen_random_uuid(), 'exotel', %(prefix)s || n, direction,
       CASE WHEN direction = 'inbound' THEN customer ELSE '+918047181234' END,
       CASE WHEN direction = 'inbound' THEN '+918047181234' ELSE customer END,
       status, started_at,
       CASE WHEN status = 'completed' THEN started_at + interval '8 seconds' END,
       started_at + interval '3 minutes',
       CASE WHEN status = 'completed' THEN 172 ELSE 0 END,
       false, '', '', '{}', false, '', now(), now()
FROM (
    SELECT n,
           CASE WHEN random() < 0.65 THEN 'inbound' ELSE 'outbound' END AS direction,
           '+9198' || lpad(floor(random() * %(customers)s)::text, 8, '0') AS customer,
           (ARRAY['completed', 'no-answer', 'busy', 'failed', 'canceled'])[
               CASE WHEN r < 0.74 THEN 1 WHEN r < 0.87 THEN 2 WHEN r < 0.93 THEN 3 WHEN r < 0.97 THEN 4 ELSE 5 END
           ] AS status,
           now() - random() * interval '90 days' AS started_at
    FROM (SELECT n, random() AS r FROM generate_series(%(first)s, %(last)s) AS n) AS numbered
) AS drawn
"""


def seed(slug: str, calls: int) -> tuple[Client, float]:
    started = time.perf_counter()
    client, _ = Client.objects.get_or_create(slug=slug, defaults={"name": slug})
    seeded = False
    have = Call.objects.for_client(client).count()
    if have < calls:
        with connection.cursor() as cursor:
            cursor.execute(
                SEED_SQL,
                {
                    "client": client.pk,
                    "prefix": f"{slug}-",
                    "customers": max(20, calls // 3),
                    "first": have,
                    "last": calls - 1,
                },
            )
        print(f"  seeded {calls - have:,} calls for {slug}", flush=True)
        seeded = True
    if seeded or not MissedCall.objects.for_client(client).exists():
        rebuild_started = time.perf_counter()
        numbers = services.missed_calls_rebuild(client=client)
        print(f"  {slug}: {numbers:,} numbers to ring back (rebuilt in {time.perf_counter() - rebuild_started:.1f} s)")
        seeded = True
    if seeded:
        with connection.cursor() as cursor:
            cursor.execute("VACUUM ANALYZE recordings_call")
            cursor.execute("VACUUM ANALYZE recordings_missedcall")
    return client, time.perf_counter() - started if seeded else 0.0


def count_from_calls(client: Client) -> int:
    """The figure without the table: numbers with a missed inbound call and no answered call with them since."""
    answered_since = Call.objects.filter(CALL_ANSWERED, client=client, started_at__gt=OuterRef("started_at")).filter(
        Q(from_number=OuterRef("from_number")) | Q(to_number=OuterRef("from_number"))
    )
    missed = Call.objects.for_client(client).filter(CALL_MISSED).filter(~Exists(answered_since))
    return missed.values("from_number").distinct().count()


def timed(function, runs: int) -> list[float]:
    samples = []
    for _ in range(runs):
        started = time.perf_counter()
        function()
        samples.append((time.perf_counter() - started) * 1000)
    return samples


def last_page_cursor(client: Client) -> str:
    oldest = list(
        MissedCall.objects.for_client(client)
        .order_by("last_missed_at", "id")
        .values("last_missed_at", "id")[: PAGE + 1]
    )
    paginator = KeysetPagination()
    paginator.fields = ["last_missed_at", "id"]
    return paginator.encode_cursor(oldest[-1], backwards=False)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--calls", type=int, default=1_000_000, help="calls of the measured client")
    parser.add_argument("--runs", type=int, default=41, help="timed runs per case (the median is shown)")
    parser.add_argument("--naive-runs", type=int, default=5, help="timed runs of the count from the calls")
    args = parser.parse_args()
    if connection.vendor != "postgresql":
        parser.error("needs PostgreSQL: set DATABASE_URL=postgres://… (see bench/README.md)")
    settings.DEBUG = False
    settings.RATE_LIMITS = {**settings.RATE_LIMITS, "api_user": "1000000/m"}

    print(f"Seeding (skipped when present): {args.calls:,} calls + {args.calls // 100:,}")
    large, seconds = seed(f"bench-missed-{args.calls}", args.calls)
    small, _ = seed(f"bench-missed-{args.calls}-small", args.calls // 100)

    kept = selectors.missed_call_count(client=large)
    computed = count_from_calls(large)
    assert kept == computed, f"the kept table says {kept}, the calls say {computed}"

    email = f"bench@{large.slug}.caly.local"
    user = User.objects.filter(email=email).first() or User.objects.create_user(
        email, client=large, role=Role.VIEWER, email_verified_at=timezone.now()
    )
    http = TestClient(HTTP_HOST="127.0.0.1")
    http.force_login(user)
    urls = {
        "list first page": f"/api/v1/calls/missed?limit={PAGE}",
        "list last page": f"/api/v1/calls/missed?limit={PAGE}&cursor={last_page_cursor(large)}",
        "calls list first page": f"/api/v1/calls?limit={PAGE}",
    }
    first_rows = http.get(urls["list first page"]).json()["data"]
    last_rows = http.get(urls["list last page"]).json()["data"]
    assert len(first_rows) == PAGE and 0 < len(last_rows) <= PAGE

    # Numbers with calls in each client, refreshed in turn (each a different number, as saves come in).
    def numbers_of(client):
        numbers = list(MissedCall.objects.for_client(client).values_list("number", flat=True)[:500])
        random.Random(0).shuffle(numbers)
        return iter(numbers * (args.runs // len(numbers) + 2))

    large_numbers, small_numbers = numbers_of(large), numbers_of(small)
    cases = {
        "kept count": lambda: selectors.missed_call_count(client=large),
        "list first page": lambda: http.get(urls["list first page"]),
        "list last page": lambda: http.get(urls["list last page"]),
        "calls list first page": lambda: http.get(urls["calls list first page"]),
        "refresh, large client": lambda: services.missed_calls_refresh(client_id=large.pk, number=next(large_numbers)),
        "refresh, small client": lambda: services.missed_calls_refresh(client_id=small.pk, number=next(small_numbers)),
    }
    for case in cases.values():
        for _ in range(5):
            case()
    samples: dict[str, list[float]] = {name: [] for name in cases}
    order = list(cases)
    for _ in range(args.runs):
        random.Random(len(samples["kept count"])).shuffle(order)
        for name in order:
            samples[name] += timed(cases[name], 1)
    samples["count from the calls"] = timed(lambda: count_from_calls(large), args.naive_runs)
    medians = {name: statistics.median(values) for name, values in samples.items()}
    p99 = sorted(samples["kept count"])[max(0, int(len(samples["kept count"]) * 0.99) - 1)]

    ratios = {
        "list last / first page": medians["list last page"] / medians["list first page"],
        "count from the calls / kept count": medians["count from the calls"] / medians["kept count"],
        "refresh, large / small client": medians["refresh, large client"] / medians["refresh, small client"],
        "missed list / calls list, first page": medians["list first page"] / medians["calls list first page"],
    }
    with connection.cursor() as db:
        db.execute("SHOW server_version")
        (version,) = db.fetchone()
    print()
    print(
        f"PostgreSQL {version}; {large.slug}: {Call.objects.for_client(large).count():,} calls, "
        f"{kept:,} numbers to ring back; {small.slug}: {Call.objects.for_client(small).count():,} calls"
    )
    print(f"seeding: {seconds:.0f} s" if seconds else "seeding: data already present")
    print(f"{args.runs} timed runs per case ({args.naive_runs} of the count from the calls); load {os.getloadavg()}")
    print(f"kept count: p99 {p99:.2f} ms (it reads the {kept:,} rows of the kept table's index, not the calls)")
    print()
    print(f"{'case':<26} {'median ms':>10}")
    for name, value in medians.items():
        print(f"{name:<26} {value:>10.2f}")
    print()
    print(f"{'ratio':<40} {'value':>8}  target")
    missed = 0
    for name, value in ratios.items():
        op, target = TARGETS[name]
        met = value <= target if op == "<=" else value >= target
        missed += not met
        print(f"{name:<40} {value:>8.2f}  {op} {target:<5} {'ok' if met else 'MISSED'}")
    return 1 if missed else 0


if __name__ == "__main__":
    sys.exit(main())
