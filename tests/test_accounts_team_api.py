"""Profile, client settings, team members, invitations and the audit log through the API."""

import json
import re
from datetime import timedelta

import pytest
import time_machine
from django.core import mail
from django.utils import timezone

from accounts import jwt
from accounts.models import AuditAction, AuditEvent, Invitation, User
from accounts.roles import Role
from tests.factories import UserFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def as_user(api):
    def _as(user):
        api.credentials(HTTP_AUTHORIZATION=f"Bearer {jwt.family_start(user=user).access}")
        return api

    return _as


def body(response):
    return json.loads(response.content)


def test_it_shows_and_updates_the_own_profile(as_user, bob):
    api = as_user(bob)
    data = body(api.get("/api/v1/me"))["data"]
    assert data["email"] == "bob@acme.example" and data["role"] == "agent" and data["client"]["slug"] == "acme-apparel"
    response = api.patch("/api/v1/me", {"first_name": "Robert", "role": "owner", "email": "x@y.z"}, format="json")
    assert response.status_code == 200 and body(response)["data"]["first_name"] == "Robert"
    bob.refresh_from_db()
    assert bob.role == Role.AGENT and bob.email == "bob@acme.example"  # read-only fields ignored
    assert AuditEvent.objects.filter(action=AuditAction.PROFILE_UPDATED, actor=bob).exists()


def test_it_shows_the_client_to_every_role_and_lets_admins_change_settings(as_user, alice, bob):
    assert body(as_user(bob).get("/api/v1/client"))["data"]["timezone"] == "Asia/Kolkata"
    assert as_user(bob).patch("/api/v1/client", {"timezone": "Asia/Dubai"}, format="json").status_code == 403
    response = as_user(alice).patch("/api/v1/client", {"timezone": "Asia/Dubai", "name": "Acme"}, format="json")
    data = body(response)["data"]
    assert response.status_code == 200 and data["timezone"] == "Asia/Dubai" and data["name"] == "Acme"
    event = AuditEvent.objects.get(action=AuditAction.CLIENT_SETTINGS_CHANGED)
    assert event.metadata["timezone"] == {"old": "Asia/Kolkata", "new": "Asia/Dubai"} and event.actor == alice


@pytest.mark.parametrize(
    "change",
    [
        {"timezone": "Nowhere/City"},
        {"name": ""},
        {"name": "x" * 201},
        {"name": 5},
        {"country": "ZZ"},
        # The business settings this endpoint once had are gone: refused, not silently ignored.
        {"return_window_days": 45},
        {"notify_by_sms": True},
        {"refund_auto_threshold_inr": "499.00"},
    ],
)
def test_it_validates_client_settings_and_changes_nothing(as_user, alice, change):
    response = as_user(alice).patch("/api/v1/client", change, format="json")
    assert response.status_code == 400 and set(change) <= set(body(response)["error"]["details"])
    alice.client.refresh_from_db()
    assert alice.client.timezone == "Asia/Kolkata" and alice.client.name == "Acme Apparel"
    assert not AuditEvent.objects.filter(action=AuditAction.CLIENT_SETTINGS_CHANGED).exists()


def test_it_lists_members_with_page_numbers(as_user, alice, bob):
    response = as_user(alice).get("/api/v1/team/members")
    data = body(response)
    assert response.status_code == 200 and {m["email"] for m in data["data"]} == {alice.email, bob.email}
    assert data["meta"]["pagination"]["total"] == 2


def test_it_changes_a_role_and_audits_it(as_user, alice, bob):
    response = as_user(alice).patch(f"/api/v1/team/members/{bob.public_id}", {"role": "admin"}, format="json")
    assert response.status_code == 200 and body(response)["data"]["role"] == "admin"
    event = AuditEvent.objects.get(action=AuditAction.USER_ROLE_CHANGED)
    assert event.metadata == {"old": "agent", "new": "admin"} and event.target_id == str(bob.public_id)


def test_it_never_removes_the_last_owner(as_user, alice):
    api = as_user(alice)
    demote = api.patch(f"/api/v1/team/members/{alice.public_id}", {"role": "admin"}, format="json")
    deactivate = api.post(f"/api/v1/team/members/{alice.public_id}/deactivate")
    assert demote.status_code == deactivate.status_code == 409
    assert body(demote)["error"]["code"] == "CONFLICT"
    alice.refresh_from_db()
    assert alice.role == Role.OWNER and alice.is_active


def test_it_lets_an_owner_step_down_when_another_owner_remains(as_user, alice, client_a):
    UserFactory(client=client_a, role=Role.OWNER, email="second@acme.example")
    response = as_user(alice).patch(f"/api/v1/team/members/{alice.public_id}", {"role": "admin"}, format="json")
    assert response.status_code == 200
    alice.refresh_from_db()
    assert alice.role == Role.ADMIN and alice.is_active


def test_it_keeps_the_owner_role_for_owners_to_grant(as_user, alice, bob, client_a):
    admin = UserFactory(client=client_a, role=Role.ADMIN, email="admin@acme.example")
    api = as_user(admin)
    assert api.patch(f"/api/v1/team/members/{bob.public_id}", {"role": "owner"}, format="json").status_code == 403
    assert api.post(f"/api/v1/team/members/{alice.public_id}/deactivate").status_code == 403
    assert (
        api.post("/api/v1/team/invitations", {"email": "x@y.example", "role": "owner"}, format="json").status_code
        == 403
    )
    assert api.patch(f"/api/v1/team/members/{bob.public_id}", {"role": "viewer"}, format="json").status_code == 200


def test_it_deactivates_and_reactivates_a_member(as_user, alice, bob):
    bob_token = jwt.family_start(user=bob).access
    api = as_user(alice)
    response = api.post(f"/api/v1/team/members/{bob.public_id}/deactivate")
    assert response.status_code == 200 and body(response)["data"]["is_active"] is False
    api.credentials(HTTP_AUTHORIZATION=f"Bearer {bob_token}")
    assert api.get("/api/v1/me").status_code == 401
    api = as_user(alice)
    assert body(api.post(f"/api/v1/team/members/{bob.public_id}/activate"))["data"]["is_active"] is True
    actions = set(AuditEvent.objects.values_list("action", flat=True))
    assert {AuditAction.USER_DEACTIVATED, AuditAction.USER_ACTIVATED} <= actions


def test_it_invites_a_member_who_accepts_and_is_signed_in(as_user, alice, api):
    response = as_user(alice).post(
        "/api/v1/team/invitations", {"email": "New.Agent@Acme.example", "role": "agent"}, format="json"
    )
    assert response.status_code == 201, body(response)
    invitation = body(response)["data"]
    assert invitation["status"] == "pending" and invitation["email"] == "new.agent@acme.example"
    assert "token" not in json.dumps(invitation)
    [message] = mail.outbox
    token = re.search(r"/accounts/invitations/([^/\s]+)/", message.body).group(1)
    assert "Acme Apparel" in message.subject

    api.credentials()
    accept = {"token": token, "password": "joining-pass-phrase-3", "first_name": "Nia"}
    response = api.post("/api/v1/auth/invitations/accept", accept, format="json")
    assert response.status_code == 201, body(response)
    data = body(response)["data"]
    assert data["user"]["role"] == "agent" and data["user"]["client"]["slug"] == "acme-apparel"
    assert data["user"]["email_verified"] is True
    api.credentials(HTTP_AUTHORIZATION=f"Bearer {data['tokens']['access']}")
    assert api.get("/api/v1/me").status_code == 200
    api.credentials()
    again = api.post("/api/v1/auth/invitations/accept", {**accept, "password": "other-pass-phrase-4"}, format="json")
    assert again.status_code == 400  # single use
    assert Invitation.objects.get().status == "accepted"
    assert AuditEvent.objects.filter(action=AuditAction.USER_JOINED).count() == 1


def test_it_refuses_expired_and_revoked_invitations(as_user, alice, api):
    invite = as_user(alice).post(
        "/api/v1/team/invitations", {"email": "late@acme.example", "role": "viewer"}, format="json"
    )
    token = re.search(r"/accounts/invitations/([^/\s]+)/", mail.outbox[0].body).group(1)
    api.credentials()
    payload = {"token": token, "password": "joining-pass-phrase-3"}
    with time_machine.travel(timezone.now() + timedelta(days=8)):
        assert api.post("/api/v1/auth/invitations/accept", payload, format="json").status_code == 400
    revoke = as_user(alice).post(f"/api/v1/team/invitations/{body(invite)['data']['id']}/revoke")
    assert revoke.status_code == 200 and body(revoke)["data"]["status"] == "revoked"
    api.credentials()
    assert api.post("/api/v1/auth/invitations/accept", payload, format="json").status_code == 400
    assert not User.objects.filter(email="late@acme.example").exists()


def test_it_refuses_inviting_a_member_or_twice(as_user, alice, bob, charlie):
    api = as_user(alice)
    assert (
        api.post("/api/v1/team/invitations", {"email": bob.email, "role": "viewer"}, format="json").status_code == 409
    )
    # Another client's user is invited like anyone else (test_accounts_enumeration.py).
    assert (
        api.post("/api/v1/team/invitations", {"email": charlie.email, "role": "viewer"}, format="json").status_code
        == 201
    )
    assert (
        api.post("/api/v1/team/invitations", {"email": "d@acme.example", "role": "viewer"}, format="json").status_code
        == 201
    )
    assert (
        api.post("/api/v1/team/invitations", {"email": "D@acme.example", "role": "agent"}, format="json").status_code
        == 409
    )


def test_it_lists_the_audit_log_newest_first_with_filters(as_user, alice, bob):
    api = as_user(alice)
    api.patch("/api/v1/client", {"timezone": "Asia/Dubai"}, format="json")
    api.patch(f"/api/v1/team/members/{bob.public_id}", {"role": "viewer"}, format="json")
    data = body(api.get("/api/v1/audit-events"))
    actions = [event["action"] for event in data["data"]]
    assert actions[:2] == ["user.role_changed", "client.settings_changed"]
    assert set(data["meta"]["pagination"]) == {"limit", "has_more", "next_cursor", "previous_cursor"}
    only = body(api.get("/api/v1/audit-events", {"action": "client.settings_changed"}))["data"]
    assert [event["action"] for event in only] == ["client.settings_changed"]
    by_actor = body(api.get("/api/v1/audit-events", {"actor": str(alice.public_id)}))["data"]
    assert by_actor and all(event["actor"]["id"] == str(alice.public_id) for event in by_actor)
    future = body(api.get("/api/v1/audit-events", {"created_after": "2100-01-01T00:00:00Z"}))["data"]
    assert future == []


@pytest.mark.parametrize(
    "params",
    [{"action": "nope"}, {"actor": "not-a-uuid"}, {"created_after": "yesterday"}, {"limit": "0"}, {"cursor": "zz"}],
)
def test_it_rejects_bad_audit_filters(as_user, alice, params):
    response = as_user(alice).get("/api/v1/audit-events", params)
    assert response.status_code == 400 and body(response)["error"]["code"] == "VALIDATION_ERROR"


def test_it_keeps_user_text_from_shaping_invitation_emails(as_user, alice):
    alice.first_name = "URGENT: your account is locked\n\nVisit https://evil.example"
    alice.last_name = "O'Brien & Co"
    alice.save()
    as_user(alice).post("/api/v1/team/invitations", {"email": "n@acme.example", "role": "viewer"}, format="json")
    [message] = mail.outbox
    assert message.subject.startswith("URGENT: your account is locked Visit https://evil.example O'Brien & Co")
    assert "&amp;" not in message.body and "&#x27;" not in message.subject


def test_it_rate_limits_invitations_per_user(as_user, alice, settings):
    settings.RATE_LIMITS = {**settings.RATE_LIMITS, "invite_user": "2/h"}
    api = as_user(alice)
    statuses = [
        api.post(
            "/api/v1/team/invitations", {"email": f"p{n}@acme.example", "role": "viewer"}, format="json"
        ).status_code
        for n in range(3)
    ]
    assert statuses == [201, 201, 429] and Invitation.objects.count() == 2
