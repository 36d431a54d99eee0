"""Storing recording bytes, on local files and on S3 (a moto server over real HTTP).

Each test runs on both backends: sizes and hashes, keys, idempotent re-stores, chunk generators,
the size cap, and memory that stays flat however big the recording is.
"""

import hashlib
import io
import tracemalloc
from datetime import UTC, datetime

import pytest
from django.core.files.storage import default_storage

from recordings import services, storage
from recordings.models import Call, Recording, RecordingStatus
from recordings.storage import RecordingTooLarge
from tests.s3 import local_storage, s3_storage  # noqa: F401

pytestmark = pytest.mark.django_db
MB = 1024 * 1024
STARTED = datetime(2025, 3, 15, 10, 30, tzinfo=UTC)


@pytest.fixture(params=["local", "s3"])
def backend(request):
    """The test runs once on local files and once on S3; yields a view of the store (keys(), read())."""
    return request.getfixturevalue(f"{request.param}_storage")


def make_call(client, n=1, *, started_at=STARTED):
    return services.call_create(
        client=client,
        provider_call_id=f"CA{n:04d}",
        direction="inbound",
        from_number="+919800000001",
        to_number="+918000000002",
        status="completed",
        started_at=started_at,
        duration_seconds=60,
    )


def key_of(call, extension="mp3"):
    return f"recordings/{call.client.public_id}/{call.started_at:%Y}/{call.started_at:%m}/{call.public_id}.{extension}"


def audio(size: int, seed: int = 0) -> bytes:
    return bytes((seed + i * 7) % 251 for i in range(size))


def chunks_of(total: int, chunk: int = 64 * 1024):
    """`total` bytes in `chunk`-sized pieces (the last may be short), made as they are asked for;
    the same bytes every time."""
    block = (bytes(range(256)) * (chunk // 256 + 1))[:chunk]
    sent = 0
    while sent < total:
        piece = block[: min(chunk, total - sent)]
        sent += len(piece)
        yield piece


def test_it_stores_a_file_object_with_its_size_and_sha256(backend, client_a):
    call = make_call(client_a)
    data = audio(300_000)

    recording = services.recording_store(
        call=call, stream=io.BytesIO(data), content_type="audio/mpeg", duration_seconds=60, channels=1
    )

    recording.refresh_from_db()
    assert recording.status == RecordingStatus.STORED
    assert recording.size_bytes == len(data)
    assert recording.sha256 == hashlib.sha256(data).hexdigest()
    assert recording.storage_key == key_of(call) == f"recordings/{client_a.public_id}/2025/03/{call.public_id}.mp3"
    assert recording.content_type == "audio/mpeg" and recording.attempts == 1 and recording.stored_at
    assert backend.keys() == [recording.storage_key]
    assert backend.read(recording.storage_key) == data
    assert Call.objects.get(pk=call.pk).has_recording is True


def test_it_stores_a_generator_of_chunks(backend, client_a):
    call = make_call(client_a)
    pieces = [audio(1000, 1), b"", audio(70_000, 2), audio(3, 3), audio(400_001, 4)]  # uneven, one empty
    data = b"".join(pieces)

    recording = services.recording_store(call=call, stream=iter(pieces), content_type="audio/wav")

    assert recording.size_bytes == len(data) and recording.sha256 == hashlib.sha256(data).hexdigest()
    assert recording.storage_key == key_of(call, "wav")
    assert backend.read(recording.storage_key) == data


def test_store_stream_returns_the_size_and_sha256_of_what_it_wrote(backend, settings):
    data = audio(12_345)

    reader = storage.store_stream(key="recordings/x/2025/01/y.mp3", stream=io.BytesIO(data), content_type="audio/mpeg")

    assert (reader.size_bytes, reader.sha256) == (len(data), hashlib.sha256(data).hexdigest())
    assert backend.read("recordings/x/2025/01/y.mp3") == data


def test_storing_the_same_call_twice_keeps_one_object_and_one_live_row(backend, client_a):
    call = make_call(client_a)
    first, second = audio(5000, 1), audio(7000, 2)

    services.recording_store(call=call, stream=io.BytesIO(first), content_type="audio/mpeg")
    recording = services.recording_store(call=call, stream=io.BytesIO(second), content_type="audio/mpeg")

    assert Recording.objects.filter(call=call).count() == 1
    recording.refresh_from_db()
    assert recording.attempts == 2 and recording.status == RecordingStatus.STORED
    assert recording.size_bytes == len(second) and recording.sha256 == hashlib.sha256(second).hexdigest()
    assert backend.keys() == [key_of(call)]
    assert backend.read(key_of(call)) == second


def test_a_new_content_type_replaces_the_old_object(backend, client_a):
    call = make_call(client_a)
    services.recording_store(call=call, stream=io.BytesIO(audio(100)), content_type="audio/wav")

    recording = services.recording_store(call=call, stream=io.BytesIO(audio(200)), content_type="audio/mpeg")

    assert backend.keys() == [key_of(call, "mp3")] == [recording.storage_key]
    assert Recording.objects.filter(call=call).count() == 1


def test_calls_of_different_months_and_clients_get_their_own_keys(backend, client_a, client_b):
    march = make_call(client_a, 1)
    april = make_call(client_a, 2, started_at=datetime(2025, 4, 1, 0, 5, tzinfo=UTC))
    other = make_call(client_b, 1)
    for call in (march, april, other):
        services.recording_store(call=call, stream=io.BytesIO(audio(10)), content_type="audio/mpeg")

    assert sorted(backend.keys()) == sorted(key_of(call) for call in (march, april, other))
    assert backend.keys(f"recordings/{client_a.public_id}/2025/04/") == [key_of(april)]


@pytest.mark.parametrize(
    "backend",
    ["local", "s3"],
    indirect=True,
)
def test_a_stream_over_the_limit_fails_and_leaves_no_object(backend, client_a, settings):
    settings.RECORDING_MAX_BYTES = 100_000
    call = make_call(client_a)

    with pytest.raises(RecordingTooLarge):
        services.recording_store(call=call, stream=chunks_of(250_000, 32 * 1024), content_type="audio/mpeg")

    recording = Recording.objects.get(call=call)
    assert recording.status == RecordingStatus.FAILED and recording.attempts == 1
    assert "larger than 100000 bytes" in recording.last_error
    assert Call.objects.get(pk=call.pk).has_recording is False
    assert backend.keys() == []


def test_an_oversized_multipart_upload_is_aborted_on_s3(s3_storage, client_a, settings):  # noqa: F811
    """Past the 8 MB multipart threshold a part is already on the server when the cap trips: the
    upload must be aborted, leaving neither an object nor an unfinished multipart upload."""
    settings.RECORDING_MAX_BYTES = 12 * MB
    call = make_call(client_a)

    with pytest.raises(RecordingTooLarge):
        services.recording_store(call=call, stream=chunks_of(20 * MB), content_type="audio/mpeg")

    assert Recording.objects.get(call=call).status == RecordingStatus.FAILED
    assert s3_storage.keys() == [] and s3_storage.multipart_uploads() == []


@pytest.mark.parametrize(
    "backend",
    ["local", "s3"],
    indirect=True,
)
def test_a_failing_source_marks_the_recording_failed_and_leaves_no_object(backend, client_a):
    def broken():
        yield audio(50_000)
        raise ConnectionError("the provider hung up")

    call = make_call(client_a)
    with pytest.raises(ConnectionError):
        services.recording_store(call=call, stream=broken(), content_type="audio/mpeg")

    recording = Recording.objects.get(call=call)
    assert recording.status == RecordingStatus.FAILED and recording.last_error == "the provider hung up"
    assert backend.keys() == []


def test_a_failed_retry_can_be_stored_again(backend, client_a, settings):
    settings.RECORDING_MAX_BYTES = 1000
    call = make_call(client_a)
    with pytest.raises(RecordingTooLarge):
        services.recording_store(call=call, stream=io.BytesIO(audio(5000)), content_type="audio/mpeg")

    recording = services.recording_store(call=call, stream=io.BytesIO(audio(900)), content_type="audio/mpeg")

    recording.refresh_from_db()
    assert recording.status == RecordingStatus.STORED and recording.attempts == 2 and recording.last_error == ""
    assert Recording.objects.filter(call=call).count() == 1
    assert backend.read(key_of(call)) == audio(900)


# Memory: a 64 MB recording from a generator. tracemalloc counts every thread of this process
# (boto's transfer threads included); the moto server is another process, so it does not count.
MEMORY_FILE_BYTES = 64 * MB
LOCAL_PEAK_LIMIT = 16 * MB
# S3 uploads in 8 MB parts. boto3 holds the threshold probe (8 MB), the parts read ahead and the
# part being sent: about 25 MB with one part in memory, 34 MB with two, whatever the file's size.
S3_PEAK_LIMIT = 40 * MB


def _peak_while_storing(call, total: int) -> tuple[Recording, int]:
    tracemalloc.start()
    try:
        recording = services.recording_store(call=call, stream=chunks_of(total), content_type="audio/mpeg")
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    return recording, peak


@pytest.mark.parametrize(
    ("backend", "limit"),
    [
        pytest.param("local", LOCAL_PEAK_LIMIT, id="local"),
        pytest.param("s3", S3_PEAK_LIMIT, id="s3"),
    ],
    indirect=["backend"],
)
def test_a_64_mb_stream_is_never_held_whole_in_memory(backend, limit, client_a, settings, capsys):
    settings.RECORDING_MAX_BYTES = 2 * MEMORY_FILE_BYTES
    # One-time costs first (boto3 loads its endpoint and S3 models on a storage's first request).
    storage.store_stream(key="recordings/warm-up.mp3", stream=[b"warm"], content_type="audio/mpeg")
    expected = hashlib.sha256()
    for piece in chunks_of(MEMORY_FILE_BYTES):
        expected.update(piece)
    call = make_call(client_a)

    recording, peak = _peak_while_storing(call, MEMORY_FILE_BYTES)

    with capsys.disabled():
        print(f"\n  peak traced memory storing 64 MB on {default_storage.__class__.__name__}: {peak / MB:.1f} MB")
    assert recording.size_bytes == MEMORY_FILE_BYTES and recording.sha256 == expected.hexdigest()
    assert default_storage.size(recording.storage_key) == MEMORY_FILE_BYTES
    assert peak < limit, f"peak {peak / MB:.1f} MB while storing {MEMORY_FILE_BYTES // MB} MB"


def test_a_delete_during_a_store_wins(local_storage, client_a, django_capture_on_commit_callbacks):  # noqa: F811
    # Local only: boto reads the stream in its own threads, where this test's deletion could not
    # share the test transaction.
    call = make_call(client_a)
    recording = services._live_recording(call)

    def delete_midway():
        yield audio(1000)
        services.recording_delete(recording=recording, actor=None, reason="retention")
        yield audio(1000, seed=1)

    with django_capture_on_commit_callbacks(execute=True):
        stored = services.recording_store(call=call, stream=delete_midway(), content_type="audio/mpeg")
    stored.refresh_from_db()
    call.refresh_from_db()
    assert stored.status == RecordingStatus.DELETED and not call.has_recording
    assert local_storage.keys() == []


def test_it_refuses_to_store_anything_but_audio(backend, client_a):
    from caly.foundation.errors import DomainError

    call = make_call(client_a)
    with pytest.raises(DomainError):
        services.recording_store(call=call, stream=io.BytesIO(b"<script>alert(1)</script>"), content_type="text/html")
    assert backend.keys() == [] and not Recording.objects.filter(call=call).exists()
