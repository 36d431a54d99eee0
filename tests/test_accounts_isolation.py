"""Tenant isolation: charlie (owner of client B) never reads, changes or learns of client A's rows.

A foreign object is a 404 NOT_FOUND indistinguishable from an id that does not exist, and leaves
the database exactly as it was; lists, the profile, the client and the audit log hold only B's rows.
"""

import json
import re
import uuid

import pytest
from django.urls import URLPattern, URLResolver, get_resolver

from accounts import api_keys, jwt, services
from accounts.api.base import TenantAPIView
from accounts.models import ApiKey, AuditAction, AuditEvent, Client, Invitation, MemberPhone, RefreshFamily, User
from accounts.roles import Role
from tests.factories import PASSWORD, UserFactory

pytestmark = pytest.mark.django_db

# Every accounts route that takes an object id, with each method it answers and a body that would
# change something if the object were found.
FOREIGN_CALLS = [
    ("GET", "team/members/{member}", None),
    ("PATCH", "team/members/{member}", {"role": Role.VIEWER.value}),
    ("POST", "team/members/{member}/deactivate", None),
    ("POST", "team/members/{inactive_member}/activate", None),
    ("POST", "team/invitations/{invitation}/revoke", None),
    ("GET", "api-keys/{api_key}", None),
    ("DELETE", "api-keys/{api_key}", None),
    ("POST", "api-keys/{api_key}/revoke", None),
    ("DELETE", "me/phones/{phone}", None),
    ("DELETE", "team/phones/{phone}", None),
]
OBJECTS = ("member", "inactive_member", "invitation", "api_key", "phone")


def _walk(patterns, prefix=""):
    for entry in patterns:
        if isinstance(entry, URLResolver):
            yield from _walk(entry.url_patterns, prefix + str(entry.pattern))
        elif isinstance(entry, URLPattern):
            yield prefix + str(entry.pattern), entry


def call(api, method, path, payload=None, token=None):
    api.credentials(**({"HTTP_AUTHORIZATION": f"Bearer {token}"} if token else {}))
    response = getattr(api, method.lower())(f"/api/v1/{path}", payload, format="json")
    api.credentials()
    return response, (json.loads(response.content) if response.content else None)


def login(api, email, password=PASSWORD) -> str:
    response, body = call(api, "POST", "auth/login", {"email": email, "password": password})
    assert response.status_code == 200, body
    return body["data"]["tokens"]["access"]


def snapshot() -> dict:
    """Every row isolation could leak a change into, by value."""
    return {
        "clients": list(Client.objects.order_by("pk").values()),
        "users": list(User.objects.order_by("pk").values()),
        "invitations": list(Invitation.objects.order_by("pk").values()),
        "families": list(RefreshFamily.objects.order_by("pk").values("pk", "current_jti", "revoked_at")),
        "audit": list(AuditEvent.objects.order_by("pk").values_list("pk", flat=True)),
        "api_keys": list(ApiKey.objects.order_by("pk").values()),
        "phones": list(MemberPhone.objects.order_by("pk").values()),
    }


@pytest.fixture
def world(api, client_a, client_b, alice, bob, charlie):
    """Rows and audit events in both clients, written through services and the API."""
    erin = UserFactory(email="erin@acme.example", client=client_a, role=Role.VIEWER, is_active=False)
    dana = UserFactory(email="dana@bolt.example", client=client_b, role=Role.VIEWER)
    invitation_a, _ = services.invitation_create(actor=alice, email="newhire@acme.example", role=Role.AGENT)
    invitation_b, _ = services.invitation_create(actor=charlie, email="newhire@bolt.example", role=Role.AGENT)
    services.invitation_create(actor=alice, email="second@acme.example", role=Role.VIEWER)
    api_key_a, _ = api_keys.api_key_create(client=client_a, actor=alice, name="Warehouse sync", scope="read")
    phone_a = services.member_phone_add(actor=alice, member=bob, number="+919900077701")

    alice_token = login(api, alice.email)
    charlie_token = login(api, charlie.email)
    call(api, "POST", "auth/login", {"email": alice.email, "password": "wrong password"})  # login.failed in A
    call(api, "POST", "auth/login", {"email": "nobody@nowhere.example", "password": "x"})  # login.failed, no client
    assert call(api, "PATCH", "client", {"timezone": "Asia/Dubai"}, alice_token)[0].status_code == 200
    assert call(api, "PATCH", "client", {"timezone": "Europe/Paris"}, charlie_token)[0].status_code == 200
    assert call(api, "PATCH", f"team/members/{erin.public_id}", {"role": "agent"}, alice_token)[0].status_code == 200
    assert call(api, "PATCH", f"team/members/{dana.public_id}", {"role": "agent"}, charlie_token)[0].status_code == 200

    a_events = AuditEvent.objects.filter(client=client_a)
    b_events = AuditEvent.objects.filter(client=client_b)
    assert a_events.count() >= 6 and b_events.count() >= 4  # both clients have a history to leak
    assert a_events.filter(action=AuditAction.LOGIN_FAILED).exists()
    return {
        "alice_token": alice_token,
        "charlie_token": charlie_token,
        "a": {
            "member": bob,
            "owner": alice,
            "inactive_member": erin,
            "invitation": invitation_a,
            "api_key": api_key_a,
            "phone": phone_a,
            "users": set(User.objects.filter(client=client_a).values_list("public_id", flat=True)),
            "invitations": set(Invitation.objects.filter(client=client_a).values_list("public_id", flat=True)),
            "events": set(a_events.values_list("public_id", flat=True)),
        },
        "b": {
            "users": {charlie.public_id, dana.public_id},
            "invitations": {invitation_b.public_id},
            "events": set(b_events.values_list("public_id", flat=True)),
        },
        "unowned_events": set(AuditEvent.objects.filter(client=None).values_list("public_id", flat=True)),
    }


def _ids(body) -> set[uuid.UUID]:
    return {uuid.UUID(row["id"]) for row in body["data"]}


def _assert_no_trace_of_a(response, world):
    text = response.content.decode()
    for public_id in world["a"]["users"] | world["a"]["invitations"] | world["a"]["events"]:
        assert str(public_id) not in text
    assert "acme" not in text.lower()


# --- objects by id -------------------------------------------------------------------------------


def test_every_accounts_route_with_an_object_id_is_covered_here():
    routed = {
        (method, route.removeprefix("api/v1/"))
        for route, pattern in _walk(get_resolver().url_patterns)
        if route.startswith("api/") and "<" in route
        for cls in [getattr(pattern.callback, "view_class", None)]
        if isinstance(cls, type) and issubclass(cls, TenantAPIView) and cls.__module__.startswith("accounts.")
        for method in cls.capabilities
    }
    covered = {(method, re.sub(r"\{\w+\}", "<uuid:public_id>", path)) for method, path, _ in FOREIGN_CALLS}
    assert routed == covered


@pytest.mark.parametrize(("method", "path", "payload"), FOREIGN_CALLS, ids=[f"{m} {p}" for m, p, _ in FOREIGN_CALLS])
def test_a_foreign_object_is_not_found_and_left_unchanged(api, world, method, path, payload):
    a_objects = world["a"]
    foreign_path = path.format(**{key: a_objects[key].public_id for key in OBJECTS})
    before = snapshot()

    response, body = call(api, method, foreign_path, payload, world["charlie_token"])

    assert response.status_code == 404, body
    assert body["error"]["code"] == "NOT_FOUND"
    assert snapshot() == before
    _assert_no_trace_of_a(response, world)

    # An id that exists nowhere gets the very same answer, so a 404 confirms nothing.
    random_path = path.format(**{key: uuid.uuid4() for key in OBJECTS})
    missing, missing_body = call(api, method, random_path, payload, world["charlie_token"])
    assert missing.status_code == 404
    assert missing_body["error"] == body["error"]
    assert snapshot() == before


@pytest.mark.parametrize("owner", ["member", "owner"])
def test_alice_owner_cannot_be_reached_from_client_b_either(api, world, owner):
    target = world["a"][owner]
    before = snapshot()
    for method, path, payload in FOREIGN_CALLS[:3]:
        response, body = call(api, method, path.format(member=target.public_id), payload, world["charlie_token"])
        assert (response.status_code, body["error"]["code"]) == (404, "NOT_FOUND"), (method, path)
    assert snapshot() == before
    # The same routes work inside client A: the 404 above is isolation, not a broken route.
    response, body = call(api, "GET", f"team/members/{target.public_id}", token=world["alice_token"])
    assert response.status_code == 200 and body["data"]["id"] == str(target.public_id)


# --- lists, profile and client -------------------------------------------------------------------


def test_the_member_list_holds_only_client_b(api, world):
    response, body = call(api, "GET", "team/members?page_size=1000", token=world["charlie_token"])
    assert response.status_code == 200, body
    assert _ids(body) == world["b"]["users"]
    assert body["meta"]["pagination"]["total"] == len(world["b"]["users"])
    _assert_no_trace_of_a(response, world)


def test_the_invitation_list_holds_only_client_b(api, world):
    response, body = call(api, "GET", "team/invitations?page_size=1000", token=world["charlie_token"])
    assert response.status_code == 200, body
    assert _ids(body) == world["b"]["invitations"]
    _assert_no_trace_of_a(response, world)


def test_the_audit_log_holds_only_client_b(api, world):
    response, body = call(api, "GET", "audit-events?limit=1000", token=world["charlie_token"])
    assert response.status_code == 200, body
    assert _ids(body) == world["b"]["events"]
    assert not _ids(body) & (world["a"]["events"] | world["unowned_events"])
    _assert_no_trace_of_a(response, world)
    # And the other way round: alice sees A's history, none of B's.
    response, body = call(api, "GET", "audit-events?limit=1000", token=world["alice_token"])
    assert _ids(body) == world["a"]["events"]


@pytest.mark.parametrize("who", ["owner", "member", "inactive_member"])
def test_the_audit_actor_filter_finds_nothing_for_a_foreign_member(api, world, who):
    foreign = world["a"][who]
    if who == "owner":
        assert AuditEvent.objects.filter(actor=foreign).exists()  # there is something to leak
    response, body = call(api, "GET", f"audit-events?actor={foreign.public_id}", token=world["charlie_token"])
    assert response.status_code == 200, body
    assert body["data"] == []


def test_the_audit_actor_filter_answers_a_foreign_id_like_an_unknown_one(api, world, charlie):
    token = world["charlie_token"]
    _, foreign = call(api, "GET", f"audit-events?actor={world['a']['owner'].public_id}", token=token)
    _, unknown = call(api, "GET", f"audit-events?actor={uuid.uuid4()}", token=token)
    _, own = call(api, "GET", f"audit-events?actor={charlie.public_id}", token=token)
    assert foreign["data"] == unknown["data"] == []
    assert foreign["meta"]["pagination"] == unknown["meta"]["pagination"]
    assert own["data"] and {row["actor"]["id"] for row in own["data"]} == {str(charlie.public_id)}


def test_client_and_me_are_charlies_own(api, world, charlie, client_b):
    response, body = call(api, "GET", "client", token=world["charlie_token"])
    assert response.status_code == 200 and body["data"]["id"] == str(client_b.public_id)
    _assert_no_trace_of_a(response, world)

    response, body = call(api, "GET", "me", token=world["charlie_token"])
    assert response.status_code == 200
    assert body["data"]["id"] == str(charlie.public_id) and body["data"]["email"] == charlie.email
    assert body["data"]["client"]["id"] == str(client_b.public_id)
    _assert_no_trace_of_a(response, world)


def test_changing_the_client_touches_only_charlies(api, world, client_a, client_b):
    a_before = Client.objects.filter(pk=client_a.pk).values().get()
    response, body = call(api, "PATCH", "client", {"name": "Bolt Books Renamed"}, world["charlie_token"])
    assert response.status_code == 200 and body["data"]["id"] == str(client_b.public_id)
    assert Client.objects.filter(pk=client_a.pk).values().get() == a_before
    client_b.refresh_from_db()
    assert client_b.name == "Bolt Books Renamed"


def test_a_token_issued_directly_is_scoped_the_same_way(api, world, charlie, bob):
    """Not only tokens from the login view: any live token of charlie's is client B's."""
    token = jwt.family_start(user=charlie).access
    response, body = call(api, "GET", f"team/members/{bob.public_id}", token=token)
    assert (response.status_code, body["error"]["code"]) == (404, "NOT_FOUND")
