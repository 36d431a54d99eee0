"""Token abuse: expired, tampered, unsigned, wrong type, replayed, raced, and past the family's end."""

import base64
import json
import threading
from datetime import timedelta

import jwt as pyjwt
import pytest
import time_machine
from django.db import connection
from django.utils import timezone
from rest_framework_simplejwt.tokens import AccessToken, RefreshToken

from accounts import jwt
from accounts.models import AuditAction, AuditEvent, RefreshFamily
from caly.foundation.errors import DomainError

pytestmark = pytest.mark.django_db


def me(api, token):
    api.credentials(HTTP_AUTHORIZATION=f"Bearer {token}")
    response = api.get("/api/v1/me")
    api.credentials()
    return response.status_code, json.loads(response.content)


def refresh(api, token):
    response = api.post("/api/v1/auth/refresh", {"refresh": token}, format="json")
    return response.status_code, json.loads(response.content)


def claims(token: str) -> dict:
    payload = token.split(".")[1]
    return json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))


def forge(payload: dict, *, key: str = "another-secret-key-of-enough-length", alg: str = "HS256") -> str:
    return pyjwt.encode(payload, key, algorithm=alg)


def test_it_accepts_a_fresh_access_token(api, alice):
    assert me(api, jwt.family_start(user=alice).access)[0] == 200


def test_it_keeps_access_tokens_short_and_typed(alice, settings):
    pair = jwt.family_start(user=alice)
    access, refresh_claims = claims(pair.access), claims(pair.refresh)
    assert access["token_type"] == "access" and refresh_claims["token_type"] == "refresh"
    assert access["exp"] - access["iat"] <= 15 * 60
    assert access["iss"] == "caly" and access["aud"] == "caly-api"


def test_it_refuses_an_expired_access_token(api, alice):
    pair = jwt.family_start(user=alice)
    with time_machine.travel(timezone.now() + timedelta(minutes=16)):
        status, body = me(api, pair.access)
    assert status == 401 and body["error"]["code"] == "TOKEN_EXPIRED"


def test_it_refuses_a_tampered_signature(api, alice):
    header, payload, signature = jwt.family_start(user=alice).access.split(".")
    flipped = signature[:-2] + ("AA" if signature[-2:] != "AA" else "BB")
    assert me(api, f"{header}.{payload}.{flipped}")[1]["error"]["code"] == "TOKEN_INVALID"


def test_it_refuses_tampered_claims(api, alice, bob):
    header, payload, signature = jwt.family_start(user=alice).access.split(".")
    data = claims(f"{header}.{payload}.{signature}")
    data["user_id"] = bob.pk
    forged_payload = base64.urlsafe_b64encode(json.dumps(data).encode()).decode().rstrip("=")
    assert me(api, f"{header}.{forged_payload}.{signature}")[0] == 401


def test_it_refuses_alg_none(api, alice):
    data = claims(jwt.family_start(user=alice).access)
    unsigned = forge(data, key="", alg="none") if "none" in pyjwt.algorithms.get_default_algorithms() else None
    header = base64.urlsafe_b64encode(b'{"alg":"none","typ":"JWT"}').decode().rstrip("=")
    payload = base64.urlsafe_b64encode(json.dumps(data).encode()).decode().rstrip("=")
    for token in filter(None, [unsigned, f"{header}.{payload}.", f"{header}.{payload}"]):
        status, body = me(api, token)
        assert status == 401 and body["error"]["code"] == "TOKEN_INVALID"


def test_it_refuses_a_token_signed_with_another_key(api, alice):
    assert me(api, forge(claims(jwt.family_start(user=alice).access)))[0] == 401


def test_it_refuses_a_refresh_token_as_an_access_token(api, alice):
    status, body = me(api, jwt.family_start(user=alice).refresh)
    assert status == 401 and body["error"]["code"] == "TOKEN_INVALID"


def test_it_refuses_an_access_token_as_a_refresh_token(api, alice):
    status, body = refresh(api, jwt.family_start(user=alice).access)
    assert status == 401 and body["error"]["code"] == "TOKEN_INVALID"
    assert RefreshFamily.objects.get().revoked_at is None


def test_it_refuses_a_plain_simplejwt_token_without_a_family(api, alice):
    assert me(api, str(AccessToken.for_user(alice)))[0] == 401
    assert refresh(api, str(RefreshToken.for_user(alice)))[0] == 401


def test_it_revokes_the_family_when_a_spent_refresh_token_comes_back(api, alice, settings):
    settings.JWT_REFRESH_REUSE_GRACE_SECONDS = 0
    first = jwt.family_start(user=alice)
    status, body = refresh(api, first.refresh)
    assert status == 200
    second = body["data"]

    status, body = refresh(api, first.refresh)  # the stolen copy
    assert status == 401 and "revoked" in body["error"]["message"]
    family = RefreshFamily.objects.get()
    assert family.revoked_reason == "reuse_detected"
    assert refresh(api, second["refresh"])[0] == 401  # the legitimate holder is signed out too
    assert me(api, second["access"])[0] == 401
    event = AuditEvent.objects.get(action=AuditAction.TOKEN_REUSE_DETECTED)
    assert event.actor == alice and event.client == alice.client and event.target_id == str(family.pk)


def test_it_tolerates_a_twin_refresh_within_the_grace_window_without_revoking(api, alice, settings):
    settings.JWT_REFRESH_REUSE_GRACE_SECONDS = 5
    first = jwt.family_start(user=alice)
    second = refresh(api, first.refresh)[1]["data"]
    status, body = refresh(api, first.refresh)
    assert status == 401 and "just used" in body["error"]["message"]
    assert RefreshFamily.objects.get().revoked_at is None
    assert refresh(api, second["refresh"])[0] == 200
    with time_machine.travel(timezone.now() + timedelta(seconds=10)):
        assert refresh(api, first.refresh)[0] == 401
    assert RefreshFamily.objects.get().revoked_reason == "reuse_detected"


def test_it_never_extends_a_family_past_its_absolute_end(api, alice, settings):
    settings.JWT_REFRESH_REUSE_GRACE_SECONDS = 0
    start = timezone.now()
    current = jwt.family_start(user=alice)
    end = RefreshFamily.objects.get().expires_at
    assert end == current.refresh_expires_at
    assert abs((end - start) - settings.SIMPLE_JWT["REFRESH_TOKEN_LIFETIME"]) < timedelta(seconds=5)
    for day in range(1, 14):  # refresh once a day for 13 days
        with time_machine.travel(start + timedelta(days=day), tick=False):
            status, body = refresh(api, current.refresh if day == 1 else current["refresh"])
            assert status == 200, (day, body)
            current = body["data"]
            assert claims(current["refresh"])["exp"] == int(end.timestamp())
    with time_machine.travel(end + timedelta(seconds=1), tick=False):
        status, body = refresh(api, current["refresh"])
    assert status == 401 and body["error"]["code"] == "TOKEN_EXPIRED"


def test_it_stops_tokens_when_the_user_is_deactivated(api, alice, bob):
    from accounts import services

    pair = jwt.family_start(user=bob)
    services.member_deactivate(actor=alice, member=bob)
    assert me(api, pair.access)[0] == 401
    assert refresh(api, pair.refresh)[0] == 401


def test_it_rejects_garbage_in_every_token_field(api, alice):
    for token in ["", " ", "a.b.c", "Bearer", "x" * 5000, "é" * 10, "null"]:
        status, _ = me(api, token)
        assert status == 401
        status, body = refresh(api, token)
        assert status in (400, 401), body


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_it_lets_exactly_one_of_two_concurrent_refreshes_win(alice, settings):
    settings.JWT_REFRESH_REUSE_GRACE_SECONDS = 5
    pair = jwt.family_start(user=alice)
    barrier = threading.Barrier(2)
    outcomes = []

    def attempt():
        barrier.wait()
        try:
            jwt.family_rotate(raw=pair.refresh)
            outcomes.append("won")
        except DomainError as error:
            outcomes.append(str(error.code))
        finally:
            connection.close()

    threads = [threading.Thread(target=attempt) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=20)
    assert sorted(outcomes) == ["TOKEN_INVALID", "won"]
    family = RefreshFamily.objects.get()
    assert family.rotation_count == 1 and family.revoked_at is None  # the twin was inside the grace window
