"""Reads of the Shopify catalogue, always for one client and never including tombstones."""

from __future__ import annotations

from django.db.models import Exists, OuterRef, Prefetch, Q, QuerySet

from accounts.models import Client
from integrations.models import Product, ProductVariant

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
