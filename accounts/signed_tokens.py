"""Signed, expiring, single-use tokens for e-mail links (verification, password reset).

A token signs the user's id and a fingerprint of the state the link changes (the verification
date, the password hash): once used, the state moves on and the same link no longer matches.
Nothing is stored.
"""

from __future__ import annotations

import hashlib
from datetime import timedelta

from django.core import signing
from django.utils.crypto import constant_time_compare

from accounts.models import User

VERIFY_EMAIL = "accounts.verify-email"
RESET_PASSWORD = "accounts.reset-password"  # noqa: S105 - a signing salt, not a password


def _fingerprint(purpose: str, user: User) -> str:
    if purpose == VERIFY_EMAIL:
        state = f"{user.email}|{user.email_verified_at}"
    else:
        state = f"{user.password}|{user.last_login}|{user.is_active}"
    return hashlib.sha256(f"{purpose}|{user.pk}|{state}".encode()).hexdigest()[:32]


def make_token(purpose: str, user: User) -> str:
    return signing.dumps({"u": user.pk, "f": _fingerprint(purpose, user)}, salt=purpose, compress=True)


def read_token(purpose: str, token: str, *, max_age: timedelta) -> User | None:
    """The user the token was made for, or None if it is forged, expired or already used."""
    try:
        payload = signing.loads(token, salt=purpose, max_age=max_age)
        user = User.objects.select_related("client").get(pk=int(payload["u"]))
    except (signing.BadSignature, User.DoesNotExist, KeyError, TypeError, ValueError):
        return None
    if not constant_time_compare(str(payload.get("f")), _fingerprint(purpose, user)):
        return None
    return user
