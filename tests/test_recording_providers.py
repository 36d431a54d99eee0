"""Providers plug into recordings by dotted path (settings.RECORDING_FETCHERS, CALL_PLACERS): a wrong path
stops the start, a provider without a fetcher fails its recordings visibly, and recordings never imports
the integrations that plug into it."""

from contextlib import contextmanager

import grimp
import pytest
from django.core.management import call_command
from django.core.management.base import SystemCheckError

from recordings.models import RecordingStatus
from recordings.providers import RecordingFetchUnavailable, RecordingSource
from recordings.services import recording_fetch
from tests.exotel_fake import MP3
from tests.factories import CallFactory, RecordingFactory
from tests.s3 import local_storage  # noqa: F401


@contextmanager
def fetch_from_memory(recording):
    yield RecordingSource(chunks=[MP3[:100], MP3[100:]], content_type="audio/mpeg", source_url="https://x.test/r.mp3")


@contextmanager
def fetch_while_down(recording):
    raise RecordingFetchUnavailable("The provider is down.", retry_after=90)
    yield


def test_the_configured_paths_pass_the_start_up_check():
    call_command("check")


@pytest.mark.parametrize(
    ("setting", "path", "code"),
    [
        ("RECORDING_FETCHERS", "integrations.exotel.recordings.no_such_function", "recordings.E001"),
        ("RECORDING_FETCHERS", "integrations.exotel.no_such_module.fetch", "recordings.E001"),
        ("CALL_PLACERS", "integrations.exotel.services.no_such_function", "recordings.E001"),
        ("RECORDING_FETCHERS", "tests.exotel_fake.MP3", "recordings.E002"),
    ],
)
def test_a_wrong_dotted_path_stops_the_start(settings, setting, path, code):
    settings.RECORDING_FETCHERS = {"exotel": "integrations.exotel.recordings.exotel_recording_open"}
    settings.CALL_PLACERS = {"exotel": "integrations.exotel.services.exotel_call_place"}
    setattr(settings, setting, {"exotel": path})

    with pytest.raises(SystemCheckError) as raised:
        call_command("check")

    assert code in str(raised.value) and path in str(raised.value)


@pytest.mark.django_db
def test_a_provider_plugs_in_by_its_dotted_path(settings, client_a, local_storage):  # noqa: F811
    settings.RECORDING_FETCHERS = {"exotel": "tests.test_recording_providers.fetch_from_memory"}
    recording = RecordingFactory(call=CallFactory(client=client_a))

    fetched = recording_fetch(recording_id=recording.pk)

    assert fetched.retry_in_seconds is None
    recording = fetched.recording
    assert (recording.status, recording.attempts, recording.source_url) == ("stored", 1, "https://x.test/r.mp3")
    assert local_storage.read(recording.storage_key) == MP3


@pytest.mark.django_db
def test_a_provider_that_is_down_leaves_the_recording_pending_with_backoff(settings, client_a, local_storage):  # noqa: F811
    settings.RECORDING_FETCHERS = {"exotel": "tests.test_recording_providers.fetch_while_down"}
    settings.TASK_RETRY_BASE_SECONDS = 30
    recording = RecordingFactory(call=CallFactory(client=client_a))

    fetched = recording_fetch(recording_id=recording.pk)

    assert fetched.retry_in_seconds == 90  # the provider's Retry-After, longer than the first backoff
    assert (fetched.recording.status, fetched.recording.attempts) == (RecordingStatus.PENDING, 1)
    assert "The provider is down." in fetched.recording.last_error


@pytest.mark.django_db
def test_a_provider_without_a_fetcher_fails_the_recording_with_a_clear_error(settings, client_a, local_storage):  # noqa: F811
    settings.RECORDING_FETCHERS = {}
    recording = RecordingFactory(call=CallFactory(client=client_a))

    fetched = recording_fetch(recording_id=recording.pk)

    recording.refresh_from_db()
    assert fetched.retry_in_seconds is None
    assert (recording.status, recording.attempts) == (RecordingStatus.FAILED, 1)
    assert "'exotel'" in recording.last_error and "RECORDING_FETCHERS" in recording.last_error
    assert local_storage.keys() == []


def test_recordings_never_imports_integrations():
    graph = grimp.build_graph("caly", "accounts", "recordings", "integrations", cache_dir=None)
    chains = graph.find_shortest_chains(importer="recordings", imported="integrations")
    assert chains == set(), "\n".join(" -> ".join(chain) for chain in sorted(chains))
