"""Redis unavailable: every rate limit counts in the process instead (sign-in and refresh keep working and
stay limited, exports stay bounded), everything else keeps serving, /health/ready names the cache, and the
shared counters count again when Redis returns, without a restart.

Redis is a redis-server of the test's own behind a proxy the test cuts (tests/tcp_proxy.py): the
shared Redis other tests use is never touched.
"""

import json
import time

import pytest
import time_machine
from django.core import mail
from django.core.cache import caches
from django.test import override_settings

from accounts import jwt
from accounts.models import AuditAction, AuditEvent, Client
from caly.foundation import health, ratelimit
from caly.settings.base import redis_caches
from integrations.models import WebhookEvent
from recordings.services import recording_store
from tests import instances
from tests.exotel_fake import (
    callback_path,
    exotel_connection_fixture,  # noqa: F401
    exotel_fixture,  # noqa: F401
    form,
    status_callback,
)
from tests.factories import PASSWORD, CallFactory, ShopifyConnectionFactory
from tests.serving import clean_env
from tests.shopify_fake import ACCESS_TOKEN, API_VERSION, SHOP_DOMAIN, WEBHOOK_SECRET
from tests.tcp_proxy import TcpProxy
from tests.test_shopify_webhooks import rest_product, sign

pytestmark = pytest.mark.skipif(not instances.redis_available(), reason="needs redis-server on PATH")

HUNG_REDIS_BOUND_SECONDS = 15  # connect + socket timeouts are 2 s each: "does not hang", not a benchmark
SIGN_INS_BOUND_SECONDS = 10  # one 2 s socket timeout, then this process's counters
ACCOUNT_LIMIT = 3
RETRY_SECONDS = 5  # RATE_LIMIT_SHARED_RETRY_SECONDS in caly/settings/base.py


@pytest.fixture(scope="module")
def redis_port(tmp_path_factory):
    with instances.redis_server(tmp_path_factory.mktemp("redis")) as port:
        yield port


@pytest.fixture
def redis(redis_port):
    """The app's caches on the test's own Redis, through a proxy the test can cut; yields the proxy."""
    with TcpProxy(redis_port) as proxy:
        caches = redis_caches(f"redis://127.0.0.1:{proxy.port}/0", key_prefix="caly-test-faults")
        with override_settings(CACHES=caches, RATELIMIT_USE_CACHE="ratelimit"):
            yield proxy


@pytest.fixture(autouse=True)
def _recheck_migrations(monkeypatch):
    monkeypatch.setattr(health, "_migrations_applied", False)


@pytest.fixture(autouse=True)
def _fresh_process_counters(monkeypatch):
    """Each test starts as a fresh process would: nothing counted locally, Redis not known to be down."""
    monkeypatch.setattr(ratelimit, "shared_counters", ratelimit.SharedCounters())
    monkeypatch.setattr(ratelimit, "process_counters", ratelimit.ProcessCounters())


@pytest.fixture
def stopped_clock():
    """No rate-limit window ends half-way through the test."""
    with time_machine.travel(time.time(), tick=False):
        yield


def envelope(response) -> dict:
    return json.loads(response.content)


def assert_rate_limited(response) -> None:
    assert response.status_code == 429, response.content
    body = envelope(response)
    assert body["success"] is False and body["error"]["code"] == "RATE_LIMITED", body
    assert int(response["Retry-After"]) >= 1


def api_post(api, path, payload, token=None):
    extra = {"HTTP_AUTHORIZATION": f"Bearer {token}"} if token else {}
    return api.post(f"/api/v1/{path}", payload, format="json", **extra)


def signup(n: int) -> dict:
    return {"company_name": f"Outage Shop {n}", "email": f"founder{n}@outage.example", "password": "a-strong-pass-9"}


# --- the limited endpoints work, and stay limited ---------------------------------------------------


@pytest.mark.django_db
def test_sign_in_works_and_stays_limited_while_redis_is_down(api, redis, limits, stopped_clock, alice):
    limits(login_account="3/15m", login_ip="20/15m")
    redis.cut()

    assert api_post(api, "auth/login", {"email": alice.email, "password": PASSWORD}).status_code == 200
    for n in range(3):
        response = api_post(api, "auth/login", {"email": alice.email, "password": f"guess-{n}"})
        assert response.status_code == 401, response.content
    assert_rate_limited(api_post(api, "auth/login", {"email": alice.email, "password": "guess-3"}))
    assert_rate_limited(api_post(api, "auth/login", {"email": alice.email, "password": PASSWORD}))

    assert AuditEvent.objects.filter(action=AuditAction.LOGIN_FAILED).count() == 3
    assert AuditEvent.objects.filter(action=AuditAction.LOGIN_SUCCEEDED).count() == 1


@pytest.mark.django_db
def test_sign_up_password_reset_and_refresh_keep_working_while_redis_is_down(api, redis, alice):
    refresh = jwt.family_start(user=alice).refresh
    clients_before = Client.objects.count()
    redis.cut()

    assert api_post(api, "auth/register", signup(1)).status_code == 201
    assert api_post(api, "auth/password/reset", {"email": alice.email}).status_code == 202
    assert api_post(api, "auth/verify/resend", {"email": alice.email}).status_code == 202
    response = api_post(api, "auth/refresh", {"refresh": refresh})
    assert response.status_code == 200, response.content

    assert Client.objects.count() == clients_before + 1
    assert {message.to[0] for message in mail.outbox} >= {signup(1)["email"], alice.email}
    assert envelope(api.get("/api/v1/me", HTTP_AUTHORIZATION=f"Bearer {envelope(response)['data']['access']}"))[
        "success"
    ]


@pytest.mark.django_db
def test_refresh_and_exports_stay_limited_while_redis_is_down(api, redis, limits, stopped_clock, alice):
    limits(refresh_family="2/m", export_user="2/h")
    refresh = jwt.family_start(user=alice).refresh
    token = jwt.family_start(user=alice).access
    redis.cut()

    for _ in range(2):
        response = api_post(api, "auth/refresh", {"refresh": refresh})
        assert response.status_code == 200, response.content
        refresh = envelope(response)["data"]["refresh"]
    assert_rate_limited(api_post(api, "auth/refresh", {"refresh": refresh}))

    bearer = {"HTTP_AUTHORIZATION": f"Bearer {token}"}
    assert [api.get("/api/v1/calls/export", **bearer).status_code for _ in range(2)] == [200, 200]
    assert_rate_limited(api.get("/api/v1/calls/export", **bearer))


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("page", "fields"),
    [
        ("/accounts/login/", {"email": "alice@acme.example", "password": PASSWORD}),
        ("/accounts/signup/", {**signup(2), "first_name": "Ola", "last_name": "Outage"}),
        ("/accounts/password/reset/", {"email": "alice@acme.example"}),
    ],
)
def test_the_sign_in_sign_up_and_reset_pages_work_while_redis_is_down(client, redis, alice, page, fields):
    redis.cut()
    response = client.post(page, fields)

    assert response.status_code in (200, 302), response.content
    assert "briefly unavailable" not in response.content.decode()
    if page == "/accounts/login/":
        assert client.session["_auth_user_id"] == str(alice.pk)


# --- everything else serves ----------------------------------------------------------------------


@pytest.mark.django_db
def test_every_other_endpoint_keeps_serving_while_redis_is_down(api, client, redis, alice, exotel_connection):
    token = jwt.family_start(user=alice).access
    call = CallFactory(client=alice.client)
    recording = recording_store(call=call, stream=[b"ID3" + b"\x00" * 4000], content_type="audio/mpeg")
    shopify = ShopifyConnectionFactory(  # verified without asking Shopify: these tests are about outages
        client=alice.client,
        shop_domain=SHOP_DOMAIN,
        access_token=ACCESS_TOKEN,
        webhook_secret=WEBHOOK_SECRET,
        api_version=API_VERSION,
    )
    client.force_login(alice)
    redis.cut()

    bearer = {"HTTP_AUTHORIZATION": f"Bearer {token}"}
    for path in ["me", "client", "calls", f"calls/{call.public_id}", "recordings", "stats/summary", "team/members"]:
        response = api.get(f"/api/v1/{path}", **bearer)
        assert response.status_code == 200, (path, response.content)
    download = api.get(f"/api/v1/recordings/{recording.public_id}/download", **bearer)
    assert download.status_code == 200 and b"".join(download.streaming_content).startswith(b"ID3")
    assert api.get("/api/v1/calls/export", **bearer).status_code == 200

    exotel = client.post(
        callback_path(exotel_connection), form(status_callback(RecordingUrl="")), "application/x-www-form-urlencoded"
    )
    assert exotel.status_code == 200, exotel.content
    body = json.dumps(rest_product()).encode()
    shopify_response = client.post(
        f"/api/v1/webhooks/shopify/{shopify.public_id}",
        body,
        content_type="application/json",
        HTTP_X_SHOPIFY_HMAC_SHA256=sign(body),
        HTTP_X_SHOPIFY_TOPIC="products/update",
        HTTP_X_SHOPIFY_SHOP_DOMAIN=SHOP_DOMAIN,
        HTTP_X_SHOPIFY_WEBHOOK_ID="outage-delivery-1",
    )
    assert shopify_response.status_code == 200, shopify_response.content
    assert WebhookEvent.objects.count() == 2

    for page in ["/dashboard/", "/calls/", f"/calls/{call.public_id}/", "/accounts/team/", "/accounts/profile/"]:
        assert client.get(page).status_code == 200, page
    report = {"kind": "error", "message": "TypeError: x is undefined", "page_url": "https://caly.example.com/calls/"}
    assert api_post(api, "client-errors/", report).status_code == 202
    assert client.get("/health/live").status_code == 200


@pytest.mark.django_db
def test_readiness_names_the_cache_while_redis_is_down(client, redis):
    redis.cut()
    response = client.get("/health/ready")
    assert response.status_code == 503 and envelope(response)["failing"] == ["cache"]


# --- recovery and a hung Redis ---------------------------------------------------------------------


@pytest.mark.django_db
def test_the_shared_counters_count_again_when_redis_returns(
    api, client, redis, limits, settings, stopped_clock, monkeypatch, alice
):
    settings.RATE_LIMIT_SHARED_RETRY_SECONDS = 1
    limits(login_account="3/15m", login_ip="100/15m")
    redis.cut()
    for n in range(2):  # counted in this process
        assert api_post(api, "auth/login", {"email": alice.email, "password": f"guess-{n}"}).status_code == 401
    assert client.get("/health/ready").status_code == 503

    redis.restore()
    time.sleep(settings.RATE_LIMIT_SHARED_RETRY_SECONDS + 0.2)
    assert api_post(api, "auth/login", {"email": alice.email, "password": PASSWORD}).status_code == 200
    # Three more failures fit: the count is Redis's again, which never saw the two above.
    for n in range(3):
        assert api_post(api, "auth/login", {"email": alice.email, "password": f"again-{n}"}).status_code == 401
    assert caches["ratelimit"].keys("*"), "the counters live in Redis again"
    # Another process (fresh counters of its own) sees the same shared count and refuses too.
    monkeypatch.setattr(ratelimit, "process_counters", ratelimit.ProcessCounters())
    assert_rate_limited(api_post(api, "auth/login", {"email": alice.email, "password": PASSWORD}))
    assert client.get("/health/ready").status_code == 200


@pytest.mark.django_db
def test_a_hung_redis_costs_one_socket_timeout_not_one_per_request(api, client, redis, alice):
    token = jwt.family_start(user=alice).access
    redis.cut(hang=True)

    started = time.monotonic()
    for _ in range(5):
        assert api_post(api, "auth/login", {"email": alice.email, "password": PASSWORD}).status_code == 200
    # Asked once per sign-in (two counts, two refunds), a hung Redis would cost 5 x 4 x 2 s.
    assert time.monotonic() - started < SIGN_INS_BOUND_SECONDS
    assert api.get("/api/v1/me", HTTP_AUTHORIZATION=f"Bearer {token}").status_code == 200
    assert client.get("/health/ready").status_code == 503
    assert time.monotonic() - started < HUNG_REDIS_BOUND_SECONDS


# --- the same through gunicorn -------------------------------------------------------------------

CREATE_OWNER = """
from django.utils import timezone
from accounts.models import Client, User
client = Client.objects.create(name="Outage Apparel", slug="outage-apparel")
owner = User.objects.create_user("owner@outage.example", "correct horse battery staple", client=client, role="owner")
owner.email_verified_at = timezone.now()
owner.save()
"""


@pytest.mark.slow
def test_gunicorn_keeps_signing_in_with_a_limit_and_recovers_without_a_restart(tmp_path, redis_port):
    with TcpProxy(redis_port) as proxy:
        env = clean_env(
            tmp_path,
            DJANGO_SETTINGS_MODULE="caly.settings.test",
            DATABASE_URL=f"sqlite:///{tmp_path}/db.sqlite3",
            REDIS_URL=f"redis://127.0.0.1:{proxy.port}/0",
            MEDIA_ROOT=str(tmp_path / "media"),
            GUNICORN_THREADS="2",
            RATE_LIMIT_LOGIN_ACCOUNT=f"{ACCOUNT_LIMIT}/15m",
        )
        instances.manage(env, "migrate", "--noinput")
        instances.manage(env, "shell", "-c", CREATE_OWNER)
        credentials = json.dumps({"email": "owner@outage.example", "password": PASSWORD}).encode()
        wrong = json.dumps({"email": "owner@outage.example", "password": "not the password"}).encode()

        with instances.gunicorn(env, tmp_path / "gunicorn.log", workers=2) as server:
            status, body = _post_json(server.port, "/api/v1/auth/login", credentials)
            assert status == 200, body
            token = body["data"]["tokens"]["access"]
            workers = server.worker_pids()

            proxy.cut()
            status, body = _post_json(server.port, "/api/v1/auth/login", credentials)
            assert status == 200, body
            # Each worker counts on its own: at most WORKERS x the per-account limit get a password checked.
            statuses = [_post_json(server.port, "/api/v1/auth/login", wrong)[0] for _ in range(12)]
            assert set(statuses) <= {401, 429} and statuses[-1] == 429, statuses
            assert statuses.count(401) <= 2 * ACCOUNT_LIMIT, statuses
            me = instances.http_get(server.port, "/api/v1/me", headers={"Authorization": f"Bearer {token}"})
            assert me[0] == 200, me
            ready = instances.http_get(server.port, "/health/ready")
            assert ready[0] == 503 and json.loads(ready[2])["failing"] == ["cache"]

            proxy.restore()
            time.sleep(RETRY_SECONDS + 0.5)  # each worker asks Redis again after its retry period
            status, body = _post_json(server.port, "/api/v1/auth/login", credentials)
            assert status == 200, body  # Redis's own count of this account is still empty
            assert instances.http_get(server.port, "/health/ready")[0] == 200
            assert server.worker_pids() == workers, "recovered without restarting a worker"
            assert "Traceback" not in server.output()


def _post_json(port: int, path: str, body: bytes) -> tuple[int, dict]:
    import http.client

    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    try:
        connection.request("POST", path, body=body, headers={"Content-Type": "application/json"})
        response = connection.getresponse()
        return response.status, json.loads(response.read())
    finally:
        connection.close()
