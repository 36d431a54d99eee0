"""Every API route against every kind of bad credential: 401 (or the documented 403), nothing done.

The routes come from the URLconf (tests/test_accounts_roles.py walks it): every TenantAPIView
route with every method it declares. Each gets, in turn, no credentials, an expired access token,
a refresh token where an access token belongs, tokens forged with another key or `alg: none`, the
token of a member deactivated since it was issued (by the service, and by the flag alone), the
token of a user whose client was deactivated, and sessions of such users. The answer is the
error envelope with the documented code, and no audit event or other row is written. Public
routes are listed explicitly (PUBLIC_ROUTES) and must ignore credentials altogether.
"""

from __future__ import annotations

import base64
import json
import re
import uuid
from datetime import timedelta

import jwt as pyjwt
import pytest
import time_machine
from django.conf import settings
from django.utils import timezone

from accounts import jwt, services
from accounts.models import AuditEvent, Client, RefreshFamily, User
from accounts.roles import Role
from recordings.models import Call
from tests.factories import UserFactory
from tests.test_accounts_roles import api_routes, tenant_routes

pytestmark = pytest.mark.django_db

_KWARG = re.compile(r"<(?:\w+:)?(\w+)>")
TENANT_CALLS = [(route, name, method) for route, name, cls in tenant_routes() for method in sorted(cls.capabilities)]

# API routes that take no user credentials, and what authenticates them instead.
PUBLIC_ROUTES = {
    "client-errors": "anonymous browser error reports (size- and rate-limited)",
    "auth-register": "sign-up",
    "auth-verify": "the signed token in the body",
    "auth-verify-resend": "answers the same for every address",
    "auth-login": "email and password",
    "auth-refresh": "the refresh token in the body",
    "auth-logout": "the refresh token in the body",
    "auth-password-reset": "answers the same for every address",
    "auth-password-reset-confirm": "the signed token in the body",
    "auth-invitation-accept": "the invitation token in the body",
    "exotel-status-callback": "the connection's secret token in the URL (and optional HTTP Basic)",
    "exotel-passthru": "the connection's secret token in the URL (and optional HTTP Basic)",
    "shopify-webhook": "the HMAC of the body with the connection's webhook secret",
    "schema": "the OpenAPI document",
    "swagger-ui": "API documentation",
    "redoc": "API documentation",
}


def _path(route: str) -> str:
    return "/" + _KWARG.sub(lambda m: str(uuid.uuid4()) if m.group(1) == "public_id" else "x", route)


def _call_id(call) -> str:
    route, _, method = call
    return f"{method} /{route}"


def snapshot() -> tuple:
    return (
        AuditEvent.objects.count(),
        list(User.objects.order_by("pk").values("pk", "first_name", "role", "is_active", "last_login")),
        list(Client.objects.order_by("pk").values()),
        RefreshFamily.objects.filter(revoked_at__isnull=True).count(),
        Call.objects.count(),
    )


def _forged(token: str, *, key: str | None = None, alg_none: bool = False) -> str:
    claims = pyjwt.decode(token, options={"verify_signature": False})
    if alg_none:
        header = base64.urlsafe_b64encode(json.dumps({"alg": "none", "typ": "JWT"}).encode()).rstrip(b"=")
        body = base64.urlsafe_b64encode(json.dumps(claims).encode()).rstrip(b"=")
        return f"{header.decode()}.{body.decode()}."
    return pyjwt.encode(claims, key, algorithm="HS256")


def bad_credentials(kind: str, user: User) -> dict:
    """Request headers (or, for sessions, a marker) carrying credential `kind` for `user`."""
    pair = jwt.family_start(user=user)
    if kind == "none":
        return {}
    if kind == "refresh-token":
        return {"HTTP_AUTHORIZATION": f"Bearer {pair.refresh}"}
    if kind == "other-key":
        return {"HTTP_AUTHORIZATION": f"Bearer {_forged(pair.access, key='not-' + settings.SECRET_KEY)}"}
    if kind == "alg-none":
        return {"HTTP_AUTHORIZATION": f"Bearer {_forged(pair.access, alg_none=True)}"}
    if kind == "garbage":
        return {"HTTP_AUTHORIZATION": "Bearer not.a.token"}
    if kind == "wrong-scheme":
        return {"HTTP_AUTHORIZATION": f"Token {pair.access}"}
    raise AssertionError(kind)


KIND_CODES = {
    "none": (401, "AUTHENTICATION_REQUIRED"),
    "refresh-token": (401, "TOKEN_INVALID"),
    "other-key": (401, "TOKEN_INVALID"),
    "alg-none": (401, "TOKEN_INVALID"),
    "garbage": (401, "TOKEN_INVALID"),
    # An Authorization header of another scheme is not a credential of ours: as if none were sent.
    "wrong-scheme": (401, "AUTHENTICATION_REQUIRED"),
}


def _send(api, method: str, route: str, **extra):
    response = getattr(api, method.lower())(_path(route), {}, format="json", **extra)
    is_json = response.get("Content-Type", "").startswith("application/json")
    return response, json.loads(response.content) if is_json else None


def assert_refused(response, body, status: int, code: str) -> None:
    assert response.status_code == status, body
    assert body["success"] is False and body["error"]["code"] == code, body
    if status == 401:
        assert response["WWW-Authenticate"].startswith("Bearer")


# --- the lists ------------------------------------------------------------------------------------


def test_every_api_route_is_tenant_scoped_or_listed_public_here():
    tenant = {name for _, name, _ in tenant_routes()}
    public = {name for _, name, _ in api_routes() if name not in tenant}
    assert public == set(PUBLIC_ROUTES), "an API route that is neither a tenant route nor listed public"


# --- bad credentials on every tenant route --------------------------------------------------------


@pytest.mark.parametrize("kind", list(KIND_CODES))
@pytest.mark.parametrize("call", TENANT_CALLS, ids=_call_id)
def test_every_tenant_route_refuses_bad_credentials(api, alice, call, kind):
    route, _, method = call
    extra = bad_credentials(kind, alice)
    before = snapshot()

    response, body = _send(api, method, route, **extra)

    assert_refused(response, body, *KIND_CODES[kind])
    assert snapshot() == before


@pytest.mark.parametrize("call", TENANT_CALLS, ids=_call_id)
def test_every_tenant_route_refuses_an_expired_access_token(api, alice, call):
    route, _, method = call
    token = jwt.family_start(user=alice).access
    lifetime = settings.SIMPLE_JWT["ACCESS_TOKEN_LIFETIME"]
    before = snapshot()

    with time_machine.travel(timezone.now() + lifetime + timedelta(seconds=1)):
        response, body = _send(api, method, route, HTTP_AUTHORIZATION=f"Bearer {token}")

    assert_refused(response, body, 401, "TOKEN_EXPIRED")
    assert snapshot() == before


@pytest.mark.parametrize("how", ["service", "flag only"])
@pytest.mark.parametrize("call", TENANT_CALLS, ids=_call_id)
def test_every_tenant_route_refuses_a_deactivated_members_token(api, alice, call, how):
    route, _, method = call
    member = UserFactory(email="leaver@acme.example", client=alice.client, role=Role.ADMIN)
    token = jwt.family_start(user=member).access
    if how == "service":
        services.member_deactivate(actor=alice, member=member)
    else:  # the user row alone says inactive: its sign-ins were not revoked
        User.objects.filter(pk=member.pk).update(is_active=False)
    before = snapshot()

    response, body = _send(api, method, route, HTTP_AUTHORIZATION=f"Bearer {token}")

    assert_refused(response, body, 401, "TOKEN_INVALID")
    assert snapshot() == before


@pytest.mark.parametrize("how", ["service", "flag only"])
@pytest.mark.parametrize("call", TENANT_CALLS, ids=_call_id)
def test_every_tenant_route_refuses_the_token_of_a_deactivated_client(api, alice, staff, call, how):
    route, _, method = call
    token = jwt.family_start(user=alice).access
    if how == "service":
        services.client_set_active(client=alice.client, actor=staff, active=False)
    else:
        Client.objects.filter(pk=alice.client_id).update(is_active=False)
    before = snapshot()

    response, body = _send(api, method, route, HTTP_AUTHORIZATION=f"Bearer {token}")

    assert_refused(response, body, 401, "TOKEN_INVALID")
    assert snapshot() == before


@pytest.mark.parametrize("call", TENANT_CALLS, ids=_call_id)
def test_every_tenant_route_refuses_sessions_of_deactivated_users_and_clients(api, alice, bob, call):
    route, _, method = call
    bob_session, alice_session = api.__class__(), api.__class__()
    bob_session.force_login(bob)
    alice_session.force_login(alice)
    User.objects.filter(pk=bob.pk).update(is_active=False)
    Client.objects.filter(pk=alice.client_id).update(is_active=False)
    before = snapshot()

    response, body = _send(bob_session, method, route)
    assert_refused(response, body, 401, "AUTHENTICATION_REQUIRED")  # the session no longer names a user
    response, body = _send(alice_session, method, route)
    assert_refused(response, body, 403, "PERMISSION_DENIED")  # documented: the company's account is off
    assert "deactivated" in body["error"]["message"]
    assert snapshot() == before


# --- public routes ignore credentials --------------------------------------------------------------


PUBLIC_CALLS = [
    (route, name, method.upper())
    for route, name, cls in api_routes()
    if name in PUBLIC_ROUTES and isinstance(cls, type)
    for method in ("get", "post")
    if hasattr(cls, method)
]


@pytest.mark.parametrize("kind", ["refresh-token", "garbage", "alg-none"])
@pytest.mark.parametrize("call", PUBLIC_CALLS, ids=_call_id)
def test_public_routes_answer_the_same_whatever_credentials_come_along(api, alice, call, kind):
    route, _, method = call
    plain, _ = _send(api, method, route)
    with_junk, _ = _send(api, method, route, **bad_credentials(kind, alice))
    assert with_junk.status_code == plain.status_code != 500
