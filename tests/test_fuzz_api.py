"""Schemathesis against our own /api/schema/, in-process through the WSGI application.

Every operation of the schema is fuzzed as the owner of a client that has one of everything
(tests/worlds.py): positive and negative data, the coverage phase's boundary values and
undeclared methods, with the checks not_a_server_error, status_code_conformance,
content_type_conformance, response_schema_conformance, negative_data_rejection, ignored_auth and
unsupported_method. Path ids, tokens, passwords and phone numbers are swapped for real ones on
about half the cases, so detail routes, the webhook receivers and the token endpoints are reached
with objects that exist, not only with random ids that answer 404; after its last case, each
operation must have answered at least one case with a 2xx.

Each case runs inside a savepoint that is rolled back, so every case starts from the same data (a
case that disconnects Exotel or deletes the recording does not starve the next), with an access
token minted for it (a case that changes the password or signs out does not sign the next one
out). Rate limits are raised for the run instead of excluding operations. Nothing is excluded.

CI runs FUZZ_EXAMPLES (default 25) generated examples per operation on top of the examples and
coverage phases; `make fuzz` runs FUZZ_EXAMPLES=200. FUZZ_SEED picks another fixed seed.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import itertools
import json
import os
import zlib

import pytest
import schemathesis
from django.core.handlers.wsgi import WSGIHandler
from django.core.signals import request_finished, request_started
from django.db import close_old_connections, transaction
from hypothesis import HealthCheck, settings
from schemathesis.core import NotSet
from schemathesis.core.parameters import ParameterLocation

from accounts import jwt, signed_tokens
from tests import shopify_fake
from tests.exotel_fake import ACCOUNT_SID, API_KEY, API_TOKEN, exotel_fixture  # noqa: F401
from tests.factories import PASSWORD, UserFactory
from tests.s3 import local_storage  # noqa: F401
from tests.worlds import populate

pytestmark = pytest.mark.django_db

EXAMPLES = int(os.environ.get("FUZZ_EXAMPLES", "25"))
SEED = int(os.environ.get("FUZZ_SEED", "20260301"))
UNLIMITED = "1000000/m"
STRONG_PASSWORD = "violet-harbour-lantern-93"
CUSTOMER, AGENT = "+919812345678", "+919900011122"
SEQUENCE = itertools.count(1)

CHECKS = [
    schemathesis.checks.not_a_server_error,
    schemathesis.checks.status_code_conformance,
    schemathesis.checks.content_type_conformance,
    schemathesis.checks.response_schema_conformance,
    schemathesis.checks.negative_data_rejection,
    schemathesis.checks.ignored_auth,
    schemathesis.checks.unsupported_method,
]

CONFIG = schemathesis.Config.from_dict(
    {
        "seed": SEED,
        "generation": {
            "mode": "all",  # positive and negative data
            "max-examples": EXAMPLES,
            "deterministic": True,
            "database": "none",
            # Credentials come from the test (a token per case); ignored_auth probes without them.
            "with-security-parameters": False,
        },
        # A body over the endpoint's limit is refused with 413 PAYLOAD_TOO_LARGE: a rejection too.
        "checks": {
            "negative_data_rejection": {
                "expected-statuses": [400, 401, 403, 404, 405, 406, 409, 413, 415, 422, 428, 429, "5xx"]
            }
        },
        # The stateful phase follows OpenAPI links, which the schema does not declare; sequences of
        # calls across objects are the isolation matrix's job (test_isolation_matrix.py).
        "phases": {"stateful": {"enabled": False}},
    }
)
schema = schemathesis.openapi.from_wsgi("/api/schema/?format=json", WSGIHandler(), config=CONFIG)


@pytest.fixture
def in_process_requests():
    """Requests share the test's connection and transaction, as Django's own test client arranges:
    the end-of-request clean-up would otherwise close the connection mid-transaction."""
    request_started.disconnect(close_old_connections)
    request_finished.disconnect(close_old_connections)
    yield
    request_started.connect(close_old_connections)
    request_finished.connect(close_old_connections)


@pytest.fixture
def fuzz_world(client_a, alice, local_storage, exotel, settings, monkeypatch, in_process_requests):  # noqa: F811
    settings.RATE_LIMITS = dict.fromkeys(settings.RATE_LIMITS, UNLIMITED)
    settings.RATE_LIMIT_WEBHOOK = UNLIMITED
    settings.CLIENT_ERRORS_RATE = UNLIMITED
    monkeypatch.setattr("recordings.api.views.PLACE_CALL_RATE", UNLIMITED)
    with shopify_fake.serve(settings):
        world = populate(
            client_a,
            alice,
            slug="acme-apparel",
            exotel_host=exotel.host,
            exotel_credentials=(ACCOUNT_SID, API_KEY, API_TOKEN),
            shopify_webhook_secret=shopify_fake.WEBHOOK_SECRET,
            shopify_access_token=shopify_fake.ACCESS_TOKEN,
        )
        world.extra["unverified"] = UserFactory(
            email="new@acme-apparel.example", client=client_a, email_verified_at=None
        )
        world.extra["answers"] = []
        yield world
    reached = [status for method, status in world.extra["answers"] if 200 <= status < 300 and method != "OPTIONS"]
    assert reached, f"no case reached the operation: {sorted(set(world.extra['answers']))}"


def _ids_for(world) -> dict[str, list[str]]:
    """Real ids a path's {public_id} may name, by the path's prefix."""
    return {
        "calls/": [str(call.public_id) for call in world.calls],
        "calls/exports/": [str(world.call_export.public_id)],  # after "calls/", which it overrides
        "recordings/": [str(world.recording.public_id), str(world.failed_recording.public_id)],
        "products/": [str(product.public_id) for product in world.products],
        "customers/": [str(world.customer.public_id)],
        "tags/": [str(world.tag.public_id)],
        "team/members/": [str(user.public_id) for user in (world.agent, world.inactive_member, world.owner)],
        "team/invitations/": [str(world.invitation.public_id)],
        "team/phones/": [str(world.phone.public_id), str(world.owner_phone.public_id)],
        "me/phones/": [str(world.owner_phone.public_id)],
        "webhooks/exotel/": [str(world.exotel.public_id)],
        "webhooks/shopify/": [str(world.shopify.public_id)],
        "api-keys/": [str(world.api_key.public_id)],
        "webhook-endpoints/": [str(world.webhook_endpoint.public_id)],
        "webhook-deliveries/": [str(world.webhook_delivery.public_id)],
    }


def _chosen(case, salt: str) -> int | None:
    """A deterministic pick for about one case in two: None, or a number to index real values with."""
    digest = zlib.crc32(f"{salt}|{case.method}|{case.path_parameters}|{case.query}|{case.body!r}".encode())
    return None if digest % 2 else digest // 2


def _body_values(path: str, world) -> dict[str, object]:
    """Real values for body fields of the operation at `path`, made fresh for each case."""
    tokens = {
        "auth/refresh": lambda: jwt.family_start(user=world.owner).refresh,
        "auth/logout": lambda: jwt.family_start(user=world.owner).refresh,
        "auth/verify": lambda: signed_tokens.make_token(signed_tokens.VERIFY_EMAIL, world.extra["unverified"]),
        "auth/password/reset/confirm": lambda: signed_tokens.make_token(signed_tokens.RESET_PASSWORD, world.agent),
        "auth/invitations/accept": lambda: world.invitation_token,
    }
    values: dict[str, object] = {"current_password": PASSWORD, "new_password": STRONG_PASSWORD}
    if path in tokens:
        values["refresh" if path in ("auth/refresh", "auth/logout") else "token"] = tokens[path]()
        values["password"] = STRONG_PASSWORD
    if path == "auth/register":
        # Every third sign-up uses a taken address, which must answer exactly as a new one does.
        number = next(SEQUENCE)
        email = world.owner.email if number % 3 == 0 else f"founder-{number}@fuzz.example"
        values.update(email=email, password=STRONG_PASSWORD, timezone="")
    if path in ("auth/login", "auth/password/reset", "auth/verify/resend"):
        values.update(email=world.owner.email, password=PASSWORD)
    if path == "calls":
        values.update({"to": CUSTOMER, "from": AGENT, "caller_id": world.exotel.caller_ids[0]})
    if path == "calls/{public_id}/tags":  # the world's tag, so sets and changes can succeed
        values.update(tags=[str(world.tag.public_id)], add=[str(world.tag.public_id)], remove=[])
    if path in ("me/phones", "team/phones"):  # a number nobody has registered, for a member of the client
        values.update(number=f"+9198111{next(SEQUENCE):05d}", member=str(world.agent.public_id))
    if path == "integrations/shopify":
        values.update(shop_domain=world.shopify.shop_domain, api_version=shopify_fake.API_VERSION)
    if path == "integrations/exotel":  # credentials the fake Exotel accepts, so saves can succeed
        values.update(
            account_sid=world.exotel.account_sid, api_key=world.exotel.api_key, api_token=world.exotel.api_token
        )
    if path in ("webhook-endpoints", "webhook-endpoints/{public_id}"):  # a public https URL, known event types
        values.update(url="https://203.0.114.10/fuzz", event_types=["call.completed", "recording.stored"])
    return values


def _valid_at(case, location: ParameterLocation) -> bool:
    return case.meta is None or not case.meta.is_negative_at(location)


def plug_real_values(case, world) -> None:
    """Swap generated ids, tokens, passwords and numbers for real ones on about half the cases.

    Only in parts generated valid: a negative case keeps exactly the violation it was generated
    with, so negative_data_rejection judges the request that was really sent.
    """
    path = case.operation.path.removeprefix("/api/v1/")
    if case.path_parameters and "public_id" in case.path_parameters and _valid_at(case, ParameterLocation.PATH):
        pick = _chosen(case, "id")
        for prefix, ids in _ids_for(world).items():
            if path.startswith(prefix) and pick is not None:
                case.path_parameters["public_id"] = ids[pick % len(ids)]
        if "token" in case.path_parameters and pick is not None:
            case.path_parameters["token"] = world.exotel.webhook_token
    query_valid = isinstance(case.query, dict) and _valid_at(case, ParameterLocation.QUERY)
    if path == "lookup" and query_valid and _chosen(case, "phone") is not None:
        case.query["phone"] = world.customer.phone
    if isinstance(case.body, dict) and _valid_at(case, ParameterLocation.BODY) and _chosen(case, "body") is not None:
        for name, value in _body_values(path, world).items():
            if name in case.body:
                case.body[name] = value


def sign_shopify_delivery(case, world) -> dict:
    """Shopify signs the raw body: on about half the deliveries, sign exactly the bytes sent."""
    if case.operation.path != "/api/v1/webhooks/shopify/{public_id}" or _chosen(case, "hmac") is None:
        return {}
    if isinstance(case.body, NotSet) or case.media_type != "application/json":
        return {}
    if isinstance(case.body, bytes | str):  # the coverage phase's malformed bodies come raw
        raw = case.body.encode() if isinstance(case.body, str) else case.body
    else:
        raw = json.dumps(case.body).encode()
    digest = hmac.new(world.shopify.webhook_secret.encode(), raw, hashlib.sha256).digest()
    case.path_parameters["public_id"] = str(world.shopify.public_id)
    headers = {
        "X-Shopify-Hmac-Sha256": base64.b64encode(digest).decode(),
        "X-Shopify-Shop-Domain": world.shopify.shop_domain,
    }
    if _valid_at(case, ParameterLocation.HEADER):
        # A topic Caly acknowledges without reading: a generated object is no product, customer or order,
        # and those topics would refuse it.
        headers.update({"X-Shopify-Topic": "carts/update", "X-Shopify-Webhook-Id": f"fuzz-{zlib.crc32(raw)}"})
    case.headers = {**(case.headers or {}), **headers}
    return {"data": raw}


@schema.parametrize()
@settings(
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow, HealthCheck.filter_too_much],
    deadline=None,
)
def test_every_operation_holds_up_under_fuzzing(case, fuzz_world):
    plug_real_values(case, fuzz_world)
    body = sign_shopify_delivery(case, fuzz_world)
    with transaction.atomic():
        token = jwt.family_start(user=fuzz_world.owner).access
        response = case.call_and_validate(headers={"Authorization": f"Bearer {token}"}, checks=CHECKS, **body)
        transaction.set_rollback(True)
    fuzz_world.extra["answers"].append((response.request.method, response.status_code))
