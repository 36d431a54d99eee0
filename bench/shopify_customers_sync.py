"""The first full sync of a large Shopify store's customers and orders: time and the worker's peak memory.

Run by hand, never in the test suite (see bench/README.md):

    DATABASE_URL=postgres://postgres@127.0.0.1:5432/caly_bench .venv/bin/python bench/shopify_customers_sync.py

The fake Shopify of the tests (tests/shopify_fake.py) runs in its own process on 127.0.0.1 and makes the
store on the fly: `--customers` customers with `--orders-per-customer` orders each, exported as a bulk
operation whose JSONL file it streams over loopback HTTP. This process is the worker: it runs
`customer_sync.customers_sync` as the task does (bulk export, streamed, written in batches with the
phone index and call links). It syncs a store a tenth of the size first, then the full one, each into a
client of its own, resetting the kernel's peak-RSS mark (/proc/self/clear_refs) before each: flat
memory shows as the same peak for both sizes, whatever the file's size.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.harness import ROOT, free_port, memory_kib

_FAKE = r"""
import logging, sys
from pytest_httpserver import HTTPServer
logging.getLogger("werkzeug").setLevel(logging.ERROR)
from tests.shopify_fake import FakeShopify
server = HTTPServer(host="127.0.0.1", port=int(sys.argv[1]), threaded=True)
server.start()
fake = FakeShopify(server)
fake.generate(customers=int(sys.argv[2]), orders_per_customer=int(sys.argv[3]))
fake.bulk_polls = 0
print(fake.url, flush=True)
sys.stdin.read()
server.stop()
"""


def fake_shopify(customers: int, orders_per_customer: int) -> tuple[subprocess.Popen, str]:
    process = subprocess.Popen(
        [sys.executable, "-c", _FAKE, str(free_port()), str(customers), str(orders_per_customer)],
        cwd=ROOT,
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    url = process.stdout.readline().strip()
    if not url.startswith("http"):
        raise SystemExit("The fake Shopify did not start.")
    return process, url


def sync_once(*, customers: int, orders_per_customer: int, slug: str) -> dict:
    from django.conf import settings
    from django.db import connection as db
    from django.utils import timezone

    from accounts.models import Client
    from integrations.models import ShopifyConnection, ShopifyCustomer, ShopifyOrder, ShopifyPhone
    from integrations.shopify import customer_sync
    from tests.shopify_fake import ACCESS_TOKEN, API_VERSION, SHOP_DOMAIN

    Client.objects.filter(slug=slug).delete()
    client = Client.objects.create(name=slug, slug=slug)
    connection = ShopifyConnection.objects.create(
        client=client, shop_domain=SHOP_DOMAIN, access_token=ACCESS_TOKEN, api_version=API_VERSION
    )
    process, url = fake_shopify(customers, orders_per_customer)
    try:
        settings.SHOPIFY_API_BASE_URL_OVERRIDE = url
        customer_sync.SMALL_STORE_CUSTOMERS = 0  # always the bulk export
        started = customer_sync.customers_sync_begin(connection=connection, actor=None, source="bench")
        Path("/proc/self/clear_refs").write_text("5")  # peak RSS := current RSS
        before, _ = memory_kib()
        t0 = time.perf_counter()
        result = customer_sync.customers_sync(connection=connection, started=started, mode=customer_sync.FULL)
        seconds = time.perf_counter() - t0
        _, peak = memory_kib()
    finally:
        process.stdin.close()
        process.wait(timeout=30)
    if not result.ok:
        raise SystemExit(f"The sync failed: {result.error}")
    return {
        "customers": ShopifyCustomer.objects.filter(client=client).count(),
        "orders": ShopifyOrder.objects.filter(client=client).count(),
        "phones": ShopifyPhone.objects.filter(client=client).count(),
        "seconds": seconds,
        "rss_before_mib": before / 1024,
        "peak_mib": peak / 1024,
        "added_mib": (peak - before) / 1024,
        "database": db.vendor,
        "at": timezone.now().isoformat(timespec="seconds"),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--customers", type=int, default=100_000)
    parser.add_argument("--orders-per-customer", type=int, default=5)
    parser.add_argument("--keep", action="store_true", help="Keep the bench clients' rows afterwards.")
    args = parser.parse_args()

    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "caly.settings.local")
    os.environ.setdefault("LOG_LEVEL", "warning")
    import django

    django.setup()
    from django.conf import settings

    from accounts.models import Client

    settings.DEBUG = False  # Django would keep every query (and its thousand rows of parameters)

    sizes = [max(args.customers // 10, 1), args.customers]
    rows = []
    for customers in sizes:
        slug = f"bench-shopify-{customers}"
        rows.append(sync_once(customers=customers, orders_per_customer=args.orders_per_customer, slug=slug))
        if not args.keep:
            Client.objects.filter(slug=slug).delete()

    print(f"database: {rows[0]['database']}")
    print(
        f"{'customers':>10} {'orders':>10} {'phones':>10} {'seconds':>9} {'rows/s':>9} "
        f"{'peak MiB':>9} {'added MiB':>10}"
    )
    for row in rows:
        rate = (row["customers"] + row["orders"]) / row["seconds"]
        print(
            f"{row['customers']:>10,} {row['orders']:>10,} {row['phones']:>10,} {row['seconds']:>9.1f} "
            f"{rate:>9,.0f} {row['peak_mib']:>9.1f} {row['added_mib']:>10.1f}"
        )
    small, large = rows
    print(
        f"size ×{large['customers'] / small['customers']:.0f}: time ×{large['seconds'] / small['seconds']:.1f}, "
        f"memory added ×{max(large['added_mib'], 0.1) / max(small['added_mib'], 0.1):.2f} (flat is ×1)"
    )


if __name__ == "__main__":
    main()
