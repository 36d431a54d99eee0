"""Storage unavailable: a recording fetch cut off mid-upload, or made while S3 is down or hung, is retried
and completes once S3 is back (one object, the right bytes, nothing lost); readiness names storage
within a bound; downloads answer 503 in the envelope instead of 500.

S3 is the moto server of tests/s3.py behind a proxy the test cuts (tests/tcp_proxy.py).
"""

import hashlib
import json
import os
import shutil
import time
from datetime import timedelta

import boto3
import pytest
from botocore.config import Config as BotoConfig
from django.core.management import call_command
from django.test import override_settings
from django.utils import timezone
from django_tasks_db.models import DBTaskResult

from accounts import jwt
from caly.foundation import health
from recordings.fetch_queue import recording_queue
from recordings.models import Recording, RecordingStatus
from recordings.services import recording_store
from tests.exotel_fake import (
    MP3,
    exotel_connection_fixture,  # noqa: F401
    exotel_fixture,  # noqa: F401
)
from tests.factories import CallFactory
from tests.s3 import S3, S3_ACCESS_KEY, S3_BUCKET, S3_REGION, S3_SECRET_KEY, local_storage, moto_server, s3_options  # noqa: F401
from tests.tcp_proxy import TcpProxy

LONG = os.environ.get("CALY_HARDENING_LONG") == "1"  # make hardening-long
# A readiness probe must answer while S3 hangs: well inside a load balancer's probe timeout.
READY_BOUND_SECONDS = 10
LARGE_BYTES = 20 * 1024 * 1024  # three multipart parts of 8 MB


@pytest.fixture
def s3(settings):
    """default_storage on the moto server through a cuttable proxy; yields (proxy, bucket view)."""
    endpoint = moto_server.start()
    moto_server.reset()
    client = boto3.client(
        "s3",
        endpoint_url=endpoint,
        region_name=S3_REGION,
        aws_access_key_id=S3_ACCESS_KEY,
        aws_secret_access_key=S3_SECRET_KEY,
    )
    client.create_bucket(Bucket=S3_BUCKET, CreateBucketConfiguration={"LocationConstraint": S3_REGION})
    port = int(endpoint.rsplit(":", 1)[1])
    with TcpProxy(port) as proxy:
        storages = {
            **settings.STORAGES,
            "default": {
                "BACKEND": "storages.backends.s3.S3Storage",
                "OPTIONS": s3_options(f"http://127.0.0.1:{proxy.port}"),
            },
        }
        with override_settings(STORAGES=storages):
            yield proxy, S3(endpoint_url=endpoint, bucket=S3_BUCKET, client=client)
    moto_server.reset()


@pytest.fixture
def database_queue(settings):
    settings.TASKS = {"default": {"BACKEND": "django_tasks_db.DatabaseBackend", "QUEUES": ["default"]}}


@pytest.fixture(autouse=True)
def _recheck_migrations(monkeypatch):
    monkeypatch.setattr(health, "_migrations_applied", False)


def run_one_task():
    """One task, as a worker would run it; a retry waiting for its backoff is made due first."""
    DBTaskResult.objects.filter(status="READY").update(run_after=timezone.now() - timedelta(seconds=1))
    call_command("db_worker", "--batch", "--no-startup-delay", "--max-tasks", "1", verbosity=0)


# --- recording fetches -------------------------------------------------------------------------------


@pytest.mark.django_db(transaction=True)
def test_a_fetch_cut_off_mid_upload_is_retried_and_stored_once(exotel, exotel_connection, s3, database_queue):
    proxy, bucket = s3
    url, sha256 = exotel.add_large_recording("long-call.mp3", LARGE_BYTES)
    call = CallFactory(client=exotel_connection.client)
    recording_queue(call=call, source_url=url)

    proxy.cut_after(LARGE_BYTES // 2)  # S3 goes away with the upload half done
    run_one_task()
    recording = Recording.objects.get()
    assert recording.status == RecordingStatus.PENDING and "Storing the recording failed" in recording.last_error
    assert DBTaskResult.objects.filter(status="READY").count() == 1  # its retry
    proxy.restore()
    assert bucket.keys() == []  # nothing half-stored under the key

    run_one_task()
    recording.refresh_from_db()
    assert recording.status == RecordingStatus.STORED and recording.attempts == 2
    assert recording.sha256 == sha256 and recording.size_bytes == LARGE_BYTES
    assert bucket.keys() == [recording.storage_key]
    assert hashlib.sha256(bucket.read(recording.storage_key)).hexdigest() == sha256
    assert Recording.objects.count() == 1
    assert len(exotel.seen("/recordings/")) == 2
    # The cut-off multipart upload could not be aborted (S3 was down): its parts wait in the bucket for
    # the lifecycle rule docs/operations.md asks for (AbortIncompleteMultipartUpload).
    assert [upload["Key"] for upload in bucket.multipart_uploads()] == [recording.storage_key]


@pytest.mark.django_db(transaction=True)
def test_a_fetch_while_s3_hangs_gives_up_within_the_client_timeouts_and_is_retried(
    exotel, exotel_connection, s3, database_queue, settings
):
    proxy, bucket = s3
    config = settings.S3_CLIENT_CONFIG
    if not LONG:  # the production timeouts take a minute to run out; the same path, sooner
        config = config.merge(BotoConfig(connect_timeout=1, read_timeout=2))
        options = settings.STORAGES["default"]["OPTIONS"]
        settings.STORAGES = {
            **settings.STORAGES,
            "default": {**settings.STORAGES["default"], "OPTIONS": {**options, "client_config": config}},
        }
    url = exotel.add_recording("short-call.mp3", MP3)
    call = CallFactory(client=exotel_connection.client)
    recording_queue(call=call, source_url=url)

    proxy.cut(hang=True)
    started = time.monotonic()
    run_one_task()
    gave_up_after = time.monotonic() - started
    recording = Recording.objects.get()
    assert recording.status == RecordingStatus.PENDING
    attempts = config.retries["total_max_attempts"]
    assert gave_up_after < attempts * (config.connect_timeout + config.read_timeout) + 10

    proxy.restore()
    run_one_task()
    recording.refresh_from_db()
    assert recording.status == RecordingStatus.STORED and recording.sha256 == hashlib.sha256(MP3).hexdigest()
    assert bucket.keys() == [recording.storage_key]


# --- readiness -------------------------------------------------------------------------------------


@pytest.mark.django_db
@pytest.mark.parametrize("hang", [False, True], ids=["down", "hung"])
def test_readiness_names_storage_within_a_bound_and_recovers(client, s3, hang):
    proxy, _ = s3
    assert client.get("/health/ready").status_code == 200

    proxy.cut(hang=hang)
    started = time.monotonic()
    response = client.get("/health/ready")
    assert time.monotonic() - started < READY_BOUND_SECONDS
    assert response.status_code == 503 and json.loads(response.content)["failing"] == ["storage"]

    proxy.restore()
    assert client.get("/health/ready").status_code == 200


# --- downloads -------------------------------------------------------------------------------------


@pytest.fixture
def stored(alice, local_storage):  # noqa: F811
    call = CallFactory(client=alice.client)
    recording = recording_store(call=call, stream=[MP3], content_type="audio/mpeg")
    return recording, local_storage


@pytest.mark.django_db
def test_a_download_answers_503_while_the_recordings_volume_is_missing_and_200_after(api, alice, stored):
    recording, media = stored
    api.credentials(HTTP_AUTHORIZATION=f"Bearer {jwt.family_start(user=alice).access}")
    path = f"/api/v1/recordings/{recording.public_id}/download"
    moved = media.root.with_name("media-unmounted")

    shutil.move(media.root, moved)  # the volume is not mounted
    try:
        response = api.get(path)
        assert response.status_code == 503, response.content
        body = json.loads(response.content)
        assert body["error"]["code"] == "SERVICE_UNAVAILABLE" and int(response["Retry-After"]) >= 1
        assert str(media.root) not in response.content.decode()
    finally:
        shutil.move(moved, media.root)

    response = api.get(path)
    assert response.status_code == 200 and b"".join(response.streaming_content) == MP3


@pytest.mark.django_db
def test_a_download_from_s3_redirects_without_asking_s3_so_an_outage_is_no_500(api, alice, s3):
    proxy, _ = s3
    recording = recording_store(call=CallFactory(client=alice.client), stream=[MP3], content_type="audio/mpeg")
    api.credentials(HTTP_AUTHORIZATION=f"Bearer {jwt.family_start(user=alice).access}")

    proxy.cut()
    response = api.get(f"/api/v1/recordings/{recording.public_id}/download")
    assert response.status_code == 302  # presigned locally; the player meets the outage at S3, not here
    assert recording.storage_key in response["Location"]
