"""The integrations admin: secrets never shown, the inbox's payloads viewable and reprocessable."""

import html

import pytest

from accounts.models import AuditAction, AuditEvent
from integrations import processing
from integrations.exotel.credentials import exotel_connection_save
from integrations.models import ExotelConnection, Product, ProductVariant, WebhookEvent, WebhookProvider, WebhookStatus
from integrations.shopify.credentials import shopify_connection_save
from tests import shopify_fake
from tests.exotel_fake import exotel_fixture  # noqa: F401

pytestmark = pytest.mark.django_db

API_TOKEN = "exotel-api-token-9a8b7c6d5e4f"
ACCESS_TOKEN = "shpat_0123456789abcdef0123456789abcdef"


@pytest.fixture
def as_staff(client, staff):
    client.force_login(staff)
    return client


@pytest.fixture
def connections(client_a, alice, exotel, settings):
    """Both connections, saved through the services (checked with the fake Exotel and Shopify)."""
    exotel.api_key, exotel.api_token = "exotel-api-key-0f1e2d3c4b5a", API_TOKEN
    with shopify_fake.serve(settings) as shopify_api:
        shopify_api.token = ACCESS_TOKEN
        connection = exotel_connection_save(
            client=client_a,
            actor=alice,
            account_sid="acmeapparel1",
            api_key="exotel-api-key-0f1e2d3c4b5a",
            api_token=API_TOKEN,
            api_host=exotel.host,
            callback_username="exotel",
            callback_password="callback-pass-12345678",
        )
        shopify = shopify_connection_save(
            client=client_a,
            actor=alice,
            shop_domain="acme-apparel.myshopify.com",
            access_token=ACCESS_TOKEN,
            webhook_secret="shopify-webhook-secret-77aa88bb99cc",
        )
    return connection, shopify


def test_connection_pages_show_which_secrets_are_set_but_never_the_secrets(as_staff, connections):
    exotel, shopify = connections
    pages = [
        as_staff.get("/admin/integrations/exotelconnection/"),
        as_staff.get(f"/admin/integrations/exotelconnection/{exotel.pk}/change/"),
        as_staff.get("/admin/integrations/shopifyconnection/"),
        as_staff.get(f"/admin/integrations/shopifyconnection/{shopify.pk}/change/"),
    ]

    for page in pages:
        assert page.status_code == 200
        body = html.unescape(page.content.decode())
        for secret in (API_TOKEN, "exotel-api-key-0f1e2d3c4b5a", "callback-pass-12345678", ACCESS_TOKEN):
            assert secret not in body
        assert exotel.webhook_token not in body
    exotel_page = html.unescape(pages[1].content.decode())
    assert "api_token: set, ends 5e4f" in exotel_page and "callback_password: set, ends 5678" in exotel_page


def test_staff_cannot_add_or_plainly_delete_connections(as_staff, connections):
    exotel, _ = connections
    assert as_staff.get("/admin/integrations/exotelconnection/add/").status_code == 403
    assert as_staff.get(f"/admin/integrations/exotelconnection/{exotel.pk}/delete/").status_code == 403


def test_the_disconnect_action_is_audited(as_staff, connections, staff):
    exotel, _ = connections

    response = as_staff.post(
        "/admin/integrations/exotelconnection/", {"action": "disconnect", "_selected_action": [exotel.pk]}, follow=True
    )

    assert response.status_code == 200 and "Disconnected 1 connection." in response.content.decode()
    kept = ExotelConnection.objects.get()  # with its callback URLs, for when it is connected again
    assert kept.state == "disconnected" and (kept.api_key, kept.api_token) == ("", "")
    audit = AuditEvent.objects.get(action=AuditAction.INTEGRATION_DISCONNECTED)
    assert audit.actor == staff and audit.metadata["reason"] == "disconnected_by_staff"


def test_webhook_events_are_listed_filtered_and_their_payload_shown(as_staff, client_a):
    event = WebhookEvent.objects.create(
        client=client_a,
        provider=WebhookProvider.EXOTEL,
        dedupe_key=f"{client_a.public_id}:CA42:terminal",
        topic="status-callback",
        body=b"CallSid=CA42&Status=completed&From=<script>",
        status=WebhookStatus.FAILED,
        last_error="ValueError: boom",
    )

    listing = as_staff.get("/admin/integrations/webhookevent/", {"status__exact": "failed", "q": "CA42"})
    assert (
        listing.status_code == 200
        and f"/admin/integrations/webhookevent/{event.pk}/change/" in listing.content.decode()
    )
    empty = as_staff.get("/admin/integrations/webhookevent/", {"status__exact": "processed"})
    assert f"/admin/integrations/webhookevent/{event.pk}/change/" not in empty.content.decode()

    page = as_staff.get(f"/admin/integrations/webhookevent/{event.pk}/change/").content.decode()
    assert "CallSid=CA42&amp;Status=completed&amp;From=&lt;script&gt;" in page  # shown, escaped
    assert "ValueError: boom" in page


def test_an_event_cannot_be_edited_by_hand(as_staff, client_a):
    event = WebhookEvent.objects.create(
        client=client_a, provider=WebhookProvider.EXOTEL, dedupe_key="k", topic="t", body=b"x"
    )

    as_staff.post(f"/admin/integrations/webhookevent/{event.pk}/change/", {"status": "processed"})

    event.refresh_from_db()
    assert event.status == WebhookStatus.RECEIVED


def test_the_reprocess_action_requeues_failed_events(
    as_staff, client_a, staff, monkeypatch, django_capture_on_commit_callbacks
):
    monkeypatch.setitem(processing.HANDLERS, WebhookProvider.EXOTEL, "tests.test_integrations_admin.record_handled")
    HANDLED.clear()
    failed = WebhookEvent.objects.create(
        client=client_a, provider=WebhookProvider.EXOTEL, dedupe_key="a", topic="t", body=b"", status="failed"
    )
    done = WebhookEvent.objects.create(
        client=client_a, provider=WebhookProvider.EXOTEL, dedupe_key="b", topic="t", body=b"", status="processed"
    )

    with django_capture_on_commit_callbacks(execute=True):
        response = as_staff.post(
            "/admin/integrations/webhookevent/",
            {"action": "reprocess", "_selected_action": [failed.pk, done.pk]},
            follow=True,
        )

    assert "Queued 1 event for processing. Skipped 1 already processed." in response.content.decode()
    failed.refresh_from_db()
    assert failed.status == WebhookStatus.PROCESSED and [failed.pk] == HANDLED
    assert AuditEvent.objects.get(action=AuditAction.WEBHOOK_REPROCESSED).actor == staff


HANDLED: list[int] = []


def record_handled(event):
    HANDLED.append(event.pk)
    return WebhookStatus.PROCESSED


def test_products_are_searchable_by_title_and_sku(as_staff, client_a):
    product = Product.objects.create(client=client_a, shopify_id=1, title="Masala chai")
    ProductVariant.objects.create(client=client_a, product=product, shopify_id=2, sku="CHAI-250")

    for term in ("masala", "CHAI-250"):
        page = as_staff.get("/admin/integrations/product/", {"q": term}).content.decode()
        assert f"/admin/integrations/product/{product.pk}/change/" in page
    assert as_staff.get(f"/admin/integrations/product/{product.pk}/change/").status_code == 200
