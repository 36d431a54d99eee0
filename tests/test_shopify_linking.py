"""Calls linked to their Shopify customer by number, and to an order by the reference written on them."""

from decimal import Decimal

import pytest

from integrations.models import CallCustomer, CallMatch, PhoneSource, ShopifyCustomer, ShopifyOrder, ShopifyPhone
from integrations.shopify import linking
from integrations.shopify.phones import e164
from tests.factories import CallFactory


def customer(client, shopify_id, *phones, first_name="Asha", **fields):
    row = ShopifyCustomer.objects.create(
        client=client, shopify_id=shopify_id, first_name=first_name, last_name="Rao", **fields
    )
    for phone in phones:
        number = e164(phone, region=client.country)
        ShopifyPhone.objects.create(client=client, phone=number, customer=row, source=PhoneSource.CUSTOMER)
    return row


def order(client, shopify_id, name, number, customer=None):
    return ShopifyOrder.objects.create(
        client=client, shopify_id=shopify_id, name=name, number=number, customer=customer, total=Decimal("10")
    )


def link_of(call):
    return CallCustomer.objects.get(call=call)


@pytest.mark.django_db
def test_it_links_an_inbound_caller_by_number(client_a):
    asha = customer(client_a, 1, "098765 43210")
    call = CallFactory(client=client_a, from_number="+919876543210")
    link = linking.call_link(call=call)
    assert (link.customer, link.match, link.phone) == (asha, CallMatch.PHONE, "+919876543210")


@pytest.mark.django_db
def test_it_reads_order_references(client_a):
    refs = linking.order_references("order-1042", "see #77, CP-9 and call 5 at 1042")
    assert [(r.tag, r.number) for r in refs] == [("order", 1042), ("#", 77), ("cp", 9)]
