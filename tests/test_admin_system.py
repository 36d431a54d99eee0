"""The staff System page: health, queue depth, today's failed tasks and webhooks, storage per client;
staff only, and a fixed handful of queries however many rows there are."""

import html
from datetime import timedelta

import pytest
from django.utils import timezone
from django_tasks import task
from django_tasks_db.models import DBTaskResult, get_date_max

from caly.foundation import health
from integrations.models import WebhookEvent, WebhookProvider, WebhookStatus
from recordings.models import RecordingStatus
from tests.factories import ClientFactory, RecordingFactory

pytestmark = pytest.mark.django_db

URL = "/admin/system/"


@task()
def noop() -> None:
    return None


@pytest.fixture
def as_staff(client, staff):
    client.force_login(staff)
    return client


@pytest.fixture
def database_queue(settings):
    settings.TASKS = {"default": {"BACKEND": "django_tasks_db.DatabaseBackend", "QUEUES": ["default"]}}


def task_result(status: str, *, finished_ago: timedelta, exception: str = "builtins.RuntimeError") -> DBTaskResult:
    finished = timezone.now() - finished_ago
    return DBTaskResult.objects.create(
        status=status,
        task_path="integrations.tasks.process_webhook_event",
        args_kwargs={"args": [1], "kwargs": {}},
        backend_name="default",
        run_after=get_date_max(),
        started_at=finished,
        finished_at=finished,
        exception_class_path=exception if status == "FAILED" else "",
        traceback="Traceback…" if status == "FAILED" else "",
    )


def webhook(client, key: str, status: str, *, received_ago: timedelta, error: str = "") -> WebhookEvent:
    event = WebhookEvent.objects.create(
        client=client,
        provider=WebhookProvider.EXOTEL,
        dedupe_key=key,
        topic="status-callback",
        body=b"CallSid=CA1",
        status=status,
        attempts=6 if status == WebhookStatus.FAILED else 1,
        last_error=error,
    )
    WebhookEvent.objects.filter(pk=event.pk).update(received_at=timezone.now() - received_ago)
    return event


def stored(client, size_bytes: int, status: str = RecordingStatus.STORED):
    return RecordingFactory(call__client=client, status=status, size_bytes=size_bytes)


def page_text(response) -> str:
    assert response.status_code == 200
    return html.unescape(response.content.decode())


def test_it_shows_health_queue_failures_and_storage(as_staff, client_a, client_b, database_queue):
    noop.enqueue()
    noop.enqueue()
    task_result("FAILED", finished_ago=timedelta(hours=2), exception="httpx.ConnectTimeout")
    task_result("FAILED", finished_ago=timedelta(hours=30))  # yesterday's: not counted
    task_result("SUCCESSFUL", finished_ago=timedelta(hours=1))
    webhook(client_a, "CA1:completed", WebhookStatus.FAILED, received_ago=timedelta(hours=3), error="KeyError: 'To'")
    webhook(client_a, "CA2:completed", WebhookStatus.FAILED, received_ago=timedelta(days=3))
    webhook(client_b, "CA3:completed", WebhookStatus.PROCESSED, received_ago=timedelta(hours=1))
    stored(client_a, 1_000_000)
    stored(client_b, 3_000_000)
    stored(client_b, 2_000_000)
    stored(client_a, 50_000_000, status=RecordingStatus.FAILED)  # not stored: not counted

    text = page_text(as_staff.get(URL))

    assert "Health: ok" in text
    for component in ("database", "cache", "storage", "migrations"):
        assert component in text
    assert "Tasks due to run now</th><td>2</td>" in text
    assert "Failed tasks in the last 24 hours: 1" in text and "httpx.ConnectTimeout" in text
    assert "Failed webhook deliveries in the last 24 hours: 1" in text and "KeyError: 'To'" in text
    storage = text[text.index('id="storage"') :]
    assert storage.index("Bolt Books") < storage.index("Acme Apparel")  # largest first
    assert "4.8\xa0MB" in storage and "976.6\xa0KB" in storage
    assert "47.7" not in storage


def test_a_failing_component_is_named_with_its_error(as_staff, monkeypatch):
    def cache_down():
        raise ConnectionError("Redis refused the connection")

    monkeypatch.setitem(health.CHECKS, "cache", cache_down)

    text = page_text(as_staff.get(URL))

    assert "Health: unavailable" in text
    assert "ConnectionError: Redis refused the connection" in text


def test_an_empty_system_says_so(as_staff):
    text = page_text(as_staff.get(URL))

    assert "Failed tasks in the last 24 hours: 0" in text
    assert "No stored recordings." in text
    assert "nothing is queued" in text  # the immediate backend of the tests


def test_it_is_for_staff_only(client, alice):
    anonymous = client.get(URL)
    client.force_login(alice)
    member = client.get(URL)

    for response in (anonymous, member):
        assert response.status_code == 302
        assert response["Location"].startswith(f"/admin/login/?next={URL}")


def test_the_admin_index_links_to_it(as_staff):
    text = page_text(as_staff.get("/admin/"))

    assert f'href="{URL}"' in text


def test_it_costs_the_same_few_queries_however_many_rows(as_staff, database_queue, django_assert_max_num_queries):
    clients = [ClientFactory() for _ in range(60)]
    for n, client in enumerate(clients):
        stored(client, 1000 + n)
        webhook(client, f"CA{n}:completed", WebhookStatus.FAILED, received_ago=timedelta(minutes=n))
        task_result("FAILED", finished_ago=timedelta(minutes=n))
        noop.enqueue()
    as_staff.get(URL)  # the first view may load the migration graph once per process

    with django_assert_max_num_queries(10):
        text = page_text(as_staff.get(URL))

    assert "Failed tasks in the last 24 hours: 60" in text
    assert "Failed webhook deliveries in the last 24 hours: 60" in text
    storage = text[text.index('id="storage"') :]
    assert storage.count('href="/admin/accounts/client/') == 50
    assert "All failed tasks" in text and "All failed deliveries" in text
