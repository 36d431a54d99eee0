"""The integrations page (admins) and the products page, with Django's test client."""

import html

import pytest
from django.test import Client as BrowserClient

from accounts.models import AuditAction, AuditEvent
from accounts.roles import Role
from integrations.models import (
    ExotelConnection,
    Product,
    ProductVariant,
    ShopifyConnection,
    WebhookEvent,
    WebhookProvider,
    WebhookStatus,
)
from integrations.shopify.credentials import shopify_connection_save
from tests.exotel_fake import exotel_connection_fixture, exotel_fixture  # noqa: F401
from tests.factories import UserFactory
from tests.test_integrations_connections import ACCESS_TOKEN, API_KEY, API_TOKEN, providers  # noqa: F401

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def _pages_check_with_the_fakes(providers):  # noqa: F811
    """The pages check credentials with the fake Exotel and Shopify (the connections API's set-up)."""


@pytest.fixture
def exotel_form(exotel) -> dict:
    return {**EXOTEL_FORM, "exotel-api_host": exotel.host}


def text(response) -> str:
    return html.unescape(response.content.decode())


def browser(user) -> BrowserClient:
    client = BrowserClient()
    client.force_login(user)
    return client


EXOTEL_FORM = {
    "exotel-account_sid": "acmeapparel1",
    "exotel-api_key": API_KEY,
    "exotel-api_token": API_TOKEN,
    "exotel-api_host": "api.in.exotel.com",
    "exotel-caller_ids": "+918047112233, +918047112244",
    "exotel-callback_username": "",
    "exotel-callback_password": "",
}
SHOPIFY_FORM = {
    "shopify-shop_domain": "acme-apparel.myshopify.com",
    "shopify-access_token": ACCESS_TOKEN,
    "shopify-webhook_secret": "shopify-webhook-secret-77aa88bb99cc",
    "shopify-api_version": "",
}


def test_an_owner_connects_exotel_and_sees_the_callback_urls_but_never_the_secrets(alice, exotel_form):
    page = browser(alice)

    response = page.post("/integrations/exotel/", exotel_form, follow=True)

    assert response.redirect_chain == [("/integrations/", 302)]
    body = text(response)
    connection = ExotelConnection.objects.get()
    assert connection.caller_ids == ["+918047112233", "+918047112244"]
    assert "Exotel is connected: Exotel accepted the credentials." in body
    assert 'data-status="connected">Connected, checked' in body
    assert f"/{connection.public_id}/{connection.webhook_token}/status-callback" in body
    assert f"/{connection.public_id}/{connection.webhook_token}/passthru" in body
    assert 'data-copy="status-callback-url"' in body
    assert API_TOKEN not in body and "exotel-api-key-0f1e2d3c4b5a" not in body
    assert "Set (ends …5e4f). Leave empty to keep it." in body
    assert AuditEvent.objects.filter(action=AuditAction.INTEGRATION_CONNECTED).count() == 1


def test_saving_with_empty_secrets_keeps_them(alice, exotel_form):
    page = browser(alice)
    page.post("/integrations/exotel/", exotel_form)

    response = page.post(
        "/integrations/exotel/", {**exotel_form, "exotel-api_token": "", "exotel-api_key": ""}, follow=True
    )

    assert response.status_code == 200
    assert ExotelConnection.objects.get().api_token == API_TOKEN


def test_invalid_settings_show_on_the_form_and_change_nothing(alice, exotel_form):
    page = browser(alice)

    response = page.post("/integrations/exotel/", {**exotel_form, "exotel-caller_ids": "12345"})

    assert response.status_code == 400
    assert "is not an E.164 number" in text(response)
    assert not ExotelConnection.objects.exists()

    response = page.post("/integrations/shopify/", {**SHOPIFY_FORM, "shopify-shop_domain": "evil.example.com"})
    assert response.status_code == 400
    assert "Enter the shop's domain" in text(response)
    assert not ShopifyConnection.objects.exists()


def test_an_owner_connects_shopify_and_disconnects_it(alice):
    page = browser(alice)

    body = text(page.post("/integrations/shopify/", SHOPIFY_FORM, follow=True))
    connection = ShopifyConnection.objects.get()
    assert "Shopify is connected:" in body and ACCESS_TOKEN not in body
    assert str(connection.public_id) in body  # the webhook URL
    assert "Sync now" in body

    asked = page.get("/integrations/shopify/disconnect/")
    assert asked.status_code == 200 and "Disconnect Shopify?" in text(asked)
    assert "Products, customers and orders no longer update from the shop" in text(asked)
    unconfirmed = page.post("/integrations/shopify/disconnect/")
    assert unconfirmed.status_code == 400 and "Disconnect Shopify?" in text(unconfirmed)
    assert ShopifyConnection.objects.exists()

    body = text(page.post("/integrations/shopify/disconnect/", {"confirm": "disconnect"}, follow=True))
    assert "Shopify is disconnected." in body
    assert not ShopifyConnection.objects.exists()


def test_new_callback_urls_replace_the_old_ones(alice, exotel_form):
    page = browser(alice)
    page.post("/integrations/exotel/", exotel_form)
    old = ExotelConnection.objects.get().webhook_token

    asked = text(page.get("/integrations/exotel/rotate-token/"))
    assert "Make new callback URLs?" in asked and "The current callback URLs stop working at once" in asked
    assert page.post("/integrations/exotel/rotate-token/").status_code == 400
    assert ExotelConnection.objects.get().webhook_token == old

    body = text(page.post("/integrations/exotel/rotate-token/", {"confirm": "rotate"}, follow=True))

    new = ExotelConnection.objects.get().webhook_token
    assert new != old and new in body and old not in body


def test_actions_without_a_connection_say_so(alice):
    page = browser(alice)

    for path in ("exotel/test", "exotel/rotate-token", "exotel/disconnect", "shopify/test", "shopify/sync"):
        response = page.post(f"/integrations/{path}/", follow=True)
        assert response.status_code == 200
        assert "is not connected." in text(response), path


def test_recent_webhook_deliveries_show_their_outcome(alice, client_a, client_b):
    WebhookEvent.objects.create(
        client=client_a,
        provider=WebhookProvider.EXOTEL,
        dedupe_key=f"{client_a.public_id}:CA1",
        topic="status-callback",
        body=b"",
        status=WebhookStatus.FAILED,
        attempts=3,
        last_error="ValueError: no CallSid",
    )
    WebhookEvent.objects.create(
        client=client_b, provider=WebhookProvider.SHOPIFY, dedupe_key="b:1", topic="products/update", body=b""
    )

    body = text(browser(alice).get("/integrations/"))

    assert "status-callback" in body and "ValueError: no CallSid" in body
    assert "products/update" not in body  # client B's


@pytest.mark.parametrize("role", [Role.AGENT, Role.VIEWER])
def test_agents_and_viewers_cannot_open_or_use_the_integrations_page(client_a, exotel_connection, role, exotel_form):
    token = exotel_connection.api_token
    page = browser(UserFactory(client=client_a, role=role))

    assert page.get("/integrations/").status_code == 403
    assert page.post("/integrations/exotel/disconnect/").status_code == 403
    assert page.post("/integrations/exotel/", exotel_form).status_code == 403
    assert ExotelConnection.objects.get().api_token == token
    assert 'href="/integrations/"' not in text(page.get("/products/"))


def test_signed_out_visitors_are_sent_to_sign_in():
    response = BrowserClient().get("/integrations/")
    assert response.status_code == 302 and response["Location"].startswith("/accounts/login/")


def test_another_clients_owner_cannot_touch_this_clients_connection(client_a, alice, charlie):
    shopify_connection_save(
        client=client_a, actor=alice, shop_domain="acme-apparel.myshopify.com", access_token=ACCESS_TOKEN
    )
    page = browser(charlie)

    assert "acme-apparel.myshopify.com" not in text(page.get("/integrations/"))
    page.post("/integrations/shopify/disconnect/")
    assert ShopifyConnection.objects.filter(client=client_a).exists()


# --- products ----------------------------------------------------------------------------------


def make_product(client, n: int, title: str, sku: str, status: str = "active") -> Product:
    product = Product.objects.create(client=client, shopify_id=1000 + n, title=title, status=status, vendor="Acme")
    ProductVariant.objects.create(client=client, product=product, shopify_id=5000 + n, sku=sku, price="499.00")
    return product


def test_the_products_page_lists_searches_and_filters(alice, client_a, client_b):
    make_product(client_a, 1, "Masala chai", "CHAI-250")
    make_product(client_a, 2, "Green tea", "GREEN-100", status="draft")
    make_product(client_b, 3, "Bolt's secret book", "BOOK-1")
    page = browser(UserFactory(client=client_a, role=Role.VIEWER))

    body = text(page.get("/products/"))
    assert "Masala chai" in body and "Green tea" in body and "CHAI-250" in body and "₹499.00" in body
    assert "secret book" not in body

    body = text(page.get("/products/?q=masala"))
    assert "Masala chai" in body and "Green tea" not in body
    body = text(page.get("/products/?q=GREEN-100"))
    assert "Green tea" in body and "Masala chai" not in body
    body = text(page.get("/products/?status=draft"))
    assert "Green tea" in body and "Masala chai" not in body
    assert "No products match this search." in text(page.get("/products/?q=nothing-like-this"))


def test_the_products_page_pages_and_refuses_bad_pages(alice, client_a):
    for n in range(55):
        make_product(client_a, n, f"Tea {n:02d}", f"TEA-{n:02d}")
    page = browser(alice)

    first = text(page.get("/products/"))
    assert "Tea 00" in first and "Tea 50" not in first and "page 1 of 2" in first
    second = text(page.get("/products/?page=2"))
    assert "Tea 54" in second and "Tea 00" not in second
    assert page.get("/products/?page=3").status_code == 400
    assert page.get("/products/?page=abc").status_code == 400
    assert page.get("/products/?status=bogus").status_code == 400


def test_the_products_page_says_how_to_get_products(alice):
    assert "Connect Shopify on the Integrations page" in text(browser(alice).get("/products/"))


def test_only_owners_see_the_link_to_customer_data_requests(alice, client_a):
    browser(alice).post("/integrations/shopify/", SHOPIFY_FORM)
    admin = UserFactory(client=client_a, role=Role.ADMIN)

    assert "/integrations/privacy/" in text(browser(alice).get("/integrations/"))
    assert "/integrations/privacy/" not in text(browser(admin).get("/integrations/"))
