"""The Shopify catalogue in Caly: products and their variants, written in batches by syncs and webhooks.

A batch (a sync page, or the one product of a webhook) is written with one query that reads what
exists, one upsert for the products, one for the variants, one delete of the variants a product no
longer has. Newer data always wins: a product whose stored `shopify_updated_at` is later than the
incoming data keeps its row, and a product Shopify deleted stays a tombstone that no webhook can
bring back; only a full sync that started after the deletion and still saw the product (so Shopify
has it) revives it. Tombstones are purged by full syncs after TOMBSTONE_KEEP.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from django.db.models import Q
from django.utils import timezone

from accounts.models import Client
from integrations.models import Product, ProductVariant
from integrations.shopify.payloads import ProductData

# Shopify retries a delivery for 4 hours (48 before September 2024): tombstones outlive both.
TOMBSTONE_KEEP = timedelta(days=7)
DELETE_BATCH = 1000
PRODUCT_UPDATE_FIELDS = [
    "title",
    "handle",
    "status",
    "vendor",
    "product_type",
    "tags",
    "description",
    "images_count",
    "shopify_updated_at",
    "synced_at",
    "deleted_at",
    "updated_at",
]
VARIANT_UPDATE_FIELDS = ["product", "sku", "title", "price", "compare_at_price", "inventory_quantity", "barcode"]


@dataclass
class UpsertResult:
    created: int = 0
    updated: int = 0
    skipped: int = 0
    variants: int = 0


def products_upsert(
    *, client: Client, products: list[ProductData], synced_at: datetime, sync_started: datetime | None = None
) -> UpsertResult:
    """Write a batch of products with their complete variant lists; older data than stored is skipped.

    `sync_started` is set by full syncs: a tombstone made after it stays dead (the page was read
    before the deletion); an older one is revived, since Shopify still has the product. Webhooks
    leave it None: they never revive a tombstone. Call inside a transaction.
    """
    result = UpsertResult()
    batch = {product.shopify_id: product for product in products}  # a repeated id: the last one wins
    existing = {
        row[0]: row[1:]
        for row in Product.objects.for_client(client)
        .filter(shopify_id__in=list(batch))
        .values_list("shopify_id", "pk", "shopify_updated_at", "deleted_at")
    }
    to_write, seen_only = [], []
    for shopify_id, product in batch.items():
        pk, stored_at, deleted_at = existing.get(shopify_id, (None, None, None))
        dead = deleted_at is not None and (sync_started is None or deleted_at >= sync_started)
        stale = stored_at is not None and product.updated_at is not None and product.updated_at < stored_at
        if dead or (stale and deleted_at is None):
            result.skipped += 1
            if pk is not None and not dead:
                seen_only.append(pk)
            continue
        to_write.append(product)
        if pk is None:
            result.created += 1
        else:
            result.updated += 1
    if seen_only:  # still in Shopify: a full sync must not delete them
        Product.objects.filter(pk__in=seen_only).update(synced_at=synced_at)
    if not to_write:
        return result

    rows = [
        Product(
            client=client,
            shopify_id=product.shopify_id,
            title=product.title,
            handle=product.handle,
            status=product.status,
            vendor=product.vendor,
            product_type=product.product_type,
            tags=product.tags,
            description=product.description,
            images_count=product.images_count,
            shopify_updated_at=product.updated_at,
            synced_at=synced_at,
            deleted_at=None,
        )
        for product in to_write
    ]
    Product.objects.bulk_create(
        rows, update_conflicts=True, unique_fields=["client", "shopify_id"], update_fields=PRODUCT_UPDATE_FIELDS
    )
    pks = {row.shopify_id: row.pk for row in rows}  # SQLite and PostgreSQL return the ids of an upsert
    variants = {
        variant.shopify_id: ProductVariant(
            client=client,
            product_id=pks[product.shopify_id],
            shopify_id=variant.shopify_id,
            sku=variant.sku,
            title=variant.title,
            price=variant.price,
            compare_at_price=variant.compare_at_price,
            inventory_quantity=variant.inventory_quantity,
            barcode=variant.barcode,
        )
        for product in to_write
        for variant in product.variants
    }
    ProductVariant.objects.filter(product_id__in=list(pks.values())).exclude(shopify_id__in=list(variants)).delete()
    if variants:
        ProductVariant.objects.bulk_create(
            list(variants.values()),
            update_conflicts=True,
            unique_fields=["client", "shopify_id"],
            update_fields=VARIANT_UPDATE_FIELDS,
        )
    result.variants = len(variants)
    return result


def product_tombstone(*, client: Client, shopify_id: int, deleted_at: datetime) -> bool:
    """Shopify deleted the product: drop its variants and keep the row as a tombstone; False if already one.

    A delete that arrives before the product itself leaves a tombstone too, so the late create
    cannot bring it in. Call inside a transaction.
    """
    product = Product.objects.for_client(client).select_for_update().filter(shopify_id=shopify_id).first()
    if product is not None and product.deleted_at is not None:
        return False
    if product is None:
        Product.objects.create(client=client, shopify_id=shopify_id, title="", deleted_at=deleted_at)
        return True
    ProductVariant.objects.filter(product=product).delete()
    product.deleted_at = deleted_at
    product.save(update_fields=["deleted_at", "updated_at"])
    return True


def products_delete_unseen(*, client: Client, seen_since: datetime, now: datetime | None = None) -> int:
    """After a complete sync: delete live products no sync page or webhook touched since `seen_since`,
    and tombstones older than TOMBSTONE_KEEP; returns how many live products were deleted."""
    now = now or timezone.now()
    products = Product.objects.for_client(client)
    unseen = products.filter(deleted_at__isnull=True).filter(Q(synced_at__lt=seen_since) | Q(synced_at__isnull=True))
    deleted = _delete_in_batches(unseen)
    _delete_in_batches(products.filter(deleted_at__lt=now - TOMBSTONE_KEEP))
    return deleted


def _delete_in_batches(queryset) -> int:
    deleted = 0
    while True:
        ids = list(queryset.values_list("pk", flat=True)[:DELETE_BATCH])
        if not ids:
            return deleted
        # The condition is checked again as the rows are deleted: a webhook may have just touched one.
        per_model = queryset.filter(pk__in=ids).delete()[1]
        deleted += per_model.get(Product._meta.label, 0)
