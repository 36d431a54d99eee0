"""Sign-up, verification, login, refresh, logout and passwords through the API, with the envelope."""

import json
import re

import pytest
from django.core import mail

from accounts.models import AuditAction, AuditEvent, Client, RefreshFamily, User
from accounts.roles import Role
from tests.factories import PASSWORD

pytestmark = pytest.mark.django_db

SIGNUP = {
    "company_name": "Chai Point",
    "email": "Founder@ChaiPoint.example",
    "password": "a-strong-pass-phrase-9",
    "first_name": "Asha",
    "last_name": "Rao",
}


def call(api, path, payload=None, token=None, method="post"):
    if token:
        api.credentials(HTTP_AUTHORIZATION=f"Bearer {token}")
    response = getattr(api, method)(f"/api/v1/{path}", payload, format="json")
    api.credentials()
    body = json.loads(response.content) if response.content else None
    return response, body


def link_token(message, kind: str) -> str:
    match = re.search(rf"/accounts/{kind}/([^/\s]+)/", message.body)
    assert match, message.body
    return match.group(1)


def login(api, email, password=PASSWORD):
    response, body = call(api, "auth/login", {"email": email, "password": password})
    assert response.status_code == 200, body
    return body["data"]["tokens"]


def test_it_registers_a_client_and_its_unverified_owner(api):
    response, body = call(api, "auth/register", SIGNUP)
    assert response.status_code == 201, body
    # The answer says nothing about the account: a taken address gets the same (test_accounts_enumeration.py).
    assert body["data"] == {"detail": "Check your inbox: the email we sent you says how to continue."}
    user = User.objects.get(email="founder@chaipoint.example")
    assert (user.first_name, user.last_name) == ("Asha", "Rao")
    assert user.role == Role.OWNER and user.client.slug == "chai-point" and user.client.name == "Chai Point"
    assert not user.email_verified
    assert "password" not in json.dumps(body)
    assert AuditEvent.objects.filter(action=AuditAction.CLIENT_REGISTERED, client=user.client).exists()
    [message] = mail.outbox
    assert message.to == ["founder@chaipoint.example"] and "Confirm your email" in message.subject


def test_it_answers_a_duplicate_registration_like_a_new_one_and_changes_nothing(api, alice):
    response, body = call(api, "auth/register", {**SIGNUP, "email": "ALICE@acme.example"})
    assert response.status_code == 201 and body["data"]["detail"].startswith("Check your inbox")
    assert Client.objects.count() == 1 and User.objects.count() == 1
    [message] = mail.outbox  # the address's owner is told someone tried; no verification link
    assert message.to == [alice.email] and "/accounts/verify/" not in message.body


@pytest.mark.parametrize(
    ("payload", "fields"),
    [
        ({}, {"company_name", "email", "password"}),
        ({**SIGNUP, "email": "not-an-email"}, {"email"}),
        ({**SIGNUP, "password": "short"}, {"password"}),
        ({**SIGNUP, "password": "password123"}, {"password"}),
        ({**SIGNUP, "company_name": "x" * 201}, {"company_name"}),
        ({**SIGNUP, "company_name": 12}, {"company_name"}),  # a number is not text: no silent coercion
        ({**SIGNUP, "first_name": ["a"]}, {"first_name"}),
        ({**SIGNUP, "timezone": "Mars/Olympus"}, {"timezone"}),
    ],
)
def test_it_rejects_bad_registrations_and_writes_nothing(api, payload, fields):
    response, body = call(api, "auth/register", payload)
    if not fields:
        assert response.status_code == 201
        return
    assert response.status_code == 400 and body["error"]["code"] == "VALIDATION_ERROR", body
    assert fields <= set(body["error"]["details"]), body
    assert not Client.objects.exists() and not User.objects.exists() and not mail.outbox


def test_it_keeps_unicode_names_intact(api):
    response, body = call(api, "auth/register", {**SIGNUP, "company_name": "चाय पॉइंट ☕", "first_name": "आशा"})
    assert response.status_code == 201, body
    user = User.objects.get(email="founder@chaipoint.example")
    assert user.client.name == "चाय पॉइंट ☕" and user.first_name == "आशा"


def test_it_verifies_an_email_once_and_then_allows_login(api):
    call(api, "auth/register", SIGNUP)
    token = link_token(mail.outbox[0], "verify")
    response, body = call(api, "auth/login", {"email": SIGNUP["email"], "password": SIGNUP["password"]})
    assert response.status_code == 403 and body["error"]["code"] == "EMAIL_NOT_VERIFIED"

    response, body = call(api, "auth/verify", {"token": token})
    assert response.status_code == 200 and body["data"]["email_verified"] is True
    again, body = call(api, "auth/verify", {"token": token})
    assert again.status_code == 400 and "token" in body["error"]["details"]
    assert login(api, SIGNUP["email"], SIGNUP["password"])["token_type"] == "Bearer"


@pytest.mark.parametrize("token", ["garbage", "a" * 1024, "", "eyJ1Ijo1fQ:1abc:def"])
def test_it_refuses_a_forged_verification_token(api, token):
    response, body = call(api, "auth/verify", {"token": token})
    assert response.status_code == 400 and body["error"]["code"] == "VALIDATION_ERROR"


def test_it_refuses_an_expired_verification_link(api, settings):
    from datetime import timedelta

    settings.EMAIL_VERIFICATION_MAX_AGE = timedelta(seconds=-1)
    call(api, "auth/register", SIGNUP)
    response, _ = call(api, "auth/verify", {"token": link_token(mail.outbox[0], "verify")})
    assert response.status_code == 400


def test_it_resends_verification_with_the_same_answer_for_unknown_addresses(api, alice):
    call(api, "auth/register", SIGNUP)
    mail.outbox.clear()
    known, known_body = call(api, "auth/verify/resend", {"email": SIGNUP["email"]})
    unknown, unknown_body = call(api, "auth/verify/resend", {"email": "nobody@nowhere.example"})
    assert known.status_code == unknown.status_code == 202
    assert known_body["data"] == unknown_body["data"]
    assert len(mail.outbox) == 1


def test_it_signs_in_with_a_token_pair_and_the_profile(api, alice):
    response, body = call(api, "auth/login", {"email": "Alice@Acme.example", "password": PASSWORD})
    data = body["data"]
    assert response.status_code == 200
    assert set(data["tokens"]) == {"access", "refresh", "token_type", "access_expires_at", "refresh_expires_at"}
    assert data["user"]["email"] == "alice@acme.example" and data["user"]["client"]["name"] == "Acme Apparel"
    assert response["Cache-Control"] == "no-store"
    me, body = call(api, "me", token=data["tokens"]["access"], method="get")
    assert me.status_code == 200 and body["data"]["id"] == str(alice.public_id)
    assert AuditEvent.objects.filter(action=AuditAction.LOGIN_SUCCEEDED, actor=alice).exists()
    alice.refresh_from_db()
    assert alice.last_login is not None


@pytest.mark.parametrize(
    ("email", "password"), [("alice@acme.example", "wrong-password"), ("nobody@acme.example", PASSWORD)]
)
def test_it_refuses_wrong_credentials_alike_and_audits_them(api, alice, email, password):
    response, body = call(api, "auth/login", {"email": email, "password": password})
    assert response.status_code == 401 and body["error"]["code"] == "TOKEN_INVALID"
    assert body["error"]["message"] == "The email address or password is wrong."
    event = AuditEvent.objects.get(action=AuditAction.LOGIN_FAILED)
    assert event.metadata["email"] == email and event.request_id == response["X-Request-ID"]


def test_it_refuses_inactive_users_and_deactivated_clients(api, alice, bob):
    bob.is_active = False
    bob.save()
    assert call(api, "auth/login", {"email": bob.email, "password": PASSWORD})[0].status_code == 401
    Client.objects.filter(pk=alice.client_id).update(is_active=False)
    response, body = call(api, "auth/login", {"email": alice.email, "password": PASSWORD})
    assert response.status_code == 403 and body["error"]["code"] == "PERMISSION_DENIED"


def test_it_sends_staff_to_the_admin(api, staff):
    response, body = call(api, "auth/login", {"email": staff.email, "password": PASSWORD})
    assert response.status_code == 403 and "admin" in body["error"]["message"]


def test_it_rotates_refresh_tokens_within_one_family(api, alice):
    first = login(api, alice.email)
    response, body = call(api, "auth/refresh", {"refresh": first["refresh"]})
    assert response.status_code == 200
    second = body["data"]
    assert second["refresh"] != first["refresh"] and second["access"] != first["access"]
    assert second["refresh_expires_at"] == first["refresh_expires_at"]  # absolute: never extended
    assert RefreshFamily.objects.get().rotation_count == 1
    assert call(api, "me", token=second["access"], method="get")[0].status_code == 200


def test_it_logs_out_by_revoking_the_family_and_its_access_tokens(api, alice):
    tokens = login(api, alice.email)
    response, _ = call(api, "auth/logout", {"refresh": tokens["refresh"]})
    assert response.status_code == 200
    assert RefreshFamily.objects.get().revoked_reason == "logout"
    assert call(api, "me", token=tokens["access"], method="get")[0].status_code == 401
    assert call(api, "auth/refresh", {"refresh": tokens["refresh"]})[0].status_code == 401
    assert call(api, "auth/logout", {"refresh": tokens["refresh"]})[0].status_code == 200  # idempotent
    assert AuditEvent.objects.filter(action=AuditAction.LOGOUT, actor=alice).count() == 1


def test_it_changes_the_password_ending_every_other_sign_in(api, alice):
    laptop, phone = login(api, alice.email), login(api, alice.email)
    response, body = call(
        api,
        "auth/password/change",
        {"current_password": PASSWORD, "new_password": "brand-new-pass-phrase-7"},
        token=laptop["access"],
    )
    assert response.status_code == 200, body
    fresh = body["data"]["tokens"]
    for old in (laptop, phone):
        assert call(api, "me", token=old["access"], method="get")[0].status_code == 401
        assert call(api, "auth/refresh", {"refresh": old["refresh"]})[0].status_code == 401
    assert call(api, "me", token=fresh["access"], method="get")[0].status_code == 200
    assert login(api, alice.email, "brand-new-pass-phrase-7")
    assert AuditEvent.objects.filter(action=AuditAction.PASSWORD_CHANGED, actor=alice).exists()


def test_it_refuses_a_password_change_with_the_wrong_current_password(api, alice):
    tokens = login(api, alice.email)
    response, body = call(
        api, "auth/password/change", {"current_password": "nope", "new_password": "x-new-pass-9"}, tokens["access"]
    )
    assert response.status_code == 400 and "current_password" in body["error"]["details"]
    alice.refresh_from_db()
    assert alice.check_password(PASSWORD)


def test_it_resets_a_password_with_a_single_use_link(api, alice):
    tokens = login(api, alice.email)
    known, known_body = call(api, "auth/password/reset", {"email": "alice@acme.example"})
    unknown, unknown_body = call(api, "auth/password/reset", {"email": "ghost@acme.example"})
    assert known.status_code == unknown.status_code == 202 and known_body["data"] == unknown_body["data"]
    [message] = mail.outbox
    token = link_token(message, "password/reset")

    response, body = call(api, "auth/password/reset/confirm", {"token": token, "new_password": "reset-pass-phrase-5"})
    assert response.status_code == 200, body
    again, _ = call(api, "auth/password/reset/confirm", {"token": token, "new_password": "another-pass-phrase-6"})
    assert again.status_code == 400
    assert call(api, "me", token=tokens["access"], method="get")[0].status_code == 401
    assert login(api, alice.email, "reset-pass-phrase-5")


def test_it_refuses_a_weak_password_on_reset_and_keeps_the_link_usable(api, alice):
    call(api, "auth/password/reset", {"email": alice.email})
    token = link_token(mail.outbox[0], "password/reset")
    weak, body = call(api, "auth/password/reset/confirm", {"token": token, "new_password": "123"})
    assert weak.status_code == 400 and "new_password" in body["error"]["details"]
    ok, _ = call(api, "auth/password/reset/confirm", {"token": token, "new_password": "good-pass-phrase-8"})
    assert ok.status_code == 200
