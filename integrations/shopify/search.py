"""Finding a client's Shopify customers by what an agent has at hand: a name, an e-mail, a phone number or an
order name.

A phone is read as E.164 with the client's country as the default region ("098765 43210" in an Indian store
is +919876543210) and matched exactly against every number Caly indexed for the customer (its own, its
default address, its orders' billing and shipping): the (client, phone) index answers it whatever the store's
size. An e-mail is matched from its start, an order name ("#1042") exactly, anything else against first and
last names, every word having to appear.
"""

from __future__ import annotations

import re

from django.db.models import Q, QuerySet

from accounts.models import Client
from integrations.models import ShopifyCustomer, ShopifyOrder, ShopifyPhone
from integrations.shopify.phones import e164

# Ordering of the list (an index: client, -shopify_created_at, -id): newest customers first.
CUSTOMER_ORDERING = ("-shopify_created_at", "-id")
PHONE_LIKE = re.compile(r"^\+?[0-9(][0-9 ().-]{5,}$")
ORDER_NAME = re.compile(r"^#([0-9]{1,18})$")
MAX_WORDS = 5


def phone_query(q: str, *, client: Client) -> str | None:
    """The E.164 number `q` stands for, if it looks like a phone number and is a valid one."""
    text = q.strip()
    if not PHONE_LIKE.match(text):
        return None
    return e164(text, region=client.country)


def looks_like_phone(q: str) -> bool:
    return bool(PHONE_LIKE.match(q.strip()))


def customers_with_phone(*, client: Client | int, phone: str) -> QuerySet[ShopifyCustomer]:
    """Customers of `client` one of whose numbers (or one of whose orders' numbers) is `phone` (E.164)."""
    indexed = ShopifyPhone.objects.for_client(client).filter(phone=phone)
    return ShopifyCustomer.objects.for_client(client).filter(
        Q(phone=phone)
        | Q(pk__in=indexed.filter(customer__isnull=False).values("customer_id"))
        | Q(pk__in=indexed.filter(order__customer__isnull=False).values("order__customer_id"))
    )


def customer_search(*, client: Client, q: str = "") -> QuerySet[ShopifyCustomer]:
    """The client's customers matching `q` (all of them for ""), unordered; see the module's docstring."""
    customers = ShopifyCustomer.objects.for_client(client)
    text = " ".join(q.split())
    if not text:
        return customers
    if looks_like_phone(text):
        phone = phone_query(text, client=client)
        return customers_with_phone(client=client, phone=phone) if phone else customers.none()
    order = ORDER_NAME.match(text)
    if order:
        orders = ShopifyOrder.objects.for_client(client).filter(number=int(order.group(1)), customer__isnull=False)
        return customers.filter(pk__in=orders.values("customer_id"))
    if "@" in text:
        return customers.filter(email__istartswith=text)
    for word in text.split()[:MAX_WORDS]:
        customers = customers.filter(
            Q(first_name__icontains=word) | Q(last_name__icontains=word) | Q(email__istartswith=word)
        )
    return customers
