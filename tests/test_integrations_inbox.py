"""The webhook inbox: a delivery is stored once, queued in the same transaction, processed by the
worker inside a transaction, retried with backoff, failed for good after the last attempt,
reprocessed on demand and pruned after the retention period."""

from datetime import timedelta

import pytest
from django.core.management import call_command
from django.db import transaction
from django.utils import timezone
from django_tasks_db.models import DBTaskResult

from accounts.models import AuditAction, AuditEvent
from integrations import inbox, processing
from integrations.models import WebhookEvent, WebhookProvider, WebhookStatus
from recordings.models import Call

HANDLED: list[int] = []


def handler_ok(event):
    HANDLED.append(event.pk)
    return WebhookStatus.PROCESSED


def handler_writes_then_fails(event):
    Call.objects.filter(client=event.client).update(notes="half-done")  # must be rolled back
    raise RuntimeError("provider hiccup")


def handler_permanent(event):
    raise processing.PermanentError("no CallSid in the payload")


@pytest.fixture(autouse=True)
def _handlers(monkeypatch):
    HANDLED.clear()
    monkeypatch.setitem(processing.HANDLERS, WebhookProvider.EXOTEL, "tests.test_integrations_inbox.handler_ok")


@pytest.fixture
def database_queue(settings):
    settings.TASKS = {"default": {"BACKEND": "django_tasks_db.DatabaseBackend", "QUEUES": ["default"]}}


def receive(client, key="CA1:completed", body=b"CallSid=CA1&Status=completed"):
    return inbox.webhook_receive(
        client=client, provider=WebhookProvider.EXOTEL, dedupe_key=key, topic="status-callback", body=body
    )


def run_worker():
    call_command("db_worker", "--batch", "--no-startup-delay", verbosity=0)


@pytest.mark.django_db(transaction=True)
def test_it_stores_a_delivery_once_and_queues_it_in_the_same_transaction(client_a, database_queue):
    event, created = receive(client_a)
    duplicate, created_again = receive(client_a)

    assert created and not created_again and duplicate.pk == event.pk
    assert WebhookEvent.objects.count() == 1
    assert DBTaskResult.objects.filter(status="READY").count() == 1
    assert bytes(WebhookEvent.objects.get().body) == b"CallSid=CA1&Status=completed"

    run_worker()

    event.refresh_from_db()
    assert (event.status, event.attempts, HANDLED) == (WebhookStatus.PROCESSED, 1, [event.pk])
    assert event.processed_at is not None


@pytest.mark.django_db(transaction=True)
def test_a_rolled_back_receive_leaves_neither_event_nor_task(client_a, database_queue):
    with pytest.raises(RuntimeError), transaction.atomic():
        receive(client_a)
        raise RuntimeError("the request failed after storing")

    assert WebhookEvent.objects.count() == 0
    assert DBTaskResult.objects.count() == 0


@pytest.mark.django_db
def test_the_same_key_of_two_clients_are_two_events(client_a, client_b):
    receive(client_a, key="CA1:completed")
    receive(client_b, key="CA1:completed")

    assert WebhookEvent.objects.count() == 2
    assert {e.dedupe_key.split(":")[0] for e in WebhookEvent.objects.all()} == {
        str(client_a.public_id),
        str(client_b.public_id),
    }


@pytest.mark.django_db(transaction=True)
def test_a_failing_handler_rolls_back_its_writes_and_is_retried_with_backoff(
    client_a, database_queue, monkeypatch, settings
):
    from tests.factories import CallFactory

    call = CallFactory(client=client_a, notes="original")
    monkeypatch.setitem(
        processing.HANDLERS, WebhookProvider.EXOTEL, "tests.test_integrations_inbox.handler_writes_then_fails"
    )
    settings.TASK_RETRY_BASE_SECONDS = 30
    event, _ = receive(client_a)

    before = timezone.now()
    run_worker()

    event.refresh_from_db()
    call.refresh_from_db()
    assert call.notes == "original"
    assert event.status == WebhookStatus.FAILED and event.attempts == 1
    assert "RuntimeError: provider hiccup" in event.last_error
    assert before + timedelta(seconds=29) < event.next_attempt_at < before + timedelta(seconds=60)
    retry = DBTaskResult.objects.get(status="READY")
    assert retry.run_after is not None and abs((retry.run_after - event.next_attempt_at).total_seconds()) < 5

    # The retry is not due yet: a worker run now leaves it queued.
    run_worker()
    assert DBTaskResult.objects.filter(status="READY").count() == 1

    # Once due, and with the provider back, it is processed.
    monkeypatch.setitem(processing.HANDLERS, WebhookProvider.EXOTEL, "tests.test_integrations_inbox.handler_ok")
    DBTaskResult.objects.filter(status="READY").update(run_after=timezone.now() - timedelta(seconds=1))
    run_worker()
    event.refresh_from_db()
    assert (event.status, event.attempts, event.last_error, event.next_attempt_at) == (
        WebhookStatus.PROCESSED,
        2,
        "",
        None,
    )


@pytest.mark.django_db
def test_it_gives_up_after_the_last_attempt(client_a, monkeypatch, settings, django_capture_on_commit_callbacks):
    monkeypatch.setitem(
        processing.HANDLERS, WebhookProvider.EXOTEL, "tests.test_integrations_inbox.handler_writes_then_fails"
    )
    settings.TASK_MAX_ATTEMPTS = 3
    with django_capture_on_commit_callbacks(execute=True):
        event, _ = receive(client_a)  # the immediate backend runs every retry at once

    event.refresh_from_db()
    assert (event.status, event.attempts, event.next_attempt_at) == (WebhookStatus.FAILED, 3, None)


@pytest.mark.django_db
def test_a_permanent_error_fails_at_once(client_a, monkeypatch, django_capture_on_commit_callbacks):
    monkeypatch.setitem(processing.HANDLERS, WebhookProvider.EXOTEL, "tests.test_integrations_inbox.handler_permanent")
    with django_capture_on_commit_callbacks(execute=True):
        event, _ = receive(client_a)

    event.refresh_from_db()
    assert (event.status, event.attempts, event.next_attempt_at) == (WebhookStatus.FAILED, 1, None)
    assert "no CallSid" in event.last_error


@pytest.mark.django_db
def test_a_processed_event_is_never_processed_again(client_a, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):
        event, _ = receive(client_a)
    assert processing.webhook_process(event.pk).status == WebhookStatus.PROCESSED
    assert processing.webhook_process(event.pk).status == WebhookStatus.PROCESSED
    assert [event.pk] == HANDLED
    assert processing.webhook_process(10**9).status is None


@pytest.mark.django_db
def test_reprocess_queues_failed_and_ignored_events_and_audits_it(
    client_a, staff, monkeypatch, django_capture_on_commit_callbacks
):
    monkeypatch.setitem(processing.HANDLERS, WebhookProvider.EXOTEL, "tests.test_integrations_inbox.handler_permanent")
    with django_capture_on_commit_callbacks(execute=True):
        failed, _ = receive(client_a, key="CA1:completed")
    monkeypatch.setitem(processing.HANDLERS, WebhookProvider.EXOTEL, "tests.test_integrations_inbox.handler_ok")
    with django_capture_on_commit_callbacks(execute=True):
        done, _ = receive(client_a, key="CA2:completed")

    with django_capture_on_commit_callbacks(execute=True):
        count = inbox.webhook_reprocess(events=WebhookEvent.objects.all(), actor=staff)

    assert count == 1
    failed.refresh_from_db()
    assert failed.status == WebhookStatus.PROCESSED and failed.attempts == 2
    assert [done.pk, failed.pk] == HANDLED
    audit = AuditEvent.objects.get(action=AuditAction.WEBHOOK_REPROCESSED)
    assert (audit.client, audit.actor, audit.target_id) == (client_a, staff, str(failed.public_id))


@pytest.mark.django_db
def test_the_prune_command_is_a_dry_run_unless_applied(client_a, settings):
    settings.WEBHOOK_RETENTION_DAYS = 30
    old, _ = receive(client_a, key="old")
    recent, _ = receive(client_a, key="recent")
    WebhookEvent.objects.filter(pk=old.pk).update(received_at=timezone.now() - timedelta(days=31))

    from io import StringIO

    out = StringIO()
    call_command("prune_webhook_events", stdout=out)
    assert "Dry run: 1 webhook event(s)" in out.getvalue()
    assert WebhookEvent.objects.count() == 2

    out = StringIO()
    call_command("prune_webhook_events", "--apply", stdout=out)
    assert "Deleted 1 webhook event(s)" in out.getvalue()
    assert list(WebhookEvent.objects.values_list("pk", flat=True)) == [recent.pk]


@pytest.mark.django_db
def test_the_prune_task_deletes(client_a, settings):
    from integrations.tasks import prune_webhook_events

    old, _ = receive(client_a, key="old")
    WebhookEvent.objects.filter(pk=old.pk).update(received_at=timezone.now() - timedelta(days=400))

    result = prune_webhook_events.enqueue()

    assert result.return_value == 1 and WebhookEvent.objects.count() == 0
