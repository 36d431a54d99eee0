"""Hostile request bodies on every API operation that takes one: a 4xx envelope, nothing written, no crash.

The operations come from the OpenAPI schema: each one with a request body is sent a body one byte
over DATA_UPLOAD_MAX_MEMORY_SIZE, JSON nested 10,000 levels deep (arrays and objects: Python's
parser would raise RecursionError, a 500), bytes that are not UTF-8, and each content type the
operation does not accept. Path ids name real objects of the caller's client (tests/worlds.py) and
webhook deliveries carry the right token or signature, so the body is what gets refused, not the
URL. Operations without a request body (DELETE, the POST actions) never read one; they are listed
and checked to answer exactly as they do without a body.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json

import pytest
from django.conf import settings
from django.db import transaction
from drf_spectacular.generators import SchemaGenerator

from accounts import jwt
from accounts.models import AuditEvent, Client, Invitation, RefreshFamily, User
from integrations.models import ExotelConnection, Product, ShopifyConnection, WebhookEvent
from recordings.models import Call, Recording
from tests.exotel_fake import exotel_fixture  # noqa: F401
from tests.s3 import local_storage  # noqa: F401
from tests.worlds import populate, world_state

pytestmark = pytest.mark.django_db

SCHEMA = SchemaGenerator().get_schema(request=None, public=True)
WRITE_METHODS = ("post", "put", "patch", "delete")
BODY_OPERATIONS = [
    (method.upper(), path, sorted(operation["requestBody"]["content"]))
    for path, operations in SCHEMA["paths"].items()
    for method, operation in operations.items()
    if method in WRITE_METHODS and "requestBody" in operation
]
BODILESS_OPERATIONS = [
    (method.upper(), path)
    for path, operations in SCHEMA["paths"].items()
    for method, operation in operations.items()
    if method in WRITE_METHODS and "requestBody" not in operation
]
NESTING = 10_000
WRONG_TYPES = ["text/plain", "application/xml", "application/x-www-form-urlencoded", "multipart/form-data"]


def _oversized() -> bytes:
    filler = "x" * (settings.DATA_UPLOAD_MAX_MEMORY_SIZE + 1)
    return json.dumps({"notes": filler, "message": filler, "CallSid": "CA1"}).encode()


BAD_BODIES = {
    "oversized": (_oversized, "application/json", 413, "PAYLOAD_TOO_LARGE"),
    "nested arrays": (lambda: b"[" * NESTING + b"]" * NESTING, "application/json", 400, "MALFORMED_REQUEST"),
    "nested objects": (
        lambda: b'{"a":' * NESTING + b"1" + b"}" * NESTING,
        "application/json",
        400,
        "MALFORMED_REQUEST",
    ),
    "invalid utf-8": (
        lambda: b'{"CallSid": "CA\xff\xfe1", "notes": "\xc3\x28"}',
        "application/json",
        400,
        "MALFORMED_REQUEST",
    ),
}


@pytest.fixture
def world(client_a, alice, local_storage, exotel):  # noqa: F811
    return populate(client_a, alice, slug="acme-apparel", exotel_host=exotel.host)


def _path(template: str, world) -> str:
    ids = {  # the more specific prefixes first
        "calls/exports": world.call_export,
        "calls": world.call,
        "tags": world.tag,
        "webhook-endpoints": world.webhook_endpoint,
        "webhook-deliveries": world.webhook_delivery,
        "api-keys": world.api_key,
        "me/phones": world.owner_phone,
        "team/phones": world.phone,
        "team/members": world.agent,
        "team/invitations": world.invitation,
        "recordings": world.recording,
        "webhooks/exotel": world.exotel,
        "webhooks/shopify": world.shopify,
    }
    resource = next((obj for prefix, obj in ids.items() if template.startswith(f"/api/v1/{prefix}/")), None)
    path = template.replace("{public_id}", str(getattr(resource, "public_id", "")))
    return path.replace("{token}", world.exotel.webhook_token)


def _headers(path: str, body: bytes, world) -> dict:
    """Credentials as the route wants them: a JWT, or (Shopify) the body's signature."""
    if "/webhooks/shopify/" in path:
        digest = hmac.new(world.shopify.webhook_secret.encode(), body, hashlib.sha256).digest()
        return {
            "HTTP_X_SHOPIFY_HMAC_SHA256": base64.b64encode(digest).decode(),
            "HTTP_X_SHOPIFY_SHOP_DOMAIN": world.shopify.shop_domain,
            "HTTP_X_SHOPIFY_TOPIC": "products/update",
            "HTTP_X_SHOPIFY_WEBHOOK_ID": f"bodies-{hashlib.sha256(body).hexdigest()[:16]}",
        }
    if "/webhooks/" in path:
        return {}
    return {"HTTP_AUTHORIZATION": f"Bearer {jwt.family_start(user=world.owner).access}"}


def everything(world) -> tuple:
    return (
        world_state(world),
        [model.objects.count() for model in (Client, User, Invitation, Call, Recording, Product, WebhookEvent)],
        AuditEvent.objects.count(),
        RefreshFamily.objects.filter(revoked_at__isnull=True).count(),
        list(ExotelConnection.objects.values("pk", "updated_at")),
        list(ShopifyConnection.objects.values("pk", "updated_at")),
    )


def send(api, method: str, path: str, body: bytes, content_type: str, headers: dict):
    response = api.generic(method, path, body, content_type=content_type, **headers)
    if response.status_code == 204:
        return response, None
    assert response["Content-Type"].startswith("application/json"), response["Content-Type"]
    return response, json.loads(response.content)


def _op_id(operation) -> str:
    return f"{operation[0]} {operation[1]}"


def test_the_schema_has_the_operations_this_file_is_about():
    assert len(BODY_OPERATIONS) >= 20 and len(BODILESS_OPERATIONS) >= 8
    paths = {path for _, path, _ in BODY_OPERATIONS}
    assert {"/api/v1/calls/{public_id}", "/api/v1/webhooks/shopify/{public_id}", "/api/v1/client-errors/"} <= paths


@pytest.mark.parametrize("kind", list(BAD_BODIES))
@pytest.mark.parametrize("operation", BODY_OPERATIONS, ids=_op_id)
def test_a_hostile_body_is_refused_with_a_4xx_envelope(api, world, operation, kind):
    method, template, _ = operation
    make, content_type, status, code = BAD_BODIES[kind]
    body, path = make(), _path(template, world)
    headers = _headers(path, body, world)
    before = everything(world)

    response, answer = send(api, method, path, body, content_type, headers)

    expected = (status, code)
    if template == "/api/v1/client-errors/" and len(body) > settings.CLIENT_ERRORS_MAX_BYTES:
        expected = (413, "PAYLOAD_TOO_LARGE")  # its own, smaller limit, checked before parsing
    assert (response.status_code, answer["error"]["code"]) == expected, answer
    assert answer["success"] is False and answer["meta"]["request_id"] == response["X-Request-ID"]
    assert everything(world) == before


@pytest.mark.parametrize("operation", BODY_OPERATIONS, ids=_op_id)
def test_a_content_type_the_operation_does_not_read_is_refused_with_415(api, world, operation):
    method, template, accepted = operation
    path = _path(template, world)
    for content_type in [kind for kind in WRONG_TYPES if kind not in accepted]:
        body = b"CallSid=CA1&notes=x" if "form" in content_type else b"<call><notes>x</notes></call>"
        headers = _headers(path, body, world)
        before = everything(world)

        response, answer = send(api, method, path, body, content_type, headers)

        assert (response.status_code, answer["error"]["code"]) == (415, "UNSUPPORTED_MEDIA_TYPE"), (
            content_type,
            answer,
        )
        assert everything(world) == before


@pytest.mark.parametrize("operation", BODILESS_OPERATIONS, ids=_op_id)
def test_an_operation_without_a_body_does_not_read_one(api, world, operation):
    """A hostile body changes nothing about the answer: same status as without one, never a 5xx."""
    method, template = operation
    path = _path(template, world)

    def status_of(body: bytes, content_type: str) -> int:
        """The answer from the same starting state each time: what the request did is rolled back."""
        with transaction.atomic():
            response, _ = send(api, method, path, body, content_type, _headers(path, body, world))
            transaction.set_rollback(True)
        return response.status_code

    plain = status_of(b"", "application/json")
    assert plain < 500
    for name, (make, content_type, _, _) in BAD_BODIES.items():
        assert status_of(make(), content_type) == plain, name


def test_the_parser_survives_nesting_far_past_the_recursion_limit(api, world):
    """The worker keeps answering after a 100,000-level body (no RecursionError escapes, no crash)."""
    deep = b"[" * 100_000 + b"]" * 100_000
    headers = _headers("/api/v1/me", deep, world)
    response = api.generic("PATCH", "/api/v1/me", deep, content_type="application/json", **headers)
    assert response.status_code == 400
    assert api.get("/api/v1/me", **headers).status_code == 200
