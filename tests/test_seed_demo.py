"""`seed_demo`: realistic demo calls with real WAV recordings, valid rows, and nothing twice."""

import hashlib
import io
import wave
import zoneinfo
from collections import Counter
from datetime import UTC, datetime, timedelta

import pytest
from django.core.management import call_command
from django.db import connection
from django.test import Client as BrowserClient
from django.test.utils import CaptureQueriesContext
from rest_framework.test import APIClient

from accounts.models import Client, User
from integrations.models import CallCustomer, Product, ProductVariant, ShopifyCustomer, ShopifyOrder, ShopifyPhone
from recordings import demo
from recordings.models import Call, Recording
from tests.factories import ClientFactory
from tests.test_recordings_explain import _explain, _summary

pytestmark = pytest.mark.django_db


@pytest.fixture
def media(settings, tmp_path):
    settings.DEBUG = True
    settings.STORAGES = {
        **settings.STORAGES,
        "default": {
            "BACKEND": "django.core.files.storage.FileSystemStorage",
            "OPTIONS": {"location": str(tmp_path), "allow_overwrite": True},
        },
    }
    return tmp_path


def seed(*args) -> str:
    out = io.StringIO()
    call_command("seed_demo", *args, stdout=out)
    return out.getvalue()


def demo_client() -> Client:
    return Client.objects.get(slug="demo-store")


def stored_files(media) -> list:
    return sorted(path for path in media.rglob("*") if path.is_file())


def test_it_seeds_calls_and_recordings_for_the_demo_client(media):
    out = seed("--calls", "120")

    calls = Call.objects.for_client(demo_client())
    assert calls.count() == 120
    assert "created 120, 0 already there" in out
    recordings = Recording.objects.for_client(demo_client()).select_related("call")
    assert recordings.count() == demo.RECORDINGS_WANTED
    assert {r.status for r in recordings} == {"stored"}
    assert {r.call.status for r in recordings} == {"completed"}
    assert stored_files(media) == sorted(media / r.storage_key for r in recordings)
    assert set(calls.filter(has_recording=True)) == {r.call for r in recordings}
    assert out.strip().splitlines()[-5].startswith("  staff:")  # the logins stay last


def test_every_seeded_call_passes_full_clean(media):
    seed("--calls", "300", "--no-audio")

    calls = list(Call.objects.for_client(demo_client()))
    assert len(calls) == 300
    for call in calls:
        call.full_clean()
        assert call.from_number.startswith("+91") and call.to_number.startswith("+91")
        assert (call.direction == "inbound") == (call.to_number in demo.STORE_NUMBERS)
        assert (call.answered_at is not None) == (call.status in ("completed", "in-progress"))
        if call.status == "completed":
            assert call.started_at < call.answered_at < call.ended_at and call.duration_seconds > 0
            assert call.ended_at - call.answered_at == timedelta(seconds=call.duration_seconds)
        else:
            assert call.duration_seconds == 0 and not call.is_resolved
            assert call.customer_satisfaction is None and call.notes == ""
            assert call.ended_at is None or call.ended_at >= call.started_at


def test_the_generator_spreads_a_realistic_mix_over_ninety_days():
    client = ClientFactory.build(slug="mix-store", timezone="Asia/Kolkata")
    now = datetime(2026, 3, 18, 9, 30, tzinfo=UTC)  # 15:00 in Kolkata

    calls = list(demo.demo_calls(client=client, count=3000, now=now))

    assert [c.provider_call_id for c in calls] == [f"demo-{n}" for n in range(3000)]
    starts = [c.started_at for c in calls]
    assert starts == sorted(starts) and now - timedelta(days=90) < starts[0] and starts[-1] < now
    assert len({c.started_at.astimezone(zoneinfo.ZoneInfo("Asia/Kolkata")).date() for c in calls}) == 90
    statuses = Counter(c.status for c in calls)
    assert 0.68 < statuses["completed"] / 3000 < 0.80
    assert all(statuses[s] > 60 for s in ("no-answer", "busy", "failed"))
    assert 0.6 < sum(c.direction == "inbound" for c in calls) / 3000 < 0.7
    completed = [c for c in calls if c.status == "completed"]
    assert 0.5 < sum(c.is_resolved for c in completed) / len(completed) < 0.7
    assert 0.25 < sum(c.customer_satisfaction is not None for c in completed) / len(completed) < 0.45
    assert 0.35 < sum(bool(c.notes) for c in completed) / len(completed) < 0.55
    assert len({c.from_number for c in calls if c.direction == "inbound"}) < 1000  # customers call back

    again = list(demo.demo_calls(client=client, count=3000, now=now + timedelta(days=1)))
    assert [(c.status, c.from_number, c.duration_seconds) for c in again[:2900]] == [
        (c.status, c.from_number, c.duration_seconds) for c in calls[:2900]
    ]


def test_running_twice_does_not_duplicate(media):
    seed("--calls", "120")
    calls = set(Call.objects.values_list("public_id", flat=True))
    recordings = set(Recording.objects.values_list("public_id", "sha256"))
    files = stored_files(media)

    out = seed("--calls", "120")

    assert "created 0, 120 already there" in out
    assert "stored 0 new" in out
    assert set(Call.objects.values_list("public_id", flat=True)) == calls
    assert set(Recording.objects.values_list("public_id", "sha256")) == recordings
    assert stored_files(media) == files
    assert Client.objects.filter(slug__startswith="demo-store").count() == 1

    seed("--calls", "150", "--no-audio")  # a larger count adds the missing calls only
    assert Call.objects.count() == 150
    assert calls < set(Call.objects.values_list("public_id", flat=True))


def test_the_recordings_are_valid_wav_files(media):
    seed("--calls", "120")

    for recording in Recording.objects.all():
        path = media / recording.storage_key
        assert path.suffix == ".wav" and recording.content_type == "audio/wav"
        with wave.open(str(path), "rb") as wav:
            assert (wav.getnchannels(), wav.getsampwidth(), wav.getframerate()) == (1, 2, 8000)
            assert wav.getnframes() == recording.duration_seconds * 8000
            assert 3 <= recording.duration_seconds <= 6
            frames = wav.readframes(wav.getnframes())
        assert any(frames)  # tones, not silence
        assert path.stat().st_size == recording.size_bytes
        assert hashlib.sha256(path.read_bytes()).hexdigest() == recording.sha256


def test_no_audio_stores_no_recordings(media):
    seed("--calls", "60", "--no-audio")

    assert Call.objects.count() == 60
    assert not Recording.objects.exists()
    assert not Call.objects.filter(has_recording=True).exists()
    assert stored_files(media) == []


def test_it_adds_extra_clients_with_a_tenth_of_the_calls(media):
    seed("--calls", "50", "--clients", "2", "--no-audio")

    counts = {client.slug: Call.objects.for_client(client).count() for client in Client.objects.all()}
    assert counts == {"demo-store": 50, "demo-store-2": 5, "demo-store-3": 5}


def test_other_calls_splits_a_total_over_the_extra_clients(media):
    seed("--calls", "40", "--clients", "3", "--other-calls", "100", "--no-audio", "--products", "0")

    counts = {client.slug: Call.objects.for_client(client).count() for client in Client.objects.all()}
    assert counts == {"demo-store": 40, "demo-store-2": 34, "demo-store-3": 33, "demo-store-4": 33}


def test_recording_rows_give_every_completed_call_a_stored_recording_sharing_a_few_objects(media):
    out = seed("--calls", "200", "--clients", "1", "--no-audio", "--products", "0", "--recording-rows")

    for client in Client.objects.all():
        completed = Call.objects.for_client(client).filter(status="completed")
        recordings = Recording.objects.for_client(client).select_related("call")
        assert recordings.count() == completed.count() > 0
        assert {r.status for r in recordings} == {"stored"}
        assert set(completed.filter(has_recording=True)) == set(completed) == {r.call for r in recordings}
        assert not Call.objects.for_client(client).exclude(status="completed").filter(has_recording=True).exists()
        assert all(r.started_at == r.call.started_at for r in recordings)
        keys = {r.storage_key for r in recordings}
        assert len(keys) == demo.SHARED_SAMPLES and all(
            key.startswith(f"recordings/{client.public_id}/") for key in keys
        )
        for recording in recordings:  # every row points at a real object with the size and sha256 it claims
            data = (media / recording.storage_key).read_bytes()
            assert (len(data), hashlib.sha256(data).hexdigest()) == (recording.size_bytes, recording.sha256)
    assert len(stored_files(media)) == 2 * demo.SHARED_SAMPLES
    assert "stored recording rows sharing sample objects" in out

    again = seed("--calls", "200", "--clients", "1", "--no-audio", "--products", "0", "--recording-rows")
    assert "added 0 stored recording rows" in again
    assert len(stored_files(media)) == 2 * demo.SHARED_SAMPLES


def test_every_demo_client_gets_products_once(media):
    out = seed("--calls", "10", "--clients", "1", "--products", "12", "--no-audio")

    assert "Products: created 24 for 2 client(s), 12 each." in out
    for client in Client.objects.all():
        assert Product.objects.for_client(client).count() == 12
        assert ProductVariant.objects.for_client(client).exists()
    assert "Products: created 0 for 2 client(s)" in seed("--calls", "10", "--clients", "1", "--products", "12")


@pytest.mark.postgres  # SQLite takes at most 999 parameters a statement, so Django splits each batch further
def test_it_inserts_in_batches_of_five_thousand(media, django_assert_max_num_queries):
    client = ClientFactory()
    with django_assert_max_num_queries(8):  # per batch: one lookup of existing ids, one insert
        created, existing = demo.calls_seed(client=client, count=12_000)
    assert (created, existing) == (12_000, 0)
    assert demo.calls_seed(client=client, count=12_000) == (0, 12_000)


@pytest.mark.postgres
def test_a_cursor_page_right_after_seeding_walks_the_index(media):
    """Without fresh statistics PostgreSQL guesses a few hundred rows for the client and sorts them all."""
    seed("--calls", "20000", "--no-audio", "--products", "0")
    owner = User.objects.get(email="owner@demo-store.caly.local")
    api = APIClient()
    api.force_authenticate(owner)
    first = api.get("/api/v1/calls", {"limit": 1000}).json()

    with CaptureQueriesContext(connection) as queries:
        response = api.get("/api/v1/calls", {"limit": 1000, "cursor": first["meta"]["pagination"]["next_cursor"]})
    assert response.status_code == 200 and len(response.json()["data"]) == 1000
    [sql] = [q["sql"] for q in queries.captured_queries if 'FROM "recordings_call"' in q["sql"] and "LIMIT" in q["sql"]]

    nodes = _explain(sql)
    assert not [n for n in nodes if n["Node Type"] in ("Sort", "Incremental Sort", "Seq Scan")], _summary(nodes)
    assert any(n.get("Index Name", "").startswith("rec_") for n in nodes), _summary(nodes)


# --- Shopify customers and orders ------------------------------------------------------------------


def demo_links(client) -> Counter:
    return Counter(CallCustomer.objects.for_client(client).values_list("match", flat=True))


def test_most_demo_calls_have_a_shopify_customer(media):
    out = seed("--calls", "300", "--no-audio")

    client = demo_client()
    calls = Call.objects.for_client(client)
    links = demo_links(client)
    assert sum(links.values()) == calls.count() == 300  # every call is linked, one way or another
    with_customer = CallCustomer.objects.for_client(client).filter(customer__isnull=False).count()
    assert with_customer / 300 > 0.7
    assert links["order"] >= 10  # orders named in the CustomField (and the notes)
    assert links["none"] >= 5 and links["ambiguous"] >= 1
    assert "Customers: created" in out

    by_custom_field = CallCustomer.objects.for_client(client).filter(
        match="order", call__metadata__custom_field__startswith="order-"
    )
    assert by_custom_field.exists()
    for link in by_custom_field.select_related("order", "call", "customer"):
        assert link.call.metadata["custom_field"] == f"order-{link.order.number}"
        assert link.order.customer_id == link.customer_id and link.order.name == f"#{link.order.number}"

    for link in CallCustomer.objects.for_client(client).filter(match="ambiguous"):
        sharing = ShopifyPhone.objects.for_client(client).filter(phone=link.phone)
        assert sharing.values("customer_id").distinct().count() == 2


def test_seeded_customers_and_orders_are_valid_and_add_up(media):
    seed("--calls", "200", "--no-audio")

    client = demo_client()
    customers = list(ShopifyCustomer.objects.for_client(client))
    assert customers
    for customer in customers:
        customer.full_clean()
        orders = ShopifyOrder.objects.for_client(client).filter(customer=customer)
        assert customer.orders_count == orders.count()
        assert customer.total_spent == sum(o.total for o in orders if o.cancelled_at is None)
        assert customer.name and "@example.com" in customer.email
    for order in ShopifyOrder.objects.for_client(client):
        order.full_clean()
        assert order.customer_id is not None and order.item_count >= 1 and order.total > 0
    for phone in ShopifyPhone.objects.for_client(client):
        phone.full_clean()
        assert phone.phone.startswith("+91")


def test_seeding_customers_again_adds_nothing_and_more_calls_add_their_customers(media):
    seed("--calls", "120", "--no-audio")
    client = demo_client()
    before = (
        set(ShopifyCustomer.objects.values_list("public_id", flat=True)),
        set(ShopifyOrder.objects.values_list("public_id", flat=True)),
        ShopifyPhone.objects.count(),
        demo_links(client),
    )

    out = seed("--calls", "120", "--no-audio")

    assert "Customers: created 0 Shopify customers and 0 orders for 1 client(s); 0 calls linked" in out
    after = (
        set(ShopifyCustomer.objects.values_list("public_id", flat=True)),
        set(ShopifyOrder.objects.values_list("public_id", flat=True)),
        ShopifyPhone.objects.count(),
        demo_links(client),
    )
    assert after == before

    seed("--calls", "240", "--no-audio")
    assert ShopifyCustomer.objects.count() > len(before[0])
    assert sum(demo_links(client).values()) == 240
    assert CallCustomer.objects.filter(customer__isnull=False).count() / 240 > 0.7


def test_no_customers_makes_none(media):
    out = seed("--calls", "50", "--no-audio", "--no-customers")

    assert not ShopifyCustomer.objects.exists() and not CallCustomer.objects.exists()
    assert "Customers:" not in out


def test_each_demo_client_gets_its_own_customers(media):
    seed("--calls", "100", "--clients", "1", "--no-audio", "--products", "0")

    for client in Client.objects.all():
        linked = CallCustomer.objects.for_client(client)
        assert linked.count() == Call.objects.for_client(client).count()
        assert not linked.exclude(customer__isnull=True).exclude(customer__client=client).exists()
        assert not linked.exclude(order__isnull=True).exclude(order__client=client).exists()


def test_the_demo_owner_sees_customers_on_the_call_pages(media):
    seed("--calls", "60", "--no-audio")
    owner = User.objects.get(email="owner@demo-store.caly.local")
    browser = BrowserClient()
    browser.force_login(owner)
    link = CallCustomer.objects.filter(customer__isnull=False).select_related("call", "customer").first()

    page = browser.get(f"/calls/{link.call.public_id}/")
    assert page.status_code == 200 and link.customer.first_name in page.content.decode()
    assert browser.get(f"/customers/{link.customer.public_id}/").status_code == 200
    assert link.customer.last_name in browser.get("/customers/").content.decode()
