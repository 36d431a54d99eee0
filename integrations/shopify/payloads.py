"""Shopify's two shapes of a product (GraphQL Admin API nodes, REST webhook JSON) made into one.

Everything here is provider input: ids must be positive 64-bit integers, text is cut to the
columns' lengths, prices and quantities that do not fit are dropped rather than trusted, and HTML
descriptions become plain text. A product without a usable id raises PayloadError.
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

TEXT_MAX = 255
DESCRIPTION_MAX = 50_000
TAGS_MAX = 250
PRICE_LIMIT = Decimal(10) ** 12  # DecimalField(max_digits=14, decimal_places=2)
INT_LIMIT = 2**31 - 1
ID_LIMIT = 2**63 - 1
_DIGITS = re.compile(r"[0-9]{1,19}")
_GID = re.compile(r"gid://shopify/[A-Za-z]+/([0-9]{1,19})")


class PayloadError(ValueError):
    """The data cannot be a Shopify product (no id, not an object)."""


PRODUCT_TOPICS = ("products/create", "products/update")
PRODUCT_DELETE = "products/delete"
APP_UNINSTALLED = "app/uninstalled"
# Keys only a product has, and keys only a shop has (REST webhook JSON).
PRODUCT_KEYS = frozenset({"title", "handle", "variants", "body_html", "product_type", "vendor", "options", "images"})
SHOP_KEYS = frozenset({"myshopify_domain", "shop_owner", "plan_name", "primary_locale", "iana_timezone"})


def topic_problem(topic: str, payload: dict[str, Any], *, shop_domain: str) -> str | None:
    """Why a signed body cannot be a delivery of `topic`, or None.

    Shopify signs the body, not the headers: the X-Shopify-Topic of a replayed delivery can say
    anything, so the body must have the shape of its topic (a product for products/create and
    update, a bare id for products/delete, this very shop for app/uninstalled). Topics not handled
    here are stored and ignored, whatever they carry.
    """
    keys = payload.keys()
    if topic in PRODUCT_TOPICS and (not keys & PRODUCT_KEYS or keys & SHOP_KEYS):
        return f"A {topic} delivery carries a product; this body is not one."
    if topic == PRODUCT_DELETE and (keys & PRODUCT_KEYS or keys & SHOP_KEYS or "id" not in keys):
        return "A products/delete delivery carries the deleted product's id only; this body is something else."
    if topic == APP_UNINSTALLED:
        domain = payload.get("myshopify_domain")
        if not isinstance(domain, str) or domain.strip().lower() != shop_domain or keys & PRODUCT_KEYS:
            return "An app/uninstalled delivery carries this connection's shop; this body is something else."
    return None


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


def shopify_id(value: Any) -> int:
    """A positive 64-bit id from an integer, a string of digits or a `gid://shopify/Type/123`."""
    if isinstance(value, bool):
        raise PayloadError("A Shopify id is not a number.")
    if isinstance(value, int):
        number = value
    elif isinstance(value, str) and (_DIGITS.fullmatch(value) or _GID.fullmatch(value)):
        match = _GID.fullmatch(value)
        number = int(match.group(1) if match else value)
    else:
        raise PayloadError("A product or variant has no valid Shopify id.")
    if not 0 < number <= ID_LIMIT:
        raise PayloadError("A Shopify id is out of range.")
    return number


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
