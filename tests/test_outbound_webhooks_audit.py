"""The audit log of webhook endpoints: each change made through the API or the page is one entry with
its actor, client and what changed; an endpoint disabled by the sender has no actor and says why; a
refused change writes nothing; and no entry ever holds a signing secret."""

from __future__ import annotations

import json
from datetime import timedelta

import pytest
from django.test import Client as BrowserClient
from django.utils import timezone

from accounts import jwt
from accounts.models import AuditAction, AuditEvent
from integrations.outbound import sending, services
from integrations.outbound.models import DisabledReason, OutboundDelivery, WebhookEndpoint
from tests.webhook_receiver import Answer, receiver_fixture  # noqa: F401

pytestmark = pytest.mark.django_db
URL = "https://203.0.114.10/hooks"
PAGE = "/developers/webhooks/"


def signed_in(api, user):
    api.credentials(HTTP_AUTHORIZATION=f"Bearer {jwt.family_start(user=user).access}")
    return api


def browser(user) -> BrowserClient:
    page = BrowserClient()
    page.force_login(user)
    return page


def subscribe(client, url=URL, event_types=("call.created",)) -> WebhookEndpoint:
    return services.endpoint_create(
        client=client, actor=None, url=url, event_types=list(event_types), description="CRM"
    )


def entries(action=None) -> list[AuditEvent]:
    """The webhook entries (of one action), leaving out the creations `subscribe` made with no actor."""
    events = AuditEvent.objects.filter(action__startswith="webhook_").order_by("pk")
    events = events.exclude(action=AuditAction.WEBHOOK_ENDPOINT_CREATED, actor=None)
    return list(events.filter(action=action) if action else events)


def only(action) -> AuditEvent:
    """The one entry for `action`, after checking that no entry of any kind holds a secret."""
    for event in entries():
        stored = json.dumps([event.metadata, event.target_type, event.target_id, event.user_agent, event.request_id])
        assert "whsec_" not in stored
        for endpoint in WebhookEndpoint.objects.all():
            assert endpoint.secret not in stored
            assert not endpoint.previous_secret or endpoint.previous_secret not in stored
    [event] = entries(action)
    return event


# --- through the API -------------------------------------------------------------------------------


def test_it_audits_a_new_endpoint_with_its_url_events_and_description_but_not_its_secret(api, alice, client_a):
    response = signed_in(api, alice).post(
        "/api/v1/webhook-endpoints",
        {"url": URL, "event_types": ["recording.stored", "call.completed"], "description": "CRM sync"},
        format="json",
    )
    assert response.status_code == 201, response.content
    secret = response.json()["data"]["secret"]
    event = only(AuditAction.WEBHOOK_ENDPOINT_CREATED)
    assert (event.client, event.actor) == (client_a, alice)
    assert (event.target_type, event.target_id) == ("webhookendpoint", response.json()["data"]["id"])
    assert event.metadata == {
        "url": URL,
        "event_types": ["call.completed", "recording.stored"],
        "description": "CRM sync",
    }
    assert secret not in json.dumps(event.metadata) and len(entries()) == 1


def test_it_audits_a_change_with_the_old_and_new_values_of_what_changed_only(api, alice, client_a):
    endpoint = subscribe(client_a)
    response = signed_in(api, alice).patch(
        f"/api/v1/webhook-endpoints/{endpoint.public_id}",
        {
            "url": "https://203.0.114.11/caly",
            "description": "CRM",  # unchanged: not in the entry
            "event_types": ["call.created", "customer.linked"],
        },
        format="json",
    )
    assert response.status_code == 200, response.content
    event = only(AuditAction.WEBHOOK_ENDPOINT_UPDATED)
    assert (event.client, event.actor, event.target_id) == (client_a, alice, str(endpoint.public_id))
    assert event.metadata == {
        "url": {"old": URL, "new": "https://203.0.114.11/caly"},
        "event_types": {"old": ["call.created"], "new": ["call.created", "customer.linked"]},
    }
    assert len(entries()) == 1  # not enabled, not disabled: nothing else


def test_a_change_to_the_same_values_writes_no_entry(api, alice, client_a):
    endpoint = subscribe(client_a)
    response = signed_in(api, alice).patch(
        f"/api/v1/webhook-endpoints/{endpoint.public_id}",
        {"url": URL, "description": " CRM ", "event_types": ["call.created"], "enabled": True},
        format="json",
    )
    assert response.status_code == 200 and entries() == []


@pytest.mark.parametrize(
    "body",
    [
        {"url": "http://203.0.114.10/hooks"},
        {"url": "https://10.1.2.3/hooks", "enabled": False},
        {"event_types": ["call.deleted"], "description": "new"},
        {"description": "d" * 501, "enabled": False},
        {"enabled": "sometimes"},
    ],
    ids=["http", "private address", "unknown event", "long description", "not a boolean"],
)
def test_a_refused_change_writes_no_entry_and_changes_nothing(api, alice, client_a, settings, body):
    settings.OUTBOUND_WEBHOOK_ALLOW_LOOPBACK = False
    endpoint = subscribe(client_a)
    before = WebhookEndpoint.objects.values().get()
    response = signed_in(api, alice).patch(f"/api/v1/webhook-endpoints/{endpoint.public_id}", body, format="json")
    assert response.status_code == 400, response.content
    assert entries() == [] and WebhookEndpoint.objects.values().get() == before


def test_it_audits_disabling_and_enabling_by_a_person(api, alice, client_a):
    endpoint = subscribe(client_a)
    signed_in(api, alice)
    path = f"/api/v1/webhook-endpoints/{endpoint.public_id}"
    assert api.patch(path, {"enabled": False}, format="json").status_code == 200
    assert api.patch(path, {"enabled": False}, format="json").status_code == 200  # already off: no entry
    off = only(AuditAction.WEBHOOK_ENDPOINT_DISABLED)
    assert (off.client, off.actor, off.target_id) == (client_a, alice, str(endpoint.public_id))
    assert off.metadata == {"url": URL, "reason": "manual"}
    assert api.patch(path, {"enabled": True}, format="json").status_code == 200
    on = only(AuditAction.WEBHOOK_ENDPOINT_ENABLED)
    assert (on.client, on.actor) == (client_a, alice)
    assert on.metadata == {"url": URL, "was_disabled": "manual"}
    assert len(entries()) == 2


def test_a_change_and_a_disable_in_one_request_are_two_entries(api, alice, client_a):
    endpoint = subscribe(client_a)
    response = signed_in(api, alice).patch(
        f"/api/v1/webhook-endpoints/{endpoint.public_id}", {"description": "Old CRM", "enabled": False}, format="json"
    )
    assert response.status_code == 200
    assert [event.action for event in entries()] == [
        AuditAction.WEBHOOK_ENDPOINT_UPDATED,
        AuditAction.WEBHOOK_ENDPOINT_DISABLED,
    ]
    assert only(AuditAction.WEBHOOK_ENDPOINT_UPDATED).metadata == {"description": {"old": "CRM", "new": "Old CRM"}}


def test_it_audits_a_rotation_without_either_secret(api, alice, client_a):
    endpoint = subscribe(client_a)
    old = endpoint.secret
    response = signed_in(api, alice).post(
        f"/api/v1/webhook-endpoints/{endpoint.public_id}/rotate-secret", {"overlap_hours": 6}, format="json"
    )
    assert response.status_code == 200, response.content
    endpoint.refresh_from_db()
    assert endpoint.previous_secret == old and endpoint.secret == response.json()["data"]["secret"]
    event = only(AuditAction.WEBHOOK_SECRET_ROTATED)  # checks neither secret is in it
    assert (event.client, event.actor, event.target_id) == (client_a, alice, str(endpoint.public_id))
    assert event.metadata == {
        "url": URL,
        "overlap_hours": 6,
        "previous_secret_expires_at": endpoint.previous_secret_expires_at.isoformat(),
    }


def test_a_refused_rotation_writes_no_entry(api, alice, client_a):
    endpoint = subscribe(client_a)
    response = signed_in(api, alice).post(
        f"/api/v1/webhook-endpoints/{endpoint.public_id}/rotate-secret", {"overlap_hours": 10_000}, format="json"
    )
    assert response.status_code == 400 and entries() == []


def test_it_audits_each_reading_of_the_secret(api, alice, client_a):
    endpoint = subscribe(client_a)
    response = signed_in(api, alice).get(f"/api/v1/webhook-endpoints/{endpoint.public_id}/secret")
    assert response.status_code == 200 and response.json()["data"]["secret"] == endpoint.secret
    event = only(AuditAction.WEBHOOK_SECRET_REVEALED)
    assert (event.client, event.actor, event.target_id) == (client_a, alice, str(endpoint.public_id))
    assert event.metadata == {"url": URL}
    api.get(f"/api/v1/webhook-endpoints/{endpoint.public_id}/secret")
    assert len(entries(AuditAction.WEBHOOK_SECRET_REVEALED)) == 2


def test_it_audits_a_deletion_with_what_the_endpoint_was_and_its_log_size(api, alice, client_a):
    endpoint = subscribe(client_a)
    for _ in range(2):
        services.endpoint_test_send(endpoint=endpoint, actor=alice)
    response = signed_in(api, alice).delete(f"/api/v1/webhook-endpoints/{endpoint.public_id}")
    assert response.status_code == 204 and not WebhookEndpoint.objects.exists()
    event = only(AuditAction.WEBHOOK_ENDPOINT_DELETED)
    assert (event.client, event.actor, event.target_id) == (client_a, alice, str(endpoint.public_id))
    assert event.metadata == {"url": URL, "event_types": ["call.created"], "description": "CRM", "deliveries": 2}


def test_it_audits_a_test_event_with_its_delivery(api, alice, client_a):
    endpoint = subscribe(client_a)
    response = signed_in(api, alice).post(f"/api/v1/webhook-endpoints/{endpoint.public_id}/test")
    assert response.status_code == 202, response.content
    event = only(AuditAction.WEBHOOK_TEST_SENT)
    assert (event.client, event.actor, event.target_id) == (client_a, alice, str(endpoint.public_id))
    assert event.metadata == {"url": URL, "delivery_id": response.json()["data"]["id"]}


def test_it_audits_a_redelivery_on_the_delivery_asked_for(api, alice, client_a):
    endpoint = subscribe(client_a)
    [event] = services.events_emit(
        client_id=client_a.pk, event_types=["call.created"], object_id=None, data=lambda: {"id": "x"}
    )
    delivery = OutboundDelivery.objects.get()
    response = signed_in(api, alice).post(f"/api/v1/webhook-deliveries/{delivery.public_id}/redeliver")
    assert response.status_code == 202, response.content
    entry = only(AuditAction.WEBHOOK_REDELIVERY_REQUESTED)
    assert (entry.client, entry.actor) == (client_a, alice)
    assert (entry.target_type, entry.target_id) == ("outbounddelivery", str(delivery.public_id))
    assert entry.metadata == {
        "url": URL,
        "endpoint_id": str(endpoint.public_id),
        "event_type": "call.created",
        "webhook_id": event.webhook_id,
        "redelivery_id": response.json()["data"]["id"],
    }


def test_refused_requests_write_no_entry(api, bob, charlie, client_a):
    endpoint = subscribe(client_a)
    services.events_emit(client_id=client_a.pk, event_types=["call.created"], object_id=None, data=lambda: {})
    delivery = OutboundDelivery.objects.get()
    base = f"/api/v1/webhook-endpoints/{endpoint.public_id}"
    for user, status in ((bob, 403), (charlie, 404)):
        signed_in(api, user)
        assert api.get(f"{base}/secret").status_code == status
        assert api.patch(base, {"enabled": False}, format="json").status_code == status
        assert api.post(f"{base}/rotate-secret", {}, format="json").status_code == status
        assert api.post(f"{base}/test").status_code == status
        assert api.post(f"/api/v1/webhook-deliveries/{delivery.public_id}/redeliver").status_code == status
        assert api.delete(base).status_code == status
    assert entries() == [] and WebhookEndpoint.objects.get().is_enabled


# --- through the page ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("action", "audited", "metadata"),
    [
        ("secret", AuditAction.WEBHOOK_SECRET_REVEALED, {"url": URL}),
        ("disable", AuditAction.WEBHOOK_ENDPOINT_DISABLED, {"url": URL, "reason": "manual"}),
        ("rotate", AuditAction.WEBHOOK_SECRET_ROTATED, {"url": URL, "overlap_hours": 24}),
        ("test", AuditAction.WEBHOOK_TEST_SENT, {"url": URL}),
    ],
)
def test_the_page_audits_what_an_admin_does(alice, client_a, action, audited, metadata):
    endpoint = subscribe(client_a)
    response = browser(alice).post(f"{PAGE}{endpoint.public_id}/{action}/")
    assert response.status_code in (200, 302)
    event = only(audited)
    assert (event.client, event.actor, event.target_id) == (client_a, alice, str(endpoint.public_id))
    assert metadata.items() <= event.metadata.items() and len(entries()) == 1


def test_the_page_audits_enabling_deleting_and_redelivering(alice, client_a):
    endpoint = subscribe(client_a)
    page = browser(alice)
    page.post(f"{PAGE}{endpoint.public_id}/disable/")
    page.post(f"{PAGE}{endpoint.public_id}/enable/")
    assert only(AuditAction.WEBHOOK_ENDPOINT_ENABLED).actor == alice
    page.post(f"{PAGE}{endpoint.public_id}/test/")
    delivery = OutboundDelivery.objects.get()
    page.post(f"{PAGE}deliveries/{delivery.public_id}/redeliver/")
    assert only(AuditAction.WEBHOOK_REDELIVERY_REQUESTED).target_id == str(delivery.public_id)
    page.post(f"{PAGE}{endpoint.public_id}/delete/")  # not confirmed: nothing deleted, nothing audited
    assert entries(AuditAction.WEBHOOK_ENDPOINT_DELETED) == []
    page.post(f"{PAGE}{endpoint.public_id}/delete/", {"confirm": "yes"})
    deleted = only(AuditAction.WEBHOOK_ENDPOINT_DELETED)
    assert (deleted.actor, deleted.metadata["deliveries"]) == (alice, 2)
    assert [event.action for event in entries()] == [
        AuditAction.WEBHOOK_ENDPOINT_DISABLED,
        AuditAction.WEBHOOK_ENDPOINT_ENABLED,
        AuditAction.WEBHOOK_TEST_SENT,
        AuditAction.WEBHOOK_REDELIVERY_REQUESTED,
        AuditAction.WEBHOOK_ENDPOINT_DELETED,
    ]


def test_the_page_audits_a_new_endpoint(alice, client_a):
    response = browser(alice).post(
        f"{PAGE}endpoints/",
        {"endpoint-url": URL, "endpoint-description": "CRM", "endpoint-event_types": ["call.completed"]},
    )
    assert response.status_code == 201
    event = only(AuditAction.WEBHOOK_ENDPOINT_CREATED)
    assert (event.client, event.actor) == (client_a, alice)
    assert event.metadata == {"url": URL, "event_types": ["call.completed"], "description": "CRM"}


def test_a_refused_new_endpoint_writes_no_entry(alice, settings):
    settings.OUTBOUND_WEBHOOK_MAX_ENDPOINTS = 0
    response = browser(alice).post(f"{PAGE}endpoints/", {"endpoint-url": URL, "endpoint-event_types": ["call.created"]})
    assert response.status_code == 400 and entries() == [] and not WebhookEndpoint.objects.exists()


# --- disabled by the sender ------------------------------------------------------------------------


def emit_and_attempt(client) -> None:
    services.events_emit(client_id=client.pk, event_types=["call.created"], object_id=None, data=lambda: {})
    sending.delivery_attempt(delivery_id=OutboundDelivery.objects.get().pk, attempt=1)


def test_a_410_disables_the_endpoint_with_no_actor_and_the_reason(client_a, receiver):
    endpoint = subscribe(client_a, receiver.url())
    receiver.answer(Answer(410, "gone"))
    emit_and_attempt(client_a)
    endpoint.refresh_from_db()
    assert not endpoint.is_enabled and endpoint.disabled_reason == DisabledReason.GONE
    event = only(AuditAction.WEBHOOK_ENDPOINT_DISABLED)
    assert (event.client, event.actor, event.target_id) == (client_a, None, str(endpoint.public_id))
    assert event.metadata == {"url": receiver.url(), "reason": "gone", "message": "The endpoint answered 410 Gone."}


def test_persistent_failure_disables_the_endpoint_with_no_actor_and_the_reason(client_a, receiver):
    endpoint = subscribe(client_a, receiver.url())
    WebhookEndpoint.objects.filter(pk=endpoint.pk).update(failing_since=timezone.now() - timedelta(days=6))
    receiver.answer(Answer(500, "down"))
    emit_and_attempt(client_a)
    event = only(AuditAction.WEBHOOK_ENDPOINT_DISABLED)
    assert (event.client, event.actor) == (client_a, None)
    assert event.metadata == {
        "url": receiver.url(),
        "reason": "failing",
        "message": "Every delivery has failed for over 5 days.",
    }


def test_a_delivery_that_fails_its_last_attempt_audits_the_disable_once(client_a, receiver, settings):
    settings.OUTBOUND_WEBHOOK_RETRY_SCHEDULE_SECONDS = [0]
    subscribe(client_a, receiver.url())
    receiver.answer(Answer(500, "down"))
    emit_and_attempt(client_a)
    sending.delivery_attempt(delivery_id=OutboundDelivery.objects.get().pk, attempt=1)  # a task run twice
    event = only(AuditAction.WEBHOOK_ENDPOINT_DISABLED)
    assert event.actor is None and event.metadata["reason"] == "failing"
    assert event.metadata["message"].startswith("A delivery failed 1 times")
