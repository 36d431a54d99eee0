"""Shopify webhooks: verified on the raw body, stored once per delivery, applied newest-wins
(stale and out-of-order deliveries change nothing; a deleted product stays deleted).

Shopify signs the body only, so a replayed delivery can carry any headers: the topic must fit the
body, header times never count past the receipt, destructive topics are confirmed with the Admin API
(the fake Shopify on 127.0.0.1), and only genuine deliveries count against a connection's limit."""

import base64
import hashlib
import hmac
import json
import logging
from datetime import UTC, datetime, timedelta

import pytest
from django.utils import timezone
from django_tasks_db.models import DBTaskResult

from accounts.models import AuditAction, AuditEvent
from integrations import processing
from integrations.models import Product, ProductVariant, ShopifyConnection, WebhookEvent, WebhookStatus
from integrations.shopify.credentials import shopify_connection_save
from integrations.shopify.services import shopify_webhook_url
from integrations.tasks import process_webhook_event
from tests import shopify_fake
from tests.shopify_fake import ACCESS_TOKEN, API_VERSION, SHOP_DOMAIN, WEBHOOK_SECRET

pytestmark = pytest.mark.django_db

PRODUCT_ID = 632910392
BOLT_TOKEN = "shpat_bolt_token_000000"


@pytest.fixture(autouse=True)
def shopify(settings):
    """The Admin API that saves, uninstalls and deletes are checked with; it has no products unless told."""
    with shopify_fake.serve(settings) as fake:
        fake.other_shops[BOLT_TOKEN] = "bolt-books.myshopify.com"
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


@pytest.fixture
def connection_b(client_b, shopify):
    return shopify_connection_save(
        client=client_b,
        actor=None,
        shop_domain="bolt-books.myshopify.com",
        access_token=BOLT_TOKEN,
        webhook_secret="bolt-books-webhook-secret",
        api_version=API_VERSION,
    )


def sign(body: bytes, secret: str = WEBHOOK_SECRET) -> str:
    return base64.b64encode(hmac.new(secret.encode(), body, hashlib.sha256).digest()).decode()


def at(minutes: int) -> str:
    return (datetime(2026, 3, 1, 10, 0, tzinfo=UTC) + timedelta(minutes=minutes)).isoformat()


def rest_product(*, title="Indigo Kurta", updated=0, variants=2, **fields) -> dict:
    """A products/create or products/update body as Shopify sends it (REST product JSON)."""
    product = {
        "id": PRODUCT_ID,
        "title": title,
        "body_html": "<p>Hand block-printed <strong>cotton</strong>.</p><p>Machine&nbsp;wash &amp; dry.</p>",
        "vendor": "Jaipur Threads",
        "product_type": "Kurta",
        "handle": "indigo-kurta",
        "status": "active",
        "tags": "women, cotton, ,women",
        "updated_at": at(updated),
        "images": [{"id": 1}, {"id": 2}, {"id": 3}],
        "variants": [
            {
                "id": 808950810 + n,
                "product_id": PRODUCT_ID,
                "title": ["S", "M", "L"][n],
                "price": "1299.00",
                "compare_at_price": "1599.00" if n == 0 else None,
                "sku": f"KUR-IND-{['S', 'M', 'L'][n]}",
                "inventory_quantity": 10 - n,
                "barcode": None,
                "updated_at": at(updated),
            }
            for n in range(variants)
        ],
    }
    product.update(fields)
    return product


@pytest.fixture
def deliver(client, django_capture_on_commit_callbacks):
    """POST a delivery as Shopify would (signed unless told otherwise) and run its processing."""
    counter = iter(range(1, 10_000))

    def _deliver(
        connection, topic, payload=None, *, body=None, secret=None, signature=None, remote_addr="127.0.0.1", **headers
    ):
        raw = body if body is not None else json.dumps(payload).encode()
        meta = {
            "REMOTE_ADDR": remote_addr,
            "HTTP_X_SHOPIFY_TOPIC": topic,
            "HTTP_X_SHOPIFY_SHOP_DOMAIN": connection.shop_domain,
            "HTTP_X_SHOPIFY_WEBHOOK_ID": f"b54557e4-bdd9-4b37-8a5f-bf7d70b{next(counter):05d}",
            "HTTP_X_SHOPIFY_API_VERSION": API_VERSION,
            "HTTP_X_SHOPIFY_HMAC_SHA256": signature
            if signature is not None
            else sign(raw, secret or connection.webhook_secret),
        }
        meta.update({f"HTTP_{name.upper().replace('-', '_')}": value for name, value in headers.items()})
        meta = {name: value for name, value in meta.items() if value is not None}
        with django_capture_on_commit_callbacks(execute=True):
            return client.post(
                f"/api/v1/webhooks/shopify/{connection.public_id}", raw, content_type="application/json", **meta
            )

    return _deliver


def shop_body(**fields) -> dict:
    """An app/uninstalled body as Shopify sends it: the shop object."""
    shop = {
        "id": 548380009,
        "name": "Acme Apparel",
        "email": "owner@acme.example",
        "domain": "shop.acme.example",
        "myshopify_domain": SHOP_DOMAIN,
        "shop_owner": "Alice Owner",
        "plan_name": "basic",
        "primary_locale": "en",
        "iana_timezone": "Asia/Kolkata",
        "currency": "INR",
        "updated_at": at(0),
    }
    shop.update(fields)
    return shop


def live_product(client):
    return Product.objects.for_client(client).filter(deleted_at__isnull=True).first()


def test_it_creates_a_product_from_a_signed_delivery(deliver, connection, client_a):
    response = deliver(connection, "products/create", rest_product())

    assert response.status_code == 200
    assert response.json()["data"] == {"received": True, "duplicate": False}
    event = WebhookEvent.objects.get()
    assert (event.client, event.topic, event.status) == (client_a, "products/create", WebhookStatus.PROCESSED)
    assert "X-Shopify-Hmac-Sha256" not in event.headers
    assert event.headers["X-Shopify-Shop-Domain"] == SHOP_DOMAIN
    product = live_product(client_a)
    assert (product.shopify_id, product.title, product.vendor, product.images_count) == (
        PRODUCT_ID,
        "Indigo Kurta",
        "Jaipur Threads",
        3,
    )
    assert product.description == "Hand block-printed cotton.\nMachine wash & dry."
    assert product.tags == ["women", "cotton"]
    assert product.shopify_updated_at == datetime(2026, 3, 1, 10, 0, tzinfo=UTC)
    variants = list(product.variants.order_by("shopify_id").values_list("sku", "price", "compare_at_price"))
    assert [(sku, str(price), str(compare)) for sku, price, compare in variants] == [
        ("KUR-IND-S", "1299.00", "1599.00"),
        ("KUR-IND-M", "1299.00", "None"),
    ]


def test_a_newer_update_replaces_the_product_and_its_variants(deliver, connection, client_a):
    deliver(connection, "products/create", rest_product(variants=2))
    deliver(connection, "products/update", rest_product(title="Indigo Kurta (new)", updated=5, variants=3))
    deliver(connection, "products/update", rest_product(title="Drops a size", updated=9, variants=1))

    product = live_product(client_a)
    assert product.title == "Drops a size"
    assert list(product.variants.values_list("sku", flat=True)) == ["KUR-IND-S"]
    assert list(WebhookEvent.objects.values_list("status", flat=True).distinct()) == [WebhookStatus.PROCESSED]


def test_a_repeated_delivery_is_acknowledged_and_stored_once(deliver, connection, client_a):
    payload = rest_product()
    first = deliver(connection, "products/create", payload, x_shopify_webhook_id="same-delivery")
    again = deliver(connection, "products/create", payload, x_shopify_webhook_id="same-delivery")

    assert (first.status_code, again.status_code) == (200, 200)
    assert again.json()["data"] == {"received": True, "duplicate": True}
    assert WebhookEvent.objects.count() == 1
    assert ProductVariant.objects.count() == 2


def test_one_clients_delivery_ids_never_collide_with_anothers(deliver, connection, connection_b, client_b):
    deliver(connection, "products/create", rest_product(), x_shopify_webhook_id="shared-id")
    response = deliver(connection_b, "products/create", rest_product(title="B's"), x_shopify_webhook_id="shared-id")

    assert response.json()["data"]["duplicate"] is False
    assert WebhookEvent.objects.count() == 2
    assert live_product(client_b).title == "B's"


def test_a_stale_update_changes_nothing(deliver, connection, client_a):
    deliver(connection, "products/update", rest_product(title="Current", updated=10))
    deliver(connection, "products/update", rest_product(title="Retried old payload", updated=2))

    assert live_product(client_a).title == "Current"
    assert WebhookEvent.objects.order_by("pk").last().status == WebhookStatus.IGNORED


def test_the_triggered_at_header_dates_a_payload_without_updated_at(deliver, connection, client_a):
    deliver(connection, "products/update", rest_product(title="Current", updated=10))
    old = rest_product(title="Old")
    del old["updated_at"]
    deliver(connection, "products/update", old, x_shopify_triggered_at=at(3))

    assert live_product(client_a).title == "Current"
    assert WebhookEvent.objects.order_by("pk").last().status == WebhookStatus.IGNORED


def test_a_delete_leaves_a_tombstone_and_hides_the_product(deliver, connection, client_a):
    deliver(connection, "products/create", rest_product())
    response = deliver(connection, "products/delete", {"id": PRODUCT_ID}, x_shopify_triggered_at=at(20))

    assert response.status_code == 200
    assert live_product(client_a) is None
    tombstone = Product.objects.get(shopify_id=PRODUCT_ID)
    assert tombstone.deleted_at == datetime(2026, 3, 1, 10, 20, tzinfo=UTC)
    assert not ProductVariant.objects.exists()


def test_an_update_delivered_after_the_delete_does_not_resurrect_it(deliver, connection, client_a):
    deliver(connection, "products/create", rest_product())
    deliver(connection, "products/delete", {"id": PRODUCT_ID}, x_shopify_triggered_at=at(20))
    deliver(connection, "products/update", rest_product(title="Stale", updated=10), x_shopify_triggered_at=at(10))
    deliver(connection, "products/update", rest_product(title="Odd clock", updated=30), x_shopify_triggered_at=at(30))

    assert live_product(client_a) is None
    assert not ProductVariant.objects.exists()
    statuses = list(WebhookEvent.objects.order_by("pk").values_list("topic", "status"))
    assert statuses[-2:] == [("products/update", WebhookStatus.IGNORED)] * 2


def test_a_delete_arriving_before_the_create_wins(deliver, connection, client_a):
    deliver(connection, "products/delete", {"id": PRODUCT_ID}, x_shopify_triggered_at=at(20))
    deliver(connection, "products/create", rest_product(updated=0))

    assert live_product(client_a) is None
    assert Product.objects.filter(shopify_id=PRODUCT_ID, deleted_at__isnull=False).count() == 1


def test_a_second_delete_is_ignored(deliver, connection):
    deliver(connection, "products/delete", {"id": PRODUCT_ID})
    deliver(connection, "products/delete", {"id": PRODUCT_ID})
    assert list(WebhookEvent.objects.order_by("pk").values_list("status", flat=True)) == [
        WebhookStatus.PROCESSED,
        WebhookStatus.IGNORED,
    ]


def test_app_uninstalled_keeps_the_connection_wipes_its_token_and_keeps_the_products(
    deliver, connection, client_a, shopify
):
    deliver(connection, "products/create", rest_product())
    shopify.token = "shpat_new_install"  # uninstalling revoked the connection's token
    response = deliver(connection, "app/uninstalled", shop_body())

    assert response.status_code == 200
    assert WebhookEvent.objects.get(topic="app/uninstalled").status == WebhookStatus.PROCESSED
    kept = ShopifyConnection.objects.get()
    assert (kept.public_id, kept.state, kept.verified_at) == (connection.public_id, "uninstalled", None)
    # The signing secret stays, so shop/redact (48 hours later) can still be verified and applied.
    assert (kept.access_token, kept.webhook_secret) == ("", WEBHOOK_SECRET)
    assert live_product(client_a) is not None
    audit = AuditEvent.objects.get(action=AuditAction.INTEGRATION_DISCONNECTED)
    assert (audit.client, audit.actor, audit.metadata["reason"]) == (client_a, None, "app/uninstalled")


def test_a_store_reconnecting_after_an_uninstall_keeps_its_webhook_url(deliver, connection, client_a, shopify):
    url = shopify_webhook_url(connection=connection)
    shopify.token = "shpat_new_install"
    deliver(connection, "app/uninstalled", shop_body())

    again = shopify_connection_save(
        client=client_a, actor=None, access_token="shpat_new_install", webhook_secret="whsec_new_install_secret"
    )

    assert (again.pk, again.state) == (connection.pk, "verified")
    assert shopify_webhook_url(connection=again) == url
    assert deliver(again, "products/create", rest_product()).status_code == 200
    assert live_product(client_a).title == "Indigo Kurta"


def test_an_uninstall_older_than_the_connections_last_change_is_ignored(deliver, connection, shopify):
    shopify.token = "shpat_new_install"
    old = (connection.updated_at - timedelta(minutes=5)).isoformat()
    deliver(connection, "app/uninstalled", shop_body(), x_shopify_triggered_at=old)
    assert ShopifyConnection.objects.get().access_token == ACCESS_TOKEN
    assert WebhookEvent.objects.get().status == WebhookStatus.IGNORED


def test_other_topics_are_acknowledged_and_ignored(deliver, connection):
    response = deliver(connection, "carts/update", {"id": 450789469, "email": "bob@example.com"})
    assert response.status_code == 200
    assert WebhookEvent.objects.get().status == WebhookStatus.IGNORED
    assert not Product.objects.exists()


def test_a_delivery_for_a_shop_no_longer_connected_is_ignored(deliver, connection, client_a, client, shopify):
    payload = rest_product()
    body = json.dumps(payload).encode()
    meta = {
        "HTTP_X_SHOPIFY_TOPIC": "products/create",
        "HTTP_X_SHOPIFY_SHOP_DOMAIN": SHOP_DOMAIN,
        "HTTP_X_SHOPIFY_WEBHOOK_ID": "before-the-change",
        "HTTP_X_SHOPIFY_HMAC_SHA256": sign(body),
    }
    client.post(f"/api/v1/webhooks/shopify/{connection.public_id}", body, content_type="application/json", **meta)
    shopify.other_shops["shpat_another_shop"] = "another-shop.myshopify.com"
    shopify_connection_save(
        client=client_a, actor=None, shop_domain="another-shop.myshopify.com", access_token="shpat_another_shop"
    )

    assert processing.webhook_process(WebhookEvent.objects.get().pk).status == WebhookStatus.IGNORED
    assert not Product.objects.exists()


def test_an_unusable_product_fails_the_event_at_once(deliver, connection):
    response = deliver(connection, "products/update", {"title": "No id"})
    assert response.status_code == 200
    event = WebhookEvent.objects.get()
    assert (event.status, event.next_attempt_at) == (WebhookStatus.FAILED, None)
    assert "id" in event.last_error


# --- refused deliveries --------------------------------------------------------------------------


def assert_refused(response, status, code):
    assert response.status_code == status
    body = response.json()
    assert body["success"] is False and body["error"]["code"] == code
    assert not WebhookEvent.objects.exists()
    assert not Product.objects.exists()


@pytest.mark.parametrize(
    "forge",
    [
        {"signature": "bm90IGEgc2lnbmF0dXJl"},
        {"signature": ""},
        {"x_shopify_hmac_sha256": None},
        {"secret": "guessed-secret"},
        {"signature": "ünïcode"},
    ],
    ids=["forged", "empty", "missing", "wrong-secret", "non-ascii"],
)
def test_it_refuses_a_delivery_it_cannot_verify(deliver, connection, forge):
    assert_refused(deliver(connection, "products/create", rest_product(), **forge), 401, "TOKEN_INVALID")


def test_it_refuses_a_tampered_body(deliver, connection):
    signed = json.dumps(rest_product()).encode()
    tampered = signed.replace(b"1299.00", b"1.00")
    response = deliver(connection, "products/create", body=tampered, signature=sign(signed))
    assert_refused(response, 401, "TOKEN_INVALID")


def test_it_refuses_a_delivery_claiming_another_shop(deliver, connection):
    response = deliver(connection, "products/create", rest_product(), x_shopify_shop_domain="evil.myshopify.com")
    assert_refused(response, 401, "TOKEN_INVALID")


def test_it_refuses_deliveries_while_no_webhook_secret_is_set(deliver, connection):
    ShopifyConnection.objects.filter(pk=connection.pk).update(webhook_secret="")
    connection.refresh_from_db()
    response = deliver(connection, "products/create", rest_product(), secret="anything")
    assert_refused(response, 401, "TOKEN_INVALID")


def test_another_clients_secret_does_not_open_this_endpoint(deliver, connection, connection_b):
    response = deliver(connection, "products/create", rest_product(), secret=connection_b.webhook_secret)
    assert_refused(response, 401, "TOKEN_INVALID")


def test_an_unknown_connection_is_a_404(deliver, connection):
    connection.public_id = "0b7b6c4e-8e1f-4a53-9d1e-2f6a9f1c0d11"
    assert_refused(deliver(connection, "products/create", rest_product()), 404, "NOT_FOUND")


def test_a_deactivated_clients_endpoint_is_a_404(deliver, connection):
    type(connection.client).objects.filter(pk=connection.client_id).update(is_active=False)
    assert_refused(deliver(connection, "products/create", rest_product()), 404, "NOT_FOUND")


def test_unverified_garbage_is_a_401_and_verified_garbage_a_400(deliver, connection):
    assert_refused(deliver(connection, "products/create", body=b"{not json", signature="x"), 401, "TOKEN_INVALID")
    assert_refused(deliver(connection, "products/create", body=b"{not json"), 400, "MALFORMED_REQUEST")
    assert_refused(deliver(connection, "products/create", body=b"[1, 2]"), 400, "MALFORMED_REQUEST")
    assert_refused(deliver(connection, "products/create", body=b"\xff\xfe"), 400, "MALFORMED_REQUEST")
    assert_refused(deliver(connection, "products/create", body=b""), 400, "MALFORMED_REQUEST")


def test_a_verified_delivery_without_its_id_or_topic_is_a_400(deliver, connection):
    response = deliver(connection, "products/create", rest_product(), x_shopify_webhook_id=None)
    assert_refused(response, 400, "VALIDATION_ERROR")
    assert "X-Shopify-Webhook-Id" in response.json()["error"]["details"]
    assert_refused(deliver(connection, "", rest_product()), 400, "VALIDATION_ERROR")


def test_an_oversized_delivery_is_a_413(deliver, connection, settings):
    settings.DATA_UPLOAD_MAX_MEMORY_SIZE = 1024
    payload = rest_product(body_html="<p>" + "x" * 2000 + "</p>")
    assert_refused(deliver(connection, "products/create", payload), 413, "PAYLOAD_TOO_LARGE")


def test_each_connection_has_its_own_rate_limit(deliver, connection, connection_b, settings, stopped_clock):
    settings.RATE_LIMIT_WEBHOOK = "2/m"
    for n in range(2):
        assert deliver(connection, "products/update", rest_product(updated=n)).status_code == 200
    limited = deliver(connection, "products/update", rest_product(updated=3))

    assert limited.status_code == 429
    assert limited.json()["error"]["code"] == "RATE_LIMITED"
    assert int(limited["Retry-After"]) >= 1
    assert WebhookEvent.objects.count() == 2
    assert deliver(connection_b, "products/update", rest_product()).status_code == 200


def test_it_answers_other_methods_with_a_405_envelope(client, connection):
    response = client.get(f"/api/v1/webhooks/shopify/{connection.public_id}")
    assert response.status_code == 405
    assert response.json()["error"]["code"] == "METHOD_NOT_ALLOWED"


def test_secrets_stay_out_of_answers_and_logs(deliver, connection, caplog):
    caplog.set_level(logging.DEBUG)
    answers = [
        deliver(connection, "products/create", rest_product()),
        deliver(connection, "products/create", rest_product(), signature="forged"),
        deliver(connection, "products/create", body=b"{"),
    ]
    for response in answers:
        assert WEBHOOK_SECRET.encode() not in response.content
        assert ACCESS_TOKEN.encode() not in response.content
    assert WEBHOOK_SECRET not in caplog.text and ACCESS_TOKEN not in caplog.text
    assert all(WEBHOOK_SECRET not in json.dumps(e.headers) for e in WebhookEvent.objects.all())


def test_the_webhook_url_is_absolute_from_site_url(connection, settings):
    settings.SITE_URL = "https://caly.example.com/"
    assert shopify_webhook_url(connection=connection) == (
        f"https://caly.example.com/api/v1/webhooks/shopify/{connection.public_id}"
    )


def test_a_delivery_touching_a_product_marks_it_seen_for_a_running_sync(deliver, connection, client_a):
    before = timezone.now()
    deliver(connection, "products/create", rest_product())
    assert live_product(client_a).synced_at >= before


# --- replayed deliveries: only the body is signed --------------------------------------------------

FAR_FUTURE = "2099-01-01T00:00:00Z"


def test_a_product_body_replayed_as_products_delete_from_2099_is_refused(deliver, connection, client_a):
    captured = rest_product(updated=0)
    deliver(connection, "products/create", captured)

    forged = deliver(connection, "products/delete", captured, x_shopify_triggered_at=FAR_FUTURE)

    assert forged.status_code == 400
    assert forged.json()["error"]["code"] == "VALIDATION_ERROR"
    assert "X-Shopify-Topic" in forged.json()["error"]["details"]
    assert WebhookEvent.objects.count() == 1  # the forged one is not stored
    assert deliver(connection, "products/update", rest_product(title="Genuine update", updated=5)).status_code == 200
    assert live_product(client_a).title == "Genuine update"


def test_a_delete_of_a_product_shopify_still_has_is_refused_and_changes_nothing(deliver, connection, client_a, shopify):
    deliver(connection, "products/create", rest_product(updated=0))
    shopify.add_products(1, start=PRODUCT_ID)  # Shopify still has it: the delete is a replay

    response = deliver(connection, "products/delete", {"id": PRODUCT_ID}, x_shopify_triggered_at=FAR_FUTURE)

    assert response.status_code == 200
    event = WebhookEvent.objects.get(topic="products/delete")
    assert event.status == WebhookStatus.REFUSED
    assert f"Shopify still has product {PRODUCT_ID}" in event.last_error
    assert live_product(client_a).variants.count() == 2
    deliver(connection, "products/update", rest_product(title="Genuine update", updated=5))
    assert live_product(client_a).title == "Genuine update"
    product_queries = [r for r in shopify.requests if "product(id:" in r["query"]]
    assert [r["variables"] for r in product_queries] == [{"id": f"gid://shopify/Product/{PRODUCT_ID}"}]


def test_a_confirmed_delete_is_dated_no_later_than_its_receipt(deliver, connection, client_a):
    deliver(connection, "products/create", rest_product())
    before = timezone.now()

    deliver(connection, "products/delete", {"id": PRODUCT_ID}, x_shopify_triggered_at=FAR_FUTURE)

    tombstone = Product.objects.get(shopify_id=PRODUCT_ID)
    assert before <= tombstone.deleted_at <= timezone.now()
    assert WebhookEvent.objects.get(topic="products/delete").status == WebhookStatus.PROCESSED


def test_a_product_body_replayed_as_app_uninstalled_is_refused(deliver, connection):
    forged = deliver(connection, "app/uninstalled", rest_product())

    assert forged.status_code == 400 and "X-Shopify-Topic" in forged.json()["error"]["details"]
    assert not WebhookEvent.objects.exists()
    kept = ShopifyConnection.objects.get()
    assert (kept.state, kept.access_token, kept.webhook_secret) == ("verified", ACCESS_TOKEN, WEBHOOK_SECRET)


def test_another_shops_body_replayed_as_app_uninstalled_is_refused(deliver, connection):
    forged = deliver(connection, "app/uninstalled", shop_body(myshopify_domain="bolt-books.myshopify.com"))

    assert forged.status_code == 400
    assert ShopifyConnection.objects.get().state == "verified"


def test_an_uninstall_while_shopify_still_accepts_the_token_is_refused(deliver, connection, client_a):
    response = deliver(connection, "app/uninstalled", shop_body(), x_shopify_triggered_at=FAR_FUTURE)

    assert response.status_code == 200
    event = WebhookEvent.objects.get()
    assert event.status == WebhookStatus.REFUSED and "still accepts the access token" in event.last_error
    kept = ShopifyConnection.objects.get()
    assert (kept.state, kept.access_token, kept.webhook_secret) == ("verified", ACCESS_TOKEN, WEBHOOK_SECRET)
    assert not AuditEvent.objects.filter(action=AuditAction.INTEGRATION_DISCONNECTED).exists()


@pytest.mark.parametrize(
    ("topic", "body"),
    [("products/delete", {"id": PRODUCT_ID}), ("app/uninstalled", shop_body())],
    ids=["products-delete", "app-uninstalled"],
)
def test_a_destructive_delivery_waits_while_shopify_cannot_be_reached(
    deliver, connection, client_a, shopify, settings, django_capture_on_commit_callbacks, topic, body
):
    deliver(connection, "products/create", rest_product())
    settings.TASKS = {"default": {"BACKEND": "django_tasks_db.DatabaseBackend", "QUEUES": ["default"]}}
    if topic == "app/uninstalled":
        shopify.token = "shpat_new_install"  # the delete and the uninstall are real at Shopify…
    shopify.fail_next(503)  # …but Shopify cannot say so now
    response = deliver(connection, topic, body)
    event = WebhookEvent.objects.get(topic=topic)

    with django_capture_on_commit_callbacks(execute=True):
        outcome = process_webhook_event.call(event.pk)

    assert response.status_code == 200 and outcome == WebhookStatus.FAILED
    event.refresh_from_db()
    assert event.next_attempt_at > timezone.now() and "503" in event.last_error
    soon = timezone.now() + timedelta(hours=1)
    retries = [
        task
        for task in DBTaskResult.objects.filter(status="READY")
        if task.args_kwargs["args"] == [event.pk] and timezone.now() < task.run_after < soon
    ]
    assert len(retries) == 1  # queued again, with backoff
    assert live_product(client_a).variants.count() == 2
    assert ShopifyConnection.objects.get().access_token == ACCESS_TOKEN

    assert processing.webhook_process(event.pk).status == WebhookStatus.PROCESSED  # the retry, with Shopify back
    if topic == "products/delete":
        assert live_product(client_a) is None
    else:
        assert ShopifyConnection.objects.get().state == "uninstalled"


# --- rate limits count genuine deliveries only -----------------------------------------------------


def test_unsigned_posts_do_not_spend_the_connections_allowance(deliver, connection, settings, stopped_clock):
    settings.RATE_LIMIT_WEBHOOK = "5/m"
    for _ in range(5):
        assert deliver(connection, "products/update", rest_product(), signature="forged").status_code == 401

    genuine = deliver(connection, "products/update", rest_product())

    assert genuine.status_code == 200
    assert WebhookEvent.objects.count() == 1


def test_failed_verifications_are_limited_per_source_address(deliver, connection, settings, stopped_clock):
    settings.RATE_LIMIT_WEBHOOK_UNVERIFIED = "3/m"
    answers = [
        deliver(connection, "products/update", rest_product(), signature="forged", remote_addr="203.0.113.9")
        for _ in range(4)
    ]

    assert [a.status_code for a in answers] == [401, 401, 401, 429]
    assert answers[-1].json()["error"]["code"] == "RATE_LIMITED" and int(answers[-1]["Retry-After"]) >= 1
    other_address = deliver(connection, "products/update", rest_product(), signature="x", remote_addr="198.51.100.7")
    assert other_address.status_code == 401
    same_address_genuine = deliver(connection, "products/update", rest_product(), remote_addr="203.0.113.9")
    assert same_address_genuine.status_code == 200


def test_an_ipv6_attacker_cannot_rotate_addresses_within_a_64(deliver, connection, settings, stopped_clock):
    settings.RATE_LIMIT_WEBHOOK_UNVERIFIED = "3/m"
    answers = [
        deliver(connection, "products/update", rest_product(), signature="forged", remote_addr=f"2001:db8:1:2::{n:x}")
        for n in range(1, 5)
    ]

    assert [a.status_code for a in answers] == [401, 401, 401, 429]


def test_a_topic_that_does_not_fit_its_body_counts_as_a_failed_verification(
    deliver, connection, settings, stopped_clock
):
    settings.RATE_LIMIT_WEBHOOK = "1/m"
    settings.RATE_LIMIT_WEBHOOK_UNVERIFIED = "2/m"
    forged = [deliver(connection, "products/delete", rest_product()).status_code for _ in range(3)]

    assert forged == [400, 400, 429]
    assert deliver(connection, "products/update", rest_product()).status_code == 200


def test_a_shop_redaction_after_an_uninstall_is_verified_and_applied(deliver, connection, client_a, shopify):
    deliver(connection, "products/create", rest_product())
    shopify.token = "shpat_new_install"
    deliver(connection, "app/uninstalled", shop_body())

    response = deliver(connection, "shop/redact", {"shop_id": 954889, "shop_domain": connection.shop_domain})

    assert response.status_code == 200
    assert WebhookEvent.objects.get(topic="shop/redact").status == WebhookStatus.PROCESSED
    assert live_product(client_a) is None
