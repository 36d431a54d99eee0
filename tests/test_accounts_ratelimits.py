"""Rate limits: login per account and per IP, sign-up, e-mail links, refresh per sign-in, API per user,
which address counts behind proxies, and one limit shared by every gunicorn worker through Redis.

In-process tests stop the clock: django-ratelimit ends each key's window at its own offset, and a
window ending half-way through a test would reset the count under it.
"""

import contextlib
import http.client
import json
import os
import re
import subprocess
import time
import uuid
from collections import Counter
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

import pytest
import time_machine
from django.core import mail

from accounts import jwt
from accounts.models import AuditAction, AuditEvent, Client, RefreshFamily
from caly.foundation.adapters.ratelimit import window_end
from tests.factories import PASSWORD
from tests.serving import PYTHON, ROOT, clean_env, free_port

OTHER_IP = "198.51.100.20"
STRONG_PASSWORD = "a-strong-pass-phrase-9"


@pytest.fixture(autouse=True)
def _stopped_clock(request):
    if request.node.get_closest_marker("slow"):
        yield  # the gunicorn test runs on real time and checks its window itself
        return
    with time_machine.travel(time.time(), tick=False):
        yield


def post(api, path, payload, token=None, **extra):
    if token:
        extra["HTTP_AUTHORIZATION"] = f"Bearer {token}"
    response = api.post(f"/api/v1/{path}", payload, format="json", **extra)
    return response, json.loads(response.content)


def get(api, path, token, **extra):
    response = api.get(f"/api/v1/{path}", HTTP_AUTHORIZATION=f"Bearer {token}", **extra)
    return response, json.loads(response.content)


def login(api, email, password, **extra):
    return post(api, "auth/login", {"email": email, "password": password}, **extra)


def assert_error(result, status, code):
    response, body = result
    assert response.status_code == status, body
    assert body["error"]["code"] == code, body


def assert_rate_limited(result, period_seconds: int) -> None:
    assert_error(result, 429, "RATE_LIMITED")
    retry_after = int(result[0]["Retry-After"])
    assert 1 <= retry_after <= period_seconds


# --- login ---------------------------------------------------------------------------------------


@pytest.mark.django_db
def test_login_is_limited_per_account_and_other_accounts_go_on_until_the_ip_limit(api, limits, alice, bob, charlie):
    limits(login_account="5/15m", login_ip="8/15m")
    for _ in range(5):
        assert_error(login(api, alice.email, "wrong password"), 401, "TOKEN_INVALID")

    # Spent: even the right password is refused, before it is checked.
    assert_rate_limited(login(api, alice.email, PASSWORD), 900)
    assert not RefreshFamily.objects.filter(user=alice).exists()
    assert not AuditEvent.objects.filter(actor=alice, action=AuditAction.LOGIN_SUCCEEDED).exists()
    assert_rate_limited(login(api, alice.email.upper(), PASSWORD), 900)  # the same account, however spelled

    # Another account from the same address: allowed until the address has spent its 8 failures.
    response, body = login(api, bob.email, PASSWORD)
    assert response.status_code == 200, body
    for _ in range(3):
        assert_error(login(api, bob.email, "wrong password"), 401, "TOKEN_INVALID")
    assert_rate_limited(login(api, bob.email, PASSWORD), 900)
    assert_rate_limited(login(api, charlie.email, PASSWORD), 900)

    # From elsewhere, charlie signs in; alice's account stays closed wherever she comes from.
    assert login(api, charlie.email, PASSWORD, REMOTE_ADDR=OTHER_IP)[0].status_code == 200
    assert_rate_limited(login(api, alice.email, PASSWORD, REMOTE_ADDR=OTHER_IP), 900)


@pytest.mark.django_db
def test_login_is_limited_per_ip_across_accounts(api, limits, alice):
    limits(login_ip="5/15m")
    for n in range(5):
        assert_error(login(api, f"guess{n}@nowhere.example", "wrong password"), 401, "TOKEN_INVALID")

    assert_rate_limited(login(api, "guess5@nowhere.example", "wrong password"), 900)
    assert_rate_limited(login(api, alice.email, PASSWORD), 900)
    assert login(api, alice.email, PASSWORD, REMOTE_ADDR=OTHER_IP)[0].status_code == 200


@pytest.mark.django_db
def test_successful_logins_do_not_count(api, limits, alice):
    limits(login_account="2/15m", login_ip="2/15m")
    for _ in range(5):
        assert login(api, alice.email, PASSWORD)[0].status_code == 200


# --- sign-up, e-mail links, refresh, API ----------------------------------------------------------


def signup(n: int) -> dict:
    return {"company_name": f"Shop {n}", "email": f"founder{n}@shop.example", "password": STRONG_PASSWORD}


@pytest.mark.django_db
def test_registration_is_limited_per_ip(api, limits):
    limits(register_ip="3/h")
    for n in range(3):
        response, body = post(api, "auth/register", signup(n))
        assert response.status_code == 201, body

    assert_rate_limited(post(api, "auth/register", signup(3)), 3600)
    assert Client.objects.count() == 3
    assert post(api, "auth/register", signup(4), REMOTE_ADDR=OTHER_IP)[0].status_code == 201


@pytest.mark.django_db
def test_reset_and_verification_emails_are_limited_per_ip(api, limits, alice):
    limits(password_reset_ip="3/h")
    for _ in range(3):
        response, body = post(api, "auth/password/reset", {"email": alice.email})
        assert response.status_code == 202, body
    assert len(mail.outbox) == 3

    assert_rate_limited(post(api, "auth/password/reset", {"email": alice.email}), 3600)
    assert_rate_limited(post(api, "auth/verify/resend", {"email": alice.email}), 3600)  # the same e-mail budget
    assert len(mail.outbox) == 3
    assert post(api, "auth/password/reset", {"email": alice.email}, REMOTE_ADDR=OTHER_IP)[0].status_code == 202


@pytest.mark.django_db
def test_refresh_is_limited_per_sign_in(api, limits, alice):
    limits(refresh_family="3/m")
    refresh = jwt.family_start(user=alice).refresh
    for _ in range(3):
        response, body = post(api, "auth/refresh", {"refresh": refresh})
        assert response.status_code == 200, body
        refresh = body["data"]["refresh"]
    family = RefreshFamily.objects.get(user=alice)

    assert_rate_limited(post(api, "auth/refresh", {"refresh": refresh}), 60)
    # Refused before rotation: the sign-in and its newest token are intact.
    refused = RefreshFamily.objects.get(pk=family.pk)
    assert refused.revoked_at is None and refused.current_jti == family.current_jti
    # Another sign-in of the same user has its own budget.
    other = jwt.family_start(user=alice).refresh
    assert post(api, "auth/refresh", {"refresh": other})[0].status_code == 200


@pytest.mark.django_db
def test_the_api_is_limited_per_user(api, limits, alice, bob):
    limits(api_user="5/m")
    token = jwt.family_start(user=alice).access
    for _ in range(5):
        assert get(api, "me", token)[0].status_code == 200

    assert_rate_limited(get(api, "me", token), 60)
    assert_rate_limited(get(api, "client", token), 60)  # per user, not per route
    assert_rate_limited(get(api, "me", jwt.family_start(user=alice).access), 60)  # nor per token
    bob_token = jwt.family_start(user=bob).access
    assert get(api, "me", bob_token)[0].status_code == 200


# --- which address counts -----------------------------------------------------------------------


@pytest.mark.django_db
def test_a_forged_forwarded_for_gets_no_fresh_bucket_without_trusted_proxies(api, limits, settings):
    settings.TRUSTED_PROXY_COUNT = 0
    limits(login_ip="3/15m")
    for n in range(3):
        forged = {"HTTP_X_FORWARDED_FOR": f"203.0.113.{n}", "REMOTE_ADDR": "10.0.0.1"}
        assert_error(login(api, f"guess{n}@nowhere.example", "x", **forged), 401, "TOKEN_INVALID")

    forged = {"HTTP_X_FORWARDED_FOR": "203.0.113.99", "REMOTE_ADDR": "10.0.0.1"}
    assert_rate_limited(login(api, "guess9@nowhere.example", "x", **forged), 900)
    failures = AuditEvent.objects.filter(action=AuditAction.LOGIN_FAILED)
    assert set(failures.values_list("ip", flat=True)) == {"10.0.0.1"}
    assert_error(login(api, "guess9@nowhere.example", "x", REMOTE_ADDR="10.0.0.2"), 401, "TOKEN_INVALID")


@pytest.mark.django_db
def test_behind_one_trusted_proxy_the_right_most_forwarded_address_counts(api, limits, settings):
    settings.TRUSTED_PROXY_COUNT = 1
    limits(login_ip="3/15m")
    proxy = {"REMOTE_ADDR": "10.0.0.1"}
    for n in range(3):
        # Whatever the client put on the left, the proxy appended the address it saw: 198.51.100.7.
        chain = {"HTTP_X_FORWARDED_FOR": f"203.0.113.{n}, 198.51.100.7", **proxy}
        assert_error(login(api, f"guess{n}@nowhere.example", "x", **chain), 401, "TOKEN_INVALID")

    chain = {"HTTP_X_FORWARDED_FOR": "192.0.2.1, 198.51.100.7", **proxy}
    assert_rate_limited(login(api, "guess9@nowhere.example", "x", **chain), 900)
    failures = AuditEvent.objects.filter(action=AuditAction.LOGIN_FAILED)
    assert set(failures.values_list("ip", flat=True)) == {"198.51.100.7"}

    # Another client behind the same proxy, and a request without the header, have their own buckets.
    chain = {"HTTP_X_FORWARDED_FOR": "198.51.100.7, 198.51.100.8", **proxy}
    assert_error(login(api, "guess9@nowhere.example", "x", **chain), 401, "TOKEN_INVALID")
    assert_error(login(api, "guess9@nowhere.example", "x", **proxy), 401, "TOKEN_INVALID")


# --- across gunicorn workers, through Redis ------------------------------------------------------

WORKERS = 3
ATTEMPTS = 15
IP_LIMIT = 5
IP_PERIOD = 900
BUDGET_SECONDS = 60
EMAIL = "owner@limits.example"
LOGIN = "/api/v1/auth/login"
PROC_NET_TCP = Path("/proc/net/tcp")


def _redis_url() -> str:
    """The environment's Redis, but database 15: this test owns it and empties it."""
    parts = urlsplit(os.environ.get("REDIS_URL") or "redis://127.0.0.1:6379/0")
    return urlunsplit(parts._replace(path="/15"))


@pytest.fixture
def redis_db15():
    import redis

    url = _redis_url()
    connection = redis.Redis.from_url(url, socket_connect_timeout=2, socket_timeout=2)
    try:
        connection.ping()
    except redis.RedisError as exc:
        pytest.skip(f"needs Redis at {url} (set REDIS_URL or start redis-server): {exc}")
    connection.flushdb()  # database 15 only
    try:
        yield url
    finally:
        connection.flushdb()
        connection.close()


def _run(command: list[str], env: dict[str, str]) -> None:
    result = subprocess.run(command, cwd=ROOT, env=env, capture_output=True, text=True, timeout=30, check=False)
    assert result.returncode == 0, result.stdout + result.stderr


def _booted_workers(log: Path) -> list[int]:
    return [int(pid) for pid in re.findall(r"Booting worker with pid: (\d+)", log.read_text(errors="replace"))]


@contextlib.contextmanager
def _gunicorn(env: dict[str, str], log: Path):
    with log.open("w") as out:
        process = subprocess.Popen(
            [PYTHON, "-m", "caly.serve"],
            cwd=ROOT,
            env=env,
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,  # its own process group, so the fallback kill reaches the workers
        )
    try:
        yield process
    finally:
        if process.poll() is None:
            process.terminate()
            try:
                process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                os.killpg(process.pid, 9)
                process.wait(timeout=10)


def _wait_until_ready(process, port: int, log: Path, deadline: float) -> None:
    while time.monotonic() < deadline:
        if process.poll() is not None:
            pytest.fail(f"gunicorn exited with {process.returncode}:\n{log.read_text(errors='replace')}")
        if len(_booted_workers(log)) >= WORKERS:
            with contextlib.suppress(OSError):
                if _request(port, "GET", "/health/live")[0] == 200:
                    return
        time.sleep(0.1)
    pytest.fail(f"gunicorn was not ready with {WORKERS} workers in time:\n{log.read_text(errors='replace')}")


def _request(port: int, method: str, path: str, body: bytes | None = None, headers=None, worker_pids=()):
    """One request on a connection of its own; also which worker served it, when /proc can tell."""
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=5)
    try:
        connection.request(method, path, body=body, headers=headers or {})
        response = connection.getresponse()
        payload = response.read()
        worker = _serving_worker(port, connection.sock.getsockname()[1], worker_pids) if worker_pids else None
        return response.status, dict(response.getheaders()), payload, worker
    finally:
        connection.close()


def _serving_worker(server_port: int, client_port: int, worker_pids) -> int | None:
    """The worker holding the server end of our still-open (keep-alive) connection, from /proc."""
    wanted = f":{server_port:04X} "
    peer = f":{client_port:04X} "
    inode = None
    with contextlib.suppress(OSError):
        for line in PROC_NET_TCP.read_text().splitlines()[1:]:
            fields = line.split()
            if (fields[1] + " ").endswith(wanted) and (fields[2] + " ").endswith(peer):
                inode = fields[9]
    if inode is None:
        return None
    for pid in worker_pids:
        with contextlib.suppress(OSError):
            for fd in Path(f"/proc/{pid}/fd").iterdir():
                with contextlib.suppress(OSError):
                    if os.readlink(fd) == f"socket:[{inode}]":
                        return pid
    return None


def _sharing_proof(results) -> int | None:
    """A worker that answered 429 having itself seen fewer than IP_LIMIT attempts: a count kept per
    process would have let that attempt through, so the count it refused on is the shared one."""
    seen: Counter[int] = Counter()
    for status, _, _, worker in results:
        if worker is None:
            continue
        if status == 429 and seen[worker] < IP_LIMIT:
            return worker
        seen[worker] += 1
    return None


@pytest.mark.slow
def test_the_login_ip_limit_is_shared_by_every_gunicorn_worker(tmp_path, redis_db15):
    deadline = time.monotonic() + BUDGET_SECONDS
    port = free_port()
    env = clean_env(
        tmp_path,
        DJANGO_SETTINGS_MODULE="caly.settings.test",
        DATABASE_URL=f"sqlite:///{tmp_path}/db.sqlite3",
        REDIS_URL=redis_db15,
        RATE_LIMIT_LOGIN_IP=f"{IP_LIMIT}/15m",
        RATE_LIMIT_LOGIN_ACCOUNT="100/15m",
        BIND_ADDRESS="127.0.0.1",
        PORT=str(port),
        WEB_CONCURRENCY=str(WORKERS),
        GUNICORN_THREADS="1",
        MEDIA_ROOT=str(tmp_path / "media"),
    )
    _run([PYTHON, "manage.py", "migrate", "--noinput"], env)
    _run([PYTHON, "manage.py", "shell", "-c", CREATE_OWNER], env)
    log = tmp_path / "gunicorn.log"
    with _gunicorn(env, log) as process:
        _wait_until_ready(process, port, log, deadline)
        workers = _booted_workers(log)
        assert len(set(workers)) == WORKERS, log.read_text()

        # django-ratelimit ends the window of 127.0.0.1 at a fixed offset of its own: start well inside one,
        # so no reset can happen during the attempts.
        window = window_end("127.0.0.1", IP_PERIOD)
        if window - time.time() < 15:
            time.sleep(max(0, window - time.time()) + 1)
            window = window_end("127.0.0.1", IP_PERIOD)

        def attempt(n: int):
            request_id = f"ratelimit-{n:02d}-{uuid.uuid4().hex}"
            headers = {"Content-Type": "application/json", "X-Request-ID": request_id}
            body = json.dumps({"email": EMAIL, "password": "not the password"}).encode()
            status, answer_headers, payload, worker = _request(port, "POST", LOGIN, body, headers, workers)
            assert answer_headers.get("X-Request-ID") == request_id
            return status, json.loads(payload)["error"]["code"], answer_headers.get("Retry-After"), worker

        results = [attempt(n) for n in range(ATTEMPTS)]
        # Which worker answered is read from /proc. Should all 15 have gone to one worker, probe on
        # (every answer must still be 429) until another worker has answered.
        extra = []
        while PROC_NET_TCP.exists() and _sharing_proof(results + extra) is None and len(extra) < 30:
            extra.append(attempt(ATTEMPTS + len(extra)))
        assert window_end("127.0.0.1", IP_PERIOD) == window, "the rate-limit window ended during the test; rerun"
        output = log.read_text(errors="replace")

    served = [worker for *_, worker in results]
    assert [status for status, *_ in results] == [401] * IP_LIMIT + [429] * (ATTEMPTS - IP_LIMIT), (results, output)
    assert all(code == "TOKEN_INVALID" for _, code, _, _ in results[:IP_LIMIT])
    assert all(code == "RATE_LIMITED" and 1 <= int(retry) <= IP_PERIOD for _, code, retry, _ in results[IP_LIMIT:])
    assert all(status == 429 for status, *_ in extra), extra
    if PROC_NET_TCP.exists():
        assert set(served) <= set(workers), served
        assert _sharing_proof(results + extra) is not None, f"no attempt reached a second worker: {served}"
    for n in range(ATTEMPTS):
        assert f"ratelimit-{n:02d}-" in output  # each attempt is in this server's access log
    assert time.monotonic() < deadline, "the test overran its budget"


CREATE_OWNER = f"""
from django.utils import timezone
from accounts.models import Client, User
client = Client.objects.create(name="Limits", slug="limits")
User.objects.create_user("{EMAIL}", "{PASSWORD}", client=client, role="owner", email_verified_at=timezone.now())
"""


def test_it_counts_attempts_before_checking_passwords_so_parallel_ones_cannot_slip_through(rf, settings, db):
    """Attempts still being hashed count already: without failures recorded, the 6th is refused."""
    from django.utils import timezone

    from accounts import ratelimits
    from caly.foundation.errors import DomainError

    settings.RATE_LIMITS = {**settings.RATE_LIMITS, "login_account": "5/15m", "login_ip": "100/15m"}
    request = rf.post("/api/v1/auth/login", REMOTE_ADDR="198.51.100.7")
    with time_machine.travel(timezone.now(), tick=False):
        for _ in range(5):
            ratelimits.login_attempt(request, "victim@acme.example")
        with pytest.raises(DomainError) as error:
            ratelimits.login_attempt(request, "victim@acme.example")
        assert error.value.code == "RATE_LIMITED"
        ratelimits.login_refund(request, "victim@acme.example")
        ratelimits.login_refund(request, "victim@acme.example")
        ratelimits.login_attempt(request, "victim@acme.example")  # a right password gave its attempt back
