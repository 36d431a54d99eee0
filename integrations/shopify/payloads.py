"""Shopify's shapes of a product, a customer and an order (GraphQL Admin API nodes, bulk operation JSONL
lines, REST webhook JSON) made into one each.

Everything here is provider input: ids must be positive 64-bit integers, text is cut to the
columns' lengths, prices and quantities that do not fit are dropped rather than trusted, and HTML
descriptions become plain text. Phone numbers are carried as Shopify has them (free text, cut to
PHONE_MAX): the writes make them E.164 in the client's country. Data without a usable id raises
PayloadError.
"""

from __future__ import annotations

import html
import math
import re
from dataclasses import dataclass, field
from datetime import datetime
from decimal import ROUND_HALF_UP, Decimal, InvalidOperation
from typing import Any

from django.utils.html import strip_tags

from integrations.models import ProductStatus
from integrations.shopify import ids, privacy

TEXT_MAX = 255
DESCRIPTION_MAX = 50_000
TAGS_MAX = 250
EMAIL_MAX = 254
PHONE_MAX = 64
ORDER_NAME_MAX = 64
STATUS_MAX = 30
PRICE_LIMIT = Decimal(10) ** 12  # DecimalField(max_digits=14, decimal_places=2)
INT_LIMIT = 2**31 - 1
_CURRENCY = re.compile(r"[A-Z]{3}")
_ORDER_NUMBER = re.compile(r"([0-9]{1,18})(?!.*[0-9])")


class PayloadError(ValueError):
    """The data cannot be a Shopify product (no id, not an object)."""


PRODUCT_TOPICS = ("products/create", "products/update")
PRODUCT_DELETE = "products/delete"
APP_UNINSTALLED = "app/uninstalled"
# Keys only a product has, and keys only a shop has (REST webhook JSON).
CUSTOMER_TOPICS = ("customers/create", "customers/update")
CUSTOMER_DELETE = "customers/delete"
ORDER_TOPICS = ("orders/create", "orders/updated", "orders/cancelled", "orders/fulfilled", "orders/paid")
PRODUCT_KEYS = frozenset({"title", "handle", "variants", "body_html", "product_type", "vendor", "options", "images"})
SHOP_KEYS = frozenset({"myshopify_domain", "shop_owner", "plan_name", "primary_locale", "iana_timezone"})
CUSTOMER_KEYS = frozenset(
    {"first_name", "last_name", "verified_email", "addresses", "default_address", "multipass_identifier", "state"}
)
ORDER_KEYS = frozenset(
    {"line_items", "order_number", "financial_status", "fulfillment_status", "total_price", "processed_at"}
)


def topic_problem(topic: str, payload: dict[str, Any], *, shop_domain: str) -> str | None:
    """Why a signed body cannot be a delivery of `topic`, or None.

    Shopify signs the body, not the headers: the X-Shopify-Topic of a replayed delivery can say
    anything, so the body must have the shape of its topic (a product for products/create and
    update, a bare id for products/delete, this very shop for app/uninstalled, a customer or an order
    for customers/* and orders/*, whose admin_graphql_api_id, when present, names that kind of object;
    the privacy topics as integrations.shopify.privacy says). Topics not handled here are stored and
    ignored, whatever they carry.
    """
    if topic in privacy.TOPICS:
        return privacy.topic_problem(topic, payload, shop_domain=shop_domain)
    keys = payload.keys()
    if topic in CUSTOMER_TOPICS and (
        not keys & CUSTOMER_KEYS or keys & (ORDER_KEYS | PRODUCT_KEYS | SHOP_KEYS) or not _gid_fits(payload, "Customer")
    ):
        return f"A delivery of {topic} carries a customer; this body is not one."
    if topic == CUSTOMER_DELETE and (
        "id" not in keys or keys & (ORDER_KEYS | PRODUCT_KEYS | SHOP_KEYS) or not _gid_fits(payload, "Customer")
    ):
        return "A customers/delete delivery carries the deleted customer's id; this body is something else."
    if topic in ORDER_TOPICS and (
        not keys & ORDER_KEYS or keys & (CUSTOMER_KEYS | PRODUCT_KEYS | SHOP_KEYS) or not _gid_fits(payload, "Order")
    ):
        return f"A delivery of {topic} carries an order; this body is not one."
    if topic in PRODUCT_TOPICS and (not keys & PRODUCT_KEYS or keys & SHOP_KEYS):
        return f"A {topic} delivery carries a product; this body is not one."
    if topic == PRODUCT_DELETE and (keys & PRODUCT_KEYS or keys & SHOP_KEYS or "id" not in keys):
        return "A products/delete delivery carries the deleted product's id only; this body is something else."
    if topic == APP_UNINSTALLED:
        domain = payload.get("myshopify_domain")
        if not isinstance(domain, str) or domain.strip().lower() != shop_domain or keys & PRODUCT_KEYS:
            return "An app/uninstalled delivery carries this connection's shop; this body is something else."
    return None


def _gid_fits(payload: dict[str, Any], kind: str) -> bool:
    """The body's admin_graphql_api_id, when it has one, names an object of `kind` (a Customer, an Order)."""
    gid = payload.get("admin_graphql_api_id")
    return gid is None or (isinstance(gid, str) and gid.startswith(f"gid://shopify/{kind}/"))


@dataclass(frozen=True)
class VariantData:
    shopify_id: int
    sku: str = ""
    title: str = ""
    price: Decimal | None = None
    compare_at_price: Decimal | None = None
    inventory_quantity: int | None = None
    barcode: str = ""


@dataclass(frozen=True)
class ProductData:
    shopify_id: int
    title: str = ""
    handle: str = ""
    status: str = ProductStatus.ACTIVE
    vendor: str = ""
    product_type: str = ""
    tags: list[str] = field(default_factory=list)
    description: str = ""
    images_count: int = 0
    updated_at: datetime | None = None
    variants: list[VariantData] = field(default_factory=list)


def product_from_graphql(node: Any) -> ProductData:
    """A `products` node of the GraphQL Admin API (the variants it carries; more may follow)."""
    if not isinstance(node, dict):
        raise PayloadError("A product is not an object.")
    variants = (node.get("variants") or {}).get("nodes") if isinstance(node.get("variants"), dict) else None
    media = node.get("mediaCount")
    return ProductData(
        shopify_id=shopify_id(node.get("legacyResourceId") or node.get("id")),
        title=text(node.get("title")),
        handle=text(node.get("handle")),
        status=status(node.get("status")),
        vendor=text(node.get("vendor")),
        product_type=text(node.get("productType")),
        tags=tags(node.get("tags")),
        description=text(node.get("description"), DESCRIPTION_MAX, strip=False),
        images_count=count(media.get("count") if isinstance(media, dict) else None),
        updated_at=timestamp(node.get("updatedAt")),
        variants=variants_from_graphql(variants),
    )


def variants_from_graphql(nodes: Any) -> list[VariantData]:
    return [
        VariantData(
            shopify_id=shopify_id(node.get("legacyResourceId") or node.get("id")),
            sku=text(node.get("sku")),
            title=text(node.get("title")),
            price=money(node.get("price")),
            compare_at_price=money(node.get("compareAtPrice")),
            inventory_quantity=integer(node.get("inventoryQuantity")),
            barcode=text(node.get("barcode")),
        )
        for node in _objects(nodes)
    ]


def product_from_rest(payload: Any) -> ProductData:
    """The REST product JSON of a products/create or products/update webhook."""
    if not isinstance(payload, dict):
        raise PayloadError("The product is not an object.")
    media = payload.get("media") if isinstance(payload.get("media"), list) else payload.get("images")
    return ProductData(
        shopify_id=shopify_id(payload.get("id")),
        title=text(payload.get("title")),
        handle=text(payload.get("handle")),
        status=status(payload.get("status")),
        vendor=text(payload.get("vendor")),
        product_type=text(payload.get("product_type")),
        tags=tags(payload.get("tags")),
        description=html_to_text(payload.get("body_html")),
        images_count=len(media) if isinstance(media, list) else 0,
        updated_at=timestamp(payload.get("updated_at")),
        variants=[
            VariantData(
                shopify_id=shopify_id(variant.get("id")),
                sku=text(variant.get("sku")),
                title=text(variant.get("title")),
                price=money(variant.get("price")),
                compare_at_price=money(variant.get("compare_at_price")),
                inventory_quantity=integer(variant.get("inventory_quantity")),
                barcode=text(variant.get("barcode")),
            )
            for variant in _objects(payload.get("variants"))
        ],
    )


@dataclass(frozen=True)
class CustomerData:
    """A customer as Caly keeps it. None: the payload did not say (webhooks since 2025-01 carry no tags or
    purchasing totals), so what is stored stays."""

    shopify_id: int
    first_name: str = ""
    last_name: str = ""
    email: str = ""
    phone: str = ""  # as Shopify has it
    address_phone: str = ""  # the default address's, free text
    tags: list[str] | None = None
    orders_count: int | None = None
    total_spent: Decimal | None = None
    currency: str = ""
    created_at: datetime | None = None
    updated_at: datetime | None = None


@dataclass(frozen=True)
class OrderData:
    shopify_id: int
    name: str = ""
    number: int | None = None
    customer_shopify_id: int | None = None
    processed_at: datetime | None = None
    financial_status: str = ""
    fulfillment_status: str = ""
    cancelled_at: datetime | None = None
    closed_at: datetime | None = None
    total: Decimal | None = None
    currency: str = ""
    item_count: int = 0
    updated_at: datetime | None = None
    phone: str = ""  # the order's contact phone, as Shopify has it
    billing_phone: str = ""
    shipping_phone: str = ""


def customer_from_graphql(node: Any) -> CustomerData:
    """A `customers` node of the GraphQL Admin API, or a customer line of a bulk operation's JSONL."""
    if not isinstance(node, dict):
        raise PayloadError("A customer is not an object.")
    email_address = _field(node.get("defaultEmailAddress"), "emailAddress")
    phone_number = _field(node.get("defaultPhoneNumber"), "phoneNumber")
    spent = _dict(node.get("amountSpent"))
    return CustomerData(
        shopify_id=shopify_id(node.get("legacyResourceId") or node.get("id")),
        first_name=text(node.get("firstName")),
        last_name=text(node.get("lastName")),
        email=email(email_address if email_address is not None else node.get("email")),
        phone=text(phone_number if phone_number is not None else node.get("phone"), PHONE_MAX),
        address_phone=text(_field(node.get("defaultAddress"), "phone"), PHONE_MAX),
        tags=tags(node.get("tags")),
        orders_count=count(_unsigned(node.get("numberOfOrders"))),
        total_spent=money(spent.get("amount")),
        currency=currency(spent.get("currencyCode")),
        created_at=timestamp(node.get("createdAt")),
        updated_at=timestamp(node.get("updatedAt")),
    )


def order_from_graphql(node: Any, *, customer_shopify_id: int | None = None) -> OrderData:
    """An `orders` node of the GraphQL Admin API, or an order line of a bulk operation's JSONL (whose
    customer is its `__parentId`)."""
    if not isinstance(node, dict):
        raise PayloadError("An order is not an object.")
    customer = node.get("customer")
    if customer_shopify_id is None and isinstance(customer, dict) and customer.get("id") is not None:
        customer_shopify_id = shopify_id(customer.get("id"))
    price_set = _dict(node.get("totalPriceSet"))
    shop_money = _dict(price_set.get("shopMoney"))
    name = text(node.get("name"), ORDER_NAME_MAX)
    return OrderData(
        shopify_id=shopify_id(node.get("legacyResourceId") or node.get("id")),
        name=name,
        number=order_number(name),
        customer_shopify_id=customer_shopify_id,
        processed_at=timestamp(node.get("processedAt")) or timestamp(node.get("createdAt")),
        financial_status=order_status(node.get("displayFinancialStatus")),
        fulfillment_status=order_status(node.get("displayFulfillmentStatus")),
        cancelled_at=timestamp(node.get("cancelledAt")),
        closed_at=timestamp(node.get("closedAt")),
        total=money(shop_money.get("amount")),
        currency=currency(shop_money.get("currencyCode")),
        item_count=count(node.get("subtotalLineItemsQuantity")),
        updated_at=timestamp(node.get("updatedAt")),
        phone=text(node.get("phone"), PHONE_MAX),
        billing_phone=text(_field(node.get("billingAddress"), "phone"), PHONE_MAX),
        shipping_phone=text(_field(node.get("shippingAddress"), "phone"), PHONE_MAX),
    )


def customer_from_rest(payload: Any) -> CustomerData:
    """The REST customer JSON of a customers/create or customers/update webhook."""
    if not isinstance(payload, dict):
        raise PayloadError("The customer is not an object.")
    has = payload.keys()
    return CustomerData(
        shopify_id=shopify_id(payload.get("id")),
        first_name=text(payload.get("first_name")),
        last_name=text(payload.get("last_name")),
        email=email(payload.get("email")),
        phone=text(payload.get("phone"), PHONE_MAX),
        address_phone=text(_field(payload.get("default_address"), "phone"), PHONE_MAX),
        tags=tags(payload.get("tags")) if "tags" in has else None,
        orders_count=count(_unsigned(payload.get("orders_count"))) if "orders_count" in has else None,
        total_spent=money(payload.get("total_spent")) if "total_spent" in has else None,
        currency=currency(payload.get("currency")),
        created_at=timestamp(payload.get("created_at")),
        updated_at=timestamp(payload.get("updated_at")),
    )


def order_from_rest(payload: Any) -> OrderData:
    """The REST order JSON of an orders/* webhook."""
    if not isinstance(payload, dict):
        raise PayloadError("The order is not an object.")
    customer = payload.get("customer")
    customer_id = shopify_id(customer.get("id")) if isinstance(customer, dict) and customer.get("id") else None
    price_set = _dict(payload.get("total_price_set"))
    shop_money = _dict(price_set.get("shop_money"))
    name = text(payload.get("name"), ORDER_NAME_MAX)
    number = integer(payload.get("order_number"))
    return OrderData(
        shopify_id=shopify_id(payload.get("id")),
        name=name,
        number=number if number is not None and number > 0 else order_number(name),
        customer_shopify_id=customer_id,
        processed_at=timestamp(payload.get("processed_at")) or timestamp(payload.get("created_at")),
        financial_status=order_status(payload.get("financial_status")),
        fulfillment_status=order_status(payload.get("fulfillment_status")) or "unfulfilled",
        cancelled_at=timestamp(payload.get("cancelled_at")),
        closed_at=timestamp(payload.get("closed_at")),
        total=money(shop_money.get("amount", payload.get("total_price"))),
        currency=currency(shop_money.get("currency_code", payload.get("currency"))),
        item_count=min(sum(count(item.get("quantity")) for item in _objects(payload.get("line_items"))), INT_LIMIT),
        updated_at=timestamp(payload.get("updated_at")),
        phone=text(payload.get("phone"), PHONE_MAX),
        billing_phone=text(_field(payload.get("billing_address"), "phone"), PHONE_MAX),
        shipping_phone=text(_field(payload.get("shipping_address"), "phone"), PHONE_MAX),
    )


def email(value: Any) -> str:
    address = text(value, EMAIL_MAX).lower()
    return address if "@" in address else ""


def currency(value: Any) -> str:
    code = value.strip().upper() if isinstance(value, str) else ""
    return code if _CURRENCY.fullmatch(code) else ""


def order_number(name: str) -> int | None:
    """The number in an order's name: 1042 in "#1042", "SO-1042" or "1042-IN"."""
    match = _ORDER_NUMBER.search(name)
    number = int(match.group(1)) if match else 0
    return number if number > 0 else None


# REST's "partial" is GraphQL's PARTIALLY_FULFILLED; one vocabulary is stored, in lower case.
_STATUS_ALIASES = {"partial": "partially_fulfilled"}


def order_status(value: Any) -> str:
    status = value.strip().lower() if isinstance(value, str) else ""
    if not re.fullmatch(r"[a-z_]{1,30}", status):
        return ""
    return _STATUS_ALIASES.get(status, status)


def _unsigned(value: Any) -> Any:
    """GraphQL's UnsignedInt64 is a JSON string ("12")."""
    return int(value) if isinstance(value, str) and ids.DIGITS.fullmatch(value) else value


def _dict(value: Any) -> dict[str, Any]:
    return value if isinstance(value, dict) else {}


def _field(value: Any, name: str) -> Any:
    return value.get(name) if isinstance(value, dict) else None


def shopify_id(value: Any) -> int:
    """A positive 64-bit id from an integer, a string of digits or a `gid://shopify/Type/123`."""
    try:
        return ids.parse(value)
    except ids.InvalidId as exc:
        if exc.out_of_range:
            raise PayloadError("A Shopify id is out of range.") from None
        if isinstance(value, bool):
            raise PayloadError("A Shopify id is not a number.") from None
        raise PayloadError("An object has no valid Shopify id.") from None


def text(value: Any, limit: int = TEXT_MAX, *, strip: bool = True) -> str:
    if not isinstance(value, str):
        return ""
    value = value.replace("\x00", "")
    return (value.strip() if strip else value)[:limit]


def status(value: Any) -> str:
    """GraphQL says ACTIVE, REST says active; anything unknown is treated as not for sale (draft)."""
    value = value.lower() if isinstance(value, str) else ""
    return value if value in ProductStatus.values else ProductStatus.DRAFT


def tags(value: Any) -> list[str]:
    """A list (GraphQL) or a comma-separated string (REST); trimmed, without duplicates or blanks."""
    items = value.split(",") if isinstance(value, str) else value if isinstance(value, list) else []
    seen: dict[str, None] = {}
    for item in items:
        tag = text(item)
        if tag:
            seen.setdefault(tag, None)
    return list(seen)[:TAGS_MAX]


def money(value: Any) -> Decimal | None:
    if isinstance(value, bool) or not isinstance(value, (str, int, float)):
        return None
    try:
        amount = Decimal(str(value))
    except InvalidOperation:
        return None
    if not amount.is_finite() or abs(amount) >= PRICE_LIMIT:
        return None
    return amount.quantize(Decimal("0.01"), rounding=ROUND_HALF_UP)


def integer(value: Any) -> int | None:
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return None
    if isinstance(value, float) and (not math.isfinite(value) or not value.is_integer()):
        return None
    number = int(value)
    return number if -INT_LIMIT <= number <= INT_LIMIT else None


def count(value: Any) -> int:
    number = integer(value)
    return number if number is not None and number > 0 else 0


def timestamp(value: Any) -> datetime | None:
    """An ISO 8601 time with its offset (Shopify always sends one); anything else is unknown."""
    if not isinstance(value, str) or len(value) > 64:
        return None
    try:
        moment = datetime.fromisoformat(value)
    except ValueError:
        return None
    return moment if moment.tzinfo is not None else None


_DROPPED = re.compile(r"<(script|style)\b[^>]*>.*?</\1\s*>", re.IGNORECASE | re.DOTALL)
_BREAKS = re.compile(r"<br\s*/?>|</(p|div|li|h[1-6]|tr|blockquote)\s*>", re.IGNORECASE)


def html_to_text(value: Any) -> str:
    """Shopify's body_html as the plain text an agent reads: paragraphs kept, markup and entities gone."""
    if not isinstance(value, str):
        return ""
    value = _BREAKS.sub("\n", _DROPPED.sub("", value))
    value = html.unescape(strip_tags(value)).replace("\x00", "")
    lines = [" ".join(line.split()) for line in value.splitlines()]
    return re.sub(r"\n{3,}", "\n\n", "\n".join(lines)).strip()[:DESCRIPTION_MAX]


def _objects(value: Any) -> list[dict]:
    return [item for item in value if isinstance(item, dict)] if isinstance(value, list) else []
