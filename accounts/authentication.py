"""API authentication: API keys (`Bearer caly_…`), and simplejwt's access-token check plus what simplejwt does not.

An API key is read with one indexed query (the key, its creator and the client) and refused with
401 when it is unknown, wrong, revoked or expired, or when its creator or client is deactivated;
its use is recorded at most once a minute (accounts/api_keys.py).

An access token stops working at once when its sign-in (family) is revoked (logout, reuse),
when the user's token version moves (password changed, deactivated), or when the user or
their client is deactivated — one indexed query, the same one that loads the user.
"""

import functools
import hmac
import uuid

from django.db import connections, router
from django.db.models import Exists, OuterRef
from django.utils import timezone
from rest_framework.authentication import BaseAuthentication, get_authorization_header
from rest_framework.exceptions import AuthenticationFailed as KeyRefused
from rest_framework_simplejwt.authentication import JWTAuthentication as SimpleJWTAuthentication
from rest_framework_simplejwt.exceptions import AuthenticationFailed

from accounts import api_keys
from accounts.models import ApiKey, Client, RefreshFamily, User
from caly.foundation import context
from caly.foundation.http import client_ip

API_KEY_SCHEME = b"bearer"
API_KEY_MARK = b"caly_"


class ApiKeyAuthentication(BaseAuthentication):
    """`Authorization: Bearer caly_live_<prefix>_<secret>`: the key's creator, with the key as `request.auth`.

    Any other Authorization header is left to the next class (JWT).
    """

    def authenticate(self, request):
        parts = get_authorization_header(request).split()
        if len(parts) != 2 or parts[0].lower() != API_KEY_SCHEME or not parts[1].startswith(API_KEY_MARK):
            return None
        key = live_api_key(parts[1].decode("latin-1"))
        api_keys.api_key_record_use(api_key=key, ip=client_ip(request))
        current = context.current()
        if current is not None:
            current.extra["api_key"] = key.prefix  # audit events of this request name the key
        return key.created_by, key

    def authenticate_header(self, request) -> str:
        return 'Bearer realm="api"'


def live_api_key(raw: str) -> ApiKey:
    """The key `raw` names, with its creator and client, if it may be used now; AuthenticationFailed otherwise."""
    prefix = api_keys.parse_key(raw)
    key = api_key_by_prefix(prefix) if prefix else None
    presented = api_keys.hash_key(raw)
    if key is None or not hmac.compare_digest(presented, key.secret_hmac):
        raise KeyRefused("The API key is not valid.", code="token_not_valid")
    if key.revoked_at is not None:
        raise KeyRefused("This API key has been revoked.", code="token_not_valid")
    if key.expires_at is not None and key.expires_at <= timezone.now():
        raise KeyRefused("This API key has expired; create a new one.", code="token_expired")
    creator, client = key.created_by, key.client
    if not client.is_active:
        raise KeyRefused("This company's Caly account is deactivated.", code="token_not_valid")
    if not creator.is_active or creator.client_id != client.pk:
        raise KeyRefused(
            "The member who created this API key is deactivated; an admin can create a new key.",
            code="token_not_valid",
        )
    return key


def api_key_by_prefix(prefix: str) -> ApiKey | None:
    """The key with this prefix, its creator and its client loaded: one statement (raw on PostgreSQL)."""
    alias = router.db_for_read(ApiKey)
    if connections[alias].vendor != "postgresql":
        key = ApiKey.objects.select_related("created_by", "client").filter(prefix=prefix).first()
        if key is not None:
            key.created_by.client = key.client
        return key
    with connections[alias].cursor() as cursor:
        cursor.execute(_api_key_sql(alias), [prefix])
        row = cursor.fetchone()
    if row is None:
        return None
    key_fields, user_fields, client_fields = _columns(ApiKey), _columns(User), _columns(Client)
    key = ApiKey.from_db(alias, key_fields, row[: len(key_fields)])
    rest = row[len(key_fields) :]
    key.created_by = User.from_db(alias, user_fields, rest[: len(user_fields)])
    key.client = Client.from_db(alias, client_fields, rest[len(user_fields) :])
    key.created_by.client = key.client
    return key


@functools.cache
def _api_key_sql(alias: str) -> str:
    quote = connections[alias].ops.quote_name
    return (
        f"SELECT {_select(alias, ApiKey, 'k')}, {_select(alias, User, 'u')}, {_select(alias, Client, 'c')}"  # noqa: S608 - identifiers from _meta; values are parameters
        f" FROM {quote(ApiKey._meta.db_table)} k"
        f" JOIN {quote(User._meta.db_table)} u ON u.id = k.created_by_id"
        f" JOIN {quote(Client._meta.db_table)} c ON c.id = k.client_id"
        " WHERE k.prefix = %s"
    )


def _select(alias: str, model, table: str) -> str:
    quote = connections[alias].ops.quote_name
    return ", ".join(f"{table}.{quote(field.column)}" for field in model._meta.concrete_fields)


class JWTAuthentication(SimpleJWTAuthentication):
    def get_user(self, validated_token):
        try:
            user_id = int(validated_token["user_id"])
            family_id = uuid.UUID(str(validated_token["fid"]))
            version = int(validated_token["ver"])
        except (KeyError, TypeError, ValueError):
            raise AuthenticationFailed("The token is not valid.", code="token_not_valid") from None
        user = live_user(user_id=user_id, family_id=family_id, version=version)
        if user is None:
            raise AuthenticationFailed("The token is no longer valid; sign in again.", code="token_not_valid")
        return user


def live_user(*, user_id: int, family_id: uuid.UUID, version: int) -> User | None:
    """The active user (with their active client) whose sign-in `family_id` is live, or None.

    This runs on every API request. On PostgreSQL it is one prepared-once SQL statement: building
    and compiling the same query through the ORM took about two thirds of a millisecond a request,
    a third of the web workers' CPU under the load benchmark (bench/README.md). Elsewhere the ORM.
    """
    alias = router.db_for_read(User)
    if connections[alias].vendor == "postgresql":
        return live_user_by_sql(alias, user_id=user_id, family_id=family_id, version=version)
    return live_user_by_orm(user_id=user_id, family_id=family_id, version=version)


def live_user_by_orm(*, user_id: int, family_id: uuid.UUID, version: int) -> User | None:
    """live_user() through the ORM, on any database."""
    live_family = RefreshFamily.objects.filter(
        pk=family_id, user=OuterRef("pk"), revoked_at__isnull=True, expires_at__gt=timezone.now()
    )
    return (
        User.objects.select_related("client")
        .filter(pk=user_id, is_active=True, token_version=version, client__is_active=True)
        .filter(Exists(live_family))
        .first()
    )


def live_user_by_sql(alias: str, *, user_id: int, family_id: uuid.UUID, version: int) -> User | None:
    """live_user() as one raw statement on the PostgreSQL database `alias`; the same answer, faster."""
    with connections[alias].cursor() as cursor:
        cursor.execute(_live_user_sql(alias), [user_id, version, family_id, timezone.now()])
        row = cursor.fetchone()
    if row is None:
        return None
    user_fields, client_fields = _columns(User), _columns(Client)
    user = User.from_db(alias, user_fields, row[: len(user_fields)])
    user.client = Client.from_db(alias, client_fields, row[len(user_fields) :])
    return user


def _columns(model) -> list[str]:
    return [field.attname for field in model._meta.concrete_fields]


@functools.cache
def _live_user_sql(alias: str) -> str:
    quote = connections[alias].ops.quote_name

    def columns(model, table: str) -> str:
        return ", ".join(f"{table}.{quote(field.column)}" for field in model._meta.concrete_fields)

    user, client, family = User._meta, Client._meta, RefreshFamily._meta
    return (
        f"SELECT {columns(User, 'u')}, {columns(Client, 'c')}"  # noqa: S608 - identifiers from _meta; values are parameters
        f" FROM {quote(user.db_table)} u JOIN {quote(client.db_table)} c ON c.id = u.client_id"
        " WHERE u.id = %s AND u.is_active AND u.token_version = %s AND c.is_active"
        f" AND EXISTS (SELECT 1 FROM {quote(family.db_table)} f WHERE f.id = %s AND f.user_id = u.id"
        " AND f.revoked_at IS NULL AND f.expires_at > %s)"
    )
