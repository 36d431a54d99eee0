"""Writes of provider connections (secrets write-only, every change audited) and key rotation.

Provider behaviour (checking credentials against the provider, syncing, webhooks) lives in
integrations/exotel and integrations/shopify; this module is what both share.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import IntegrityError, models, transaction
from django.db.models.functions import Cast
from django.utils import timezone

from accounts.audit import audit_record
from accounts.models import AuditAction, Client, User
from caly.api.errors import ApiError, ErrorCode
from integrations import crypto
from integrations.models import CheckStatus, Connection, ExotelConnection, ShopifyConnection, new_webhook_token
from recordings.models import e164

EXOTEL_FIELDS = (
    "account_sid",
    "api_key",
    "api_token",
    "api_host",
    "caller_ids",
    "callback_username",
    "callback_password",
)
SHOPIFY_FIELDS = ("shop_domain", "access_token", "webhook_secret", "api_version")
CONNECTION_MODELS: tuple[type[Connection], ...] = (ExotelConnection, ShopifyConnection)


@dataclass(frozen=True)
class CheckResult:
    """The outcome of checking a connection's credentials against its provider."""

    ok: bool
    message: str


def _invalid(details: dict[str, list[str]]) -> ApiError:
    return ApiError(ErrorCode.VALIDATION_ERROR, "The request is invalid.", details=details)


def _save_connection(
    model: type[Connection], *, client: Client, actor: User | None, fields: dict[str, Any], allowed: tuple[str, ...]
) -> Connection:
    unknown = sorted(set(fields) - set(allowed))
    if unknown:
        raise _invalid({name: ["Unknown field."] for name in unknown})
    connection = model.objects.select_for_update().filter(client=client).first()
    created = connection is None
    if created:
        connection = model(client=client)
        if model is ShopifyConnection:
            connection.api_version = settings.SHOPIFY_API_VERSION
    changed = []
    for name, value in fields.items():
        if name in model.SECRET_FIELDS and value in (None, ""):
            continue  # write-only: leaving a secret empty keeps the stored one
        if value is None:
            continue
        if getattr(connection, name) != value:
            setattr(connection, name, value)
            changed.append(name)
    if created or changed:
        connection.check_status, connection.check_message, connection.checked_at = CheckStatus.NEVER, "", None
        try:
            connection.full_clean(exclude=["client"])
            connection.save()
        except ValidationError as exc:
            raise _invalid(exc.message_dict) from None
        except IntegrityError:
            raise ApiError(ErrorCode.CONFLICT, "Another Caly account is already connected to this shop.") from None
        audit_record(
            action=AuditAction.INTEGRATION_CONNECTED if created else AuditAction.INTEGRATION_UPDATED,
            client=client,
            actor=actor,
            target=connection,
            # Names of the changed fields only: a secret's value never reaches the audit log.
            metadata={"provider": model.__name__.removesuffix("Connection").lower(), "changed": sorted(changed)},
        )
    return connection


@transaction.atomic
def exotel_connection_save(*, client: Client, actor: User | None, **fields: Any) -> ExotelConnection:
    """Connect Exotel or change the connection. Secrets left empty keep their stored value."""
    problems: dict[str, list[str]] = {}
    host = fields.get("api_host")
    if host is not None and host not in settings.EXOTEL_API_HOSTS:
        problems["api_host"] = [f"Choose one of {', '.join(settings.EXOTEL_API_HOSTS)}."]
    caller_ids = fields.get("caller_ids")
    if caller_ids is not None:
        if not isinstance(caller_ids, list) or len(caller_ids) > 50:
            problems["caller_ids"] = ["Give a list of at most 50 phone numbers."]
        else:
            for number in caller_ids:
                try:
                    e164(number)
                except ValidationError:
                    problems["caller_ids"] = [f"{str(number)[:20]!r} is not an E.164 number such as +919876543210."]
                    break
    if fields.get("callback_username") == "":
        fields["callback_password"] = None  # cleared below
    if problems:
        raise _invalid(problems)
    connection = _save_connection(ExotelConnection, client=client, actor=actor, fields=fields, allowed=EXOTEL_FIELDS)
    if not connection.callback_username and connection.callback_password:
        ExotelConnection.objects.filter(pk=connection.pk).update(callback_password="")
        connection.callback_password = ""
    if connection.callback_username and not connection.callback_password:
        raise _invalid({"callback_password": ["Set a password with the callback user name."]})
    return connection


@transaction.atomic
def shopify_connection_save(*, client: Client, actor: User | None, **fields: Any) -> ShopifyConnection:
    """Connect Shopify or change the connection. Secrets left empty keep their stored value."""
    if isinstance(fields.get("shop_domain"), str):
        fields["shop_domain"] = fields["shop_domain"].strip().lower().removeprefix("https://").rstrip("/")
        if ShopifyConnection.objects.filter(shop_domain=fields["shop_domain"]).exclude(client=client).exists():
            # Webhooks name their shop: one shop can feed one Caly account only.
            raise ApiError(ErrorCode.CONFLICT, "Another Caly account is already connected to this shop.")
    return _save_connection(ShopifyConnection, client=client, actor=actor, fields=fields, allowed=SHOPIFY_FIELDS)


@transaction.atomic
def connection_disconnect(*, connection: Connection, actor: User | None, reason: str = "disconnected") -> None:
    """Forget the credentials (the calls, recordings and products already in Caly stay)."""
    provider = type(connection).__name__.removesuffix("Connection").lower()
    audit_record(
        action=AuditAction.INTEGRATION_DISCONNECTED,
        client=connection.client,
        actor=actor,
        target=connection,
        metadata={"provider": provider, "reason": reason},
    )
    connection.delete()


@transaction.atomic
def exotel_webhook_token_rotate(*, connection: ExotelConnection, actor: User | None) -> ExotelConnection:
    """A new callback token: the old callback URLs stop working at once."""
    connection.webhook_token = new_webhook_token()
    connection.save(update_fields=["webhook_token", "updated_at"])
    audit_record(
        action=AuditAction.INTEGRATION_UPDATED,
        client=connection.client,
        actor=actor,
        target=connection,
        metadata={"provider": "exotel", "changed": ["webhook_token"]},
    )
    return connection


def connection_check_record(*, connection: Connection, result: CheckResult) -> CheckResult:
    """Keep the outcome of a credentials check on the connection (shown on the integrations page)."""
    type(connection).objects.filter(pk=connection.pk).update(
        check_status=CheckStatus.OK if result.ok else CheckStatus.FAILED,
        check_message=result.message[:500],
        checked_at=timezone.now(),
    )
    return result


def secrets_rotate() -> dict[str, int]:
    """Re-encrypt every secret not yet under the first key; idempotent. Raises DecryptionError."""
    counts = {"rows": 0, "rotated": 0, "current": 0, "empty": 0}
    for model in CONNECTION_MODELS:
        raw_names = {name: f"raw_{name}" for name in model.SECRET_FIELDS}
        annotations = {raw: Cast(name, output_field=models.TextField()) for name, raw in raw_names.items()}
        for pk in model.objects.values_list("pk", flat=True).iterator():
            with transaction.atomic():
                row = model.objects.select_for_update().filter(pk=pk).annotate(**annotations)
                raw = row.values(*raw_names.values()).first()
                if raw is None:
                    continue
                counts["rows"] += 1
                updates = {}
                for name, raw_name in raw_names.items():
                    token = raw[raw_name]
                    if not token:
                        counts["empty"] += 1
                    elif crypto.is_current(token):
                        counts["current"] += 1
                    else:
                        updates[name] = crypto.decrypt(token)  # saved through the field: encrypted with the first key
                if updates:
                    model.objects.filter(pk=pk).update(**updates)
                    counts["rotated"] += len(updates)
    return counts
