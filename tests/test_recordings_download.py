"""GET /api/v1/recordings/{id}/download and DELETE /api/v1/recordings/{id}, on local files and S3.

Local storage streams the bytes with Range support (the audio player seeks); S3 answers with a redirect
to a short-lived presigned URL, fetched here from the moto server over HTTP. Roles, tenants and the
audit trail are checked on both.
"""

import io
import json
from datetime import UTC, datetime
from urllib.parse import parse_qs, urlsplit

import pytest
from django.core.files.storage import default_storage

from accounts import jwt
from accounts.models import AuditAction, AuditEvent
from accounts.roles import Role
from recordings import services
from recordings.models import Call, Recording, RecordingStatus
from tests.factories import UserFactory
from tests.s3 import http_get, local_storage, s3_storage  # noqa: F401

pytestmark = pytest.mark.django_db
AUDIO = bytes((i * 7 + 3) % 251 for i in range(1000))


@pytest.fixture(params=["local", "s3"])
def backend(request):
    return request.getfixturevalue(f"{request.param}_storage")


@pytest.fixture
def as_user(api):
    def _as(user):
        api.credentials(HTTP_AUTHORIZATION=f"Bearer {jwt.family_start(user=user).access}")
        return api

    return _as


@pytest.fixture
def viewer(client_a):
    return UserFactory(email="vera@acme.example", client=client_a, role=Role.VIEWER)


def store(client, n=1, data=AUDIO, content_type="audio/mpeg"):
    call = services.call_create(
        client=client,
        provider_call_id=f"CA{n:04d}",
        direction="inbound",
        from_number="+919800000001",
        to_number="+918000000002",
        status="completed",
        started_at=datetime(2025, 3, 15, 10, 30, tzinfo=UTC),
        duration_seconds=60,
    )
    return services.recording_store(call=call, stream=io.BytesIO(data), content_type=content_type)


@pytest.fixture
def recording(client_a):
    """A 1000-byte MP3 of client A, stored on whichever backend the test set up first."""
    return store(client_a)


def url(recording, **params):
    query = "&".join(f"{key}={value}" for key, value in params.items())
    return f"/api/v1/recordings/{recording.public_id}/download" + (f"?{query}" if query else "")


def download(api, recording, range_header=None, **params):
    """The response, and its body read in full. Reading a streamed answer to the end makes the test
    client close it, and with it the open file (closing it again would close the database connection)."""
    extra = {"HTTP_RANGE": range_header} if range_header else {}
    response = api.get(url(recording, **params), **extra)
    body = b"".join(response.streaming_content) if response.streaming else response.content
    return response, body


def error_code(body: bytes) -> str:
    return json.loads(body)["error"]["code"]


def downloads_audited(recording) -> int:
    return AuditEvent.objects.filter(
        action=AuditAction.RECORDING_DOWNLOADED, target_id=str(recording.public_id)
    ).count()


# --- local storage: the bytes, with ranges -----------------------------------------------------


def test_it_streams_the_whole_recording(local_storage, as_user, alice, recording):  # noqa: F811
    response, body = download(as_user(alice), recording)

    assert response.status_code == 200 and body == AUDIO
    assert response["Content-Type"] == "audio/mpeg"
    assert response["Content-Length"] == "1000"
    assert response["Accept-Ranges"] == "bytes"
    assert response["Content-Disposition"] == f'inline; filename="call-{recording.call.public_id}.mp3"'
    assert response["ETag"] == f'"{recording.sha256}"'
    assert "private" in response["Cache-Control"]
    assert not response.has_header("Content-Range")


@pytest.mark.parametrize(
    ("range_header", "first", "last"),
    [
        ("bytes=10-19", 10, 19),
        ("bytes=-5", 995, 999),  # the last five
        ("bytes=100-", 100, 999),  # from 100 to the end
        ("bytes=0-0", 0, 0),
        ("bytes=990-5000", 990, 999),  # an end past the file is cut at the file's end
        ("bytes=-5000", 0, 999),  # a suffix longer than the file is the whole file
        (" bytes=10-19 ", 10, 19),
    ],
)
def test_a_range_returns_exactly_those_bytes(local_storage, as_user, alice, recording, range_header, first, last):  # noqa: F811
    response, body = download(as_user(alice), recording, range_header)

    assert response.status_code == 206
    assert body == AUDIO[first : last + 1]
    assert response["Content-Range"] == f"bytes {first}-{last}/1000"
    assert response["Content-Length"] == str(last - first + 1)
    assert response["Accept-Ranges"] == "bytes" and response["Content-Type"] == "audio/mpeg"


@pytest.mark.parametrize("range_header", ["bytes=1000-", "bytes=5000-6000", "bytes=-0"])
def test_an_unsatisfiable_range_is_416(local_storage, as_user, alice, recording, range_header):  # noqa: F811
    response, body = download(as_user(alice), recording, range_header)

    assert response.status_code == 416
    assert response["Content-Range"] == "bytes */1000"
    assert body == b""


@pytest.mark.parametrize("range_header", ["bytes=abc", "items=0-5", "bytes=0-1,5-6", "bytes=-", "bytes 0-5"])
def test_a_malformed_or_multiple_range_gets_the_whole_file(local_storage, as_user, alice, recording, range_header):  # noqa: F811
    response, body = download(as_user(alice), recording, range_header)

    assert response.status_code == 200 and body == AUDIO
    assert response["Content-Length"] == "1000" and not response.has_header("Content-Range")


def test_it_offers_a_download_when_asked(local_storage, as_user, alice, recording):  # noqa: F811
    response, body = download(as_user(alice), recording, disposition="attachment")

    assert response.status_code == 200 and body == AUDIO
    assert response["Content-Disposition"] == f'attachment; filename="call-{recording.call.public_id}.mp3"'


def test_a_wav_recording_keeps_its_type_and_extension(local_storage, as_user, alice, client_a):  # noqa: F811
    wav = store(client_a, 2, data=b"RIFF" + AUDIO, content_type="audio/wav")

    response, body = download(as_user(alice), wav)

    assert response.status_code == 200 and body == b"RIFF" + AUDIO
    assert response["Content-Type"] == "audio/wav"
    assert response["Content-Disposition"].endswith('.wav"')


# --- S3: a presigned redirect ------------------------------------------------------------------


def presigned(response) -> tuple[str, dict[str, str]]:
    assert response.status_code == 302, response.content
    location = response["Location"]
    return location, {key: values[0] for key, values in parse_qs(urlsplit(location).query).items()}


def test_s3_redirects_to_a_presigned_url_that_serves_the_bytes(s3_storage, as_user, alice, recording, settings):  # noqa: F811
    response, _ = download(as_user(alice), recording)

    location, query = presigned(response)
    assert location.startswith(f"{s3_storage.endpoint_url}/{s3_storage.bucket}/{recording.storage_key}?")
    assert query["X-Amz-Algorithm"] == "AWS4-HMAC-SHA256" and query["X-Amz-Signature"]
    assert query["X-Amz-Expires"] == str(settings.PRESIGNED_URL_EXPIRY_SECONDS)
    assert query["response-content-disposition"] == f'inline; filename="call-{recording.call.public_id}.mp3"'
    status, headers, body = http_get(location)
    assert status == 200 and body == AUDIO
    assert headers["Content-Disposition"] == query["response-content-disposition"]


def test_s3_presigned_urls_follow_the_expiry_setting_and_disposition(s3_storage, as_user, alice, recording, settings):  # noqa: F811
    settings.PRESIGNED_URL_EXPIRY_SECONDS = 120

    response, _ = download(as_user(alice), recording, disposition="attachment")

    location, query = presigned(response)
    assert query["X-Amz-Expires"] == "120"
    assert query["response-content-disposition"] == f'attachment; filename="call-{recording.call.public_id}.mp3"'
    assert http_get(location)[2] == AUDIO


def test_s3_leaves_ranges_to_the_presigned_url(s3_storage, as_user, alice, recording):  # noqa: F811
    response, _ = download(as_user(alice), recording, "bytes=10-19")

    location, _ = presigned(response)  # the player repeats its Range against S3 itself
    status, headers, body = http_get(location, {"Range": "bytes=10-19"})
    assert status == 206 and body == AUDIO[10:20]
    assert headers["Content-Range"] == "bytes 10-19/1000"


# --- both backends: who may, what is audited ---------------------------------------------------


def ok(response) -> bool:
    return response.status_code in (200, 302)


def test_an_agent_may_play_a_recording(backend, as_user, bob, recording):
    response, _ = download(as_user(bob), recording)
    assert ok(response)


def test_a_viewer_may_not_play_a_recording(backend, as_user, viewer, recording):
    response, body = download(as_user(viewer), recording)

    assert response.status_code == 403 and error_code(body) == "PERMISSION_DENIED"
    assert downloads_audited(recording) == 0


def test_another_clients_recording_is_not_found(backend, as_user, charlie, recording):
    response, body = download(as_user(charlie), recording)

    assert response.status_code == 404 and error_code(body) == "NOT_FOUND"
    assert downloads_audited(recording) == 0


def test_it_needs_a_sign_in(backend, api, recording):
    response, body = download(api, recording)
    assert response.status_code == 401 and error_code(body) == "AUTHENTICATION_REQUIRED"


@pytest.mark.parametrize("status", [RecordingStatus.FAILED, RecordingStatus.DELETED, RecordingStatus.PENDING])
def test_a_recording_that_is_not_stored_is_not_found(backend, as_user, alice, recording, status):
    Recording.objects.filter(pk=recording.pk).update(status=status)

    response, body = download(as_user(alice), recording)

    assert response.status_code == 404 and error_code(body) == "NOT_FOUND"


def test_a_bad_disposition_is_a_validation_error(backend, as_user, alice, recording):
    response, body = download(as_user(alice), recording, disposition="download")

    assert response.status_code == 400
    error = json.loads(body)["error"]
    assert error["code"] == "VALIDATION_ERROR" and "disposition" in error["details"]
    assert downloads_audited(recording) == 0


def test_a_play_is_audited_once_not_each_seek(backend, as_user, alice, recording):
    api = as_user(alice)

    first, _ = download(api, recording)
    seek, _ = download(api, recording, "bytes=100-")
    tail, _ = download(api, recording, "bytes=-5")

    assert ok(first) and seek.status_code in (206, 302) and tail.status_code in (206, 302)
    events = AuditEvent.objects.filter(action=AuditAction.RECORDING_DOWNLOADED)
    assert events.count() == 1
    event = events.get()
    assert event.actor == alice and event.client_id == recording.client_id
    assert (event.target_type, event.target_id) == ("recording", str(recording.public_id))
    assert event.metadata == {"disposition": "inline"}

    replay, _ = download(api, recording, "bytes=0-", disposition="attachment")  # a new play from the start
    assert replay.status_code in (206, 302) and downloads_audited(recording) == 2


# --- DELETE ------------------------------------------------------------------------------------


def test_the_owner_deletes_a_recording_and_its_object(
    backend, as_user, alice, recording, django_capture_on_commit_callbacks
):
    api = as_user(alice)
    key = recording.storage_key
    assert backend.keys() == [key]

    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        response = api.delete(f"/api/v1/recordings/{recording.public_id}")
    assert response.status_code == 200
    data = response.json()["data"]
    assert data["status"] == "deleted" and data["deleted_at"] and data["download_url"] is None
    assert backend.keys() == [key]  # the object goes only once the row change is committed
    for callback in callbacks:
        callback()
    assert backend.keys() == []

    recording.refresh_from_db()
    assert recording.status == RecordingStatus.DELETED and recording.deleted_at
    assert Call.objects.get(pk=recording.call_id).has_recording is False
    event = AuditEvent.objects.get(action=AuditAction.RECORDING_DELETED)
    assert event.actor == alice and event.target_id == str(recording.public_id)
    assert event.metadata == {"reason": "deleted"}
    response, _ = download(api, recording)
    assert response.status_code == 404

    again = api.delete(f"/api/v1/recordings/{recording.public_id}")
    assert again.status_code == 200 and again.json()["data"]["status"] == "deleted"
    assert AuditEvent.objects.filter(action=AuditAction.RECORDING_DELETED).count() == 1


@pytest.mark.parametrize("who", ["bob", "viewer"])
def test_agents_and_viewers_may_not_delete_a_recording(backend, as_user, recording, request, who):
    response = as_user(request.getfixturevalue(who)).delete(f"/api/v1/recordings/{recording.public_id}")

    assert response.status_code == 403 and response.json()["error"]["code"] == "PERMISSION_DENIED"
    recording.refresh_from_db()
    assert recording.status == RecordingStatus.STORED
    assert backend.keys() == [recording.storage_key]
    assert not AuditEvent.objects.filter(action=AuditAction.RECORDING_DELETED).exists()


def test_another_client_cannot_delete_a_recording(backend, as_user, charlie, recording):
    response = as_user(charlie).delete(f"/api/v1/recordings/{recording.public_id}")

    assert response.status_code == 404
    assert default_storage.exists(recording.storage_key)


def test_a_play_that_starts_with_a_range_is_audited_too(backend, as_user, bob, recording):
    response, _ = download(as_user(bob), recording, "bytes=-100000000")
    assert response.status_code in (206, 302) and downloads_audited(recording) == 1


@pytest.mark.parametrize("range_header", ["bytes=" + "9" * 5000 + "-", "bytes=0-" + "9" * 5000, "bytes=-" + "9" * 30])
def test_absurd_range_numbers_get_the_whole_file(local_storage, as_user, alice, recording, range_header):  # noqa: F811
    response, _ = download(as_user(alice), recording, range_header)
    assert response.status_code == 200
