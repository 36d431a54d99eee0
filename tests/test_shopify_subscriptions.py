"""Webhook subscriptions through the Admin API (the fake Shopify on 127.0.0.1): created when a verified
connection is saved, idempotent, pointed again when the address changes, failures kept on the connection
and retried, deleted on disconnect (best-effort), forgotten on uninstall."""

import pytest

from integrations import services as integration_services
from integrations.models import ShopifyConnection
from integrations.shopify import subscriptions, tasks
from integrations.shopify.credentials import shopify_connection_save
from integrations.shopify.services import shopify_uninstall_apply, shopify_webhook_url
from tests import shopify_fake
from tests.factories import ShopifyConnectionFactory
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
    connection = ShopifyConnectionFactory(client=client_a, shop_domain=SHOP_DOMAIN, access_token=ACCESS_TOKEN)
    return ShopifyConnection.objects.select_related("client").get(pk=connection.pk)


def test_saving_a_verified_connection_subscribes_every_topic_to_its_url(
    client_a, shopify, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        connection = shopify_connection_save(
            client=client_a,
            actor=None,
            shop_domain=SHOP_DOMAIN,
            access_token=ACCESS_TOKEN,
            webhook_secret=WEBHOOK_SECRET,
            api_version=API_VERSION,
        )

    connection.refresh_from_db()
    url = shopify_webhook_url(connection=connection)
    assert {sub["topic"] for sub in shopify.subscriptions.values()} == {
        subscriptions.topic_enum(topic) for topic in subscriptions.TOPICS
    }
    assert {sub["uri"] for sub in shopify.subscriptions.values()} == {url}
    assert set(connection.webhook_subscriptions) == set(subscriptions.TOPICS)
    assert set(connection.webhook_subscriptions.values()) == set(shopify.subscriptions)
    assert connection.webhook_subscriptions_error == ""
    assert not any("DATA_REQUEST" in sub["topic"] or "REDACT" in sub["topic"] for sub in shopify.subscriptions.values())
    assert connection.customers_sync_status in ("ok", "running")  # the first customers sync was queued too


def test_ensuring_twice_creates_nothing_more(connection, shopify):
    first = subscriptions.subscriptions_ensure(connection=connection)
    created = [r for r in shopify.requests if "webhookSubscriptionCreate" in r["query"]]

    second = subscriptions.subscriptions_ensure(connection=connection)

    assert first == second and len(shopify.subscriptions) == len(subscriptions.TOPICS)
    assert len([r for r in shopify.requests if "webhookSubscriptionCreate" in r["query"]]) == len(created)


def test_subscriptions_to_an_old_address_are_replaced(connection, shopify, settings):
    subscriptions.subscriptions_ensure(connection=connection)
    old = set(shopify.subscriptions)
    settings.SITE_URL = "https://calls.example.com"

    subscriptions.subscriptions_ensure(connection=connection)

    assert not old & set(shopify.subscriptions) and len(shopify.subscriptions) == len(subscriptions.TOPICS)
    assert {sub["uri"] for sub in shopify.subscriptions.values()} == {shopify_webhook_url(connection=connection)}


def test_a_refusal_is_kept_on_the_connection_and_retried_until_it_works(connection, shopify):
    shopify.subscription_error = "Missing access scope read_customers"

    with pytest.raises(subscriptions.shopify.ShopifyError):  # the task fails visibly; earlier attempts requeue
        tasks.subscribe_webhooks.call(connection.pk, tasks.SUBSCRIBE_ATTEMPTS)

    connection.refresh_from_db()
    assert "read_customers" in connection.webhook_subscriptions_error
    shopify.subscription_error = None

    tasks.subscribe_webhooks.call(connection.pk)

    connection.refresh_from_db()
    assert connection.webhook_subscriptions_error == ""
    assert set(connection.webhook_subscriptions) == set(subscriptions.TOPICS)


def test_shopify_unreachable_is_kept_and_raises_for_the_retry(connection, shopify):
    shopify.fail_next(503, times=50)

    with pytest.raises(subscriptions.shopify.ShopifyError):
        subscriptions.subscriptions_ensure(connection=connection)

    connection.refresh_from_db()
    assert "Could not reach Shopify" in connection.webhook_subscriptions_error


def test_disconnecting_deletes_the_subscriptions_best_effort(connection, shopify):
    subscriptions.subscriptions_ensure(connection=connection)
    connection.refresh_from_db()

    integration_services.connection_disconnect(connection=connection, actor=None)

    assert shopify.subscriptions == {}
    assert not ShopifyConnection.objects.filter(pk=connection.pk).exists()


def test_disconnecting_when_shopify_is_down_still_disconnects(connection, shopify):
    subscriptions.subscriptions_ensure(connection=connection)
    connection.refresh_from_db()
    shopify.fail_next(503, times=50)

    integration_services.connection_disconnect(connection=connection, actor=None)

    assert not ShopifyConnection.objects.filter(pk=connection.pk).exists()


def test_an_uninstall_forgets_them_and_no_task_subscribes_an_uninstalled_store(connection, shopify):
    subscriptions.subscriptions_ensure(connection=connection)
    shopify_uninstall_apply(connection=connection, reason="app/uninstalled")
    shopify.subscriptions.clear()  # what Shopify does on uninstall

    assert tasks.subscribe_webhooks.call(connection.pk) is None

    connection.refresh_from_db()
    assert connection.webhook_subscriptions == {} and shopify.subscriptions == {}
