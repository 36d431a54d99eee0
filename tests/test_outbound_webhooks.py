"""Outbound webhooks, end to end: a client's endpoint on 127.0.0.1 receives signed events from the task
worker, and an independent implementation (the `standardwebhooks` package) verifies every signature.

Retries (500, timeouts, Retry-After), the backoff schedule, disabling on 410 and after persistent
failure (with the owners' e-mail), redelivery, the test event, secret rotation, the address checks, and
payloads equal to what the API returns for the same object.
"""

from __future__ import annotations

import io
import socket
from datetime import timedelta

import pytest
from django.core import mail
from django.core.management import call_command
from django.db import connection, transaction
from django.utils import timezone
from django_tasks_db.models import DBTaskResult
from standardwebhooks import Webhook, WebhookVerificationError

from accounts import jwt
from caly.foundation.ops import scheduler
from integrations.models import CallCustomer, PhoneSource, ShopifyCustomer, ShopifyPhone
from integrations.outbound import retention, sending, services
from integrations.outbound.models import (
    EVENT_TYPES,
    DeliveryStatus,
    DisabledReason,
    OutboundAttempt,
    OutboundDelivery,
    OutboundEvent,
    WebhookEndpoint,
)
from recordings import services as recording_services
from recordings.models import Call, CallStatus
from recordings.signals import call_saved_on_commit
from tests.factories import CallFactory, RecordingFactory
from tests.s3 import local_storage  # noqa: F401
from tests.webhook_receiver import Answer, receiver_fixture  # noqa: F401

AUDIO = b"ID3\x03\x00\x00\x00\x00\x00\x00" + bytes(range(256)) * 8
SCHEDULE = [0, 5, 300, 1800, 7200, 18000, 36000, 50400, 72000, 86400]


@pytest.fixture
def database_queue(settings):
    settings.TASKS = {"default": {"BACKEND": "django_tasks_db.DatabaseBackend", "QUEUES": ["default"]}}
    settings.OUTBOUND_WEBHOOK_RETRY_SCHEDULE_SECONDS = SCHEDULE


def run_worker():
    call_command("db_worker", "--batch", "--no-startup-delay", verbosity=0)


def run_due_tasks():
    """Make every queued retry due now, then run the worker."""
    DBTaskResult.objects.filter(status="READY").update(run_after=timezone.now() - timedelta(seconds=1))
    run_worker()


def next_delivery_task() -> DBTaskResult:
    [task] = DBTaskResult.objects.filter(status="READY", task_path__endswith="deliver_webhook")
    return task


def signed_in(api, user):
    api.credentials(HTTP_AUTHORIZATION=f"Bearer {jwt.family_start(user=user).access}")
    return api


def subscribe(client, url, event_types=None) -> WebhookEndpoint:
    return services.endpoint_create(
        client=client, actor=None, url=url, event_types=event_types or list(EVENT_TYPES), description="CRM"
    )


def verified(secret: str, received) -> dict:
    """The delivery's JSON, once the independent implementation has verified its signature."""
    return Webhook(secret).verify(received.body, received.headers)


def new_call(client, **fields) -> Call:
    with transaction.atomic():
        return recording_services.call_create(
            client=client,
            provider_call_id=fields.pop("provider_call_id", "CA-outbound-1"),
            direction="inbound",
            from_number=fields.pop("from_number", "+919812345678"),
            to_number="+918047112233",
            status=fields.pop("status", CallStatus.COMPLETED),
            started_at=timezone.now() - timedelta(minutes=5),
            duration_seconds=90,
            **fields,
        )


# --- the API --------------------------------------------------------------------------------------


def test_it_creates_an_endpoint_and_shows_its_secret_at_creation_and_on_demand(api, alice):
    signed_in(api, alice)
    response = api.post(
        "/api/v1/webhook-endpoints",
        {"url": "https://203.0.114.10/hooks", "event_types": ["call.completed", "recording.stored"]},
        format="json",
    )
    assert response.status_code == 201, response.content
    created = response.json()["data"]
    assert created["secret"].startswith("whsec_") and created["enabled"] is True
    assert response["Cache-Control"] == "no-store"
    assert created["event_types"] == ["call.completed", "recording.stored"]
    detail = api.get(f"/api/v1/webhook-endpoints/{created['id']}").json()["data"]
    assert "secret" not in detail and detail["url"] == "https://203.0.114.10/hooks"
    shown = api.get(f"/api/v1/webhook-endpoints/{created['id']}/secret").json()["data"]
    assert shown["secret"] == created["secret"]
    endpoint = WebhookEndpoint.objects.get()
    assert endpoint.client == alice.client and endpoint.secret == created["secret"]
    listed = api.get("/api/v1/webhook-endpoints").json()
    assert [row["id"] for row in listed["data"]] == [created["id"]] and listed["meta"]["pagination"]["total"] == 1
    assert not OutboundEvent.objects.exists()  # nothing is sent until something happens (or a test is asked for)


def test_the_secret_is_stored_encrypted(alice):
    endpoint = subscribe(alice.client, "https://203.0.114.10/hooks")
    with connection.cursor() as cursor:
        cursor.execute("SELECT secret FROM integrations_webhookendpoint WHERE id = %s", [endpoint.pk])
        [stored] = cursor.fetchone()
    assert endpoint.secret.startswith("whsec_") and endpoint.secret not in stored


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"url": "http://example.com/hooks"}, "url"),
        ({"url": "https://10.0.0.8/hooks"}, "url"),
        ({"url": "https://169.254.169.254/latest/meta-data"}, "url"),
        ({"url": "https://127.0.0.1/hooks"}, "url"),
        ({"url": "https://[::1]/hooks"}, "url"),
        ({"url": "https://[::ffff:10.0.0.1]/hooks"}, "url"),
        ({"url": "https://localhost/hooks"}, "url"),
        ({"url": "https://metadata.google.internal/x"}, "url"),
        ({"url": "https://intranet/hooks"}, "url"),
        ({"url": "https://user:pass@example.com/hooks"}, "url"),
        ({"url": "ftp://example.com/hooks"}, "url"),
        ({"url": "not a url"}, "url"),
        ({"url": "https://example.com/" + "a" * 2000}, "url"),
        ({"url": "https://private.hooks.example/x"}, "url"),  # resolves to 10.1.2.3
        ({"event_types": ["call.deleted"]}, "event_types"),
        ({"event_types": []}, "event_types"),
        ({"event_types": "call.created"}, "event_types"),
        ({"event_types": ["webhook.test"]}, "event_types"),
        ({"description": "d" * 501}, "description"),
        ({"url": 42}, "url"),
    ],
)
def test_it_refuses_bad_input_with_a_400_and_stores_nothing(api, alice, settings, dns, body, field):
    settings.OUTBOUND_WEBHOOK_ALLOW_LOOPBACK = False
    dns.answers["private.hooks.example"] = [["10.1.2.3"]]
    signed_in(api, alice)
    request = {"url": "https://hooks.example.com/caly", "event_types": ["call.created"], **body}
    response = api.post("/api/v1/webhook-endpoints", request, format="json")
    assert response.status_code == 400, response.content
    error = response.json()["error"]
    assert error["code"] == "VALIDATION_ERROR" and field in error["details"]
    assert not WebhookEndpoint.objects.exists()


def test_a_change_to_a_bad_url_is_refused_and_changes_nothing(api, alice, settings):
    settings.OUTBOUND_WEBHOOK_ALLOW_LOOPBACK = False
    endpoint = subscribe(alice.client, "https://203.0.114.10/hooks")
    signed_in(api, alice)
    response = api.patch(
        f"/api/v1/webhook-endpoints/{endpoint.public_id}", {"url": "https://192.168.1.4/"}, format="json"
    )
    assert response.status_code == 400 and response.json()["error"]["code"] == "VALIDATION_ERROR"
    endpoint.refresh_from_db()
    assert endpoint.url == "https://203.0.114.10/hooks"


def test_agents_and_viewers_cannot_manage_endpoints(api, bob, alice):
    endpoint = subscribe(alice.client, "https://203.0.114.10/hooks")
    signed_in(api, bob)
    assert api.get("/api/v1/webhook-endpoints").status_code == 403
    assert api.get(f"/api/v1/webhook-endpoints/{endpoint.public_id}/secret").status_code == 403
    response = api.post(
        "/api/v1/webhook-endpoints", {"url": "https://203.0.114.10/x", "event_types": ["call.created"]}, format="json"
    )
    assert response.status_code == 403 and WebhookEndpoint.objects.count() == 1


def test_a_company_has_a_limited_number_of_endpoints(api, alice, settings):
    settings.OUTBOUND_WEBHOOK_MAX_ENDPOINTS = 2
    signed_in(api, alice)
    body = {"url": "https://203.0.114.10/hooks", "event_types": ["call.created"]}
    assert [api.post("/api/v1/webhook-endpoints", body, format="json").status_code for _ in range(3)] == [201, 201, 400]
    assert WebhookEndpoint.objects.count() == 2


def test_disabling_by_hand_cancels_pending_deliveries_and_enabling_clears_the_reason(api, alice):
    endpoint = subscribe(alice.client, "https://203.0.114.10/hooks")
    new_call(alice.client)
    assert OutboundDelivery.objects.filter(status=DeliveryStatus.PENDING).count() == 2  # created, completed
    signed_in(api, alice)
    off = api.patch(f"/api/v1/webhook-endpoints/{endpoint.public_id}", {"enabled": False}, format="json").json()["data"]
    assert off["enabled"] is False and off["disabled_reason"] == "manual"
    assert set(OutboundDelivery.objects.values_list("status", flat=True)) == {DeliveryStatus.CANCELLED}
    new_call(alice.client, provider_call_id="CA-outbound-2")
    assert OutboundDelivery.objects.count() == 2  # a disabled endpoint is sent nothing
    on = api.patch(f"/api/v1/webhook-endpoints/{endpoint.public_id}", {"enabled": True}, format="json").json()["data"]
    assert on["enabled"] is True and on["disabled_reason"] is None and on["failing_since"] is None


def test_deleting_an_endpoint_removes_it_with_its_log(api, alice):
    endpoint = subscribe(alice.client, "https://203.0.114.10/hooks")
    new_call(alice.client)
    signed_in(api, alice)
    assert api.delete(f"/api/v1/webhook-endpoints/{endpoint.public_id}").status_code == 204
    assert not WebhookEndpoint.objects.exists() and not OutboundDelivery.objects.exists()


def test_the_delivery_log_pages_with_a_cursor(api, alice):
    endpoint = subscribe(alice.client, "https://203.0.114.10/hooks")
    for _ in range(3):
        services.endpoint_test_send(endpoint=endpoint, actor=None)
    signed_in(api, alice)
    first = api.get(f"/api/v1/webhook-endpoints/{endpoint.public_id}/deliveries", {"limit": 2}).json()
    assert len(first["data"]) == 2 and first["meta"]["pagination"]["has_more"] is True
    second = api.get(
        f"/api/v1/webhook-endpoints/{endpoint.public_id}/deliveries",
        {"limit": 2, "cursor": first["meta"]["pagination"]["next_cursor"]},
    ).json()
    ids = [row["id"] for row in first["data"] + second["data"]]
    assert len(second["data"]) == 1 and len(set(ids)) == 3
    bad = api.get(f"/api/v1/webhook-endpoints/{endpoint.public_id}/deliveries", {"cursor": "nonsense"})
    assert bad.status_code == 400 and bad.json()["error"]["code"] == "VALIDATION_ERROR"


# --- events -----------------------------------------------------------------------------------------


def test_nothing_is_written_when_no_endpoint_subscribes(alice):
    subscribe(alice.client, "https://203.0.114.10/hooks", ["recording.stored"])
    new_call(alice.client)
    assert not OutboundEvent.objects.exists() and not OutboundDelivery.objects.exists()


def test_a_deactivated_company_is_sent_nothing(alice, client_a):
    subscribe(alice.client, "https://203.0.114.10/hooks")
    client_a.is_active = False
    client_a.save(update_fields=["is_active"])
    new_call(client_a)
    assert not OutboundEvent.objects.exists()


def test_a_call_is_one_event_per_change_with_a_delivery_per_endpoint(alice, charlie):
    first = subscribe(alice.client, "https://203.0.114.10/a", ["call.created", "call.updated", "call.completed"])
    second = subscribe(alice.client, "https://203.0.114.10/b", ["call.completed"])
    subscribe(charlie.client, "https://203.0.114.10/other-company")
    call = new_call(alice.client, status=CallStatus.IN_PROGRESS)
    assert list(OutboundEvent.objects.values_list("type", flat=True)) == ["call.created"]
    with transaction.atomic():
        call.status = CallStatus.COMPLETED
        call.save(update_fields=["status", "updated_at"])
        call_saved_on_commit(call=call, created=False, fields=["status"])
    recording_services.call_update(call=call, actor=alice, notes="Wants a refund")
    types = list(OutboundEvent.objects.order_by("pk").values_list("type", flat=True))
    assert types == ["call.created", "call.updated", "call.completed", "call.updated"]
    assert OutboundEvent.objects.filter(client=charlie.client).count() == 0
    completed = OutboundEvent.objects.get(type="call.completed")
    assert set(completed.deliveries.values_list("endpoint", flat=True)) == {first.pk, second.pk}
    assert OutboundDelivery.objects.filter(endpoint=second).count() == 1
    assert OutboundEvent.objects.filter(object_id=call.public_id).count() == 4


@pytest.mark.django_db(transaction=True)
def test_a_new_call_reaches_the_receiver_signed_and_shaped_as_the_api_shows_it(api, alice, receiver, database_queue):
    endpoint = subscribe(alice.client, receiver.url(), ["call.created", "call.completed"])
    call = new_call(alice.client)
    assert receiver.received == []  # nothing is sent inline: the worker sends it
    run_worker()

    assert len(receiver.received) == 2
    bodies = [verified(endpoint.secret, received) for received in receiver.received]
    assert sorted(body["type"] for body in bodies) == ["call.completed", "call.created"]
    shown = signed_in(api, alice).get(f"/api/v1/calls/{call.public_id}").json()["data"]
    for body, received in zip(bodies, receiver.received, strict=True):
        assert body["data"] == shown
        assert body["timestamp"].endswith("Z") and set(body) == {"type", "timestamp", "data"}
        event = OutboundEvent.objects.get(type=body["type"])
        assert received.headers["Webhook-Id"] == event.webhook_id and received.text == event.body
        assert received.headers["Content-Type"] == "application/json"
    assert set(OutboundDelivery.objects.values_list("status", flat=True)) == {DeliveryStatus.SUCCEEDED}
    endpoint.refresh_from_db()
    assert endpoint.last_success_at is not None and endpoint.failing_since is None


@pytest.mark.django_db(transaction=True)
def test_a_stored_recording_is_sent_as_the_api_shows_it(api, alice, receiver, database_queue, local_storage):  # noqa: F811
    endpoint = subscribe(alice.client, receiver.url(), ["recording.stored", "recording.failed"])
    call = CallFactory(client=alice.client)
    recording = recording_services.recording_store(call=call, stream=io.BytesIO(AUDIO), content_type="audio/mpeg")
    run_worker()
    [received] = receiver.received
    body = verified(endpoint.secret, received)
    assert body["type"] == "recording.stored"
    assert body["data"] == signed_in(api, alice).get(f"/api/v1/recordings/{recording.public_id}").json()["data"]


@pytest.mark.django_db(transaction=True)
def test_a_recording_that_fails_for_good_is_sent(alice, receiver, database_queue):
    endpoint = subscribe(alice.client, receiver.url(), ["recording.failed"])
    recording = RecordingFactory(
        call=CallFactory(client=alice.client, provider="nobody"), source_url="https://x.example/a.mp3"
    )
    recording_services.recording_fetch(recording_id=recording.pk)
    run_worker()
    [received] = receiver.on("/hooks/caly")
    body = verified(endpoint.secret, received)
    assert body["type"] == "recording.failed" and body["data"]["id"] == str(recording.public_id)
    assert body["data"]["status"] == "failed"


@pytest.mark.django_db(transaction=True)
def test_a_call_that_gains_its_customer_sends_customer_linked(api, alice, receiver, database_queue):
    endpoint = subscribe(alice.client, receiver.url(), ["customer.linked"])
    customer = ShopifyCustomer.objects.create(
        client=alice.client, shopify_id=501, first_name="Asha", last_name="Rao", phone="+919812345678", currency="INR"
    )
    ShopifyPhone.objects.create(
        client=alice.client, phone=customer.phone, customer=customer, source=PhoneSource.CUSTOMER
    )
    call = new_call(alice.client)
    assert CallCustomer.objects.get(call=call).customer == customer
    run_worker()
    [received] = receiver.received
    body = verified(endpoint.secret, received)
    shown = signed_in(api, alice).get(f"/api/v1/calls/{call.public_id}").json()["data"]
    assert body["type"] == "customer.linked"
    assert body["data"] == {"call_id": shown["id"], "customer_match": "phone", "customer": shown["customer"]}
    assert body["data"]["customer"]["name"] == "Asha Rao"


# --- delivery: retries, backoff, disabling ------------------------------------------------------------


@pytest.mark.django_db(transaction=True)
def test_a_500_is_retried_on_the_schedule_with_the_same_id_until_it_succeeds(alice, receiver, database_queue):
    endpoint = subscribe(alice.client, receiver.url(), ["call.created"])
    receiver.answer(Answer(500, "boom"), Answer(503, "busy"))
    new_call(alice.client, status=CallStatus.RINGING)
    run_worker()

    delivery = OutboundDelivery.objects.get()
    assert delivery.status == DeliveryStatus.PENDING and delivery.attempts == 1 and delivery.last_status_code == 500
    task = next_delivery_task()
    waited = (task.run_after - OutboundAttempt.objects.get(number=1).started_at).total_seconds()
    assert 5 * 0.9 - 1 <= waited <= 5 * 1.1 + 1
    run_due_tasks()
    task = next_delivery_task()
    waited = (task.run_after - OutboundAttempt.objects.get(number=2).started_at).total_seconds()
    assert 300 * 0.9 - 1 <= waited <= 300 * 1.1 + 1
    run_due_tasks()

    delivery.refresh_from_db()
    assert delivery.status == DeliveryStatus.SUCCEEDED and delivery.attempts == 3
    log = list(delivery.attempt_log.order_by("number").values_list("status_code", "succeeded", "response_excerpt"))
    assert log == [(500, False, "boom"), (503, False, "busy"), (200, True, "ok")]
    ids = {received.headers["Webhook-Id"] for received in receiver.received}
    assert ids == {delivery.event.webhook_id} and len(receiver.received) == 3
    for received in receiver.received:
        verified(endpoint.secret, received)
    endpoint.refresh_from_db()
    assert endpoint.failing_since is None and endpoint.is_enabled


def test_the_backoff_schedule_spans_about_three_days_with_jitter(settings):
    settings.OUTBOUND_WEBHOOK_RETRY_SCHEDULE_SECONDS = SCHEDULE
    delays = [sending.retry_delay(attempt) for attempt in range(1, len(SCHEDULE))]
    for delay, planned in zip(delays, SCHEDULE[1:], strict=True):
        assert planned * 0.9 <= delay <= planned * 1.1
    assert 70 * 3600 < sum(delays) < 80 * 3600
    assert sending.retry_delay(len(SCHEDULE)) is None
    assert len({sending.retry_delay(3) for _ in range(20)}) > 1  # jittered
    assert sending.retry_delay(1, retry_after=120) >= 120  # a longer Retry-After wins
    assert sending.retry_delay(1, retry_after=10**7) <= sending.MAX_RETRY_AFTER_SECONDS  # within limits


@pytest.mark.django_db(transaction=True)
def test_retry_after_on_a_429_is_honoured(alice, receiver, database_queue):
    subscribe(alice.client, receiver.url(), ["call.created"])
    receiver.answer(Answer(429, "slow down", headers={"Retry-After": "120"}))
    new_call(alice.client, status=CallStatus.RINGING)
    run_worker()
    waited = (next_delivery_task().run_after - OutboundAttempt.objects.get().started_at).total_seconds()
    assert 119 <= waited <= 122


@pytest.mark.django_db(transaction=True)
def test_a_receiver_that_does_not_answer_in_time_is_cut_off_and_retried(alice, receiver, database_queue, settings):
    settings.OUTBOUND_WEBHOOK_TIMEOUT_SECONDS = 0.5
    subscribe(alice.client, receiver.url(), ["call.created"])
    receiver.answer(Answer(200, stall_seconds=2))
    new_call(alice.client, status=CallStatus.RINGING)
    run_worker()
    attempt = OutboundAttempt.objects.get()
    assert attempt.status_code is None and attempt.error == "No answer within 0.5 s." and attempt.duration_ms < 1800
    delivery = OutboundDelivery.objects.get()
    assert delivery.status == DeliveryStatus.PENDING and delivery.next_attempt_at is not None
    run_due_tasks()
    delivery.refresh_from_db()
    assert delivery.status == DeliveryStatus.SUCCEEDED and delivery.attempts == 2


@pytest.mark.django_db(transaction=True)
def test_a_redirect_is_a_failure_and_is_not_followed(alice, receiver, database_queue):
    subscribe(alice.client, receiver.url(), ["call.created"])
    receiver.answer(Answer(302, "", headers={"Location": receiver.url("/elsewhere")}))
    new_call(alice.client, status=CallStatus.RINGING)
    run_worker()
    assert receiver.on("/elsewhere") == []
    attempt = OutboundAttempt.objects.get()
    assert attempt.status_code == 302 and not attempt.succeeded and "redirects are not followed" in attempt.error
    assert OutboundDelivery.objects.get().status == DeliveryStatus.PENDING


@pytest.mark.django_db(transaction=True)
def test_a_410_disables_the_endpoint_at_once_and_emails_the_owners(alice, bob, receiver, database_queue):
    endpoint = subscribe(alice.client, receiver.url(), ["call.created", "call.completed"])
    receiver.answer(Answer(410, "gone"), Answer(410, "gone"))
    new_call(alice.client)
    run_worker()
    run_worker()  # the e-mail

    endpoint.refresh_from_db()
    assert not endpoint.is_enabled and endpoint.disabled_reason == DisabledReason.GONE
    statuses = sorted(OutboundDelivery.objects.values_list("status", flat=True))
    assert statuses in (["cancelled", "failed"], ["failed", "failed"])
    assert not DBTaskResult.objects.filter(status="READY", task_path__endswith="deliver_webhook").exists()
    [email] = mail.outbox
    assert email.to == [alice.email] and endpoint.url in email.subject and "410" in email.body


@pytest.mark.django_db(transaction=True)
def test_a_delivery_that_fails_every_attempt_disables_the_endpoint_and_emails_the_owners(
    alice, receiver, database_queue, settings
):
    settings.OUTBOUND_WEBHOOK_RETRY_SCHEDULE_SECONDS = [0, 5, 300]
    endpoint = subscribe(alice.client, receiver.url(), ["call.created"])
    receiver.answer(*[Answer(500, "down")] * 3)
    new_call(alice.client, status=CallStatus.RINGING)
    run_worker()
    run_due_tasks()
    assert OutboundEvent.objects.get().deliveries.get().status == DeliveryStatus.PENDING
    run_due_tasks()
    run_worker()  # the e-mail

    delivery = OutboundDelivery.objects.get()
    assert delivery.status == DeliveryStatus.FAILED and delivery.attempts == 3
    endpoint.refresh_from_db()
    assert not endpoint.is_enabled and endpoint.disabled_reason == DisabledReason.FAILING
    [email] = mail.outbox
    assert email.to == [alice.email] and "failed 3 times" in email.body
    new_call(alice.client, provider_call_id="CA-outbound-2", status=CallStatus.RINGING)
    assert OutboundDelivery.objects.count() == 1  # nothing more goes to it


@pytest.mark.django_db(transaction=True)
def test_an_endpoint_failing_for_days_is_disabled(alice, receiver, database_queue):
    endpoint = subscribe(alice.client, receiver.url(), ["call.created"])
    WebhookEndpoint.objects.filter(pk=endpoint.pk).update(failing_since=timezone.now() - timedelta(days=6))
    receiver.answer(Answer(500, "down"))
    new_call(alice.client, status=CallStatus.RINGING)
    run_worker()
    run_worker()
    endpoint.refresh_from_db()
    assert not endpoint.is_enabled and endpoint.disabled_reason == DisabledReason.FAILING
    assert OutboundDelivery.objects.get().status == DeliveryStatus.FAILED
    assert len(mail.outbox) == 1 and "5 days" in mail.outbox[0].body


# --- redelivery, test events, rotation --------------------------------------------------------------


@pytest.mark.django_db(transaction=True)
def test_a_delivery_is_redelivered_on_request_with_the_same_id_and_body(api, alice, receiver, database_queue):
    endpoint = subscribe(alice.client, receiver.url(), ["call.created"])
    new_call(alice.client, status=CallStatus.RINGING)
    run_worker()
    delivery = OutboundDelivery.objects.get()
    response = signed_in(api, alice).post(f"/api/v1/webhook-deliveries/{delivery.public_id}/redeliver")
    assert response.status_code == 202, response.content
    again = response.json()["data"]
    assert (
        again["event_id"] == delivery.event.webhook_id
        and again["manual"] is True
        and again["id"] != str(delivery.public_id)
    )
    run_worker()
    first, second = receiver.received
    assert first.headers["Webhook-Id"] == second.headers["Webhook-Id"] and first.body == second.body
    verified(endpoint.secret, second)


@pytest.mark.django_db(transaction=True)
def test_a_test_event_is_sent_only_on_request(api, alice, receiver, database_queue):
    endpoint = subscribe(alice.client, receiver.url())
    run_worker()
    assert receiver.received == []
    response = signed_in(api, alice).post(f"/api/v1/webhook-endpoints/{endpoint.public_id}/test")
    assert response.status_code == 202 and response.json()["data"]["event_type"] == "webhook.test"
    run_worker()
    [received] = receiver.received
    body = verified(endpoint.secret, received)
    assert body["type"] == "webhook.test" and body["data"]["endpoint_id"] == str(endpoint.public_id)
    log = signed_in(api, alice).get(f"/api/v1/webhook-endpoints/{endpoint.public_id}/deliveries").json()["data"]
    assert log[0]["status"] == "succeeded" and log[0]["attempt_log"][0]["status_code"] == 200


@pytest.mark.django_db(transaction=True)
def test_during_a_rotation_both_secrets_verify_and_only_the_new_one_after(api, alice, receiver, database_queue):
    endpoint = subscribe(alice.client, receiver.url())
    old = endpoint.secret
    response = signed_in(api, alice).post(
        f"/api/v1/webhook-endpoints/{endpoint.public_id}/rotate-secret", {"overlap_hours": 24}, format="json"
    )
    assert response.status_code == 200, response.content
    new = response.json()["data"]["secret"]
    assert new != old and response.json()["data"]["previous_secret_expires_at"] is not None

    services.endpoint_test_send(endpoint=endpoint, actor=None)
    run_worker()
    [during] = receiver.received
    assert len(during.headers["Webhook-Signature"].split(" ")) == 2
    assert verified(old, during)["type"] == verified(new, during)["type"] == "webhook.test"

    WebhookEndpoint.objects.filter(pk=endpoint.pk).update(
        previous_secret_expires_at=timezone.now() - timedelta(seconds=1)
    )
    services.endpoint_test_send(endpoint=endpoint, actor=None)
    run_worker()
    after = receiver.received[1]
    assert len(after.headers["Webhook-Signature"].split(" ")) == 1
    verified(new, after)
    with pytest.raises(WebhookVerificationError):
        verified(old, after)


def test_a_rotation_without_overlap_drops_the_old_secret_at_once(api, alice):
    endpoint = subscribe(alice.client, "https://203.0.114.10/hooks")
    response = signed_in(api, alice).post(
        f"/api/v1/webhook-endpoints/{endpoint.public_id}/rotate-secret", {"overlap_hours": 0}, format="json"
    )
    endpoint.refresh_from_db()
    assert response.json()["data"]["previous_secret_expires_at"] is None and endpoint.previous_secret == ""
    too_long = signed_in(api, alice).post(
        f"/api/v1/webhook-endpoints/{endpoint.public_id}/rotate-secret", {"overlap_hours": 1000}, format="json"
    )
    assert too_long.status_code == 400


# --- where deliveries may go (SSRF) -------------------------------------------------------------------


@pytest.fixture
def dns(monkeypatch):
    """name -> addresses the stub answers, in turn (the last answer repeats); `lookups` counts them."""
    answers: dict[str, list[list[str]]] = {}
    lookups: list[str] = []
    resolve = socket.getaddrinfo

    def getaddrinfo(host, port, *args, **kwargs):
        if host not in answers:
            if host.endswith(".example") or host.endswith(".example.com"):
                raise socket.gaierror(socket.EAI_NONAME, "Name or service not known")
            return resolve(host, port, *args, **kwargs)
        lookups.append(host)
        turn = answers[host][min(lookups.count(host), len(answers[host])) - 1]
        return [
            (socket.AF_INET6, socket.SOCK_STREAM, 6, "", (a, port, 0, 0))
            if ":" in a
            else (socket.AF_INET, socket.SOCK_STREAM, 6, "", (a, port))
            for a in turn
        ]

    monkeypatch.setattr(socket, "getaddrinfo", getaddrinfo)
    dns.answers, dns.lookups = answers, lookups
    return dns


@pytest.mark.parametrize("address", ["127.0.0.1", "10.0.0.7", "169.254.169.254", "::ffff:127.0.0.1"])
@pytest.mark.django_db(transaction=True)
def test_a_name_that_resolves_inside_the_network_at_delivery_is_not_sent_to(
    alice, receiver, database_queue, settings, dns, address
):
    """The name was public when the endpoint was saved; at delivery it points inside (DNS rebinding)."""
    settings.OUTBOUND_WEBHOOK_ALLOW_LOOPBACK = False
    dns.answers["hooks.rebind.example"] = [["93.184.216.34"], [address]]
    endpoint = subscribe(alice.client, f"https://hooks.rebind.example:{receiver.server.port}/hooks/caly")
    services.endpoint_test_send(endpoint=endpoint, actor=None)
    run_worker()
    assert receiver.received == []
    attempt = OutboundAttempt.objects.get()
    assert (
        attempt.status_code is None
        and attempt.error.startswith("Not sent:")
        and "not a public address" in attempt.error
    )
    assert dns.lookups == ["hooks.rebind.example", "hooks.rebind.example"]  # once when saved, once per attempt


@pytest.mark.django_db(transaction=True)
def test_an_http_url_is_not_sent_to_unless_loopback_is_allowed(alice, receiver, database_queue, settings):
    endpoint = subscribe(alice.client, receiver.url())
    settings.OUTBOUND_WEBHOOK_ALLOW_LOOPBACK = False  # as in production
    services.endpoint_test_send(endpoint=endpoint, actor=None)
    run_worker()
    assert receiver.received == []
    assert OutboundAttempt.objects.get().error == "Webhooks are sent over https only."


@pytest.mark.django_db(transaction=True)
def test_the_request_goes_to_the_address_that_was_checked(alice, receiver, database_queue, settings, dns):
    """One lookup per attempt, and the connection is made to that answer, not to a second lookup's."""
    dns.answers["localhost"] = [["127.0.0.1"], ["10.0.0.9"]]
    endpoint = subscribe(alice.client, f"http://localhost:{receiver.server.port}/hooks/caly")
    services.endpoint_test_send(endpoint=endpoint, actor=None)
    run_worker()
    [received] = receiver.received
    assert received.headers["Host"] == f"localhost:{receiver.server.port}"
    assert dns.lookups == ["localhost"]
    verified(endpoint.secret, received)


def test_old_events_and_their_log_are_pruned_unless_still_being_delivered(alice, settings):
    settings.WEBHOOK_RETENTION_DAYS = 30
    endpoint = subscribe(alice.client, "https://203.0.114.10/hooks")
    done, waiting, recent = (services.endpoint_test_send(endpoint=endpoint, actor=None) for _ in range(3))
    OutboundDelivery.objects.filter(pk=done.pk).update(status=DeliveryStatus.SUCCEEDED)
    OutboundEvent.objects.filter(pk__in=[done.event_id, waiting.event_id]).update(
        created_at=timezone.now() - timedelta(days=31)
    )
    assert retention.events_prune() == 1
    assert set(OutboundDelivery.objects.values_list("pk", flat=True)) == {waiting.pk, recent.pk}
    assert scheduler_task_paths() >= {"integrations.outbound.tasks.prune_outbound_events"}


def scheduler_task_paths() -> set[str]:
    return {job.task for job in scheduler.declared_jobs()}
