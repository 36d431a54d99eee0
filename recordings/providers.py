"""What recordings asks of a call provider, without knowing any: fetch a recording's bytes, place a call.

Providers plug in by dotted path, per provider (a call's `provider`), in two settings:

- RECORDING_FETCHERS: a callable taking a Recording and returning a context manager that yields a
  RecordingSource (the audio's chunks, content type and URL). It raises RecordingFetchRefused when
  trying again cannot help and RecordingFetchUnavailable when a later attempt may succeed, also while
  the chunks are read; anything else counts as an outage and is retried too.
- CALL_PLACERS: a callable taking keyword arguments (client, actor, to_number, from_number,
  caller_id, record, custom_field) and returning the queued Call; raises DomainError.

The system check below imports every path, so a wrong one stops `manage.py migrate` (the release
step) and the worker at start instead of failing the first recording.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from contextlib import AbstractContextManager
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from django.conf import settings
from django.core import checks
from django.utils.module_loading import import_string

if TYPE_CHECKING:
    from recordings.models import Call, Recording


@dataclass(frozen=True)
class RecordingSource:
    chunks: Iterable[bytes]
    content_type: str
    source_url: str


class RecordingFetchRefused(Exception):
    """The provider will not hand the recording over as it stands: the recording fails at once."""


class RecordingFetchUnavailable(Exception):
    """Not now: the recording is fetched again with backoff (`retry_after` seconds at least, if the provider said)."""

    def __init__(self, message: str, *, retry_after: float | None = None):
        super().__init__(message)
        self.retry_after = retry_after


class UnknownProvider(Exception):
    """No provider is registered under this name for what was asked."""


RecordingFetcher = Callable[["Recording"], AbstractContextManager[RecordingSource]]
CallPlacer = Callable[..., "Call"]
REGISTRIES = ("RECORDING_FETCHERS", "CALL_PLACERS")


def recording_fetcher(provider: str) -> RecordingFetcher:
    """The provider's recording fetcher. Raises UnknownProvider."""
    return _resolve("RECORDING_FETCHERS", provider, "recordings")


def call_placer(provider: str) -> CallPlacer:
    """The provider's way of placing an outbound call. Raises UnknownProvider."""
    return _resolve("CALL_PLACERS", provider, "outbound calls")


def _resolve(setting: str, provider: str, what: str) -> Any:
    path = getattr(settings, setting).get(provider)
    if path is None:
        raise UnknownProvider(f"Caly has no way to handle {what} of provider {provider!r} (settings.{setting}).")
    return import_string(path)


def providers_check(app_configs=None, **kwargs) -> list[checks.CheckMessage]:
    """Every path of RECORDING_FETCHERS and CALL_PLACERS names a callable that imports."""
    errors = []
    for setting in REGISTRIES:
        for provider, path in getattr(settings, setting).items():
            try:
                target = import_string(path)
            except ImportError as exc:
                errors.append(
                    checks.Error(
                        f"settings.{setting}[{provider!r}] names {path!r}, which cannot be imported: {exc}",
                        hint="Give the dotted path of the provider's function.",
                        id="recordings.E001",
                    )
                )
                continue
            if not callable(target):
                errors.append(
                    checks.Error(
                        f"settings.{setting}[{provider!r}] names {path!r}, which is not callable.",
                        id="recordings.E002",
                    )
                )
    return errors
