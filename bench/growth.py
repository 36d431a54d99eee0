"""How the calls list and the stats summary grow with a client's calls: 10k, 100k and 1M.

Run by hand on PostgreSQL, never in the test suite (see bench/README.md):

    DATABASE_URL=postgres://postgres@127.0.0.1:5432/caly_bench .venv/bin/python bench/growth.py

The 1M client is seed_demo's `demo-store` (seed it first, as `make bench` does); the smaller ones
(`growth-10000`, `growth-100000`) are seeded here on first use with the same generator. Whole requests
run in-process through Django's test client and every middleware, signed in as a viewer of each client;
the table shows medians. No HTTP server: this is the cost of one request, not of a loaded machine.
"""
# ruff: noqa: E402 - Django is set up before the project's modules are imported

from __future__ import annotations

import argparse
import os
import random
import statistics
import sys
import time
import zoneinfo
from datetime import timedelta
from pathlib import Path
from urllib.parse import urlencode

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "caly.settings.local")
os.environ.setdefault("LOG_LEVEL", "warning")

import django

django.setup()

from django.conf import settings
from django.db import connection
from django.test import Client as TestClient
from django.test.utils import override_settings
from django.utils import timezone

from accounts.models import Client, User
from accounts.roles import Role
from caly.foundation.api.pagination import KeysetPagination
from recordings import demo
from recordings.models import Call

SIZES = (10_000, 100_000, 1_000_000)
LIST_FLAT_TARGET = 1.5  # the list at 1M over the list at 10k
STATS_TARGET_MS = 100.0


def growth_client(size: int) -> Client:
    if size == 1_000_000:
        client = Client.objects.filter(slug="demo-store").first()
        if client is None or Call.objects.for_client(client).count() < size:
            raise SystemExit("demo-store needs 1,000,000 calls: run seed_demo first (see bench/README.md)")
        return client
    client, _ = Client.objects.get_or_create(slug=f"growth-{size}", defaults={"name": f"Growth {size:,}"})
    if Call.objects.for_client(client).count() < size:
        created, _ = demo.calls_seed(client=client, count=size)
        print(f"  seeded {created:,} calls for {client.slug}", flush=True)
        with connection.cursor() as cursor:
            cursor.execute("ANALYZE recordings_call")
    return client


def viewer(client: Client) -> User:
    email = f"growth-viewer@{client.slug}.caly-bench.local"
    return User.objects.filter(email=email).first() or User.objects.create_user(
        email, client=client, role=Role.VIEWER, email_verified_at=timezone.now()
    )


def deep_cursor(client: Client) -> str:
    """The cursor of the page holding the 50 oldest calls, written as KeysetPagination writes it."""
    oldest = list(Call.objects.for_client(client).order_by("started_at", "id").values("started_at", "id")[:51])
    paginator = KeysetPagination()
    paginator.fields = ["started_at", "id"]
    return paginator.encode_cursor(oldest[50], backwards=False)


def cases(client: Client) -> dict[str, str]:
    today = timezone.localtime(timezone=zoneinfo.ZoneInfo(client.timezone)).date()

    def stats(days: int) -> str:
        return "/api/v1/stats/summary?" + urlencode(
            {"started_from": (today - timedelta(days=days - 1)).isoformat(), "started_to": today.isoformat()}
        )

    return {
        "calls list, first page": "/api/v1/calls?limit=50",
        "calls list, last page": "/api/v1/calls?" + urlencode({"limit": 50, "cursor": deep_cursor(client)}),
        "calls list, status=busy": "/api/v1/calls?limit=50&status=busy",
        "calls list, last 7 days": "/api/v1/calls?"
        + urlencode({"limit": 50, "started_from": (today - timedelta(days=6)).isoformat()}),
        "stats summary, 7 days": stats(7),
        "stats summary, 30 days": stats(30),
        "stats summary, 90 days": stats(90),
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=21, help="timed requests per case and size (default 21)")
    parser.add_argument("--warmup", type=int, default=3, help="untimed requests per case first")
    args = parser.parse_args()
    if connection.vendor != "postgresql":
        parser.error("needs PostgreSQL: set DATABASE_URL=postgres://… (see bench/README.md)")

    clients = {size: growth_client(size) for size in SIZES}
    browsers = {}
    urls = {}
    for size, client in clients.items():
        browser = TestClient(HTTP_HOST="127.0.0.1")
        browser.force_login(viewer(client))
        browsers[size], urls[size] = browser, cases(client)
    timings: dict[tuple[str, int], list[float]] = {}
    rng = random.Random(3)
    with override_settings(DEBUG=False, RATE_LIMITS={**settings.RATE_LIMITS, "api_user": "1000000/m"}):
        for size in SIZES:
            for url in urls[size].values():
                for _ in range(args.warmup):
                    response = browsers[size].get(url)
                    assert response.status_code == 200, (url, response.status_code, response.content[:300])
        work = [(name, size) for size in SIZES for name in urls[size]]
        for _ in range(args.runs):
            rng.shuffle(work)  # every case and size takes turns, so background noise falls on all alike
            for name, size in work:
                started = time.perf_counter()
                response = browsers[size].get(urls[size][name])
                timings.setdefault((name, size), []).append((time.perf_counter() - started) * 1000)
                assert response.status_code == 200, (name, size, response.status_code)

    print()
    print(f"Medians of {args.runs} whole requests in-process (test client, every middleware); ms")
    print(f"load average {' '.join(f'{v:.2f}' for v in os.getloadavg())}")
    header = "".join(f"{f'{size:,}':>12}" for size in SIZES)
    print(f"{'case':<26}{header} {'1M ÷ 10k':>9}  target")
    missed = 0
    for name in urls[SIZES[0]]:
        medians = [statistics.median(timings[(name, size)]) for size in SIZES]
        ratio = medians[-1] / medians[0]
        verdict = ""
        if name.startswith("calls list"):
            met = ratio <= LIST_FLAT_TARGET
            verdict = f"≤ {LIST_FLAT_TARGET} {'ok' if met else 'MISSED'}"
            missed += not met
        elif name.startswith("stats"):
            met = medians[-1] < STATS_TARGET_MS
            verdict = f"1M < {STATS_TARGET_MS:g} ms {'ok' if met else 'MISSED'}"
            missed += not met
        print(f"{name:<26}" + "".join(f"{m:>12.1f}" for m in medians) + f" {ratio:>9.2f}  {verdict}")
    return 1 if missed else 0


if __name__ == "__main__":
    sys.exit(main())
