"""The tenant isolation matrix: every route of the URLconf, as client B's owner, against client A.

Both clients are filled with one object of every kind (tests/worlds.py, a recording stored on
local files). Charlie, B's owner, then calls every route that names an object with A's object,
with every method the route answers — API views with his JWT, pages with his session, webhook
URLs with B's token or secret on A's connection and the other way round — and gets the 404 (or
the documented refusal) an unknown id gets, with nothing of A's in the answer. Every row of A is
compared by value before and after (users, calls with `updated_at`, recordings, products,
connections with their decrypted secrets, webhook deliveries, audit events, refresh families),
and A's recording object must still be in storage with the same sha256. The same request from
A's owner then succeeds, so each 404 is isolation, not a broken route.

Lists and searches are called as Charlie and must hold B's rows and none of A's; routes that act on
the caller's own data (/me, the client, the connection settings…) are called too and must leave
A untouched. `test_every_route_is_in_the_matrix_or_listed` walks the URLconf: a route that is in
neither the matrix nor the short list of routes without tenant data fails it.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from urllib.parse import urlencode

import pytest
from django.test import Client as PageClient
from django.urls import URLPattern, URLResolver, get_resolver, reverse
from rest_framework.test import APIClient

from accounts import jwt
from accounts.api.base import TenantAPIView
from accounts.models import ApiKey, AuditEvent, Invitation, MemberPhone, User
from integrations.models import Product, ShopifyCustomer, ShopifyDataRequest, ShopifyOrder
from integrations.outbound.models import OutboundDelivery, OutboundEvent, WebhookEndpoint
from recordings.models import Call, CallExport, Recording, Tag
from tests import shopify_fake
from tests.exotel_fake import exotel_fixture  # noqa: F401
from tests.s3 import local_storage  # noqa: F401
from tests.worlds import World, populate, world_state

pytestmark = pytest.mark.django_db

A_SLUG, B_SLUG = "acme-apparel", "bolt-books"
SHARED_NUMBER = "+919800000000"  # both clients have a call from it (tests/worlds.py)


# --- the two worlds ------------------------------------------------------------------------------


@dataclass
class Worlds:
    a: World
    b: World

    def of(self, side: str) -> World:
        return self.a if side == "a" else self.b


@pytest.fixture
def worlds(client_a, client_b, alice, charlie, local_storage, exotel, settings):  # noqa: F811
    with shopify_fake.serve(settings):
        yield Worlds(
            a=populate(client_a, alice, slug=A_SLUG, exotel_host=exotel.host),
            b=populate(
                client_b, charlie, slug=B_SLUG, exotel_host=exotel.host, shopify_webhook_secret="b-webhook-secret"
            ),
        )


def traces_of(world: World) -> set[str]:
    """Strings that would betray client A in an answer: its slug and the public ids of its rows."""
    ids = {world.client.public_id, world.exotel.public_id, world.shopify.public_id, world.webhook_event.public_id}
    for model in (
        User,
        Invitation,
        Call,
        Recording,
        Product,
        ShopifyCustomer,
        ShopifyOrder,
        ShopifyDataRequest,
        AuditEvent,
        Tag,
        MemberPhone,
        ApiKey,
        WebhookEndpoint,
        OutboundDelivery,
        CallExport,
    ):
        ids |= set(model.objects.filter(client=world.client).values_list("public_id", flat=True))
    prefixes = set(ApiKey.objects.filter(client=world.client).values_list("prefix", flat=True))
    events = OutboundEvent.objects.filter(client=world.client)
    webhook_ids = {event.webhook_id for event in events} | {world.webhook_endpoint.secret}
    return (
        {str(public_id) for public_id in ids} | {world.client.slug, world.exotel.webhook_token} | prefixes | webhook_ids
    )


def leaks(probe, worlds: Worlds, text: str) -> set[str]:
    """Traces of A in an answer, less what the request itself sent (a form echoes its input back)."""
    sent = json.dumps(body_of(probe, worlds) or {}) + json.dumps(probe.query)
    return {trace for trace in traces_of(worlds.a) if trace in text and trace not in sent}


def body_of(probe: Probe, worlds: Worlds) -> dict | None:
    return probe.body(worlds) if callable(probe.body) else probe.body


def body_text(response) -> str:
    content = b"".join(response.streaming_content) if response.streaming else response.content
    return content.decode("utf-8", errors="replace")


# --- probes --------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Probe:
    """One request of the matrix. `target(worlds, side)` names the object (or builds the whole request)."""

    route: str  # URL name, namespaced for pages
    method: str
    via: str  # "api" (Charlie's JWT), "page" (Charlie's session) or "webhook" (no user)
    target: str | None = None  # attribute of World named by <public_id>; None: the route takes no object
    kwargs: dict = field(default_factory=dict)  # other URL arguments
    body: dict | Callable | None = None  # or (worlds) -> dict, for values known only once the worlds exist
    query: dict = field(default_factory=dict)
    expect: tuple[int, ...] = ()  # what Charlie gets; default 404 for an object, 200 otherwise
    control: tuple[int, ...] = (200,)  # what A's owner gets for the same request
    build: Callable | None = None  # webhooks: (worlds, attacker side) -> (path, request kwargs)
    empty: bool = False  # a list probe whose answer rightly shows no rows (a search for A's data)
    note: str = ""

    @property
    def id(self) -> str:
        return f"{self.via} {self.method} {self.route}{' ' + self.note if self.note else ''}"


def _path(probe: Probe, world: World, public_id=None) -> str:
    kwargs = dict(probe.kwargs)
    if probe.target:
        kwargs["public_id"] = public_id or getattr(world, probe.target).public_id
    path = reverse(probe.route, kwargs=kwargs)
    return f"{path}?{urlencode(probe.query)}" if probe.query else path


# Webhook URLs: the connection named in the URL belongs to one client, the credential to the other.
def exotel_url(kind: str):
    def build(worlds: Worlds, victim: str):
        owner, stranger = worlds.of(victim), worlds.of("b" if victim == "a" else "a")
        kwargs = {"public_id": owner.exotel.public_id, "token": stranger.exotel.webhook_token}
        path = reverse(f"exotel-{kind}", kwargs=kwargs)
        if kind == "passthru":
            return f"{path}?CallSid=cross-tenant-1&CallType=completed", {}
        return path, {"data": "CallSid=cross-tenant-1&Status=completed", "content_type": FORM}

    return build


def exotel_url_own_token(kind: str):
    def build(worlds: Worlds, victim: str):
        owner = worlds.of(victim)
        path = reverse(
            f"exotel-{kind}", kwargs={"public_id": owner.exotel.public_id, "token": owner.exotel.webhook_token}
        )
        if kind == "passthru":
            return f"{path}?CallSid=own-1&CallType=completed", {}
        return path, {"data": "CallSid=own-1&Status=completed", "content_type": FORM}

    return build


def shopify_delivery(*, signer: str, shop: str):
    """A delivery to the victim's webhook URL signed with `signer`'s secret, naming `shop`'s domain."""

    def build(worlds: Worlds, victim: str):
        other = "b" if victim == "a" else "a"
        sides = {"victim": worlds.of(victim), "stranger": worlds.of(other)}
        raw = json.dumps({"id": 7000, "title": "Hijacked"}).encode()
        secret = sides[signer].shopify.webhook_secret.encode()
        headers = {
            "HTTP_X_SHOPIFY_HMAC_SHA256": base64.b64encode(hmac.new(secret, raw, hashlib.sha256).digest()).decode(),
            "HTTP_X_SHOPIFY_SHOP_DOMAIN": sides[shop].shopify.shop_domain,
            "HTTP_X_SHOPIFY_TOPIC": "products/update",
            "HTTP_X_SHOPIFY_WEBHOOK_ID": f"cross-{uuid.uuid4()}",
        }
        path = reverse("shopify-webhook", kwargs={"public_id": worlds.of(victim).shopify.public_id})
        return path, {"data": raw, "content_type": "application/json", **headers}

    return build


FORM = "application/x-www-form-urlencoded"

# Routes that name one of A's objects: Charlie gets A's 404, A's owner gets through.
OBJECT_PROBES = [
    Probe("team-member", "GET", "api", "agent"),
    Probe("team-member", "PATCH", "api", "agent", body={"role": "viewer"}),
    Probe("team-member-deactivate", "POST", "api", "agent"),
    Probe("team-member-activate", "POST", "api", "inactive_member"),
    Probe("team-invitation-revoke", "POST", "api", "invitation"),
    Probe("call", "GET", "api", "call"),
    Probe("call", "PATCH", "api", "call", body={"notes": "Written by another company", "is_resolved": True}),
    Probe("recording", "GET", "api", "recording"),
    Probe("recording", "DELETE", "api", "recording"),
    Probe("recording-download", "GET", "api", "recording"),
    Probe("recording-download", "GET", "api", "recording", query={"disposition": "attachment"}, note="attachment"),
    Probe("product", "GET", "api", "product"),
    Probe("customer", "GET", "api", "customer"),
    Probe("recordings:call", "GET", "page", "call"),
    Probe("call-export", "GET", "api", "call_export"),
    Probe("call-export-download", "GET", "api", "call_export"),
    Probe("recordings:call-export", "GET", "page", "call_export"),
    Probe("integrations:customer", "GET", "page", "customer"),
    Probe("integrations:data-request-download", "GET", "page", "data_request"),
    Probe(
        "recordings:call-update",
        "POST",
        "page",
        "call",
        body={"notes": "Written by another company", "is_resolved": "on"},
        control=(302,),
    ),
    Probe("recordings:call-retry-recording", "POST", "page", "failed_call", control=(302,)),
    Probe("accounts:member-role", "POST", "page", "agent", body={"role": "viewer"}, control=(302,)),
    Probe("accounts:member-deactivate", "POST", "page", "agent", control=(302,)),
    Probe("accounts:member-activate", "POST", "page", "inactive_member", control=(302,)),
    Probe("accounts:invitation-revoke", "POST", "page", "invitation", control=(302,)),
    Probe("tag", "GET", "api", "tag"),
    Probe("tag", "PATCH", "api", "tag", body={"name": "Renamed by another company"}),
    Probe("tag", "DELETE", "api", "tag", control=(204,)),
    Probe("call-tags", "GET", "api", "call"),
    Probe("call-tags", "PUT", "api", "call", body={"tags": []}),
    Probe("call-tags", "PATCH", "api", "call", body=lambda worlds: {"add": [str(worlds.a.tag.public_id)]}),
    Probe(
        "recordings:call-tags",
        "POST",
        "page",
        "call",
        body=lambda worlds: {"remove": str(worlds.a.tag.public_id)},
        control=(302,),
    ),
    Probe(
        "settings:tag",
        "POST",
        "page",
        "tag",
        body=lambda worlds: {
            f"tag-{worlds.a.tag.public_id}-name": "Renamed by another company",
            f"tag-{worlds.a.tag.public_id}-colour": "pink",
        },
        control=(302,),
    ),
    Probe("settings:tag-delete", "POST", "page", "tag", control=(302,)),
    Probe("me-phone", "DELETE", "api", "owner_phone", control=(204,)),
    Probe("team-phone", "DELETE", "api", "phone", control=(204,)),
    Probe("phones:remove", "POST", "page", "phone", control=(302,)),
    Probe("api-key", "GET", "api", "api_key"),
    Probe("api-key", "DELETE", "api", "api_key"),
    Probe("api-key-revoke", "POST", "api", "api_key"),
    Probe("developers:key-revoke", "POST", "page", "api_key", control=(302,)),
    # Webhook URLs: A's connection id with B's token (and B's with A's) is an unknown URL.
    Probe("exotel-status-callback", "POST", "webhook", build=exotel_url("status-callback")),
    Probe("exotel-passthru", "GET", "webhook", build=exotel_url("passthru")),
    # Shopify names the connection by id and proves the sender with the secret: a wrong signature or
    # shop is the documented 401 TOKEN_INVALID.
    Probe(
        "shopify-webhook",
        "POST",
        "webhook",
        build=shopify_delivery(signer="stranger", shop="stranger"),
        expect=(401,),
        note="signed by B",
    ),
    Probe(
        "shopify-webhook",
        "POST",
        "webhook",
        build=shopify_delivery(signer="stranger", shop="victim"),
        expect=(401,),
        note="signed by B naming A's shop",
    ),
    Probe(
        "shopify-webhook",
        "POST",
        "webhook",
        build=shopify_delivery(signer="victim", shop="stranger"),
        expect=(401,),
        note="A's signature naming B's shop",
    ),
]
# Outbound webhooks: A's endpoint and A's delivery.
OBJECT_PROBES += [
    Probe("webhook-endpoint", "GET", "api", "webhook_endpoint"),
    Probe("webhook-endpoint", "PATCH", "api", "webhook_endpoint", body={"description": "Changed by another company"}),
    Probe("webhook-endpoint", "DELETE", "api", "webhook_endpoint", control=(204,)),
    Probe("webhook-endpoint-secret", "GET", "api", "webhook_endpoint"),
    Probe("webhook-endpoint-rotate-secret", "POST", "api", "webhook_endpoint", body={"overlap_hours": 1}),
    Probe("webhook-endpoint-test", "POST", "api", "webhook_endpoint", control=(202,)),
    Probe("webhook-endpoint-deliveries", "GET", "api", "webhook_endpoint"),
    Probe("webhook-delivery-redeliver", "POST", "api", "webhook_delivery", control=(202,)),
    Probe("integrations:webhook-secret", "POST", "page", "webhook_endpoint"),
    Probe("integrations:webhook-rotate", "POST", "page", "webhook_endpoint"),
    Probe("integrations:webhook-enable", "POST", "page", "webhook_endpoint", control=(302,)),
    Probe("integrations:webhook-disable", "POST", "page", "webhook_endpoint", control=(302,)),
    Probe("integrations:webhook-delete", "POST", "page", "webhook_endpoint", body={"confirm": "yes"}, control=(302,)),
    Probe("integrations:webhook-test", "POST", "page", "webhook_endpoint", control=(302,)),
    Probe("integrations:webhook-redeliver", "POST", "page", "webhook_delivery", control=(302,)),
]
CONTROLS = {
    "exotel-status-callback": exotel_url_own_token("status-callback"),
    "exotel-passthru": exotel_url_own_token("passthru"),
    "shopify-webhook": shopify_delivery(signer="victim", shop="victim"),
}

# Lists, searches and pages that show many rows: Charlie sees B's, none of A's.
LIST_PROBES = [
    Probe("calls", "GET", "api"),
    Probe("calls", "GET", "api", query={"number": SHARED_NUMBER}, note="number both clients have"),
    Probe("calls", "GET", "api", query={"q": A_SLUG}, empty=True, note="search for A's notes"),
    Probe("calls", "GET", "api", query={"q": "asked about"}, note="search for notes both have"),
    Probe("calls", "GET", "api", query={"q": "asha"}, note="customer name both have"),
    Probe("calls", "GET", "api", query={"order": "#1000"}, note="order name both have"),
    Probe("calls-export", "GET", "api"),
    Probe("calls", "GET", "api", query={"agent": "none"}, note="calls of nobody"),
    Probe("calls-missed", "GET", "api"),
    Probe("me-phones", "GET", "api"),
    Probe("team-phones", "GET", "api"),
    Probe("calls", "GET", "api", query={"ordering": "-duration_seconds"}, note="sorted by duration"),
    Probe("recordings:calls", "GET", "page", query={"ordering": "duration_seconds"}, note="sorted by duration"),
    Probe("recordings:calls-export", "POST", "page", body={"direction": "inbound"}),
    Probe("recordings", "GET", "api"),
    Probe("products", "GET", "api"),
    Probe("products", "GET", "api", query={"q": "kurta"}, note="search"),
    Probe("customers", "GET", "api"),
    Probe("customers", "GET", "api", query={"q": "asha"}, note="name both have"),
    Probe("customers", "GET", "api", query={"q": A_SLUG}, empty=True, note="search for A's customer"),
    Probe("customers", "GET", "api", query={"q": SHARED_NUMBER}, note="number both have"),
    Probe("lookup", "GET", "api", query={"phone": SHARED_NUMBER}, note="number both have"),
    Probe("team-members", "GET", "api"),
    Probe("team-invitations", "GET", "api"),
    Probe("audit-events", "GET", "api"),
    Probe("stats-summary", "GET", "api", query={"started_from": "2026-02-01", "started_to": "2026-03-31"}),
    Probe("integrations", "GET", "api"),
    Probe("home", "GET", "page", expect=(302,)),
    Probe("dashboard", "GET", "page"),
    Probe("recordings:calls", "GET", "page"),
    Probe("recordings:calls", "GET", "page", query={"number_prefix": "+9198"}, note="number prefix both have"),
    Probe("recordings:calls", "GET", "page", query={"q": "asha"}, note="customer name both have"),
    Probe("recordings:calls", "GET", "page", query={"order": "#1000"}, note="order name both have"),
    Probe("integrations:products", "GET", "page"),
    Probe("integrations:products", "GET", "page", query={"q": "kurta"}, note="search"),
    Probe("integrations:customers", "GET", "page"),
    Probe("integrations:customers", "GET", "page", query={"q": "asha"}, note="name both have"),
    Probe("integrations:customers", "GET", "page", query={"q": A_SLUG}, empty=True, note="search for A's customer"),
    Probe("integrations:customers", "GET", "page", query={"q": SHARED_NUMBER}, note="number both have"),
    Probe("integrations:index", "GET", "page"),
    Probe("integrations:data-requests", "GET", "page"),
    Probe("accounts:team", "GET", "page"),
    Probe("tags", "GET", "api"),
    Probe("calls", "GET", "api", query={"tag": "refund"}, note="tag name both have"),
    Probe("calls-export", "GET", "api", query={"tag": "refund"}, note="tag name both have"),
    Probe("recordings:calls", "GET", "page", query={"tag": "refund"}, note="tag name both have"),
    Probe("settings:index", "GET", "page"),
    Probe("recordings:calls", "GET", "page", query={"agent": "me"}, note="my calls"),
    Probe("recordings:missed", "GET", "page"),
    Probe("phones:index", "GET", "page"),
    Probe("api-keys", "GET", "api"),
    Probe("developers:index", "GET", "page"),
]
LIST_PROBES += [
    Probe("webhook-endpoints", "GET", "api"),
    Probe("integrations:webhooks", "GET", "page"),
]
LIST_PROBES += [
    Probe("dashboard-part", "GET", "page", kwargs={"name": name}, query={"range": "90d"}, note=name)
    for name in ("figures", "chart", "agents")
]
LIST_PROBES += [
    Probe("dashboard", "GET", "page", query={"range": "today"}, note="range"),
    Probe("stats-summary", "GET", "api", query={"range": "90d"}, note="range"),
]

# Routes without an object in the URL that act on the caller's own data: they must leave A alone.
# `expect` is what Charlie gets acting on his own client.
OWN_PROBES = [
    Probe("me", "GET", "api"),
    Probe("me", "PATCH", "api", body={"first_name": "Charles"}),
    Probe("client", "GET", "api"),
    Probe("client", "PATCH", "api", body={"name": "Bolt Books Ltd"}),
    Probe(
        "auth-password-change", "POST", "api", body={"current_password": "wrong", "new_password": "x"}, expect=(400,)
    ),
    Probe(
        "team-invitations",
        "POST",
        "api",
        body={"email": "invitee@acme-apparel.example", "role": "viewer"},
        expect=(201,),
        note="A's invitee's address",
    ),
    Probe(
        "calls",
        "POST",
        "api",
        body={"to": "+919812345678", "from": "+919900011122"},
        expect=(201, 502),
        note="place a call",
    ),
    Probe("me-phones", "POST", "api", body={"number": "+919811122299"}, expect=(201,)),
    Probe(
        "team-phones",
        "POST",
        "api",
        body=lambda worlds: {"member": str(worlds.b.agent.public_id), "number": "+919811122298"},
        expect=(201,),
    ),
    Probe(
        "team-phones",
        "POST",
        "api",
        body=lambda worlds: {"member": str(worlds.a.agent.public_id), "number": "+919811122297"},
        expect=(400,),
        note="A's member",
    ),
    Probe("phones:index", "POST", "page", body={"number": "+919811122296"}, expect=(302,)),
    Probe(
        "recordings:call-place",
        "POST",
        "page",
        body={"to": "+919811100000", "from_number": "+919900011133"},
        expect=(302,),
        note="call back from B's owner's number",
    ),
    Probe("integration-exotel", "GET", "api"),
    Probe("integration-exotel", "PUT", "api", body={"account_sid": "worldsid", "caller_ids": ["+918047112233"]}),
    Probe("integration-exotel", "PATCH", "api", body={"callback_username": "bolt", "callback_password": "b-pass-1"}),
    Probe("integration-exotel", "DELETE", "api", expect=(204,)),
    Probe("integration-exotel-test", "POST", "api"),
    Probe("integration-exotel-rotate-token", "POST", "api"),
    Probe("integration-shopify", "GET", "api"),
    Probe(
        "integration-shopify",
        "PUT",
        "api",
        body={"shop_domain": f"{A_SLUG}.myshopify.com"},
        expect=(400,),  # B's token is not for A's shop; nothing about A is said
        note="A's shop",
    ),
    Probe(
        "integration-shopify",
        "PATCH",
        "api",
        body={"shop_domain": f"{A_SLUG}.myshopify.com"},
        expect=(400,),
        note="A's shop",
    ),
    Probe("integration-shopify", "DELETE", "api", expect=(204,)),
    Probe("integration-shopify-test", "POST", "api"),
    Probe("integration-shopify-sync", "POST", "api", expect=(202,)),
    Probe(
        "integrations:exotel-save",
        "POST",
        "page",
        body=lambda worlds: {"exotel-account_sid": "worldsid", "exotel-api_host": worlds.b.exotel.api_host},
        expect=(302,),
    ),
    Probe("integrations:exotel-test", "POST", "page", expect=(302,)),
    Probe("integrations:exotel-rotate", "GET", "page", note="the confirmation"),
    Probe("integrations:exotel-rotate", "POST", "page", expect=(400,), note="not confirmed: asks again"),
    Probe("integrations:exotel-rotate", "POST", "page", body={"confirm": "rotate"}, expect=(302,)),
    Probe("integrations:exotel-disconnect", "GET", "page", note="the confirmation"),
    Probe("integrations:exotel-disconnect", "POST", "page", expect=(400,), note="not confirmed: asks again"),
    Probe("integrations:exotel-disconnect", "POST", "page", body={"confirm": "disconnect"}, expect=(302,)),
    Probe(
        "integrations:shopify-save",
        "POST",
        "page",
        body={"shopify-shop_domain": f"{A_SLUG}.myshopify.com"},
        expect=(400,),
        note="A's shop",
    ),
    Probe("integrations:shopify-test", "POST", "page", expect=(302,)),
    Probe("integrations:shopify-sync", "POST", "page", expect=(302,)),
    Probe("integrations:shopify-disconnect", "GET", "page", note="the confirmation"),
    Probe("integrations:shopify-disconnect", "POST", "page", expect=(400,), note="not confirmed: asks again"),
    Probe("integrations:shopify-disconnect", "POST", "page", body={"confirm": "disconnect"}, expect=(302,)),
    Probe("accounts:profile", "GET", "page"),
    Probe("accounts:profile", "POST", "page", body={"form": "name", "name-first_name": "Charles"}, expect=(302,)),
    Probe(
        "accounts:team",
        "POST",
        "page",
        body={"email": "invitee@acme-apparel.example", "role": "viewer"},
        expect=(302,),
        note="invite A's invitee",
    ),
    Probe("tags", "POST", "api", body={"name": "exchange"}, expect=(201,)),
    Probe("tags", "POST", "api", body={"name": "Refund"}, expect=(400,), note="a name both have"),
    Probe("client-recording-retention", "GET", "api"),
    Probe("client-recording-retention", "PUT", "api", body={"recording_retention_days": 200}),
    Probe(
        "settings:company",
        "POST",
        "page",
        body={"company-name": "Bolt Books Ltd", "company-country": "IN", "company-timezone": "Europe/London"},
        expect=(302,),
    ),
    Probe("settings:tags", "POST", "page", body={"new-tag-name": "exchange", "new-tag-colour": "teal"}, expect=(302,)),
    Probe("settings:retention", "POST", "page", body={"retention-recording_retention_days": "200"}, expect=(302,)),
    Probe("api-keys", "POST", "api", body={"name": "acme-apparel sync", "scope": "read"}, expect=(201,)),
    Probe(
        "developers:index",
        "POST",
        "page",
        body={"name": "acme-apparel sync", "scope": "read", "valid_through": ""},
        expect=(302,),
    ),
    Probe(
        "webhook-endpoints",
        "POST",
        "api",
        body={"url": "https://203.0.114.10/acme-apparel", "event_types": ["call.created"]},
        expect=(201,),
        note="A's URL",
    ),
    Probe(
        "integrations:webhook-create",
        "POST",
        "page",
        body={"endpoint-url": "https://203.0.114.10/acme-apparel", "endpoint-event_types": ["call.created"]},
        expect=(201,),
        note="A's URL",
    ),
    # Data of no client, which a client's owner must not see either.
    Probe("health-detailed", "GET", "page", expect=(403,)),
    Probe("metrics", "GET", "page", expect=(403, 404)),
    Probe("admin-system", "GET", "page", expect=(302,)),
]
PROBES = OBJECT_PROBES + LIST_PROBES + OWN_PROBES

# Routes that hold no tenant data of their own, and why; the matrix does not call them.
NO_TENANT_DATA = {
    "client-errors": "anonymous browser error reports, logged and never stored",
    "auth-register": "creates a new client; touches no existing one",
    "auth-verify": "the signed token in the body names its user; a forged one is refused (test_accounts_auth_api)",
    "auth-verify-resend": "answers the same for every address (test_accounts_auth_api)",
    "auth-login": "credentials, not a client, pick the user",
    "auth-refresh": "the refresh token is the credential; reuse and families: test_accounts_tokens",
    "auth-logout": "revokes the family of the refresh token it is given",
    "auth-password-reset": "answers the same for every address",
    "auth-password-reset-confirm": "the signed token names its user",
    "auth-invitation-accept": "the invitation token is the credential; it joins only its own client",
    "schema": "the OpenAPI document",
    "swagger-ui": "API documentation",
    "redoc": "API documentation",
    "favicon": "the site's icon",
    "api-not-found": "answers 404 to every path no other API route matches",
    "health": "process and dependency status, no tenant data",
    "health-live": "process status",
    "health-ready": "dependency status",
    "accounts:signup": "creates a new client",
    "accounts:signup-done": "a static page",
    "accounts:verify-resend": "answers the same for every address",
    "accounts:verify": "the signed token in the link names its user",
    "accounts:login": "credentials pick the user",
    "accounts:logout": "ends the caller's own session",
    "accounts:password-reset": "answers the same for every address",
    "accounts:password-reset-confirm": "the signed token in the link names its user",
    "accounts:invitation": "the token in the link is the credential; it joins only its own client",
    "onboarding:start": "the caller's own client's set-up wizard",
    "onboarding:company": "the caller's own client's set-up wizard",
    "onboarding:exotel": "the caller's own client's set-up wizard",
    "onboarding:exotel-skip": "the caller's own client's set-up wizard",
    "onboarding:shopify": "the caller's own client's set-up wizard",
    "onboarding:shopify-skip": "the caller's own client's set-up wizard",
    "onboarding:done": "the caller's own client's set-up wizard",
}
# Django's admin is for Caly's staff and crosses tenants by design; a client's owner is sent to its
# login page (test_admin_is_closed_to_client_users below).
ADMIN_PREFIX = "admin/"


# --- the URLconf ---------------------------------------------------------------------------------


def _walk(patterns, prefix="", namespace=None):
    for entry in patterns:
        if isinstance(entry, URLResolver):
            inner = (
                entry.namespace if not namespace else f"{namespace}:{entry.namespace}" if entry.namespace else namespace
            )
            yield from _walk(entry.url_patterns, prefix + str(entry.pattern), inner)
        elif isinstance(entry, URLPattern):
            name = f"{namespace}:{entry.name}" if namespace and entry.name else entry.name
            yield prefix + str(entry.pattern), name, entry


def routes() -> list[tuple[str, str, URLPattern]]:
    return list(_walk(get_resolver().url_patterns))


def test_every_route_is_in_the_matrix_or_listed():
    probed = {probe.route for probe in PROBES}
    object_probed = {probe.route for probe in OBJECT_PROBES}
    missing, unnamed, not_object_probed = [], [], []
    for route, name, _ in routes():
        if route.startswith(ADMIN_PREFIX):
            continue
        if name is None:
            unnamed.append(route)
        elif name not in probed and name not in NO_TENANT_DATA:
            missing.append(f"/{route} ({name})")
        if "<uuid:public_id>" in route and name not in object_probed:
            not_object_probed.append(f"/{route} ({name})")
    assert not unnamed, f"unnamed routes cannot be listed: {unnamed}"
    assert not missing, "routes neither in the isolation matrix nor listed as holding no tenant data:\n" + "\n".join(
        missing
    )
    assert not not_object_probed, "routes naming an object without a probe on A's object:\n" + "\n".join(
        not_object_probed
    )
    names = {name for _, name, _ in routes()}
    assert (probed | set(NO_TENANT_DATA)) <= names, "the matrix names routes that no longer exist"
    assert not probed & set(NO_TENANT_DATA)


def test_every_method_of_every_tenant_api_route_with_an_object_is_probed():
    declared = {
        (name, method)
        for route, name, pattern in routes()
        if "<uuid:public_id>" in route
        for cls in [getattr(pattern.callback, "view_class", None)]
        if isinstance(cls, type) and issubclass(cls, TenantAPIView)
        for method in cls.capabilities
    }
    probed = {(probe.route, probe.method) for probe in OBJECT_PROBES if probe.via == "api"}
    assert declared == probed


def test_the_matrix_size():
    """Routes × methods probed (the figure the hardening note reports)."""
    calls = {(probe.route, probe.method, probe.note) for probe in PROBES}
    assert len(calls) == len(PROBES)  # no probe is listed twice
    assert len(OBJECT_PROBES) >= 23 and len(PROBES) >= 80


# --- running a probe -----------------------------------------------------------------------------


def send(probe: Probe, worlds: Worlds, *, as_side: str, victim: str = "a", public_id=None):
    """The probe's request against `victim`'s objects (or `public_id`) as the owner of `as_side`."""
    actor = worlds.of(as_side).owner
    if probe.build is not None:
        if as_side == victim:
            path, kwargs = CONTROLS[probe.route](worlds, victim)
        else:
            path, kwargs = probe.build(worlds, victim)
        return getattr(PageClient(), probe.method.lower())(path, **kwargs)
    path = _path(probe, worlds.of(victim if probe.target else as_side), public_id)
    if probe.via == "api":
        api = APIClient()
        api.credentials(HTTP_AUTHORIZATION=f"Bearer {jwt.family_start(user=actor).access}")
        return getattr(api, probe.method.lower())(path, body_of(probe, worlds), format="json")
    page = PageClient()
    page.force_login(actor)
    return getattr(page, probe.method.lower())(path, body_of(probe, worlds) or {})


@pytest.mark.parametrize("probe", OBJECT_PROBES, ids=lambda probe: probe.id)
def test_a_foreign_object_is_not_found_and_nothing_changes(worlds, probe):
    before = world_state(worlds.a)
    assert all(before["objects"].values()) and before["objects"]  # A's audio is there to lose

    response = send(probe, worlds, as_side="b")

    assert response.status_code in (probe.expect or (404,)), body_text(response)[:500]
    text = body_text(response)
    leaked = leaks(probe, worlds, text)
    assert not leaked, f"the answer names A's {leaked}"
    if probe.via == "api" and not probe.expect:
        assert json.loads(text)["error"]["code"] == "NOT_FOUND"
    assert world_state(worlds.a) == before

    if probe.target and probe.via == "api":
        # An id that exists nowhere gets the very same answer: a 404 confirms nothing.
        missing = send(probe, worlds, as_side="b", public_id=uuid.uuid4())
        assert missing.status_code == response.status_code
        assert json.loads(body_text(missing))["error"] == json.loads(text)["error"]

    control = send(probe, worlds, as_side="a")
    assert control.status_code in probe.control, body_text(control)[:500]


@pytest.mark.parametrize("probe", LIST_PROBES, ids=lambda probe: probe.id)
def test_a_list_holds_only_the_callers_rows(worlds, probe):
    before = world_state(worlds.a)

    response = send(probe, worlds, as_side="b")

    assert response.status_code in (probe.expect or (200,)), body_text(response)[:500]
    text = body_text(response)
    leaked = leaks(probe, worlds, text)
    assert not leaked, f"the answer names A's {leaked}"
    assert world_state(worlds.a) == before
    if not probe.empty and probe.route not in (
        "home",
        "stats-summary",
        "dashboard-part",
        "dashboard",
    ):
        # It shows B's rows, so the absence of A's means something.
        assert any(trace in text for trace in traces_of(worlds.b)), "the answer shows nothing of B either"


@pytest.mark.parametrize("probe", OWN_PROBES, ids=lambda probe: probe.id)
def test_acting_on_ones_own_client_leaves_the_other_alone(worlds, probe):
    before = world_state(worlds.a)

    response = send(probe, worlds, as_side="b")

    assert response.status_code in (probe.expect or (200,)), body_text(response)[:500]
    text = body_text(response)
    leaked = leaks(probe, worlds, text)
    assert not leaked, f"the answer names A's {leaked}"
    assert world_state(worlds.a) == before


def test_the_summary_counts_only_the_callers_calls(worlds, api):
    api.credentials(HTTP_AUTHORIZATION=f"Bearer {jwt.family_start(user=worlds.b.owner).access}")
    response = api.get("/api/v1/stats/summary", {"started_from": "2026-02-01", "started_to": "2026-03-31"})
    figures = response.json()["data"]
    in_range = Call.objects.filter(client=worlds.b.client, started_at__lt="2026-04-01T00:00:00+05:30")
    assert figures["calls"] == in_range.count() == 3
    assert figures["recordings_stored"] == 1


def test_admin_is_closed_to_client_users(worlds):
    page = PageClient()
    page.force_login(worlds.b.owner)
    for path in (
        "/admin/",
        f"/admin/recordings/call/{worlds.a.call.pk}/change/",
        f"/admin/accounts/client/{worlds.a.client.pk}/change/",
        "/admin/system/",
    ):
        response = page.get(path)
        assert response.status_code == 302 and response["Location"].startswith("/admin/login/"), path


def test_an_exotel_url_with_a_valid_token_of_another_connection_is_unknown(worlds):
    """Belt and braces for the matrix's webhook rows: the token is compared with its own connection's."""
    before = world_state(worlds.a), world_state(worlds.b)
    for victim in ("a", "b"):
        for kind in ("status-callback", "passthru"):
            path, kwargs = exotel_url(kind)(worlds, victim)
            method = "post" if kind == "status-callback" else "get"
            response = getattr(PageClient(), method)(path, **kwargs)
            assert response.status_code == 404, (victim, kind)
    assert (world_state(worlds.a), world_state(worlds.b)) == before
