"""The admin's sign-in: the same per-account and per-address limits as the API and the sign-in page,
counted together, an admin-styled 429 or 503 with Retry-After, and every attempt in the staff audit log.

The clock stands still (as in test_accounts_ratelimits.py): a rate-limit window ending half-way
through a test would reset the count under it.
"""

import os
import time
import uuid

import pytest
import time_machine
from django.core.cache import caches

from accounts.models import RefreshFamily, StaffAuditAction, StaffAuditEvent
from caly.foundation.ratelimit import CACHE_ERRORS
from caly.settings.base import redis_caches
from tests.factories import PASSWORD

pytestmark = pytest.mark.django_db

OTHER_IP = "198.51.100.20"


@pytest.fixture(autouse=True)
def _stopped_clock():
    with time_machine.travel(time.time(), tick=False):
        yield


@pytest.fixture(autouse=True)
def _sign_in_limits(settings):
    settings.RATE_LIMITS = {**settings.RATE_LIMITS, "login_account": "5/15m", "login_ip": "20/15m"}


def admin_login(client, email, password, **extra):
    return client.post("/admin/login/", {"username": email, "password": password, "next": "/admin/"}, **extra)


def api_login(api, email, password, **extra):
    return api.post("/api/v1/auth/login", {"email": email, "password": password}, format="json", **extra)


def page_login(client, email, password, **extra):
    return client.post("/accounts/login/", {"email": email, "password": password}, **extra)


def signed_in(client) -> bool:
    return "_auth_user_id" in client.session


def assert_admin_refusal(response, status: int, text: str, period_seconds: int = 900) -> None:
    assert response.status_code == status, response.content[:500]
    assert response["Content-Type"].startswith("text/html")
    assert 1 <= int(response["Retry-After"]) <= period_seconds
    page = response.content.decode()
    assert text in page
    assert 'id="site-name"' in page and "admin/css/login.css" in page  # the admin's own look


# --- the limits -----------------------------------------------------------------------------------


def test_it_refuses_thirty_wrong_admin_passwords_with_429_before_the_right_one_gets_in(client, staff):
    statuses = [admin_login(client, staff.email, f"guess-{n}").status_code for n in range(30)]

    assert statuses == [200] * 5 + [429] * 25
    response = admin_login(client, staff.email, PASSWORD)
    assert_admin_refusal(response, 429, "Too many sign-in attempts")
    assert not signed_in(client)
    assert client.get("/admin/").status_code == 302


def test_it_lets_the_right_password_in_and_gives_its_attempt_back(client, staff):
    for n in range(4):
        assert admin_login(client, staff.email, f"guess-{n}").status_code == 200
    for _ in range(3):
        response = admin_login(client, staff.email, PASSWORD)
        assert response.status_code == 302 and response["Location"] == "/admin/"
        client.logout()

    assert admin_login(client, staff.email, "guess-4").status_code == 200  # the fifth failure still counts
    assert admin_login(client, staff.email, PASSWORD).status_code == 429


def test_admin_failures_count_with_the_api_and_the_sign_in_page_for_the_same_account(client, api, alice):
    for n in range(3):
        assert admin_login(client, alice.email, f"guess-{n}").status_code == 200
    assert api_login(api, alice.email, "guess-3").status_code == 401
    assert page_login(client, alice.email, "guess-4").status_code == 200

    # The account's budget is spent wherever it was spent: every door refuses the right password.
    assert api_login(api, alice.email, PASSWORD).status_code == 429
    assert page_login(client, alice.email, PASSWORD).status_code == 429
    assert_admin_refusal(admin_login(client, alice.email, PASSWORD), 429, "Too many sign-in attempts")
    assert not RefreshFamily.objects.filter(user=alice).exists()


def test_api_failures_close_the_admin_for_that_account(client, api, staff):
    for n in range(5):
        assert api_login(api, staff.email, f"guess-{n}").status_code == 401

    assert_admin_refusal(admin_login(client, staff.email, PASSWORD), 429, "Too many sign-in attempts")
    assert not signed_in(client)


def test_the_address_limit_is_shared_by_the_admin_and_the_api(client, api, staff, settings):
    settings.RATE_LIMITS = {**settings.RATE_LIMITS, "login_ip": "6/15m"}
    for n in range(3):
        assert admin_login(client, f"nobody{n}@caly.example", "guess").status_code == 200
    for n in range(3):
        assert api_login(api, f"someone{n}@shop.example", "guess").status_code == 401

    assert_admin_refusal(admin_login(client, staff.email, PASSWORD), 429, "Too many sign-in attempts")
    # From another address the staff member signs in.
    assert admin_login(client, staff.email, PASSWORD, REMOTE_ADDR=OTHER_IP).status_code == 302


def test_client_users_stay_out_and_their_right_password_spends_no_attempt(client, alice):
    for _ in range(6):
        response = admin_login(client, alice.email, PASSWORD)
        assert response.status_code == 200 and b"staff account" in response.content
    assert not signed_in(client)


def test_the_limit_holds_on_a_real_redis(client, staff, settings):
    url = os.environ.get("REDIS_URL") or "redis://127.0.0.1:6379/0"
    prefix = f"caly-test-staff-{uuid.uuid4().hex[:8]}"  # its own keys, removed afterwards; nothing else touched
    settings.CACHES = redis_caches(url, key_prefix=prefix)
    counters = caches["ratelimit"]
    try:
        counters.get("ping")
    except CACHE_ERRORS as exc:
        pytest.skip(f"needs Redis at {url}: {exc}")
    try:
        for n in range(5):
            assert admin_login(client, staff.email, f"guess-{n}").status_code == 200
        assert_admin_refusal(admin_login(client, staff.email, PASSWORD), 429, "Too many sign-in attempts")
        assert counters.keys("*"), "the counters live in Redis"
        # A fresh browser (another session, as another web worker would see it) is refused too.
        client.cookies.clear()
        assert admin_login(client, staff.email, PASSWORD).status_code == 429
    finally:
        counters.delete_pattern("*")


# --- the audit trail ------------------------------------------------------------------------------


def test_it_audits_staff_sign_ins_failures_and_refusals_with_where_they_came_from(client, staff):
    browser = {"HTTP_USER_AGENT": "Mozilla/5.0 (attacker)", "HTTP_X_REQUEST_ID": "req-staff-signin-0001"}
    admin_login(client, "ghost@caly.example", "guess", **browser)
    for n in range(5):
        admin_login(client, staff.email, f"guess-{n}", **browser)
    admin_login(client, staff.email, PASSWORD, **browser)
    admin_login(client, staff.email, PASSWORD, REMOTE_ADDR=OTHER_IP)  # the account stays closed from elsewhere

    events = list(StaffAuditEvent.objects.order_by("id"))
    assert [(e.action, e.email) for e in events] == [
        (StaffAuditAction.LOGIN_FAILED, "ghost@caly.example"),
        *[(StaffAuditAction.LOGIN_FAILED, staff.email)] * 5,
        (StaffAuditAction.LOGIN_RATE_LIMITED, staff.email),
        (StaffAuditAction.LOGIN_RATE_LIMITED, staff.email),
    ]
    unknown, failure, refusal = events[0], events[1], events[6]
    assert unknown.actor is None and unknown.details == {"reason": "credentials", "account": "unknown"}
    assert failure.actor == staff and failure.details["account"] == "staff"
    assert refusal.ip == "127.0.0.1" and refusal.user_agent == "Mozilla/5.0 (attacker)"
    assert refusal.request_id == "req-staff-signin-0001"
    assert events[7].ip == OTHER_IP


def test_it_audits_a_staff_sign_in(client, staff):
    assert admin_login(client, staff.email, PASSWORD).status_code == 302

    event = StaffAuditEvent.objects.get()
    assert event.action == StaffAuditAction.LOGIN_SUCCEEDED and event.actor == staff
    assert event.details == {"second_factor": "not required"}
