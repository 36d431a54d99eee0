"""Rotating FIELD_ENCRYPTION_KEYS cannot break a running site.

Processes are simulated in one test process by overriding FIELD_ENCRYPTION_KEYS: each "process"
announces its keys to the shared cache as a real one does when it reads or writes a secret. The whole
sequence runs: new key second, then first, then `rotate_encryption_keys`, then the old key dropped,
with a process on the old keys alone reading rows written after the rotation: its integration routes
answer 200 or 503 (never 500) and /health/detailed reports the secrets it cannot read.
"""

from io import StringIO

import pytest
import time_machine
from cryptography.fernet import Fernet
from django.core.management import CommandError, call_command
from django.db import connection as db
from django.test import override_settings

from integrations import crypto
from integrations.models import ExotelConnection, ShopifyConnection
from integrations.services import secrets_rotate
from tests.exotel_fake import exotel_fixture  # noqa: F401
from tests.test_integrations_connections import (  # noqa: F401
    ACCESS_TOKEN,
    API_TOKEN,
    WEBHOOK_SECRET,
    as_user,
    exotel_body,
    exotel_saved,
    providers,
    shopify_saved,
)


def _process(*keys: str):
    """Settings of a process started with these keys; entering it announces them, as such a process does."""
    override = override_settings(FIELD_ENCRYPTION_KEYS=list(keys))
    override.enable()
    crypto.announce_keyring()
    return override


def _rotate() -> str:
    out = StringIO()
    call_command("rotate_encryption_keys", stdout=out)
    return out.getvalue()


def _raw_tokens() -> list[str]:
    with db.cursor() as cursor:
        cursor.execute("SELECT api_key, api_token, webhook_token FROM integrations_exotelconnection")
        return list(cursor.fetchone())


@pytest.fixture
def keys(settings):
    return settings.FIELD_ENCRYPTION_KEYS[0], Fernet.generate_key().decode()


@pytest.mark.django_db
def test_the_safe_order_works_and_the_command_refuses_each_unsafe_step(exotel_saved, shopify_saved, keys):  # noqa: F811
    old, new = keys
    crypto.announce_keyring()  # the running site: the old key alone

    # Run where only this shell has the new key: the site could not read what it writes.
    shell = _process(new, old)
    with pytest.raises(CommandError) as refused:
        _rotate()
    message = str(refused.value)
    assert f"cannot decrypt with key {crypto.key_id(new)}" in message and crypto.key_id(old) in message
    assert "Deploy FIELD_ENCRYPTION_KEYS with that key added" in message
    shell.disable()

    # Deploy 1: the new key second everywhere. Everything reads; new secrets still use the old key.
    with time_machine.travel(crypto.time.time() + crypto.KEYRING_TTL_SECONDS + 1, tick=False):
        deploy1 = _process(old, new)
        assert ExotelConnection.objects.get().api_token == API_TOKEN
        with override_settings(FIELD_ENCRYPTION_KEYS=[new, old]), pytest.raises(CommandError, match="still encrypt"):
            _rotate()
        deploy1.disable()

    # Deploy 2: the new key first everywhere, the old processes gone for longer than the window.
    with time_machine.travel(crypto.time.time() + 2 * crypto.KEYRING_TTL_SECONDS + 2, tick=False):
        deploy2 = _process(new, old)
        before = _raw_tokens()
        out = _rotate()
        assert f"encrypts with key {crypto.key_id(new)}" in out
        assert "Re-encrypted 5 secret(s) in 2 row(s)" in out
        assert _rotate().endswith("Re-encrypted 0 secret(s) in 2 row(s); 5 already used the first key; 1 not set.\n")
        assert _raw_tokens() != before
        deploy2.disable()

        # Deploy 3: the old key dropped. Everything still reads.
        deploy3 = _process(new)
        assert ExotelConnection.objects.get().api_token == API_TOKEN
        assert ShopifyConnection.objects.get().webhook_secret == WEBHOOK_SECRET
        assert ShopifyConnection.objects.get().access_token == ACCESS_TOKEN
        deploy3.disable()


@pytest.fixture
def rotated_elsewhere(exotel_saved, shopify_saved, keys):  # noqa: F811
    """Rows re-encrypted under a new key by processes this one never heard of; this one keeps the old key."""
    old, new = keys
    with override_settings(FIELD_ENCRYPTION_KEYS=[new, old]):
        secrets_rotate()
    return old, new


@pytest.mark.django_db
def test_a_process_with_only_the_old_key_answers_503_or_200_never_500(
    rotated_elsewhere,
    as_user,  # noqa: F811
    alice,
    client,
    exotel,
    settings,
):
    old, _new = rotated_elsewhere
    settings.FIELD_ENCRYPTION_KEYS = [old]
    api = as_user(alice)
    stored = _raw_tokens()

    listing = api.get("/api/v1/integrations")
    assert listing.status_code == 200, listing.content
    exotel_data = api.get("/api/v1/integrations/exotel")
    assert exotel_data.status_code == 200, exotel_data.content
    assert exotel_data.json()["data"]["secrets"]["api_token"] == {"is_set": True, "last4": ""}

    checked = api.post("/api/v1/integrations/exotel/test")
    assert checked.status_code == 503, checked.content
    assert checked.json()["error"]["code"] == "SERVICE_UNAVAILABLE"
    assert "cannot be read" in checked.json()["error"]["message"]

    connection = ExotelConnection.objects.get()
    callback = f"/api/v1/webhooks/exotel/{connection.public_id}/some-token/status-callback"
    assert client.post(callback, {"CallSid": "abc", "Status": "completed"}).status_code == 503

    client.force_login(alice)
    assert client.get("/integrations/").status_code == 200

    connection.save()  # a save of other fields keeps the stored secrets as they were
    assert _raw_tokens() == stored


@pytest.mark.django_db
def test_health_detailed_reports_secrets_no_key_can_decrypt(rotated_elsewhere, client, settings):
    old, new = rotated_elsewhere
    settings.HEALTH_TOKEN = "monitor-token-123456"
    auth = {"HTTP_AUTHORIZATION": "Bearer monitor-token-123456"}

    settings.FIELD_ENCRYPTION_KEYS = [old]
    secrets = client.get("/health/detailed", **auth).json()["secrets"]
    assert secrets["status"] == "failing" and secrets["unreadable"] == 5
    assert secrets["key_ids"] == [crypto.key_id(old)]
    assert {"model": "integrations.exotelconnection", "field": "api_token"}.items() <= secrets["unreadable_examples"][
        1
    ].items()

    settings.FIELD_ENCRYPTION_KEYS = [new]
    secrets = client.get("/health/detailed", **auth).json()["secrets"]
    assert secrets == {"status": "ok", "key_ids": [crypto.key_id(new)], "unreadable": 0, "unreadable_examples": []}


def test_an_unreadable_secret_is_set_but_cannot_be_used():
    secret = crypto.UnreadableSecret("gAAAAA-token")
    assert secret and crypto.last4(secret) == ""
    with pytest.raises(crypto.DecryptionError):
        secret.encode()
    with pytest.raises(crypto.DecryptionError):
        f"Basic {secret}"
