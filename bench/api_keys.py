"""A request authenticated with an API key against the same request with a JWT access token.

Run by hand, never in the test suite (see bench/README.md):

    DATABASE_URL=postgres://postgres@127.0.0.1:5432/caly_bench REDIS_URL=redis://127.0.0.1:6379/0 \\
        .venv/bin/python bench/api_keys.py

Seeds (once) the client `bench-keys` with 1,000 calls and an owner, makes a fresh API key and a fresh
sign-in for the owner, then times whole requests in-process (Django test client, every middleware) to
two endpoints, `/api/v1/me` (the least work an authenticated request does, so authentication weighs the
most) and `/api/v1/calls?limit=50`, with each credential, taking turns in a shuffled order. Prints the
medians and the key / JWT ratios measured in this one run; target ≤ 1.1.
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
from django.utils import timezone

from accounts import api_keys, jwt
from accounts.models import Client, User
from accounts.roles import Role
from recordings import demo
from recordings.models import Call

CALLS = 1000
TARGET = 1.1
ENDPOINTS = {"me": "/api/v1/me", "calls": "/api/v1/calls?limit=50"}


def seed() -> User:
    client, _ = Client.objects.get_or_create(slug="bench-keys", defaults={"name": "Bench keys"})
    if Call.objects.for_client(client).count() < CALLS:
        demo.calls_seed(client=client, count=CALLS)
    email = "owner@bench-keys.caly.local"
    return User.objects.filter(email=email).first() or User.objects.create_user(
        email, client=client, role=Role.OWNER, email_verified_at=timezone.now()
    )


def measure(cases: dict[tuple[str, str], tuple[str, str]], *, runs: int, warmup: int) -> dict:
    """Median milliseconds per case; each case is (url, Authorization header)."""
    http = TestClient(HTTP_HOST="127.0.0.1")
    for url, header in cases.values():
        for _ in range(warmup):
            response = http.get(url, HTTP_AUTHORIZATION=header)
            assert response.status_code == 200, (url, response.status_code, response.content[:300])
    samples: dict = {case: [] for case in cases}
    order = list(cases)
    shuffle = random.Random(0).shuffle
    for _ in range(runs):
        shuffle(order)
        for case in order:
            url, header = cases[case]
            started = time.perf_counter()
            response = http.get(url, HTTP_AUTHORIZATION=header)
            samples[case].append((time.perf_counter() - started) * 1000)
            assert response.status_code == 200, (url, response.status_code)
    return {case: statistics.median(values) for case, values in samples.items()}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=401, help="timed requests per case (the median is shown)")
    parser.add_argument("--warmup", type=int, default=20, help="untimed requests per case first")
    args = parser.parse_args()

    # DEBUG would keep every query in memory; the rate limits would stop the runs.
    settings.DEBUG = False
    settings.RATE_LIMITS = {**settings.RATE_LIMITS, "api_user": "100000000/m", "api_key": "100000000/m"}

    owner = seed()
    _, raw_key = api_keys.api_key_create(client=owner.client, actor=owner, name="bench", scope="read")
    access = jwt.family_start(user=owner).access
    cases = {
        (endpoint, credential): (url, f"Bearer {token}")
        for endpoint, url in ENDPOINTS.items()
        for credential, token in (("API key", raw_key), ("JWT", access))
    }
    medians = measure(cases, runs=args.runs, warmup=args.warmup)

    print(f"database: {connection.vendor}; cache: {settings.CACHES['default']['BACKEND'].rsplit('.', 1)[-1]}")
    print(f"{args.runs} timed runs per case after {args.warmup} warm-up, in a shuffled order each round")
    print()
    print(f"{'endpoint':<10} {'credential':<10} {'median ms':>10}")
    for (endpoint, credential), value in medians.items():
        print(f"{endpoint:<10} {credential:<10} {value:>10.3f}")
    print()
    missed = 0
    for endpoint in ENDPOINTS:
        ratio = medians[(endpoint, "API key")] / medians[(endpoint, "JWT")]
        met = ratio <= TARGET
        missed += not met
        print(f"API key / JWT, {endpoint:<6} {ratio:>6.3f}  <= {TARGET} {'ok' if met else 'MISSED'}")
    return 1 if missed else 0


if __name__ == "__main__":
    sys.exit(main())
