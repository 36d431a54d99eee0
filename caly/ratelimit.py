"""Rate limits on the shared cache (django-ratelimit), answered with 429 and an exact Retry-After.

The counters live in the "ratelimit" cache, which raises when Redis cannot be reached (see
`redis_caches` in caly/settings/base.py). What happens then is each limit's choice: a limit that
guards against guessing or abuse (sign-in, sign-up, password reset, refresh) fails closed with a
503, since a count it cannot read would let attempts through without end; every other limit fails
open, so an outage of the cache takes nothing else down with it.
"""

from __future__ import annotations

import ipaddress
import logging
import math

from django.conf import settings
from django_ratelimit.core import get_usage
from redis.exceptions import RedisError

from caly import metrics
from caly.api.errors import ApiError, ErrorCode

logger = logging.getLogger("caly.ratelimit")

# What the cache raises while Redis is down or hung (django-redis passes redis-py's errors through).
CACHE_ERRORS = (RedisError, OSError)
UNAVAILABLE_RETRY_AFTER_SECONDS = 30


def count(request, *, group: str, key, rate: str, fail_closed: bool) -> dict | None:
    """Count this request against `rate` for `key`: django-ratelimit's usage, or None if not limited.

    With the counters out of reach: ApiError(SERVICE_UNAVAILABLE) when `fail_closed`, else None.
    """
    try:
        return get_usage(request, group=group, key=key, rate=rate, increment=True)
    except CACHE_ERRORS as exc:
        logger.warning("Rate limit %s cannot count (%s): %s", group, "refusing" if fail_closed else "allowing", exc)
        if fail_closed:
            raise ApiError(
                ErrorCode.SERVICE_UNAVAILABLE,
                "This is briefly unavailable; try again in a minute.",
                headers={"Retry-After": str(UNAVAILABLE_RETRY_AFTER_SECONDS)},
            ) from None
        return None


def enforce_rate(request, *, group: str, key, rate: str, fail_closed: bool = False) -> None:
    """Count this request against `rate` for `key`; raise ApiError(RATE_LIMITED) past it.

    Raises ApiError(SERVICE_UNAVAILABLE) when the counters are out of reach and `fail_closed`.
    """
    usage = count(request, group=group, key=key, rate=rate, fail_closed=fail_closed)
    if usage and usage["should_limit"]:
        raise_rate_limited(usage["time_left"], group=group)


def raise_rate_limited(time_left: float, *, group: str) -> None:
    """Refuse with 429 and Retry-After; counted per limit group in caly_rate_limit_rejections_total."""
    metrics.record_rate_limited(group)
    retry_after = max(1, math.ceil(time_left))
    raise ApiError(
        ErrorCode.RATE_LIMITED,
        f"Too many requests; try again in {retry_after} seconds.",
        headers={"Retry-After": str(retry_after)},
    )


def client_ip(request) -> str:
    """The caller's address: REMOTE_ADDR, or the X-Forwarded-For entry our own proxies appended.

    With TRUSTED_PROXY_COUNT = N, the N-th address from the right of X-Forwarded-For is the one
    the outermost trusted proxy saw; anything left of it is client-supplied and ignored, so a
    forged header cannot pick another client's rate-limit bucket.
    """
    hops = settings.TRUSTED_PROXY_COUNT
    remote = request.META.get("REMOTE_ADDR") or "0.0.0.0"  # noqa: S104 - a placeholder, never bound
    if hops <= 0:
        return remote
    forwarded = [part.strip() for part in request.META.get("HTTP_X_FORWARDED_FOR", "").split(",") if part.strip()]
    if len(forwarded) < hops:
        return remote
    candidate = forwarded[-hops]
    try:
        return str(ipaddress.ip_address(candidate))
    except ValueError:
        return remote
