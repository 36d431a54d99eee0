"""Bad input on every accounts endpoint that takes a body: a 400 envelope with details, nothing written."""

import json

import pytest

from accounts import jwt
from accounts.models import AuditEvent, Client, Invitation, RefreshFamily, User

pytestmark = pytest.mark.django_db

PUBLIC = [
    "auth/register",
    "auth/verify",
    "auth/verify/resend",
    "auth/login",
    "auth/refresh",
    "auth/logout",
    "auth/password/reset",
    "auth/password/reset/confirm",
    "auth/invitations/accept",
]
SIGNED_IN = [("post", "auth/password/change"), ("patch", "me"), ("patch", "client"), ("post", "team/invitations")]
BAD_BODIES = [
    ("{not json", "application/json", "MALFORMED_REQUEST"),
    ('{"email": "\udcff"}'.encode("utf-8", "surrogatepass"), "application/json", "MALFORMED_REQUEST"),
    ("[1, 2, 3]", "application/json", None),
    ('"just a string"', "application/json", None),
    ("null", "application/json", None),
]


def snapshot():
    return (
        Client.objects.count(),
        User.objects.count(),
        Invitation.objects.count(),
        RefreshFamily.objects.count(),
        AuditEvent.objects.count(),
    )


def send(api, method, path, body, content_type="application/json"):
    response = api.generic(method.upper(), f"/api/v1/{path}", body, content_type=content_type)
    return response.status_code, json.loads(response.content)


@pytest.fixture
def signed_in(api, alice, bob):
    api.credentials(HTTP_AUTHORIZATION=f"Bearer {jwt.family_start(user=alice).access}")
    return api


@pytest.mark.parametrize("path", PUBLIC)
@pytest.mark.parametrize(("body", "content_type", "code"), BAD_BODIES)
def test_it_rejects_malformed_bodies_on_public_endpoints(api, alice, path, body, content_type, code):
    before = snapshot()
    status, answer = send(api, "post", path, body, content_type)
    assert status == 400 and answer["success"] is False
    assert answer["error"]["code"] == (code or "VALIDATION_ERROR")
    assert snapshot() == before


@pytest.mark.parametrize(("method", "path"), SIGNED_IN)
@pytest.mark.parametrize(("body", "content_type", "code"), BAD_BODIES)
def test_it_rejects_malformed_bodies_when_signed_in(signed_in, method, path, body, content_type, code):
    before = snapshot()
    status, answer = send(signed_in, method, path, body, content_type)
    assert status == 400 and answer["error"]["code"] == (code or "VALIDATION_ERROR")
    assert snapshot() == before


@pytest.mark.parametrize("path", PUBLIC)
def test_it_names_the_missing_fields(api, path):
    status, answer = send(api, "post", path, "{}")
    assert status == 400 and answer["error"]["details"], answer


@pytest.mark.parametrize(
    "payload",
    [
        {"email": 42, "password": ["x"]},
        {"email": "a" * 300 + "@example.com", "password": "x"},
        {"email": "alice@acme.example", "password": "x" * 10_000},
        {"email": "ålice@acme.example", "password": {"nested": True}},
        {"email": None, "password": None},
    ],
)
def test_it_rejects_wrong_types_and_sizes_on_login(api, alice, payload):
    before = snapshot()
    status, answer = send(api, "post", "auth/login", json.dumps(payload))
    assert status == 400 and answer["error"]["code"] == "VALIDATION_ERROR"
    assert snapshot() == before


def test_it_rejects_unsupported_media_types(api):
    status, answer = send(api, "post", "auth/login", "email=a", content_type="text/plain")
    assert status == 415 and answer["error"]["code"] == "UNSUPPORTED_MEDIA_TYPE"
