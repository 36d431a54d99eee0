"""The scheduled customer retention (caly.foundation.ops.scheduler runs it daily)."""

from __future__ import annotations

from django_tasks import task

from integrations.shopify import retention


@task()
def purge_inactive_customers() -> dict[str, int]:
    """Remove Shopify customers with no order and no call for CUSTOMER_RETENTION_DAYS;
    `manage.py purge_inactive_customers --apply` does the same."""
    return retention.customers_purge_inactive(dry_run=False)
