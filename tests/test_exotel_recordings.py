"""Recordings travel from Exotel into storage: end to end through the worker and S3, retried with
backoff through every kind of outage, refused outside the allowed hosts, never fetched twice."""

import base64
import hashlib
import threading
import tracemalloc
from datetime import timedelta

import httpx
import pytest
from django.core.management import call_command
from django.db import connections
from django.test import Client as DjangoClient
from django.utils import timezone
from django_tasks_db.models import DBTaskResult
from prometheus_client import REGISTRY

from accounts import jwt
from accounts.models import AuditAction, AuditEvent
from caly.foundation.errors import DomainError, ErrorCode
from integrations.exotel import tasks as exotel_tasks
from integrations.models import WebhookEvent
from recordings import services as recording_services
from recordings.fetch_queue import recording_fetch_retry
from recordings.models import Call, Recording, RecordingStatus
from recordings.services import recording_fetch
from recordings.tasks import fetch_recording
from tests.exotel_fake import (
    API_KEY,
    API_TOKEN,
    MP3,
    WAV,
    callback_path,
    exotel_connection_fixture,  # noqa: F401
    exotel_fixture,  # noqa: F401
    form,
    status_callback,
)
from tests.factories import CallFactory, RecordingFactory
from tests.s3 import local_storage, s3_options, s3_storage  # noqa: F401

FORM = "application/x-www-form-urlencoded"
CALL_SID = status_callback()["CallSid"]


@pytest.fixture
def bucket(s3_storage):  # noqa: F811 - the moto S3 bucket, as `default_storage`
    return s3_storage


@pytest.fixture
def media(local_storage):  # noqa: F811 - a fresh local folder, as `default_storage`
    return local_storage


@pytest.fixture
def database_queue(settings):
    settings.TASKS = {"default": {"BACKEND": "django_tasks_db.DatabaseBackend", "QUEUES": ["default"]}}
    settings.TASK_RETRY_BASE_SECONDS = 30
    settings.TASK_RETRY_MAX_SECONDS = 3600


def run_worker():
    call_command("db_worker", "--batch", "--no-startup-delay", verbosity=0)


def run_due_tasks():
    """Make every queued retry due now, then run the worker."""
    DBTaskResult.objects.filter(status="READY").update(run_after=timezone.now() - timedelta(seconds=1))
    run_worker()


def next_fetch() -> DBTaskResult:
    [task] = DBTaskResult.objects.filter(status="READY")
    assert task.task_path.endswith("fetch_recording")
    return task


def delay_of(task: DBTaskResult, since) -> float:
    return (task.run_after - since).total_seconds()


def deliver(client, connection, **changes):
    response = client.post(callback_path(connection), form(status_callback(**changes)), content_type=FORM)
    assert response.status_code == 200, response.content
    return response


# --- end to end --------------------------------------------------------------------------------


@pytest.mark.django_db(transaction=True)
def test_a_callback_ends_as_a_stored_recording_served_from_s3(
    client, api, alice, exotel, exotel_connection, bucket, database_queue
):
    url = exotel.add_recording("b6cf.mp3", MP3)
    deliver(client, exotel_connection, RecordingUrl=url)
    assert not Call.objects.exists()  # nothing happens before the worker runs

    run_worker()

    call = Call.objects.get()
    recording = Recording.objects.get(call=call)
    assert recording.status == RecordingStatus.STORED and recording.attempts == 1
    assert recording.sha256 == hashlib.sha256(MP3).hexdigest() and recording.size_bytes == len(MP3)
    assert bucket.keys() == [recording.storage_key]
    assert bucket.read(recording.storage_key) == MP3
    [fetch] = exotel.seen("/recordings/")
    assert fetch.authorization == "Basic " + base64.b64encode(f"{API_KEY}:{API_TOKEN}".encode()).decode()

    api.credentials(HTTP_AUTHORIZATION=f"Bearer {jwt.family_start(user=alice).access}")
    [row] = api.get("/api/v1/calls").json()["data"]
    assert row["id"] == str(call.public_id) and row["has_recording"] is True and row["status"] == "completed"
    detail = api.get(f"/api/v1/calls/{call.public_id}").json()["data"]
    assert detail["recordings"][0]["status"] == "stored"
    download = api.get(detail["recordings"][0]["download_url"])
    assert download.status_code == 302
    served = httpx.get(download["Location"])
    assert served.status_code == 200 and served.content == MP3


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_five_concurrent_copies_of_a_callback_make_one_call_one_recording_one_object(
    exotel, exotel_connection, bucket, database_queue
):
    url = exotel.add_recording("b6cf.mp3", MP3)
    body, path = form(status_callback(RecordingUrl=url)), callback_path(exotel_connection)
    barrier, statuses = threading.Barrier(5), []

    def deliver_copy():
        try:
            barrier.wait()
            statuses.append(DjangoClient().post(path, body, content_type=FORM).status_code)
        finally:
            connections.close_all()

    threads = [threading.Thread(target=deliver_copy) for _ in range(5)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    run_worker()

    assert statuses == [200] * 5
    assert WebhookEvent.objects.count() == 1
    call = Call.objects.get()
    recording = Recording.objects.get()
    assert recording.call == call and recording.status == RecordingStatus.STORED
    assert bucket.keys() == [recording.storage_key] and len(exotel.seen("/recordings/")) == 1


# --- outages -----------------------------------------------------------------------------------


@pytest.mark.django_db(transaction=True)
def test_storage_down_at_first_is_retried_and_nothing_is_lost(
    client, exotel, exotel_connection, bucket, database_queue, settings
):
    url = exotel.add_recording("b6cf.mp3", MP3)
    working = settings.STORAGES
    settings.STORAGES = {
        **working,
        "default": {**working["default"], "OPTIONS": s3_options("http://127.0.0.1:9")},  # nothing listens there
    }
    deliver(client, exotel_connection, RecordingUrl=url)
    before = timezone.now()
    run_worker()

    recording = Recording.objects.get()
    assert recording.status == RecordingStatus.PENDING and recording.attempts == 1
    assert "Storing the recording failed" in recording.last_error
    assert 29 <= delay_of(next_fetch(), before) <= 45

    before = timezone.now()
    run_due_tasks()  # still down
    recording.refresh_from_db()
    assert recording.status == RecordingStatus.PENDING and recording.attempts == 2
    assert 59 <= delay_of(next_fetch(), before) <= 75

    settings.STORAGES = working
    run_due_tasks()

    recording.refresh_from_db()
    assert recording.status == RecordingStatus.STORED and recording.attempts == 3 and recording.last_error == ""
    assert bucket.keys() == [recording.storage_key] and bucket.read(recording.storage_key) == MP3
    assert bucket.multipart_uploads() == []


@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize(
    ("failure", "expected_delay", "error"),
    [
        (500, 30, "HTTP 500"),
        ("stall", 30, "timed out"),
        ((429, {"Retry-After": "120"}), 120, "HTTP 429"),
        (404, 30, "not there yet"),
        (503, 30, "HTTP 503"),
    ],
    ids=["500", "timeout", "429-retry-after", "404-not-ready", "503"],
)
def test_exotel_failures_are_retried_with_backoff_then_succeed(
    client, exotel, exotel_connection, media, database_queue, failure, expected_delay, error
):
    url = exotel.add_recording("b6cf.mp3", MP3)
    exotel.script("/recordings/b6cf.mp3", failure)
    deliver(client, exotel_connection, RecordingUrl=url)
    before = timezone.now()
    run_worker()

    recording = Recording.objects.get()
    assert recording.status == RecordingStatus.PENDING and error in recording.last_error
    assert expected_delay - 1 <= delay_of(next_fetch(), before) <= expected_delay + 15

    run_worker()  # not due yet: nothing happens
    assert len(exotel.seen("/recordings/")) == 1

    run_due_tasks()
    recording.refresh_from_db()
    assert recording.status == RecordingStatus.STORED and recording.attempts == 2
    assert media.read(recording.storage_key) == MP3


@pytest.mark.django_db(transaction=True)
def test_the_backoff_doubles_and_the_last_attempt_fails_visibly(
    client, exotel, exotel_connection, media, database_queue, settings
):
    settings.TASK_MAX_ATTEMPTS = 3
    url = exotel.add_recording("b6cf.mp3", MP3)
    exotel.script("/recordings/b6cf.mp3", 500, 502, 500, 500)
    deliver(client, exotel_connection, RecordingUrl=url)
    before = timezone.now()
    run_worker()
    assert 29 <= delay_of(next_fetch(), before) <= 45
    before = timezone.now()
    run_due_tasks()
    assert 59 <= delay_of(next_fetch(), before) <= 75
    run_due_tasks()

    recording = Recording.objects.get()
    assert (recording.status, recording.attempts) == (RecordingStatus.FAILED, 3)
    assert recording.last_error.startswith("Gave up after 3 attempts") and "HTTP 500" in recording.last_error
    assert not DBTaskResult.objects.filter(status="READY").exists()
    assert media.keys() == []


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("failure", "error"),
    [(403, "HTTP 403"), (401, "HTTP 401"), (410, "HTTP 410"), (400, "HTTP 400")],
)
def test_other_refusals_fail_at_once(exotel, exotel_connection, media, failure, error, settings):
    settings.TASK_MAX_ATTEMPTS = 5
    url = exotel.add_recording("x.mp3")
    exotel.script("/recordings/x.mp3", failure)
    recording = RecordingFactory(call=CallFactory(client=exotel_connection.client), source_url=url)
    failures_before = fetch_failures()

    recording_fetch(recording_id=recording.pk)

    recording.refresh_from_db()
    assert (recording.status, recording.attempts) == (RecordingStatus.FAILED, 1)
    assert error in recording.last_error
    assert len(exotel.seen("/recordings/")) == 1
    assert fetch_failures() == failures_before + 1  # on /metrics


def fetch_failures() -> float:
    return REGISTRY.get_sample_value("caly_recording_fetch_failures_total", {"provider": "exotel"}) or 0.0


# --- what is fetched ---------------------------------------------------------------------------


@pytest.fixture
def pending(exotel_connection):
    def _pending(url):
        return RecordingFactory(call=CallFactory(client=exotel_connection.client), source_url=url)

    return _pending


@pytest.mark.django_db
@pytest.mark.parametrize(
    "url",
    [
        "http://localhost:{port}/recordings/x.mp3",  # the fake, under a name that is not allowed
        "http://169.254.169.254/latest/meta-data/",
        "ftp://127.0.0.1:{port}/recordings/x.mp3",
        "http://user:pass@127.0.0.1:{port}/recordings/x.mp3",
        "not a url at all",
    ],
)
def test_a_recording_url_outside_the_allowed_hosts_is_never_requested(exotel, pending, media, url):
    recording = pending(url.format(port=exotel.server.port))

    recording_fetch(recording_id=recording.pk)

    recording.refresh_from_db()
    assert recording.status == RecordingStatus.FAILED and recording.last_error
    assert exotel.requests == []


@pytest.mark.django_db
def test_a_redirect_to_another_host_is_refused_before_it_is_followed(exotel, pending, media):
    url = exotel.add_recording("x.mp3")
    exotel.script("/recordings/x.mp3", (302, {"Location": f"http://localhost:{exotel.server.port}/recordings/x.mp3"}))
    recording = pending(url)

    recording_fetch(recording_id=recording.pk)

    recording.refresh_from_db()
    assert recording.status == RecordingStatus.FAILED and "localhost" in recording.last_error
    assert [r.path for r in exotel.requests] == ["/recordings/x.mp3"]


@pytest.mark.django_db
def test_exotels_credentials_go_to_exotels_hosts_only(exotel, pending, media, settings):
    storage_host = f"localhost:{exotel.server.port}"  # allowed, but not Exotel's (a bucket on S3, say)
    settings.EXOTEL_RECORDING_HOSTS = [exotel.host, storage_host]
    exotel.add_recording("x.mp3")

    recording = recording_fetch(recording_id=pending(f"http://{storage_host}/recordings/x.mp3").pk).recording

    [request] = exotel.seen("/recordings/")
    assert request.authorization == ""  # the fake wants credentials, so it refuses: the point is none were sent
    assert recording.status == RecordingStatus.FAILED


@pytest.mark.django_db
def test_a_redirect_within_the_allowed_hosts_is_followed(exotel, pending, media):
    exotel.add_recording("moved.mp3")
    url = exotel.add_recording("x.mp3")
    exotel.script("/recordings/x.mp3", (302, {"Location": exotel.recording_url("moved.mp3")}))

    recording = recording_fetch(recording_id=pending(url).pk).recording

    assert recording.status == RecordingStatus.STORED and media.read(recording.storage_key) == MP3


@pytest.mark.django_db
def test_the_content_type_comes_from_the_answer_or_the_extension(exotel, pending, media):
    wav = pending(exotel.add_recording("a.wav", WAV, "application/octet-stream"))
    mp3 = pending(exotel.add_recording("b", MP3, "binary/octet-stream"))

    wav, mp3 = (recording_fetch(recording_id=recording.pk).recording for recording in (wav, mp3))

    assert (wav.status, wav.content_type, wav.storage_key[-4:]) == ("stored", "audio/wav", ".wav")
    assert (mp3.status, mp3.content_type, mp3.storage_key[-4:]) == ("stored", "audio/mpeg", ".mp3")


@pytest.mark.django_db
def test_what_is_not_audio_is_refused(exotel, pending, media):
    recording = recording_fetch(
        recording_id=pending(exotel.add_recording("x.mp3", b"<html>login</html>", "text/html")).pk
    ).recording

    assert recording.status == RecordingStatus.FAILED and "not audio" in recording.last_error
    assert media.keys() == []


@pytest.mark.django_db
def test_a_recording_over_the_size_cap_is_refused(exotel, pending, media, settings):
    settings.RECORDING_MAX_BYTES = 1024
    recording = recording_fetch(recording_id=pending(exotel.add_recording("x.mp3")).pk).recording

    assert recording.status == RecordingStatus.FAILED and "larger than 1024 bytes" in recording.last_error
    assert media.keys() == []


@pytest.mark.django_db
def test_a_large_recording_streams_through_without_being_held_in_memory(exotel, pending, media):
    warm_up, _ = exotel.add_large_recording("warm-up.mp3", 16 * 1024 * 1024)
    recording_fetch(recording_id=pending(warm_up).pk)  # one-off allocations (imports, pools) happen here
    size = 64 * 1024 * 1024
    url, sha256 = exotel.add_large_recording("large.mp3", size)
    recording = pending(url)

    tracemalloc.start()
    try:
        recording = recording_fetch(recording_id=recording.pk).recording
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()

    assert recording.status == RecordingStatus.STORED
    assert (recording.size_bytes, recording.sha256) == (size, sha256)
    # A few chunks in flight (ours, httpx's and the fake server's, all in this process), never the file.
    assert peak < size / 4, f"peak {peak / 2**20:.1f} MiB"


# --- idempotency -------------------------------------------------------------------------------


@pytest.mark.django_db
def test_a_stored_recording_is_not_fetched_again(exotel, pending, media):
    recording = recording_fetch(recording_id=pending(exotel.add_recording("x.mp3")).pk).recording
    recording_fetch(recording_id=recording.pk)
    fetch_recording.call(recording.pk)

    assert len(exotel.seen("/recordings/")) == 1
    assert Recording.objects.get().attempts == 1


@pytest.mark.django_db(transaction=True)
def test_a_fetch_queued_under_the_tasks_former_path_still_runs(exotel, pending, media, database_queue):
    recording = pending(exotel.add_recording("x.mp3"))
    exotel_tasks.fetch_recording.enqueue(recording.pk)
    assert DBTaskResult.objects.get().task_path == "integrations.exotel.tasks.fetch_recording"

    run_worker()

    recording.refresh_from_db()
    assert (recording.status, recording.attempts) == (RecordingStatus.STORED, 1)
    assert media.read(recording.storage_key) == MP3


@pytest.mark.django_db
def test_a_recording_deleted_before_its_fetch_stays_deleted(exotel, pending, media):
    recording = pending(exotel.add_recording("x.mp3"))
    recording_services.recording_delete(recording=recording, actor=None)

    recording_fetch(recording_id=recording.pk)

    assert Recording.objects.get().status == RecordingStatus.DELETED
    assert exotel.requests == [] and media.keys() == []


@pytest.mark.django_db
def test_without_an_exotel_connection_the_fetch_fails_visibly(client_a, media):
    recording = RecordingFactory(call=CallFactory(client=client_a), source_url="https://x.exotel.com/r.mp3")
    recording = recording_fetch(recording_id=recording.pk).recording
    assert recording.status == RecordingStatus.FAILED and "not connected" in recording.last_error


# --- retry by hand -----------------------------------------------------------------------------


@pytest.mark.django_db
def test_a_failed_recording_can_be_retried_and_it_is_audited(
    exotel, pending, staff, media, django_capture_on_commit_callbacks
):
    url = exotel.add_recording("x.mp3")
    exotel.script("/recordings/x.mp3", 403)
    recording = recording_fetch(recording_id=pending(url).pk).recording
    assert recording.status == RecordingStatus.FAILED

    with django_capture_on_commit_callbacks(execute=True):
        recording_fetch_retry(recording=recording, actor=staff)

    recording.refresh_from_db()
    assert (recording.status, recording.attempts, recording.last_error) == (RecordingStatus.STORED, 2, "")
    event = AuditEvent.objects.get()
    assert (event.action, event.actor, event.client, event.target_id) == (
        AuditAction.RECORDING_FETCH_RETRIED,
        staff,
        recording.client,
        str(recording.public_id),
    )
    assert event.metadata == {"previous_status": "failed"}


@pytest.mark.django_db
def test_a_recording_noted_without_a_url_is_located_through_call_details(
    exotel, exotel_connection, staff, media, django_capture_on_commit_callbacks
):
    call = CallFactory(client=exotel_connection.client, provider_call_id="nourl001")
    exotel.add_call("nourl001", RecordingUrl=exotel.add_recording("found.mp3"))
    recording = RecordingFactory(call=call, status="failed")

    with django_capture_on_commit_callbacks(execute=True):
        recording_fetch_retry(recording=recording, actor=staff)

    recording.refresh_from_db()
    assert recording.status == RecordingStatus.STORED and recording.source_url == exotel.recording_url("found.mp3")


@pytest.mark.django_db
@pytest.mark.parametrize("status", ["stored", "fetching", "deleted"])
def test_only_failed_or_pending_recordings_are_retried(exotel_connection, staff, status):
    recording = RecordingFactory(call=CallFactory(client=exotel_connection.client), status=status)
    with pytest.raises(DomainError) as raised:
        recording_fetch_retry(recording=recording, actor=staff)
    assert raised.value.code == ErrorCode.CONFLICT
    assert Recording.objects.get().status == status and not AuditEvent.objects.exists()
