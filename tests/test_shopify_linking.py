"""Calls linked to their Shopify customer by number, and to an order by the reference written on them.

Customers and orders are written the way syncs and webhooks write them (customers_upsert, orders_upsert), so
their phone numbers are read in the client's country and the calls concerned are linked again.
"""

from dataclasses import replace
from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest
from django.utils import timezone

from integrations.exotel.payload import CallFacts
from integrations.exotel.services import exotel_call_upsert
from integrations.models import CallCustomer, CallMatch, CallOrderReference, ShopifyCustomer
from integrations.shopify import linking
from integrations.shopify.customers import customer_delete, customers_upsert, orders_upsert
from integrations.shopify.payloads import CustomerData, OrderData
from recordings.models import Call, Direction
from recordings.services import call_create, call_update
from tests.factories import CallFactory, ClientFactory

pytestmark = pytest.mark.django_db

CALLER = "+919876543210"
EXOPHONE = "+918047181234"
T0 = datetime(2026, 3, 1, 9, 0, tzinfo=UTC)


def add_customers(client, *customers: CustomerData, at=T0):
    return customers_upsert(client=client, customers=list(customers), synced_at=at)


def add_orders(client, *orders: OrderData, at=T0):
    return orders_upsert(client=client, orders=list(orders), synced_at=at)


def asha(phone="098765 43210", shopify_id=1, updated_at=T0, **fields) -> CustomerData:
    return CustomerData(
        shopify_id=shopify_id,
        first_name=fields.pop("first_name", "Asha"),
        last_name="Rao",
        email=f"asha{shopify_id}@example.com",
        phone=phone,
        created_at=T0,
        updated_at=updated_at,
        **fields,
    )


def order(number, customer_shopify_id=1, name=None, shopify_id=None, **fields) -> OrderData:
    return OrderData(
        shopify_id=shopify_id or 9000 + number,
        name=name or f"#{number}",
        number=number,
        customer_shopify_id=customer_shopify_id,
        processed_at=T0,
        total=Decimal("499.00"),
        currency="INR",
        updated_at=T0,
        **fields,
    )


def inbound(client, number=CALLER, **fields) -> Call:
    return CallFactory(client=client, direction=Direction.INBOUND, from_number=number, to_number=EXOPHONE, **fields)


def link(call) -> CallCustomer:
    return CallCustomer.objects.get(call=call)


def customer_of(client, shopify_id=1) -> ShopifyCustomer:
    return ShopifyCustomer.objects.get(client=client, shopify_id=shopify_id)


# --- by number ---------------------------------------------------------------------------------


def test_it_links_an_inbound_caller_to_the_customer_with_the_number_in_national_format(client_a):
    add_customers(client_a, asha("098765 43210"))
    row = linking.call_link(call=inbound(client_a))
    assert (row.customer, row.match, row.phone, row.order) == (customer_of(client_a), CallMatch.PHONE, CALLER, None)


def test_it_matches_a_number_stored_with_an_extension_or_punctuation(client_a):
    add_customers(client_a, asha("+91 (98765) 43210 ext. 12"))
    assert linking.call_link(call=inbound(client_a)).match == CallMatch.PHONE


def test_it_reads_a_national_number_in_the_clients_own_country(db):
    client = ClientFactory(country="GB")
    add_customers(client, asha("07911 123456"))
    row = linking.call_link(call=inbound(client, number="+447911123456"))
    assert row.match == CallMatch.PHONE


def test_an_outbound_call_is_matched_on_the_dialled_number_not_the_agents(client_a):
    add_customers(client_a, asha(CALLER))
    call = CallFactory(client=client_a, direction=Direction.OUTBOUND, from_number="+919900011122", to_number=CALLER)
    assert linking.call_link(call=call).customer == customer_of(client_a)
    agent = CallFactory(client=client_a, direction=Direction.OUTBOUND, from_number=CALLER, to_number="+919900011122")
    assert linking.call_link(call=agent).match == CallMatch.NONE


def test_a_number_of_a_default_address_or_an_orders_billing_phone_matches_too(client_a):
    add_customers(client_a, asha(phone="", address_phone="9876543210"))
    assert linking.call_link(call=inbound(client_a)).match == CallMatch.PHONE
    add_customers(client_a, asha(phone="", shopify_id=2))
    add_orders(client_a, order(1050, customer_shopify_id=2, billing_phone="+91 99887 76655"))
    row = linking.call_link(call=inbound(client_a, number="+919988776655"))
    assert (row.customer, row.match) == (customer_of(client_a, 2), CallMatch.PHONE)


def test_a_number_shared_by_two_customers_is_ambiguous_and_no_one_is_guessed(client_a):
    add_customers(client_a, asha(CALLER), asha("+91 98765-43210", shopify_id=2, first_name="Ravi"))
    row = linking.call_link(call=inbound(client_a))
    assert (row.customer, row.match, row.phone) == (None, CallMatch.AMBIGUOUS, CALLER)


def test_an_unknown_number_links_to_no_one(client_a):
    add_customers(client_a, asha("+919000000001"))
    row = linking.call_link(call=inbound(client_a))
    assert (row.customer, row.match) == (None, CallMatch.NONE)


def test_another_clients_customer_with_the_number_is_never_linked(client_a, client_b):
    add_customers(client_b, asha(CALLER))
    assert linking.call_link(call=inbound(client_a)).match == CallMatch.NONE


def test_calls_stored_before_the_customer_appeared_are_linked_when_it_does(client_a):
    calls = [inbound(client_a) for _ in range(3)]
    for call in calls:
        linking.call_link(call=call)
    other = inbound(client_a, number="+919000000001")
    linking.call_link(call=other)

    result = add_customers(client_a, asha("98765 43210"))

    assert result.relinked == 3
    assert {link(call).customer for call in calls} == {customer_of(client_a)}
    assert link(other).match == CallMatch.NONE


def test_calls_without_any_link_yet_are_linked_when_the_customer_appears(client_a):
    call = inbound(client_a)  # written in bulk, say: no link row at all
    add_customers(client_a, asha(CALLER))
    assert link(call).customer == customer_of(client_a)


def test_a_customers_changed_number_moves_the_links(client_a):
    old = inbound(client_a)
    new = inbound(client_a, number="+919811122233")
    add_customers(client_a, asha(CALLER))
    assert link(old).match == CallMatch.PHONE

    add_customers(client_a, asha("+919811122233", updated_at=T0 + timedelta(days=1)))

    assert (link(old).customer, link(old).match) == (None, CallMatch.NONE)
    assert (link(new).customer, link(new).match) == (customer_of(client_a), CallMatch.PHONE)


def test_a_second_customer_with_the_number_makes_the_link_ambiguous_and_deleting_one_settles_it(client_a):
    call = inbound(client_a)
    add_customers(client_a, asha(CALLER))
    add_customers(client_a, asha(CALLER, shopify_id=2, first_name="Ravi"))
    assert (link(call).customer, link(call).match) == (None, CallMatch.AMBIGUOUS)

    customer_delete(client=client_a, shopify_id=2)

    assert (link(call).customer, link(call).match) == (customer_of(client_a), CallMatch.PHONE)


# --- by order reference ------------------------------------------------------------------------


def test_it_reads_order_references_and_ignores_bare_numbers():
    refs = linking.order_references("order-1042", "see #77, CP-9, Order No. 12 and 98765 43210")
    assert [(r.tag, r.number) for r in refs] == [("order", 1042), ("#", 77), ("cp", 9), ("order", 12)]
    assert linking.order_references("call 5 at 1042", None, {"x": 1}) == []


@pytest.mark.parametrize(
    ("custom_field", "notes"),
    [("order-1042", ""), ("#1042", ""), ("", "Customer asked where #1042 is"), ("", "re: Order 1042")],
)
def test_an_order_reference_in_the_custom_field_or_notes_links_the_order_and_its_customer(
    client_a, custom_field, notes
):
    add_customers(client_a, asha("+919000000001"))
    add_orders(client_a, order(1042))
    call = inbound(client_a, metadata={"custom_field": custom_field} if custom_field else {}, notes=notes)
    row = linking.call_link(call=call)
    assert (row.match, row.order.name, row.customer) == (CallMatch.ORDER, "#1042", customer_of(client_a))


def test_the_stores_own_prefix_is_learnt_from_its_order_names(client_a):
    add_customers(client_a, asha("+919000000001"))
    add_orders(client_a, order(1042, name="CP-1042"))
    assert linking.call_link(call=inbound(client_a, metadata={"custom_field": "CP-1042"})).match == CallMatch.ORDER
    assert linking.call_link(call=inbound(client_a, notes="about cp1042")).match == CallMatch.ORDER
    # Another prefix is not this store's: no order is guessed.
    assert linking.call_link(call=inbound(client_a, notes="XY-1042 please")).match == CallMatch.NONE


def test_an_order_reference_wins_over_an_ambiguous_number(client_a):
    add_customers(client_a, asha(CALLER), asha(CALLER, shopify_id=2, first_name="Ravi"))
    add_orders(client_a, order(1042, customer_shopify_id=2))
    row = linking.call_link(call=inbound(client_a, metadata={"custom_field": "order-1042"}))
    assert (row.match, row.customer) == (CallMatch.ORDER, customer_of(client_a, 2))


def test_the_first_reference_naming_a_real_order_wins(client_a):
    add_customers(client_a, asha("+919000000001"))
    add_orders(client_a, order(1042), order(1043))
    row = linking.call_link(call=inbound(client_a, metadata={"custom_field": "#5"}, notes="#1043 then #1042"))
    assert row.order.number == 1043


def test_a_call_referencing_an_order_not_synced_yet_is_linked_when_it_arrives(client_a):
    call = inbound(client_a, number="+919000000009", metadata={"custom_field": "order-2001"})
    assert linking.call_link(call=call).match == CallMatch.NONE
    assert CallOrderReference.objects.filter(call=call).values_list("number", flat=True).get() == 2001

    add_customers(client_a, asha("+919000000001"))
    add_orders(client_a, order(2001))

    assert (link(call).match, link(call).order.number, link(call).customer) == (
        CallMatch.ORDER,
        2001,
        customer_of(client_a),
    )


def test_an_order_of_another_client_is_never_linked(client_a, client_b):
    add_customers(client_b, asha("+919000000001"))
    add_orders(client_b, order(1042))
    assert linking.call_link(call=inbound(client_a, notes="#1042")).match == CallMatch.NONE


# --- when calls are written ----------------------------------------------------------------------


def test_a_new_call_is_linked_once_it_is_committed(client_a, django_capture_on_commit_callbacks):
    add_customers(client_a, asha(CALLER))
    with django_capture_on_commit_callbacks(execute=True):
        call = call_create(
            client=client_a,
            provider_call_id="sid-1",
            direction=Direction.INBOUND,
            from_number=CALLER,
            to_number=EXOPHONE,
            started_at=timezone.now(),
            metadata={"custom_field": "nothing"},
        )
    assert link(call).customer == customer_of(client_a)


def test_notes_naming_an_order_relink_the_call(client_a, alice, django_capture_on_commit_callbacks):
    add_customers(client_a, asha(CALLER), asha("+919000000001", shopify_id=2, first_name="Ravi"))
    add_orders(client_a, order(1042, customer_shopify_id=2))
    call = inbound(client_a)
    linking.call_link(call=call)
    assert link(call).customer == customer_of(client_a)

    with django_capture_on_commit_callbacks(execute=True):
        call_update(call=call, actor=alice, notes="Calling for her husband's order #1042")

    assert (link(call).match, link(call).customer) == (CallMatch.ORDER, customer_of(client_a, 2))


def test_a_change_that_names_no_one_sends_nothing(client_a, alice, django_capture_on_commit_callbacks):
    call = inbound(client_a)
    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        call_update(call=call, actor=alice, is_resolved=True)
    assert callbacks == []


def test_calls_written_in_bulk_are_linked_by_calls_link_missing(client_a):
    add_customers(client_a, asha(CALLER))
    add_orders(client_a, order(1042))
    Call.objects.bulk_create(
        Call(
            client=client_a,
            provider_call_id=f"bulk-{n}",
            direction=Direction.INBOUND,
            from_number=CALLER if n % 2 else "+919000000002",
            to_number=EXOPHONE,
            started_at=T0,
            notes="order #1042" if n == 0 else "",
        )
        for n in range(5)
    )
    assert linking.calls_link_missing(client=client_a, batch_size=2) == 5
    matches = sorted(CallCustomer.objects.filter(client=client_a).values_list("match", flat=True))
    assert matches == sorted([CallMatch.ORDER, CallMatch.PHONE, CallMatch.PHONE, CallMatch.NONE, CallMatch.NONE])
    assert linking.calls_link_missing(client=client_a) == 0


def test_relinking_a_batch_costs_the_same_few_queries_whatever_its_size(client_a, django_assert_max_num_queries):
    numbers = [f"+9198{n:08d}" for n in range(1000)]
    Call.objects.bulk_create(
        Call(
            client=client_a,
            provider_call_id=f"c-{n}",
            direction=Direction.INBOUND,
            from_number=number,
            to_number=EXOPHONE,
            started_at=T0,
        )
        for n, number in enumerate(numbers)
    )
    customers = [asha(number, shopify_id=n + 1) for n, number in enumerate(numbers)]
    # Two chunks of 500: for each, the calls, their references, the numbers, the orders, the links, and the writes.
    with django_assert_max_num_queries(40):
        linked = linking.calls_relink(client=client_a, phones=numbers)
    assert linked == 1000
    add_customers(client_a, *customers)
    assert CallCustomer.objects.filter(client=client_a, match=CallMatch.PHONE).count() == 1000


def test_a_later_exotel_delivery_naming_an_order_relinks_the_call(client_a, django_capture_on_commit_callbacks):
    add_customers(client_a, asha(CALLER), asha("+919000000001", shopify_id=2, first_name="Ravi"))
    add_orders(client_a, order(1042, customer_shopify_id=2))
    first = CallFacts(
        call_sid="sid-7",
        source="passthru",
        direction=Direction.INBOUND,
        from_number=CALLER,
        to_number=EXOPHONE,
        started_at=T0,
    )
    with django_capture_on_commit_callbacks(execute=True):
        call = exotel_call_upsert(client=client_a, facts=first).call
    assert link(call).customer == customer_of(client_a)

    later = CallFacts(call_sid="sid-7", source="status-callback", metadata={"custom_field": "order-1042"})
    with django_capture_on_commit_callbacks(execute=True):
        exotel_call_upsert(client=client_a, facts=later)

    assert (link(call).match, link(call).customer) == (CallMatch.ORDER, customer_of(client_a, 2))


def test_a_customer_sent_without_a_creation_time_still_gets_one(client_a):
    add_customers(client_a, replace(asha(CALLER), created_at=None))
    assert customer_of(client_a).shopify_created_at == T0  # its update time: the customers list pages by it
