"""What follows a verified Shopify connection being saved: its webhook subscriptions and, the first time,
the full sync of its customers and orders, both queued as tasks after the save commits."""

from __future__ import annotations

from django.db import transaction

from caly.foundation.tasks import enqueue_with_transaction
from integrations.models import ShopifyConnection
from integrations.shopify import customer_sync, tasks


def shopify_connected(*, connection: ShopifyConnection) -> None:
    """Queue the webhook subscriptions (idempotent) and, if the store was never synced in full, that sync."""
    if not connection.verified_at or connection.uninstalled_at:
        return
    with transaction.atomic():
        enqueue_with_transaction(tasks.subscribe_webhooks, connection.pk)
        if connection.customers_synced_at is None:
            started = customer_sync.customers_sync_begin(connection=connection, actor=None, source="connected")
            if started is not None:
                enqueue_with_transaction(tasks.sync_customers, connection.pk, customer_sync.FULL)
