"""Rate limits on the shared cache (django-ratelimit), answered with 429 and an exact Retry-After.

The counters live in the "ratelimit" cache, which raises when Redis cannot be reached (see
`redis_caches` in caly/settings/base.py). No limit then fails open (an outage would lift every
bound: unlimited password guessing, exports, e-mails) and none fails closed (sign-in and refresh
answering 503 would end every API session within the access-token lifetime). Every limit falls
back to counters kept in the process, at the same rate:

| limit (setting)                       | group                       | while Redis is unreachable      |
|---------------------------------------|-----------------------------|---------------------------------|
| RATE_LIMITS login_account, login_ip   | login-account, login-ip     | per-process counters, same rate |
| RATE_LIMITS register_ip               | register                    | per-process counters, same rate |
| RATE_LIMITS password_reset_ip         | email-links                 | per-process counters, same rate |
| RATE_LIMITS refresh_family            | refresh-family              | per-process counters, same rate |
| RATE_LIMITS invite_user               | invitations                 | per-process counters, same rate |
| RATE_LIMITS export_user               | calls-export                | per-process counters, same rate |
| RATE_LIMITS api_user                  | api-user                    | per-process counters, same rate |
| RATE_LIMITS api_key                   | api-key                     | per-process counters, same rate |
| RATE_LIMIT_WEBHOOK                    | webhook-shopify, exotel-*   | per-process counters, same rate |
| RATE_LIMIT_WEBHOOK_UNVERIFIED         | webhook-shopify-unverified  | per-process counters, same rate |
| CLIENT_ERRORS_RATE                    | client-errors               | per-process counters, same rate |
| PLACE_CALL_RATE (recordings)          | calls-place                 | per-process counters, same rate |

So does every other caller of `count` and `enforce_rate` (the admin sign-in counts with the login limits).
Each process counts on its own meanwhile, so across N web processes a key gets at most N times its
budget: bounded, where failing open is not. After a failure the shared counters are left alone for
RATE_LIMIT_SHARED_RETRY_SECONDS (a hung Redis costs one socket timeout, not one per request), then
tried again: when Redis is back they count again, without a restart. Each fallback is logged (once
per retry period) and counted in caly_rate_limit_fallbacks_total by limit group.
"""

from __future__ import annotations

import ipaddress
import logging
import math
import threading
import time

from django.conf import settings
from django.core.cache import caches
from django_ratelimit.core import get_usage
from prometheus_client import Counter
from redis.exceptions import RedisError

from caly.foundation import metrics
from caly.foundation.adapters.ratelimit import counter_key, split_rate
from caly.foundation.errors import DomainError, ErrorCode
from caly.foundation.http import client_ip

logger = logging.getLogger("caly.ratelimit")

# What the cache raises while Redis is down or hung (django-redis passes redis-py's errors through).
CACHE_ERRORS = (RedisError, OSError)
FALLBACKS = Counter(
    "caly_rate_limit_fallbacks",
    "Requests counted by a process's own rate-limit counters because the shared ones were unreachable, by group.",
    ["group"],
)


class ProcessCounters:
    """Fixed-window counters in this process's memory, thread-safe; the stand-in for the shared ones.

    Holds at most `max_keys` windows: past that, ended windows are dropped first, then the oldest.
    """

    def __init__(self, max_keys: int = 50_000):
        self.max_keys = max_keys
        self._lock = threading.Lock()
        self._windows: dict[tuple, list] = {}  # key -> [window end (epoch seconds), count]

    def hit(self, key: tuple, *, limit: int, period: int) -> dict:
        """Count one request; django-ratelimit's usage dict (count, limit, should_limit, time_left)."""
        now = time.time()
        with self._lock:
            window = self._windows.get(key)
            if window is None or window[0] <= now:
                if window is None and len(self._windows) >= self.max_keys:
                    self._make_room(now)
                window = self._windows[key] = [(now // period + 1) * period, 0]
            window[1] += 1
            count = window[1]
            time_left = window[0] - now
        return {"count": count, "limit": limit, "should_limit": count > limit, "time_left": time_left}

    def __len__(self) -> int:
        return len(self._windows)

    def give_back(self, key: tuple) -> None:
        with self._lock:
            window = self._windows.get(key)
            if window is not None and window[1] > 0:
                window[1] -= 1

    def _make_room(self, now: float) -> None:
        for key in [key for key, (ends, _) in self._windows.items() if ends <= now]:
            del self._windows[key]
        excess = len(self._windows) - self.max_keys * 9 // 10
        for key in list(self._windows)[: max(excess, 0)]:
            del self._windows[key]


class SharedCounters:
    """Whether to ask Redis: not for RATE_LIMIT_SHARED_RETRY_SECONDS after it failed."""

    def __init__(self):
        self._lock = threading.Lock()
        self._retry_at = 0.0  # time.monotonic() before which the shared counters are not asked
        self._failing = False

    def usable(self) -> bool:
        return time.monotonic() >= self._retry_at

    def failed(self, exc: BaseException) -> None:
        with self._lock:
            self._retry_at = time.monotonic() + settings.RATE_LIMIT_SHARED_RETRY_SECONDS
            self._failing = True
        logger.warning(
            "Rate-limit counters unreachable (%s: %s); counting in this process for %s s",
            type(exc).__name__,
            exc,
            settings.RATE_LIMIT_SHARED_RETRY_SECONDS,
        )

    def answered(self) -> None:
        if self._failing:
            with self._lock:
                self._failing = False
            logger.info("Rate-limit counters reachable again; counting in the shared cache")


shared_counters = SharedCounters()
process_counters = ProcessCounters()


def count(request, *, group: str, key, rate: str) -> dict | None:
    """Count this request against `rate` for `key`: django-ratelimit's usage, or None if not limited.

    With the shared counters out of reach, this process's counters answer instead.
    """
    if shared_counters.usable():
        try:
            usage = get_usage(request, group=group, key=key, rate=rate, increment=True)
        except CACHE_ERRORS as exc:
            shared_counters.failed(exc)
        else:
            shared_counters.answered()
            return usage
    FALLBACKS.labels(group).inc()
    limit, period = split_rate(rate)
    return process_counters.hit(_process_key(request, group=group, key=key, rate=rate), limit=limit, period=period)


def give_back(request, *, group: str, key, rate: str) -> None:
    """Give back a request `count` counted (django-ratelimit has no decrement): in the shared counters,
    or in this process's while those are out of reach."""
    if shared_counters.usable():
        cache = caches[getattr(settings, "RATELIMIT_USE_CACHE", "default")]
        try:
            cache.decr(counter_key(request, group=group, key=key, rate=rate))
            return
        except ValueError:  # the window rolled over meanwhile: nothing to give back
            return
        except CACHE_ERRORS as exc:  # the request was counted here, or stays counted there
            shared_counters.failed(exc)
    process_counters.give_back(_process_key(request, group=group, key=key, rate=rate))


def enforce_rate(request, *, group: str, key, rate: str) -> None:
    """Count this request against `rate` for `key`; raise DomainError(RATE_LIMITED) past it."""
    usage = count(request, group=group, key=key, rate=rate)
    if usage and usage["should_limit"]:
        raise_rate_limited(usage["time_left"], group=group)


def _process_key(request, *, group: str, key, rate: str) -> tuple[str, str, str]:
    """The key's value as django-ratelimit reads it: a callable's answer, the user, or the address."""
    if callable(key):
        value = str(key(group, request))
    elif key == "user" and getattr(request, "user", None) is not None and request.user.is_authenticated:
        value = f"user:{request.user.pk}"
    elif key in ("ip", "user"):
        address = ipaddress.ip_address(client_ip(request))
        value = str(ipaddress.ip_network(f"{address}/{64 if address.version == 6 else 32}", strict=False))
    else:
        raise ValueError(f"Unsupported rate-limit key: {key!r}")
    return group, rate, value


def raise_rate_limited(time_left: float, *, group: str) -> None:
    """Refuse with 429 and Retry-After; counted per limit group in caly_rate_limit_rejections_total."""
    metrics.record_rate_limited(group)
    retry_after = max(1, math.ceil(time_left))
    raise DomainError(
        ErrorCode.RATE_LIMITED,
        f"Too many requests; try again in {retry_after} seconds.",
        retry_after=retry_after,
    )
