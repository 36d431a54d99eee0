"""What a request says about its caller, read the same way by rate limits, logs and /metrics."""

from __future__ import annotations

import ipaddress

from django.conf import settings


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
