"""Rate limits on the shared cache (django-ratelimit), answered with 429 and an exact Retry-After."""

from __future__ import annotations

import ipaddress
import math

from django.conf import settings
from django_ratelimit.core import get_usage

from caly import metrics
from caly.api.errors import ApiError, ErrorCode


def enforce_rate(request, *, group: str, key, rate: str) -> None:
    """Count this request against `rate` for `key`; raise ApiError(RATE_LIMITED) past it."""
    usage = get_usage(request, group=group, key=key, rate=rate, increment=True)
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
