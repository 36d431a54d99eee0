"""Shopify's privacy webhooks end to end (signed deliveries through the webhook endpoint and the inbox):
a data request becomes a file only the client's owners download, a customer's redaction erases them and
masks their number on their calls, a shop's redaction erases the store's data; each is audited, and a body
that does not fit its topic is refused and changes nothing. Also the customer retention and the audited
staff views of customers in the admin."""

import base64
import hashlib
import hmac
import json
from datetime import timedelta
from decimal import Decimal

import pytest
from django.core.files.storage import default_storage
from django.core.management import call_command
from django.utils import timezone

from accounts.models import AuditAction, AuditEvent
from accounts.roles import Role
from integrations import processing
from integrations.models import (
    CallCustomer,
    CallMatch,
    Product,
    ShopifyConnection,
    ShopifyCustomer,
    ShopifyDataRequest,
    ShopifyOrder,
    ShopifyPhone,
    WebhookEvent,
    WebhookProvider,
    WebhookStatus,
)
from integrations.shopify import privacy, retention
from recordings.models import Call
from recordings.services import call_update, calls_number_mask, number_masked
from tests.factories import CallFactory, ShopifyConnectionFactory, UserFactory

pytestmark = pytest.mark.django_db

# Shopify's deliveries as signed with the fixture secret (shared fixtures, shopify/*.body.json): the exact bytes.
SECRET = "shpss_caly_fixture_secret_not_real"
SHOP = "caly-demo.myshopify.com"
DATA_REQUEST_BODY = (
    b'{"shop_id":78901234567,"shop_domain":"caly-demo.myshopify.com","orders_requested":[5987654321012],'
    b'"customer":{"id":7712345678901,"email":"priya.sharma@example.com","phone":"+919876543210"},'
    b'"data_request":{"id":4410293}}'
)
DATA_REQUEST_HMAC = "vaiPwTqaX81FY0vzf1e9HEJGqhRQtX7CVSmu6HcHPR8="
REDACT_BODY = (
    b'{"shop_id":78901234567,"shop_domain":"caly-demo.myshopify.com","customer":{"id":7712345678901,'
    b'"email":"priya.sharma@example.com","phone":"+919876543210"},"orders_to_redact":[5987654321012]}'
)
REDACT_HMAC = "Zaxp3m/sIcNSDpo0UeAtvxG029/P1fob3nC2oSaoEEE="
SHOP_REDACT_BODY = b'{"shop_id":78901234567,"shop_domain":"caly-demo.myshopify.com"}'
SHOP_REDACT_HMAC = "CYM3dx1B72iSFPhxvwmJFWSDIoYyAAGiH9xZwcPWJxE="
CUSTOMER_ID = 7712345678901
ORDER_ID = 5987654321012
PRIYA = "+919876543210"
PRIYA_OTHER = "+919812300001"  # her shipping address's number
STORE = "+918047181234"


def sign(body: bytes, secret: str = SECRET) -> str:
    return base64.b64encode(hmac.new(secret.encode(), body, hashlib.sha256).digest()).decode()


@pytest.fixture
def connection(client_a):
    return ShopifyConnectionFactory(client=client_a, shop_domain=SHOP, webhook_secret=SECRET)


@pytest.fixture
def uninstalled(connection):
    """Shopify sends shop/redact 48 hours after an uninstall: the app is gone, its signing secret still known."""
    ShopifyConnection.objects.filter(pk=connection.pk).update(verified_at=None, uninstalled_at=timezone.now())
    connection.refresh_from_db()
    return connection


@pytest.fixture
def deliver(client, django_capture_on_commit_callbacks):
    """POST a delivery as Shopify would and run its processing (the tasks run at once in tests)."""
    counter = iter(range(1, 10_000))

    def _deliver(connection, topic, body: bytes, *, signature=None, shop=SHOP, webhook_id=None):
        with django_capture_on_commit_callbacks(execute=True):
            return client.post(
                f"/api/v1/webhooks/shopify/{connection.public_id}",
                body,
                content_type="application/json",
                HTTP_X_SHOPIFY_TOPIC=topic,
                HTTP_X_SHOPIFY_SHOP_DOMAIN=shop,
                HTTP_X_SHOPIFY_API_VERSION="2026-07",
                HTTP_X_SHOPIFY_WEBHOOK_ID=webhook_id or f"privacy-{next(counter)}",
                HTTP_X_SHOPIFY_HMAC_SHA256=signature if signature is not None else sign(body),
            )

    return _deliver


@pytest.fixture
def priya(client_a, connection):
    """Priya as Caly holds her: the customer, an order with her shipping number, two calls, one linked by order."""
    customer = ShopifyCustomer.objects.create(
        client=client_a,
        shopify_id=CUSTOMER_ID,
        first_name="Priya",
        last_name="Sharma",
        email="priya.sharma@example.com",
        phone=PRIYA,
        tags=["vip"],
        orders_count=1,
        total_spent=Decimal("2499.00"),
        currency="INR",
    )
    order = ShopifyOrder.objects.create(
        client=client_a,
        shopify_id=ORDER_ID,
        customer=customer,
        name="#1042",
        number=1042,
        total=Decimal("2499.00"),
        currency="INR",
        item_count=2,
        processed_at=timezone.now() - timedelta(days=3),
    )
    ShopifyPhone.objects.create(client=client_a, phone=PRIYA, customer=customer, source="customer")
    ShopifyPhone.objects.create(client=client_a, phone=PRIYA_OTHER, order=order, source="shipping")
    inbound = CallFactory(client=client_a, from_number=PRIYA, to_number=STORE, notes=f"Called back on {PRIYA}")
    outbound = CallFactory(client=client_a, direction="outbound", from_number=STORE, to_number=PRIYA_OTHER)
    CallCustomer.objects.create(client=client_a, call=inbound, customer=customer, match=CallMatch.PHONE, phone=PRIYA)
    CallCustomer.objects.create(
        client=client_a, call=outbound, customer=customer, order=order, match=CallMatch.ORDER, phone=PRIYA_OTHER
    )
    return customer


# --- customers/data_request ----------------------------------------------------------------------


def test_it_answers_a_data_request_with_a_file_of_what_caly_holds(deliver, connection, priya, alice, bob, mailoutbox):
    response = deliver(connection, "customers/data_request", DATA_REQUEST_BODY, signature=DATA_REQUEST_HMAC)

    assert response.status_code == 200
    assert WebhookEvent.objects.get().status == WebhookStatus.PROCESSED
    data_request = ShopifyDataRequest.objects.get()
    assert (data_request.client, data_request.shopify_request_id) == (connection.client, 4410293)
    assert data_request.storage_key.startswith(f"privacy/{connection.client.public_id}/")
    with default_storage.open(data_request.storage_key, "rb") as handle:
        raw = handle.read()
    assert len(raw) == data_request.size_bytes and hashlib.sha256(raw).hexdigest() == data_request.sha256
    document = json.loads(raw)
    assert document["request"]["data_request_id"] == 4410293
    assert [c["email"] for c in document["customers"]] == ["priya.sharma@example.com"]
    assert [o["name"] for o in document["orders"]] == ["#1042"]
    assert document["phone_numbers"] == sorted([PRIYA, PRIYA_OTHER])
    assert {c["to_number"] for c in document["calls"]} == {STORE, PRIYA_OTHER}
    assert data_request.counts == {"customers": 1, "orders": 1, "calls": 2}
    audit = AuditEvent.objects.get(action=AuditAction.SHOPIFY_DATA_REQUESTED)
    assert audit.client == connection.client and audit.metadata["data_request_id"] == 4410293
    assert [mail.to for mail in mailoutbox] == [[alice.email]]  # the owner, not the agent
    assert "/integrations/privacy/" in mailoutbox[0].body and "priya" not in mailoutbox[0].body.lower()


def test_a_data_request_shopify_sends_again_is_answered_once(deliver, connection, priya, alice):
    deliver(connection, "customers/data_request", DATA_REQUEST_BODY, signature=DATA_REQUEST_HMAC)
    deliver(connection, "customers/data_request", DATA_REQUEST_BODY, webhook_id="another-delivery")

    assert ShopifyDataRequest.objects.count() == 1
    assert sorted(WebhookEvent.objects.values_list("status", flat=True)) == [
        WebhookStatus.IGNORED,
        WebhookStatus.PROCESSED,
    ]


def test_a_data_request_about_a_customer_caly_never_saw_still_gets_an_answer(deliver, connection, alice):
    deliver(connection, "customers/data_request", DATA_REQUEST_BODY, signature=DATA_REQUEST_HMAC)

    data_request = ShopifyDataRequest.objects.get()
    assert data_request.counts == {"customers": 0, "orders": 0, "calls": 0}


@pytest.fixture
def answered(deliver, connection, priya, alice):
    deliver(connection, "customers/data_request", DATA_REQUEST_BODY, signature=DATA_REQUEST_HMAC)
    return ShopifyDataRequest.objects.get()


def test_only_the_owner_downloads_the_file_and_the_download_is_audited(client, answered, alice):
    client.force_login(alice)
    page = client.get("/integrations/privacy/")
    assert page.status_code == 200 and str(answered.public_id) in page.content.decode()

    response = client.get(f"/integrations/privacy/{answered.public_id}/download/")

    assert response.status_code == 200
    assert response["Content-Disposition"].startswith("attachment")
    assert json.loads(b"".join(response.streaming_content))["request"]["data_request_id"] == 4410293
    answered.refresh_from_db()
    assert answered.downloaded_at is not None
    audit = AuditEvent.objects.get(action=AuditAction.SHOPIFY_DATA_DOWNLOADED)
    assert (audit.actor, audit.target_id) == (alice, str(answered.public_id))


@pytest.mark.parametrize("role", [Role.ADMIN, Role.AGENT, Role.VIEWER])
def test_other_roles_of_the_client_cannot_see_or_download_data_requests(client, answered, client_a, role):
    client.force_login(UserFactory(client=client_a, role=role))

    assert client.get(f"/integrations/privacy/{answered.public_id}/download/").status_code == 404
    assert client.get("/integrations/privacy/").status_code == 403
    assert not AuditEvent.objects.filter(action=AuditAction.SHOPIFY_DATA_DOWNLOADED).exists()


def test_another_clients_owner_gets_a_404(client, answered, charlie):
    client.force_login(charlie)

    assert client.get(f"/integrations/privacy/{answered.public_id}/download/").status_code == 404
    assert str(answered.public_id) not in client.get("/integrations/privacy/").content.decode()


def test_signed_out_visitors_are_sent_to_sign_in(client, answered):
    response = client.get(f"/integrations/privacy/{answered.public_id}/download/")

    assert response.status_code == 302 and "/login/" in response["Location"]


# --- customers/redact ----------------------------------------------------------------------------


def test_a_redaction_erases_the_customer_and_masks_their_number_on_calls(deliver, connection, priya, client_a):
    call_ids = list(Call.objects.values_list("pk", flat=True))
    response = deliver(connection, "customers/redact", REDACT_BODY, signature=REDACT_HMAC)

    assert response.status_code == 200
    assert WebhookEvent.objects.get().status == WebhookStatus.PROCESSED
    assert not ShopifyCustomer.objects.exists()
    assert not ShopifyPhone.objects.exists()
    order = ShopifyOrder.objects.get()  # the store's record stays, anonymous
    assert (order.name, order.customer_id) == ("#1042", None)
    assert list(CallCustomer.objects.values_list("customer", "order", "match", "phone").distinct()) == [
        (None, None, CallMatch.NONE, "")
    ]
    numbers = set(Call.objects.values_list("from_number", "to_number"))
    assert numbers == {("+XXXXXXXX3210", STORE), (STORE, "+XXXXXXXX0001")}
    inbound = Call.objects.get(from_number="+XXXXXXXX3210")
    assert inbound.notes == "Called back on +XXXXXXXX3210"
    audit = AuditEvent.objects.get(action=AuditAction.SHOPIFY_CUSTOMER_REDACTED)
    assert audit.metadata["calls_masked"] == 2 and audit.metadata["customer_shopify_id"] == CUSTOMER_ID
    assert sorted(Call.objects.values_list("pk", flat=True)) == sorted(call_ids)  # the calls themselves stay


def test_a_masked_call_still_works_everywhere(deliver, connection, priya, client, api, alice):
    deliver(connection, "customers/redact", REDACT_BODY, signature=REDACT_HMAC)
    call = Call.objects.get(from_number="+XXXXXXXX3210")

    call_update(call=call, actor=alice, notes="Customer asked to be forgotten", is_resolved=True)  # full_clean passes
    client.force_login(alice)
    page = client.get(f"/calls/{call.public_id}/")
    assert page.status_code == 200
    content = page.content.decode()
    assert "+XXXXXXXX3210" in content and PRIYA not in content
    api.force_authenticate(alice)
    detail = api.get(f"/api/v1/calls/{call.public_id}")
    assert detail.status_code == 200 and detail.json()["data"]["from_number"] == "+XXXXXXXX3210"


def test_a_redaction_delivered_twice_changes_nothing_the_second_time(deliver, connection, priya):
    deliver(connection, "customers/redact", REDACT_BODY, signature=REDACT_HMAC)
    before = list(Call.objects.order_by("pk").values_list("from_number", "to_number", "notes", "updated_at"))

    deliver(connection, "customers/redact", REDACT_BODY, webhook_id="redact-again")

    assert list(Call.objects.order_by("pk").values_list("from_number", "to_number", "notes", "updated_at")) == before
    assert WebhookEvent.objects.order_by("pk").last().status == WebhookStatus.IGNORED


def test_a_redaction_also_removes_files_answering_data_requests_about_the_customer(deliver, answered, connection):
    key = answered.storage_key
    deliver(connection, "customers/redact", REDACT_BODY, signature=REDACT_HMAC)

    assert not ShopifyDataRequest.objects.exists()
    assert not default_storage.exists(key)


def test_a_redaction_by_email_only_finds_the_customer(deliver, connection, priya):
    body = json.dumps(
        {"shop_id": 1, "shop_domain": SHOP, "customer": {"email": "PRIYA.sharma@example.com"}, "orders_to_redact": []}
    ).encode()
    deliver(connection, "customers/redact", body)

    assert not ShopifyCustomer.objects.exists()


def test_masking_keeps_other_clients_calls_and_other_numbers(client_a, client_b):
    mine = CallFactory(client=client_a, from_number=PRIYA)
    theirs = CallFactory(client=client_b, from_number=PRIYA)
    other = CallFactory(client=client_a, from_number="+919800000000", notes="not 9876543210's call")

    assert calls_number_mask(client=client_a, numbers=[PRIYA, "not a number"]) == 2  # hers, and one naming her
    mine.refresh_from_db(), theirs.refresh_from_db(), other.refresh_from_db()
    assert (mine.from_number, theirs.from_number, other.from_number) == ("+XXXXXXXX3210", PRIYA, "+919800000000")
    assert other.notes == "not +XXXXXXXX3210's call"  # the national form is masked too
    assert calls_number_mask(client=client_a, numbers=[PRIYA]) == 0
    assert number_masked("+14155550123") == "+XXXXXXX0123"


# --- shop/redact ---------------------------------------------------------------------------------


def test_a_shop_redaction_erases_the_stores_data(deliver, uninstalled, priya, answered, client_a, client_b):
    Product.objects.create(client=client_a, shopify_id=1, title="Indigo Kurta")
    Product.objects.create(client=client_b, shopify_id=1, title="Someone else's")
    ShopifyConnection.objects.filter(pk=uninstalled.pk).update(
        customers_watermark=timezone.now(), webhook_subscriptions={"orders/create": "gid://shopify/W/1"}
    )
    key = answered.storage_key

    response = deliver(uninstalled, "shop/redact", SHOP_REDACT_BODY, signature=SHOP_REDACT_HMAC)

    assert response.status_code == 200
    assert WebhookEvent.objects.get(topic="shop/redact").status == WebhookStatus.PROCESSED
    for model in (ShopifyCustomer, ShopifyOrder, ShopifyPhone, CallCustomer, ShopifyDataRequest):
        assert not model.objects.filter(client=client_a).exists(), model
    assert list(Product.objects.values_list("client", flat=True)) == [client_b.pk]
    assert not default_storage.exists(key)
    uninstalled.refresh_from_db()
    assert (uninstalled.customers_watermark, uninstalled.webhook_subscriptions) == (None, {})
    assert Call.objects.filter(client=client_a).count() == 2  # the calls are the client's, not the store's
    audit = AuditEvent.objects.get(action=AuditAction.SHOPIFY_SHOP_REDACTED)
    assert audit.metadata["customers"] == 1 and audit.metadata["products"] == 1


def test_a_shop_redaction_for_an_installed_store_is_refused(deliver, connection, priya):
    response = deliver(connection, "shop/redact", SHOP_REDACT_BODY, signature=SHOP_REDACT_HMAC)

    assert response.status_code == 200  # acknowledged; applying it is refused
    event = WebhookEvent.objects.get()
    assert event.status == WebhookStatus.REFUSED and "installed" in event.last_error
    assert ShopifyCustomer.objects.count() == 1
    assert not AuditEvent.objects.filter(action=AuditAction.SHOPIFY_SHOP_REDACTED).exists()


# --- bodies that do not fit their topic ----------------------------------------------------------


@pytest.mark.parametrize(
    ("topic", "body"),
    [
        ("customers/redact", DATA_REQUEST_BODY),  # a data request replayed as a redaction
        ("shop/redact", REDACT_BODY),  # a customer's redaction replayed as the whole shop's
        ("customers/data_request", REDACT_BODY),
        ("customers/redact", SHOP_REDACT_BODY),
        ("customers/redact", b'{"shop_domain":"other-shop.myshopify.com","customer":{"id":1}}'),
        ("customers/redact", b'{"shop_domain":"caly-demo.myshopify.com","customer":{}}'),
        ("customers/redact", b'{"shop_domain":"caly-demo.myshopify.com","customer":{"id":"12a"}}'),
        ("customers/redact", b'{"shop_domain":"caly-demo.myshopify.com","customer":{"id":1},"orders_to_redact":7}'),
        ("customers/data_request", b'{"shop_domain":"caly-demo.myshopify.com","customer":{"id":1},"data_request":1}'),
        ("shop/redact", b'{"shop_domain":"caly-demo.myshopify.com","id":1,"title":"A product"}'),
    ],
)
def test_a_body_that_does_not_fit_its_topic_is_refused_and_stores_nothing(deliver, uninstalled, priya, topic, body):
    response = deliver(uninstalled, topic, body)

    assert response.status_code == 400
    assert response.json()["error"]["code"] == "VALIDATION_ERROR"
    assert not WebhookEvent.objects.exists()
    assert ShopifyCustomer.objects.count() == 1 and Call.objects.filter(from_number=PRIYA).count() == 1


def test_an_unsigned_privacy_delivery_is_a_401(deliver, connection, priya):
    response = deliver(connection, "customers/redact", REDACT_BODY, signature=sign(REDACT_BODY, "wrong"))

    assert response.status_code == 401
    assert not WebhookEvent.objects.exists() and ShopifyCustomer.objects.count() == 1


def test_a_malformed_stored_delivery_fails_and_changes_nothing(connection, priya, client_a):
    event = WebhookEvent.objects.create(
        client=client_a,
        provider=WebhookProvider.SHOPIFY,
        dedupe_key=f"{client_a.public_id}:stored-malformed",
        topic="customers/redact",
        body=b'{"shop_domain":"caly-demo.myshopify.com","customer":"everyone"}',
        headers={"X-Shopify-Shop-Domain": SHOP, "X-Shopify-Topic": "customers/redact"},
    )

    processing.webhook_process(event.pk)

    event.refresh_from_db()
    assert event.status == WebhookStatus.FAILED and event.next_attempt_at is None
    assert ShopifyCustomer.objects.count() == 1 and Call.objects.filter(from_number=PRIYA).count() == 1


def test_the_handler_refuses_what_the_endpoint_would(connection, priya):
    with pytest.raises(processing.PermanentError):
        privacy.handle("customers/redact", connection=connection, payload=json.loads(DATA_REQUEST_BODY))
    assert privacy.topic_problem("products/update", {"anything": 1}, shop_domain=SHOP) is None


# --- retention -----------------------------------------------------------------------------------


def _aged(customer, days):
    then = timezone.now() - timedelta(days=days)
    ShopifyCustomer.objects.filter(pk=customer.pk).update(created_at=then, shopify_created_at=then)


def test_customers_with_no_order_or_call_within_the_retention_are_removed(client_a, client_b, settings):
    settings.CUSTOMER_RETENTION_DAYS = 365
    old = timezone.now() - timedelta(days=400)
    idle = ShopifyCustomer.objects.create(client=client_a, shopify_id=1, first_name="Idle", phone="+919800000001")
    ShopifyPhone.objects.create(client=client_a, phone="+919800000001", customer=idle, source="customer")
    ShopifyOrder.objects.create(client=client_a, shopify_id=11, customer=idle, name="#1", number=1, processed_at=old)
    idle_call = CallFactory(client=client_a, from_number="+919800000001", started_at=old)
    CallCustomer.objects.create(client=client_a, call=idle_call, customer=idle, match=CallMatch.PHONE)
    ordered = ShopifyCustomer.objects.create(client=client_a, shopify_id=2, first_name="Ordered")
    ShopifyOrder.objects.create(
        client=client_a, shopify_id=12, customer=ordered, name="#2", number=2, processed_at=timezone.now()
    )
    called = ShopifyCustomer.objects.create(client=client_a, shopify_id=3, first_name="Called")
    CallCustomer.objects.create(client=client_a, call=CallFactory(client=client_a), customer=called)
    new = ShopifyCustomer.objects.create(client=client_a, shopify_id=4, first_name="New")
    elsewhere = ShopifyCustomer.objects.create(client=client_b, shopify_id=1, first_name="Idle too")
    for customer in (idle, ordered, called, elsewhere):
        _aged(customer, 400)

    assert retention.customers_purge_inactive(dry_run=True)["customers"] == 2
    assert ShopifyCustomer.objects.count() == 5

    counts = retention.customers_purge_inactive(dry_run=False)

    assert counts["customers"] == 2 and counts["orders"] == 1
    assert set(ShopifyCustomer.objects.values_list("first_name", flat=True)) == {"Ordered", "Called", "New"}
    assert not ShopifyPhone.objects.filter(phone="+919800000001").exists()
    assert Call.objects.filter(pk=idle_call.pk).exists()  # the call stays, unlinked
    assert CallCustomer.objects.get(call=idle_call).customer is None
    assert AuditEvent.objects.filter(action=AuditAction.SHOPIFY_CUSTOMERS_PURGED).count() == 2
    assert new.pk in ShopifyCustomer.objects.values_list("pk", flat=True)


def test_the_retention_command_is_a_dry_run_unless_applied(client_a, settings, capsys):
    settings.CUSTOMER_RETENTION_DAYS = 30
    _aged(ShopifyCustomer.objects.create(client=client_a, shopify_id=9, first_name="Idle"), 60)

    call_command("purge_inactive_customers")
    assert "Dry run: 1 customer" in capsys.readouterr().out and ShopifyCustomer.objects.exists()
    call_command("purge_inactive_customers", "--apply")
    assert "Removed 1 customer" in capsys.readouterr().out and not ShopifyCustomer.objects.exists()


# --- the admin -----------------------------------------------------------------------------------


def test_staff_opening_a_customer_in_the_admin_is_audited_in_the_clients_log(client, staff, priya):
    client.force_login(staff)
    listing = client.get("/admin/integrations/shopifycustomer/", {"q": "priya.sharma@example.com"})
    assert listing.status_code == 200 and "Priya" in listing.content.decode()
    assert "priya.sharma@example.com</td>" not in listing.content.decode()  # no contact details in the list
    assert not AuditEvent.objects.filter(action=AuditAction.SHOPIFY_CUSTOMER_VIEWED).exists()

    page = client.get(f"/admin/integrations/shopifycustomer/{priya.pk}/change/")

    assert page.status_code == 200 and "priya.sharma@example.com" in page.content.decode()
    audit = AuditEvent.objects.get(action=AuditAction.SHOPIFY_CUSTOMER_VIEWED)
    assert (audit.client, audit.actor, audit.target_id) == (priya.client, staff, str(priya.public_id))
    order = ShopifyOrder.objects.get()
    assert client.get(f"/admin/integrations/shopifyorder/{order.pk}/change/").status_code == 200
    assert AuditEvent.objects.filter(action=AuditAction.SHOPIFY_CUSTOMER_VIEWED).count() == 2


def test_staff_cannot_change_add_or_delete_customers(client, staff, priya):
    client.force_login(staff)

    assert client.post(f"/admin/integrations/shopifycustomer/{priya.pk}/change/", {"email": "x@y.z"}).status_code == 403
    assert client.get("/admin/integrations/shopifycustomer/add/").status_code == 403
    assert client.get(f"/admin/integrations/shopifycustomer/{priya.pk}/delete/").status_code == 403
    priya.refresh_from_db()
    assert priya.email == "priya.sharma@example.com"
    assert client.get("/admin/integrations/shopifycustomer/", {"q": "not-a-number"}).status_code == 200
