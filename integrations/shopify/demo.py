"""Demo catalogue: realistic, deterministic products of an Indian apparel-and-home store for `seed_demo`.

Products get the Shopify ids DEMO_FIRST_ID, DEMO_FIRST_ID + 1, … so seeding again inserts only the
ones missing (a larger `count` extends the set; nothing is duplicated). Rows go in with bulk_create
(one lookup, one insert of products, one of variants); a test validates the generator's output.
A real sync deletes them, as they are not in the shop: demo data never mixes with a real catalogue.
"""

from __future__ import annotations

import random
from dataclasses import dataclass
from datetime import datetime, timedelta
from decimal import Decimal

from django.db import transaction
from django.utils import timezone

from accounts.models import Client
from integrations.models import Product, ProductStatus, ProductVariant

DEMO_FIRST_ID = 8_000_000_000_000
DEMO_VARIANT_FACTOR = 100  # variant ids: product id × 100 + n, never colliding between products
STATUS_WEIGHTS = {ProductStatus.ACTIVE: 85, ProductStatus.DRAFT: 10, ProductStatus.ARCHIVED: 5}

# (type, vendor, names, options, price in ₹, audience tag, what it is made of)
KINDS = (
    (
        "Kurta",
        "Jaipur Threads",
        ("Kurta", "Straight Kurta", "A-line Kurta"),
        ("S", "M", "L", "XL"),
        1299,
        "women",
        "hand block-printed cotton",
    ),
    (
        "Shirt",
        "Bombay Loom",
        ("Linen Shirt", "Oxford Shirt", "Mandarin Collar Shirt"),
        ("38", "40", "42", "44"),
        1499,
        "men",
        "a breathable linen blend",
    ),
    (
        "Saree",
        "Kanchi Weaves",
        ("Silk Saree", "Cotton Saree", "Chanderi Saree"),
        ("Free size",),
        3499,
        "women",
        "handloom yarn, with a blouse piece",
    ),
    ("Dupatta", "Jaipur Threads", ("Dupatta", "Block-print Stole"), ("Free size",), 599, "women", "soft mulmul"),
    (
        "Bedsheet",
        "Sanganer Home",
        ("Double Bedsheet", "King Bedsheet Set"),
        ("Double", "King"),
        1899,
        "home",
        "180 thread-count cotton, with two pillow covers",
    ),
    (
        "Cushion cover",
        "Sanganer Home",
        ("Cushion Cover", "Cushion Cover Set of 2"),
        ("16 x 16 in", "18 x 18 in"),
        449,
        "home",
        "khadi cotton with a hidden zip",
    ),
    (
        "Mug",
        "Khurja Pottery",
        ("Stoneware Mug", "Kulhad Set of 4"),
        ("One size",),
        399,
        "home",
        "glazed stoneware, microwave safe",
    ),
)
COLOURS = ("Indigo", "Ivory", "Mustard", "Rust", "Sage", "Maroon", "Teal", "Charcoal", "Rose", "Saffron")
TEAS = ("Masala Chai", "Darjeeling First Flush", "Assam CTC", "Nilgiri Frost", "Kashmiri Kahwa")


@dataclass(frozen=True)
class _Spec:
    """What a demo product's variants are made from."""

    options: tuple[str, ...]
    mrp: Decimal
    on_sale: bool
    sku_code: str
    rng: random.Random


@transaction.atomic
def seed_products(*, client: Client, count: int = 40) -> int:
    """Give `client` `count` demo products with variants; returns how many were created now."""
    now = timezone.now()
    wanted = [DEMO_FIRST_ID + n for n in range(count)]
    existing = set(
        Product.objects.for_client(client).filter(shopify_id__in=wanted).values_list("shopify_id", flat=True)
    )
    made = [_product(client, n, shopify_id, now) for n, shopify_id in enumerate(wanted) if shopify_id not in existing]
    Product.objects.bulk_create([product for product, _ in made])
    ProductVariant.objects.bulk_create(
        [
            ProductVariant(
                client=client,
                product=product,
                shopify_id=product.shopify_id * DEMO_VARIANT_FACTOR + i,
                sku=f"{spec.sku_code}-{option.split()[0].upper()}",
                title=option,
                price=(spec.mrp * Decimal("0.8")).quantize(Decimal("1")) if spec.on_sale else spec.mrp,
                compare_at_price=spec.mrp if spec.on_sale else None,
                inventory_quantity=spec.rng.choice((0, 3, 8, 15, 24, 40, 75, 120)),
                barcode=ean13(f"890{product.shopify_id % 10**6:06d}{i:03d}"),
            )
            for product, spec in made
            for i, option in enumerate(spec.options)
        ]
    )
    return len(made)


def _product(client: Client, n: int, shopify_id: int, now: datetime) -> tuple[Product, _Spec]:
    rng = random.Random(f"demo-product-{n}")  # noqa: S311 - demo data, not secrets
    if n % (len(KINDS) + 1) == len(KINDS):
        kind, vendor, options, price, audience = "Tea", "Assam Gardens", ("100 g", "250 g", "500 g"), 349, "food"
        title = f"{TEAS[(n // (len(KINDS) + 1)) % len(TEAS)]} Tea"
        made_of = "whole leaves from a single estate, packed at the garden"
        sku_code = f"TEA-{n:04d}"
    else:
        kind, vendor, names, options, price, audience, made_of = KINDS[n % (len(KINDS) + 1)]
        colour = COLOURS[(n // (len(KINDS) + 1)) % len(COLOURS)]
        title = f"{colour} {names[rng.randrange(len(names))]}"
        sku_code = f"{kind[:3].upper()}-{colour[:3].upper()}-{n:04d}"
    on_sale = rng.random() < 0.4
    product = Product(
        client=client,
        shopify_id=shopify_id,
        title=title,
        handle=f"{title.lower().replace(' ', '-')}-{n}",
        status=rng.choices(list(STATUS_WEIGHTS), weights=list(STATUS_WEIGHTS.values()))[0],
        vendor=vendor,
        product_type=kind,
        tags=[audience, kind.lower(), *(["sale"] if on_sale else [])],
        description=f"{title} by {vendor}: {made_of}.\n\nShips in 2–4 days. Easy 30-day returns.",
        images_count=rng.randrange(1, 7),
        shopify_updated_at=now - timedelta(days=rng.randrange(0, 60), minutes=rng.randrange(0, 1440)),
        synced_at=now,
    )
    mrp = Decimal(price + 100 * rng.randrange(0, 6))
    return product, _Spec(options=options, mrp=mrp, on_sale=on_sale, sku_code=sku_code, rng=rng)


def ean13(first12: str) -> str:
    """The barcode with its check digit (890 is India's GS1 prefix)."""
    total = sum(int(d) * (3 if i % 2 else 1) for i, d in enumerate(first12))
    return first12 + str((10 - total % 10) % 10)
