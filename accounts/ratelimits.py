"""The accounts rate limits (settings.RATE_LIMITS), shared by the API and the browser pages.

Login counts failed attempts, per account and per IP, and refuses further attempts once either
is spent — before the password is even checked.
"""

from __future__ import annotations

import hashlib

from django.conf import settings
from django_ratelimit.core import get_usage

from caly.ratelimit import enforce_rate, raise_rate_limited


def _account_key(email: str):
    digest = hashlib.sha256(email.strip().lower().encode()).hexdigest()
    return lambda group, request: digest


def _login_limits(email: str):
    return (("login-ip", "ip", "login_ip"), ("login-account", _account_key(email), "login_account"))


def login_check(request, email: str) -> None:
    """Refuse (429) when this account or this address has no failed attempts left."""
    for group, key, rate_name in _login_limits(email):
        usage = get_usage(request, group=group, key=key, rate=settings.RATE_LIMITS[rate_name], increment=False)
        if usage and usage["count"] >= usage["limit"]:
            raise_rate_limited(usage["time_left"])


def login_failed(request, email: str) -> None:
    """Count a failed attempt against the account and the address."""
    for group, key, rate_name in _login_limits(email):
        get_usage(request, group=group, key=key, rate=settings.RATE_LIMITS[rate_name], increment=True)


def enforce(request, *, group: str, rate_name: str, key="ip") -> None:
    """Count this request against RATE_LIMITS[rate_name]; 429 past it."""
    enforce_rate(request, group=group, key=key, rate=settings.RATE_LIMITS[rate_name])


def refresh_check(request, family_id) -> None:
    enforce(request, group="refresh-family", rate_name="refresh_family", key=lambda group, request: str(family_id))
