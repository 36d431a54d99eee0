"""Background work of the Shopify integration (django-tasks; `manage.py db_worker`)."""

from __future__ import annotations

from django_tasks import task

from integrations.models import ShopifyConnection
from integrations.shopify import sync


@task()
def sync_products(connection_id: int) -> dict | None:
    """Run the sync shopify_sync_request marked running; a connection gone or no longer running is left alone."""
    connection = ShopifyConnection.objects.select_related("client").filter(pk=connection_id).first()
    if connection is None or connection.last_sync_status != sync.SYNC_RUNNING:
        return None
    result = sync.products_sync(connection=connection, started=connection.last_sync_started_at)
    return {"ok": result.ok, "counts": result.counts, "error": result.error}
