"""Rate limits on the shared cache (django-ratelimit), answered with 429 and an exact Retry-After."""

from __future__ import annotations

import math

from django_ratelimit.core import get_usage

from caly.api.errors import ApiError, ErrorCode


def enforce_rate(request, *, group: str, key: str, rate: str) -> None:
    """Count this request against `rate` for `key`; raise ApiError(RATE_LIMITED) past it."""
    usage = get_usage(request, group=group, key=key, rate=rate, increment=True)
    if usage and usage["should_limit"]:
        retry_after = max(1, math.ceil(usage["time_left"]))
        raise ApiError(
            ErrorCode.RATE_LIMITED,
            f"Too many requests; retry in {retry_after} seconds.",
            headers={"Retry-After": str(retry_after)},
        )
