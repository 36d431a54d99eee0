"""API authentication: simplejwt's access-token check, plus what simplejwt does not check.

An access token stops working at once when its sign-in (family) is revoked (logout, reuse),
when the user's token version moves (password changed, deactivated), or when the user or
their client is deactivated — one indexed query, the same one that loads the user.
"""

import functools
import uuid

from django.db import connections, router
from django.db.models import Exists, OuterRef
from django.utils import timezone
from rest_framework_simplejwt.authentication import JWTAuthentication as SimpleJWTAuthentication
from rest_framework_simplejwt.exceptions import AuthenticationFailed

from accounts.models import Client, RefreshFamily, User


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
