"""The full product sync against a fake Shopify on 127.0.0.1: pages, upserts, deletions, throttling,
retries, failures that delete nothing, the sync request guard and the management command."""

import logging
import math
from datetime import timedelta

import pytest
from django.core.management import CommandError, call_command
from django.db import connection as db
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from accounts.models import AuditAction, AuditEvent
from integrations.models import Product, ProductVariant, ShopifyConnection
from integrations.shopify import catalogue, services, sync
from integrations.shopify import client as shopify_client
from integrations.shopify.credentials import shopify_connection_save
from tests import shopify_fake
from tests.shopify_fake import ACCESS_TOKEN, API_VERSION, SHOP_DOMAIN, WEBHOOK_SECRET, FakeClock, variant_node

pytestmark = pytest.mark.django_db


@pytest.fixture
def shopify(settings):
    with shopify_fake.serve(settings) as fake:
        yield fake


@pytest.fixture(autouse=True)
def clock(monkeypatch):
    """No test ever really waits: the client's sleeps advance a fake clock and are recorded."""
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


def run_sync(connection):
    started = services.shopify_sync_begin(connection=connection, actor=None, source="test")
    assert started is not None
    return sync.products_sync(connection=connection, started=started)


def titles(client):
    return set(Product.objects.for_client(client).filter(deleted_at__isnull=True).values_list("title", flat=True))


def test_it_pages_every_product_in_queries_per_page_not_per_product(shopify, connection, client_a):
    shopify.add_products(600, variants=2)

    with CaptureQueriesContext(db) as queries:
        result = run_sync(connection)

    pages = math.ceil(600 / sync.PRODUCTS_PER_PAGE)
    assert result.ok, result.error
    assert result.counts == {"created": 600, "updated": 0, "deleted": 0, "variants": 1200}
    assert len(shopify.page_requests()) == pages > 3
    assert len(queries) <= 8 * pages + 12  # a handful per page, never one per product
    assert Product.objects.for_client(client_a).count() == 600
    assert ProductVariant.objects.for_client(client_a).count() == 1200
    connection.refresh_from_db()
    assert connection.last_sync_status == "ok"
    assert connection.last_sync_counts == result.counts
    assert connection.last_sync_at is not None and connection.last_sync_error == ""


def test_every_page_stays_within_shopifys_query_cost_limit(shopify, connection):
    shopify.add_products(3)
    run_sync(connection)
    request = shopify.page_requests()[0]
    assert request["variables"]["first"] == sync.PRODUCTS_PER_PAGE
    assert request["cost"] == sync.PAGE_COST <= 1000
    assert request["token"] == ACCESS_TOKEN


def test_it_stores_products_and_variants_as_shopify_describes_them(shopify, connection, client_a):
    shopify.add_products(
        1,
        start=7_001_234_567_890,
        title="  Indigo Kurta ",
        status="DRAFT",
        tags=["women", "women", " sale "],
        description="Hand block-printed.\n\nMachine wash.",
        updatedAt="2026-02-01T10:00:00+05:30",
        mediaCount=4,
    )
    shopify.products[7_001_234_567_890]["variants"][0].update(compareAtPrice="599.00", barcode=None, price="449.5")

    assert run_sync(connection).ok
    product = Product.objects.for_client(client_a).get()
    assert (product.shopify_id, product.title, product.status) == (7_001_234_567_890, "Indigo Kurta", "draft")
    assert product.tags == ["women", "sale"]
    assert product.description == "Hand block-printed.\n\nMachine wash."
    assert product.images_count == 4
    assert product.shopify_updated_at.isoformat() == "2026-02-01T04:30:00+00:00"
    variant = product.variants.order_by("shopify_id").first()
    assert (str(variant.price), str(variant.compare_at_price), variant.barcode) == ("449.50", "599.00", "")


def test_a_second_sync_updates_creates_and_deletes(shopify, connection, client_a):
    ids = shopify.add_products(100, variants=3)
    assert run_sync(connection).ok
    for shopify_id in ids[:5]:
        shopify.products[shopify_id]["title"] = f"Renamed {shopify_id}"
    for shopify_id in ids[90:]:
        del shopify.products[shopify_id]
    shopify.products[ids[0]]["variants"] = [variant_node(ids[0], 0, price="10.00"), variant_node(ids[0], 7)]
    shopify.add_products(3, start=500)

    result = run_sync(connection)

    assert result.counts == {"created": 3, "updated": 90, "deleted": 10, "variants": 3 * 2 + 89 * 3 + 2}
    assert {f"Renamed {i}" for i in ids[:5]} <= titles(client_a)
    assert Product.objects.for_client(client_a).count() == 93
    assert not Product.objects.filter(shopify_id__in=ids[90:]).exists()
    assert not ProductVariant.objects.filter(product__shopify_id__in=ids[90:]).exists()
    first = Product.objects.get(shopify_id=ids[0])
    assert {(v.shopify_id, str(v.price)) for v in first.variants.all()} == {
        (ids[0] * 1000, "10.00"),
        (ids[0] * 1000 + 7, "499.00"),
    }


def test_it_fetches_the_rest_of_a_product_with_many_variants(shopify, connection, client_a):
    shopify.add_products(2, variants=3)
    shopify.add_products(1, start=50, variants=sync.VARIANTS_PER_PRODUCT + 260)

    result = run_sync(connection)

    assert result.ok, result.error
    assert ProductVariant.objects.filter(product__shopify_id=50).count() == sync.VARIANTS_PER_PRODUCT + 260
    follow_ups = [r for r in shopify.requests if "product(id:" in r["query"]]
    assert [r["variables"]["id"] for r in follow_ups] == ["gid://shopify/Product/50"] * 2
    assert all(r["cost"] <= 1000 for r in shopify.requests)


def test_it_keeps_newer_data_than_the_page_it_reads(shopify, connection, client_a):
    shopify.add_products(2)
    run_sync(connection)
    newer = timezone.now() + timedelta(days=1)  # a webhook wrote a later version meanwhile
    Product.objects.filter(shopify_id=1).update(title="From a newer webhook", shopify_updated_at=newer)

    result = run_sync(connection)

    assert result.ok and result.counts["deleted"] == 0
    assert Product.objects.get(shopify_id=1).title == "From a newer webhook"


def test_it_revives_an_old_tombstone_but_not_one_newer_than_the_sync(shopify, connection, client_a):
    shopify.add_products(2)
    run_sync(connection)
    Product.objects.filter(shopify_id=1).update(deleted_at=timezone.now() - timedelta(hours=2))
    Product.objects.filter(shopify_id=2).update(deleted_at=timezone.now() + timedelta(minutes=5))
    ProductVariant.objects.all().delete()

    run_sync(connection)

    assert Product.objects.get(shopify_id=1).deleted_at is None
    assert Product.objects.get(shopify_id=2).deleted_at is not None
    assert titles(client_a) == {"Product 00001"}


def test_it_purges_old_tombstones_only(shopify, connection, client_a):
    Product.objects.create(client=client_a, shopify_id=77, title="", deleted_at=timezone.now() - timedelta(days=8))
    Product.objects.create(client=client_a, shopify_id=78, title="", deleted_at=timezone.now() - timedelta(days=1))
    assert run_sync(connection).counts["deleted"] == 0
    assert list(Product.objects.values_list("shopify_id", flat=True)) == [78]


def test_a_sync_deletes_only_its_own_clients_products(shopify, connection, client_a, client_b):
    Product.objects.create(client=client_b, shopify_id=5, title="B's own")
    shopify.add_products(1)
    assert run_sync(connection).counts["deleted"] == 0
    assert Product.objects.for_client(client_b).get().title == "B's own"


@pytest.mark.parametrize(
    ("trouble", "message"),
    [
        (lambda fake: fake.fail_next(500, times=shopify_client.HTTP_ATTEMPTS), "Could not reach Shopify"),
        (lambda fake: fake.fail_next(401), "Shopify refused the access token."),
        (lambda fake: fake.fail_next(200, body='{"errors": [{"message": "Access denied"}]}'), "Access denied"),
        (lambda fake: fake.fail_next(200, body="<html>"), "not JSON"),
        (lambda fake: fake.throttle_next(available=0, times=shopify_client.THROTTLE_RETRIES + 1), "throttling"),
    ],
)
def test_a_failed_sync_deletes_nothing_and_says_why(shopify, connection, client_a, trouble, message):
    shopify.add_products(100)
    assert run_sync(connection).ok
    for shopify_id in range(1, 101):
        if shopify_id > 50:
            del shopify.products[shopify_id]
    shopify.products[1]["title"] = "Renamed before the failure"
    shopify.pass_next(1)  # the first page arrives, the second fails
    trouble(shopify)

    result = run_sync(connection)

    assert not result.ok and message in result.error
    assert Product.objects.get(shopify_id=1).title == "Renamed before the failure"
    assert Product.objects.for_client(client_a).count() == 100
    assert ProductVariant.objects.for_client(client_a).count() == 200
    connection.refresh_from_db()
    assert connection.last_sync_status == "failed"
    assert message in connection.last_sync_error
    assert connection.last_sync_counts == {
        "created": 0,
        "updated": sync.PRODUCTS_PER_PAGE,
        "deleted": 0,
        "variants": 2 * sync.PRODUCTS_PER_PAGE,
    }


def test_it_waits_for_the_cost_bucket_before_each_page(shopify, connection, clock):
    shopify.add_products(sync.PRODUCTS_PER_PAGE * 2 + 1)
    shopify.bucket.update(currentlyAvailable=100.0, restoreRate=50.0)

    assert run_sync(connection).ok

    expected = (sync.PAGE_COST - 100) / 50  # the points missing, at the restore rate
    assert clock.sleeps == [pytest.approx(expected)] * 2
    assert len(shopify.page_requests()) == 3


def test_it_counts_the_bucket_refilling_while_it_worked(shopify, connection, clock, monkeypatch):
    shopify.add_products(sync.PRODUCTS_PER_PAGE + 1)
    shopify.bucket.update(currentlyAvailable=100.0, restoreRate=50.0)
    real_upsert = catalogue.products_upsert

    def slow_upsert(**kwargs):
        clock.now += 10  # writing the page took 10 s: 500 points came back meanwhile
        return real_upsert(**kwargs)

    monkeypatch.setattr(catalogue, "products_upsert", slow_upsert)
    assert run_sync(connection).ok
    assert clock.sleeps == [pytest.approx((sync.PAGE_COST - 100 - 500) / 50)]


def test_it_waits_out_a_throttled_answer_and_retries(shopify, connection, clock, client_a):
    shopify.add_products(5)
    shopify.throttle_next(available=78.0, restore_rate=100.0)

    result = run_sync(connection)

    assert result.ok and result.counts["created"] == 5
    assert clock.sleeps == [pytest.approx((sync.PAGE_COST - 78) / 100)]
    assert len(shopify.page_requests()) == 2


def test_its_throttle_waits_are_bounded(shopify, connection, clock):
    shopify.add_products(5)  # Shopify would take 978 s to refill; the client waits at most a minute
    shopify.throttle_next(available=0, restore_rate=1.0)
    assert run_sync(connection).ok
    assert clock.sleeps == [shopify_client.THROTTLE_MAX_WAIT_SECONDS]


def test_it_retries_server_errors_and_429_with_backoff(shopify, connection, clock):
    shopify.add_products(5)
    shopify.fail_next(502, times=2)
    shopify.fail_next(429, headers={"Retry-After": "7"})

    assert run_sync(connection).ok
    assert clock.sleeps == [1.0, 2.0, 7.0]


def test_it_never_logs_the_access_token(shopify, connection, caplog):
    caplog.set_level(logging.DEBUG)
    shopify.add_products(3)
    shopify.fail_next(503)
    run_sync(connection)
    shopify.fail_next(401)
    run_sync(connection)
    assert caplog.records
    assert ACCESS_TOKEN not in caplog.text
    assert WEBHOOK_SECRET not in caplog.text


def test_a_connection_removed_during_a_sync_stops_it(shopify, connection, client_a, monkeypatch):
    shopify.add_products(sync.PRODUCTS_PER_PAGE + 5)
    real_pages = sync.product_pages

    def pages_then_disconnect(api):
        for n, page in enumerate(real_pages(api)):
            if n == 1:
                ShopifyConnection.objects.filter(pk=connection.pk).delete()
            yield page

    monkeypatch.setattr(sync, "product_pages", pages_then_disconnect)
    result = run_sync(connection)
    assert not result.ok and "disconnected" in result.error
    assert Product.objects.for_client(client_a).count() == sync.PRODUCTS_PER_PAGE


# --- requesting a sync ---------------------------------------------------------------------------


def test_a_request_marks_the_sync_running_audits_it_and_queues_it(
    shopify, connection, alice, client_a, django_capture_on_commit_callbacks
):
    shopify.add_products(3)
    with django_capture_on_commit_callbacks(execute=False) as queued:
        assert services.shopify_sync_request(connection=connection, actor=alice) is True

    connection.refresh_from_db()
    assert connection.last_sync_status == "running" and connection.last_sync_started_at is not None
    assert len(queued) == 1
    event = AuditEvent.objects.get(action=AuditAction.PRODUCT_SYNC_REQUESTED)
    assert (event.client, event.actor, event.metadata["queued"]) == (client_a, alice, True)

    queued[0]()  # the worker runs it
    connection.refresh_from_db()
    assert connection.last_sync_status == "ok"
    assert Product.objects.for_client(client_a).count() == 3


def test_a_request_while_a_sync_runs_queues_nothing(connection, alice, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=False) as queued:
        assert services.shopify_sync_request(connection=connection, actor=alice) is True
        assert services.shopify_sync_request(connection=connection, actor=alice) is False
    assert len(queued) == 1
    audited = AuditEvent.objects.filter(action=AuditAction.PRODUCT_SYNC_REQUESTED).order_by("pk")
    assert [e.metadata["queued"] for e in audited] == [True, False]


def test_a_sync_running_for_over_an_hour_counts_as_dead(connection, alice, django_capture_on_commit_callbacks):
    ShopifyConnection.objects.filter(pk=connection.pk).update(
        last_sync_status="running", last_sync_started_at=timezone.now() - timedelta(hours=2)
    )
    with django_capture_on_commit_callbacks(execute=False) as queued:
        assert services.shopify_sync_request(connection=connection, actor=alice) is True
    assert len(queued) == 1


def test_an_outdated_run_does_not_overwrite_a_newer_runs_state(shopify, connection):
    shopify.add_products(1)
    old_start = services.shopify_sync_begin(connection=connection, actor=None, source="test") - timedelta(hours=2)
    ShopifyConnection.objects.filter(pk=connection.pk).update(last_sync_started_at=old_start)  # presumed dead
    newer_start = services.shopify_sync_begin(connection=connection, actor=None, source="test")

    sync.products_sync(connection=connection, started=old_start)

    connection.refresh_from_db()
    assert (connection.last_sync_status, connection.last_sync_started_at) == ("running", newer_start)


@pytest.mark.django_db(transaction=True)
def test_the_task_runs_a_requested_sync_through_the_database_queue(shopify, connection, alice, settings, client_a):
    from django.db import transaction

    settings.TASKS = {"default": {"BACKEND": "django_tasks_db.DatabaseBackend", "QUEUES": ["default"]}}
    shopify.add_products(4)
    with transaction.atomic():
        assert services.shopify_sync_request(connection=connection, actor=alice)
    call_command("db_worker", "--batch", "--no-startup-delay", verbosity=0)

    connection.refresh_from_db()
    assert connection.last_sync_status == "ok"
    assert Product.objects.for_client(client_a).count() == 4


def test_the_task_leaves_a_sync_nobody_requested_alone(shopify, connection):
    from integrations.shopify.tasks import sync_products

    assert sync_products.call(connection.pk) is None
    assert sync_products.call(10**9) is None
    assert shopify.requests == []


# --- the management command ----------------------------------------------------------------------


def test_the_command_syncs_in_the_foreground_and_prints_counts(shopify, connection, client_a, capsys):
    shopify.add_products(45, variants=2)
    call_command("shopify_sync", "--client", client_a.slug)
    out = capsys.readouterr().out
    assert "45 created, 0 updated, 0 deleted, 90 variants" in out
    assert Product.objects.for_client(client_a).count() == 45


def test_the_command_fails_loudly(shopify, connection, client_a, client_b):
    shopify.add_products(3)
    shopify.fail_next(401)
    with pytest.raises(CommandError, match="refused the access token"):
        call_command("shopify_sync", "--client", client_a.slug)
    with pytest.raises(CommandError, match="No client 'bolt-books' with a Shopify connection"):
        call_command("shopify_sync", "--client", client_b.slug)
    services.shopify_sync_begin(connection=connection, actor=None, source="test")
    with pytest.raises(CommandError, match="already running"):
        call_command("shopify_sync", "--client", client_a.slug)
