"""Exotel's part of a recording's fetch (settings.RECORDING_FETCHERS): where the audio is, and its bytes.

The download is Exotel's client's: credentials only to Exotel's hosts, every address and redirect
checked before it is requested (SSRF-safe), streamed. Exotel's errors become the recordings app's:
refused (fails at once) or unavailable (tried again with backoff).
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from integrations.exotel import payload
from integrations.exotel.client import (
    ExotelClient,
    ExotelNotFound,
    ExotelRefused,
    ExotelUnavailable,
    RecordingRefused,
    recording_url_problem,
)
from integrations.models import ExotelConnection
from recordings.models import Recording
from recordings.providers import RecordingFetchRefused, RecordingFetchUnavailable, RecordingSource
from recordings.services import recording_source_url_set


@contextmanager
def exotel_recording_open(recording: Recording) -> Iterator[RecordingSource]:
    """Open the recording's download from Exotel. Raises RecordingFetchRefused or RecordingFetchUnavailable."""
    connection = ExotelConnection.objects.for_client(recording.client).connected().first()
    if connection is None:
        raise RecordingFetchRefused("Exotel is not connected, so the recording cannot be fetched.")
    try:
        with ExotelClient(connection) as exotel:
            url = recording.source_url or _recording_url_from_details(exotel, recording)
            problem = recording_url_problem(url)
            if problem:
                raise RecordingFetchRefused(problem)
            with exotel.recording(url) as download:
                yield RecordingSource(chunks=download.chunks, content_type=download.content_type, source_url=url)
    except RecordingRefused as exc:
        raise RecordingFetchRefused(str(exc)) from exc
    except ExotelNotFound as exc:  # not there yet
        raise RecordingFetchUnavailable(str(exc)) from exc
    except ExotelUnavailable as exc:
        raise RecordingFetchUnavailable(str(exc), retry_after=exc.retry_after) from exc
    except ExotelRefused as exc:
        raise RecordingFetchRefused(str(exc)) from exc


def _recording_url_from_details(exotel: ExotelClient, recording: Recording) -> str:
    """A recording noted without a URL (retried from the admin): ask Exotel where it is."""
    facts = payload.details_facts(exotel.call_details(recording.call.provider_call_id))
    if not facts.recording_url:
        raise ExotelNotFound("Exotel has no recording for this call yet.", status_code=404)
    recording_source_url_set(recording=recording, source_url=facts.recording_url)
    return facts.recording_url
