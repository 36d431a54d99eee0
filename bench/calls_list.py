"""The calls list at the first and the last page: keyset API vs naive DRF offset vs a .values() floor.

The API's rows carry each call's Shopify customer (settings.CALL_CONTEXT's `call_columns`, read in the list's own
statement); run bench/customers.py once to give the client's calls customers, then this again to time the list
with them.

Run by hand on PostgreSQL, never in the test suite (see bench/README.md):

    DATABASE_URL=postgres://postgres@127.0.0.1:5432/caly_bench .venv/bin/python bench/calls_list.py --calls 1000000

Seeds (once) a client with N calls plus a few smaller clients with recordings.demo, the generator
`seed_demo` uses, then times whole requests in-process (Django test client, every middleware) and
prints medians and the ratios measured in this one run.
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
from pathlib import Path
from urllib.parse import urlencode

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "caly.settings.local")
os.environ.setdefault("LOG_LEVEL", "warning")  # an access-log line per request would bury the table

import django

django.setup()

from django.conf import settings
from django.db import connection
from django.http import JsonResponse
from django.test import Client as TestClient
from django.test.utils import override_settings
from django.urls import include, path
from django.utils import timezone
from django.utils.dateparse import parse_datetime
from rest_framework import generics
from rest_framework.pagination import LimitOffsetPagination

from accounts.models import Client, User
from accounts.roles import Role
from caly.foundation.adapters.django import rows_before
from caly.foundation.api.pagination import KeysetPagination
from integrations.models import CallCustomer
from recordings import demo, selectors
from recordings.api.serializers import CallSerializer
from recordings.api.views import CallListView
from recordings.models import Call

PAGE = 50
TARGETS = {
    "keyset last / first page": ("<=", 1.5),
    "naive / keyset at the last page": (">=", 20.0),
    "keyset / floor at the first page": ("<=", 2.5),
    "floor / keyset at the first page": (">=", 0.7),
    "keyset with / without customer, first page": ("<=", 1.3),
}


# --- the comparison views, routed only in this process ----------------------------------------


class NaiveCallList(generics.ListAPIView):
    """A first version: ModelSerializer, LIMIT/OFFSET and an exact COUNT on every page."""

    serializer_class = CallSerializer
    pagination_class = LimitOffsetPagination

    def get_queryset(self):
        return selectors.call_list(client=self.request.user.client).order_by("-started_at", "-id")


def floor_call_list(request):
    """The least a page can cost behind the same middleware: the same rows as `.values()` in a JsonResponse."""
    if not request.user.is_authenticated:
        return JsonResponse({"error": "sign in"}, status=401)
    calls = Call.objects.for_client(request.user.client).order_by("-started_at", "-id")
    if "before" in request.GET:
        position = (parse_datetime(request.GET["before"]), int(request.GET["before_id"]))
        calls = calls.filter(rows_before(("started_at", "id"), position))
    return JsonResponse({"data": list(calls.values(*selectors.CALL_LIST_FIELDS)[:PAGE])})


_call_list_view = CallListView.as_view()


def call_list_without_customers(request):
    """The real endpoint with settings.CALL_CONTEXT empty: the list as it was before rows carried a customer."""
    with override_settings(CALL_CONTEXT=""):
        return _call_list_view(request)


bench_urls = types.ModuleType("bench_urls")
bench_urls.urlpatterns = [
    path("bench/plain/calls", call_list_without_customers),
    path("bench/naive/calls", NaiveCallList.as_view()),
    path("bench/floor/calls", floor_call_list),
    path("", include("caly.urls")),
]


# --- data -----------------------------------------------------------------------------------------


def seed(*, calls: int, others: int) -> tuple[Client, float]:
    """The client `bench-<calls>` with `calls` calls and `others` clients with a tenth as many each."""
    started = time.perf_counter()
    client, _ = Client.objects.get_or_create(slug=f"bench-{calls}", defaults={"name": f"Bench {calls:,}"})
    wanted = [(client, calls)]
    for number in range(1, others + 1):
        other, _ = Client.objects.get_or_create(
            slug=f"bench-{calls}-other-{number}", defaults={"name": f"Bench {calls:,} other {number}"}
        )
        wanted.append((other, calls // 10))
    seeded = False
    for owner, count in wanted:
        if Call.objects.for_client(owner).count() < count:
            created, _ = demo.calls_seed(client=owner, count=count)
            print(f"  seeded {created:,} calls for {owner.slug}", flush=True)
            seeded = True
    if seeded:
        with connection.cursor() as cursor:
            cursor.execute("VACUUM ANALYZE recordings_call")
    return client, (time.perf_counter() - started if seeded else 0.0)


def bench_user(client: Client) -> User:
    email = f"bench@{client.slug}.caly.local"
    return User.objects.filter(email=email).first() or User.objects.create_user(
        email, client=client, role=Role.VIEWER, email_verified_at=timezone.now()
    )


def last_page_cursor(client: Client) -> tuple[str, dict]:
    """The cursor whose page holds the PAGE oldest calls, written as KeysetPagination writes it."""
    oldest = list(Call.objects.for_client(client).order_by("started_at", "id").values("started_at", "id")[: PAGE + 1])
    position = oldest[PAGE]
    paginator = KeysetPagination()
    paginator.fields = ["started_at", "id"]
    return paginator.encode_cursor(position, backwards=False), position


# --- measuring ------------------------------------------------------------------------------------


def ids(response) -> list[str]:
    body = response.json()
    data = body["data"]
    rows = data["results"] if isinstance(data, dict) else data
    return [str(row.get("public_id") or row["id"]) for row in rows]


def measure(http: TestClient, urls: dict, *, runs: int, warmup: int) -> dict:
    """Median milliseconds per URL. The cases take turns in a new order each round, so background
    noise and the after-effects of a slow request (caches, garbage collection) fall on all alike."""
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
            url = urls[name]
            started = time.perf_counter()
            response = http.get(url)
            samples[name].append((time.perf_counter() - started) * 1000)
            assert response.status_code == 200, (url, response.status_code)
    return {name: statistics.median(values) for name, values in samples.items()}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--calls", type=int, default=1_000_000, help="calls of the measured client")
    parser.add_argument("--other-clients", type=int, default=3, help="clients with a tenth as many calls each")
    parser.add_argument("--runs", type=int, default=41, help="timed requests per case (the median is shown)")
    parser.add_argument("--warmup", type=int, default=5, help="untimed requests per case first")
    parser.add_argument(
        "--no-naive", action="store_true", help="skip the naive offset view (seconds a request at 1M calls)"
    )
    args = parser.parse_args()
    if connection.vendor != "postgresql":
        parser.error("needs PostgreSQL: set DATABASE_URL=postgres://… (see bench/README.md)")

    # DEBUG would keep every query in memory; the API rate limit would stop the runs.
    settings.DEBUG = False
    settings.RATE_LIMITS = {**settings.RATE_LIMITS, "api_user": "1000000/m"}

    print(f"Seeding (skipped when present): {args.calls:,} calls + {args.other_clients} × {args.calls // 10:,}")
    client, seed_seconds = seed(calls=args.calls, others=args.other_clients)
    total = Call.objects.for_client(client).count()
    table_rows = Call.objects.count()
    cursor, position = last_page_cursor(client)
    http = TestClient(HTTP_HOST="127.0.0.1")
    http.force_login(bench_user(client))

    urls = {
        ("keyset API", "first page"): f"/api/v1/calls?limit={PAGE}",
        ("keyset API", "last page"): f"/api/v1/calls?limit={PAGE}&cursor={cursor}",
        ("keyset, no customer", "first page"): f"/bench/plain/calls?limit={PAGE}",
        ("keyset, no customer", "last page"): f"/bench/plain/calls?limit={PAGE}&cursor={cursor}",
        ("naive DRF offset", "first page"): f"/bench/naive/calls?limit={PAGE}&offset=0",
        ("naive DRF offset", "last page"): f"/bench/naive/calls?limit={PAGE}&offset={total - PAGE}",
        ("floor .values()", "first page"): "/bench/floor/calls",
        ("floor .values()", "last page"): "/bench/floor/calls?"
        + urlencode({"before": position["started_at"].isoformat(), "before_id": position["id"]}),
    }
    if args.no_naive:
        urls = {key: url for key, url in urls.items() if key[0] != "naive DRF offset"}
    with override_settings(ROOT_URLCONF=bench_urls):
        for depth in ("first page", "last page"):  # all of them answer the same rows
            cases = [case for case, at in urls if at == depth]
            pages = [ids(http.get(urls[(case, depth)])) for case in cases]
            assert len(pages[0]) == PAGE and all(page == pages[0] for page in pages), f"the {depth}s differ"
        load_before = os.getloadavg()[0]
        medians = measure(http, urls, runs=args.runs, warmup=args.warmup)

    ratios = {
        "keyset last / first page": medians[("keyset API", "last page")] / medians[("keyset API", "first page")],
        "keyset / floor at the first page": (
            medians[("keyset API", "first page")] / medians[("floor .values()", "first page")]
        ),
        # The same, as the share of the floor's throughput the API keeps with its customer column.
        "floor / keyset at the first page": (
            medians[("floor .values()", "first page")] / medians[("keyset API", "first page")]
        ),
    }
    if not args.no_naive:
        ratios["naive / keyset at the last page"] = (
            medians[("naive DRF offset", "last page")] / medians[("keyset API", "last page")]
        )
    ratios["keyset with / without customer, first page"] = (
        medians[("keyset API", "first page")] / medians[("keyset, no customer", "first page")]
    )
    linked = CallCustomer.objects.filter(client=client, customer__isnull=False).count()
    with connection.cursor() as db:
        db.execute("SHOW server_version")
        (version,) = db.fetchone()
    print()
    print(f"PostgreSQL {version}; client {client.slug}: {total:,} calls ({table_rows:,} in the table)")
    print(f"load average (1 min): {load_before:.1f} before the timed runs, {os.getloadavg()[0]:.1f} after")
    print(f"calls with a Shopify customer (the list's customer column): {linked:,}")
    print(f"seeding: {seed_seconds:.0f} s" if seed_seconds else "seeding: data already present")
    print(f"{args.runs} timed runs per case after {args.warmup} warm-up; page = {PAGE} rows; depth = the page")
    print()
    print(f"{'case':<20} {'depth':<12} {'median ms':>10}")
    for (case, depth), value in medians.items():
        print(f"{case:<20} {depth:<12} {value:>10.2f}")
    print()
    print(f"{'ratio':<44} {'value':>8}  target")
    missed = 0
    for name, value in ratios.items():
        op, target = TARGETS[name]
        met = value <= target if op == "<=" else value >= target
        missed += not met
        print(f"{name:<44} {value:>8.2f}  {op} {target:<5} {'ok' if met else 'MISSED'}")
    return 1 if missed else 0


if __name__ == "__main__":
    sys.exit(main())
