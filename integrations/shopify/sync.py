"""The full product sync: every product of the shop, page by page, then what Shopify no longer has goes.

Page size. Shopify refuses any single query whose requested cost exceeds 1,000 points, and a
connection costs `2 + first × (cost of one node)`: `products(first: 250)` with `variants(first: 100)`
would ask for about 26,000. A page therefore carries PRODUCTS_PER_PAGE products with their first
VARIANTS_PER_PRODUCT variants (978 points); a product with more variants has the rest fetched 250
at a time by a follow-up query, so no product is ever cut short.

Each page is written in its own short transaction holding the connection's row lock (webhooks take
the same lock, so a webhook and a page never interleave). Only a sync that read every page deletes
anything: a failed sync leaves every product where it was.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from dataclasses import dataclass, field, replace
from datetime import datetime

from django.db import transaction
from django.utils import timezone

from integrations.models import ShopifyConnection
from integrations.shopify import catalogue
from integrations.shopify import client as shopify
from integrations.shopify.payloads import PayloadError, ProductData, product_from_graphql, variants_from_graphql

logger = logging.getLogger("caly.shopify")

# A connection's last_sync_status.
SYNC_RUNNING, SYNC_OK, SYNC_FAILED = "running", "ok", "failed"

MAX_QUERY_COST = 1000
VARIANTS_PER_PRODUCT = 20
# Per product: the product (1), mediaCount (1), its variants connection (2 + n) and pageInfo (1).
PRODUCTS_PER_PAGE = (MAX_QUERY_COST - 3) // (5 + VARIANTS_PER_PRODUCT)
PAGE_COST = 3 + PRODUCTS_PER_PAGE * (5 + VARIANTS_PER_PRODUCT)
MORE_VARIANTS = 250
MORE_VARIANTS_COST = 4 + MORE_VARIANTS

VARIANT_FIELDS = "id legacyResourceId sku title price compareAtPrice inventoryQuantity barcode"
PRODUCTS_QUERY = f"""
query CalyProducts($first: Int!, $after: String, $variants: Int!) {{
  products(first: $first, after: $after, sortKey: ID) {{
    pageInfo {{ hasNextPage endCursor }}
    nodes {{
      id legacyResourceId title handle status vendor productType tags description updatedAt
      mediaCount {{ count }}
      variants(first: $variants) {{
        pageInfo {{ hasNextPage endCursor }}
        nodes {{ {VARIANT_FIELDS} }}
      }}
    }}
  }}
}}
"""
MORE_VARIANTS_QUERY = f"""
query CalyProductVariants($id: ID!, $first: Int!, $after: String) {{
  product(id: $id) {{
    variants(first: $first, after: $after) {{
      pageInfo {{ hasNextPage endCursor }}
      nodes {{ {VARIANT_FIELDS} }}
    }}
  }}
}}
"""


class SyncAborted(Exception):
    """The sync cannot go on for a reason on our side (the connection went away or changed shop)."""


@dataclass
class SyncResult:
    ok: bool
    counts: dict[str, int] = field(default_factory=dict)
    error: str = ""


def products_sync(*, connection: ShopifyConnection, started: datetime) -> SyncResult:
    """Run the sync that shopify_sync_begin marked running at `started`, and record how it ended.

    Shopify's and our own refusals end in a failed result (recorded, nothing deleted); anything
    unexpected is recorded as failed and raised, so the task shows it too.
    """
    counts = {"created": 0, "updated": 0, "deleted": 0, "variants": 0}
    try:
        with shopify.ShopifyClient(connection) as api:
            for page in product_pages(api):
                with transaction.atomic():
                    lock_unchanged(connection)
                    written = catalogue.products_upsert(
                        client=connection.client, products=page, synced_at=timezone.now(), sync_started=started
                    )
                for name in ("created", "updated", "variants"):
                    counts[name] += getattr(written, name)
        with transaction.atomic():
            lock_unchanged(connection)
            counts["deleted"] = catalogue.products_delete_unseen(client=connection.client, seen_since=started)
    except (shopify.ShopifyError, PayloadError, SyncAborted) as exc:
        message = str(exc) if not isinstance(exc, PayloadError) else f"Shopify sent an unusable product: {exc}"
        logger.warning("Shopify sync of %s failed: %s", connection.shop_domain, message)
        shopify_sync_finish(connection=connection, started=started, counts=counts, error=message)
        return SyncResult(ok=False, counts=counts, error=message)
    except Exception:
        logger.exception("Shopify sync of %s failed unexpectedly", connection.shop_domain)
        shopify_sync_finish(
            connection=connection, started=started, counts=counts, error="An unexpected error stopped the sync."
        )
        raise
    logger.info("Shopify sync of %s finished: %s", connection.shop_domain, counts)
    shopify_sync_finish(connection=connection, started=started, counts=counts)
    return SyncResult(ok=True, counts=counts)


def shopify_sync_finish(
    *, connection: ShopifyConnection, started: datetime, counts: dict[str, int], error: str = ""
) -> None:
    """Record how the run that started at `started` ended (a newer run's state is left alone)."""
    ShopifyConnection.objects.filter(pk=connection.pk, last_sync_started_at=started).update(
        last_sync_status=SYNC_FAILED if error else SYNC_OK,
        last_sync_at=timezone.now(),
        last_sync_counts=counts,
        last_sync_error=error[:2000],
    )


def product_pages(api: shopify.ShopifyClient) -> Iterator[list[ProductData]]:
    """Every product of the shop, a page at a time, each with all of its variants."""
    after: str | None = None
    while True:
        data = api.query(
            PRODUCTS_QUERY,
            {"first": PRODUCTS_PER_PAGE, "after": after, "variants": VARIANTS_PER_PRODUCT},
            cost=PAGE_COST,
        )
        nodes, has_next, cursor = connection_nodes(data.get("products"))
        page = []
        for node in nodes:
            product = product_from_graphql(node)
            more, variants_cursor = connection_nodes(node.get("variants"))[1:]
            if more:
                rest = _more_variants(api, f"gid://shopify/Product/{product.shopify_id}", variants_cursor)
                product = replace(product, variants=product.variants + rest)
            page.append(product)
        yield page
        if not has_next:
            return
        if cursor == after:
            raise shopify.ShopifyError("Shopify returned the same page twice.")
        after = cursor


def _more_variants(api: shopify.ShopifyClient, product_gid: str, after: str) -> list:
    variants = []
    while True:
        data = api.query(
            MORE_VARIANTS_QUERY, {"id": product_gid, "first": MORE_VARIANTS, "after": after}, cost=MORE_VARIANTS_COST
        )
        product = data.get("product")
        if not isinstance(product, dict):
            return variants  # deleted meanwhile: its webhook will tombstone it
        nodes, has_next, cursor = connection_nodes(product.get("variants"))
        variants += variants_from_graphql(nodes)
        if not has_next:
            return variants
        if cursor == after:
            raise shopify.ShopifyError("Shopify returned the same page of variants twice.")
        after = cursor


def connection_nodes(value) -> tuple[list, bool, str | None]:
    """(nodes, hasNextPage, endCursor) of a GraphQL connection, refusing shapes that could loop forever."""
    if not isinstance(value, dict) or not isinstance(value.get("nodes"), list):
        raise shopify.ShopifyError("Shopify answered with an unexpected shape.")
    info = value.get("pageInfo") if isinstance(value.get("pageInfo"), dict) else {}
    has_next = info.get("hasNextPage") is True
    cursor = info.get("endCursor")
    if has_next and not (isinstance(cursor, str) and cursor):
        raise shopify.ShopifyError("Shopify said there is another page but gave no cursor.")
    return value["nodes"], has_next, cursor


def lock_unchanged(connection: ShopifyConnection) -> None:
    """Hold the connection's row lock (inside a transaction) and check it still points at the same shop."""
    locked = ShopifyConnection.objects.select_for_update().filter(pk=connection.pk).values("shop_domain").first()
    if locked is None:
        raise SyncAborted("Shopify was disconnected during the sync.")
    if locked["shop_domain"] != connection.shop_domain:
        raise SyncAborted("The connection was changed to another shop during the sync.")
