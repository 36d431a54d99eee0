"""Several instances on one machine sharing PostgreSQL and Redis: two gunicorn instances (the Procfile's web
line) and two task workers (its worker line).

- 1,000 Exotel StatusCallbacks, a tenth of them repeats, sent round-robin to both instances by
  concurrent senders while both workers process them: every delivery is acknowledged, each distinct
  one is stored and processed exactly once, and each CallSid ends as one Call.
- Failed sign-ins spread over both instances are limited at the configured count in total: the
  counter lives in the shared Redis, not in either instance.

Redis is a redis-server of the test's own; the database is the test database. `make hardening-long`
sends 5,000 deliveries (CALY_HARDENING_LONG=1).
"""

import http.client
import json
import os
import random
import time
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from urllib.parse import urlencode

import pytest
from django.conf import settings
from django.db.models import Count
from django_tasks_db.models import DBTaskResult

from caly.foundation.adapters.ratelimit import window_end
from integrations.models import WebhookEvent, WebhookStatus
from recordings.models import Call
from tests import instances
from tests.exotel_fake import (
    callback_path,
    exotel_connection_fixture,  # noqa: F401
    exotel_fixture,  # noqa: F401
    status_callback,
)
from tests.factories import PASSWORD
from tests.serving import clean_env

pytestmark = [
    pytest.mark.postgres,
    pytest.mark.slow,
    pytest.mark.django_db(transaction=True),
    pytest.mark.skipif(not instances.redis_available(), reason="needs redis-server on PATH"),
]

LONG = os.environ.get("CALY_HARDENING_LONG") == "1"
DELIVERIES = 5000 if LONG else 1000
DUPLICATES = DELIVERIES // 10
SENDERS = 16
LOGIN_LIMIT, LOGIN_ATTEMPTS = 5, 12
BOUND_SECONDS = 300  # for the workers to catch up: "does not hang", not a benchmark
FORM = "application/x-www-form-urlencoded"


@pytest.fixture
def fleet(tmp_path, exotel_connection, alice):
    """Two web instances and two task workers on the test database and a Redis of their own."""
    database = settings.DATABASES["default"]
    with instances.redis_server(tmp_path / "redis") as redis_port:
        env = clean_env(
            tmp_path,
            DJANGO_SETTINGS_MODULE="tests.instances_settings",
            DATABASE_URL=f"postgres://{database['USER']}@{database['HOST'] or '127.0.0.1'}:{database['PORT'] or 5432}"
            f"/{database['NAME']}",
            REDIS_URL=f"redis://127.0.0.1:{redis_port}/0",
            SECRET_KEY=settings.SECRET_KEY,
            FIELD_ENCRYPTION_KEYS=",".join(settings.FIELD_ENCRYPTION_KEYS),
            MEDIA_ROOT=str(tmp_path / "media"),
            TASKS_BACKEND="database",
            GUNICORN_THREADS="4",
            RATE_LIMIT_WEBHOOK="1000000/m",  # one connection takes the whole load here
            RATE_LIMIT_LOGIN_IP=f"{LOGIN_LIMIT}/15m",
            RATE_LIMIT_LOGIN_ACCOUNT="1000/15m",
            LOG_LEVEL="warning",
        )
        web = []
        try:
            for name in ("web-1", "web-2"):
                web.append(instances.start_gunicorn(env, tmp_path / f"{name}.log", workers=2))
            with (
                instances.task_worker(env, tmp_path / "worker-1.log", "--interval", "0.1") as first,
                instances.task_worker(env, tmp_path / "worker-2.log", "--interval", "0.1") as second,
            ):
                yield web, (first, second)
        finally:
            for server in web:
                server.stop()


def post(port: int, path: str, body: bytes, content_type: str) -> tuple[int, dict]:
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
    try:
        connection.request("POST", path, body=body, headers={"Content-Type": content_type, "Connection": "close"})
        response = connection.getresponse()
        return response.status, json.loads(response.read() or b"{}")
    finally:
        connection.close()


def deliveries(rng: random.Random) -> tuple[list[bytes], int]:
    """Each call's answered and terminal StatusCallbacks, a tenth of them sent twice, shuffled; and the calls."""
    calls = (DELIVERIES - DUPLICATES) // 2
    distinct = []
    for n in range(calls):
        sid = f"fleet{n:026d}"
        answered = status_callback(
            CallSid=sid, EventType="answered", Status="in-progress", EndTime=None, ConversationDuration=None
        )
        distinct.append(urlencode({**answered, "RecordingUrl": ""}).encode())
        distinct.append(urlencode(status_callback(CallSid=sid, RecordingUrl="")).encode())
    sent = distinct + rng.sample(distinct, DUPLICATES)
    rng.shuffle(sent)
    return sent, calls


def queued_processing() -> int:
    return DBTaskResult.objects.filter(
        task_path="integrations.tasks.process_webhook_event", status__in=["READY", "RUNNING"]
    ).count()


def test_webhooks_sent_to_two_instances_and_processed_by_two_workers_have_their_effect_once(fleet, exotel_connection):
    web, _ = fleet
    bodies, calls = deliveries(random.Random(20261126))
    path = callback_path(exotel_connection)

    started = time.monotonic()
    with ThreadPoolExecutor(max_workers=SENDERS) as senders:
        answers = list(senders.map(lambda n: post(web[n % 2].port, path, bodies[n], FORM), range(len(bodies))))
    sent_seconds = time.monotonic() - started
    deadline = time.monotonic() + BOUND_SECONDS
    while queued_processing():
        assert time.monotonic() < deadline, f"{queued_processing()} deliveries still queued"
        time.sleep(0.5)
    processed_seconds = time.monotonic() - started

    statuses = Counter(status for status, _ in answers)
    assert statuses == {200: DELIVERIES}, statuses
    assert sum(body["data"]["duplicate"] for _, body in answers) == DUPLICATES

    events = WebhookEvent.objects.filter(client=exotel_connection.client)
    assert events.count() == DELIVERIES - DUPLICATES
    assert Counter(events.values_list("status", flat=True)) == {WebhookStatus.PROCESSED: DELIVERIES - DUPLICATES}
    assert set(events.values_list("attempts", flat=True)) == {1}  # each processed once, no retries
    runs = DBTaskResult.objects.filter(task_path="integrations.tasks.process_webhook_event")
    assert runs.count() == DELIVERIES - DUPLICATES and set(runs.values_list("status", flat=True)) == {"SUCCESSFUL"}
    assert all(len(ids) == 1 for ids in runs.values_list("worker_ids", flat=True))
    by_worker = Counter(ids[0] for ids in runs.values_list("worker_ids", flat=True))
    assert len(by_worker) == 2, by_worker  # both workers took a share

    assert Call.objects.filter(client=exotel_connection.client).count() == calls
    per_sid = Call.objects.values("provider_call_id").annotate(n=Count("id")).filter(n__gt=1)
    assert not per_sid.exists()
    assert set(Call.objects.values_list("status", flat=True)) == {"completed"}
    print(
        f"{DELIVERIES} deliveries ({DUPLICATES} repeats) to 2 instances in {sent_seconds:.1f} s, all processed by "
        f"2 workers after {processed_seconds:.1f} s: {dict(by_worker)}"
    )


def test_failed_sign_ins_over_both_instances_are_limited_in_total(fleet, alice):
    web, _ = fleet
    # django-ratelimit ends 127.0.0.1's window at a fixed offset of its own: start well inside one.
    window = window_end("127.0.0.1", 900)
    if window - time.time() < 15:
        time.sleep(max(0.0, window - time.time()) + 1)

    body = json.dumps({"email": alice.email, "password": "not " + PASSWORD}).encode()
    answers = [post(web[n % 2].port, "/api/v1/auth/login", body, "application/json") for n in range(LOGIN_ATTEMPTS)]

    codes = [(status, answer["error"]["code"]) for status, answer in answers]
    assert codes == [(401, "TOKEN_INVALID")] * LOGIN_LIMIT + [(429, "RATE_LIMITED")] * (LOGIN_ATTEMPTS - LOGIN_LIMIT)
    # Without the shared counter each instance would have allowed LOGIN_LIMIT failures of its own.
    good = json.dumps({"email": alice.email, "password": PASSWORD}).encode()
    assert [post(server.port, "/api/v1/auth/login", good, "application/json")[0] for server in web] == [429, 429]
