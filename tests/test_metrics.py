"""/metrics: what is counted (requests by route, webhooks, tasks, queue depth, fetch failures, rate-limit
refusals), who may scrape it, and real gunicorn workers adding up into one answer."""

import contextlib
import os
import subprocess
import time
from datetime import timedelta

import pytest
import time_machine
from django.core.management import call_command
from django.utils import timezone
from django_tasks import task
from prometheus_client import REGISTRY
from prometheus_client.parser import text_string_to_metric_families

from accounts import jwt, ratelimits
from caly.foundation import metrics, prometheus_multiprocess
from caly.foundation.adapters import prometheus as prometheus_files
from caly.foundation.errors import DomainError
from caly.foundation.ratelimit import enforce_rate
from integrations import inbox, processing
from integrations.models import WebhookProvider, WebhookStatus
from tests.serving import PYTHON, ROOT, clean_env, free_port
from tests.test_serving import Server, get, stop, wait_for, wait_until_live

TOKEN = "metrics-token-for-tests"
AUTH = {"Authorization": f"Bearer {TOKEN}"}


def value(name: str, **labels: str) -> float:
    return REGISTRY.get_sample_value(name, labels) or 0.0


def parse(text: str) -> dict[tuple, float]:
    return {
        (sample.name, tuple(sorted(sample.labels.items()))): sample.value
        for family in text_string_to_metric_families(text)
        for sample in family.samples
    }


@pytest.fixture
def scrape(client, settings):
    settings.METRICS_TOKEN = TOKEN

    def scrape_once() -> dict[tuple, float]:
        response = client.get("/metrics", headers=AUTH)
        assert response.status_code == 200, response.content
        assert response["Content-Type"].startswith("text/plain; version=")
        return parse(response.content.decode())

    return scrape_once


# --- requests ---------------------------------------------------------------------------------------


@pytest.mark.django_db
def test_it_counts_requests_by_route_name_never_by_path(client, scrape):
    before = value("caly_http_requests_total", route="call", method="GET", status="401")
    first, second = "0b9e5f7e-3c55-4a5e-9d43-111111111111", "0b9e5f7e-3c55-4a5e-9d43-222222222222"

    assert client.get(f"/api/v1/calls/{first}").status_code == 401
    assert client.get(f"/api/v1/calls/{second}").status_code == 401

    samples = scrape()
    assert samples[("caly_http_requests_total", (("method", "GET"), ("route", "call"), ("status", "401")))] == (
        before + 2
    )
    assert samples[("caly_http_request_duration_seconds_count", (("method", "GET"), ("route", "call")))] >= 2
    assert not [key for key in samples if first in str(key) or second in str(key)]


@pytest.mark.django_db
def test_a_path_nothing_matches_is_unmatched_and_an_odd_method_is_other(client):
    unmatched = value("caly_http_requests_total", route="unmatched", method="GET", status="404")
    odd = value("caly_http_requests_total", route="health-live", method="other", status="405")

    assert client.get("/no/such/page/at-all").status_code == 404
    assert client.generic("BREW", "/health/live").status_code == 405

    assert value("caly_http_requests_total", route="unmatched", method="GET", status="404") == unmatched + 1
    assert value("caly_http_requests_total", route="health-live", method="other", status="405") == odd + 1
    assert not value("caly_http_requests_total", route="health-live", method="BREW", status="405")


@pytest.mark.django_db
def test_a_view_that_raises_is_counted_as_a_500(client, monkeypatch):
    def explode(request):
        raise RuntimeError("boom")

    monkeypatch.setattr("caly.foundation.health.CHECKS", {"boom": explode})
    before = value("caly_http_requests_total", route="health-ready", method="GET", status="503")

    assert client.get("/health/ready").status_code == 503

    assert value("caly_http_requests_total", route="health-ready", method="GET", status="503") == before + 1


# --- who may scrape ---------------------------------------------------------------------------------


@pytest.mark.django_db
def test_it_is_not_exposed_when_nothing_is_configured(client, settings):
    settings.METRICS_TOKEN, settings.METRICS_ALLOWED_IPS, settings.DEBUG = "", [], False

    response = client.get("/metrics")

    assert response.status_code == 404
    assert b"caly_http_requests_total" not in response.content


@pytest.mark.django_db
def test_it_is_open_in_local_development_when_nothing_is_configured(client, settings):
    settings.METRICS_TOKEN, settings.METRICS_ALLOWED_IPS, settings.DEBUG = "", [], True

    response = client.get("/metrics")

    assert response.status_code == 200 and b"caly_http_requests_total" in response.content


@pytest.mark.django_db
def test_it_asks_for_the_token_and_refuses_a_wrong_one(client, settings):
    settings.METRICS_TOKEN, settings.METRICS_ALLOWED_IPS = TOKEN, []

    missing = client.get("/metrics")
    wrong = client.get("/metrics", headers={"Authorization": "Bearer not-the-token"})
    basic = client.get("/metrics", headers={"Authorization": f"Basic {TOKEN}"})
    right = client.get("/metrics", headers=AUTH)

    assert (missing.status_code, missing["WWW-Authenticate"]) == (401, 'Bearer realm="metrics"')
    assert missing["Content-Type"].startswith("text/plain")
    assert wrong.status_code == 403 and wrong["Content-Type"].startswith("text/plain")
    assert basic.status_code == 401
    assert right.status_code == 200 and b"# TYPE caly_http_requests_total counter" in right.content
    for refused in (missing, wrong, basic):
        assert b"caly_" not in refused.content


@pytest.mark.django_db
def test_it_lets_allowed_addresses_in_without_a_token(client, settings):
    from ipaddress import ip_network

    settings.METRICS_TOKEN, settings.METRICS_ALLOWED_IPS = "", [ip_network("10.1.0.0/16"), ip_network("192.0.2.7")]
    settings.TRUSTED_PROXY_COUNT = 0

    assert client.get("/metrics", REMOTE_ADDR="10.1.200.3").status_code == 200
    assert client.get("/metrics", REMOTE_ADDR="192.0.2.7").status_code == 200
    assert client.get("/metrics", REMOTE_ADDR="192.0.2.8").status_code == 403
    # Without trusted proxies a forwarded address is the caller's claim, not evidence.
    assert client.get("/metrics", REMOTE_ADDR="203.0.113.9", HTTP_X_FORWARDED_FOR="10.1.0.1").status_code == 403


@pytest.mark.django_db
def test_it_takes_the_address_the_trusted_proxy_saw(client, settings):
    from ipaddress import ip_network

    settings.METRICS_TOKEN, settings.METRICS_ALLOWED_IPS = TOKEN, [ip_network("10.1.0.0/16")]
    settings.TRUSTED_PROXY_COUNT = 1
    proxy = {"REMOTE_ADDR": "172.16.0.2"}

    assert client.get("/metrics", HTTP_X_FORWARDED_FOR="10.1.0.9", **proxy).status_code == 200
    assert client.get("/metrics", HTTP_X_FORWARDED_FOR="10.1.0.9, 198.51.100.4", **proxy).status_code == 401
    assert client.get("/metrics", HTTP_X_FORWARDED_FOR="198.51.100.4", headers=AUTH, **proxy).status_code == 200


@pytest.mark.django_db
def test_it_answers_only_get_and_head(client, settings):
    settings.METRICS_TOKEN = TOKEN

    assert client.post("/metrics", headers=AUTH).status_code == 405
    assert client.head("/metrics", headers=AUTH).status_code == 200


# --- webhooks ---------------------------------------------------------------------------------------


def handler_ok(event):
    return WebhookStatus.PROCESSED


def handler_ignores(event):
    return WebhookStatus.IGNORED


def handler_fails(event):
    raise RuntimeError("provider hiccup")


def handler_permanent(event):
    raise processing.PermanentError("no CallSid")


def receive(client, key):
    return inbox.webhook_receive(
        client=client, provider=WebhookProvider.EXOTEL, dedupe_key=key, topic="status-callback", body=b"CallSid=CA1"
    )


def webhook_counts() -> dict[str, float]:
    outcomes = ("received", "duplicate", "processed", "ignored", "retried", "failed")
    return {outcome: value("caly_webhook_events_total", provider="exotel", outcome=outcome) for outcome in outcomes}


@pytest.mark.django_db
def test_it_counts_webhook_deliveries_and_processing_outcomes(
    client_a, monkeypatch, settings, django_capture_on_commit_callbacks
):
    settings.TASK_MAX_ATTEMPTS = 2
    before = webhook_counts()
    with django_capture_on_commit_callbacks(execute=False):  # processing is run by hand below
        first, _ = receive(client_a, "CA1:completed")
        receive(client_a, "CA1:completed")
        ignored, _ = receive(client_a, "CA2:completed")
        failing, _ = receive(client_a, "CA3:completed")
        broken, _ = receive(client_a, "CA4:completed")

        for event, handler in ((first, "handler_ok"), (ignored, "handler_ignores"), (failing, "handler_fails")):
            monkeypatch.setitem(processing.HANDLERS, WebhookProvider.EXOTEL, f"tests.test_metrics.{handler}")
            processing.webhook_process(event.pk)
        processing.webhook_process(failing.pk)  # the second and last attempt: given up
        monkeypatch.setitem(processing.HANDLERS, WebhookProvider.EXOTEL, "tests.test_metrics.handler_permanent")
        processing.webhook_process(broken.pk)
        processing.webhook_process(first.pk)  # already processed: nothing happens, nothing counted

    after = webhook_counts()
    assert {outcome: after[outcome] - before[outcome] for outcome in after} == {
        "received": 4,
        "duplicate": 1,
        "processed": 1,
        "ignored": 1,
        "retried": 1,
        "failed": 2,
    }


# --- tasks ------------------------------------------------------------------------------------------


@task()
def succeed() -> int:
    return 1


@task()
def explode() -> None:
    raise RuntimeError("the task failed")


SUCCEED = "tests.test_metrics.succeed"
EXPLODE = "tests.test_metrics.explode"


@pytest.mark.django_db
def test_it_counts_tasks_enqueued_succeeded_and_failed():
    before = {
        (name, outcome): value("caly_tasks_total", task=name, outcome=outcome)
        for name in (SUCCEED, EXPLODE)
        for outcome in ("enqueued", "succeeded", "failed")
    }

    succeed.enqueue()
    succeed.enqueue()
    explode.enqueue()

    after = {key: value("caly_tasks_total", task=key[0], outcome=key[1]) for key in before}
    assert {key: after[key] - before[key] for key in after} == {
        (SUCCEED, "enqueued"): 2,
        (SUCCEED, "succeeded"): 2,
        (SUCCEED, "failed"): 0,
        (EXPLODE, "enqueued"): 1,
        (EXPLODE, "succeeded"): 0,
        (EXPLODE, "failed"): 1,
    }


@pytest.fixture
def database_queue(settings):
    settings.TASKS = {"default": {"BACKEND": "django_tasks_db.DatabaseBackend", "QUEUES": ["default"]}}


@pytest.mark.django_db
def test_queue_depth_is_zero_on_the_immediate_backend(scrape):
    samples = scrape()

    assert samples[("caly_task_queue_depth", ())] == 0
    assert samples[("caly_task_queue_oldest_seconds", ())] == 0


@pytest.mark.django_db
def test_queue_depth_counts_tasks_due_now_and_how_long_they_wait(scrape, database_queue):
    start = timezone.now()
    with time_machine.travel(start, tick=False):
        succeed.enqueue()
        succeed.enqueue()
        succeed.using(run_after=start + timedelta(seconds=30)).enqueue()  # a retry with backoff
        succeed.using(run_after=start + timedelta(hours=1)).enqueue()  # not due yet: not waiting

    with time_machine.travel(start + timedelta(seconds=90), tick=False):
        samples = scrape()

    assert samples[("caly_task_queue_depth", ())] == 3
    assert samples[("caly_task_queue_oldest_seconds", ())] == pytest.approx(90, abs=1)


@pytest.mark.django_db(transaction=True)
def test_the_worker_empties_the_queue_and_counts_what_it_ran(scrape, database_queue):
    before = value("caly_tasks_total", task=SUCCEED, outcome="succeeded")
    succeed.enqueue()
    assert scrape()[("caly_task_queue_depth", ())] == 1

    call_command("db_worker", "--batch", "--no-startup-delay", verbosity=0)

    assert scrape()[("caly_task_queue_depth", ())] == 0
    assert value("caly_tasks_total", task=SUCCEED, outcome="succeeded") == before + 1


@pytest.mark.django_db
def test_the_scrape_still_answers_when_the_queue_cannot_be_read(client, settings, monkeypatch):
    settings.METRICS_TOKEN = TOKEN

    def unreachable():
        raise RuntimeError("database unreachable")

    monkeypatch.setattr(metrics, "task_queue_stats", unreachable)
    response = client.get("/metrics", headers=AUTH)

    assert response.status_code == 200
    assert b"caly_http_requests_total" in response.content
    assert b"caly_task_queue_depth " not in response.content


# --- recording fetch failures and rate limits -------------------------------------------------------


def test_recording_fetch_failures_are_counted_per_provider():
    before = value("caly_recording_fetch_failures_total", provider="exotel")

    metrics.record_fetch_failure("exotel")

    assert value("caly_recording_fetch_failures_total", provider="exotel") == before + 1


@pytest.mark.django_db
def test_rate_limit_refusals_are_counted_per_group(rf):
    request = rf.get("/", REMOTE_ADDR="198.51.100.30")
    before = value("caly_rate_limit_rejections_total", group="metrics-test")

    with time_machine.travel(timezone.now(), tick=False):
        enforce_rate(request, group="metrics-test", key="ip", rate="2/m")
        enforce_rate(request, group="metrics-test", key="ip", rate="2/m")
        for _ in range(2):
            with pytest.raises(DomainError):
                enforce_rate(request, group="metrics-test", key="ip", rate="2/m")

    assert value("caly_rate_limit_rejections_total", group="metrics-test") == before + 2


@pytest.mark.django_db
def test_login_and_api_refusals_are_counted(api, alice, settings, rf):
    settings.RATE_LIMITS = {**settings.RATE_LIMITS, "api_user": "1/m", "login_account": "1/15m"}
    api_before = value("caly_rate_limit_rejections_total", group="api-user")
    login_before = value("caly_rate_limit_rejections_total", group="login")
    token = jwt.family_start(user=alice).access

    with time_machine.travel(timezone.now(), tick=False):
        assert api.get("/api/v1/me", HTTP_AUTHORIZATION=f"Bearer {token}").status_code == 200
        assert api.get("/api/v1/me", HTTP_AUTHORIZATION=f"Bearer {token}").status_code == 429
        request = rf.post("/api/v1/auth/login", REMOTE_ADDR="198.51.100.31")
        ratelimits.login_attempt(request, "victim@acme.example")
        with pytest.raises(DomainError):
            ratelimits.login_attempt(request, "victim@acme.example")

    assert value("caly_rate_limit_rejections_total", group="api-user") == api_before + 1
    assert value("caly_rate_limit_rejections_total", group="login") == login_before + 1


# --- the multi-process folder -----------------------------------------------------------------------


def write_counter(path, filename: str, amount: float) -> None:
    """A new value file holding one counter sample of `amount`."""
    key = prometheus_files.sample_key("caly_probe", "caly_probe_total", {}, "A probe.")
    prometheus_files.add_to_file(str(path / filename), [(key, amount, 0)])


def read_counter(path, filename: str) -> float:
    return sum(value for _, value, _ in prometheus_files.file_values(str(path / filename)))


def exited_pid() -> int:
    process = subprocess.Popen(["true"])
    process.wait()
    return process.pid


def test_a_dead_process_is_folded_into_the_archive_exactly(tmp_path):
    dead = exited_pid()
    write_counter(tmp_path, "counter_archive.db", 2)
    write_counter(tmp_path, f"counter_{dead}.db", 3)

    prometheus_multiprocess.fold_dead_process(dead, str(tmp_path))

    assert read_counter(tmp_path, "counter_archive.db") == 5
    assert not (tmp_path / f"counter_{dead}.db").exists()


def test_preparing_keeps_running_processes_files_only(tmp_path):
    dead, alive = exited_pid(), os.getpid()
    for name in (f"counter_{dead}.db", f"histogram_{dead}.db", "counter_archive.db", f"counter_{alive}.db"):
        write_counter(tmp_path, name, 1)

    prometheus_multiprocess.prepare(str(tmp_path))

    assert sorted(p.name for p in tmp_path.glob("*.db")) == [f"counter_{alive}.db"]


# --- real gunicorn workers --------------------------------------------------------------------------

WORKERS = 2
MAX_REQUESTS = 4  # workers are recycled again and again during the test


@contextlib.contextmanager
def gunicorn_with_metrics(tmp_path, metrics_dir):
    port = free_port()
    env = clean_env(
        tmp_path,
        DJANGO_SETTINGS_MODULE="tests.serving.settings",
        DATABASE_URL=f"sqlite:///{tmp_path}/db.sqlite3",
        BIND_ADDRESS="127.0.0.1",
        PORT=str(port),
        WEB_CONCURRENCY=str(WORKERS),
        GUNICORN_THREADS="2",
        GUNICORN_GRACEFUL_TIMEOUT="10",
        METRICS_TOKEN=TOKEN,
        PROMETHEUS_MULTIPROC_DIR=str(metrics_dir),
    )
    log = tmp_path / "gunicorn.log"
    with log.open("w") as out:
        process = subprocess.Popen(
            [PYTHON, "-m", "caly.serve", "--max-requests", str(MAX_REQUESTS), "--max-requests-jitter", "0"],
            cwd=ROOT,
            env=env,
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )

    server = Server(process, port, tmp_path, log)
    try:
        wait_until_live(server)
        yield server
    finally:
        stop(process)


def settled_count(port: int) -> float:
    """The count once it stops moving: a probe that timed out while a worker booted may still be served."""
    previous = live_requests_counted(port)
    for _ in range(30):
        time.sleep(1)
        current = live_requests_counted(port)
        if current == previous:
            return current
        previous = current
    pytest.fail("the request count kept moving with no requests sent")


def pids_with_files(metrics_dir) -> set[str]:
    return {p.stem.split("_")[-1] for p in metrics_dir.glob("*_[0-9]*.db")}


def live_requests_counted(port: int) -> float:
    status, _, body = get(port, "/metrics", headers=AUTH)
    assert status == 200, body
    key = ("caly_http_requests_total", (("method", "GET"), ("route", "health-live"), ("status", "200")))
    return parse(body).get(key, 0)


@pytest.mark.slow
def test_gunicorn_workers_add_up_into_one_scrape_even_when_recycled(tmp_path):
    metrics_dir = tmp_path / "metrics"
    metrics_dir.mkdir()
    (metrics_dir / "counter_999999999.db").write_bytes(b"")  # left over by a previous run: removed at start

    with gunicorn_with_metrics(tmp_path, metrics_dir) as server:
        pids = set()
        already = settled_count(server.port)  # wait_until_live's probes, some perhaps still queued
        for _ in range(30):
            assert get(server.port, "/health/live")[0] == 200
            pids.update(int(p.stem.split("_")[1]) for p in metrics_dir.glob("counter_[0-9]*.db"))

        # Each scrape may be answered by either worker; both see every worker's counts, past and present.
        counted = [live_requests_counted(server.port) for _ in range(4)]
        unauthorised = get(server.port, "/metrics")[0]
        # Only running workers keep files of their own; the exited ones live on in the archive (the
        # master folds a worker's files once it has reaped it, which takes a moment on a busy machine).
        folded = wait_for(lambda: len(pids_with_files(metrics_dir)) <= WORKERS, timeout=15)

    assert already >= 1
    assert counted == [already + 30] * 4, server.output()
    assert len(pids) > WORKERS, "workers should have been recycled and replaced"
    assert folded, sorted(p.name for p in metrics_dir.glob("*.db"))
    assert (metrics_dir / "counter_archive.db").exists()
    assert not (metrics_dir / "counter_999999999.db").exists()
    assert unauthorised == 401


@pytest.mark.slow
def test_the_scrape_reports_the_gunicorn_masters_start_time(tmp_path):
    """The instance's start for the "restarting often" alert: the master's, whichever worker answers."""
    metrics_dir = tmp_path / "metrics"
    metrics_dir.mkdir()
    launched = time.time()
    with gunicorn_with_metrics(tmp_path, metrics_dir) as server:
        starts = set()
        for _ in range(6):
            status, _, body = get(server.port, "/metrics", headers=AUTH)
            assert status == 200, body
            starts.add(parse(body)[("process_start_time_seconds", ())])
    [start] = starts
    assert launched - 2 <= start <= launched + 30
