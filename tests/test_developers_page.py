"""The Developers page (keys made, shown once, listed, revoked), its quick start and the API reference's
introduction: the curl request really lists calls, the Python snippet really checks Standard Webhooks
signatures (made here by the `standardwebhooks` package), and the error code table is the code's."""

from __future__ import annotations

import base64
import json
import os
import subprocess
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from django.test import Client as PageClient
from django.utils import timezone
from rest_framework.test import APIClient
from standardwebhooks import Webhook

from accounts import api_keys
from accounts.models import ApiKey, AuditAction, AuditEvent
from accounts.roles import ROLE_CAPABILITIES, Capability, Role
from caly import developers
from caly.foundation.api.errors import ERRORS
from caly.foundation.errors import ErrorCode
from tests.factories import CallFactory, UserFactory

pytestmark = pytest.mark.django_db


def signed_in(user) -> PageClient:
    page = PageClient()
    page.force_login(user)
    return page


def create_on_page(page, **fields):
    return page.post("/developers/", {"name": "Warehouse sync", "scope": "read", "valid_through": "", **fields})


# --- the page ----------------------------------------------------------------------------------


def test_it_shows_a_new_key_once_and_the_key_works(alice):
    page = signed_in(alice)

    response = create_on_page(page, scope="read_play")
    assert response.status_code == 302 and response["Location"] == "/developers/"

    shown = page.get("/developers/")
    assert shown["Cache-Control"] == "no-store"
    raw = shown.context["new_key"]["key"]
    assert raw.encode() in shown.content and b"Copy your new key now" in shown.content
    key = ApiKey.objects.get()
    assert key.scope == "read_play" and key.created_by == alice and key.secret_hmac == api_keys.hash_key(raw)

    again = page.get("/developers/")
    assert raw.encode() not in again.content and b"Copy your new key now" not in again.content
    assert f"caly_live_{key.prefix}_…".encode() in again.content

    api = APIClient()
    api.credentials(HTTP_AUTHORIZATION=f"Bearer {raw}")
    assert api.get("/api/v1/calls").status_code == 200


def test_it_lists_keys_with_prefix_scope_creator_last_use_and_expiry(alice, charlie):
    mine, raw = api_keys.api_key_create(
        client=alice.client,
        actor=alice,
        name="Reports",
        scope="read_write",
        expires_at=timezone.now() + timedelta(days=30),
    )
    theirs, _ = api_keys.api_key_create(client=charlie.client, actor=charlie, name="Bolt's own", scope="read")
    api = APIClient()
    api.credentials(HTTP_AUTHORIZATION=f"Bearer {raw}")
    api.get("/api/v1/me", REMOTE_ADDR="203.0.113.5")

    content = signed_in(alice).get("/developers/").content.decode()

    for text in ("Reports", f"caly_live_{mine.prefix}_…", "Read and write", alice.email, "from 203.0.113.5", "Active"):
        assert text in content, text
    assert "Bolt's own" not in content and theirs.prefix not in content


def test_valid_through_ends_at_the_end_of_that_day_in_the_companys_time_zone(alice):
    day = (timezone.now() + timedelta(days=10)).date()
    create_on_page(signed_in(alice), valid_through=day.isoformat())
    expected = datetime.combine(day + timedelta(days=1), datetime.min.time(), tzinfo=ZoneInfo("Asia/Kolkata"))
    assert ApiKey.objects.get().expires_at == expected


@pytest.mark.parametrize(
    ("fields", "field"),
    [
        ({"name": ""}, "name"),
        ({"name": "x" * 101}, "name"),
        ({"scope": "admin"}, "scope"),
        ({"valid_through": "2020-01-01"}, "valid_through"),
        ({"valid_through": "not a date"}, "valid_through"),
    ],
)
def test_bad_input_is_a_form_error_and_stores_nothing(alice, fields, field):
    response = create_on_page(signed_in(alice), **fields)
    assert response.status_code == 400
    assert response.context["form"].errors[field]
    assert not ApiKey.objects.exists()


def test_it_offers_only_scopes_within_the_role(alice, monkeypatch):
    monkeypatch.setitem(ROLE_CAPABILITIES, Role.OWNER, ROLE_CAPABILITIES[Role.OWNER] - {Capability.EXPORT_CALLS})
    response = signed_in(alice).get("/developers/")
    assert [value for value, _ in response.context["form"].fields["scope"].choices] == ["read", "read_play"]
    assert create_on_page(signed_in(alice), scope="read_write").status_code == 400
    assert not ApiKey.objects.exists()


def test_it_revokes_a_key(alice):
    key, raw = api_keys.api_key_create(client=alice.client, actor=alice, name="Old", scope="read")
    page = signed_in(alice)

    response = page.post(f"/developers/keys/{key.public_id}/revoke")

    assert response.status_code == 302
    key.refresh_from_db()
    assert key.revoked_at is not None and key.revoked_by == alice
    assert AuditEvent.objects.filter(action=AuditAction.API_KEY_REVOKED, target_id=str(key.public_id)).exists()
    api = APIClient()
    api.credentials(HTTP_AUTHORIZATION=f"Bearer {raw}")
    assert api.get("/api/v1/calls").status_code == 401
    assert b"Revoked" in page.get("/developers/").content


def test_another_companys_key_cannot_be_revoked(alice, charlie):
    key, _ = api_keys.api_key_create(client=charlie.client, actor=charlie, name="Bolt", scope="read")
    assert signed_in(alice).post(f"/developers/keys/{key.public_id}/revoke").status_code == 404
    key.refresh_from_db()
    assert key.revoked_at is None


def test_only_admins_and_owners_see_the_page_and_its_link(alice, bob, client_a):
    admin = UserFactory(email="dana@acme.example", client=client_a, role=Role.ADMIN)
    viewer = UserFactory(email="vic@acme.example", client=client_a, role=Role.VIEWER)
    for user in (alice, admin):
        page = signed_in(user)
        assert page.get("/developers/").status_code == 200
        assert b'href="/developers/"' in page.get("/accounts/profile/").content
    for user in (bob, viewer):
        page = signed_in(user)
        assert page.get("/developers/").status_code == 403
        assert create_on_page(page).status_code == 403
        assert b'href="/developers/"' not in page.get("/accounts/profile/").content
    assert not ApiKey.objects.exists()


def test_signed_out_visitors_are_sent_to_sign_in():
    response = PageClient().get("/developers/")
    assert response.status_code == 302 and response["Location"].startswith("/accounts/login/")


# --- the quick start ---------------------------------------------------------------------------


@pytest.mark.django_db(transaction=True)
def test_the_curl_request_lists_calls_with_a_key(live_server, alice):
    CallFactory(client=alice.client, provider_call_id="quick-start-call")
    _, raw = api_keys.api_key_create(client=alice.client, actor=alice, name="curl", scope="read")
    script = developers.curl_example(live_server.url).replace("export CALY_API_KEY='caly_live_…'", ":")

    result = subprocess.run(
        ["/bin/sh", "-c", script],
        env={**os.environ, "CALY_API_KEY": raw},
        capture_output=True,
        timeout=30,
        check=True,
    )

    body = json.loads(result.stdout)
    assert body["success"] is True and len(body["data"]) == 1


def _verify():
    namespace: dict = {}
    exec(developers.VERIFY_WEBHOOK_PYTHON, namespace)  # noqa: S102 - the snippet we publish
    return namespace["verify_caly_webhook"]


SECRET = "whsec_" + base64.b64encode(b"k" * 32).decode()
OLD_SECRET = "whsec_" + base64.b64encode(b"o" * 32).decode()
BODY = b'{"type":"call.completed","timestamp":"2026-12-02T06:00:00Z","data":{"id":"c1"}}'


def _headers(secret: str, *, sent_at: datetime, message_id: str = "msg_2KWPBgLlAfxdpx2AI54pPJ85f4W", extra=()):
    signatures = [Webhook(s).sign(message_id, sent_at, BODY.decode()) for s in (secret, *extra)]
    return {
        "webhook-id": message_id,
        "webhook-timestamp": str(int(sent_at.timestamp())),
        "webhook-signature": " ".join(signatures),
    }


def test_the_python_snippet_accepts_what_standard_webhooks_signs():
    verify = _verify()
    now = datetime.now(UTC)
    assert verify(SECRET, _headers(SECRET, sent_at=now), BODY)
    # During a rotation: the old secret's signature first, the new one's second.
    assert verify(SECRET, _headers(OLD_SECRET, sent_at=now, extra=(SECRET,)), BODY)
    # And the package agrees with the headers the snippet accepts.
    Webhook(SECRET).verify(BODY, _headers(SECRET, sent_at=now))


def test_the_python_snippet_refuses_forgeries_and_replays():
    verify = _verify()
    now = datetime.now(UTC)
    good = _headers(SECRET, sent_at=now)
    assert not verify(OLD_SECRET, good, BODY)  # another secret
    assert not verify(SECRET, good, BODY.replace(b"c1", b"c2"))  # another body
    assert not verify(SECRET, {**good, "webhook-id": "msg_other"}, BODY)
    assert not verify(SECRET, _headers(SECRET, sent_at=now - timedelta(minutes=6)), BODY)  # a replay
    assert not verify(SECRET, _headers(SECRET, sent_at=now + timedelta(minutes=6)), BODY)
    assert not verify(SECRET, {key: value for key, value in good.items() if key != "webhook-signature"}, BODY)
    assert not verify(SECRET, {**good, "webhook-timestamp": "soon"}, BODY)
    assert not verify(SECRET, {**good, "webhook-signature": "v1a," + good["webhook-signature"][3:]}, BODY)
    assert not verify(SECRET, {**good, "webhook-signature": "garbage"}, BODY)


# --- the API reference -------------------------------------------------------------------------


def test_the_api_reference_shows_the_error_code_table_and_how_to_authenticate():
    description = APIClient().get("/api/schema/?format=json").json()["info"]["description"]

    for code in ErrorCode:
        status, when = ERRORS[code]
        assert f"| `{code}` | {status} | {when} |" in description
    assert "README" not in description
    for text in ("Authorization: Bearer caly_live_<prefix>_<secret>", "/developers/", "`read_play`", "webhook-id"):
        assert text in description, text
    assert developers.VERIFY_WEBHOOK_PYTHON in description


def test_the_schema_declares_keys_beside_jwt_and_key_routes_take_no_key():
    schema = APIClient().get("/api/schema/?format=json").json()
    schemes = schema["components"]["securitySchemes"]
    assert schemes["apiKeyAuth"]["scheme"] == "bearer" and schemes["jwtAuth"]["bearerFormat"] == "JWT"
    assert {"apiKeyAuth": []} in schema["paths"]["/api/v1/calls"]["get"]["security"]
    for path in ("/api/v1/api-keys", "/api/v1/api-keys/{public_id}"):
        for operation in schema["paths"][path].values():
            assert {"apiKeyAuth": []} not in operation["security"]
