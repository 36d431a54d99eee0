"""Shopify's customers/* and orders/* webhooks: verified, stored once, applied newest-wins through the same
writes as the sync (phones rebuilt, calls linked again); a delete is confirmed with the Admin API (the fake
Shopify on 127.0.0.1); a body that does not fit its topic is a 400 and stores nothing; the privacy topics
reach their handler."""

import base64
import hashlib
import hmac
import json

import pytest

from integrations import processing
from integrations.models import (
    CallCustomer,
    CallMatch,
    ShopifyCustomer,
    ShopifyOrder,
    ShopifyPhone,
    WebhookEvent,
    WebhookStatus,
)
from integrations.shopify import linking
from integrations.shopify.credentials import shopify_connection_save
from tests import shopify_fake
from tests.factories import CallFactory
from tests.shopify_fake import ACCESS_TOKEN, API_VERSION, SHOP_DOMAIN, WEBHOOK_SECRET

pytestmark = pytest.mark.django_db

CUSTOMER_ID = 7712345678901
ORDER_ID = 5987654321012


@pytest.fixture(autouse=True)
def shopify(settings):
    with shopify_fake.serve(settings) as fake:
        yield fake


@pytest.fixture
def connection(client_a, shopify):
    return shopify_connection_save(
        client=client_a,
        actor=None,
        shop_domain=SHOP_DOMAIN,
        access_token=ACCESS_TOKEN,
        webhook_secret=WEBHOOK_SECRET,
        api_version=API_VERSION,
    )


def sign(body: bytes) -> str:
    return base64.b64encode(hmac.new(WEBHOOK_SECRET.encode(), body, hashlib.sha256).digest()).decode()


@pytest.fixture
def deliver(client, django_capture_on_commit_callbacks):
    counter = iter(range(1, 10_000))

    def _deliver(connection, topic, payload=None, *, body=None):
        raw = body if body is not None else json.dumps(payload).encode()
        meta = {
            "HTTP_X_SHOPIFY_TOPIC": topic,
            "HTTP_X_SHOPIFY_SHOP_DOMAIN": connection.shop_domain,
            "HTTP_X_SHOPIFY_WEBHOOK_ID": f"c54557e4-bdd9-4b37-8a5f-bf7d70b{next(counter):05d}",
            "HTTP_X_SHOPIFY_API_VERSION": API_VERSION,
            "HTTP_X_SHOPIFY_HMAC_SHA256": sign(raw),
        }
        with django_capture_on_commit_callbacks(execute=True):
            return client.post(
                f"/api/v1/webhooks/shopify/{connection.public_id}", raw, content_type="application/json", **meta
            )

    return _deliver


def customer_body(**fields) -> dict:
    """A customers/create or customers/update body as Shopify sends it (an Indian store, 2026)."""
    body = {
        "id": CUSTOMER_ID,
        "created_at": "2026-11-20T14:02:11+05:30",
        "updated_at": "2026-11-20T14:02:11+05:30",
        "first_name": "Priya",
        "last_name": "Sharma",
        "state": "disabled",
        "note": None,
        "verified_email": True,
        "multipass_identifier": None,
        "tax_exempt": False,
        "email": "priya.sharma@example.com",
        "phone": "+919876543210",
        "currency": "INR",
        "addresses": [],
        "tax_exemptions": [],
        "admin_graphql_api_id": f"gid://shopify/Customer/{CUSTOMER_ID}",
        "default_address": {"id": 1, "customer_id": CUSTOMER_ID, "phone": "080 4718 1234", "country_code": "IN"},
    }
    body.update(fields)
    return body


def order_body(**fields) -> dict:
    body = {
        "id": ORDER_ID,
        "admin_graphql_api_id": f"gid://shopify/Order/{ORDER_ID}",
        "name": "#1042",
        "order_number": 1042,
        "number": 42,
        "email": "priya.sharma@example.com",
        "phone": "+919876543210",
        "created_at": "2026-11-20T14:05:39+05:30",
        "updated_at": "2026-11-20T14:05:41+05:30",
        "processed_at": "2026-11-20T14:05:39+05:30",
        "cancelled_at": None,
        "closed_at": None,
        "currency": "INR",
        "total_price": "1299.00",
        "total_price_set": {"shop_money": {"amount": "1299.00", "currency_code": "INR"}},
        "financial_status": "pending",
        "fulfillment_status": None,
        "line_items": [{"id": 1, "quantity": 1, "title": "Indigo Kurta", "price": "1299.00"}],
        "customer": {"id": CUSTOMER_ID, "admin_graphql_api_id": f"gid://shopify/Customer/{CUSTOMER_ID}"},
        "billing_address": {"phone": "+919876543210", "country_code": "IN"},
        "shipping_address": {"phone": "098765 43299", "country_code": "IN"},
    }
    body.update(fields)
    return body


def last_event() -> WebhookEvent:
    return WebhookEvent.objects.order_by("-id").first()


def test_it_writes_a_new_customer_and_links_the_calls_with_its_numbers(deliver, connection, client_a):
    call = CallFactory(client=client_a, from_number="+918047181234")

    assert deliver(connection, "customers/create", customer_body()).status_code == 200

    assert last_event().status == WebhookStatus.PROCESSED
    priya = ShopifyCustomer.objects.get(client=client_a)
    assert (priya.name, priya.phone, priya.email) == ("Priya Sharma", "+919876543210", "priya.sharma@example.com")
    assert CallCustomer.objects.get(call=call).customer == priya


def test_an_update_changes_the_numbers_and_a_stale_one_changes_nothing(deliver, connection, client_a):
    deliver(connection, "customers/create", customer_body())
    deliver(connection, "customers/update", customer_body(phone="+919812345678", updated_at="2026-11-21T10:00:00Z"))

    deliver(connection, "customers/update", customer_body(first_name="Stale", updated_at="2026-11-20T09:00:00Z"))

    assert last_event().status == WebhookStatus.IGNORED
    priya = ShopifyCustomer.objects.get(client=client_a)
    assert priya.first_name == "Priya" and priya.phone == "+919812345678"
    assert set(ShopifyPhone.objects.for_client(client_a).values_list("phone", flat=True)) == {
        "+919812345678",
        "+918047181234",
    }


def test_an_order_webhook_writes_the_order_and_the_call_naming_it_is_linked(deliver, connection, client_a):
    deliver(connection, "customers/create", customer_body())
    call = CallFactory(client=client_a, from_number="+15550000000", metadata={"custom_field": "#1042"})
    linking.call_link(call=call)  # as the call's creation does

    for topic in ("orders/create", "orders/paid", "orders/fulfilled"):
        status = "paid" if topic != "orders/create" else "pending"
        fulfilled = "fulfilled" if topic == "orders/fulfilled" else None
        minute = {"orders/create": 41, "orders/paid": 50, "orders/fulfilled": 59}[topic]
        body = order_body(
            financial_status=status, fulfillment_status=fulfilled, updated_at=f"2026-11-20T14:{minute}:00+05:30"
        )
        assert deliver(connection, topic, body).status_code == 200
        assert last_event().status == WebhookStatus.PROCESSED, last_event().last_error

    order = ShopifyOrder.objects.get(client=client_a)
    assert (order.name, order.financial_status, order.fulfillment_status) == ("#1042", "paid", "fulfilled")
    assert order.customer.shopify_id == CUSTOMER_ID and order.item_count == 1
    link = CallCustomer.objects.get(call=call)
    assert link.match == CallMatch.ORDER and link.order == order


def test_a_cancelled_order_records_when(deliver, connection, client_a):
    deliver(connection, "orders/create", order_body())
    deliver(
        connection,
        "orders/cancelled",
        order_body(cancelled_at="2026-11-21T09:00:00+05:30", updated_at="2026-11-21T09:00:01+05:30"),
    )

    assert ShopifyOrder.objects.get(client=client_a).cancelled_at is not None


def test_a_delete_shopify_confirms_removes_the_customer_and_unlinks_its_calls(deliver, connection, client_a, shopify):
    call = CallFactory(client=client_a, from_number="+919876543210")
    deliver(connection, "customers/create", customer_body())
    assert CallCustomer.objects.get(call=call).match == CallMatch.PHONE

    deliver(connection, "customers/delete", {"id": CUSTOMER_ID, "phone": None, "addresses": []})

    assert last_event().status == WebhookStatus.PROCESSED
    assert not ShopifyCustomer.objects.exists()
    assert CallCustomer.objects.get(call=call).match == CallMatch.NONE


def test_a_delete_of_a_customer_shopify_still_has_is_refused(deliver, connection, client_a, shopify):
    shopify.add_customers(1, start=CUSTOMER_ID)
    deliver(connection, "customers/create", customer_body())

    deliver(connection, "customers/delete", {"id": CUSTOMER_ID})

    assert last_event().status == WebhookStatus.REFUSED
    assert ShopifyCustomer.objects.filter(client=client_a).exists()


@pytest.mark.parametrize(
    "topic, body",
    [
        ("customers/create", order_body()),  # an order under a customer topic
        ("orders/create", customer_body()),  # a customer under an order topic
        ("orders/updated", {"id": ORDER_ID}),  # a bare id is a delete's body
        ("customers/delete", order_body()),
        ("customers/update", customer_body(admin_graphql_api_id="gid://shopify/Order/1")),
        ("orders/paid", {"title": "Kurta", "handle": "kurta", "variants": []}),  # a product
    ],
)
def test_a_body_that_does_not_fit_its_topic_is_refused_and_stores_nothing(deliver, connection, topic, body):
    response = deliver(connection, topic, body)

    assert response.status_code == 400 and response.json()["error"]["code"] == "VALIDATION_ERROR"
    assert not WebhookEvent.objects.exists()
    assert not ShopifyCustomer.objects.exists() and not ShopifyOrder.objects.exists()


@pytest.mark.parametrize("bad_id", [None, -5, "abc", 2**64, True])
def test_a_customer_without_a_usable_id_is_a_recorded_failure(deliver, connection, bad_id):
    deliver(connection, "customers/create", customer_body(id=bad_id))

    event = last_event()
    assert event.status == WebhookStatus.FAILED and "id" in event.last_error
    assert not ShopifyCustomer.objects.exists()


def test_malformed_phones_are_dropped_not_guessed(deliver, connection, client_a):
    deliver(connection, "customers/create", customer_body(phone="call me maybe", default_address={"phone": "1" * 80}))

    priya = ShopifyCustomer.objects.get(client=client_a)
    assert priya.phone == "" and not ShopifyPhone.objects.exists()


def test_unknown_topics_are_stored_and_ignored(deliver, connection):
    assert deliver(connection, "carts/update", {"id": 1, "token": "x"}).status_code == 200
    assert last_event().status == WebhookStatus.IGNORED


def test_webhooks_of_one_client_never_touch_another(deliver, connection, client_a, client_b):
    CallFactory(client=client_b, from_number="+919876543210")

    deliver(connection, "customers/create", customer_body())

    assert not ShopifyCustomer.objects.filter(client=client_b).exists()
    assert not CallCustomer.objects.filter(client=client_b, customer__isnull=False).exists()


def test_a_privacy_delivery_reaches_its_handler(deliver, connection, client_a):
    deliver(connection, "customers/create", customer_body())
    body = {
        "shop_id": 954889,
        "shop_domain": SHOP_DOMAIN,
        "customer": {"id": CUSTOMER_ID, "email": "priya.sharma@example.com", "phone": "+919876543210"},
        "orders_to_redact": [],
    }

    assert deliver(connection, "customers/redact", body).status_code == 200

    assert last_event().status == WebhookStatus.PROCESSED, last_event().last_error
    assert not ShopifyCustomer.objects.filter(client=client_a).exists()


def test_processing_again_changes_nothing(deliver, connection, client_a):
    deliver(connection, "orders/create", order_body())
    event = last_event()
    WebhookEvent.objects.filter(pk=event.pk).update(status=WebhookStatus.RECEIVED)

    processing.webhook_process(event.pk)

    assert ShopifyOrder.objects.for_client(client_a).count() == 1
