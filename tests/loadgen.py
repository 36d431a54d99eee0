"""A small open-model load generator: requests start on a fixed schedule (a constant arrival rate) whatever
the server does, for a bounded time, each on a connection of its own, and every outcome is kept.

    from tests.loadgen import Load
    load = Load(lambda n: ("GET", f"http://127.0.0.1:{port}/health/live", {}, b""), rate=100, seconds=15)
    load.start()
    load.phase = "sighup"        # label the requests due from now on
    load.stop()                  # or let `seconds` run out
    outcomes = load.join()
    print(report(outcomes))

    python -m tests.loadgen http://127.0.0.1:8000/health/live --rate 100 --seconds 30 --concurrency 100

Open model (k6's constant-arrival-rate, wrk2's -R): a slow server does not slow the schedule down, and
latency counts from when a request was due, not from when a busy client got round to sending it, so
queueing shows (no coordinated omission). At most `concurrency` requests are in flight; one due while
all are busy is not sent and counts as `dropped` (the client was saturated, not the server wrong).

Each request carries `X-Request-ID: <run>-<n>`, so a test can look for it in the server's access log:
a failure whose id the server logged was accepted by the application; one it never logged was not.
Outcome kinds: ok (any status the caller expects), http_<status> (another status), refused (nothing
listening), reset (connection reset), closed (the server closed the connection without answering),
timeout, dropped, error (anything else). Only stdlib and httpx.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import logging
import math
import threading
import time
import uuid
from collections import Counter, defaultdict
from collections.abc import Callable, Iterable
from dataclasses import dataclass

import httpx

Request = tuple[str, str, dict[str, str], bytes]  # method, url, headers, body


@dataclass
class Outcome:
    n: int
    phase: str
    request_id: str
    due: float  # seconds after the start
    ended: float
    kind: str
    status: int | None = None
    error: str = ""

    @property
    def ok(self) -> bool:
        return self.kind == "ok"

    @property
    def latency_ms(self) -> float:
        return (self.ended - self.due) * 1000


class Load:
    def __init__(
        self,
        request: Callable[[int], Request],
        *,
        rate: float,
        seconds: float,
        concurrency: int = 100,
        timeout: float = 30.0,
        expect: Iterable[int] = range(200, 400),
    ):
        self.request = request
        self.rate = rate
        self.seconds = seconds
        self.concurrency = concurrency
        self.timeout = timeout
        self.expect = set(expect)
        self.run_id = uuid.uuid4().hex[:8]
        self.phase = "start"
        self.outcomes: list[Outcome] = []
        self.scheduled = 0
        self._stopping = False
        self._thread: threading.Thread | None = None
        self._started_at = 0.0

    def start(self) -> Load:
        logging.getLogger("httpx").setLevel(logging.WARNING)  # a line per request would drown the report
        self._thread = threading.Thread(target=lambda: asyncio.run(self._run()), name="load", daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        """Start no more requests (before `seconds` are up); those in flight finish."""
        self._stopping = True

    def elapsed(self) -> float:
        return time.monotonic() - self._started_at if self._started_at else 0.0

    def join(self) -> list[Outcome]:
        """Wait for every request due to be answered (or to time out); the outcomes, in schedule order."""
        assert self._thread is not None, "start() first"
        self._thread.join(timeout=self.seconds + self.timeout + 30)
        return sorted(self.outcomes, key=lambda outcome: outcome.n)

    async def _run(self) -> None:
        limits = httpx.Limits(max_connections=self.concurrency, max_keepalive_connections=0)
        slots = asyncio.Semaphore(self.concurrency)
        loop = asyncio.get_running_loop()
        async with httpx.AsyncClient(limits=limits, timeout=self.timeout, trust_env=False) as client:
            start = loop.time()
            self._started_at = time.monotonic()
            pending = []
            for n in range(math.ceil(self.rate * self.seconds)):
                due = n / self.rate
                await asyncio.sleep(max(0.0, start + due - loop.time()))
                if self._stopping:
                    break
                self.scheduled += 1
                request_id = f"{self.run_id}-{n}"
                if slots.locked():
                    self.outcomes.append(Outcome(n, self.phase, request_id, due, due, "dropped"))
                    continue
                await slots.acquire()
                pending.append(asyncio.create_task(self._one(client, n, due, request_id, self.phase, slots, start)))
            await asyncio.gather(*pending)

    async def _one(self, client, n: int, due: float, request_id: str, phase: str, slots, start: float) -> None:
        loop = asyncio.get_running_loop()
        method, url, headers, body = self.request(n)
        headers = {**headers, "X-Request-ID": request_id, "Connection": "close"}
        status, kind, error = None, "ok", ""
        try:
            response = await client.request(method, url, headers=headers, content=body or None)
            status = response.status_code
            kind = "ok" if status in self.expect else f"http_{status}"
        except httpx.TimeoutException as exc:
            kind, error = "timeout", repr(exc)
        except httpx.ConnectError as exc:
            kind, error = ("refused" if "refused" in str(exc).lower() else "reset"), repr(exc)
        except (httpx.ReadError, httpx.WriteError) as exc:
            kind, error = "reset", repr(exc)
        except httpx.RemoteProtocolError as exc:
            kind, error = "closed", repr(exc)
        except httpx.HTTPError as exc:
            kind, error = "error", repr(exc)
        finally:
            slots.release()
        self.outcomes.append(Outcome(n, phase, request_id, due, loop.time() - start, kind, status, error))


def percentile(values: list[float], share: float) -> float:
    if not values:
        return 0.0
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, math.ceil(share * len(ordered)) - 1))]


def report(outcomes: list[Outcome], title: str = "load") -> str:
    """A table per phase, in the order the phases began: requests, failures by kind, latency from due."""
    phases: dict[str, list[Outcome]] = defaultdict(list)
    for outcome in sorted(outcomes, key=lambda o: o.n):
        phases[outcome.phase].append(outcome)
    lines = [
        f"{title}: {len(outcomes)} requests due",
        f"{'phase':<14}{'sent':>7}{'ok':>7}{'failed':>8}  "
        f"{'p50 ms':>8}{'p95 ms':>8}{'p99 ms':>8}{'max ms':>9}  failures",
    ]
    for name, group in [*phases.items(), ("all", sorted(outcomes, key=lambda o: o.n))]:
        sent = [o for o in group if o.kind != "dropped"]
        ok = [o for o in sent if o.ok]
        latencies = [o.latency_ms for o in ok]
        kinds = Counter(o.kind for o in group if not o.ok)
        failures = ", ".join(f"{kind} {count}" for kind, count in sorted(kinds.items())) or "-"
        lines.append(
            f"{name:<14}{len(sent):>7}{len(ok):>7}{len(sent) - len(ok):>8}  "
            f"{percentile(latencies, 0.5):>8.1f}{percentile(latencies, 0.95):>8.1f}"
            f"{percentile(latencies, 0.99):>8.1f}{max(latencies, default=0):>9.1f}  {failures}"
        )
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description="Open-model load on one URL; prints a report.")
    parser.add_argument("url")
    parser.add_argument("--rate", type=float, default=100, help="requests per second (default 100)")
    parser.add_argument("--seconds", type=float, default=30, help="how long requests are started (default 30)")
    parser.add_argument("--concurrency", type=int, default=100, help="most requests in flight (default 100)")
    parser.add_argument("--timeout", type=float, default=30, help="seconds one request may take (default 30)")
    arguments = parser.parse_args()
    load = Load(
        lambda n: ("GET", arguments.url, {}, b""),
        rate=arguments.rate,
        seconds=arguments.seconds,
        concurrency=arguments.concurrency,
        timeout=arguments.timeout,
    )
    with contextlib.suppress(KeyboardInterrupt):
        outcomes = load.start().join()
        print(report(outcomes, title=arguments.url))


if __name__ == "__main__":
    main()
