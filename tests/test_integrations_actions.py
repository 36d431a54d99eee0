"""The connections' actions end to end through the API and the page buttons, against the fake
Exotel and Shopify on 127.0.0.1: test the credentials, sync the catalogue."""

import html

import pytest
from django.test import Client as BrowserClient

from accounts import jwt
from accounts.models import AuditAction, AuditEvent
from integrations.models import CheckStatus, Product
from integrations.shopify.credentials import shopify_connection_save
from tests import shopify_fake
from tests.exotel_fake import exotel_connection_fixture, exotel_fixture  # noqa: F401
from tests.shopify_fake import ACCESS_TOKEN, API_VERSION, SHOP_DOMAIN, WEBHOOK_SECRET, FakeClock

pytestmark = pytest.mark.django_db


@pytest.fixture
def owner_api(api, alice):
    api.credentials(HTTP_AUTHORIZATION=f"Bearer {jwt.family_start(user=alice).access}")
    return api


@pytest.fixture
def shopify(settings, monkeypatch):
    FakeClock().install(monkeypatch)
    with shopify_fake.serve(settings) as fake:
        yield fake


@pytest.fixture
def shopify_connection(client_a, shopify):
    return shopify_connection_save(
        client=client_a,
        actor=None,
        shop_domain=SHOP_DOMAIN,
        access_token=ACCESS_TOKEN,
        webhook_secret=WEBHOOK_SECRET,
        api_version=API_VERSION,
    )


def test_the_exotel_test_endpoint_reports_and_keeps_the_result(owner_api, exotel, exotel_connection):
    response = owner_api.post("/api/v1/integrations/exotel/test")

    assert response.status_code == 200, response.json()
    assert response.json()["data"]["ok"] is True
    detail = owner_api.get("/api/v1/integrations/exotel").json()["data"]
    assert detail["check"]["status"] == CheckStatus.OK and detail["check"]["checked_at"]

    exotel.script(f"/v1/Accounts/{exotel_connection.account_sid}/Calls.json", 401)
    failed = owner_api.post("/api/v1/integrations/exotel/test").json()["data"]
    assert failed == {"ok": False, "message": "Exotel refused the API key and token."}
    assert owner_api.get("/api/v1/integrations/exotel").json()["data"]["check"]["status"] == CheckStatus.FAILED


def test_the_shopify_test_endpoint_reports_the_shop(owner_api, shopify_connection):
    response = owner_api.post("/api/v1/integrations/shopify/test")

    assert response.status_code == 200
    assert response.json()["data"] == {"ok": True, "message": "Connected to Acme Apparel"}


def test_sync_now_brings_the_catalogue_in_and_reports_it(
    owner_api, alice, shopify, shopify_connection, django_capture_on_commit_callbacks
):
    shopify.add_products(45)

    with django_capture_on_commit_callbacks(execute=True):
        response = owner_api.post("/api/v1/integrations/shopify/sync")

    assert response.status_code == 202, response.json()
    assert response.json()["data"]["queued"] is True
    assert Product.objects.for_client(shopify_connection.client).count() == 45
    sync = owner_api.get("/api/v1/integrations/shopify").json()["data"]["sync"]
    assert sync["status"] == "ok" and sync["finished_at"] and sync["counts"]["created"] == 45
    assert AuditEvent.objects.filter(action=AuditAction.PRODUCT_SYNC_REQUESTED, actor=alice).count() == 1
    listed = owner_api.get("/api/v1/products").json()
    assert listed["meta"]["pagination"]["total"] == 45


def test_the_page_buttons_test_and_sync(alice, shopify, shopify_connection, django_capture_on_commit_callbacks):
    shopify.add_products(3)
    page = BrowserClient()
    page.force_login(alice)

    body = html.unescape(page.post("/integrations/shopify/test/", follow=True).content.decode())
    assert "Shopify: Connected to Acme Apparel" in body

    with django_capture_on_commit_callbacks(execute=True):
        body = html.unescape(page.post("/integrations/shopify/sync/", follow=True).content.decode())
    # Connecting queued the first customers sync already; the button says so, or starts one.
    assert "The product sync has started." in body and "customers and orders sync" in body
    body = html.unescape(page.get("/integrations/").content.decode())
    assert "Done" in body and "3 created" in body
    assert "Customers and orders" in body
    products = html.unescape(page.get("/products/").content.decode())
    assert all(f"Product {n:05d}" in products for n in (1, 2, 3))


def test_the_exotel_page_button_says_what_is_wrong(alice, exotel, exotel_connection):
    exotel.script(f"/v1/Accounts/{exotel_connection.account_sid}/Calls.json", 401)
    page = BrowserClient()
    page.force_login(alice)

    body = html.unescape(page.post("/integrations/exotel/test/", follow=True).content.decode())

    assert "Exotel: Exotel refused the API key and token." in body
    assert "Not connected: checking failed" in body and "Connected," not in body
