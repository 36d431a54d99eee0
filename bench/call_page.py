"""The call page with its customer card against the same page without it.

Run by hand on PostgreSQL, never in the test suite (see bench/README.md), after bench/calls_list.py and
bench/customers.py have seeded the client `bench-<calls>` and linked its calls to customers:

    DATABASE_URL=postgres://postgres@127.0.0.1:5432/caly_bench .venv/bin/python bench/call_page.py

Times whole requests of the server-rendered page `/calls/<id>/` in-process (Django's test client, every
middleware, signed in with a session as a viewer), with settings.CALL_CONTEXT as configured (the page shows the
Shopify customer card: `integrations.shopify.call_context.call_card`) and with it empty (the page as it was
before the card), the cases taking turns in a shuffled order. Cases: a call linked to a customer by its number
(the common one: the customer and the latest orders), a call linked through an order named on it, and a call
whose number no customer has.
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
os.environ.setdefault("LOG_LEVEL", "warning")  # an access-log line per request would bury the table

import django

django.setup()

from django.conf import settings
from django.db import connection
from django.test import Client as TestClient
from django.test.utils import override_settings
from django.utils import timezone

from accounts.models import Client, User
from accounts.roles import Role
from integrations.models import CallCustomer, CallMatch, ShopifyOrder
from recordings.models import Call

TARGETS = {"call page with / without the card, linked by number": ("<=", 1.3)}
CARD_STATES = {"linked by number": "phone", "linked by an order": "order", "no customer": "none"}


def bench_user(client: Client) -> User:
    email = f"bench@{client.slug}.caly.local"
    return User.objects.filter(email=email).first() or User.objects.create_user(
        email, client=client, role=Role.VIEWER, email_verified_at=timezone.now()
    )


def order_linked_call(client: Client) -> Call:
    """A call linked to its customer through an order named on it (not one of the customer's latest five): the
    bench data links calls by number only, so this turns one of them (the same one on every run) into such a
    call, as `linking` does for a call whose custom field names an order."""
    link = CallCustomer.objects.filter(client=client, customer__isnull=False).order_by("-call_id")[1]
    if link.match != CallMatch.ORDER:
        order = ShopifyOrder.objects.filter(client=client, customer_id=link.customer_id).order_by("processed_at")[0]
        CallCustomer.objects.filter(pk=link.pk).update(match=CallMatch.ORDER, order=order)
    return Call.objects.get(pk=link.call_id)


def measure(http: TestClient, cases: dict, *, runs: int, warmup: int) -> dict:
    """Median milliseconds per (case, with/without): the requests take turns in a new order each round, so
    background noise and the after-effects of a slow request fall on all alike."""
    for url, context in cases.values():
        with override_settings(CALL_CONTEXT=context):
            for _ in range(warmup):
                response = http.get(url)
                assert response.status_code == 200, (url, response.status_code, response.content[:300])
    samples: dict = {name: [] for name in cases}
    order = list(cases)
    shuffle = random.Random(0).shuffle
    for _ in range(runs):
        shuffle(order)
        for name in order:
            url, context = cases[name]
            with override_settings(CALL_CONTEXT=context):
                started = time.perf_counter()
                response = http.get(url)
                samples[name].append((time.perf_counter() - started) * 1000)
            assert response.status_code == 200, (url, response.status_code)
    return {name: statistics.median(values) for name, values in samples.items()}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--calls", type=int, default=1_000_000, help="the bench/calls_list.py client to use")
    parser.add_argument("--runs", type=int, default=201, help="timed requests per case (the median is shown)")
    parser.add_argument("--warmup", type=int, default=10, help="untimed requests per case first")
    args = parser.parse_args()
    if connection.vendor != "postgresql":
        parser.error("needs PostgreSQL: set DATABASE_URL=postgres://… (see bench/README.md)")
    settings.DEBUG = False  # Django would keep every query

    client = Client.objects.filter(slug=f"bench-{args.calls}").first()
    if client is None or not CallCustomer.objects.filter(client=client).exists():
        raise SystemExit(f"Run bench/calls_list.py --calls {args.calls}, then bench/customers.py, first.")
    linked = CallCustomer.objects.filter(client=client, customer__isnull=False, match=CallMatch.PHONE)
    calls = {
        "linked by number": Call.objects.get(pk=linked.order_by("-call_id").values_list("call_id", flat=True)[0]),
        "linked by an order": order_linked_call(client),
        "no customer": Call.objects.get(
            pk=CallCustomer.objects.filter(client=client, match=CallMatch.NONE)
            .order_by("-call_id")
            .values_list("call_id", flat=True)[0]
        ),
    }
    http = TestClient(HTTP_HOST="127.0.0.1")
    http.force_login(bench_user(client))
    cases = {}
    for name, call in calls.items():
        url = f"/calls/{call.public_id}/"
        page = http.get(url).content.decode()
        state = CARD_STATES[name]
        assert f'data-customer-state="{state}"' in page, f"the {name} call's card is not in state {state}"
        with override_settings(CALL_CONTEXT=""):
            assert "data-customer-state" not in http.get(url).content.decode()
        cases[(name, "with the card")] = (url, settings.CALL_CONTEXT)
        cases[(name, "without (CALL_CONTEXT empty)")] = (url, "")

    medians = measure(http, cases, runs=args.runs, warmup=args.warmup)
    ratios = {
        f"call page with / without the card, {name}": medians[(name, "with the card")]
        / medians[(name, "without (CALL_CONTEXT empty)")]
        for name in calls
    }
    with connection.cursor() as db:
        db.execute("SHOW server_version")
        (version,) = db.fetchone()
    print(f"PostgreSQL {version}; client {client.slug}; load average {os.getloadavg()[0]:.1f}")
    print(f"{args.runs} timed requests per case after {args.warmup} warm-up, taking turns; viewer's page")
    print()
    print(f"{'call':<20} {'page':<30} {'median ms':>10}")
    for (name, case), value in medians.items():
        print(f"{name:<20} {case:<30} {value:>10.2f}")
    print()
    print(f"{'ratio':<54} {'value':>8}  target")
    missed = 0
    for name, value in ratios.items():
        op, target = TARGETS.get(name, ("", None))
        met = target is None or value <= target
        missed += not met
        verdict = f"{op} {target:<5} {'ok' if met else 'MISSED'}" if target is not None else ""
        print(f"{name:<54} {value:>8.2f}  {verdict}")
    return 1 if missed else 0


if __name__ == "__main__":
    sys.exit(main())
