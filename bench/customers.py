"""Shopify customers at scale: the number lookup, and what a call's customer adds to the call detail.

Run by hand on PostgreSQL, never in the test suite (see bench/README.md):

    DATABASE_URL=postgres://postgres@127.0.0.1:5432/caly_bench .venv/bin/python bench/customers.py

Seeds (once, with INSERT … SELECT generate_series) the client `bench-<calls>` of bench/calls_list.py with
1,000,000 customers and 5,000,000 orders, every customer's number and every order's billing number indexed,
one number in a thousand shared by two customers, other clients with a tenth as many, and links the client's
calls to customers. Then it times, in one run:

- the lookup of one number (`integrations.shopify.selectors.customer_lookup`, in-process, p50 / p99), for known,
  shared and unknown numbers, and the whole `GET /api/v1/lookup` request;
- `GET /api/v1/calls/<id>` with the customer card's data (settings.CALL_CONTEXT) against the same request
  without it (CALL_CONTEXT empty: the call detail as it was), the two taking turns.
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
from django.test.utils import override_settings
from django.utils import timezone

from accounts.models import Client, User
from accounts.roles import Role
from integrations.models import CallCustomer, ShopifyConnection, ShopifyCustomer
from integrations.shopify.selectors import customer_lookup
from recordings.models import Call

TARGETS = {
    "lookup p99 (ms)": ("<", 5.0),
    "call detail with / without the customer": ("<=", 1.3),
}
SHARED_EVERY = 1000  # one customer in a thousand has the number of the one before it


def number_of(n: int) -> str:
    """The n-th customer's number: +9170 and eight digits (valid Indian mobile numbers)."""
    return f"+9170{n:08d}"


def seed_customers(client: Client, *, customers: int, orders: int) -> float:
    """`customers` customers with `orders` orders between them, and their numbers, for `client` (once)."""
    if ShopifyCustomer.objects.for_client(client).count() >= customers:
        return 0.0
    started = time.perf_counter()
    with connection.cursor() as cursor:
        cursor.execute(
            """
            INSERT INTO integrations_shopifycustomer (client_id, public_id, shopify_id, first_name, last_name, email,
                phone, tags, orders_count, total_spent, currency, shopify_created_at, shopify_updated_at, synced_at,
                created_at, updated_at)
            SELECT %(client)s, gen_random_uuid(), g, 'First' || g, 'Last' || g, 'customer' || g || '@example.com',
                '+9170' || lpad((CASE WHEN g %% %(shared)s = 0 THEN g - 1 ELSE g END)::text, 8, '0'),
                '["bench"]', %(per)s, 4995.00, 'INR', now() - g * interval '1 second', now(), now(), now(), now()
            FROM generate_series(1, %(customers)s) g
            """,
            {"client": client.pk, "customers": customers, "shared": SHARED_EVERY, "per": orders // customers},
        )
        cursor.execute(
            """
            INSERT INTO integrations_shopifyphone (client_id, phone, customer_id, order_id, source)
            SELECT client_id, phone, id, NULL, 'customer' FROM integrations_shopifycustomer WHERE client_id = %s
            """,
            [client.pk],
        )
        cursor.execute(
            "SELECT min(id) FROM integrations_shopifycustomer WHERE client_id = %s",
            [client.pk],
        )
        (first_id,) = cursor.fetchone()
        cursor.execute(
            """
            INSERT INTO integrations_shopifyorder (client_id, public_id, shopify_id, customer_id, customer_shopify_id,
                name, number, processed_at, financial_status, fulfillment_status, cancelled_at, closed_at, total,
                currency, item_count, shopify_updated_at, synced_at, created_at, updated_at)
            SELECT %(client)s, gen_random_uuid(), 1000000000 + g, %(first)s + (g - 1) %% %(customers)s,
                1 + (g - 1) %% %(customers)s, '#' || (1000 + g), 1000 + g, now() - g * interval '1 second',
                CASE WHEN g %% 7 = 0 THEN 'pending' ELSE 'paid' END,
                CASE WHEN g %% 3 = 0 THEN '' ELSE 'fulfilled' END,
                NULL, CASE WHEN g %% 3 = 0 THEN NULL ELSE now() END, 999.00, 'INR', 2, now(), now(), now(), now()
            FROM generate_series(1, %(orders)s) g
            """,
            {"client": client.pk, "first": first_id, "customers": customers, "orders": orders},
        )
        cursor.execute(
            """
            INSERT INTO integrations_shopifyphone (client_id, phone, customer_id, order_id, source)
            SELECT o.client_id, c.phone, NULL, o.id, 'billing'
            FROM integrations_shopifyorder o JOIN integrations_shopifycustomer c ON c.id = o.customer_id
            WHERE o.client_id = %s
            """,
            [client.pk],
        )
    return time.perf_counter() - started


def link_calls(client: Client) -> float:
    """Link the client's calls to customers (nine in ten; the rest: no customer), once."""
    if CallCustomer.objects.filter(client=client).exists():
        return 0.0
    started = time.perf_counter()
    with connection.cursor() as cursor:
        cursor.execute("SELECT min(id), count(*) FROM integrations_shopifycustomer WHERE client_id = %s", [client.pk])
        first_id, count = cursor.fetchone()
        cursor.execute(
            """
            INSERT INTO integrations_callcustomer (client_id, call_id, customer_id, order_id, match, phone, linked_at)
            SELECT client_id, id, CASE WHEN id %% 10 = 0 THEN NULL ELSE %(first)s + id %% %(count)s END, NULL,
                CASE WHEN id %% 10 = 0 THEN 'none' ELSE 'phone' END, from_number, now()
            FROM recordings_call WHERE client_id = %(client)s
            """,
            {"client": client.pk, "first": first_id, "count": count},
        )
    return time.perf_counter() - started


def seed(*, calls: int, customers: int, orders: int, others: int) -> tuple[Client, float]:
    client = Client.objects.filter(slug=f"bench-{calls}").first()
    if client is None:
        raise SystemExit(f"Run bench/calls_list.py --calls {calls} first: it seeds the calls of bench-{calls}.")
    seconds = seed_customers(client, customers=customers, orders=orders)
    for number in range(1, others + 1):
        other, _ = Client.objects.get_or_create(
            slug=f"bench-{calls}-shop-{number}", defaults={"name": f"Bench shop {number}"}
        )
        seconds += seed_customers(other, customers=customers // 10, orders=orders // 10)
    seconds += link_calls(client)
    ShopifyConnection.objects.get_or_create(
        client=client,
        defaults={"shop_domain": "bench.myshopify.com", "access_token": "shpat_bench", "api_version": "2026-04"},
    )
    if seconds:
        with connection.cursor() as cursor:
            for table in ("shopifycustomer", "shopifyorder", "shopifyphone", "callcustomer"):
                cursor.execute(f"VACUUM ANALYZE integrations_{table}")
    return client, seconds


def percentile(values: list[float], share: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(len(ordered) * share))]


def time_lookups(client: Client, numbers: list[str]) -> list[float]:
    samples = []
    for phone in numbers:
        started = time.perf_counter()
        customer_lookup(client=client, phone=phone)
        samples.append((time.perf_counter() - started) * 1000)
    return samples


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--calls", type=int, default=1_000_000, help="the bench/calls_list.py client to use")
    parser.add_argument("--customers", type=int, default=1_000_000)
    parser.add_argument("--orders", type=int, default=5_000_000)
    parser.add_argument("--other-clients", type=int, default=2, help="clients with a tenth as many customers")
    parser.add_argument("--lookups", type=int, default=3000, help="timed lookups per kind of number")
    parser.add_argument("--runs", type=int, default=201, help="timed requests per call detail case")
    args = parser.parse_args()
    if connection.vendor != "postgresql":
        parser.error("needs PostgreSQL: set DATABASE_URL=postgres://… (see bench/README.md)")
    settings.DEBUG = False
    settings.RATE_LIMITS = {**settings.RATE_LIMITS, "api_user": "1000000/m"}

    print(f"Seeding (skipped when present): {args.customers:,} customers, {args.orders:,} orders", flush=True)
    client, seed_seconds = seed(
        calls=args.calls, customers=args.customers, orders=args.orders, others=args.other_clients
    )
    rng = random.Random(0)
    known = [number_of(rng.randrange(1, args.customers)) for _ in range(args.lookups)]
    shared = [
        number_of(SHARED_EVERY * rng.randrange(1, args.customers // SHARED_EVERY) - 1) for _ in range(args.lookups)
    ]
    unknown = [f"+9160{rng.randrange(10**8):08d}" for _ in range(args.lookups)]
    assert customer_lookup(client=client, phone=known[0])["customer_match"] == "phone"
    assert customer_lookup(client=client, phone=shared[0])["customer_match"] == "ambiguous"
    assert customer_lookup(client=client, phone=unknown[0])["customer_match"] == "none"
    time_lookups(client, known[:200] + shared[:200] + unknown[:200])  # warm-up
    lookups = {
        "known number": time_lookups(client, known),
        "shared number": time_lookups(client, shared),
        "unknown number": time_lookups(client, unknown),
    }
    everything = [value for values in lookups.values() for value in values]

    user = User.objects.filter(email=f"bench@{client.slug}.caly.local").first() or User.objects.create_user(
        f"bench@{client.slug}.caly.local", client=client, role=Role.VIEWER, email_verified_at=timezone.now()
    )
    http = TestClient(HTTP_HOST="127.0.0.1")
    http.force_login(user)
    request_samples = []
    for phone in known[:300]:
        started = time.perf_counter()
        response = http.get("/api/v1/lookup", {"phone": phone})
        request_samples.append((time.perf_counter() - started) * 1000)
        assert response.status_code == 200, response.content[:300]

    linked = CallCustomer.objects.filter(client=client, customer__isnull=False).order_by("-call_id").first()
    call = Call.objects.get(pk=linked.call_id)
    url = f"/api/v1/calls/{call.public_id}"
    detail = {"with the customer": [], "without (CALL_CONTEXT empty)": []}
    contexts = {"with the customer": settings.CALL_CONTEXT, "without (CALL_CONTEXT empty)": ""}
    for path in contexts.values():
        with override_settings(CALL_CONTEXT=path):
            for _ in range(10):
                assert http.get(url).status_code == 200
    order = list(detail)
    for _ in range(args.runs):
        rng.shuffle(order)
        for name in order:
            with override_settings(CALL_CONTEXT=contexts[name]):
                started = time.perf_counter()
                response = http.get(url)
                detail[name].append((time.perf_counter() - started) * 1000)
            assert response.status_code == 200
    with override_settings(CALL_CONTEXT=contexts["with the customer"]):
        assert http.get(url).json()["data"]["customer"] is not None

    medians = {name: statistics.median(values) for name, values in detail.items()}
    ratios = {
        "lookup p99 (ms)": percentile(everything, 0.99),
        "call detail with / without the customer": medians["with the customer"]
        / medians["without (CALL_CONTEXT empty)"],
    }
    with connection.cursor() as db:
        db.execute("SHOW server_version")
        (version,) = db.fetchone()
        db.execute("SELECT count(*) FROM integrations_shopifycustomer")
        (all_customers,) = db.fetchone()
        db.execute("SELECT count(*) FROM integrations_shopifyorder")
        (all_orders,) = db.fetchone()
    print()
    own = ShopifyCustomer.objects.for_client(client).count()
    print(f"PostgreSQL {version}; client {client.slug}: {own:,} customers")
    print(f"all clients: {all_customers:,} customers, {all_orders:,} orders")
    print(f"seeding: {seed_seconds:.0f} s" if seed_seconds else "seeding: data already present")
    print()
    print(f"{'lookup (selector, in-process)':<32} {'p50 ms':>8} {'p99 ms':>8}")
    for name, values in lookups.items():
        print(f"{name:<32} {percentile(values, 0.5):>8.2f} {percentile(values, 0.99):>8.2f}")
    p50, p99 = percentile(request_samples, 0.5), percentile(request_samples, 0.99)
    print(f"{'GET /api/v1/lookup (request)':<32} {p50:>8.2f} {p99:>8.2f}")
    print()
    print(f"{'call detail (request)':<32} {'median ms':>10}   ({args.runs} runs each, taking turns)")
    for name, value in medians.items():
        print(f"{name:<32} {value:>10.2f}")
    print()
    print(f"{'figure':<42} {'value':>8}  target")
    missed = 0
    for name, value in ratios.items():
        op, target = TARGETS[name]
        met = value < target if op == "<" else value <= target
        missed += not met
        print(f"{name:<42} {value:>8.2f}  {op} {target:<5} {'ok' if met else 'MISSED'}")
    return 1 if missed else 0


if __name__ == "__main__":
    sys.exit(main())
