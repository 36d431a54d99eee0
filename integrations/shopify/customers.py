"""Shopify customers and orders in Caly, written in batches by syncs and webhooks, with their phone numbers.

A batch (a page or a slice of a bulk export, or the one object of a webhook) is written with one query
that reads what exists, one upsert, and one rebuild of the batch's phone numbers (E.164 in the client's
country, as calls are matched by them). Newer data always wins: a row whose stored `shopify_updated_at`
is later than the incoming data keeps it. An order that arrives before its customer keeps the customer's
Shopify id and is attached when the customer is written.

After each batch the calls whose number or order reference may now point elsewhere are linked again
(`linking.calls_relink`), with the numbers that appeared or went away and the order numbers touched.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal
from functools import lru_cache
from typing import Any

from django.db import transaction
from django.db.models import OuterRef, Subquery

from accounts.models import Client
from integrations.models import PhoneSource, ShopifyCustomer, ShopifyOrder, ShopifyPhone
from integrations.shopify import linking, phones
from integrations.shopify.payloads import CustomerData, OrderData

DEFAULT_REGION = "IN"
CUSTOMER_UPDATE_FIELDS = [
    "first_name",
    "last_name",
    "email",
    "phone",
    "tags",
    "orders_count",
    "total_spent",
    "currency",
    "shopify_created_at",
    "shopify_updated_at",
    "synced_at",
    "updated_at",
]
ORDER_UPDATE_FIELDS = [
    "customer",
    "customer_shopify_id",
    "name",
    "number",
    "processed_at",
    "financial_status",
    "fulfillment_status",
    "cancelled_at",
    "closed_at",
    "total",
    "currency",
    "item_count",
    "shopify_updated_at",
    "synced_at",
    "updated_at",
]


@dataclass
class UpsertResult:
    created: int = 0
    updated: int = 0
    skipped: int = 0
    relinked: int = 0
    phones: set[str] = field(default_factory=set)  # numbers that appeared or went away
    order_numbers: set[int] = field(default_factory=set)  # order numbers written


@lru_cache(maxsize=65_536)
def e164(value: str, *, region: str) -> str | None:
    """phones.e164, remembered: a sync reads the same free-text numbers (a customer's, on every order) often."""
    return phones.e164(value, region=region)


def region_of(client: Client) -> str:
    return (client.country or DEFAULT_REGION).upper()


def _is_stale(incoming: datetime | None, stored: datetime | None) -> bool:
    return incoming is not None and stored is not None and incoming < stored


@transaction.atomic
def customers_upsert(*, client: Client, customers: list[CustomerData], synced_at: datetime) -> UpsertResult:
    """Write a batch of customers and rebuild their phone numbers; data older than stored is skipped.

    Fields a payload leaves out (None: tags, orders count, total spent) keep their stored values.
    Orders already stored for these customers' Shopify ids are attached to them. Calls with a number
    that appeared or went away are linked again.
    """
    result = UpsertResult()
    region = region_of(client)
    batch = {customer.shopify_id: customer for customer in customers}  # a repeated id: the last one wins
    existing = {
        row["shopify_id"]: row
        for row in ShopifyCustomer.objects.for_client(client)
        .filter(shopify_id__in=list(batch))
        .values(
            "shopify_id",
            "pk",
            "shopify_created_at",
            "shopify_updated_at",
            "tags",
            "orders_count",
            "total_spent",
            "currency",
        )
    }
    rows: list[ShopifyCustomer] = []
    seen_only = []
    for shopify_id, data in batch.items():
        stored = existing.get(shopify_id)
        if stored is not None and _is_stale(data.updated_at, stored["shopify_updated_at"]):
            result.skipped += 1
            seen_only.append(stored["pk"])
            continue
        kept: dict[str, Any] = (
            dict(stored)
            if stored
            else {"tags": [], "orders_count": 0, "total_spent": Decimal(0), "currency": "", "shopify_created_at": None}
        )
        rows.append(
            ShopifyCustomer(
                client=client,
                shopify_id=shopify_id,
                first_name=data.first_name,
                last_name=data.last_name,
                email=data.email,
                phone=e164(data.phone, region=region) or "",
                tags=data.tags if data.tags is not None else kept["tags"],
                orders_count=data.orders_count if data.orders_count is not None else kept["orders_count"],
                total_spent=data.total_spent if data.total_spent is not None else kept["total_spent"],
                currency=data.currency or kept["currency"],
                # Never empty: the customers list and its cursors are ordered by it.
                shopify_created_at=data.created_at or kept["shopify_created_at"] or data.updated_at or synced_at,
                shopify_updated_at=data.updated_at,
                synced_at=synced_at,
            )
        )
        if stored is None:
            result.created += 1
        else:
            result.updated += 1
    if seen_only:  # still in Shopify: a full sync must not delete them
        ShopifyCustomer.objects.filter(pk__in=seen_only).update(synced_at=synced_at)
    if not rows:
        return result
    ShopifyCustomer.objects.bulk_create(
        rows, update_conflicts=True, unique_fields=["client", "shopify_id"], update_fields=CUSTOMER_UPDATE_FIELDS
    )
    pks = {row.shopify_id: row.pk for row in rows}  # SQLite and PostgreSQL return the ids of an upsert

    wanted = set()
    for shopify_id, customer_pk in pks.items():
        data = batch[shopify_id]
        for raw, source in ((data.phone, PhoneSource.CUSTOMER), (data.address_phone, PhoneSource.DEFAULT_ADDRESS)):
            phone = e164(raw, region=region)
            if phone is not None:
                wanted.add((customer_pk, phone, str(source)))
    stored_phones = {
        (customer_pk, phone, source): pk
        for pk, customer_pk, phone, source in ShopifyPhone.objects.filter(
            customer_id__in=list(pks.values()), order__isnull=True
        ).values_list("pk", "customer_id", "phone", "source")
    }
    before = set(stored_phones)
    if before != wanted:
        ShopifyPhone.objects.filter(pk__in=[stored_phones[key] for key in before - wanted]).delete()
        ShopifyPhone.objects.bulk_create(
            [
                ShopifyPhone(client=client, customer_id=customer_pk, phone=phone, source=source)
                for customer_pk, phone, source in wanted - before
            ]
        )
        result.phones |= {phone for _, phone, _ in before ^ wanted}

    _attach_orphan_orders(client=client, customer_shopify_ids=list(pks), result=result)
    result.relinked = _relink(client=client, phones=result.phones, order_numbers=result.order_numbers)
    return result


def _attach_orphan_orders(*, client: Client, customer_shopify_ids: list[int], result: UpsertResult) -> None:
    """Orders written before their customer (webhooks come in any order) join it, with their phone numbers."""
    orphans = ShopifyOrder.objects.for_client(client).filter(
        customer__isnull=True, customer_shopify_id__in=customer_shopify_ids
    )
    orphan_pks = list(orphans.values_list("pk", flat=True))
    if not orphan_pks:
        return
    owner = ShopifyCustomer.objects.filter(client=client, shopify_id=OuterRef("customer_shopify_id")).values("pk")[:1]
    ShopifyOrder.objects.filter(pk__in=orphan_pks).update(customer_id=Subquery(owner))
    order_owner = ShopifyOrder.objects.filter(pk=OuterRef("order_id")).values("customer_id")[:1]
    phones = ShopifyPhone.objects.filter(order_id__in=orphan_pks)
    phones.update(customer_id=Subquery(order_owner))
    result.phones |= set(phones.values_list("phone", flat=True))
    result.order_numbers |= {
        number
        for number in ShopifyOrder.objects.filter(pk__in=orphan_pks).values_list("number", flat=True)
        if number is not None
    }


@transaction.atomic
def orders_upsert(*, client: Client, orders: list[OrderData], synced_at: datetime) -> UpsertResult:
    """Write a batch of orders and rebuild their phone numbers (contact, billing, shipping); data older
    than stored is skipped. An order whose customer is not stored yet keeps the customer's Shopify id.
    Calls with those order numbers, or a number that appeared, went away or changed hands, are linked again."""
    result = UpsertResult()
    region = region_of(client)
    batch = {order.shopify_id: order for order in orders}
    existing = {
        row["shopify_id"]: row
        for row in ShopifyOrder.objects.for_client(client)
        .filter(shopify_id__in=list(batch))
        .values("shopify_id", "pk", "shopify_updated_at", "customer_id", "number", "total", "currency")
    }
    wanted_customers = {order.customer_shopify_id for order in batch.values() if order.customer_shopify_id}
    customer_pks = dict(
        ShopifyCustomer.objects.for_client(client)
        .filter(shopify_id__in=list(wanted_customers))
        .values_list("shopify_id", "pk")
    )
    rows: list[ShopifyOrder] = []
    moved: set[int] = set()  # orders whose customer or number changed: every phone of theirs is relinked
    for shopify_id, data in batch.items():
        stored = existing.get(shopify_id)
        if stored is not None and _is_stale(data.updated_at, stored["shopify_updated_at"]):
            result.skipped += 1
            continue
        customer_pk = customer_pks.get(data.customer_shopify_id) if data.customer_shopify_id else None
        rows.append(
            ShopifyOrder(
                client=client,
                shopify_id=shopify_id,
                customer_id=customer_pk,
                customer_shopify_id=data.customer_shopify_id,
                name=data.name or (f"#{data.number}" if data.number else ""),
                number=data.number,
                processed_at=data.processed_at,
                financial_status=data.financial_status,
                fulfillment_status=data.fulfillment_status,
                cancelled_at=data.cancelled_at,
                closed_at=data.closed_at,
                total=data.total if data.total is not None else (stored["total"] if stored else Decimal(0)),
                currency=data.currency or (stored["currency"] if stored else ""),
                item_count=data.item_count,
                shopify_updated_at=data.updated_at,
                synced_at=synced_at,
            )
        )
        if stored is None:
            result.created += 1
            moved.add(shopify_id)
        else:
            result.updated += 1
            if stored["customer_id"] != customer_pk or stored["number"] != data.number:
                moved.add(shopify_id)
                if stored["number"] is not None:
                    result.order_numbers.add(stored["number"])
    if not rows:
        return result
    ShopifyOrder.objects.bulk_create(
        rows, update_conflicts=True, unique_fields=["client", "shopify_id"], update_fields=ORDER_UPDATE_FIELDS
    )
    by_id = {row.shopify_id: row for row in rows}
    result.order_numbers |= {number for shopify_id in moved if (number := by_id[shopify_id].number) is not None}

    wanted = set()
    for shopify_id, row in by_id.items():
        data = batch[shopify_id]
        for raw, source in (
            (data.phone, PhoneSource.CUSTOMER),
            (data.billing_phone, PhoneSource.BILLING),
            (data.shipping_phone, PhoneSource.SHIPPING),
        ):
            phone = e164(raw, region=region)
            if phone is not None:
                wanted.add((row.pk, row.customer_id, phone, str(source)))
    stored_phones = {
        (order_pk, customer_pk, phone, source): pk
        for pk, order_pk, customer_pk, phone, source in ShopifyPhone.objects.filter(
            order_id__in=[row.pk for row in rows]
        ).values_list("pk", "order_id", "customer_id", "phone", "source")
    }
    before = set(stored_phones)
    if before != wanted:
        ShopifyPhone.objects.filter(pk__in=[stored_phones[key] for key in before - wanted]).delete()
        ShopifyPhone.objects.bulk_create(
            [
                ShopifyPhone(client=client, order_id=order_pk, customer_id=customer_pk, phone=phone, source=source)
                for order_pk, customer_pk, phone, source in wanted - before
            ]
        )
        result.phones |= {phone for _, _, phone, _ in before ^ wanted}
    result.relinked = _relink(client=client, phones=result.phones, order_numbers=result.order_numbers)
    return result


@transaction.atomic
def customer_delete(*, client: Client, shopify_id: int) -> bool:
    """Remove a customer Shopify deleted, with its own phone numbers; its orders stay, without a customer,
    and its calls are linked again. False when Caly does not have it."""
    customer = ShopifyCustomer.objects.for_client(client).filter(shopify_id=shopify_id).first()
    if customer is None:
        return False
    phones = set(ShopifyPhone.objects.filter(customer=customer).values_list("phone", flat=True))
    order_numbers = {number for number in customer.orders.values_list("number", flat=True) if number is not None}
    ShopifyPhone.objects.filter(customer=customer, order__isnull=False).update(customer=None)
    customer.delete()
    _relink(client=client, phones=phones, order_numbers=order_numbers)
    return True


def customers_delete_unseen(*, client: Client, seen_since: datetime, limit: int = 1000) -> int:
    """After a complete full sync: delete up to `limit` customers no sync or webhook touched since
    `seen_since` (Shopify no longer has them) and link their calls again; how many went."""
    unseen = ShopifyCustomer.objects.for_client(client).filter(synced_at__lt=seen_since)
    pks = list(unseen.values_list("pk", flat=True)[:limit])
    if not pks:
        return 0
    phones = set(ShopifyPhone.objects.filter(customer_id__in=pks).values_list("phone", flat=True))
    order_numbers = {
        number
        for number in ShopifyOrder.objects.filter(customer_id__in=pks).values_list("number", flat=True)
        if number is not None
    }
    ShopifyPhone.objects.filter(customer_id__in=pks, order__isnull=False).update(customer=None)
    # The condition is checked again as the rows go: a webhook may have just touched one.
    deleted = unseen.filter(pk__in=pks).delete()[1].get(ShopifyCustomer._meta.label, 0)
    _relink(client=client, phones=phones, order_numbers=order_numbers)
    return deleted


def _relink(*, client: Client, phones: Iterable[str], order_numbers: Iterable[int]) -> int:
    phones, order_numbers = sorted(phones), sorted(order_numbers)
    if not phones and not order_numbers:
        return 0
    return linking.calls_relink(client=client, phones=phones, order_numbers=order_numbers)
