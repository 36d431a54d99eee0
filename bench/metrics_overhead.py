"""What the request metrics cost each request, in one process and in gunicorn's multi-process mode.

Run by hand, never in the test suite (see bench/README.md):

    .venv/bin/python bench/metrics_overhead.py [--requests 20000]

For each mode it starts a fresh Python (prometheus-client picks its storage when first imported, so
the modes cannot share a process) that measures, in-process:

- `caly.foundation.metrics.observe_request` alone, called with a resolved request the way AccessLogMiddleware
  calls it: the cost of one counter increment and one histogram observation;
- whole requests to /health/live through Django's test client and every middleware, in alternating
  rounds with `observe_request` on and replaced by a no-op. Each mode's figure is its fastest round
  (the one least disturbed by whatever else the machine runs); the difference is what the metrics add
  to a real request, next to what the request costs anyway. On a busy machine this difference is
  noisier than the direct figure above it.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def measure(requests: int) -> dict:
    sys.path.insert(0, str(ROOT))
    import django

    django.setup()
    from django.test import Client
    from django.test.client import RequestFactory
    from django.urls import resolve

    from caly.foundation import metrics

    request = RequestFactory().get("/health/live")
    request.resolver_match = resolve("/health/live")
    for _ in range(1000):
        metrics.observe_request(request, 200, 0.004)
    started = time.perf_counter()
    for _ in range(requests):
        metrics.observe_request(request, 200, 0.004)
    observe_us = (time.perf_counter() - started) / requests * 1e6

    client, real = Client(), metrics.observe_request
    timings: dict[str, list[float]] = {"on": [], "off": []}
    batch = 200
    for round_number in range(2 * max(requests // batch, 4)):
        mode = "on" if round_number % 2 == 0 else "off"
        metrics.observe_request = real if mode == "on" else (lambda request, status, duration: None)
        started = time.perf_counter()
        for _ in range(batch):
            client.get("/health/live")
        timings[mode].append((time.perf_counter() - started) / batch * 1e6)
    metrics.observe_request = real
    return {
        "observe_us": observe_us,
        "request_on_us": min(timings["on"]),
        "request_off_us": min(timings["off"]),
    }


def run_mode(mode: str, requests: int) -> dict:
    env = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "caly.settings.test",
        "LOG_LEVEL": "warning",
        "DATABASE_URL": "sqlite:///:memory:",
    }
    env.pop("PROMETHEUS_MULTIPROC_DIR", None)
    with tempfile.TemporaryDirectory(prefix="caly-bench-metrics-") as folder:
        if mode == "multi-process":
            env["PROMETHEUS_MULTIPROC_DIR"] = folder
        done = subprocess.run(
            [sys.executable, __file__, "--child", "--requests", str(requests)],
            env=env,
            capture_output=True,
            text=True,
            check=True,
        )
    return json.loads(done.stdout.strip().splitlines()[-1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--requests", type=int, default=20000)
    parser.add_argument("--child", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        print(json.dumps(measure(args.requests)))
        return

    print(f"{'mode':<15}{'observe_request':>17}{'request, metrics on':>22}{'off':>10}{'added':>10}{'share':>8}")
    for mode in ("single process", "multi-process"):
        result = run_mode(mode, args.requests)
        added = result["request_on_us"] - result["request_off_us"]
        print(
            f"{mode:<15}{result['observe_us']:>14.1f} µs{result['request_on_us']:>19.1f} µs"
            f"{result['request_off_us']:>7.1f} µs{added:>7.1f} µs{added / result['request_off_us']:>8.1%}"
        )


if __name__ == "__main__":
    main()
