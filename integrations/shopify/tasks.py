"""Background work of the Shopify integration (django-tasks; `manage.py db_worker`)."""

from __future__ import annotations

from django.db import transaction
from django_tasks import task

from caly.foundation.tasks import backoff_seconds, enqueue_with_transaction, retry_later
from integrations.models import ShopifyConnection
from integrations.shopify import client as shopify
from integrations.shopify import customer_sync, subscriptions, sync

SUBSCRIBE_ATTEMPTS = 6


@task()
def sync_products(connection_id: int) -> dict | None:
    """Run the sync shopify_sync_request marked running; a connection gone or no longer running is left alone."""
    connection = ShopifyConnection.objects.select_related("client").filter(pk=connection_id).first()
    if connection is None or connection.last_sync_status != sync.SYNC_RUNNING:
        return None
    result = sync.products_sync(connection=connection, started=connection.last_sync_started_at)
    return {"ok": result.ok, "counts": result.counts, "error": result.error}


@task()
def sync_customers(connection_id: int, mode: str = customer_sync.FULL) -> dict | None:
    """Run the customers and orders sync customers_sync_begin marked running (full or incremental)."""
    connection = ShopifyConnection.objects.select_related("client").filter(pk=connection_id).first()
    if connection is None or connection.customers_sync_status != sync.SYNC_RUNNING:
        return None
    started = connection.customers_sync_started_at
    if started is None:
        return None
    result = customer_sync.customers_sync(connection=connection, started=started, mode=mode)
    return {"ok": result.ok, "mode": result.mode, "counts": result.counts, "error": result.error}


@task()
def resync_customers() -> int:
    """Scheduled: every connected store's customers and orders changed since its watermark (a store never
    synced in full gets the full sync), so webhooks Shopify failed to deliver are healed; how many queued."""
    connected = ShopifyConnection.objects.filter(verified_at__isnull=False, uninstalled_at__isnull=True)
    queued = 0
    for connection in connected.select_related("client").iterator():
        mode = customer_sync.INCREMENTAL if connection.customers_synced_at else customer_sync.FULL
        with transaction.atomic():
            started = customer_sync.customers_sync_begin(connection=connection, actor=None, source="schedule")
            if started is not None:
                enqueue_with_transaction(sync_customers, connection.pk, mode)
                queued += 1
    return queued


@task()
def subscribe_webhooks(connection_id: int, attempt: int = 1) -> dict | None:
    """Make the store's webhook subscriptions point at Caly; retried with backoff while Shopify refuses
    or cannot be reached (the reason is kept on the connection meanwhile)."""
    connection = ShopifyConnection.objects.select_related("client").filter(pk=connection_id).first()
    if connection is None or not connection.verified_at or connection.uninstalled_at:
        return None
    try:
        return subscriptions.subscriptions_ensure(connection=connection)
    except shopify.ShopifyError:
        if attempt < SUBSCRIBE_ATTEMPTS:
            retry_later(subscribe_webhooks, connection_id, attempt + 1, delay_seconds=backoff_seconds(attempt))
        raise
