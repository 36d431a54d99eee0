"""The calls list sorted by duration, at the top and at the bottom, and what its approximate total costs.

Run by hand on PostgreSQL, never in the test suite (see bench/README.md):

    DATABASE_URL=postgres://postgres@127.0.0.1:5432/caly_bench .venv/bin/python bench/calls_sort.py --calls 1000000

Seeds (once) the client `bench-<N>` as bench/calls_list.py does (the same data, so the two scripts share a
database), then times whole API requests in-process and the total's selector on its own, and prints
medians and the ratios measured in this one run.
"""

from __future__ import annotations

import argparse
import random
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from django.conf import settings
from django.db import connection
from django.test import Client as TestClient

from bench.calls_list import PAGE, bench_user, ids, measure, seed
from caly.foundation.api.pagination import KeysetPagination
from recordings import selectors
from recordings.models import Call

TARGETS = {
    "longest first: last / first page": ("<=", 1.5),
    "shortest first: last / first page": ("<=", 1.5),
    "longest first / newest first, first page": ("<=", 1.5),
}
TOTAL_TARGET_MS = 5.0


def last_page_cursor(ordering: tuple[str, ...], client) -> str:
    """The cursor whose page holds the PAGE last calls of `ordering`, written as KeysetPagination writes it."""
    flipped = [name[1:] if name.startswith("-") else f"-{name}" for name in ordering]
    fields = [name.lstrip("-") for name in ordering]
    tail = list(Call.objects.for_client(client).order_by(*flipped).values(*fields)[: PAGE + 1])
    paginator = KeysetPagination()
    paginator.ordering = ordering
    paginator.fields = fields
    return paginator.encode_cursor(tail[PAGE], backwards=False)


def time_totals(client, cases: dict, *, runs: int, warmup: int) -> dict:
    """Median milliseconds of selectors.call_count per filter set, the cases taking turns."""
    for filters in cases.values():
        for _ in range(warmup):
            selectors.call_count(client=client, filters=filters)
    samples: dict = {name: [] for name in cases}
    order = list(cases)
    for _ in range(runs):
        random.Random(len(samples[order[0]])).shuffle(order)
        for name in order:
            started = time.perf_counter()
            selectors.call_count(client=client, filters=cases[name])
            samples[name].append((time.perf_counter() - started) * 1000)
    return {name: statistics.median(values) for name, values in samples.items()}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--calls", type=int, default=1_000_000, help="calls of the measured client")
    parser.add_argument("--other-clients", type=int, default=0, help="clients with a tenth as many calls each")
    parser.add_argument("--runs", type=int, default=41, help="timed requests per case (the median is shown)")
    parser.add_argument("--warmup", type=int, default=5, help="untimed requests per case first")
    args = parser.parse_args()
    if connection.vendor != "postgresql":
        parser.error("needs PostgreSQL: set DATABASE_URL=postgres://… (see bench/README.md)")
    settings.DEBUG = False
    settings.RATE_LIMITS = {**settings.RATE_LIMITS, "api_user": "1000000/m"}

    print(f"Seeding (skipped when present): {args.calls:,} calls + {args.other_clients} × {args.calls // 10:,}")
    client, seed_seconds = seed(calls=args.calls, others=args.other_clients)
    total = Call.objects.for_client(client).count()
    http = TestClient(HTTP_HOST="127.0.0.1")
    http.force_login(bench_user(client))

    longest = selectors.CALL_ORDERINGS["-duration_seconds"]
    shortest = selectors.CALL_ORDERINGS["duration_seconds"]
    urls = {
        ("newest first", "first page"): f"/api/v1/calls?limit={PAGE}",
        ("longest first", "first page"): f"/api/v1/calls?limit={PAGE}&ordering=-duration_seconds",
        ("longest first", "last page"): f"/api/v1/calls?limit={PAGE}&ordering=-duration_seconds"
        f"&cursor={last_page_cursor(longest, client)}",
        ("shortest first", "first page"): f"/api/v1/calls?limit={PAGE}&ordering=duration_seconds",
        ("shortest first", "last page"): f"/api/v1/calls?limit={PAGE}&ordering=duration_seconds"
        f"&cursor={last_page_cursor(shortest, client)}",
    }
    # The bottom page of one order is the top of the other, reversed: both are right.
    assert ids(http.get(urls[("longest first", "last page")])) == list(
        reversed(ids(http.get(urls[("shortest first", "first page")])))
    ), "the last page of longest first is not the first of shortest first, reversed"
    medians = measure(http, urls, runs=args.runs, warmup=args.warmup)

    totals = {
        "no filter (per-day rollup, exact)": {},
        "one week (per-day rollup, exact)": {
            "started_from": Call.objects.for_client(client).order_by("-started_at").first().started_at.date()
        },
        "status=completed (planner estimate)": {"status": "completed"},
        "status=busy (planner estimate)": {"status": "busy"},
        "min_duration=600 (planner estimate)": {"min_duration": 600},
    }
    week = totals["one week (per-day rollup, exact)"]
    week["started_to"] = week["started_from"]
    week["started_from"] = week["started_to"].fromordinal(week["started_to"].toordinal() - 6)
    total_ms = time_totals(client, totals, runs=args.runs, warmup=args.warmup)
    counted = {name: selectors.call_count(client=client, filters=filters) for name, filters in totals.items()}
    started = time.perf_counter()
    Call.objects.for_client(client).count()
    exact_count_ms = (time.perf_counter() - started) * 1000

    ratios = {
        "longest first: last / first page": (
            medians[("longest first", "last page")] / medians[("longest first", "first page")]
        ),
        "shortest first: last / first page": (
            medians[("shortest first", "last page")] / medians[("shortest first", "first page")]
        ),
        "longest first / newest first, first page": (
            medians[("longest first", "first page")] / medians[("newest first", "first page")]
        ),
    }
    with connection.cursor() as db:
        db.execute("SHOW server_version")
        (version,) = db.fetchone()
    print()
    print(f"PostgreSQL {version}; client {client.slug}: {total:,} calls ({Call.objects.count():,} in the table)")
    print(f"seeding: {seed_seconds:.0f} s" if seed_seconds else "seeding: data already present")
    print(f"{args.runs} timed runs per case after {args.warmup} warm-up; page = {PAGE} rows")
    print()
    print(f"{'case':<20} {'depth':<12} {'median ms':>10}")
    for (case, depth), value in medians.items():
        print(f"{case:<20} {depth:<12} {value:>10.2f}")
    print()
    print(f"{'approximate total':<40} {'median ms':>10}  {'count':>12}  kind")
    missed = 0
    for name, value in total_ms.items():
        met = value < TOTAL_TARGET_MS
        missed += not met
        print(
            f"{name:<40} {value:>10.2f}  {counted[name].count:>12,}  {counted[name].kind:<9}"
            f" < {TOTAL_TARGET_MS} {'ok' if met else 'MISSED'}"
        )
    print(f"{'(an exact COUNT(*) of the client, once)':<40} {exact_count_ms:>10.2f}  {total:>12,}")
    print()
    print(f"{'ratio':<44} {'value':>8}  target")
    for name, value in ratios.items():
        op, target = TARGETS[name]
        met = value <= target if op == "<=" else value >= target
        missed += not met
        print(f"{name:<44} {value:>8.2f}  {op} {target:<5} {'ok' if met else 'MISSED'}")
    return 1 if missed else 0


if __name__ == "__main__":
    sys.exit(main())
