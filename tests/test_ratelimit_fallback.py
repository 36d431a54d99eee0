"""Rate limits while Redis is unreachable: every limit counts in the process instead, at the same rate.

Sign-in and refresh keep working (an outage must not end every API session) and stay limited;
costly operations (exports, sign-ups, e-mailed links, invitations) stay bounded. Redis here is a
port nothing listens on, so every request to it is refused at once; tests/test_faults_redis.py
cuts a real Redis, hangs it and brings it back.
"""

import json
import logging
import time

import pytest
import time_machine
from django.core import mail
from prometheus_client import REGISTRY

from accounts import jwt
from accounts.models import AuditAction, AuditEvent, RefreshFamily
from caly.foundation import ratelimit
from caly.settings.base import redis_caches
from tests.factories import PASSWORD, CallFactory
from tests.serving import free_port
from tests.test_accounts_ratelimits import assert_rate_limited, login, post

OTHER_IP = "198.51.100.20"
STRONG_PASSWORD = "a-strong-pass-phrase-9"


@pytest.fixture
def redis_down(settings, monkeypatch):
    """The app's caches on a Redis that refuses every connection; fresh process counters and retry state."""
    settings.CACHES = redis_caches(f"redis://127.0.0.1:{free_port()}/0", key_prefix="caly-test-fallback")
    settings.RATELIMIT_USE_CACHE = "ratelimit"
    monkeypatch.setattr(ratelimit, "shared_counters", ratelimit.SharedCounters())
    monkeypatch.setattr(ratelimit, "process_counters", ratelimit.ProcessCounters())
    with time_machine.travel(time.time(), tick=False):  # no window ends half-way through a test
        yield


def assert_status(result, status, code=None):
    response, body = result
    assert response.status_code == status, body
    if code:
        assert body["error"]["code"] == code, body


def fallbacks(group: str) -> float:
    return REGISTRY.get_sample_value("caly_rate_limit_fallbacks_total", {"group": group}) or 0.0


@pytest.mark.django_db
def test_sign_in_works_and_the_wrong_password_past_the_limit_gets_429(api, redis_down, limits, alice, bob):
    limits(login_account="3/15m", login_ip="20/15m")
    assert_status(login(api, alice.email, PASSWORD), 200)
    for _ in range(3):
        assert_status(login(api, alice.email, "wrong password"), 401, "TOKEN_INVALID")

    assert_rate_limited(login(api, alice.email, "wrong password"), 900)
    assert_rate_limited(login(api, alice.email, PASSWORD), 900)  # refused before the password is checked
    assert AuditEvent.objects.filter(action=AuditAction.LOGIN_FAILED, actor=alice).count() == 3
    assert_status(login(api, bob.email, PASSWORD), 200)  # another account is not held up


@pytest.mark.django_db
def test_the_address_limit_holds_across_accounts(api, redis_down, limits, alice):
    limits(login_account="100/15m", login_ip="4/15m")
    for n in range(4):
        assert_status(login(api, f"guess{n}@nowhere.example", "x"), 401, "TOKEN_INVALID")

    assert_rate_limited(login(api, alice.email, PASSWORD), 900)
    assert_status(login(api, alice.email, PASSWORD, REMOTE_ADDR=OTHER_IP), 200)


@pytest.mark.django_db
def test_successful_sign_ins_give_their_attempt_back(api, redis_down, limits, alice):
    limits(login_account="2/15m", login_ip="2/15m")
    for _ in range(6):
        assert_status(login(api, alice.email, PASSWORD), 200)


@pytest.mark.django_db
def test_refresh_works_and_is_limited_per_sign_in(api, redis_down, limits, alice):
    limits(refresh_family="3/m")
    refresh = jwt.family_start(user=alice).refresh
    for _ in range(3):
        response, body = post(api, "auth/refresh", {"refresh": refresh})
        assert response.status_code == 200, body
        refresh = body["data"]["refresh"]
    family = RefreshFamily.objects.get(user=alice)

    assert_rate_limited(post(api, "auth/refresh", {"refresh": refresh}), 60)
    unchanged = RefreshFamily.objects.get(pk=family.pk)
    assert unchanged.revoked_at is None and unchanged.current_jti == family.current_jti


@pytest.mark.django_db
def test_exports_stay_limited(api, redis_down, limits, alice):
    limits(export_user="2/h")
    CallFactory(client=alice.client)
    token = jwt.family_start(user=alice).access
    bearer = {"HTTP_AUTHORIZATION": f"Bearer {token}"}
    for _ in range(2):
        assert api.get("/api/v1/calls/export", **bearer).status_code == 200

    refused = api.get("/api/v1/calls/export", **bearer)
    assert refused.status_code == 429 and json.loads(refused.content)["error"]["code"] == "RATE_LIMITED"


@pytest.mark.django_db
def test_sign_ups_and_e_mailed_links_stay_limited(api, redis_down, limits, alice):
    limits(register_ip="2/h", password_reset_ip="2/h")
    for n in range(2):
        payload = {"company_name": f"Shop {n}", "email": f"founder{n}@shop.example", "password": STRONG_PASSWORD}
        assert_status(post(api, "auth/register", payload), 201)
    assert_rate_limited(
        post(api, "auth/register", {"company_name": "X", "email": "x@shop.example", "password": STRONG_PASSWORD}),
        3600,
    )
    sent = len(mail.outbox)
    for _ in range(2):
        assert_status(post(api, "auth/password/reset", {"email": alice.email}), 202)
    assert_rate_limited(post(api, "auth/verify/resend", {"email": alice.email}), 3600)
    assert len(mail.outbox) == sent + 2


@pytest.mark.django_db
def test_invitations_stay_limited(api, redis_down, limits, alice):
    limits(invite_user="2/h")
    token = jwt.family_start(user=alice).access
    for n in range(2):
        response, body = post(api, "team/invitations", {"email": f"new{n}@acme.example", "role": "agent"}, token)
        assert response.status_code == 201, body

    assert_rate_limited(post(api, "team/invitations", {"email": "new9@acme.example", "role": "agent"}, token), 3600)


@pytest.mark.django_db
def test_the_api_and_browser_error_reports_stay_limited(api, redis_down, limits, settings, alice):
    limits(api_user="3/m")
    settings.CLIENT_ERRORS_RATE = "2/m"
    token = jwt.family_start(user=alice).access
    for _ in range(3):
        assert api.get("/api/v1/me", HTTP_AUTHORIZATION=f"Bearer {token}").status_code == 200
    assert api.get("/api/v1/me", HTTP_AUTHORIZATION=f"Bearer {token}").status_code == 429

    report = {"kind": "error", "message": "TypeError: x is undefined"}
    assert [post(api, "client-errors/", report)[0].status_code for _ in range(3)] == [202, 202, 429]


@pytest.mark.django_db
def test_the_sign_in_page_signs_in_while_redis_is_down(client, redis_down, alice):
    response = client.post("/accounts/login/", {"email": alice.email, "password": PASSWORD})

    assert response.status_code == 302
    assert client.session["_auth_user_id"] == str(alice.pk)


@pytest.mark.django_db
def test_falling_back_is_logged_once_per_retry_period_and_counted(api, redis_down, limits, alice, caplog):
    limits(login_account="100/15m", login_ip="100/15m")
    before = fallbacks("login-account")
    with caplog.at_level(logging.WARNING, logger="caly.ratelimit"):
        for _ in range(5):
            assert_status(login(api, alice.email, PASSWORD), 200)

    warnings = [r.getMessage() for r in caplog.records if r.name == "caly.ratelimit"]
    assert len(warnings) == 1 and "counting in this process" in warnings[0], warnings
    assert fallbacks("login-account") == before + 5


def test_process_counters_forget_ended_windows_first_and_stay_bounded():
    counters = ratelimit.ProcessCounters(max_keys=10)
    with time_machine.travel(1_000_000, tick=False) as clock:
        for n in range(10):
            counters.hit(("g", "5/m", f"old-{n}"), limit=5, period=60)
        clock.shift(61)  # those windows ended
        for n in range(10):
            counters.hit(("g", "5/h", f"live-{n}"), limit=5, period=3600)
        for _ in range(5):
            counters.hit(("g", "5/h", "live-0"), limit=5, period=3600)
        assert counters.hit(("g", "5/h", "live-0"), limit=5, period=3600)["should_limit"]  # kept: still live

        for n in range(100):
            counters.hit(("g", "5/h", f"flood-{n}"), limit=5, period=3600)
        assert len(counters) <= 10
