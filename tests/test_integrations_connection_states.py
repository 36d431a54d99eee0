"""Connections that tell the truth: credentials are checked with the (fake) provider when saved, the page says
"Connected" only once a check passed, required secrets are not "optional", disconnecting and new callback URLs
ask first and say what stops, and Exotel keeps its callback URLs across a disconnect."""

import html
import re

import pytest
from django.test import Client as BrowserClient

from accounts.models import AuditAction, AuditEvent
from accounts.roles import Role
from caly.foundation.errors import DomainError
from integrations.exotel.services import exotel_call_place
from integrations.models import ExotelConnection, ShopifyConnection, WebhookEvent
from tests.exotel_fake import callback_path, exotel_fixture, form, status_callback  # noqa: F401
from tests.factories import UserFactory
from tests.test_integrations_connections import ACCESS_TOKEN, API_KEY, API_TOKEN, as_user, providers  # noqa: F401

pytestmark = pytest.mark.django_db
OPTIONAL = '<span class="field-optional">(optional)</span>'


@pytest.fixture
def exotel_form(providers) -> dict:  # noqa: F811
    return {
        "exotel-account_sid": "acmeapparel1",
        "exotel-api_key": API_KEY,
        "exotel-api_token": API_TOKEN,
        "exotel-api_host": providers[0].host,
        "exotel-caller_ids": "+918047112233",
        "exotel-callback_username": "",
        "exotel-callback_password": "",
    }


SHOPIFY_FORM = {
    "shopify-shop_domain": "acme-apparel.myshopify.com",
    "shopify-access_token": ACCESS_TOKEN,
    "shopify-webhook_secret": "",
    "shopify-api_version": "",
}


def text(response) -> str:
    return html.unescape(response.content.decode())


def browser(user) -> BrowserClient:
    client = BrowserClient()
    client.force_login(user)
    return client


def card(body: str, key: str) -> str:
    """One provider's card of the integrations page."""
    match = re.search(rf'<section class="card"[^>]*data-integration="{key}">(.*?)</section>', body, re.S)
    assert match, body
    return match[1]


def status_of(body: str, key: str) -> str:
    return re.search(r'data-status="([a-z-]+)"', card(body, key))[1]


def label_of(body: str, name: str) -> str:
    return re.search(rf'<label for="id_{name}">(.*?)</label>', body, re.S)[1]


# --- checked when saved: accepted, refused, unreachable -----------------------------------------


def test_accepted_credentials_are_connected_and_say_when_they_were_checked(alice, exotel_form):
    page = browser(alice)

    body = text(page.post("/integrations/exotel/", exotel_form, follow=True))

    assert "Exotel is connected: Exotel accepted the credentials." in body
    assert status_of(body, "exotel") == "connected"
    assert re.search(r">Connected, checked <time datetime=\"[^\"]+\">\d+ \w+, \d\d:\d\d</time><", card(body, "exotel"))
    assert status_of(body, "shopify") == "none" and "Not connected" in card(body, "shopify")


def test_refused_credentials_are_said_so_and_change_nothing(alice, exotel_form, providers):  # noqa: F811
    page = browser(alice)

    response = page.post("/integrations/exotel/", {**exotel_form, "exotel-api_token": "made-up-token-123"})

    assert response.status_code == 400
    assert "Exotel refused the API key and token." in card(text(response), "exotel")
    assert status_of(text(response), "exotel") == "none"
    assert not ExotelConnection.objects.exists()
    refused = page.post("/integrations/shopify/", {**SHOPIFY_FORM, "shopify-access_token": "shpat_made_up"})
    assert refused.status_code == 400 and "Shopify refused the access token." in text(refused)
    assert not ShopifyConnection.objects.exists()


@pytest.mark.parametrize("failure", [503, "stall"])
def test_credentials_saved_while_exotel_cannot_be_reached_are_not_connected(alice, exotel_form, providers, failure):  # noqa: F811
    exotel = providers[0]
    exotel.script(f"/v1/Accounts/{exotel.account_sid}/Calls.json", failure)
    page = browser(alice)

    body = text(page.post("/integrations/exotel/", exotel_form, follow=True))

    connection = ExotelConnection.objects.get()
    assert connection.verified_at is None and connection.check_status == "failed"
    assert "Exotel is not connected until a check passes." in body
    assert status_of(body, "exotel") == "check-failed" and "Not connected: checking failed" in body
    assert ">Connected" not in card(body, "exotel")

    # Exotel answers again: a test connects it.
    body = text(page.post("/integrations/exotel/test/", follow=True))
    assert status_of(body, "exotel") == "connected"


def test_a_later_check_exotel_refuses_takes_connected_away(alice, exotel_form, providers):  # noqa: F811
    page = browser(alice)
    page.post("/integrations/exotel/", exotel_form)
    providers[0].api_token = "the-token-was-changed-in-exotel"

    body = text(page.post("/integrations/exotel/test/", follow=True))

    assert "Exotel: Exotel refused the API key and token." in body
    assert status_of(body, "exotel") == "check-failed" and ">Connected" not in card(body, "exotel")


def test_the_wizard_is_honest_about_what_is_connected(client_a, exotel_form, providers):  # noqa: F811
    owner = UserFactory(email="owner@acme.example", client=client_a, role=Role.OWNER)
    page = browser(owner)
    page.post("/accounts/onboarding/company/", {"name": "Acme", "timezone": "Asia/Kolkata", "country": "IN"})
    providers[0].script(f"/v1/Accounts/{providers[0].account_sid}/Calls.json", 503)

    body = text(page.post("/accounts/onboarding/exotel/", exotel_form, follow=True))
    assert "Exotel is not connected until a check passes." in body
    assert 'data-status="check-failed"' in body and "Not connected yet" in body
    page.post("/accounts/onboarding/shopify/", SHOPIFY_FORM)  # Shopify accepts

    done = text(page.get("/accounts/onboarding/done/"))
    assert "All done" not in done and "Left to do" in done
    assert "Exotel not connected: its credentials are saved but Exotel has not accepted them yet" in done
    assert re.search(r'data-provider="shopify">Shopify:\s*<span class="badge badge-ok" data-status="connected">', done)
    exotel_state = r'data-provider="exotel">Exotel:\s*<span class="badge badge-bad" data-status="check-failed">'
    assert re.search(exotel_state, done)

    page.post("/integrations/exotel/test/")  # Exotel answers now
    done = text(page.get("/accounts/onboarding/done/"))
    assert "All done" in done and "Exotel and Shopify are connected" in done


# --- required fields ----------------------------------------------------------------------------


def test_required_secrets_are_not_labelled_optional(alice, exotel_form):
    page = browser(alice)

    body = text(page.get("/integrations/"))
    assert OPTIONAL not in label_of(body, "exotel-api_key") and OPTIONAL not in label_of(body, "exotel-api_token")
    assert OPTIONAL not in label_of(body, "shopify-access_token")
    assert OPTIONAL in label_of(body, "exotel-callback_username")  # truly optional
    missing = page.post("/integrations/exotel/", {**exotel_form, "exotel-api_key": "", "exotel-api_token": ""})
    assert missing.status_code == 400 and text(missing).count("This field is required.") == 2
    assert not ExotelConnection.objects.exists()

    page.post("/integrations/exotel/", exotel_form)
    body = text(page.get("/integrations/"))
    assert OPTIONAL not in label_of(body, "exotel-api_key")  # stored: left empty, it is kept
    assert "Set (ends …5e4f). Leave empty to keep it." in body
    wizard = text(page.get("/accounts/onboarding/exotel/"))
    assert OPTIONAL not in label_of(wizard, "exotel-api_token") and "Leave empty to keep it." in wizard


# --- disconnecting asks first; the callback URLs stay ------------------------------------------


def test_disconnecting_exotel_asks_first_and_says_what_stops(alice, exotel_form):
    page = browser(alice)
    page.post("/integrations/exotel/", exotel_form)
    integrations = text(page.get("/integrations/"))
    assert 'href="/integrations/exotel/disconnect/"' in integrations  # a link to the confirmation, not a POST

    asked = page.get("/integrations/exotel/disconnect/")

    body = text(asked)
    assert asked.status_code == 200 and "Disconnect Exotel?" in body
    assert "New calls are no longer received" in body and "Recordings are no longer fetched" in body
    assert "The callback URLs stay the same" in body
    assert '<input type="hidden" name="confirm" value="disconnect">' in body
    for refused in ({}, {"confirm": "yes"}, {"confirm": "rotate"}):
        again = page.post("/integrations/exotel/disconnect/", refused)
        assert again.status_code == 400 and "Disconnect Exotel?" in text(again)
    assert ExotelConnection.objects.get().state == "verified"
    assert not AuditEvent.objects.filter(action=AuditAction.INTEGRATION_DISCONNECTED).exists()


def test_reconnecting_exotel_keeps_the_callback_urls(alice, client, exotel_form):
    page = browser(alice)
    page.post("/integrations/exotel/", exotel_form)
    before = ExotelConnection.objects.get()
    urls = re.findall(r'value="(http[^"]+/(?:status-callback|passthru))"', text(page.get("/integrations/")))
    assert len(urls) == 2

    body = text(page.post("/integrations/exotel/disconnect/", {"confirm": "disconnect"}, follow=True))

    assert "Exotel is disconnected." in body and status_of(body, "exotel") == "disconnected"
    assert all(url in body for url in urls)  # shown, to keep in Exotel
    assert "Test connection" not in card(body, "exotel") and "Disconnect Exotel" not in card(body, "exotel")
    disconnected = ExotelConnection.objects.get()
    assert (disconnected.api_key, disconnected.api_token, disconnected.verified_at) == ("", "", None)
    # Callbacks are refused meanwhile, and nothing acts on Exotel's behalf.
    delivery = form(status_callback())
    kind = "application/x-www-form-urlencoded"
    assert client.post(callback_path(before), delivery, content_type=kind).status_code == 404
    assert not WebhookEvent.objects.exists()
    with pytest.raises(DomainError, match="Exotel is not connected"):
        exotel_call_place(client=alice.client, actor=alice, to_number="+919812345678", from_number="+919876543210")
    assert page.post("/integrations/exotel/test/", follow=True).redirect_chain == [("/integrations/", 302)]
    assert page.get("/integrations/exotel/disconnect/").status_code == 302  # nothing to disconnect

    body = text(page.post("/integrations/exotel/", exotel_form, follow=True))

    after = ExotelConnection.objects.get()
    assert status_of(body, "exotel") == "connected"
    assert (after.pk, after.public_id, after.webhook_token) == (before.pk, before.public_id, before.webhook_token)
    assert all(url in body for url in urls)
    assert client.post(callback_path(after), delivery, content_type=kind).status_code == 200
    actions = list(AuditEvent.objects.order_by("pk").values_list("action", flat=True))
    assert actions[-2:] == [AuditAction.INTEGRATION_DISCONNECTED, AuditAction.INTEGRATION_CONNECTED]


def test_reconnecting_with_the_secrets_left_empty_is_refused(alice, exotel_form):
    page = browser(alice)
    page.post("/integrations/exotel/", exotel_form)
    page.post("/integrations/exotel/disconnect/", {"confirm": "disconnect"})

    response = page.post("/integrations/exotel/", {**exotel_form, "exotel-api_key": "", "exotel-api_token": ""})

    assert response.status_code == 400 and "This field is required." in text(response)
    assert ExotelConnection.objects.get().state == "disconnected"


def test_new_callback_urls_ask_first_and_only_then_change(alice, exotel_form):
    page = browser(alice)
    page.post("/integrations/exotel/", exotel_form)
    token = ExotelConnection.objects.get().webhook_token
    assert 'href="/integrations/exotel/rotate-token/"' in text(page.get("/integrations/"))

    asked = text(page.get("/integrations/exotel/rotate-token/"))
    assert "Make new callback URLs?" in asked and "new calls are not received" in asked
    assert page.post("/integrations/exotel/rotate-token/", {"confirm": "disconnect"}).status_code == 400
    assert ExotelConnection.objects.get().webhook_token == token
    page.post("/integrations/exotel/rotate-token/", {"confirm": "rotate"})
    assert ExotelConnection.objects.get().webhook_token != token


def test_the_api_shows_a_disconnected_exotel_with_its_urls_and_a_put_reconnects_it(as_user, alice, providers):  # noqa: F811
    api = as_user(alice)
    body = {"account_sid": "acmeapparel1", "api_key": API_KEY, "api_token": API_TOKEN, "api_host": providers[0].host}
    urls = api.put("/api/v1/integrations/exotel", body, format="json").json()["data"]["callback_urls"]
    assert api.delete("/api/v1/integrations/exotel").status_code == 204

    shown = api.get("/api/v1/integrations/exotel").json()["data"]
    assert shown["status"] == "disconnected" and shown["callback_urls"] == urls
    again = api.put("/api/v1/integrations/exotel", body, format="json")
    assert again.status_code == 200 and again.json()["data"]["status"] == "verified"
    assert again.json()["data"]["callback_urls"] == urls


# --- roles --------------------------------------------------------------------------------------

ACTIONS = [
    ("GET", "/integrations/exotel/disconnect/", {}),
    ("POST", "/integrations/exotel/disconnect/", {"confirm": "disconnect"}),
    ("GET", "/integrations/exotel/rotate-token/", {}),
    ("POST", "/integrations/exotel/rotate-token/", {"confirm": "rotate"}),
    ("POST", "/integrations/exotel/test/", {}),
    ("GET", "/integrations/shopify/disconnect/", {}),
    ("POST", "/integrations/shopify/disconnect/", {"confirm": "disconnect"}),
]


@pytest.mark.parametrize(("method", "path", "data"), ACTIONS)
@pytest.mark.parametrize(("role", "allowed"), [("owner", True), ("admin", True), ("agent", False), ("viewer", False)])
def test_only_admins_and_owners_act_on_connections(client_a, exotel_form, method, path, data, role, allowed):
    owner = UserFactory(email="owner@acme.example", client=client_a, role=Role.OWNER)
    browser(owner).post("/integrations/exotel/", exotel_form)
    browser(owner).post("/integrations/shopify/", SHOPIFY_FORM)
    before = list(ExotelConnection.objects.values_list("webhook_token", "disconnected_at"))
    user = owner if role == "owner" else UserFactory(email=f"{role}@acme.example", client=client_a, role=role)

    response = getattr(browser(user), method.lower())(path, data)

    if allowed:
        assert response.status_code == (200 if method == "GET" else 302)
    else:
        assert response.status_code == 403
        assert list(ExotelConnection.objects.values_list("webhook_token", "disconnected_at")) == before
        assert ShopifyConnection.objects.exists()
