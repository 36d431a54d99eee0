"""Reads of the Shopify catalogue (never including tombstones) and of customers, their orders and calls, always
for one client. Customers and orders leave here as the API shows them (`customer_row`, `order_row`)."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from django.db.models import Exists, OuterRef, Prefetch, Q, QuerySet, Subquery

from accounts.models import Client
from integrations.models import (
    CallCustomer,
    CallMatch,
    Product,
    ProductVariant,
    ShopifyConnection,
    ShopifyCustomer,
    ShopifyOrder,
    ShopifyPhone,
)
from integrations.shopify.cards import order_admin_url
from recordings.models import Call

PRODUCT_LIST_FIELDS = (
    "id",
    "public_id",
    "shopify_id",
    "title",
    "handle",
    "status",
    "vendor",
    "product_type",
    "tags",
    "images_count",
    "shopify_updated_at",
    "synced_at",
)
VARIANT_LIST_FIELDS = (
    "product_id",
    "shopify_id",
    "sku",
    "title",
    "price",
    "compare_at_price",
    "inventory_quantity",
    "barcode",
)


def product_list(*, client: Client, q: str | None = "", status: str | None = "") -> QuerySet[Product]:
    """The client's products by title, with their variants prefetched (for model instances; the list
    endpoint reads `.values()` rows and `variant_rows()` instead).

    `q` matches words in the title (case-insensitive) or the start of a variant's SKU (so an exact
    SKU matches too); `status` is one of ProductStatus.
    """
    products = Product.objects.for_client(client).filter(deleted_at__isnull=True)
    q = (q or "").strip()
    if q:
        sku = ProductVariant.objects.filter(product=OuterRef("pk"), sku__istartswith=q)
        products = products.filter(Q(title__icontains=q) | Exists(sku))
    if status:
        products = products.filter(status=status)
    return products.order_by("title", "id").prefetch_related(
        Prefetch("variants", queryset=ProductVariant.objects.order_by("id"))
    )


def variant_rows(*, client: Client, product_ids: list[int]) -> dict[int, list[dict]]:
    """The variants of these products as `.values(*VARIANT_LIST_FIELDS)` rows by product id, in id order:
    one query for a whole page."""
    by_product: dict[int, list[dict]] = {product_id: [] for product_id in product_ids}
    if product_ids:
        rows = (
            ProductVariant.objects.for_client(client)
            .filter(product_id__in=product_ids)
            .order_by("id")
            .values(*VARIANT_LIST_FIELDS)
        )
        for row in rows:
            by_product[row["product_id"]].append(row)
    return by_product


# --- customers and orders -------------------------------------------------------------------------

CUSTOMER_FIELDS = (
    "id",
    "public_id",
    "first_name",
    "last_name",
    "email",
    "phone",
    "tags",
    "orders_count",
    "total_spent",
    "currency",
    "shopify_created_at",
)
ORDER_FIELDS = (
    "id",
    "public_id",
    "shopify_id",
    "customer_id",
    "name",
    "processed_at",
    "financial_status",
    "fulfillment_status",
    "cancelled_at",
    "closed_at",
    "total",
    "currency",
    "item_count",
)
ORDERS_SHOWN = 5
CALLS_SHOWN = 10
CANDIDATES_SHOWN = 10
# An order still to deal with: not cancelled, and not both closed and fulfilled.
OPEN_ORDER = Q(cancelled_at__isnull=True) & (Q(closed_at__isnull=True) | ~Q(fulfillment_status__iexact="fulfilled"))


def customer_name(values: dict[str, Any]) -> str:
    return f"{values.get('first_name') or ''} {values.get('last_name') or ''}".strip()


def customer_row(values: dict[str, Any]) -> dict[str, Any]:
    """A customer as the API shows it, from a `.values(*CUSTOMER_FIELDS)` row."""
    return {
        "id": values["public_id"],
        "name": customer_name(values),
        "email": values["email"],
        "phone": values["phone"],
        "tags": list(values["tags"] or []),
        "orders_count": values["orders_count"],
        "total_spent": None if values["total_spent"] is None else str(values["total_spent"]),
        "currency": values["currency"],
    }


def order_row(values: dict[str, Any], *, shop_domain: str) -> dict[str, Any]:
    """An order as the API shows it, from a `.values(*ORDER_FIELDS)` row."""
    return {
        "id": values["public_id"],
        "name": values["name"],
        "processed_at": values["processed_at"],
        "financial_status": values["financial_status"],
        "fulfillment_status": values["fulfillment_status"],
        "cancelled_at": values["cancelled_at"],
        "total": None if values["total"] is None else str(values["total"]),
        "currency": values["currency"],
        "item_count": values["item_count"],
        "admin_url": order_admin_url(shop_domain, values["shopify_id"]),
    }


def shop_domain_subquery() -> Subquery:
    """The shop domain of the row's client, as an annotation: the store's links without a query of their own."""
    connections = ShopifyConnection.objects.filter(client_id=OuterRef("client_id")).values("shop_domain")
    return Subquery(connections[:1])


def shop_domain_of(client: Client | int) -> str:
    """The client's store domain ("" without a Shopify connection), for links into its admin."""
    return ShopifyConnection.objects.for_client(client).values_list("shop_domain", flat=True).first() or ""


def orders_latest(*, client: Client | int, customer_ids: Iterable[int], limit: int = ORDERS_SHOWN) -> list[dict]:
    """The newest orders of these customers (`.values(*ORDER_FIELDS)` rows), on the (customer, -processed_at)
    index: one query per customer, so a customer with thousands of orders costs the same as one with five."""
    ids = list(customer_ids)
    orders = ShopifyOrder.objects.for_client(client).order_by("-processed_at", "-id").values(*ORDER_FIELDS)
    if len(ids) == 1:
        return list(orders.filter(customer_id=ids[0])[:limit])
    rows = [row for customer_id in ids for row in orders.filter(customer_id=customer_id)[:limit]]
    rows.sort(key=lambda row: (row["processed_at"] is not None, row["processed_at"], row["id"]), reverse=True)
    return rows[:limit]


def customer_calls(*, client: Client, customer: ShopifyCustomer, limit: int = CALLS_SHOWN) -> list[dict]:
    """The customer's latest linked calls: id, direction, numbers, status, started_at, duration_seconds."""
    call_ids = CallCustomer.objects.for_client(client).filter(customer=customer).values("call_id")
    return call_summaries(Call.objects.for_client(client).filter(pk__in=call_ids), limit=limit)


CALL_SUMMARY_FIELDS = ("direction", "from_number", "to_number", "status", "started_at", "duration_seconds")


def call_summaries(calls: QuerySet[Call], *, limit: int) -> list[dict]:
    """The newest of `calls` as the customer and lookup answers show them."""
    rows = calls.order_by("-started_at", "-id").values("public_id", *CALL_SUMMARY_FIELDS)[:limit]
    return [{"id": row["public_id"], **{name: row[name] for name in CALL_SUMMARY_FIELDS}} for row in rows]


def customer_detail(*, client: Client, customer: ShopifyCustomer) -> dict[str, Any]:
    """A customer with its latest orders and calls, as the API shows them."""
    values = {name: getattr(customer, name) for name in CUSTOMER_FIELDS}
    domain = shop_domain_of(client)
    return {
        **customer_row(values),
        "shopify_created_at": customer.shopify_created_at,
        "orders": [
            order_row(row, shop_domain=domain) for row in orders_latest(client=client, customer_ids=[customer.pk])
        ],
        "calls": customer_calls(client=client, customer=customer),
    }


def customer_lookup(*, client: Client, phone: str) -> dict[str, Any]:
    """The screen-pop for one E.164 number: its customer (or the candidates when several share it), their open
    orders, and the last calls with the number. Four indexed queries at most, whatever the store's size: the
    numbers on (client, phone), the customers by id, their open orders on (customer, -processed_at) with the
    store's domain, the calls on (client, from_number) and (client, to_number)."""
    indexed = list(
        ShopifyPhone.objects.for_client(client)
        .filter(phone=phone)
        .values_list("customer_id", "order_id", "order__customer_id")
    )
    customer_ids = sorted({customer_id or order_customer_id for customer_id, _, order_customer_id in indexed} - {None})
    guest_order_ids = sorted(
        {order_id for customer_id, order_id, order_customer_id in indexed if not (customer_id or order_customer_id)}
        - {None}
    )
    shown_ids = customer_ids[:CANDIDATES_SHOWN]
    customers = (
        list(
            ShopifyCustomer.objects.for_client(client)
            .filter(pk__in=shown_ids)
            .order_by("-shopify_created_at", "-id")
            .values(*CUSTOMER_FIELDS)
        )
        if shown_ids
        else []
    )
    match = CallMatch.PHONE if len(customer_ids) == 1 else CallMatch.AMBIGUOUS if customer_ids else CallMatch.NONE
    orders: list[dict] = []
    if shown_ids or guest_order_ids:
        of_them = Q(customer_id__in=shown_ids) | Q(pk__in=guest_order_ids[:ORDERS_SHOWN], customer__isnull=True)
        orders = list(
            ShopifyOrder.objects.for_client(client)
            .filter(of_them, OPEN_ORDER)
            .annotate(shop_domain=shop_domain_subquery())
            .order_by("-processed_at", "-id")
            .values(*ORDER_FIELDS, "shop_domain")[: ORDERS_SHOWN * 2]
        )
    calls = Call.objects.for_client(client).filter(Q(from_number=phone) | Q(to_number=phone))
    rows = [customer_row(row) for row in customers]
    return {
        "phone": phone,
        "customer_match": match,
        "customer": rows[0] if match == CallMatch.PHONE else None,
        "candidates": rows if match == CallMatch.AMBIGUOUS else [],
        "open_orders": [order_row(row, shop_domain=row["shop_domain"] or "") for row in orders],
        "calls": call_summaries(calls, limit=ORDERS_SHOWN),
    }
