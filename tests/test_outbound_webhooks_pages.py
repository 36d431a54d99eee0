"""The webhook endpoints section (/developers/webhooks/), with Django's test client: admins and owners
add endpoints (the secret shows once), see it again, rotate it, disable, enable, delete with a
confirmation, send a test event and redeliver; everyone else gets the 403 page."""

import html

import pytest
from django.test import Client as BrowserClient

from accounts.roles import Role
from integrations.outbound import services
from integrations.outbound.models import EVENT_TYPES, DeliveryStatus, OutboundDelivery, WebhookEndpoint
from tests.factories import UserFactory

pytestmark = pytest.mark.django_db
PAGE = "/developers/webhooks/"


def text(response) -> str:
    return html.unescape(response.content.decode())


def browser(user) -> BrowserClient:
    client = BrowserClient()
    client.force_login(user)
    return client


def subscribe(client) -> WebhookEndpoint:
    return services.endpoint_create(
        client=client, actor=None, url="https://203.0.114.10/hooks", event_types=list(EVENT_TYPES)
    )


def test_it_shows_the_section_to_admins_and_owners_only(alice, bob, client_a):
    admin = UserFactory(email="ada@acme.example", client=client_a, role=Role.ADMIN)
    for user in (alice, admin):
        response = browser(user).get(PAGE)
        assert response.status_code == 200
        assert "Webhook endpoints" in text(response) and "Add an endpoint" in text(response)
    assert browser(bob).get(PAGE).status_code == 403
    assert BrowserClient().get(PAGE).status_code == 302  # to the sign-in page


def test_adding_an_endpoint_shows_its_secret_once(alice):
    page = browser(alice)
    response = page.post(
        f"{PAGE}endpoints/",
        {
            "endpoint-url": "https://203.0.114.10/hooks",
            "endpoint-description": "CRM",
            "endpoint-event_types": ["call.completed"],
        },
    )
    assert response.status_code == 201
    endpoint = WebhookEndpoint.objects.get()
    assert endpoint.event_types == ["call.completed"] and endpoint.description == "CRM"
    assert endpoint.secret in text(response) and response["Cache-Control"] == "no-store"
    assert endpoint.secret not in text(page.get(PAGE))  # not on the page again unless asked for
    shown = page.post(f"{PAGE}{endpoint.public_id}/secret/")
    assert shown.status_code == 200 and endpoint.secret in text(shown)


@pytest.mark.parametrize(
    ("form", "message"),
    [
        ({"endpoint-url": "http://example.com/hooks"}, "Webhooks are sent over https only."),
        ({"endpoint-url": "https://10.0.0.8/hooks"}, "not a public address"),
        ({"endpoint-event_types": ["call.deleted"]}, "Select a valid choice"),
        ({"endpoint-event_types": []}, "This field is required."),
        ({"endpoint-description": "x" * 501}, "at most 500 characters"),
    ],
)
def test_a_bad_endpoint_is_a_form_error_and_nothing_is_stored(alice, settings, form, message):
    settings.OUTBOUND_WEBHOOK_ALLOW_LOOPBACK = False
    data = {"endpoint-url": "https://203.0.114.10/hooks", "endpoint-event_types": ["call.created"], **form}
    response = browser(alice).post(f"{PAGE}endpoints/", data)
    assert response.status_code == 400 and message in text(response)
    assert not WebhookEndpoint.objects.exists()


def test_rotating_shows_the_new_secret_and_keeps_the_old_one_signing_for_a_while(alice):
    endpoint = subscribe(alice.client)
    old = endpoint.secret
    response = browser(alice).post(f"{PAGE}{endpoint.public_id}/rotate/")
    endpoint.refresh_from_db()
    assert response.status_code == 200 and endpoint.secret != old and endpoint.secret in text(response)
    assert endpoint.previous_secret == old and "with the old secret too" in text(response)


def test_disable_enable_and_delete_with_a_confirmation(alice):
    endpoint = subscribe(alice.client)
    page = browser(alice)
    assert page.post(f"{PAGE}{endpoint.public_id}/disable/").status_code == 302
    endpoint.refresh_from_db()
    assert not endpoint.is_enabled and "Disabled" in text(page.get(PAGE))
    page.post(f"{PAGE}{endpoint.public_id}/enable/")
    endpoint.refresh_from_db()
    assert endpoint.is_enabled
    unconfirmed = page.post(f"{PAGE}{endpoint.public_id}/delete/", follow=True)
    assert "Tick the box" in text(unconfirmed) and WebhookEndpoint.objects.exists()
    page.post(f"{PAGE}{endpoint.public_id}/delete/", {"confirm": "yes"})
    assert not WebhookEndpoint.objects.exists()


def test_send_test_and_redeliver_queue_deliveries_shown_in_the_log(alice):
    endpoint = subscribe(alice.client)
    page = browser(alice)
    response = page.post(f"{PAGE}{endpoint.public_id}/test/", follow=True)
    delivery = OutboundDelivery.objects.get()
    assert delivery.event.type == "webhook.test" and delivery.status == DeliveryStatus.PENDING
    assert "A test event is on its way" in text(response) and delivery.event.webhook_id in text(response)
    page.post(f"{PAGE}deliveries/{delivery.public_id}/redeliver/")
    again = OutboundDelivery.objects.exclude(pk=delivery.pk).get()
    assert again.event == delivery.event and again.is_manual


def test_another_companys_endpoint_is_not_found(alice, charlie):
    endpoint = subscribe(alice.client)
    page = browser(charlie)
    for action in ("secret", "rotate", "disable", "enable", "test"):
        assert page.post(f"{PAGE}{endpoint.public_id}/{action}/").status_code == 404
    assert page.post(f"{PAGE}{endpoint.public_id}/delete/", {"confirm": "yes"}).status_code == 404
    assert endpoint.secret not in text(page.get(PAGE))
    endpoint.refresh_from_db()
    assert endpoint.is_enabled and WebhookEndpoint.objects.count() == 1


def test_staff_see_endpoints_and_deliveries_read_only_without_secrets(client, staff, alice):
    endpoint = subscribe(alice.client)
    delivery = services.endpoint_test_send(endpoint=endpoint, actor=None)
    client.force_login(staff)
    for page in (
        "/admin/integrations/webhookendpoint/",
        f"/admin/integrations/webhookendpoint/{endpoint.pk}/change/",
        "/admin/integrations/outbounddelivery/?status__exact=pending",
        f"/admin/integrations/outbounddelivery/{delivery.pk}/change/",
    ):
        response = client.get(page)
        assert response.status_code == 200, page
        assert endpoint.secret not in text(response)
    assert client.get("/admin/integrations/webhookendpoint/add/").status_code == 403
