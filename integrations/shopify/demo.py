"""Demo Shopify data for `seed_demo`: a realistic, deterministic catalogue of an Indian apparel-and-home store,
and the store's customers and orders made from the numbers and order references of the client's demo calls.

Products get the Shopify ids DEMO_FIRST_ID, DEMO_FIRST_ID + 1, … so seeding again inserts only the
ones missing (a larger `count` extends the set; nothing is duplicated). Rows go in with bulk_create
(one lookup, one insert of products, one of variants); a test validates the generator's output.
A real sync deletes them, as they are not in the shop: demo data never mixes with a real catalogue.

Customers (`seed_customers`): most numbers that call are one customer's; some are nobody's (a new shopper),
a few are shared by two customers (a household), which Caly shows as ambiguous. An order named on a call
(Exotel's CustomField `order-1042`, or `#1042` in the notes) is the caller's; a CustomField naming an order
from a number Caly does not know belongs to a customer who called from another phone, so the call is still
linked, through the order. Ids derive from the phone number or the order number, so seeding again adds only
what is missing; then every demo call is linked (integrations.shopify.linking), as a live one is.
"""

from __future__ import annotations

import random
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from decimal import Decimal

from django.db import transaction
from django.db.models import Count, Max, Q, Sum
from django.utils import timezone

from accounts.models import Client
from integrations.models import (
    PhoneSource,
    Product,
    ProductStatus,
    ProductVariant,
    ShopifyCustomer,
    ShopifyOrder,
    ShopifyPhone,
)
from integrations.shopify import linking
from recordings.demo import DEMO_ID_PREFIX
from recordings.models import Call

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


# --- customers and orders ------------------------------------------------------------------------

# Shopify ids: a base plus the number's digits (91XXXXXXXXXX < 10**12) or the order number, so each base
# keeps to its own range and seeding again finds what it made.
DEMO_CUSTOMER_BASE = 7_000_000_000_000  # the customer whose number it is
DEMO_HOUSEHOLD_BASE = 5_000_000_000_000  # the second customer of a shared number
DEMO_GUEST_BASE = 4_000_000_000_000  # a customer who called from a number not their own
DEMO_ORDER_BASE = 6_000_000_000_000
UNKNOWN_SHARE = 0.12  # numbers no customer has
SHARED_SHARE = 0.04  # numbers two customers share
FIRST_OTHER_ORDER = 10_001  # orders no call names are numbered after those calls name (1001–9999)
OTHER_ORDERS_WEIGHTS = {0: 25, 1: 35, 2: 20, 3: 12, 4: 8}
CUSTOMER_BATCH = 5000
FIRST_NAMES = (
    "Aarav", "Priya", "Rohan", "Ananya", "Vikram", "Sneha", "Arjun", "Kavya", "Rahul", "Meera", "Aditya", "Isha",
    "Karan", "Pooja", "Siddharth", "Neha", "Varun", "Divya", "Nikhil", "Riya", "Manish", "Lakshmi", "Farhan",
    "Zoya", "Harpreet", "Gurleen", "Joseph", "Anita", "Suresh", "Deepa",
)  # fmt: skip
LAST_NAMES = (
    "Sharma", "Iyer", "Reddy", "Nair", "Patel", "Gupta", "Singh", "Khan", "Das", "Menon", "Joshi", "Kulkarni",
    "Banerjee", "Chatterjee", "Fernandes", "Rao", "Mehta", "Agarwal", "Pillai", "Bhat",
)  # fmt: skip
TAG_SHARES = (("repeat", 0.3), ("newsletter", 0.35), ("cod", 0.25), ("vip", 0.08), ("wholesale", 0.03))
FINANCIAL_WEIGHTS = {"paid": 70, "pending": 14, "authorized": 3, "partially_refunded": 4, "refunded": 6, "voided": 3}
FULFILLMENT_WEIGHTS = {"fulfilled": 65, "unfulfilled": 25, "partially_fulfilled": 6, "on_hold": 4}
ITEM_PRICES = (399, 449, 599, 1299, 1499, 1899, 3499)


@dataclass
class _Wanted:
    """What the demo calls ask for: customers by Shopify id, their numbers, and the orders calls name."""

    customers: dict[int, ShopifyCustomer] = field(default_factory=dict)
    phones: list[tuple[int, str, str]] = field(default_factory=list)  # (customer's Shopify id, E.164, source)
    named: dict[int, tuple[int, datetime]] = field(default_factory=dict)  # number → (customer's id, call time)


def seed_customers(*, client: Client, now: datetime | None = None) -> dict[str, int]:
    """Give `client` the customers and orders of its demo calls' numbers and order references, then link the
    calls; returns how many customers and orders were created now and how many call links were written."""
    now = now or timezone.now()
    wanted = _wanted(client, now)
    existing = _customer_pks(client, list(wanted.customers))
    fresh = [customer for shopify_id, customer in wanted.customers.items() if shopify_id not in existing]
    with transaction.atomic():
        ShopifyCustomer.objects.bulk_create(fresh, batch_size=CUSTOMER_BATCH)
        ids = _customer_pks(client, list(wanted.customers))
        new_ids = {customer.shopify_id for customer in fresh}
        ShopifyPhone.objects.bulk_create(
            [
                ShopifyPhone(client=client, phone=phone, customer_id=ids[shopify_id], source=source)
                for shopify_id, phone, source in wanted.phones
                if shopify_id in new_ids
            ],
            batch_size=CUSTOMER_BATCH,
        )
        orders = _orders(client, wanted, fresh, ids, now)
        ShopifyOrder.objects.bulk_create(orders, batch_size=CUSTOMER_BATCH)
        _totals_refresh(client, {order.customer_id for order in orders if order.customer_id})
    # Calls seeded now have no link yet (bulk inserts send no call_saved); calls linked by an earlier run are
    # linked again where a new customer's number or a new order concerns them.
    linked_before = _has_links(client)
    linked = linking.calls_link_missing(client=client)
    if linked_before and (fresh or orders):
        phones = [phone for shopify_id, phone, _ in wanted.phones if shopify_id in new_ids]
        linked += linking.calls_relink(
            client=client, phones=phones, order_numbers=[o.number for o in orders if o.number]
        )
    return {"customers": len(fresh), "orders": len(orders), "linked": linked}


def _wanted(client: Client, now: datetime) -> _Wanted:
    wanted = _Wanted()
    numbers: set[str] = set()
    named: dict[int, tuple[str, datetime, bool]] = {}  # number → (caller, when, named by the CustomField)
    calls = (
        Call.objects.for_client(client)
        .filter(provider_call_id__startswith=DEMO_ID_PREFIX)
        .order_by("started_at", "id")
        .values_list("direction", "from_number", "to_number", "started_at", "notes", "metadata")
    )
    for direction, from_number, to_number, started_at, notes, metadata in calls.iterator(chunk_size=CUSTOMER_BATCH):
        phone = linking.customer_number(direction, from_number, to_number)
        numbers.add(phone)
        custom = metadata.get("custom_field") if isinstance(metadata, dict) else None
        for source, text in ((True, custom), (False, notes)):
            for reference in linking.order_references(text):
                if reference.tag in linking.GENERIC_TAGS:
                    named.setdefault(reference.number, (phone, started_at, source))
    owners: dict[str, int] = {}  # number → the customer whose orders calls from it name
    for phone in sorted(numbers):
        kind = random.Random(f"caly-demo-number:{client.slug}:{phone}").random()  # noqa: S311 - demo data
        if kind < UNKNOWN_SHARE or not phone[1:].isdigit():  # nobody's, or masked after a redaction
            continue
        digits = int(phone[1:])
        owner = _customer(client, DEMO_CUSTOMER_BASE + digits, phone, now)
        wanted.customers[owner.shopify_id] = owner
        wanted.phones.append((owner.shopify_id, phone, PhoneSource.CUSTOMER))
        owners[phone] = owner.shopify_id
        if kind < UNKNOWN_SHARE + SHARED_SHARE:  # a household: the same number on a second customer's address
            other = _customer(client, DEMO_HOUSEHOLD_BASE + digits, "", now, last_name=owner.last_name)
            wanted.customers[other.shopify_id] = other
            wanted.phones.append((other.shopify_id, phone, PhoneSource.DEFAULT_ADDRESS))
    for number, (phone, started_at, by_custom_field) in sorted(named.items()):
        if phone in owners:
            wanted.named[number] = (owners[phone], started_at)
        elif by_custom_field:  # the caller named their order from someone else's phone
            guest_phone = _mobile(random.Random(f"caly-demo-guest:{client.slug}:{number}"))  # noqa: S311
            guest = _customer(client, DEMO_GUEST_BASE + number, guest_phone, now)
            wanted.customers[guest.shopify_id] = guest
            wanted.phones.append((guest.shopify_id, guest_phone, PhoneSource.CUSTOMER))
            wanted.named[number] = (guest.shopify_id, started_at)
    return wanted


def _customer(client: Client, shopify_id: int, phone: str, now: datetime, *, last_name: str = "") -> ShopifyCustomer:
    rng = random.Random(f"caly-demo-customer:{client.slug}:{shopify_id}")  # noqa: S311 - demo data
    first = rng.choice(FIRST_NAMES)
    last = last_name or rng.choice(LAST_NAMES)
    created = now - timedelta(days=rng.randrange(100, 1200), minutes=rng.randrange(1440))
    return ShopifyCustomer(
        client=client,
        shopify_id=shopify_id,
        first_name=first,
        last_name=last,
        email=f"{first}.{last}{shopify_id % 1000}@example.com".lower(),
        phone=phone,
        tags=[tag for tag, share in TAG_SHARES if rng.random() < share],
        currency="INR",
        shopify_created_at=created,
        shopify_updated_at=created + timedelta(days=rng.randrange(0, 90)),
        synced_at=now,
    )


def _customer_pks(client: Client, shopify_ids: list[int]) -> dict[int, int]:
    """{Shopify id: primary key} of those of these customers that exist."""
    found: dict[int, int] = {}
    for chunk in _chunks(shopify_ids):
        found.update(
            ShopifyCustomer.objects.for_client(client).filter(shopify_id__in=chunk).values_list("shopify_id", "pk")
        )
    return found


def _chunks(values: list[int]) -> Iterator[list[int]]:
    """Slices small enough for one IN (...) on any database."""
    for start in range(0, len(values), linking.CHUNK):
        yield values[start : start + linking.CHUNK]


def _orders(
    client: Client, wanted: _Wanted, fresh: list[ShopifyCustomer], ids: dict[int, int], now: datetime
) -> list[ShopifyOrder]:
    """The orders calls name that are missing, and a few others for each new customer."""
    orders = ShopifyOrder.objects.for_client(client)
    taken = {
        number
        for chunk in _chunks(list(wanted.named))
        for number in orders.filter(number__in=chunk).values_list("number", flat=True)
    }
    made = [
        _order(client, number, ids[owner], started_at - timedelta(days=_days_before(client, number)), now)
        for number, (owner, started_at) in wanted.named.items()
        if number not in taken
    ]
    highest = orders.filter(number__gte=FIRST_OTHER_ORDER).aggregate(highest=Max("number"))["highest"]
    number = max(highest or 0, FIRST_OTHER_ORDER - 1)
    for customer in fresh:
        rng = random.Random(f"caly-demo-orders:{client.slug}:{customer.shopify_id}")  # noqa: S311
        count = rng.choices(list(OTHER_ORDERS_WEIGHTS), weights=list(OTHER_ORDERS_WEIGHTS.values()))[0]
        since = customer.shopify_created_at or now
        for _ in range(count):
            number += 1
            when = since + (now - since) * rng.random()
            made.append(_order(client, number, ids[customer.shopify_id], when, now))
    return made


def _days_before(client: Client, number: int) -> int:
    return random.Random(f"caly-demo-order-age:{client.slug}:{number}").randrange(1, 20)  # noqa: S311


def _order(client: Client, number: int, customer_id: int, processed_at: datetime, now: datetime) -> ShopifyOrder:
    rng = random.Random(f"caly-demo-order:{client.slug}:{number}")  # noqa: S311 - demo data
    financial = rng.choices(list(FINANCIAL_WEIGHTS), weights=list(FINANCIAL_WEIGHTS.values()))[0]
    fulfillment = rng.choices(list(FULFILLMENT_WEIGHTS), weights=list(FULFILLMENT_WEIGHTS.values()))[0]
    cancelled = financial in ("refunded", "voided") and rng.random() < 0.6
    if cancelled:
        fulfillment = "unfulfilled"
    items = rng.choices((1, 1, 1, 2, 2, 3, 4), k=1)[0]
    settled = financial == "paid" and fulfillment == "fulfilled"
    return ShopifyOrder(
        client=client,
        shopify_id=DEMO_ORDER_BASE + number,
        customer_id=customer_id,
        name=f"#{number}",
        number=number,
        processed_at=processed_at,
        financial_status=financial,
        fulfillment_status=fulfillment,
        cancelled_at=processed_at + timedelta(hours=rng.randrange(1, 48)) if cancelled else None,
        closed_at=processed_at + timedelta(days=rng.randrange(3, 9)) if settled or cancelled else None,
        total=Decimal(sum(rng.choice(ITEM_PRICES) for _ in range(items))),
        currency="INR",
        item_count=items,
        shopify_updated_at=processed_at + timedelta(days=1),
        synced_at=now,
    )


def _totals_refresh(client: Client, customer_ids: set[int]) -> None:
    """Orders count and lifetime value (cancelled orders not counted in it) of these customers, from their orders."""
    for chunk in _chunks(sorted(customer_ids)):
        totals = {
            row["customer_id"]: (row["count"], row["spent"])
            for row in ShopifyOrder.objects.for_client(client)
            .filter(customer_id__in=chunk)
            .values("customer_id")
            .annotate(count=Count("id"), spent=Sum("total", filter=Q(cancelled_at__isnull=True)))
        }
        customers = list(ShopifyCustomer.objects.for_client(client).filter(pk__in=chunk).only("pk"))
        for customer in customers:
            count, spent = totals.get(customer.pk, (0, None))
            customer.orders_count = count
            customer.total_spent = spent or Decimal(0)
        ShopifyCustomer.objects.bulk_update(customers, ["orders_count", "total_spent"], batch_size=CUSTOMER_BATCH)


def _has_links(client: Client) -> bool:
    return Call.objects.for_client(client).filter(shopify_customer__isnull=False).exists()


def _mobile(rng: random.Random) -> str:
    """+91 and ten digits starting 6–9, as Indian mobile numbers do."""
    return f"+91{rng.choice('6789')}{rng.randrange(10**9):09d}"
