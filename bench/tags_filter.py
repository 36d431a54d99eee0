"""The calls list filtered by tag at a million calls: a common tag, a rare one on the oldest calls, one on no call
and two at once, each against the unfiltered list, with the plans PostgreSQL chose.

Run by hand on PostgreSQL, never in the test suite (see bench/README.md):

    DATABASE_URL=postgres://postgres@127.0.0.1:5432/caly_bench .venv/bin/python manage.py seed_demo \
        --calls 1000000 --no-audio --no-customers
    DATABASE_URL=postgres://postgres@127.0.0.1:5432/caly_bench .venv/bin/python bench/tags_filter.py

`seed_demo` tags the demo calls by their notes (recordings/demo.py DEMO_TAGS: each tag on 2–9 % of the calls).
This script adds (once) a tag on the RARE oldest calls, the worst case for a plan that walks the calls
newest first and checks each for the tag, and a tag on no call. Whole requests are timed in-process
(Django test client, every middleware), the cases taking turns in a shuffled order; medians and ratios.
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
from django.test import Client as TestClient
from django.utils import timezone

from accounts.models import Client, User
from accounts.roles import Role
from recordings import selectors
from recordings.models import Call, CallTag, Tag

PAGE = 50
RARE_TAG, UNUSED_TAG = "bench rare", "bench unused"
TARGET = 3.0  # a filtered first page costs at most this many unfiltered ones


def bench_user(client: Client) -> User:
    email = f"bench-tags@{client.slug}.caly.local"
    return User.objects.filter(email=email).first() or User.objects.create_user(
        email, client=client, role=Role.VIEWER, email_verified_at=timezone.now()
    )


def rare_and_unused(client: Client, rare: int) -> tuple[Tag, Tag]:
    made = []
    for name in (RARE_TAG, UNUSED_TAG):
        made.append(Tag.objects.get_or_create(client=client, name=name)[0])
    tag = made[0]
    if not CallTag.objects.filter(tag=tag).exists():
        oldest = Call.objects.for_client(client).order_by("started_at", "id").values_list("pk", flat=True)[:rare]
        CallTag.objects.bulk_create([CallTag(call_id=pk, tag=tag) for pk in oldest])
        with connection.cursor() as cursor:
            cursor.execute("ANALYZE recordings_calltag")
    return made[0], made[1]


def measure(http: TestClient, urls: dict, *, runs: int, warmup: int) -> dict:
    for url in urls.values():
        for _ in range(warmup):
            response = http.get(url)
            assert response.status_code == 200, (url, response.status_code, response.content[:300])
    samples: dict = {name: [] for name in urls}
    order = list(urls)
    shuffle = random.Random(0).shuffle
    for _ in range(runs):
        shuffle(order)
        for name in order:
            started = time.perf_counter()
            response = http.get(urls[name])
            samples[name].append((time.perf_counter() - started) * 1000)
            assert response.status_code == 200
    return {name: statistics.median(values) for name, values in samples.items()}


def plan(client: Client, value: str) -> str:
    calls = selectors.call_list(client=client, filters={"tag": value.split(",")}).order_by("-started_at", "-id")
    sql, params = calls.values("id")[:PAGE].query.sql_with_params()
    with connection.cursor() as cursor:
        cursor.execute(f"EXPLAIN (ANALYZE, BUFFERS, COSTS OFF, TIMING OFF) {sql}", params)
        return "\n".join(f"    {row[0]}" for row in cursor.fetchall())


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--client", default="demo-store", help="the client's slug (default demo-store)")
    parser.add_argument("--rare", type=int, default=20, help="calls with the rare tag, the oldest (default 20)")
    parser.add_argument("--runs", type=int, default=31)
    parser.add_argument("--warmup", type=int, default=3)
    parser.add_argument("--plans", action="store_true", help="print PostgreSQL's plan of each filter")
    args = parser.parse_args()
    if connection.vendor != "postgresql":
        parser.error("needs PostgreSQL: set DATABASE_URL=postgres://… (see bench/README.md)")
    settings.DEBUG = False
    settings.RATE_LIMITS = {**settings.RATE_LIMITS, "api_user": "1000000/m"}

    client = Client.objects.get(slug=args.client)
    rare, unused = rare_and_unused(client, args.rare)
    common = (
        Tag.objects.for_client(client)
        .exclude(pk__in=[rare.pk, unused.pk])
        .annotate(uses=django.db.models.Count("call_tags"))
        .order_by("-uses")
        .first()
    )
    assert common is not None, "no demo tags: run seed_demo first"
    usage = {tag.name: CallTag.objects.filter(tag=tag).count() for tag in (common, rare, unused)}
    total = Call.objects.for_client(client).count()
    http = TestClient(HTTP_HOST="127.0.0.1")
    http.force_login(bench_user(client))

    cases = {
        "no filter": "",
        f"common tag ({common.name})": str(common.public_id),
        "rare tag, oldest calls": str(rare.public_id),
        "tag on no call": str(unused.public_id),
        "common or rare (two tags)": f"{common.public_id},{rare.public_id}",
        "common tag by name": common.name,
    }
    urls = {name: f"/api/v1/calls?limit={PAGE}" + (f"&tag={value}" if value else "") for name, value in cases.items()}
    counts = {name: len(http.get(url).json()["data"]) for name, url in urls.items()}
    assert counts["rare tag, oldest calls"] == min(args.rare, PAGE) and counts["tag on no call"] == 0
    medians = measure(http, urls, runs=args.runs, warmup=args.warmup)

    with connection.cursor() as db:
        db.execute("SHOW server_version")
        (version,) = db.fetchone()
    print(f"PostgreSQL {version}; client {client.slug}: {total:,} calls, {CallTag.objects.count():,} call tags")
    print(f"calls with the tag: {', '.join(f'{name} {count:,}' for name, count in usage.items())}")
    print(f"{args.runs} timed runs per case after {args.warmup} warm-up; first page of {PAGE}")
    print()
    print(f"{'case':<32} {'rows':>5} {'median ms':>10} {'/ no filter':>12}  target ≤ {TARGET}")
    missed = 0
    base = medians["no filter"]
    for name, value in medians.items():
        ratio = value / base
        met = ratio <= TARGET
        missed += not met
        print(f"{name:<32} {counts[name]:>5} {value:>10.2f} {ratio:>12.2f}  {'ok' if met else 'MISSED'}")
    if args.plans:
        for name, value in cases.items():
            if value:
                print(f"\n{name}:\n{plan(client, value)}")
    return 1 if missed else 0


if __name__ == "__main__":
    sys.exit(main())
