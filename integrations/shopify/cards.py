"""What the pages show of a Shopify customer: its contact, tags, lifetime value and latest orders, each order
with its statuses and a link into the store's Shopify admin. The card on a call and the Customers page both
read a customer through here, so they say the same thing in the same words.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from django.urls import reverse

from accounts.models import Client
from integrations.models import ConnectionState, ShopifyConnection, ShopifyCustomer, ShopifyOrder

ORDERS_SHOWN = 5
# Statuses Shopify reports that mean "done, nothing to chase", shown as a green badge.
SETTLED_STATUSES = frozenset({"paid", "fulfilled"})
# Statuses that need an agent's attention, shown as a red badge.
TROUBLED_STATUSES = frozenset({"voided", "expired", "refunded", "partially_refunded", "restocked", "on_hold"})


@dataclass(frozen=True)
class Store:
    """The client's Shopify store as the pages need it: where admin links point, and whether it is connected."""

    domain: str = ""
    connected: bool = False


def store_of(client: Client | int) -> Store:
    """The client's store; an uninstalled one keeps its domain (old orders still link) but is not connected."""
    # One connection per client: no ordering needed to pick it.
    found = ShopifyConnection.objects.for_client(client).only("shop_domain", "verified_at", "uninstalled_at")
    connection = next(iter(found.order_by()[:1]), None)
    if connection is None:
        return Store()
    return Store(domain=connection.shop_domain, connected=connection.state != ConnectionState.UNINSTALLED)


def order_admin_url(domain: str, shopify_id: int) -> str | None:
    """https://<shop>/admin/orders/<id>, or None when the store is unknown."""
    return f"https://{domain}/admin/orders/{shopify_id}" if domain else None


def customer_admin_url(domain: str, shopify_id: int) -> str | None:
    return f"https://{domain}/admin/customers/{shopify_id}" if domain else None


def status_label(value: str) -> str:
    """Shopify's PARTIALLY_REFUNDED or partially_refunded -> "Partially refunded"; "" -> ""."""
    return value.replace("_", " ").strip().capitalize()


def status_tone(value: str) -> str:
    """ "ok", "bad" or "" for the badge's colour."""
    key = value.lower()
    if key in SETTLED_STATUSES:
        return "ok"
    return "bad" if key in TROUBLED_STATUSES else ""


def money(amount: Decimal | None, currency: str) -> str:
    """Decimal("12499.50"), "INR" -> "INR 12,499.50"."""
    if amount is None:
        return "—"
    return f"{currency} {amount:,.2f}".strip()


def order_summary(order: ShopifyOrder, *, domain: str) -> dict[str, Any]:
    """One order as a row of the card or the customer page."""
    fulfillment = order.fulfillment_status or ("" if order.cancelled_at else "unfulfilled")
    return {
        "public_id": order.public_id,
        "name": order.name,
        "processed_at": order.processed_at,
        "financial_status": status_label(order.financial_status),
        "financial_tone": status_tone(order.financial_status),
        "fulfillment_status": status_label(fulfillment),
        "fulfillment_tone": status_tone(fulfillment),
        "cancelled": order.cancelled_at is not None,
        "total": money(order.total, order.currency),
        "item_count": order.item_count,
        "admin_url": order_admin_url(domain, order.shopify_id),
    }


def latest_orders(customer: ShopifyCustomer, *, limit: int = ORDERS_SHOWN) -> list[ShopifyOrder]:
    """The customer's newest orders, on the (customer, -processed_at, -id) index."""
    return list(
        ShopifyOrder.objects.for_client(customer.client_id)
        .filter(customer=customer)
        .order_by("-processed_at", "-id")[:limit]
    )


def customer_summary(
    customer: ShopifyCustomer, *, domain: str, orders: Iterable[ShopifyOrder] | None = None
) -> dict[str, Any]:
    """A customer with its latest orders (read here unless `orders` are given): what a card shows."""
    shown = latest_orders(customer) if orders is None else list(orders)
    return {
        "public_id": customer.public_id,
        "name": customer.name or customer.email or customer.phone or f"Customer {customer.shopify_id}",
        "email": customer.email,
        "phone": customer.phone,
        "tags": list(customer.tags or []),
        "orders_count": customer.orders_count,
        "total_spent": money(customer.total_spent, customer.currency),
        "since": customer.shopify_created_at,
        "url": reverse("integrations:customer", args=[customer.public_id]),
        "admin_url": customer_admin_url(domain, customer.shopify_id),
        "orders": [order_summary(order, domain=domain) for order in shown],
    }
