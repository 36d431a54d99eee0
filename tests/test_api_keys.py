"""API keys: their lifecycle, the scope matrix, no escalation through a key, their rate limit, audit and bad input.

Keys are made through the API as a signed-in admin or owner (JWT), then used as
`Authorization: Bearer caly_live_…` exactly as an integrator would.
"""

from __future__ import annotations

import re
import uuid
from datetime import timedelta

import pytest
import time_machine
from django.test import Client as PageClient
from django.urls import URLPattern, URLResolver, get_resolver
from django.utils import timezone

from accounts import api_keys, jwt, services
from accounts.api.base import TenantAPIView
from accounts.models import ApiKey, AuditAction, AuditEvent
from accounts.roles import ROLE_CAPABILITIES, SCOPE_CAPABILITIES, ApiKeyScope, Capability, Role
from caly.foundation.logging import redact_text
from tests.factories import CallFactory, UserFactory

pytestmark = pytest.mark.django_db

KEY_FORMAT = re.compile(r"caly_live_[a-z0-9]{12}_[A-Za-z0-9_-]{43}")


def bearer(api, credential: str | None):
    api.credentials(**({"HTTP_AUTHORIZATION": f"Bearer {credential}"} if credential else {}))
    return api


def as_person(api, user):
    return bearer(api, jwt.family_start(user=user).access)


def create(api, user, **body):
    body = {"name": "Warehouse sync", "scope": "read", **body}
    return as_person(api, user).post("/api/v1/api-keys", body, format="json")


def make_key(user, scope: str = "read", **kwargs) -> str:
    return api_keys.api_key_create(client=user.client, actor=user, name="test key", scope=scope, **kwargs)[1]


def error_of(response) -> dict:
    body = response.json()
    assert body["success"] is False, body
    return body["error"]


@pytest.fixture
def dana(client_a):
    """An admin of client A."""
    return UserFactory(email="dana@acme.example", first_name="Dana", client=client_a, role=Role.ADMIN)


# --- lifecycle ---------------------------------------------------------------------------------


def test_it_creates_a_key_shown_once_and_stores_only_its_hmac(api, alice):
    response = create(api, alice, name="  Warehouse sync ", scope="read_play")

    assert response.status_code == 201, response.content
    assert response["Cache-Control"] == "no-store"
    data = response.json()["data"]
    raw = data["key"]
    assert KEY_FORMAT.fullmatch(raw)
    assert raw.startswith(f"caly_live_{data['prefix']}_")
    assert data["name"] == "Warehouse sync" and data["scope"] == "read_play" and data["status"] == "active"
    assert data["capabilities"] == ["play_recordings", "read"]
    assert data["created_by"] == alice.email and data["expires_at"] is None and data["last_used_at"] is None

    stored = ApiKey.objects.get(public_id=data["id"])
    row = ApiKey.objects.filter(pk=stored.pk).values().get()
    secret = raw.rsplit("_", 1)[1] if raw.count("_") == 3 else raw[len(f"caly_live_{data['prefix']}_") :]
    assert all(secret not in str(value) for value in row.values())
    assert stored.secret_hmac == api_keys.hash_key(raw) and len(stored.secret_hmac) == 64

    # Never shown again: not in the list, not in the detail.
    as_person(api, alice)
    listed = api.get("/api/v1/api-keys").json()["data"]
    detail = api.get(f"/api/v1/api-keys/{data['id']}").json()["data"]
    assert raw not in str(listed) + str(detail)
    assert "key" not in detail and all("key" not in item for item in listed)


def test_it_lists_calls_with_a_key_and_records_when_and_from_where(api, alice):
    CallFactory(client=alice.client)
    raw = create(api, alice).json()["data"]["key"]

    response = bearer(api, raw).get("/api/v1/calls", REMOTE_ADDR="203.0.113.7")

    assert response.status_code == 200, response.content
    assert len(response.json()["data"]) == 1
    key = ApiKey.objects.get()
    assert key.last_used_ip == "203.0.113.7"
    assert timezone.now() - key.last_used_at < timedelta(seconds=5)
    me = api.get("/api/v1/me").json()["data"]
    assert me["email"] == alice.email  # a key acts as its creator


def test_it_writes_last_used_at_most_once_a_minute(api, alice, django_assert_num_queries):
    raw = make_key(alice)
    start = timezone.now()
    with time_machine.travel(start, tick=False):
        bearer(api, raw).get("/api/v1/me")
    with time_machine.travel(start + timedelta(seconds=30), tick=False):
        api.get("/api/v1/me", REMOTE_ADDR="198.51.100.1")
        assert ApiKey.objects.get().last_used_at == start  # not written again within the minute
    with time_machine.travel(start + timedelta(seconds=61), tick=False):
        api.get("/api/v1/me", REMOTE_ADDR="198.51.100.2")
        key = ApiKey.objects.get()
        assert key.last_used_at == start + timedelta(seconds=61) and key.last_used_ip == "198.51.100.2"


def test_a_key_request_reads_the_key_in_one_query(api, alice, django_assert_max_num_queries):
    raw = make_key(alice)
    bearer(api, raw).get("/api/v1/me")  # the first use writes last_used and audits it
    # One read of key, creator and client; nothing else for authentication, however often.
    with django_assert_max_num_queries(1):
        assert api.get("/api/v1/me").status_code == 200


def test_a_revoked_key_is_refused_on_the_next_request(api, alice):
    created = create(api, alice).json()["data"]
    raw = created["key"]
    assert bearer(api, raw).get("/api/v1/calls").status_code == 200

    revoked = as_person(api, alice).delete(f"/api/v1/api-keys/{created['id']}")
    assert revoked.status_code == 200 and revoked.json()["data"]["status"] == "revoked"

    response = bearer(api, raw).get("/api/v1/calls")
    assert response.status_code == 401
    assert error_of(response) == {"code": "TOKEN_INVALID", "message": "This API key has been revoked."}
    assert response["WWW-Authenticate"].startswith("Bearer")
    # Revoking again changes nothing; the revoke action answers the same.
    again = as_person(api, alice).post(f"/api/v1/api-keys/{created['id']}/revoke")
    assert again.status_code == 200 and again.json()["data"]["revoked_at"] == revoked.json()["data"]["revoked_at"]
    assert AuditEvent.objects.filter(action=AuditAction.API_KEY_REVOKED).count() == 1


def test_an_expired_key_is_refused_with_token_expired(api, alice):
    raw = make_key(alice, expires_at=timezone.now() + timedelta(days=1))
    assert bearer(api, raw).get("/api/v1/calls").status_code == 200

    with time_machine.travel(timezone.now() + timedelta(days=1, seconds=1)):
        response = api.get("/api/v1/calls")
        listed = as_person(api, alice).get("/api/v1/api-keys").json()["data"]

    assert response.status_code == 401
    assert error_of(response)["code"] == "TOKEN_EXPIRED"
    assert listed[0]["status"] == "expired"


@pytest.mark.parametrize(
    "credential",
    [
        "caly_live_abcdefghijkl_" + "A" * 43,  # well-formed, unknown prefix
        "caly_live_short_secret",
        "caly_",
        "caly_live_" + "x" * 200,
        "caly_live_abcdefghijkl_" + "é" * 43,
    ],
)
def test_a_wrong_key_is_a_401_envelope(api, alice, credential):
    response = bearer(api, credential).get("/api/v1/calls")
    assert response.status_code == 401
    assert error_of(response) == {"code": "TOKEN_INVALID", "message": "The API key is not valid."}


def test_a_key_with_a_wrong_secret_is_refused(api, alice):
    raw = make_key(alice)
    tampered = raw[:-1] + ("A" if raw[-1] != "A" else "B")
    response = bearer(api, tampered).get("/api/v1/calls")
    assert response.status_code == 401 and error_of(response)["code"] == "TOKEN_INVALID"
    assert ApiKey.objects.get().last_used_at is None


def test_jwt_still_works_beside_keys(api, alice):
    make_key(alice)
    assert as_person(api, alice).get("/api/v1/calls").status_code == 200
    response = bearer(api, "not-a-jwt").get("/api/v1/calls")
    assert response.status_code == 401 and error_of(response)["code"] == "TOKEN_INVALID"


def test_a_deactivated_clients_keys_stop_working(api, alice, staff):
    raw = make_key(alice)
    alice.client.is_active = False
    alice.client.save(update_fields=["is_active"])

    response = bearer(api, raw).get("/api/v1/calls")

    assert response.status_code == 401
    assert error_of(response)["message"] == "This company's Caly account is deactivated."


def test_a_deactivated_creators_keys_stop_and_come_back_with_them(api, alice, dana):
    raw = make_key(dana, scope="read_write")
    services.member_deactivate(actor=alice, member=dana)

    response = bearer(api, raw).get("/api/v1/calls")
    assert response.status_code == 401
    assert "deactivated" in error_of(response)["message"]

    services.member_activate(actor=alice, member=dana)
    assert bearer(api, raw).get("/api/v1/calls").status_code == 200


def test_a_creator_who_loses_a_role_narrows_their_keys(api, alice, dana):
    raw = make_key(dana, scope="read_write")
    assert bearer(api, raw).get("/api/v1/calls/export").status_code == 200

    services.member_change_role(actor=alice, member=dana, role=Role.AGENT)  # agents may not export

    response = bearer(api, raw).get("/api/v1/calls/export")
    assert response.status_code == 403
    assert error_of(response) == {
        "code": "PERMISSION_DENIED",
        "message": "The role of this API key's creator does not allow this.",
    }
    assert bearer(api, raw).get("/api/v1/calls").status_code == 200  # what the role still allows goes on


# --- the scope matrix --------------------------------------------------------------------------


def _walk(patterns, prefix=""):
    for entry in patterns:
        if isinstance(entry, URLResolver):
            yield from _walk(entry.url_patterns, prefix + str(entry.pattern))
        elif isinstance(entry, URLPattern):
            yield prefix + str(entry.pattern), entry


def tenant_operations() -> list[tuple[str, str, Capability]]:
    """(path, method, capability) of every TenantAPIView route of the URLconf; ids are unknown ones."""
    operations = []
    for route, pattern in _walk(get_resolver().url_patterns):
        cls = getattr(pattern.callback, "view_class", None)
        if not (isinstance(cls, type) and issubclass(cls, TenantAPIView)):
            continue
        path = "/" + re.sub(r"<uuid:\w+>", str(uuid.uuid4()), route)
        operations += [(path, method, capability) for method, capability in cls.capabilities.items()]
    return operations


OPERATIONS = tenant_operations()


def test_the_matrix_reaches_every_capability_a_scope_can_hold():
    reached = {capability for _, _, capability in OPERATIONS}
    assert set().union(*SCOPE_CAPABILITIES.values()) <= reached
    assert Capability.MANAGE_DEVELOPERS in reached  # the key routes themselves


@pytest.mark.parametrize("scope", ApiKeyScope.values)
def test_each_scope_reaches_exactly_its_capabilities(api, alice, scope, limits):
    """The owner's key of each scope, on every method of every tenant route: what the scope holds gets
    past the permission check (to a 2xx, a 400 for the empty body or a 404 for the unknown id); the rest
    is a 403 naming the scope, and changes nothing."""
    limits(api_key="100000/m", export_user="100000/h")
    raw = make_key(alice, scope=scope)
    allowed = SCOPE_CAPABILITIES[ApiKeyScope(scope)]
    audit_before = AuditEvent.objects.count()
    for path, method, capability in OPERATIONS:
        response = getattr(bearer(api, raw), method.lower())(path, {}, format="json")
        writes_with_read = capability == Capability.READ and method not in ("GET", "HEAD")
        if capability in allowed and not writes_with_read:
            assert response.status_code != 403 and response.status_code < 500, (path, method, response.content)
        else:
            assert response.status_code == 403, (path, method, response.content)
            assert error_of(response) == {
                "code": "PERMISSION_DENIED",
                "message": f"This API key's scope ({scope}) does not allow this.",
            }
    # Allowed GETs may audit (exports, downloads), refused requests never do.
    refused = AuditEvent.objects.exclude(action__in=[AuditAction.API_KEY_FIRST_USED, AuditAction.CALLS_EXPORTED])
    assert refused.count() == audit_before


# --- no escalation -----------------------------------------------------------------------------


@pytest.mark.parametrize("scope", ApiKeyScope.values)
def test_a_key_cannot_manage_keys_team_integrations_or_the_client(api, alice, scope):
    raw = make_key(alice, scope=scope)
    other = ApiKey.objects.get()
    bearer(api, raw)
    attempts = [
        api.get("/api/v1/api-keys"),
        api.post("/api/v1/api-keys", {"name": "escalate", "scope": "read_write"}, format="json"),
        api.delete(f"/api/v1/api-keys/{other.public_id}"),
        api.post(f"/api/v1/api-keys/{other.public_id}/revoke"),
        api.get("/api/v1/team/members"),
        api.post("/api/v1/team/invitations", {"email": "mole@evil.example", "role": "owner"}, format="json"),
        api.get("/api/v1/integrations"),
        api.delete("/api/v1/integrations/exotel"),
        api.patch("/api/v1/client", {"name": "Taken over"}, format="json"),
        api.get("/api/v1/audit-events"),
        # One's own account: a key never changes its creator's name or password, nor turns into a sign-in.
        api.patch("/api/v1/me", {"first_name": "Mallory"}, format="json"),
        api.post(
            "/api/v1/auth/password/change",
            {"current_password": "x", "new_password": "a-new-long-password-1"},
            format="json",
        ),
    ]
    assert [response.status_code for response in attempts] == [403] * len(attempts)
    assert ApiKey.objects.count() == 1 and ApiKey.objects.get().revoked_at is None
    alice.refresh_from_db()
    assert alice.first_name == "Alice" and alice.client.name == "Acme Apparel"


def test_a_member_who_cannot_manage_developers_cannot_create_keys(api, bob):
    response = create(api, bob)
    assert response.status_code == 403 and error_of(response)["code"] == "PERMISSION_DENIED"
    assert not ApiKey.objects.exists()


def test_keys_of_another_client_are_not_found(api, alice, charlie):
    theirs = create(api, charlie).json()["data"]
    as_person(api, alice)
    assert api.get(f"/api/v1/api-keys/{theirs['id']}").status_code == 404
    assert api.delete(f"/api/v1/api-keys/{theirs['id']}").status_code == 404
    assert api.get("/api/v1/api-keys").json()["data"] == []
    assert ApiKey.objects.get().revoked_at is None


def test_a_key_sees_only_its_clients_calls(api, alice, charlie):
    CallFactory(client=charlie.client, provider_call_id="bolt-1")
    mine = CallFactory(client=alice.client, provider_call_id="acme-1")
    data = bearer(api, make_key(alice)).get("/api/v1/calls").json()["data"]
    assert [row["id"] for row in data] == [str(mine.public_id)]


# --- rate limit --------------------------------------------------------------------------------


def test_each_key_has_its_own_rate_limit(api, alice, limits, stopped_clock):
    limits(api_key="3/m", api_user="100/m")
    first, second = make_key(alice), make_key(alice)
    for _ in range(3):
        assert bearer(api, first).get("/api/v1/me").status_code == 200

    limited = bearer(api, first).get("/api/v1/calls")
    assert limited.status_code == 429
    assert error_of(limited)["code"] == "RATE_LIMITED" and int(limited["Retry-After"]) >= 1
    assert bearer(api, second).get("/api/v1/me").status_code == 200  # another key has its own budget
    assert as_person(api, alice).get("/api/v1/me").status_code == 200  # and the creator's sign-in too


# --- audit -------------------------------------------------------------------------------------


def test_creation_first_use_and_revocation_are_audited(api, alice):
    created = create(api, alice, scope="read_write").json()["data"]
    bearer(api, created["key"]).get("/api/v1/me", REMOTE_ADDR="203.0.113.9")
    api.get("/api/v1/me")
    as_person(api, alice).delete(f"/api/v1/api-keys/{created['id']}")

    events = list(
        AuditEvent.objects.filter(action__startswith="api_key.").order_by("pk").values_list("action", "target_id")
    )
    assert events == [
        (AuditAction.API_KEY_CREATED, created["id"]),
        (AuditAction.API_KEY_FIRST_USED, created["id"]),
        (AuditAction.API_KEY_REVOKED, created["id"]),
    ]
    first_use = AuditEvent.objects.get(action=AuditAction.API_KEY_FIRST_USED)
    assert first_use.actor == alice and first_use.ip == "203.0.113.9"
    creation = AuditEvent.objects.get(action=AuditAction.API_KEY_CREATED)
    assert creation.metadata == {
        "name": "Warehouse sync",
        "prefix": created["prefix"],
        "scope": "read_write",
        "expires_at": None,
    }
    assert created["key"] not in str(list(AuditEvent.objects.values()))


# --- bad input ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"name": "x" * 101}, "name"),
        ({"name": ""}, "name"),
        ({"name": "   "}, "name"),
        ({"name": "tab\there"}, "name"),
        ({"name": 42}, "name"),
        ({"scope": "admin"}, "scope"),
        ({"scope": "manage_team"}, "scope"),
        ({"scope": None}, "scope"),
        ({"expires_at": "2020-01-01T00:00:00Z"}, "expires_at"),
        ({"expires_at": "yesterday"}, "expires_at"),
        ({"expires_at": "2999-01-01T00:00:00Z"}, "expires_at"),
    ],
)
def test_bad_input_is_a_400_and_stores_nothing(api, alice, body, field):
    response = create(api, alice, **body)

    assert response.status_code == 400, response.content
    error = error_of(response)
    assert error["code"] == "VALIDATION_ERROR" and field in error["details"]
    assert not ApiKey.objects.exists()
    assert not AuditEvent.objects.filter(action=AuditAction.API_KEY_CREATED).exists()


def test_a_scope_above_the_creators_role_is_refused(api, dana, monkeypatch):
    narrower = ROLE_CAPABILITIES[Role.ADMIN] - {Capability.EXPORT_CALLS}
    monkeypatch.setitem(ROLE_CAPABILITIES, Role.ADMIN, narrower)

    response = create(api, dana, scope="read_write")

    assert response.status_code == 400
    assert "export_calls" in error_of(response)["details"]["scope"][0]
    assert not ApiKey.objects.exists()
    assert create(api, dana, scope="read_play").status_code == 201


def test_a_company_has_at_most_fifty_active_keys(api, alice, monkeypatch):
    monkeypatch.setattr(api_keys, "MAX_ACTIVE_KEYS", 2)
    first = make_key(alice)
    make_key(alice)
    response = create(api, alice)
    assert response.status_code == 409 and error_of(response)["code"] == "CONFLICT"
    bearer(api, first)
    services_key = ApiKey.objects.order_by("pk").first()
    api_keys.api_key_revoke(client=alice.client, actor=alice, api_key=services_key)
    assert create(api, alice).status_code == 201


# --- logs --------------------------------------------------------------------------------------


def test_logs_never_show_a_keys_secret(alice):
    raw = make_key(alice)
    prefix = ApiKey.objects.get().prefix
    secret = raw[len(f"caly_live_{prefix}_") :]
    for text in (f"Authorization: Bearer {raw}", f"calling with {raw} now", f"key={raw}", f"Bearer {raw}"):
        redacted = redact_text(text)
        assert secret not in redacted and "[REDACTED]" in redacted, redacted
    assert redact_text(f"sent {raw}") == f"sent caly_live_{prefix}_[REDACTED]"


def test_what_a_key_does_is_audited_with_the_key(api, alice):
    call = CallFactory(client=alice.client)
    raw = make_key(alice, scope="read_write")
    prefix = ApiKey.objects.get().prefix

    response = bearer(api, raw).patch(f"/api/v1/calls/{call.public_id}", {"is_resolved": True}, format="json")

    assert response.status_code == 200, response.content
    event = AuditEvent.objects.get(action=AuditAction.CALL_UPDATED)
    assert event.actor == alice and event.metadata["api_key"] == prefix
    as_person(api, alice).patch(f"/api/v1/calls/{call.public_id}", {"is_resolved": False}, format="json")
    assert "api_key" not in AuditEvent.objects.filter(action=AuditAction.CALL_UPDATED).latest("pk").metadata


def test_staff_see_keys_in_the_admin_and_may_revoke_them(api, alice, staff):
    raw = make_key(alice)
    key = ApiKey.objects.get()
    page = PageClient()
    page.force_login(staff)

    listed = page.get("/admin/accounts/apikey/")
    assert listed.status_code == 200 and key.prefix.encode() in listed.content
    assert raw.encode() not in listed.content and key.secret_hmac.encode() not in listed.content
    response = page.post(
        "/admin/accounts/apikey/", {"action": "revoke_keys", "_selected_action": [key.pk]}, follow=True
    )

    assert response.status_code == 200
    key.refresh_from_db()
    assert key.revoked_at is not None and key.revoked_by == staff
    assert bearer(api, raw).get("/api/v1/calls").status_code == 401
