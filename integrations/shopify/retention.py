"""Personal data kept no longer than it is useful: Shopify customers with no order and no call for
CUSTOMER_RETENTION_DAYS are removed, with their orders and phone numbers. The calls stay (they have their
own retention); their links are decided again, so a number another customer still has stays linked.
A customer Shopify still has comes back with the next full sync, when it is of use again.
"""

from __future__ import annotations

import logging
from datetime import datetime, timedelta

from django.conf import settings
from django.db import transaction
from django.db.models import Exists, OuterRef, Q
from django.utils import timezone

from accounts.audit import audit_record
from accounts.models import AuditAction, Client
from integrations.models import CallCustomer, ShopifyCustomer, ShopifyOrder, ShopifyPhone
from integrations.shopify import linking

logger = logging.getLogger("caly.integrations")
BATCH = 1000


def customers_inactive(*, client: Client, cutoff: datetime):
    """The client's customers Caly has known since before `cutoff` with no order and no call since."""
    recent_orders = ShopifyOrder.objects.filter(customer=OuterRef("pk")).filter(
        Q(processed_at__gte=cutoff) | Q(processed_at__isnull=True, created_at__gte=cutoff)
    )
    recent_calls = CallCustomer.objects.filter(customer=OuterRef("pk"), call__started_at__gte=cutoff)
    return (
        ShopifyCustomer.objects.for_client(client)
        .filter(created_at__lt=cutoff)
        .filter(Q(shopify_created_at__isnull=True) | Q(shopify_created_at__lt=cutoff))
        .exclude(Exists(recent_orders))
        .exclude(Exists(recent_calls))
    )


def customers_purge_inactive(*, dry_run: bool, now: datetime | None = None) -> dict[str, int]:
    """Remove every client's inactive customers (or only count them); returns counts over all clients."""
    cutoff = (now or timezone.now()) - timedelta(days=settings.CUSTOMER_RETENTION_DAYS)
    totals = {"customers": 0, "orders": 0, "calls_relinked": 0}
    client_ids = ShopifyCustomer.objects.values_list("client_id", flat=True).distinct()
    for client in Client.objects.filter(pk__in=client_ids).order_by("pk"):
        if dry_run:
            totals["customers"] += customers_inactive(client=client, cutoff=cutoff).count()
            continue
        counts = client_customers_purge(client=client, cutoff=cutoff)
        for name, value in counts.items():
            totals[name] += value
    logger.info("Customer retention %s: %s", "dry run" if dry_run else "run", totals)
    return totals


def client_customers_purge(*, client: Client, cutoff: datetime) -> dict[str, int]:
    """Remove one client's inactive customers in batches, each in its own transaction, audited once."""
    counts = {"customers": 0, "orders": 0, "calls_relinked": 0}
    while True:
        with transaction.atomic():
            ids = list(customers_inactive(client=client, cutoff=cutoff).values_list("pk", flat=True)[:BATCH])
            if not ids:
                break
            orders = ShopifyOrder.objects.for_client(client).filter(customer_id__in=ids)
            order_numbers = {n for n in orders.values_list("number", flat=True) if n is not None}
            phones = set(
                ShopifyPhone.objects.for_client(client)
                .filter(Q(customer_id__in=ids) | Q(order__customer_id__in=ids))
                .values_list("phone", flat=True)
            )
            phones.update(p for p in ShopifyCustomer.objects.filter(pk__in=ids).values_list("phone", flat=True) if p)
            counts["orders"] += orders.count()
            orders.delete()  # their phone numbers go with them
            counts["customers"] += (
                ShopifyCustomer.objects.filter(pk__in=ids).delete()[1].get(ShopifyCustomer._meta.label, 0)
            )
            counts["calls_relinked"] += linking.calls_relink(client=client, phones=phones, order_numbers=order_numbers)
    if counts["customers"]:
        audit_record(
            action=AuditAction.SHOPIFY_CUSTOMERS_PURGED,
            client=client,
            metadata={**counts, "retention_days": settings.CUSTOMER_RETENTION_DAYS, "cutoff": cutoff.isoformat()},
        )
    return counts
