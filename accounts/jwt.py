"""Sign-ins for API clients: JWT pairs whose refresh tokens rotate inside a RefreshFamily.

simplejwt signs and checks tokens (type, signature, expiry); this module decides which refresh
token is current. Each refresh token works once; the family ends at an absolute time that
rotation never extends; replaying a spent token revokes the family.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta

from django.conf import settings
from django.db import transaction
from django.db.models import F, Q, QuerySet
from django.utils import timezone
from rest_framework_simplejwt.exceptions import TokenError
from rest_framework_simplejwt.tokens import RefreshToken
from rest_framework_simplejwt.utils import datetime_from_epoch, datetime_to_epoch

from accounts.audit import audit_record
from accounts.models import AuditAction, RefreshFamily, User
from caly.foundation.errors import DomainError, ErrorCode


@dataclass(frozen=True)
class TokenPair:
    access: str
    refresh: str
    access_expires_at: datetime
    refresh_expires_at: datetime
    family_id: uuid.UUID

    def as_dict(self) -> dict:
        return {
            "access": self.access,
            "refresh": self.refresh,
            "token_type": "Bearer",
            "access_expires_at": self.access_expires_at,
            "refresh_expires_at": self.refresh_expires_at,
        }


def _pair(user: User, family: RefreshFamily, jti: str) -> TokenPair:
    refresh = RefreshToken.for_user(user)
    refresh["jti"] = jti
    refresh["fid"] = str(family.id)
    refresh["ver"] = user.token_version
    refresh["exp"] = datetime_to_epoch(family.expires_at)  # absolute: the family's end, never later
    access = refresh.access_token
    return TokenPair(
        access=str(access),
        refresh=str(refresh),
        access_expires_at=datetime_from_epoch(access["exp"]),
        refresh_expires_at=family.expires_at,
        family_id=family.id,
    )


def family_start(*, user: User, ip: str | None = None, user_agent: str = "") -> TokenPair:
    """Open a new sign-in for `user` and return its first token pair."""
    now = timezone.now()
    family = RefreshFamily.objects.create(
        user=user,
        current_jti=uuid.uuid4().hex,
        expires_at=now + settings.SIMPLE_JWT["REFRESH_TOKEN_LIFETIME"],
        ip=ip,
        user_agent=user_agent[:300],
    )
    return _pair(user, family, family.current_jti)


def _decode(raw: str) -> RefreshToken:
    try:
        return RefreshToken(raw)
    except TokenError as exc:
        if "expired" in str(exc):
            raise DomainError(ErrorCode.TOKEN_EXPIRED, "The refresh token has expired; sign in again.") from None
        raise DomainError(ErrorCode.TOKEN_INVALID, "The refresh token is not valid.") from None


def refresh_family_id(raw: str) -> uuid.UUID:
    """The family a refresh token belongs to (signature and expiry checked); raises DomainError."""
    try:
        return uuid.UUID(str(_decode(raw)["fid"]))
    except (KeyError, ValueError):
        raise DomainError(ErrorCode.TOKEN_INVALID, "The refresh token is not valid.") from None


def family_rotate(*, raw: str) -> tuple[TokenPair, RefreshFamily]:
    """Exchange a current refresh token for a new pair; raises DomainError(TOKEN_INVALID/TOKEN_EXPIRED).

    The family row is locked, so of two concurrent refreshes with one token exactly one wins.
    Revocations commit even though the request then fails.
    """
    token = _decode(raw)
    family_id, jti = refresh_family_id(raw), str(token.get("jti", ""))
    failure: DomainError | None = None
    reused = False
    with transaction.atomic():
        family = (
            RefreshFamily.objects.select_for_update(of=("self",))
            .select_related("user__client")
            .filter(pk=family_id)
            .first()
        )
        now = timezone.now()
        if family is None or family.revoked_at is not None:
            failure = DomainError(ErrorCode.TOKEN_INVALID, "This sign-in has ended; sign in again.")
        elif family.expires_at <= now:
            failure = DomainError(ErrorCode.TOKEN_EXPIRED, "This sign-in has expired; sign in again.")
        elif jti != family.current_jti:
            grace = timedelta(seconds=settings.JWT_REFRESH_REUSE_GRACE_SECONDS)
            if jti == family.previous_jti and family.rotated_at and now - family.rotated_at <= grace:
                failure = DomainError(ErrorCode.TOKEN_INVALID, "This refresh token was just used; use the newest one.")
            else:
                _revoke(family, reason="reuse_detected")
                reused = True
                failure = DomainError(
                    ErrorCode.TOKEN_INVALID, "This refresh token was already used; the sign-in has been revoked."
                )
        elif not _still_valid(family.user, token):
            _revoke(family, reason="user_changed")
            failure = DomainError(ErrorCode.TOKEN_INVALID, "This sign-in is no longer valid; sign in again.")
        else:
            family.previous_jti, family.current_jti = family.current_jti, uuid.uuid4().hex
            family.rotated_at = now
            family.rotation_count += 1
            family.save(update_fields=["previous_jti", "current_jti", "rotated_at", "rotation_count"])
            pair = _pair(family.user, family, family.current_jti)
    if reused:
        audit_record(
            action=AuditAction.TOKEN_REUSE_DETECTED,
            client=family.user.client,
            actor=family.user,
            target=family,
            metadata={"rotation_count": family.rotation_count},
        )
    if failure is not None:
        raise failure
    return pair, family


def _still_valid(user: User, token: RefreshToken) -> bool:
    return (
        user.is_active and token.get("ver") == user.token_version and user.client is not None and user.client.is_active
    )


def _revoke(family: RefreshFamily, *, reason: str) -> None:
    family.revoked_at = timezone.now()
    family.revoked_reason = reason
    family.save(update_fields=["revoked_at", "revoked_reason"])


def family_revoke(*, family_id: uuid.UUID, reason: str) -> RefreshFamily | None:
    """End one sign-in (logout). Idempotent: returns the family if this call ended it, else None."""
    with transaction.atomic():
        family = (
            RefreshFamily.objects.select_for_update(of=("self",))
            .select_related("user__client")
            .filter(pk=family_id)
            .first()
        )
        if family is None or family.revoked_at is not None:
            return None
        _revoke(family, reason=reason)
    return family


def user_revoke_all(*, user: User, reason: str) -> int:
    """End every sign-in of `user` and invalidate their outstanding access tokens."""
    User.objects.filter(pk=user.pk).update(token_version=F("token_version") + 1)
    user.refresh_from_db(fields=["token_version"])
    return RefreshFamily.objects.filter(user=user, revoked_at__isnull=True).update(
        revoked_at=timezone.now(), revoked_reason=reason
    )


def families_ended_before(*, older_than: timedelta) -> QuerySet[RefreshFamily]:
    """Families that expired or were revoked more than `older_than` ago."""
    cutoff = timezone.now() - older_than
    return RefreshFamily.objects.filter(Q(expires_at__lt=cutoff) | Q(revoked_at__lt=cutoff))


def families_purge_expired(*, older_than: timedelta = timedelta(days=1)) -> int:
    """Delete families that ended more than `older_than` ago; returns how many."""
    _, deleted = families_ended_before(older_than=older_than).delete()
    return deleted.get(RefreshFamily._meta.label, 0)
