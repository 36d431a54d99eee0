"""The accounts rate limits (settings.RATE_LIMITS), shared by the API and the browser pages.

Login counts every attempt per account and per IP *before* the password is checked (an atomic
increment in the shared cache, so parallel requests cannot slip past the limit while passwords
are being hashed), and gives the attempt back when the password was right: only failures use
the budget up.

While Redis is unreachable every one of these limits counts in the process instead, at the same
rate (caly/foundation/ratelimit.py has the table): sign-in and refresh keep working, and stay limited.
"""

from __future__ import annotations

import hashlib

from django.conf import settings

from caly.foundation.ratelimit import count, enforce_rate, give_back, raise_rate_limited


def _account_key(email: str):
    digest = hashlib.sha256(email.strip().lower().encode()).hexdigest()
    return lambda group, request: digest


def _login_limits(email: str):
    return (("login-ip", "ip", "login_ip"), ("login-account", _account_key(email), "login_account"))


def login_attempt(request, email: str) -> None:
    """Count this attempt against the account and the address; 429 once either is past its limit.

    A refused attempt checks no password, so it gives back what it counted.
    """
    refused = [
        usage["time_left"]
        for usage in (
            count(request, group=group, key=key, rate=settings.RATE_LIMITS[rate_name])
            for group, key, rate_name in _login_limits(email)
        )
        if usage and usage["should_limit"]
    ]
    if refused:
        login_refund(request, email)
        raise_rate_limited(max(refused), group="login")


def login_refund(request, email: str) -> None:
    """Give an attempt back to both counters (the password was right, or it was never checked)."""
    for group, key, rate_name in _login_limits(email):
        give_back(request, group=group, key=key, rate=settings.RATE_LIMITS[rate_name])


def enforce(request, *, group: str, rate_name: str, key="ip") -> None:
    """Count this request against RATE_LIMITS[rate_name]; 429 past it."""
    enforce_rate(request, group=group, key=key, rate=settings.RATE_LIMITS[rate_name])


def refresh_check(request, family_id) -> None:
    enforce(request, group="refresh-family", rate_name="refresh_family", key=lambda group, request: str(family_id))
