"""API keys: creating, revoking and listing them, reading a presented key, and recording its use.

A key reads `caly_live_<prefix>_<secret>`: the prefix (12 lowercase letters and digits) is stored
as it is and shown on the Developers page; the whole key is kept only as an HMAC-SHA256 under a
server secret (API_KEY_HASH_SECRET, else one derived from SECRET_KEY), found by its prefix and
compared in constant time. The key itself is shown once, when it is made.

A key acts as its creator, within its scope (accounts/roles.py, SCOPE_CAPABILITIES): a request
may do what both allow at that moment. So a key never does more than a person with the creator's
role could, and:
- a creator who is deactivated stops their keys (401) until they are reactivated;
- a creator who loses a role narrows their keys to what the new role allows (403 beyond it);
- a deactivated client's keys stop working (401).
Revoking is final, and takes effect on the next request: every request reads the key's row.
"""

from __future__ import annotations

import hashlib
import hmac
import re
import secrets
from datetime import datetime, timedelta

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import transaction
from django.db.models import Case, IntegerField, Q, QuerySet, Value, When
from django.utils import timezone

from accounts.audit import audit_record
from accounts.models import ApiKey, AuditAction, Client, User
from accounts.roles import SCOPE_CAPABILITIES, ApiKeyScope, Capability
from caly.foundation.errors import DomainError, ErrorCode

KEY_PREFIX = "caly_live_"
PREFIX_ALPHABET = "abcdefghijklmnopqrstuvwxyz0123456789"
PREFIX_LENGTH = 12
SECRET_BYTES = 32
# caly_live_ + 12 + _ + 43 (token_urlsafe(32)); anything much longer is not a key.
KEY_MAX_LENGTH = 100
_KEY_PATTERN = re.compile(r"caly_live_([a-z0-9]{12})_([A-Za-z0-9_-]{20,80})")
NAME_MAX_LENGTH = 100
# A client keeps at most this many keys that are neither revoked nor expired.
MAX_ACTIVE_KEYS = 50
# last_used_at and last_used_ip are written at most this often per key, so a request stays cheap.
LAST_USED_INTERVAL = timedelta(minutes=1)
# Expiry: at most this far ahead (a key for ever is made without an expiry).
MAX_EXPIRY = timedelta(days=3 * 366)


def _invalid(field: str, message: str) -> DomainError:
    return DomainError(ErrorCode.VALIDATION_ERROR, "The request is invalid.", details={field: [message]})


def hash_key(raw: str) -> str:
    """The stored form of a whole key: HMAC-SHA256 under the server's API key secret, hex."""
    return hmac.new(settings.API_KEY_HASH_SECRET.encode(), raw.encode(), hashlib.sha256).hexdigest()


def parse_key(raw: str) -> str | None:
    """The prefix of a well-formed key, or None."""
    if len(raw) > KEY_MAX_LENGTH:
        return None
    match = _KEY_PATTERN.fullmatch(raw)
    return match.group(1) if match else None


def _new_prefix() -> str:
    while True:
        prefix = "".join(secrets.choice(PREFIX_ALPHABET) for _ in range(PREFIX_LENGTH))
        if not ApiKey.objects.filter(prefix=prefix).exists():
            return prefix


def scope_allows(scope: str, capability: Capability, *, method: str) -> bool:
    """Whether a key of `scope` may use `capability` for an HTTP `method`.

    `read` never authorises a write for a key: the endpoints that change one's own profile or
    password ask only for `read`, and a key must not change its creator's account.
    """
    if capability not in SCOPE_CAPABILITIES[ApiKeyScope(scope)]:
        return False
    return method in ("GET", "HEAD", "OPTIONS") or capability != Capability.READ


# --- writes ------------------------------------------------------------------------------------


@transaction.atomic
def api_key_create(
    *, client: Client, actor: User, name: str, scope: str, expires_at: datetime | None = None
) -> tuple[ApiKey, str]:
    """Make a key for `client`; returns it with the whole key, which is never shown again.

    VALIDATION_ERROR for a blank or over-long name, an unknown scope, a scope beyond the actor's
    role, or an expiry not in the future (or more than three years ahead); PERMISSION_DENIED when
    the actor may not manage developer settings; CONFLICT past MAX_ACTIVE_KEYS.
    """
    if actor.client_id != client.pk or Capability.MANAGE_DEVELOPERS not in actor.capabilities:
        raise DomainError(ErrorCode.PERMISSION_DENIED, "Only admins and owners manage API keys.")
    name = name.strip()
    if not name:
        raise _invalid("name", "Give the key a name.")
    if len(name) > NAME_MAX_LENGTH:
        raise _invalid("name", f"At most {NAME_MAX_LENGTH} characters.")
    if not name.isprintable():
        raise _invalid("name", "Letters, digits, spaces and punctuation only.")
    if scope not in ApiKeyScope.values:
        raise _invalid("scope", f"One of: {', '.join(ApiKeyScope.values)}.")
    beyond = SCOPE_CAPABILITIES[ApiKeyScope(scope)] - actor.capabilities
    if beyond:
        names = ", ".join(sorted(beyond))
        raise _invalid("scope", f"This scope allows what your role does not ({names}); choose a narrower one.")
    now = timezone.now()
    if expires_at is not None:
        if timezone.is_naive(expires_at):
            raise _invalid("expires_at", "Give a time zone (for example 2027-01-31T00:00:00+05:30).")
        if expires_at <= now:
            raise _invalid("expires_at", "The expiry must be in the future.")
        if expires_at > now + MAX_EXPIRY:
            raise _invalid("expires_at", "At most three years ahead; leave it empty for a key that does not expire.")
    active = (
        api_key_list(client=client)
        .filter(revoked_at__isnull=True)
        .filter(Q(expires_at__isnull=True) | Q(expires_at__gt=now))
    )
    if active.count() >= MAX_ACTIVE_KEYS:
        raise DomainError(
            ErrorCode.CONFLICT, f"A company has at most {MAX_ACTIVE_KEYS} active API keys; revoke one first."
        )
    prefix = _new_prefix()
    raw = f"{KEY_PREFIX}{prefix}_{secrets.token_urlsafe(SECRET_BYTES)}"
    key = ApiKey(
        client=client,
        name=name,
        prefix=prefix,
        secret_hmac=hash_key(raw),
        scope=scope,
        created_by=actor,
        expires_at=expires_at,
    )
    try:
        key.full_clean()
    except ValidationError as exc:
        raise DomainError(ErrorCode.VALIDATION_ERROR, "The request is invalid.", details=exc.message_dict) from None
    key.save()
    audit_record(
        action=AuditAction.API_KEY_CREATED,
        client=client,
        actor=actor,
        target=key,
        metadata={
            "name": key.name,
            "prefix": prefix,
            "scope": scope,
            "expires_at": expires_at.isoformat() if expires_at else None,
        },
    )
    return key, raw


@transaction.atomic
def api_key_revoke(*, client: Client, actor: User, api_key: ApiKey) -> ApiKey:
    """Revoke `api_key` for good; its next request is refused. Revoking a revoked key changes nothing."""
    key = ApiKey.objects.for_client(client).select_for_update().get(pk=api_key.pk)
    if key.revoked_at is not None:
        return key
    key.revoked_at = timezone.now()
    key.revoked_by = actor
    key.save(update_fields=["revoked_at", "revoked_by"])
    audit_record(
        action=AuditAction.API_KEY_REVOKED,
        client=client,
        actor=actor,
        target=key,
        metadata={"name": key.name, "prefix": key.prefix},
    )
    return key


def api_key_record_use(*, api_key: ApiKey, ip: str | None) -> None:
    """Note that `api_key` was used now from `ip`: at most once per LAST_USED_INTERVAL, one UPDATE
    that only one of several concurrent requests wins; the first use ever is audited."""
    now = timezone.now()
    if api_key.last_used_at is not None and now - api_key.last_used_at < LAST_USED_INTERVAL:
        return
    stale = Q(last_used_at__isnull=True) | Q(last_used_at__lt=now - LAST_USED_INTERVAL)
    updated = ApiKey.objects.filter(stale, pk=api_key.pk).update(last_used_at=now, last_used_ip=ip)
    if updated and api_key.last_used_at is None:
        audit_record(
            action=AuditAction.API_KEY_FIRST_USED,
            client=api_key.client,
            actor=api_key.created_by,
            target=api_key,
            metadata={"name": api_key.name, "prefix": api_key.prefix, "ip": ip},
        )
    api_key.last_used_at, api_key.last_used_ip = now, ip


# --- reads -------------------------------------------------------------------------------------


def api_key_list(*, client: Client) -> QuerySet[ApiKey]:
    """The client's keys: active ones first, then newest first, with their creators."""
    return (
        ApiKey.objects.for_client(client)
        .select_related("created_by", "revoked_by")
        .annotate(
            is_revoked=Case(When(revoked_at__isnull=True, then=Value(0)), default=Value(1), output_field=IntegerField())
        )
        .order_by("is_revoked", "-created_at", "-id")
    )
