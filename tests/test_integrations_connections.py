"""Connections: secrets encrypted at rest and write-only through the API, key rotation, audit,
roles and tenant isolation of /api/v1/integrations/…

Credentials are checked with the provider as they are saved: the fake Exotel and Shopify on
127.0.0.1 answer to the credentials below."""

import logging
import time
from io import StringIO

import pytest
import time_machine
from cryptography.fernet import Fernet
from django.core.management import CommandError, call_command
from django.db import connection as db

from accounts import jwt
from accounts.models import AuditAction, AuditEvent
from accounts.roles import Role
from integrations import crypto
from integrations.exotel.credentials import exotel_connection_save
from integrations.models import ExotelConnection, ShopifyConnection
from integrations.services import SHOP_NOT_AVAILABLE
from integrations.shopify.credentials import shopify_connection_save
from tests import shopify_fake
from tests.exotel_fake import exotel_fixture  # noqa: F401
from tests.factories import UserFactory

API_KEY = "exotel-api-key-0f1e2d3c4b5a"
API_TOKEN = "exotel-api-token-9a8b7c6d5e4f"
ACCESS_TOKEN = "shpat_0123456789abcdef0123456789abcdef"
WEBHOOK_SECRET = "shopify-webhook-secret-77aa88bb99cc"
SECRETS = (API_KEY, API_TOKEN, ACCESS_TOKEN, WEBHOOK_SECRET, "callback-pass-12345678")


@pytest.fixture
def as_user(api):
    def _as(user):
        api.credentials(HTTP_AUTHORIZATION=f"Bearer {jwt.family_start(user=user).access}")
        return api

    return _as


@pytest.fixture
def providers(exotel, settings):
    """The fake Exotel and Shopify, answering to this module's credentials."""
    exotel.api_key, exotel.api_token = API_KEY, API_TOKEN
    with shopify_fake.serve(settings) as shopify:
        shopify.token = ACCESS_TOKEN
        yield exotel, shopify


@pytest.fixture
def exotel_body(providers) -> dict:
    return {
        "account_sid": "acmeapparel1",
        "api_key": API_KEY,
        "api_token": API_TOKEN,
        "api_host": providers[0].host,
        "caller_ids": ["+918047112233"],
    }


@pytest.fixture
def exotel_saved(client_a, alice, exotel_body):
    return exotel_connection_save(client=client_a, actor=alice, **exotel_body)


@pytest.fixture
def shopify_saved(client_a, alice, providers):
    return shopify_connection_save(
        client=client_a,
        actor=alice,
        shop_domain="acme-apparel.myshopify.com",
        access_token=ACCESS_TOKEN,
        webhook_secret=WEBHOOK_SECRET,
    )


def raw_rows(table: str) -> list[tuple]:
    with db.cursor() as cursor:
        cursor.execute(f"SELECT * FROM {table}")  # noqa: S608 - a fixed table name
        return cursor.fetchall()


# --- encryption at rest ------------------------------------------------------------------------


@pytest.mark.django_db
def test_the_database_holds_no_plaintext_secret(exotel_saved, shopify_saved):
    exotel_connection_save(
        client=exotel_saved.client, actor=None, callback_username="exotel", callback_password="callback-pass-12345678"
    )
    stored = repr(raw_rows("integrations_exotelconnection") + raw_rows("integrations_shopifyconnection"))

    for secret in SECRETS:
        assert secret not in stored
    assert stored.count("gAAAAA") == 6  # api_key, api_token, webhook_token, callback_password, 2 Shopify
    fresh = ExotelConnection.objects.get()
    assert (fresh.api_key, fresh.api_token, fresh.callback_password) == (
        API_KEY,
        API_TOKEN,
        "callback-pass-12345678",
    )
    assert ShopifyConnection.objects.get().access_token == ACCESS_TOKEN


@pytest.mark.django_db
def test_rotation_re_encrypts_everything_with_the_first_key_idempotently(exotel_saved, shopify_saved, settings):
    old_key = settings.FIELD_ENCRYPTION_KEYS[0]
    before = raw_rows("integrations_exotelconnection")
    new_key = Fernet.generate_key().decode()
    settings.FIELD_ENCRYPTION_KEYS = [new_key, old_key]

    # Every process now has the new key first; those on the old key alone were replaced long enough ago
    # (the whole sequence, refusals included, is in tests/test_key_rotation.py).
    with time_machine.travel(time.time() + crypto.KEYRING_TTL_SECONDS + 1, tick=False):
        out = StringIO()
        call_command("rotate_encryption_keys", stdout=out)
        assert "Re-encrypted 5 secret(s) in 2 row(s); 0 already used the first key; 1 not set." in out.getvalue()
        assert raw_rows("integrations_exotelconnection") != before

        out = StringIO()
        call_command("rotate_encryption_keys", stdout=out)
        assert "Re-encrypted 0 secret(s) in 2 row(s); 5 already used the first key; 1 not set." in out.getvalue()

    settings.FIELD_ENCRYPTION_KEYS = [new_key]  # the old key is gone: everything still reads
    assert ExotelConnection.objects.get().api_token == API_TOKEN
    assert ShopifyConnection.objects.get().webhook_secret == WEBHOOK_SECRET


@pytest.mark.django_db
def test_rotation_stops_with_a_clear_error_when_no_key_can_decrypt(exotel_saved, settings):
    settings.FIELD_ENCRYPTION_KEYS = [Fernet.generate_key().decode()]

    with pytest.raises(CommandError, match="cannot be decrypted"):
        call_command("rotate_encryption_keys", stdout=StringIO())


def test_last4_shows_nothing_of_a_short_secret():
    assert crypto.last4("abcdefghijkl") == "ijkl"
    assert crypto.last4("short-one") == ""


# --- the API -----------------------------------------------------------------------------------

SHOPIFY_BODY = {
    "shop_domain": "acme-apparel.myshopify.com",
    "access_token": ACCESS_TOKEN,
    "webhook_secret": WEBHOOK_SECRET,
}


@pytest.mark.django_db
def test_an_admin_connects_exotel_and_never_sees_a_secret_again(as_user, alice, exotel_body, caplog):
    caplog.set_level(logging.DEBUG)
    api = as_user(alice)

    response = api.put("/api/v1/integrations/exotel", exotel_body, format="json")

    assert response.status_code == 200, response.json()
    data = response.json()["data"]
    assert data["account_sid"] == "acmeapparel1" and data["caller_ids"] == ["+918047112233"]
    assert data["secrets"]["api_key"] == {"is_set": True, "last4": "4b5a"}
    assert data["secrets"]["api_token"] == {"is_set": True, "last4": "5e4f"}
    assert data["secrets"]["callback_password"] == {"is_set": False, "last4": ""}
    assert (data["status"], data["check"]["status"]) == ("verified", "ok")
    assert data["check"]["message"] == "Exotel accepted the credentials."
    connection = ExotelConnection.objects.get()
    assert f"/{connection.public_id}/{connection.webhook_token}/" in data["callback_urls"]["status_callback"]
    everything = response.content.decode() + api.get("/api/v1/integrations").content.decode() + caplog.text
    for secret in (API_KEY, API_TOKEN):
        assert secret not in everything
    audit = AuditEvent.objects.get(action=AuditAction.INTEGRATION_CONNECTED)
    assert audit.metadata["provider"] == "exotel" and "api_token" in audit.metadata["changed"]
    assert API_TOKEN not in repr(audit.metadata)


@pytest.mark.django_db
def test_leaving_a_secret_empty_keeps_it_and_changes_are_audited(as_user, alice, exotel_saved):
    response = as_user(alice).patch(
        "/api/v1/integrations/exotel",
        {"api_token": "", "caller_ids": ["+918047112233", "+918047112244"]},
        format="json",
    )

    assert response.status_code == 200, response.json()
    exotel_saved.refresh_from_db()
    assert exotel_saved.api_token == API_TOKEN and len(exotel_saved.caller_ids) == 2
    audit = AuditEvent.objects.filter(action=AuditAction.INTEGRATION_UPDATED).get()
    assert audit.metadata == {"provider": "exotel", "changed": ["caller_ids"]}


@pytest.mark.django_db
def test_rotating_the_callback_token_changes_the_urls(as_user, alice, exotel_saved):
    old_token = exotel_saved.webhook_token

    response = as_user(alice).post("/api/v1/integrations/exotel/rotate-webhook-token")

    assert response.status_code == 200
    exotel_saved.refresh_from_db()
    assert exotel_saved.webhook_token != old_token
    assert old_token not in response.content.decode()
    assert exotel_saved.webhook_token in response.json()["data"]["callback_urls"]["passthru"]


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"api_host": "169.254.169.254"}, "api_host"),
        ({"api_host": "api.in.exotel.com"}, "api_host"),  # not one the tests may talk to
        ({"caller_ids": ["12345"]}, "caller_ids"),
        ({"caller_ids": "+918047112233"}, "caller_ids"),
        ({"account_sid": "bad sid!"}, "account_sid"),
        ({"api_key": ""}, "api_key"),
        ({"callback_username": "exotel"}, "callback_password"),
        ({"account_sid": None}, "account_sid"),
    ],
)
def test_invalid_exotel_settings_are_a_400_and_change_nothing(as_user, alice, exotel, exotel_body, change, field):
    body = {name: value for name, value in {**exotel_body, **change}.items() if value is not None}

    response = as_user(alice).put("/api/v1/integrations/exotel", body, format="json")

    assert response.status_code == 400, response.json()
    assert response.json()["error"]["code"] == "VALIDATION_ERROR"
    assert field in response.json()["error"]["details"]
    assert not ExotelConnection.objects.exists()
    assert not AuditEvent.objects.filter(action=AuditAction.INTEGRATION_CONNECTED).exists()
    assert exotel.requests == []  # refused before anything was sent to Exotel


@pytest.mark.django_db
def test_an_admin_connects_shopify(as_user, alice, providers):
    response = as_user(alice).put(
        "/api/v1/integrations/shopify",
        {**SHOPIFY_BODY, "shop_domain": "https://Acme-Apparel.myshopify.com/"},
        format="json",
    )

    assert response.status_code == 200, response.json()
    data = response.json()["data"]
    assert data["shop_domain"] == "acme-apparel.myshopify.com"
    assert (data["status"], data["check"]["message"]) == ("verified", "Connected to Acme Apparel")
    assert data["api_version"] == "2026-04"
    assert data["secrets"] == {
        "access_token": {"is_set": True, "last4": "cdef"},
        "webhook_secret": {"is_set": True, "last4": "99cc"},
    }
    assert data["sync"]["status"] == "" and data["webhook_url"].startswith("http")
    assert ACCESS_TOKEN not in response.content.decode() and WEBHOOK_SECRET not in response.content.decode()


@pytest.mark.django_db
@pytest.mark.parametrize(
    "body",
    [
        {**SHOPIFY_BODY, "shop_domain": "evil.example.com"},
        {**SHOPIFY_BODY, "shop_domain": "a.myshopify.com.evil.example"},
        {**SHOPIFY_BODY, "api_version": "2026-13"},
        {**SHOPIFY_BODY, "access_token": ""},
        {**SHOPIFY_BODY, "unknown": "x"},
    ],
)
def test_invalid_shopify_settings_are_a_400(as_user, alice, providers, body):
    response = as_user(alice).put("/api/v1/integrations/shopify", body, format="json")

    if "unknown" in body:  # DRF ignores unknown fields; the connection is made without them
        assert response.status_code == 200
        return
    assert response.status_code == 400, response.json()
    assert not ShopifyConnection.objects.exists()


@pytest.mark.django_db
def test_one_shop_belongs_to_one_client_and_the_refusal_names_no_one(as_user, shopify_saved, charlie):
    response = as_user(charlie).put("/api/v1/integrations/shopify", SHOPIFY_BODY, format="json")

    assert response.status_code == 409 and response.json()["error"]["code"] == "CONFLICT"
    assert response.json()["error"]["message"] == SHOP_NOT_AVAILABLE
    assert ShopifyConnection.objects.get().client == shopify_saved.client


@pytest.mark.django_db
def test_disconnecting_is_audited(as_user, alice, exotel_saved, shopify_saved):
    api = as_user(alice)
    assert api.delete("/api/v1/integrations/exotel").status_code == 204
    assert api.delete("/api/v1/integrations/shopify").status_code == 204

    assert not ShopifyConnection.objects.exists()
    assert AuditEvent.objects.filter(action=AuditAction.INTEGRATION_DISCONNECTED).count() == 2
    # Exotel keeps its row and callback URLs, its credentials wiped; nothing acts on it any more.
    exotel = api.get("/api/v1/integrations/exotel").json()["data"]
    assert exotel["status"] == "disconnected" and not exotel["secrets"]["api_key"]["is_set"]
    assert exotel["callback_urls"]["status_callback"].endswith(f"/{exotel_saved.webhook_token}/status-callback")
    assert api.get("/api/v1/integrations").json()["data"]["shopify"] is None
    for method, path in [("delete", ""), ("patch", ""), ("post", "/test")]:
        response = getattr(api, method)(f"/api/v1/integrations/exotel{path}", {}, format="json")
        assert response.status_code == 404 and response.json()["error"]["message"] == "Exotel is not connected."


@pytest.mark.django_db
@pytest.mark.parametrize("role", [Role.AGENT, Role.VIEWER])
def test_only_admins_and_owners_manage_integrations(as_user, client_a, exotel_saved, role):
    api = as_user(UserFactory(client=client_a, role=role))

    for method, path in [
        ("get", "/api/v1/integrations"),
        ("get", "/api/v1/integrations/exotel"),
        ("patch", "/api/v1/integrations/exotel"),
        ("delete", "/api/v1/integrations/exotel"),
        ("post", "/api/v1/integrations/exotel/test"),
        ("post", "/api/v1/integrations/exotel/rotate-webhook-token"),
        ("put", "/api/v1/integrations/shopify"),
        ("post", "/api/v1/integrations/shopify/sync"),
    ]:
        response = getattr(api, method)(path, {}, format="json")
        assert response.status_code == 403, (method, path)
    assert ExotelConnection.objects.filter(pk=exotel_saved.pk).exists()


@pytest.mark.django_db
def test_another_client_sees_and_changes_only_its_own(as_user, charlie, exotel_saved, shopify_saved):
    api = as_user(charlie)

    assert api.get("/api/v1/integrations").json()["data"] == {"exotel": None, "shopify": None}
    for method in ("get", "patch", "delete"):
        assert getattr(api, method)("/api/v1/integrations/exotel", {}, format="json").status_code == 404
        assert getattr(api, method)("/api/v1/integrations/shopify", {}, format="json").status_code == 404
    for path in ("exotel/test", "exotel/rotate-webhook-token", "shopify/test", "shopify/sync"):
        assert api.post(f"/api/v1/integrations/{path}").status_code == 404
    exotel_saved.refresh_from_db()
    assert exotel_saved.api_token == API_TOKEN and ExotelConnection.objects.count() == 1
