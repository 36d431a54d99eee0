"""Connection writes that every provider shares (secrets write-only, every change audited), and key rotation.

Saving checks the credentials with the provider first (with the `verify` that the provider's own save
service in integrations/*/credentials.py gives), outside any row lock: credentials the provider refuses
are a VALIDATION_ERROR and change nothing; when the provider cannot be reached they are saved
unverified, and say so. A Shopify connection claims its shop domain only once Shopify accepted the
token for that very shop, so a junk token claims nothing, and the refusal of a claimed shop tells
nothing about who holds it.

Provider behaviour (checking credentials, syncing, webhooks) lives in integrations/exotel and
integrations/shopify; this module is what both share, so it imports neither (they must not import
each other through it). integrations/providers.py describes each provider for the API, the pages
and the onboarding wizard.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, TypeVar, cast

from django.core.exceptions import ValidationError
from django.db import IntegrityError, models, transaction
from django.db.models.functions import Cast
from django.utils import timezone
from django.utils.module_loading import import_string

from accounts.audit import audit_record
from accounts.models import AuditAction, Client, User
from caly.foundation.errors import DomainError, ErrorCode
from integrations import crypto
from integrations.credentials import CheckResult, Verdict
from integrations.models import CheckStatus, Connection, ExotelConnection, ShopifyConnection

CONNECTION_MODELS: tuple[type[Connection], ...] = (ExotelConnection, ShopifyConnection)
ConnectionModel = TypeVar("ConnectionModel", bound=Connection)
# What the provider is asked about: a change to any of them is checked again before it is saved.
CREDENTIAL_FIELDS: dict[type[Connection], tuple[str, ...]] = {
    ExotelConnection: ("account_sid", "api_key", "api_token", "api_host"),
    ShopifyConnection: ("shop_domain", "access_token", "api_version"),
}
# Reached only by someone whose token Shopify accepted for this shop, and names no one.
SHOP_NOT_AVAILABLE = "This shop cannot be connected to this Caly account. If it is your shop, contact Caly support."


def invalid_request(details: dict[str, list[str]]) -> DomainError:
    """VALIDATION_ERROR with what is wrong, by field."""
    return DomainError(ErrorCode.VALIDATION_ERROR, "The request is invalid.", details=details)


def _shop_not_available() -> DomainError:
    return DomainError(ErrorCode.CONFLICT, SHOP_NOT_AVAILABLE)


def _shop_claimed_elsewhere(connection: ShopifyConnection) -> bool:
    others = ShopifyConnection.objects.filter(shop_domain=connection.shop_domain, verified_at__isnull=False)
    return others.exclude(client_id=connection.client_id).exists()


def _apply(connection: Connection, fields: dict[str, Any]) -> list[str]:
    changed = []
    for name, value in fields.items():
        if name in type(connection).SECRET_FIELDS and value in (None, ""):
            continue  # write-only: leaving a secret empty keeps the stored one
        if value is None:
            continue
        if getattr(connection, name) != value:
            setattr(connection, name, value)
            changed.append(name)
    return changed


def _record_verification(
    connection: Connection, result: CheckResult, *, saving: bool, not_verified: str = "{problem}"
) -> list[str]:
    """Put a check's outcome on the (unsaved) connection; returns the fields it set. `not_verified` says
    what saving credentials the provider did not answer about means ({problem}: why it did not)."""
    now = timezone.now()
    connection.checked_at = now
    connection.check_status = CheckStatus.OK if result.ok else CheckStatus.FAILED
    message = result.message
    if saving and result.verdict == Verdict.UNREACHABLE:
        message = not_verified.format(problem=result.message)
    connection.check_message = message[:500]
    names = ["check_status", "check_message", "checked_at"]
    if result.verdict != Verdict.UNREACHABLE or saving:
        connection.verified_at = now if result.ok else None
        names.append("verified_at")
    if isinstance(connection, ShopifyConnection) and (saving or result.ok):
        connection.uninstalled_at = None  # set up again after an uninstall
        names.append("uninstalled_at")
    return names


def connection_save(
    model: type[ConnectionModel],
    *,
    client: Client,
    actor: User | None,
    fields: dict[str, Any],
    allowed: tuple[str, ...],
    verify: Callable[[Any], CheckResult],
    not_verified: str,
    defaults: dict[str, Any] | None = None,
    rules: Callable[[Any], list[str]] | None = None,
) -> ConnectionModel:
    """Create or change the client's connection of `model` with `fields` (of `allowed`; empty secrets keep
    the stored ones), asking `verify` first when credentials change; `defaults` go on a new connection,
    `rules` may change fields or refuse. VALIDATION_ERROR for bad fields or refused credentials, CONFLICT
    when the connection changed meanwhile or a verified shop is another account's."""
    unknown = sorted(set(fields) - set(allowed))
    if unknown:
        raise invalid_request({name: ["Unknown field."] for name in unknown})
    # cast: the stubs type the manager of a `type[ConnectionModel]` by the bound (Connection), not the model.
    existing = cast("ConnectionModel | None", model.objects.filter(client=client).first())
    created = existing is None
    connection = model(client=client, **(defaults or {})) if existing is None else existing
    credentials = CREDENTIAL_FIELDS[model]
    before = {name: getattr(connection, name) for name in credentials}
    changed = _apply(connection, fields)
    try:
        # The shop-domain claim is decided below, once Shopify has answered.
        connection.full_clean(exclude=["client"], validate_constraints=False)
    except ValidationError as exc:
        raise invalid_request(exc.message_dict) from None
    if rules is not None:
        changed += rules(connection)
    reconnected = isinstance(connection, ExotelConnection) and connection.disconnected_at is not None
    if isinstance(connection, ExotelConnection) and reconnected:
        connection.disconnected_at = None  # the same row, so the same callback URLs
        changed.append("disconnected_at")
    # Unchanged credentials are not asked about again: "Test connection" does that.
    recheck = created or any(name in changed for name in credentials)
    if not (created or changed):
        return connection

    # Asked before any row is locked: the provider may take seconds to answer.
    checked: list[str] = []
    if recheck:
        result = verify(connection)
        if result.verdict == Verdict.REFUSED:
            raise invalid_request({result.field or "non_field_errors": [result.message]})
        checked = _record_verification(connection, result, saving=True, not_verified=not_verified)

    with transaction.atomic():
        locked = model.objects.select_for_update().filter(client=client).first()
        if (locked is None) != created or (
            locked is not None and any(getattr(locked, name) != before[name] for name in credentials)
        ):
            raise DomainError(ErrorCode.CONFLICT, "The connection changed while it was being checked; save it again.")
        if isinstance(connection, ShopifyConnection) and connection.verified_at and _shop_claimed_elsewhere(connection):
            raise _shop_not_available()
        try:
            with transaction.atomic():
                if created:
                    connection.save()
                else:
                    connection.save(update_fields=sorted({*changed, *checked, "updated_at"}))
        except IntegrityError:
            if created and model.objects.filter(client=client).exists():  # a first save of ours raced this one
                raise DomainError(
                    ErrorCode.CONFLICT, "The connection changed while it was being checked; save it again."
                ) from None
            raise _shop_not_available() from None  # another account's claim committed a moment ago
        if created or changed:
            audit_record(
                action=AuditAction.INTEGRATION_CONNECTED if created or reconnected else AuditAction.INTEGRATION_UPDATED,
                client=client,
                actor=actor,
                target=connection,
                # Names of the changed fields only: a secret's value never reaches the audit log.
                metadata={"provider": model.__name__.removesuffix("Connection").lower(), "changed": sorted(changed)},
            )
    return connection


# What a provider undoes at the provider before its credentials are forgotten (best-effort, never raises):
# a dotted path per connection model, as this module imports no provider.
DISCONNECT_HOOKS: dict[str, str] = {
    "ShopifyConnection": "integrations.shopify.subscriptions.subscriptions_remove",
}


# Disconnecting keeps an Exotel connection's row, with its public id and callback token (connecting again
# gives the same callback URLs), and wipes these.
EXOTEL_WIPED_ON_DISCONNECT = ("api_key", "api_token", "callback_username", "callback_password")


@transaction.atomic
def connection_disconnect(*, connection: Connection, actor: User | None, reason: str = "disconnected") -> None:
    """Forget the credentials (the calls, recordings and products already in Caly stay). An Exotel
    connection keeps its callback URLs for when it is connected again, refusing callbacks meanwhile."""
    hook = DISCONNECT_HOOKS.get(type(connection).__name__)
    if hook:
        import_string(hook)(connection)
    provider = type(connection).__name__.removesuffix("Connection").lower()
    audit_record(
        action=AuditAction.INTEGRATION_DISCONNECTED,
        client=connection.client,
        actor=actor,
        target=connection,
        metadata={"provider": provider, "reason": reason},
    )
    if not isinstance(connection, ExotelConnection):
        connection.delete()
        return
    for name in EXOTEL_WIPED_ON_DISCONNECT:
        setattr(connection, name, "")
    connection.disconnected_at = timezone.now()
    connection.verified_at = connection.checked_at = None
    connection.check_status, connection.check_message = CheckStatus.NEVER, ""
    connection.save(
        update_fields=[
            *EXOTEL_WIPED_ON_DISCONNECT,
            "disconnected_at",
            "verified_at",
            "checked_at",
            "check_status",
            "check_message",
            "updated_at",
        ]
    )


@transaction.atomic
def connection_check_record(*, connection: Connection, result: CheckResult) -> CheckResult:
    """Keep the outcome of a credentials check on the connection (shown on the integrations page).

    Accepted credentials verify the connection (a Shopify shop only if no other account holds it);
    refused ones unverify it, releasing its shop; an unreachable provider leaves that as it was.
    Credentials saved while the check ran were not checked: nothing is recorded then.
    Returns what was recorded.
    """
    locked = type(connection).objects.select_for_update().filter(pk=connection.pk).first()
    if locked is None:
        return result
    if any(getattr(locked, name) != getattr(connection, name) for name in CREDENTIAL_FIELDS[type(locked)]):
        return CheckResult(Verdict.UNREACHABLE, "The connection changed while it was being checked; test it again.")
    if isinstance(locked, ShopifyConnection) and result.ok and _shop_claimed_elsewhere(locked):
        result = CheckResult(Verdict.REFUSED, SHOP_NOT_AVAILABLE, "shop_domain")
    names = _record_verification(locked, result, saving=False)
    try:
        with transaction.atomic():
            locked.save(update_fields=names)
    except IntegrityError:  # another account verified the same shop a moment ago
        result = CheckResult(Verdict.REFUSED, SHOP_NOT_AVAILABLE, "shop_domain")
        names = _record_verification(locked, result, saving=False)
        locked.save(update_fields=names)
    for name in names:
        setattr(connection, name, getattr(locked, name))
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
