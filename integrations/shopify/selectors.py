"""Reads of the Shopify catalogue (never including tombstones) and of customers, their orders and calls, always
for one client. Customers and orders leave here as the API shows them (`customer_row`, `order_row`)."""

from __future__ import annotations

import functools
import json
from collections.abc import Iterable
from typing import Any

from django.db import connections, router
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
    orders, and the last calls with the number. On PostgreSQL one statement (every part on its index: the
    numbers on (client, phone), the customers by id, their open orders on (customer, -processed_at), the calls
    on (client, from_number) and (client, to_number)); four indexed queries elsewhere, with the same answer."""
    if connections[router.db_for_read(ShopifyPhone)].vendor == "postgresql":
        return _customer_lookup_by_sql(client=client, phone=phone)
    return _customer_lookup_by_orm(client=client, phone=phone)


def _lookup_answer(
    phone: str, *, matched: int, customers: list[dict], orders: list[dict], calls: list[dict]
) -> dict[str, Any]:
    match = CallMatch.PHONE if matched == 1 else CallMatch.AMBIGUOUS if matched else CallMatch.NONE
    rows = [customer_row(row) for row in customers]
    return {
        "phone": phone,
        "customer_match": match,
        "customer": rows[0] if match == CallMatch.PHONE else None,
        "candidates": rows if match == CallMatch.AMBIGUOUS else [],
        "open_orders": [order_row(row, shop_domain=row["shop_domain"] or "") for row in orders],
        "calls": calls,
    }


def _customer_lookup_by_orm(*, client: Client, phone: str) -> dict[str, Any]:
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
    return _lookup_answer(
        phone,
        matched=len(customer_ids),
        customers=customers,
        orders=orders,
        calls=call_summaries(calls, limit=ORDERS_SHOWN),
    )


# The lookup's statement answers rows of three kinds (customers, open orders, calls) in shared columns: after
# `kind`, each kind's names for them (None: NULL). The first two order each kind as the ORM's order_by would.
_LOOKUP_ROWS = (
    (
        "shopify_created_at", "id", "matched", "public_id", "first_name", "last_name", "email", "phone", "tags",
        "total_spent", "orders_count", None, "currency",
    ),
    (
        "processed_at", "id", "shopify_id", "public_id", "name", "financial_status", "fulfillment_status", "currency",
        "shop_domain", "total", "item_count", "cancelled_at", None,
    ),
    (
        "started_at", "id", "duration_seconds", "public_id", "direction", "from_number", "to_number", "status", None,
        None, None, None, None,
    ),
)  # fmt: skip


@functools.cache
def _lookup_sql(alias: str) -> str:
    quote = connections[alias].ops.quote_name
    phones, orders, customers = (quote(model._meta.db_table) for model in (ShopifyPhone, ShopifyOrder, ShopifyCustomer))
    computed = {
        "matched": "(SELECT count(*) FROM matched)",
        "tags": "c.tags::text",
        "shop_domain": f"(SELECT s.shop_domain FROM {quote(ShopifyConnection._meta.db_table)} s"  # noqa: S608
        " WHERE s.client_id = %(client)s LIMIT 1)",
    }

    def select(kind: int, table: str) -> str:
        names = _LOOKUP_ROWS[kind]
        columns = [computed.get(name, f"{table}.{quote(name)}") if name else "NULL" for name in names]
        return f"SELECT {kind}, {', '.join(columns)}"

    open_order = (  # OPEN_ORDER
        "o.cancelled_at IS NULL"
        " AND (o.closed_at IS NULL OR NOT (UPPER(o.fulfillment_status::text) = UPPER('fulfilled')))"
    )
    # Identifiers from the models' _meta; every value is a parameter.
    return (
        "WITH hits AS (SELECT p.customer_id, p.order_id, o.customer_id AS order_customer_id"  # noqa: S608
        # An order's customer counts only for a number indexed without its own customer: only those are joined.
        f" FROM {phones} p LEFT JOIN {orders} o ON o.id = p.order_id AND p.customer_id IS NULL"
        " WHERE p.client_id = %(client)s AND p.phone = %(phone)s),"
        " matched AS (SELECT DISTINCT COALESCE(customer_id, order_customer_id) AS id FROM hits"
        " WHERE COALESCE(customer_id, order_customer_id) IS NOT NULL),"
        f" shown AS (SELECT id FROM matched ORDER BY id LIMIT {CANDIDATES_SHOWN}),"
        " guests AS (SELECT DISTINCT order_id AS id FROM hits"
        " WHERE customer_id IS NULL AND order_customer_id IS NULL AND order_id IS NOT NULL"
        f" ORDER BY id LIMIT {ORDERS_SHOWN})"
        f" {select(0, 'c')} FROM {customers} c"
        " WHERE c.client_id = %(client)s AND c.id = ANY(ARRAY(SELECT id FROM shown))"
        f" UNION ALL {select(1, 'o')} FROM (SELECT * FROM {orders} o"
        " WHERE (o.customer_id = ANY(ARRAY(SELECT id FROM shown))"
        " OR (o.id = ANY(ARRAY(SELECT id FROM guests)) AND o.customer_id IS NULL))"
        f" AND o.client_id = %(client)s AND {open_order}"
        f" ORDER BY o.processed_at DESC, o.id DESC LIMIT {ORDERS_SHOWN * 2}) o"
        f" UNION ALL {select(2, 'k')} FROM (SELECT * FROM {quote(Call._meta.db_table)} k"
        " WHERE k.client_id = %(client)s AND (k.from_number = %(phone)s OR k.to_number = %(phone)s)"
        f" ORDER BY k.started_at DESC, k.id DESC LIMIT {ORDERS_SHOWN}) k"
        " ORDER BY 1, 2 DESC, 3 DESC"
    )


def _customer_lookup_by_sql(*, client: Client, phone: str) -> dict[str, Any]:
    alias = router.db_for_read(ShopifyPhone)
    with connections[alias].cursor() as cursor:
        cursor.execute(_lookup_sql(alias), {"client": client.pk, "phone": phone})
        rows = cursor.fetchall()
    found: tuple[list[dict], list[dict], list[dict]] = ([], [], [])
    for kind, *values in rows:
        found[kind].append(dict(zip(_LOOKUP_ROWS[kind], values, strict=True)))
    customers, orders, calls = found
    for customer in customers:
        customer["tags"] = json.loads(customer["tags"])
    return _lookup_answer(
        phone,
        matched=customers[0]["matched"] if customers else 0,
        customers=customers,
        orders=orders,
        calls=[{"id": row["public_id"], **{name: row[name] for name in CALL_SUMMARY_FIELDS}} for row in calls],
    )
