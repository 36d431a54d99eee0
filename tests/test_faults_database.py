"""PostgreSQL unavailable, through real gunicorn workers: readiness says so within a bound, liveness does not,
the API and the webhooks answer 503 (so senders retry), pages show the maintenance page; when the
database returns, everything recovers in the same worker processes.

The database is the test database behind a proxy the test cuts (tests/tcp_proxy.py): first as a
crashed server (connections reset, new ones refused), then as a network that drops packets (new
connections hang until connect_timeout). The shared PostgreSQL server is never stopped.
"""

import json
import os
import time
from concurrent.futures import ThreadPoolExecutor
from urllib.parse import urlsplit

import pytest
from django.conf import settings
from django.db import OperationalError, connection
from django.test import Client as BrowserClient

from accounts import jwt
from integrations.models import WebhookEvent
from tests import instances
from tests.exotel_fake import (
    callback_path,
    exotel_connection_fixture,  # noqa: F401
    exotel_fixture,  # noqa: F401
    form,
    status_callback,
)
from tests.factories import CallFactory, ShopifyConnectionFactory
from tests.serving import clean_env
from tests.shopify_fake import ACCESS_TOKEN, API_VERSION, SHOP_DOMAIN, WEBHOOK_SECRET
from tests.tcp_proxy import TcpProxy
from tests.test_shopify_webhooks import rest_product, sign

GUNICORN_TIMEOUT = 30
# "Does not hang": an answer well inside the worker timeout, however the database fails.
ANSWER_BOUND_SECONDS = GUNICORN_TIMEOUT / 2
RECOVERY_BOUND_SECONDS = 30
# make hardening-long: the partition lasts 90 s, long enough for the pool's reconnection backoff to
# grow past a minute were it not capped (reconnect_timeout in caly/settings/base.py).
LONG_OUTAGE_SECONDS = 90 if os.environ.get("CALY_HARDENING_LONG") == "1" else 0
THREADS = 10


# --- in one process: what each kind of request answers --------------------------------------------


def _refuse(execute, sql, params, many, context):
    raise OperationalError("connection to server at 127.0.0.1, port 5432 failed: Connection refused (test)")


@pytest.mark.django_db
def test_a_page_shows_the_maintenance_page_with_503_while_the_database_is_down(client, alice):
    client.force_login(alice)  # the session itself cannot be read
    client.raise_request_exception = False
    with connection.execute_wrapper(_refuse):
        response = client.get("/dashboard/", HTTP_X_REQUEST_ID="db-down-page")

    html = response.content.decode()
    assert response.status_code == 503 and int(response["Retry-After"]) >= 1
    assert response["Content-Type"].startswith("text/html")
    assert '<p class="error-code">503</p>' in html and "briefly unavailable" in html
    assert "<code data-request-id>db-down-page</code>" in html
    assert "OperationalError" not in html and "Traceback" not in html and "5432" not in html


@pytest.mark.django_db
def test_the_api_answers_503_while_the_database_is_down_even_to_authenticate(api, alice):
    token = jwt.family_start(user=alice).access  # checking it needs the user's row
    with connection.execute_wrapper(_refuse):
        response = api.get("/api/v1/me", HTTP_AUTHORIZATION=f"Bearer {token}")

    assert response.status_code == 503 and int(response["Retry-After"]) >= 1
    body = json.loads(response.content)
    assert body["success"] is False and body["error"]["code"] == "SERVICE_UNAVAILABLE"
    assert "5432" not in response.content.decode()


@pytest.mark.django_db
def test_a_webhook_is_refused_with_503_so_the_sender_retries_while_the_database_is_down(client, exotel_connection):
    with connection.execute_wrapper(_refuse):
        response = client.post(
            callback_path(exotel_connection), form(status_callback()), "application/x-www-form-urlencoded"
        )

    assert response.status_code == 503 and json.loads(response.content)["error"]["code"] == "SERVICE_UNAVAILABLE"
    assert WebhookEvent.objects.count() == 0


# --- through gunicorn, with the database behind a proxy --------------------------------------------


def request(port: int, method: str, path: str, *, body: bytes = b"", headers: dict | None = None):
    """(status, headers, body, seconds taken) of one request on its own connection."""
    import http.client

    started = time.monotonic()
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=GUNICORN_TIMEOUT + 10)
    try:
        connection.request(method, path, body=body or None, headers=headers or {})
        response = connection.getresponse()
        payload = response.read().decode(errors="replace")
        return response.status, dict(response.getheaders()), payload, time.monotonic() - started
    finally:
        connection.close()


@pytest.fixture
def world(alice, exotel_connection):
    """What the requests need, committed so the gunicorn workers see it."""
    browser = BrowserClient()
    browser.force_login(alice)
    shopify = ShopifyConnectionFactory(  # verified without asking Shopify: these tests are about outages
        client=alice.client,
        shop_domain=SHOP_DOMAIN,
        access_token=ACCESS_TOKEN,
        webhook_secret=WEBHOOK_SECRET,
        api_version=API_VERSION,
    )
    product = json.dumps(rest_product()).encode()
    return {
        "call": CallFactory(client=alice.client),
        "bearer": {"Authorization": f"Bearer {jwt.family_start(user=alice).access}"},
        "cookie": {"Cookie": f"{settings.SESSION_COOKIE_NAME}={browser.cookies[settings.SESSION_COOKIE_NAME].value}"},
        "exotel_path": callback_path(exotel_connection),
        "shopify_path": f"/api/v1/webhooks/shopify/{shopify.public_id}",
        "product": product,
        "shopify_headers": {
            "Content-Type": "application/json",
            "X-Shopify-Hmac-Sha256": sign(product),
            "X-Shopify-Topic": "products/update",
            "X-Shopify-Shop-Domain": SHOP_DOMAIN,
        },
    }


def probe(port: int, world: dict, n: int) -> dict[str, tuple]:
    """One request of each kind; `n` makes each webhook delivery new."""
    exotel = json.dumps(status_callback(CallSid=f"fault{n:06d}", RecordingUrl="")).encode()
    form_body = form(status_callback(CallSid=f"faultform{n:06d}", RecordingUrl="")).encode()
    shopify_headers = {**world["shopify_headers"], "X-Shopify-Webhook-Id": f"fault-delivery-{n}"}
    login = b'{"email": "alice@acme.example", "password": "correct horse battery staple"}'
    requests = {
        "live": ("GET", "/health/live", b"", {}),
        "ready": ("GET", "/health/ready", b"", {}),
        "api_me": ("GET", "/api/v1/me", b"", world["bearer"]),
        "api_calls": ("GET", "/api/v1/calls", b"", world["bearer"]),
        "api_session": ("GET", "/api/v1/me", b"", world["cookie"]),  # the session, in the database
        "api_login": ("POST", "/api/v1/auth/login", login, {"Content-Type": "application/json"}),
        "exotel": ("POST", world["exotel_path"], form_body, {"Content-Type": "application/x-www-form-urlencoded"}),
        "exotel_json": ("POST", world["exotel_path"], exotel, {"Content-Type": "application/json"}),
        "shopify": ("POST", world["shopify_path"], world["product"], shopify_headers),
        "page": ("GET", "/dashboard/", b"", world["cookie"]),
        "call_page": ("GET", f"/calls/{world['call'].public_id}/", b"", world["cookie"]),
    }
    # All at once, as traffic arrives: a hung connect then costs one connect_timeout, not ten.
    with ThreadPoolExecutor(max_workers=len(requests)) as pool:
        futures = {
            name: pool.submit(request, port, method, path, body=body, headers=headers)
            for name, (method, path, body, headers) in requests.items()
        }
        return {name: future.result() for name, future in futures.items()}


def assert_all_serving(answers: dict) -> None:
    statuses = {name: answer[0] for name, answer in answers.items()}
    assert statuses == dict.fromkeys(answers, 200), statuses


def assert_database_down(answers: dict) -> None:
    statuses = {name: answer[0] for name, answer in answers.items()}
    assert statuses == {**dict.fromkeys(answers, 503), "live": 200}, statuses
    # Migrations cannot be checked without the database; they are reported failing, not tried.
    assert json.loads(answers["ready"][2]) == {"status": "unavailable", "failing": ["database", "migrations"]}
    for name in ("api_me", "api_calls", "api_session", "api_login", "exotel", "exotel_json", "shopify"):
        _, headers, body, _ = answers[name]
        envelope = json.loads(body)
        assert envelope["success"] is False and envelope["error"]["code"] == "SERVICE_UNAVAILABLE", (name, envelope)
        assert int(headers["Retry-After"]) >= 1, name
    for name in ("page", "call_page"):
        _, headers, html, _ = answers[name]
        assert headers["Content-Type"].startswith("text/html"), name
        assert "briefly unavailable" in html and "Traceback" not in html and "OperationalError" not in html, name
    seconds = {name: round(answer[3], 2) for name, answer in answers.items()}
    print("seconds while the database is down:", seconds)
    assert max(seconds.values()) < ANSWER_BOUND_SECONDS, seconds


def until_serving(port: int, world: dict, first: int) -> tuple[float, int]:
    """Probe until every kind of request succeeds; (seconds it took, the next probe number)."""
    started, n = time.monotonic(), first
    while True:
        answers = probe(port, world, n)
        n += 1
        if all(answer[0] == 200 for answer in answers.values()):
            return time.monotonic() - started, n
        assert time.monotonic() - started < RECOVERY_BOUND_SECONDS, {name: a[0] for name, a in answers.items()}
        time.sleep(0.5)


@pytest.mark.postgres
@pytest.mark.slow
@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize("connections", ["persistent", "pool"])
def test_the_database_going_away_and_coming_back(tmp_path, world, connections):
    database = settings.DATABASES["default"]
    with TcpProxy(int(database["PORT"] or 5432), database["HOST"] or "127.0.0.1") as proxy:
        url = urlsplit(f"postgres://{database['USER']}@127.0.0.1:{proxy.port}/{database['NAME']}")
        env = clean_env(
            tmp_path,
            DJANGO_SETTINGS_MODULE="tests.instances_settings",
            DATABASE_URL=url.geturl(),
            DATABASE_CONN_MAX_AGE="600",
            DATABASE_POOL_MAX_SIZE=str(THREADS) if connections == "pool" else "0",
            MEDIA_ROOT=str(tmp_path / "media"),
            TASKS_BACKEND="database",
            # As many threads as one probe sends requests: however the two workers share them, no
            # request waits for a thread, and each one's time is its own.
            GUNICORN_THREADS=str(THREADS),
            GUNICORN_TIMEOUT=str(GUNICORN_TIMEOUT),
        )
        with instances.gunicorn(env, tmp_path / "gunicorn.log", workers=2) as server:
            workers = server.worker_pids()
            # Twice, so both workers hold connections (or a pool) before each outage.
            assert_all_serving(probe(server.port, world, 1))
            assert_all_serving(probe(server.port, world, 2))

            proxy.cut()  # the server restarts between two requests: every held connection is dead
            proxy.restore()
            assert_all_serving(probe(server.port, world, 3))
            assert_all_serving(probe(server.port, world, 4))

            proxy.cut()  # the server is down: connections reset, new ones refused
            assert_database_down(probe(server.port, world, 5))
            assert_database_down(probe(server.port, world, 6))
            proxy.restore()
            recovered_after_crash, n = until_serving(server.port, world, 7)
            assert_all_serving(probe(server.port, world, n))

            proxy.cut(hang=True)  # packets dropped: only connect_timeout ends an attempt
            assert_database_down(probe(server.port, world, n + 1))
            assert_database_down(probe(server.port, world, n + 2))
            outage_ends = time.monotonic() + LONG_OUTAGE_SECONDS
            while time.monotonic() < outage_ends:  # a long outage, with some traffic, as in life
                assert request(server.port, "GET", "/api/v1/me", headers=world["bearer"])[0] == 503
                time.sleep(2)
            proxy.restore()
            recovered_after_partition, n = until_serving(server.port, world, n + 3)
            assert_all_serving(probe(server.port, world, n))

            print(
                f"{connections}: serving again {recovered_after_crash:.1f} s after a crash, "
                f"{recovered_after_partition:.1f} s after a partition"
            )
            assert server.worker_pids() == workers, "recovered in the same workers, without a restart"
            assert " 500 " not in server.output(), server.output()
