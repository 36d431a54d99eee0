"""Reads of the Shopify catalogue, always for one client and never including tombstones."""

from __future__ import annotations

from django.db.models import Exists, OuterRef, Prefetch, Q, QuerySet

from accounts.models import Client
from integrations.models import Product, ProductVariant


def product_list(*, client: Client, q: str | None = "", status: str | None = "") -> QuerySet[Product]:
    """The client's products by title, with their variants prefetched.

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


def product_get(*, client: Client, public_id) -> Product | None:
    """One live product of the client with its variants, or None (a foreign id included)."""
    return product_list(client=client).filter(public_id=public_id).first()
