"""Shopify customers and orders in Caly: the batch writes (newer data wins, phones rebuilt, calls linked),
the parsers of GraphQL nodes, JSONL lines and webhook JSON, and the full and incremental syncs against a
fake Shopify on 127.0.0.1 (bulk operations streamed over HTTP, pages, throttling, failures)."""

import io
from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest
from django.core.management import call_command
from django.utils import timezone

from integrations.models import (
    CallCustomer,
    CallMatch,
    ShopifyConnection,
    ShopifyCustomer,
    ShopifyOrder,
    ShopifyPhone,
)
from integrations.shopify import customer_sync, customers, linking, tasks
from integrations.shopify.payloads import (
    CustomerData,
    OrderData,
    PayloadError,
    customer_from_graphql,
    customer_from_rest,
    order_from_graphql,
    order_from_rest,
)
from tests import shopify_fake
from tests.factories import CallFactory, ShopifyConnectionFactory
from tests.shopify_fake import ACCESS_TOKEN, SHOP_DOMAIN, FakeClock

pytestmark = pytest.mark.django_db

T0 = datetime(2026, 1, 10, 9, 30, tzinfo=UTC)


def customer(shopify_id=1, **fields):
    values = {"first_name": "Asha", "last_name": "Rao", "email": "asha@example.com", "phone": "+919876543210"}
    values.update(fields)
    values.setdefault("updated_at", T0)
    return CustomerData(shopify_id=shopify_id, **values)


def order(shopify_id=100, **fields):
    values = {"name": f"#{1000 + shopify_id}", "number": 1000 + shopify_id, "customer_shopify_id": 1}
    values.update(fields)
    values.setdefault("updated_at", T0)
    return OrderData(shopify_id=shopify_id, **values)


def phones(client):
    return set(ShopifyPhone.objects.for_client(client).values_list("phone", "source", "customer__shopify_id"))


# --- the batch writes ----------------------------------------------------------------------------


def test_it_writes_customers_with_their_numbers_in_e164_of_the_clients_country(client_a):
    result = customers.customers_upsert(
        client=client_a,
        customers=[customer(1, phone="098765 43210", address_phone="+91 80 4718 1234"), customer(2, phone="")],
        synced_at=timezone.now(),
    )

    assert (result.created, result.updated, result.skipped) == (2, 0, 0)
    asha = ShopifyCustomer.objects.get(client=client_a, shopify_id=1)
    assert asha.phone == "+919876543210" and asha.name == "Asha Rao"
    assert phones(client_a) == {("+919876543210", "customer", 1), ("+918047181234", "default_address", 1)}


def test_it_never_lets_older_data_overwrite_newer(client_a):
    customers.customers_upsert(client=client_a, customers=[customer(1, first_name="New")], synced_at=timezone.now())

    result = customers.customers_upsert(
        client=client_a,
        customers=[customer(1, first_name="Old", updated_at=T0 - timedelta(minutes=1))],
        synced_at=timezone.now(),
    )

    assert result.skipped == 1
    assert ShopifyCustomer.objects.get(client=client_a, shopify_id=1).first_name == "New"


def test_it_keeps_what_a_payload_leaves_out_and_rebuilds_changed_numbers(client_a):
    customers.customers_upsert(
        client=client_a,
        customers=[customer(1, tags=["vip"], orders_count=3, total_spent=Decimal("1500.00"), currency="INR")],
        synced_at=timezone.now(),
    )

    customers.customers_upsert(
        client=client_a,
        customers=[customer(1, phone="+919812345678", updated_at=T0 + timedelta(hours=1))],
        synced_at=timezone.now(),
    )

    asha = ShopifyCustomer.objects.get(client=client_a, shopify_id=1)
    assert (asha.tags, asha.orders_count, asha.total_spent, asha.currency) == (["vip"], 3, Decimal("1500.00"), "INR")
    assert phones(client_a) == {("+919812345678", "customer", 1)}


def test_orders_carry_their_phones_and_join_a_customer_that_comes_later(client_a):
    result = customers.orders_upsert(
        client=client_a,
        orders=[order(100, billing_phone="98765 43211", shipping_phone="not a phone", customer_shopify_id=7)],
        synced_at=timezone.now(),
    )
    assert result.created == 1
    stored = ShopifyOrder.objects.get(client=client_a, shopify_id=100)
    assert stored.customer is None and stored.customer_shopify_id == 7 and stored.number == 1100

    customers.customers_upsert(client=client_a, customers=[customer(7, phone="")], synced_at=timezone.now())

    stored.refresh_from_db()
    assert stored.customer.shopify_id == 7
    assert phones(client_a) == {("+919876543211", "billing", 7)}


def test_calls_are_linked_when_their_customer_appears_and_unlinked_when_it_goes(client_a):
    call = CallFactory(client=client_a, from_number="+919876543210")

    customers.customers_upsert(client=client_a, customers=[customer(1)], synced_at=timezone.now())

    link = CallCustomer.objects.get(call=call)
    assert link.match == CallMatch.PHONE and link.customer.shopify_id == 1

    assert customers.customer_delete(client=client_a, shopify_id=1) is True
    link.refresh_from_db()
    assert link.match == CallMatch.NONE and link.customer is None
    assert customers.customer_delete(client=client_a, shopify_id=1) is False


def test_a_number_two_customers_share_makes_the_call_ambiguous(client_a):
    call = CallFactory(client=client_a, from_number="+919876543210")

    customers.customers_upsert(
        client=client_a, customers=[customer(1), customer(2, address_phone="09876543210")], synced_at=timezone.now()
    )

    assert CallCustomer.objects.get(call=call).match == CallMatch.AMBIGUOUS


def test_a_call_naming_an_order_is_linked_when_the_order_arrives(client_a):
    call = CallFactory(client=client_a, from_number="+15550000000", metadata={"custom_field": "order-1100"})
    linking.call_link(call=call)  # as the call's creation does
    customers.customers_upsert(client=client_a, customers=[customer(1)], synced_at=timezone.now())

    customers.orders_upsert(client=client_a, orders=[order(100)], synced_at=timezone.now())

    link = CallCustomer.objects.get(call=call)
    assert link.match == CallMatch.ORDER and link.order.name == "#1100" and link.customer.shopify_id == 1


def test_writes_stay_within_the_client(client_a, client_b):
    customers.customers_upsert(client=client_a, customers=[customer(1)], synced_at=timezone.now())
    customers.customers_upsert(client=client_b, customers=[customer(1, first_name="Bea")], synced_at=timezone.now())
    customers.orders_upsert(client=client_b, orders=[order(100)], synced_at=timezone.now())

    assert ShopifyCustomer.objects.get(client=client_a).first_name == "Asha"
    assert ShopifyOrder.objects.get(client=client_b).customer.client == client_b
    assert not ShopifyOrder.objects.filter(client=client_a).exists()


# --- the parsers ---------------------------------------------------------------------------------


def test_it_reads_a_graphql_customer_and_order():
    node = {
        "id": "gid://shopify/Customer/544365967",
        "legacyResourceId": "544365967",
        "firstName": "Asha",
        "lastName": None,
        "defaultEmailAddress": {"emailAddress": "Asha@Example.com"},
        "defaultPhoneNumber": {"phoneNumber": "+919876543210"},
        "defaultAddress": {"phone": "080 4718 1234"},
        "tags": ["vip", "vip", " wholesale "],
        "numberOfOrders": "12",
        "amountSpent": {"amount": "1234.50", "currencyCode": "INR"},
        "updatedAt": "2026-01-10T09:30:00Z",
    }
    parsed = customer_from_graphql(node)
    assert parsed == CustomerData(
        shopify_id=544365967,
        first_name="Asha",
        email="asha@example.com",
        phone="+919876543210",
        address_phone="080 4718 1234",
        tags=["vip", "wholesale"],
        orders_count=12,
        total_spent=Decimal("1234.50"),
        currency="INR",
        updated_at=T0,
    )
    line = {
        "id": "gid://shopify/Order/9",
        "name": "CP-1042",
        "displayFinancialStatus": "PARTIALLY_REFUNDED",
        "displayFulfillmentStatus": "UNFULFILLED",
        "totalPriceSet": {"shopMoney": {"amount": "99.999", "currencyCode": "INR"}},
        "subtotalLineItemsQuantity": 3,
        "shippingAddress": {"phone": "555-555-SHIP"},
        "__parentId": "gid://shopify/Customer/544365967",
    }
    parsed_order = order_from_graphql(line, customer_shopify_id=544365967)
    assert (parsed_order.number, parsed_order.financial_status, parsed_order.total) == (
        1042,
        "partially_refunded",
        Decimal("100.00"),
    )
    assert parsed_order.customer_shopify_id == 544365967 and parsed_order.item_count == 3


def test_it_reads_webhook_json_and_leaves_out_what_it_does_not_carry():
    parsed = customer_from_rest({"id": 706405506930370000, "first_name": "Bob", "phone": None, "email": "not-mail"})
    assert parsed.tags is None and parsed.orders_count is None and parsed.total_spent is None
    assert parsed.email == "" and parsed.phone == ""
    parsed_order = order_from_rest(
        {
            "id": 820982911946154500,
            "name": "#9999",
            "order_number": 1234,
            "financial_status": "voided",
            "fulfillment_status": None,
            "total_price_set": {"shop_money": {"amount": "404.95", "currency_code": "USD"}},
            "line_items": [{"quantity": 2}, {"quantity": "x"}, "junk"],
            "customer": {"id": 115310627314723950},
            "billing_address": {"phone": "555-555-SHIP"},
        }
    )
    assert parsed_order.number == 1234 and parsed_order.fulfillment_status == "unfulfilled"
    assert parsed_order.item_count == 2 and parsed_order.total == Decimal("404.95") and parsed_order.currency == "USD"
    assert parsed_order.customer_shopify_id == 115310627314723950


@pytest.mark.parametrize("bad", [None, [], "x", {"id": -1}, {"id": True}, {"id": 2**64}, {"id": "gid://shopify/X"}])
def test_it_refuses_a_customer_or_order_without_a_usable_id(bad):
    for parse in (customer_from_graphql, customer_from_rest, order_from_graphql, order_from_rest):
        with pytest.raises(PayloadError):
            parse(bad)


# --- the syncs against the fake Shopify ------------------------------------------------------------


@pytest.fixture
def shopify(settings):
    with shopify_fake.serve(settings) as fake:
        yield fake


@pytest.fixture(autouse=True)
def clock(monkeypatch):
    """No test ever really waits: the client's sleeps (throttling, bulk polls) advance a fake clock."""
    return FakeClock().install(monkeypatch)


@pytest.fixture
def connection(client_a, shopify):
    connection = ShopifyConnectionFactory(client=client_a, shop_domain=SHOP_DOMAIN, access_token=ACCESS_TOKEN)
    return ShopifyConnection.objects.select_related("client").get(pk=connection.pk)


def run(connection, mode=customer_sync.FULL):
    started = customer_sync.customers_sync_begin(connection=connection, actor=None, source="test")
    assert started is not None
    result = customer_sync.customers_sync(connection=connection, started=started, mode=mode)
    connection.refresh_from_db()
    return result


def test_a_large_store_is_exported_in_bulk_and_streamed_in_batches(shopify, connection, client_a, monkeypatch):
    monkeypatch.setattr(customer_sync, "SMALL_STORE_CUSTOMERS", 10)
    monkeypatch.setattr(customer_sync, "BATCH_SIZE", 7)
    shopify.add_customers(30, orders=2)
    shopify.bulk_polls = 3
    call = CallFactory(client=client_a, from_number="+919800000005")

    result = run(connection)

    assert result.ok, result.error
    assert ShopifyCustomer.objects.for_client(client_a).count() == 30
    assert ShopifyOrder.objects.for_client(client_a).filter(customer__isnull=False).count() == 60
    assert len(shopify.bulk_operations) == 1 and not shopify.page_requests_of("customers")
    assert connection.customers_sync_status == "ok" and connection.customers_sync_counts["bulk"] == 1
    assert connection.customers_synced_at is not None and connection.bulk_operation_id == ""
    assert CallCustomer.objects.get(call=call).customer.shopify_id == 5


def test_orders_listed_before_their_customer_still_join_it(shopify, connection, client_a, monkeypatch):
    monkeypatch.setattr(customer_sync, "SMALL_STORE_CUSTOMERS", 0)
    monkeypatch.setattr(customer_sync, "BATCH_SIZE", 3)
    shopify.add_customers(5, orders=3)
    shopify.bulk_children_first = True

    assert run(connection).ok

    assert not ShopifyOrder.objects.for_client(client_a).filter(customer__isnull=True).exists()
    assert ShopifyOrder.objects.for_client(client_a).count() == 15


@pytest.mark.parametrize("broken", ["truncated", "short", "garbled"])
def test_a_broken_export_file_is_a_recorded_failure_not_a_crash(shopify, connection, monkeypatch, broken):
    monkeypatch.setattr(customer_sync, "SMALL_STORE_CUSTOMERS", 0)
    shopify.add_customers(20, orders=1)
    shopify.bulk_file = broken

    result = run(connection)

    assert not result.ok and "bulk export" in result.error
    assert connection.customers_sync_status == "failed" and "bulk export" in connection.customers_sync_error
    assert connection.customers_synced_at is None and connection.customers_watermark is None


def test_a_line_longer_than_any_customer_fails_the_sync(shopify, connection, monkeypatch):
    monkeypatch.setattr(customer_sync, "SMALL_STORE_CUSTOMERS", 0)
    monkeypatch.setattr(customer_sync, "MAX_LINE_BYTES", 200)
    shopify.add_customers(2, tags=["x" * 300])

    result = run(connection)

    assert not result.ok and "longer" in result.error


def test_a_failed_bulk_operation_is_recorded(shopify, connection, monkeypatch):
    monkeypatch.setattr(customer_sync, "SMALL_STORE_CUSTOMERS", 0)
    shopify.add_customers(3)
    shopify.bulk_outcome = "FAILED"

    result = run(connection)

    assert not result.ok and "failed" in result.error


def test_when_the_bulk_operation_cannot_run_it_reads_pages(shopify, connection, client_a, monkeypatch):
    monkeypatch.setattr(customer_sync, "SMALL_STORE_CUSTOMERS", 0)
    shopify.add_customers(400, orders=1)
    shopify.bulk_error = "A bulk query operation for this app and shop is already in progress"

    result = run(connection)

    assert result.ok, result.error
    assert ShopifyCustomer.objects.for_client(client_a).count() == 400
    assert ShopifyOrder.objects.for_client(client_a).filter(customer__isnull=False).count() == 400
    assert len(shopify.page_requests_of("customers")) == 3 and all(r["cost"] <= 1000 for r in shopify.requests)


def test_a_small_store_pages_with_the_cost_based_throttling(shopify, connection, client_a, clock):
    shopify.add_customers(200)
    shopify.pass_next(2)
    shopify.throttle_next(available=10, restore_rate=100)

    result = run(connection)

    assert result.ok, result.error
    assert ShopifyCustomer.objects.for_client(client_a).count() == 200
    assert not shopify.bulk_operations
    assert clock.sleeps  # waited for the bucket instead of failing


def test_the_incremental_resync_reads_only_what_changed_and_heals_a_missed_webhook(shopify, connection, client_a):
    shopify.add_customers(4, updatedAt="2025-12-01T00:00:00Z")
    shopify.add_customers(1, start=5)
    assert run(connection).ok
    assert connection.customers_watermark == T0
    shopify.requests.clear()
    later = (connection.customers_watermark + timedelta(hours=1)).strftime("%Y-%m-%dT%H:%M:%SZ")
    shopify.customers[3].update(firstName="Renamed", updatedAt=later)

    result = run(connection, customer_sync.INCREMENTAL)

    assert result.ok and result.counts["customers"] == 2  # the change, and the newest within the overlap
    assert ShopifyCustomer.objects.get(client=client_a, shopify_id=3).first_name == "Renamed"
    assert "updated_at:>=" in shopify.page_requests_of("customers")[0]["variables"]["q"]


def test_a_full_sync_removes_customers_shopify_no_longer_has(shopify, connection, client_a):
    shopify.add_customers(4)
    assert run(connection).ok
    del shopify.customers[2]

    result = run(connection)

    assert result.ok and result.counts["deleted"] == 1
    assert set(ShopifyCustomer.objects.for_client(client_a).values_list("shopify_id", flat=True)) == {1, 3, 4}


def test_a_failed_sync_deletes_nothing(shopify, connection, client_a):
    shopify.add_customers(4)
    assert run(connection).ok
    shopify.fail_next(500, times=10)

    result = run(connection)

    assert not result.ok and ShopifyCustomer.objects.for_client(client_a).count() == 4


def test_the_export_url_must_be_shopifys(settings):
    settings.SHOPIFY_API_BASE_URL_OVERRIDE = ""
    for url in ("http://example.com/x.jsonl", "https://127.0.0.1/x.jsonl", "https://localhost/x", "file:///etc/passwd"):
        with pytest.raises(customer_sync.SyncFailed):
            list(customer_sync.jsonl_objects(url))


def test_the_scheduled_resync_queues_each_connected_store_once(
    shopify, connection, client_a, client_b, django_capture_on_commit_callbacks
):
    shopify.add_customers(2)
    ShopifyConnectionFactory(client=client_b, verified_at=None)  # not verified: nothing to sync

    with django_capture_on_commit_callbacks(execute=True):
        assert tasks.resync_customers.call() == 1

    connection.refresh_from_db()
    assert connection.customers_sync_status == "ok" and ShopifyCustomer.objects.for_client(client_a).count() == 2


def test_the_command_syncs_customers(shopify, connection, client_a):
    shopify.add_customers(3, orders=1)
    out = io.StringIO()

    call_command("shopify_sync", "--client", client_a.slug, "--customers", stdout=out)

    assert "3 customers" in out.getvalue()
    assert ShopifyOrder.objects.for_client(client_a).count() == 3
