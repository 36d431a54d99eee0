"""The per-agent dashboard for 90 days at 1M calls: the trigger-kept rollup vs a scan of the calls, side by side.

Run by hand on PostgreSQL, never in the test suite (see bench/README.md):

    createdb -h 127.0.0.1 -U postgres caly_dash_bench
    DATABASE_URL=postgres://postgres@127.0.0.1:5432/caly_dash_bench .venv/bin/python manage.py migrate
    DATABASE_URL=postgres://postgres@127.0.0.1:5432/caly_dash_bench .venv/bin/python bench/dashboard.py

Seeds (once) a client with N calls spread over a few agents (recordings.demo's generator, 90 days, an agent
on most calls) and one smaller client, then times whole requests in-process (Django test client, every
middleware): the dashboard's agents part and GET /api/v1/stats/summary?range=90d as they are (reading the
rollup of migration 0010), the same part with the rollup swapped for a GROUP BY over the calls, and the
calls list's first page as a yardstick of the machine's speed. Prints p50 and p99 per case and the ratios
measured in this one run.
"""
# ruff: noqa: E402 - Django is set up before the project's modules are imported

from __future__ import annotations

import argparse
import os
import random
import statistics
import sys
import time
import types
from itertools import islice
from pathlib import Path
from unittest import mock

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "caly.settings.local")
os.environ.setdefault("LOG_LEVEL", "warning")  # an access-log line per request would bury the table

import django

django.setup()

from django.conf import settings
from django.db import connection
from django.test import Client as TestClient
from django.test.utils import override_settings
from django.urls import include, path
from django.utils import timezone

from accounts.models import Client, User
from accounts.roles import Role
from caly import dashboard
from recordings import demo, selectors
from recordings.models import Call, CallAgentDay

RANGE = "90d"
TARGETS = {
    "rollup p99, agents part (ms)": ("<", 50.0),
    "rollup p99, stats API (ms)": ("<", 50.0),
    "scan / rollup, agents part p50": (">=", 10.0),
    "agents part / calls list, p50": ("<", 1.5),
}


# --- the scan, routed only in this process ----------------------------------------------------------


def scanned_part(request, name):
    """The real agents part with the rollup read swapped for a GROUP BY over every call of the range."""
    with mock.patch.object(selectors, "_sums_from_rollup", selectors._sums_from_rows):
        return dashboard.dashboard_part(request, name)


bench_urls = types.ModuleType("bench_dashboard_urls")
bench_urls.urlpatterns = [
    path("bench/scan/dashboard/parts/<slug:name>", scanned_part),
    path("", include("caly.urls")),
]


# --- data -----------------------------------------------------------------------------------------


def seed(*, calls: int, agents: int, unmatched_share: float, generated: int) -> tuple[Client, float]:
    """The client `dash-bench-<calls>` with `calls` calls over `agents` agents, and one client with a tenth.

    The first `generated` calls of each client come from recordings.demo's generator (Python, bulk inserts);
    the rest are copies of them made in SQL with other provider and public ids (the same days, numbers,
    statuses and agents), which takes minutes where generating a million calls takes most of an hour."""
    started = time.perf_counter()
    client, _ = Client.objects.get_or_create(slug=f"dash-bench-{calls}", defaults={"name": f"Dash bench {calls:,}"})
    other, _ = Client.objects.get_or_create(
        slug=f"dash-bench-{calls}-other", defaults={"name": f"Dash bench {calls:,} other"}
    )
    seeded = False
    for owner, count, team in ((client, calls, agents), (other, calls // 10, max(2, agents // 2))):
        members = [
            User.objects.filter(email=f"agent{n}@{owner.slug}.caly.local").first()
            or User.objects.create_user(
                f"agent{n}@{owner.slug}.caly.local",
                client=owner,
                role=Role.AGENT,
                first_name=f"Agent {n}",
                email_verified_at=timezone.now(),
            )
            for n in range(team)
        ]
        originals = min(count, generated)
        present = Call.objects.for_client(owner).filter(provider_call_id__regex=GENERATED_ID).count()
        if present < originals:
            rng = random.Random(f"dash-bench:{owner.slug}")
            batch = []
            # Batches commit oldest first, so an interrupted run is resumed after the calls it stored.
            for call in islice(demo.demo_calls(client=owner, count=originals), present, None):
                call.agent = None if rng.random() < unmatched_share else rng.choice(members)
                batch.append(call)
                if len(batch) == demo.BATCH_SIZE:
                    Call.objects.bulk_create(batch, ignore_conflicts=True)
                    batch = []
            Call.objects.bulk_create(batch, ignore_conflicts=True)
            print(f"  generated {originals - present:,} calls for {owner.slug}", flush=True)
            seeded = True
        while (present := Call.objects.for_client(owner).count()) < count:
            copies = min(originals, count - present)
            _copy_calls(owner, suffix=f"-copy-{present // originals}", limit=copies)
            print(f"  copied {copies:,} calls for {owner.slug}", flush=True)
            seeded = True
    if seeded:
        with connection.cursor() as cursor:
            cursor.execute("VACUUM ANALYZE recordings_call")
            cursor.execute("VACUUM ANALYZE recordings_callagentday")
            cursor.execute("VACUUM ANALYZE recordings_callstatsbucket")
    return client, (time.perf_counter() - started if seeded else 0.0)


GENERATED_ID = rf"^{demo.DEMO_ID_PREFIX}[0-9]+$"  # a copy's id has a suffix
COPIED = (
    "client_id, provider, direction, from_number, to_number, status, started_at, answered_at, ended_at, "
    "duration_seconds, is_resolved, customer_satisfaction, notes, transcript, metadata, has_recording, agent_id, "
    "agent_number, created_at, updated_at"
)


def _copy_calls(client: Client, *, suffix: str, limit: int) -> None:
    """One INSERT … SELECT of the client's first `limit` generated calls under new ids (the triggers run once)."""
    with connection.cursor() as cursor:
        cursor.execute(
            f"INSERT INTO recordings_call (public_id, provider_call_id, {COPIED})"  # noqa: S608 - constants
            f" SELECT gen_random_uuid(), provider_call_id || %s, {COPIED} FROM recordings_call"
            " WHERE client_id = %s AND provider_call_id ~ %s ORDER BY id LIMIT %s",
            [suffix, client.id, GENERATED_ID, limit],
        )


def bench_user(client: Client) -> User:
    email = f"viewer@{client.slug}.caly.local"
    return User.objects.filter(email=email).first() or User.objects.create_user(
        email, client=client, role=Role.VIEWER, email_verified_at=timezone.now()
    )


# --- measuring ------------------------------------------------------------------------------------


def percentile(values: list[float], share: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(share * (len(ordered) - 1)))]


def measure(http: TestClient, urls: dict[str, str], runs: dict[str, int], *, warmup: int) -> dict[str, list[float]]:
    """Milliseconds per request for each URL; the cases take turns in a new order each round, so background
    noise falls on all alike. A case with fewer runs (the scan) drops out once it has them."""
    for url in urls.values():
        for _ in range(warmup):
            response = http.get(url)
            assert response.status_code == 200, (url, response.status_code, response.content[:300])
    samples: dict[str, list[float]] = {name: [] for name in urls}
    shuffle = random.Random(0).shuffle
    for round_ in range(max(runs.values())):
        order = [name for name in urls if runs[name] > round_]
        shuffle(order)
        for name in order:
            started = time.perf_counter()
            response = http.get(urls[name])
            samples[name].append((time.perf_counter() - started) * 1000)
            assert response.status_code == 200, (urls[name], response.status_code)
    return samples


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--calls", type=int, default=1_000_000, help="calls of the measured client")
    parser.add_argument("--agents", type=int, default=8, help="agents sharing the calls")
    parser.add_argument("--unmatched", type=float, default=0.1, help="share of calls no member took")
    parser.add_argument(
        "--generated", type=int, default=250_000, help="calls made by the demo generator; the rest are SQL copies"
    )
    parser.add_argument("--runs", type=int, default=400, help="timed requests per rollup case (p99 needs many)")
    parser.add_argument("--scan-runs", type=int, default=15, help="timed requests of the scan (each is slow)")
    parser.add_argument("--warmup", type=int, default=10, help="untimed requests per case first")
    args = parser.parse_args()
    if connection.vendor != "postgresql":
        parser.error("needs PostgreSQL: set DATABASE_URL=postgres://… (see bench/README.md)")

    settings.DEBUG = False
    settings.RATE_LIMITS = {**settings.RATE_LIMITS, "api_user": "1000000/m"}

    print(f"Seeding (skipped when present): {args.calls:,} calls over {args.agents} agents + one client with a tenth")
    client, seed_seconds = seed(
        calls=args.calls, agents=args.agents, unmatched_share=args.unmatched, generated=args.generated
    )
    first, last = selectors.stats_range(client=client, name=RANGE)
    rollup = selectors._agent_days_from_rollup(client, first, last)
    scan = selectors._agent_days_from_rows(client, first, last)
    assert rollup == scan, "the rollup and the scan differ"
    assert selectors._sums_from_rollup(client, first, last) == selectors._sums_from_rows(client, first, last)
    in_range = sum(figures[0] for figures in rollup.values())

    http = TestClient(HTTP_HOST="127.0.0.1")
    http.force_login(bench_user(client))
    urls = {
        "agents part, rollup": f"/dashboard/parts/agents?range={RANGE}",
        "stats API, rollup": f"/api/v1/stats/summary?range={RANGE}",
        "agents part, scan": f"/bench/scan/dashboard/parts/agents?range={RANGE}",
        # A reference for the machine's load: bench/calls_list.py's keyset API, first page (~10 ms when quiet).
        "calls list API, 50": "/api/v1/calls?limit=50",
    }
    runs = {name: args.scan_runs if "scan" in name else args.runs for name in urls}
    with override_settings(ROOT_URLCONF=bench_urls):
        assert http.get(urls["agents part, rollup"]).content == http.get(urls["agents part, scan"]).content
        samples = measure(http, urls, runs, warmup=args.warmup)

    p50 = {name: statistics.median(values) for name, values in samples.items()}
    p99 = {name: percentile(values, 0.99) for name, values in samples.items()}
    ratios = {
        "rollup p99, agents part (ms)": p99["agents part, rollup"],
        "rollup p99, stats API (ms)": p99["stats API, rollup"],
        "scan / rollup, agents part p50": p50["agents part, scan"] / p50["agents part, rollup"],
        "agents part / calls list, p50": p50["agents part, rollup"] / p50["calls list API, 50"],
    }
    with connection.cursor() as db:
        db.execute("SHOW server_version")
        (version,) = db.fetchone()
    rollup_rows = CallAgentDay.objects.for_client(client).filter(day__gte=first, day__lte=last).count()
    print()
    print(f"PostgreSQL {version}; client {client.slug}: {Call.objects.for_client(client).count():,} calls")
    print(f"range {RANGE} ({first} to {last}): {in_range:,} calls, {rollup_rows:,} rollup rows, {len(rollup):,} cells")
    print(f"seeding: {seed_seconds:.0f} s" if seed_seconds else "seeding: data already present")
    print(f"load average: {' '.join(f'{value:.1f}' for value in os.getloadavg())}")
    print()
    print(f"{'case':<22} {'runs':>5} {'p50 ms':>9} {'p99 ms':>9}")
    for name in urls:
        print(f"{name:<22} {len(samples[name]):>5} {p50[name]:>9.2f} {p99[name]:>9.2f}")
    print()
    print(f"{'figure':<34} {'value':>9}  target")
    missed = 0
    for name, value in ratios.items():
        op, target = TARGETS[name]
        met = value < target if op == "<" else value >= target
        missed += not met
        print(f"{name:<34} {value:>9.2f}  {op} {target:<5} {'ok' if met else 'MISSED'}")
    return 1 if missed else 0


if __name__ == "__main__":
    sys.exit(main())
