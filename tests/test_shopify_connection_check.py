"""Checking a Shopify connection against a fake Shopify on 127.0.0.1, and where requests may go."""

import logging
import socket

import pytest

from integrations.models import CheckStatus, ShopifyConnection
from integrations.shopify import client as shopify_client
from integrations.shopify.credentials import shopify_connection_save
from integrations.shopify.services import shopify_connection_check
from tests import shopify_fake
from tests.shopify_fake import ACCESS_TOKEN, API_VERSION, SHOP_DOMAIN, WEBHOOK_SECRET, FakeClock

pytestmark = pytest.mark.django_db


@pytest.fixture
def shopify(settings):
    with shopify_fake.serve(settings) as fake:
        yield fake


@pytest.fixture(autouse=True)
def clock(monkeypatch):
    return FakeClock().install(monkeypatch)


@pytest.fixture
def connection(client_a, shopify):
    """Client A's connection, verified with the fake Shopify as it was saved (that request is forgotten)."""
    connection = shopify_connection_save(
        client=client_a,
        actor=None,
        shop_domain=SHOP_DOMAIN,
        access_token=ACCESS_TOKEN,
        webhook_secret=WEBHOOK_SECRET,
        api_version=API_VERSION,
    )
    shopify.requests.clear()
    return connection


def stored_check(connection):
    connection.refresh_from_db()
    return connection.check_status, connection.check_message


def test_a_working_token_reports_the_shops_name(shopify, connection):
    result = shopify_connection_check(connection=connection)

    assert (result.ok, result.message) == (True, "Connected to Acme Apparel")
    assert stored_check(connection) == (CheckStatus.OK, "Connected to Acme Apparel")
    request = shopify.requests[0]
    assert request["token"] == ACCESS_TOKEN
    assert "shop { name myshopifyDomain }" in request["query"]


@pytest.mark.parametrize(
    ("status", "message"),
    [
        (401, "Shopify refused the access token."),
        (403, "Shopify refused the access token."),
        (404, f"Shopify has no shop at {SHOP_DOMAIN}."),
        (500, "Could not reach Shopify; try again in a few minutes."),
        (503, "Could not reach Shopify; try again in a few minutes."),
        (429, "Could not reach Shopify; try again in a few minutes."),
        (402, f"Shopify says the shop {SHOP_DOMAIN} is frozen or locked (HTTP 402)."),
        (423, f"Shopify says the shop {SHOP_DOMAIN} is frozen or locked (HTTP 423)."),
    ],
)
def test_failures_say_what_went_wrong_without_retrying(shopify, connection, clock, status, message):
    shopify.fail_next(status)

    result = shopify_connection_check(connection=connection)

    assert (result.ok, result.message) == (False, message)
    assert stored_check(connection) == (CheckStatus.FAILED, message)
    assert len(shopify.requests) == 1 and clock.sleeps == []  # an interactive check answers at once


def test_a_wrong_token_is_refused(shopify, connection):
    shopify.token = "shpat_another_token"
    assert shopify_connection_check(connection=connection).message == "Shopify refused the access token."


def test_graphql_errors_are_reported(shopify, connection):
    shopify.fail_next(200, body='{"errors": [{"message": "Access denied for shop field."}]}')
    result = shopify_connection_check(connection=connection)
    assert not result.ok and "Access denied for shop field." in result.message


def test_an_unreachable_shopify_is_reported(connection, settings):
    with socket.socket() as probe:  # a port nothing listens on
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    settings.SHOPIFY_API_BASE_URL_OVERRIDE = f"http://127.0.0.1:{port}"

    result = shopify_connection_check(connection=connection)

    assert (result.ok, result.message) == (False, "Could not reach Shopify; try again in a few minutes.")


def test_the_token_never_reaches_the_logs(shopify, connection, caplog):
    caplog.set_level(logging.DEBUG)
    shopify_connection_check(connection=connection)
    shopify.fail_next(401)
    shopify_connection_check(connection=connection)
    assert ACCESS_TOKEN not in caplog.text


def test_requests_go_to_the_validated_shop_domain_only(connection, settings):
    settings.SHOPIFY_API_BASE_URL_OVERRIDE = ""
    assert shopify_client.api_url(connection) == f"https://{SHOP_DOMAIN}/admin/api/{API_VERSION}/graphql.json"

    for domain in ("evil.example.com", "shop.myshopify.com@evil.example.com", "127.0.0.1", "a.myshopify.com/x"):
        ShopifyConnection.objects.filter(pk=connection.pk).update(shop_domain=domain)  # past the model's validation
        connection.refresh_from_db()
        with pytest.raises(shopify_client.ShopifyError):
            shopify_client.api_url(connection)
        result = shopify_connection_check(connection=connection)
        assert not result.ok and "not valid" in result.message


def test_an_invalid_api_version_never_reaches_the_url(connection):
    ShopifyConnection.objects.filter(pk=connection.pk).update(api_version="../../x")
    connection.refresh_from_db()
    with pytest.raises(shopify_client.ShopifyError):
        shopify_client.api_url(connection)
