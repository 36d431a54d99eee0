"""Writes of the Shopify integration: connection checks, uninstalls, sync requests.

The catalogue's writes are integrations/shopify/catalogue.py; a sync's run is integrations/shopify/sync.py.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from django.db import transaction
from django.utils import timezone

from accounts.audit import audit_record
from accounts.models import AuditAction, User
from caly.foundation.tasks import enqueue_with_transaction
from integrations.credentials import CheckResult
from integrations.models import CheckStatus, ShopifyConnection
from integrations.services import connection_check_record
from integrations.shopify import customer_sync, sync, tasks
from integrations.shopify.credentials import shopify_credentials_check
from integrations.shopify.subscriptions import shopify_webhook_url as shopify_webhook_url

# A sync still "running" after this long died with its worker; a new request may start another.
SYNC_STALE_AFTER = timedelta(hours=1)


# --- the connection ------------------------------------------------------------------------------


def shopify_connection_check(*, connection: ShopifyConnection) -> CheckResult:
    """Ask Shopify for the shop with the stored token; the outcome is kept on the connection (and
    verifies it, claiming the shop, when Shopify accepts the token for that shop)."""
    return connection_check_record(connection=connection, result=shopify_credentials_check(connection))


UNINSTALLED_MESSAGE = (
    "The app was uninstalled in Shopify and its access token no longer works. Save a new access token "
    "(and the webhook secret, if it changed) to connect again: the webhook URL stays the same."
)


def shopify_uninstall_apply(*, connection: ShopifyConnection, reason: str) -> None:
    """Shopify confirmed the app is gone: wipe the access token and release the shop, but keep the row,
    so the webhook URL (it carries the connection's id) still works when the store reconnects.

    The webhook secret stays: it opens nothing in the store, it only proves a delivery came from Shopify,
    and Shopify's shop/redact arrives 48 hours after the uninstall; without it that mandatory request
    could never be verified, so the store's data could never be erased. Products already synced stay.
    Call inside a transaction holding the connection's row lock."""
    now = timezone.now()
    ShopifyConnection.objects.filter(pk=connection.pk).update(
        access_token="",
        webhook_subscriptions={},  # Shopify deletes an app's subscriptions when it is uninstalled
        verified_at=None,
        uninstalled_at=now,
        check_status=CheckStatus.FAILED,
        check_message=UNINSTALLED_MESSAGE,
        checked_at=now,
        updated_at=now,
    )
    audit_record(
        action=AuditAction.INTEGRATION_DISCONNECTED,
        client=connection.client,
        actor=None,
        target=connection,
        metadata={"provider": "shopify", "reason": reason},
    )


# --- sync state ----------------------------------------------------------------------------------


@transaction.atomic
def shopify_sync_begin(*, connection: ShopifyConnection, actor: User | None, source: str) -> datetime | None:
    """Mark a sync running and audit the request; None (nothing changed) when one is already running.

    The returned start time identifies the run: only the run that started then records its outcome.
    """
    locked = ShopifyConnection.objects.select_for_update().filter(pk=connection.pk).first()
    if locked is None:
        return None
    now = timezone.now()
    started = locked.last_sync_started_at
    running = locked.last_sync_status == sync.SYNC_RUNNING and started is not None and started > now - SYNC_STALE_AFTER
    if not running:
        ShopifyConnection.objects.filter(pk=locked.pk).update(
            last_sync_status=sync.SYNC_RUNNING, last_sync_started_at=now, last_sync_error=""
        )
    audit_record(
        action=AuditAction.PRODUCT_SYNC_REQUESTED,
        client=locked.client,
        actor=actor,
        target=locked,
        metadata={"source": source, "queued": not running},
    )
    return None if running else now


def shopify_sync_request(*, connection: ShopifyConnection, actor: User | None) -> bool:
    """Queue a full product sync unless one is running (a stale one is restarted); whether it was queued."""
    with transaction.atomic():
        started = shopify_sync_begin(connection=connection, actor=actor, source="request")
        if started is not None:
            enqueue_with_transaction(tasks.sync_products, connection.pk)
    return started is not None


# --- customers and orders ------------------------------------------------------------------------


def shopify_customers_sync_request(*, connection: ShopifyConnection, actor: User | None, full: bool = True) -> bool:
    """Queue a customers and orders sync (full, or incremental from the watermark) unless one is running;
    whether it was queued."""
    mode = customer_sync.FULL if full else customer_sync.INCREMENTAL
    with transaction.atomic():
        started = customer_sync.customers_sync_begin(connection=connection, actor=actor, source="request")
        if started is not None:
            enqueue_with_transaction(tasks.sync_customers, connection.pk, mode)
    return started is not None
