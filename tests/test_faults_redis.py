"""Redis unavailable: sign-in, sign-up, password reset and refresh refuse with 503 (a limit that cannot count
must not let passwords be guessed without end), everything else keeps serving, /health/ready names the
cache, and all of it recovers without a restart.

Redis is a redis-server of the test's own behind a proxy the test cuts (tests/tcp_proxy.py): the
shared Redis other tests use is never touched.
"""

import json
import time

import pytest
from django.core import mail
from django.test import override_settings

from accounts import jwt
from accounts.models import AuditAction, AuditEvent, Client, RefreshFamily
from caly import health
from caly.settings.base import redis_caches
from integrations.models import WebhookEvent
from integrations.services import shopify_connection_save
from recordings.services import recording_store
from tests import instances
from tests.exotel_fake import (
    callback_path,
    exotel_connection_fixture,  # noqa: F401
    exotel_fixture,  # noqa: F401
    form,
    status_callback,
)
from tests.factories import PASSWORD, CallFactory
from tests.serving import clean_env
from tests.shopify_fake import ACCESS_TOKEN, API_VERSION, SHOP_DOMAIN, WEBHOOK_SECRET
from tests.tcp_proxy import TcpProxy
from tests.test_shopify_webhooks import rest_product, sign

pytestmark = pytest.mark.skipif(not instances.redis_available(), reason="needs redis-server on PATH")

HUNG_REDIS_BOUND_SECONDS = 15  # connect + socket timeouts are 2 s each: "does not hang", not a benchmark


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


def envelope(response) -> dict:
    return json.loads(response.content)


def assert_unavailable(response) -> None:
    assert response.status_code == 503, response.content
    body = envelope(response)
    assert body["success"] is False and body["error"]["code"] == "SERVICE_UNAVAILABLE", body
    assert int(response["Retry-After"]) >= 1


def api_post(api, path, payload, token=None):
    extra = {"HTTP_AUTHORIZATION": f"Bearer {token}"} if token else {}
    return api.post(f"/api/v1/{path}", payload, format="json", **extra)


def signup(n: int) -> dict:
    return {"company_name": f"Outage Shop {n}", "email": f"founder{n}@outage.example", "password": "a-strong-pass-9"}


# --- the limited endpoints refuse --------------------------------------------------------------------


@pytest.mark.django_db
def test_sign_in_refuses_every_attempt_and_checks_no_password_while_redis_is_down(api, redis, alice):
    redis.cut()
    for password in ["guess-1", "guess-2", "guess-3", PASSWORD] * 5:
        assert_unavailable(api_post(api, "auth/login", {"email": alice.email, "password": password}))

    assert not AuditEvent.objects.filter(action__in=[AuditAction.LOGIN_FAILED, AuditAction.LOGIN_SUCCEEDED]).exists()
    assert not RefreshFamily.objects.filter(user=alice).exists()


@pytest.mark.django_db
def test_sign_up_password_reset_and_refresh_refuse_while_redis_is_down(api, redis, alice):
    refresh = jwt.family_start(user=alice).refresh
    family = RefreshFamily.objects.get(user=alice)
    clients_before = Client.objects.count()
    redis.cut()

    assert_unavailable(api_post(api, "auth/register", signup(1)))
    assert_unavailable(api_post(api, "auth/password/reset", {"email": alice.email}))
    assert_unavailable(api_post(api, "auth/verify/resend", {"email": alice.email}))
    assert_unavailable(api_post(api, "auth/refresh", {"refresh": refresh}))

    assert Client.objects.count() == clients_before
    assert mail.outbox == []
    unchanged = RefreshFamily.objects.get(pk=family.pk)
    assert unchanged.current_jti == family.current_jti and unchanged.revoked_at is None


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("page", "fields"),
    [
        ("/accounts/login/", {"email": "alice@acme.example", "password": PASSWORD}),
        ("/accounts/signup/", {**signup(2), "first_name": "Ola", "last_name": "Outage"}),
        ("/accounts/password/reset/", {"email": "alice@acme.example"}),
    ],
)
def test_the_sign_in_sign_up_and_reset_pages_answer_503_while_redis_is_down(client, redis, alice, page, fields):
    redis.cut()
    response = client.post(page, fields)

    assert response.status_code == 503
    assert response["Content-Type"].startswith("text/html")
    assert "briefly unavailable" in response.content.decode()
    assert "_auth_user_id" not in client.session
    assert mail.outbox == []


# --- everything else serves ----------------------------------------------------------------------


@pytest.mark.django_db
def test_every_other_endpoint_keeps_serving_while_redis_is_down(api, client, redis, alice, exotel_connection):
    token = jwt.family_start(user=alice).access
    call = CallFactory(client=alice.client)
    recording = recording_store(call=call, stream=[b"ID3" + b"\x00" * 4000], content_type="audio/mpeg")
    shopify = shopify_connection_save(
        client=alice.client,
        actor=None,
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
def test_everything_recovers_when_redis_returns(api, client, redis, alice):
    redis.cut()
    assert_unavailable(api_post(api, "auth/login", {"email": alice.email, "password": PASSWORD}))
    assert client.get("/health/ready").status_code == 503

    redis.restore()
    response = api_post(api, "auth/login", {"email": alice.email, "password": PASSWORD})
    assert response.status_code == 200, response.content
    assert client.get("/health/ready").status_code == 200


@pytest.mark.django_db
def test_a_hung_redis_is_refused_within_the_socket_timeouts_not_waited_for(api, client, redis, alice):
    token = jwt.family_start(user=alice).access
    redis.cut(hang=True)

    started = time.monotonic()
    assert_unavailable(api_post(api, "auth/login", {"email": alice.email, "password": PASSWORD}))
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
def test_gunicorn_refuses_sign_in_serves_the_rest_and_recovers_without_a_restart(tmp_path, redis_port):
    with TcpProxy(redis_port) as proxy:
        env = clean_env(
            tmp_path,
            DJANGO_SETTINGS_MODULE="caly.settings.test",
            DATABASE_URL=f"sqlite:///{tmp_path}/db.sqlite3",
            REDIS_URL=f"redis://127.0.0.1:{proxy.port}/0",
            MEDIA_ROOT=str(tmp_path / "media"),
            GUNICORN_THREADS="2",
        )
        instances.manage(env, "migrate", "--noinput")
        instances.manage(env, "shell", "-c", CREATE_OWNER)
        credentials = json.dumps({"email": "owner@outage.example", "password": PASSWORD}).encode()

        with instances.gunicorn(env, tmp_path / "gunicorn.log", workers=2) as server:
            status, body = _post_json(server.port, "/api/v1/auth/login", credentials)
            assert status == 200, body
            token = body["data"]["tokens"]["access"]
            workers = server.worker_pids()

            proxy.cut()
            for _ in range(6):
                status, body = _post_json(server.port, "/api/v1/auth/login", credentials)
                assert (status, body["error"]["code"]) == (503, "SERVICE_UNAVAILABLE"), body
            me = instances.http_get(server.port, "/api/v1/me", headers={"Authorization": f"Bearer {token}"})
            assert me[0] == 200, me
            ready = instances.http_get(server.port, "/health/ready")
            assert ready[0] == 503 and json.loads(ready[2])["failing"] == ["cache"]

            proxy.restore()
            status, body = _post_json(server.port, "/api/v1/auth/login", credentials)
            assert status == 200, body
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
