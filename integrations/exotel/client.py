"""The one HTTP client for Exotel's v1 API and its recording files.

Authentication is HTTP Basic with the connection's API key and token; the account SID goes in the
path. The origin is f"{settings.EXOTEL_API_SCHEME}://{connection.api_host}" (tests put a fake
server's 127.0.0.1:<port> in `api_host`; users can only choose settings.EXOTEL_API_HOSTS).

Nothing here retries: a failure is raised as one of three errors and the caller decides — a task
retries ExotelUnavailable with backoff, a request answers 502/503.

Recording files are fetched only from settings.EXOTEL_RECORDING_SCHEMES and EXOTEL_RECORDING_HOSTS,
checked for the first URL and every redirect before any byte is sent: a forged callback cannot aim
Caly's Exotel credentials at another host. The credentials go only to Exotel's own hosts (the
connection's API host, *.exotel.com, *.exotel.in), never to a storage host that is merely allowed
(anyone can own a bucket on amazonaws.com), and only while redirects stay on the first URL's origin
(Exotel hands recordings over to S3 that way).

An allowed name is not enough: its DNS answer could point inside our network (a metadata service,
Redis, an admin port). Each hop's host is resolved once, every address it resolves to must be a
public one (`public_address_problem`), and the request goes to that very address, with the name in
the Host header and, over TLS, as the server name the certificate is verified against — no second
lookup that a short-lived DNS answer could change (integrations/egress.py, shared with outbound webhooks).
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any
from urllib.parse import quote, urlsplit

import httpx
from django.conf import settings

from integrations import egress
from integrations.egress import retry_after_seconds
from integrations.models import ExotelConnection

logger = logging.getLogger("caly.exotel")

CHUNK_BYTES = 256 * 1024
MAX_REDIRECTS = 3
CREDENTIAL_DOMAINS = (".exotel.com", ".exotel.in")
AUDIO_BY_EXTENSION = {".mp3": "audio/mpeg", ".wav": "audio/wav"}
GENERIC_TYPES = ("", "application/octet-stream", "binary/octet-stream", "application/x-download")


class ExotelError(Exception):
    """Exotel could not do what was asked; the message is safe to show to the client's users."""


class ExotelUnavailable(ExotelError):
    """Worth retrying: a timeout, a connection error, a 5xx or a 429 (`retry_after` seconds, if Exotel said)."""

    def __init__(self, message: str, *, retry_after: float | None = None):
        super().__init__(message)
        self.retry_after = retry_after


class ExotelRefused(ExotelError):
    """Exotel answered with a 4xx: retrying the same request will not help (except a 404 for a recording)."""

    def __init__(self, message: str, *, status_code: int):
        super().__init__(message)
        self.status_code = status_code


class ExotelAuthError(ExotelRefused):
    pass


class ExotelNotFound(ExotelRefused):
    pass


class RecordingRefused(ExotelError):
    """The recording cannot be fetched as it stands: a URL we do not fetch from, or not audio."""


def _timeout() -> httpx.Timeout:
    connect, read = settings.INTEGRATION_HTTP_TIMEOUT
    return httpx.Timeout(read, connect=connect)


def recording_url_problem(url: str) -> str | None:
    """Why Caly will not fetch a recording from `url`, or None when the URL is allowed."""
    try:
        parts = urlsplit(url)
        host = (parts.hostname or "").lower()
        port = parts.port
    except ValueError:
        return "The recording URL is not a valid URL."
    if parts.scheme not in settings.EXOTEL_RECORDING_SCHEMES:
        return f"Recordings are fetched over {', '.join(settings.EXOTEL_RECORDING_SCHEMES)} only, not {parts.scheme!r}."
    if not host or parts.username or parts.password:
        return "The recording URL has no host, or carries credentials."
    netloc = f"{host}:{port}" if port else host
    for allowed in settings.EXOTEL_RECORDING_HOSTS:
        allowed = allowed.lower()
        if allowed.startswith("."):
            if host.endswith(allowed) or host == allowed[1:]:
                return None
        elif allowed in (host, netloc):
            return None
    return f"Recordings are not fetched from {host}: it is not in EXOTEL_RECORDING_HOSTS."


def public_address_problem(address: str) -> str | None:
    """Why Caly will not connect to the IP `address` for a recording, or None when it is public
    (integrations/egress.py). Loopback is allowed when settings.EXOTEL_RECORDING_ALLOW_LOOPBACK is on,
    which only the test settings do (the fake Exotel serves recordings on 127.0.0.1).
    """
    return egress.address_problem(address, allow_loopback=settings.EXOTEL_RECORDING_ALLOW_LOOPBACK)


def _origin(url: httpx.URL) -> tuple[str, bytes, int]:
    return url.scheme, url.raw_host, url.port or egress.DEFAULT_PORTS[url.scheme]


def _error_message(response: httpx.Response) -> str:
    """Exotel's own words from a `RestException`, when it sent any."""
    try:
        body = response.json()
    except ValueError:
        return ""
    exception = body.get("RestException") if isinstance(body, dict) else None
    if isinstance(exception, dict):
        return str(exception.get("Message") or "")[:300]
    return ""


@dataclass
class RecordingDownload:
    content_type: str
    size_bytes: int | None
    chunks: Iterator[bytes]


class ExotelClient:
    """API calls for one connection. Use as a context manager (it holds a connection pool)."""

    def __init__(self, connection: ExotelConnection):
        self.account_sid = connection.account_sid
        self.api_host = connection.api_host.lower()
        self.origin = f"{settings.EXOTEL_API_SCHEME}://{connection.api_host}"
        self._http = httpx.Client(
            auth=(connection.api_key, connection.api_token),
            timeout=_timeout(),
            follow_redirects=False,
            headers={"Accept": "application/json", "User-Agent": f"Caly/{settings.APP_VERSION}"},
        )

    def __enter__(self) -> ExotelClient:
        return self

    def __exit__(self, *exc_info) -> None:
        self.close()

    def close(self) -> None:
        self._http.close()

    def _url(self, path: str) -> str:
        return f"{self.origin}/v1/Accounts/{quote(self.account_sid, safe='')}{path}"

    def _send(self, method: str, path: str, **kwargs: Any) -> dict[str, Any]:
        try:
            response = self._http.request(method, self._url(path), **kwargs)
        except httpx.TimeoutException:
            raise ExotelUnavailable("Exotel did not answer in time.") from None
        except httpx.TransportError as exc:
            logger.warning("Exotel request failed: %s: %s", type(exc).__name__, exc)
            raise ExotelUnavailable("Could not connect to Exotel; try again in a few minutes.") from None
        status = response.status_code
        if status in (401, 403):
            raise ExotelAuthError("Exotel refused the API key and token.", status_code=status)
        if status == 404:
            raise ExotelNotFound("Exotel has no such account or call.", status_code=status)
        if status == 429:
            raise ExotelUnavailable("Exotel is rate-limiting requests.", retry_after=retry_after_seconds(response))
        if status >= 500:
            raise ExotelUnavailable(f"Exotel answered HTTP {status}.", retry_after=retry_after_seconds(response))
        if status >= 400:
            reason = _error_message(response) or f"HTTP {status}"
            raise ExotelRefused(f"Exotel refused the request: {reason}", status_code=status)
        try:
            body = response.json()
        except ValueError:
            raise ExotelUnavailable("Exotel answered with something other than JSON.") from None
        if not isinstance(body, dict):
            raise ExotelUnavailable("Exotel answered with unexpected JSON.")
        return body

    def account_check(self) -> None:
        """The cheapest authenticated request: one call of the account's history. Raises ExotelError."""
        self._send("GET", "/Calls.json", params={"PageSize": 1})

    def call_details(self, call_sid: str) -> dict[str, Any]:
        """The `Call` object of the Call Details API, with `Details` (conversation duration, legs)."""
        body = self._send("GET", f"/Calls/{quote(call_sid, safe='')}.json", params={"details": "true"})
        call = body.get("Call")
        if not isinstance(call, dict):
            raise ExotelUnavailable("Exotel answered the call details without a Call.")
        return call

    def connect(self, form: dict[str, str]) -> dict[str, Any]:
        """Place a call connecting `From` (dialled first) to `To`; returns the `Call` object (with `Sid`)."""
        body = self._send("POST", "/Calls/connect.json", data=form)
        call = body.get("Call")
        if not isinstance(call, dict) or not call.get("Sid"):
            raise ExotelUnavailable("Exotel accepted the call but sent no call id.")
        return call

    @contextmanager
    def recording(self, url: str) -> Iterator[RecordingDownload]:
        """Stream a recording file; yields its content type, size (if sent) and chunks.

        Raises RecordingRefused (a URL or redirect outside the allowed hosts or resolving to an
        address that is not public, not audio), ExotelNotFound (not there yet), ExotelRefused
        (another 4xx) and ExotelUnavailable.
        """
        try:
            with httpx.Client(
                timeout=_timeout(),
                follow_redirects=False,
                trust_env=False,  # no proxy or .netrc from the environment: we connect where we checked
                headers={"User-Agent": f"Caly/{settings.APP_VERSION}"},
            ) as http:
                response, final_url = self._open_recording(http, url)
                try:
                    yield self._download(response, final_url)
                finally:
                    response.close()
        except httpx.TimeoutException:
            raise ExotelUnavailable("The recording download timed out.") from None
        except httpx.TransportError as exc:
            raise ExotelUnavailable(f"Could not download the recording ({type(exc).__name__}).") from None

    def _open_recording(self, http: httpx.Client, url: str) -> tuple[httpx.Response, str]:
        """GET `url`, following up to MAX_REDIRECTS redirects, each hop checked before it is requested."""
        first = None
        for _hop in range(MAX_REDIRECTS + 1):
            problem = recording_url_problem(url)
            if problem:
                raise RecordingRefused(problem)
            try:
                target = httpx.URL(url)
            except httpx.InvalidURL:
                raise RecordingRefused("The recording URL is not a valid URL.") from None
            first = first or target
            credentials = self._is_exotel(url) and _origin(target) == _origin(first)
            response = self._get_pinned(http, target, auth=self._http.auth if credentials else None)
            if not response.is_redirect:
                return response, url
            response.close()
            try:
                url = str(target.join(response.headers["Location"]))
            except httpx.InvalidURL:
                raise RecordingRefused("The recording server redirected to an invalid URL.") from None
        raise RecordingRefused("The recording URL redirects too many times.")

    def _get_pinned(self, http: httpx.Client, url: httpx.URL, *, auth) -> httpx.Response:
        """Send the GET to an address `url`'s host resolved to (all of them checked), trying each in turn."""

        def request_for(address_url: httpx.URL, headers: dict, extensions: dict) -> httpx.Request:
            return http.build_request("GET", address_url, headers=headers, extensions=extensions)

        try:
            return egress.send_pinned(
                http, request_for, url, allow_loopback=settings.EXOTEL_RECORDING_ALLOW_LOOPBACK, auth=auth, stream=True
            )
        except egress.AddressUnresolved as exc:
            raise ExotelUnavailable(str(exc)) from None
        except egress.AddressRefused as exc:
            raise RecordingRefused(f"Recordings are not fetched from {exc}") from None

    def _is_exotel(self, url: str) -> bool:
        parts = urlsplit(url)
        host = (parts.hostname or "").lower()
        netloc = f"{host}:{parts.port}" if parts.port else host
        return self.api_host in (host, netloc) or host.endswith(CREDENTIAL_DOMAINS)

    def _download(self, response: httpx.Response, url: str) -> RecordingDownload:
        status = response.status_code
        if status == 404:
            raise ExotelNotFound("The recording is not there yet (HTTP 404).", status_code=status)
        if status in (401, 403):
            raise ExotelAuthError(
                f"The recording server refused Caly's Exotel credentials (HTTP {status}).", status_code=status
            )
        if status == 429 or status >= 500:
            raise ExotelUnavailable(
                f"The recording server answered HTTP {status}.", retry_after=retry_after_seconds(response)
            )
        if status != 200:
            raise ExotelRefused(f"The recording server answered HTTP {status}.", status_code=status)
        content_type = audio_content_type(response.headers.get("Content-Type", ""), url)
        length = response.headers.get("Content-Length", "")
        size = int(length) if length.isdigit() else None
        if size is not None and size > settings.RECORDING_MAX_BYTES:
            raise RecordingRefused(f"The recording is larger than {settings.RECORDING_MAX_BYTES} bytes.")
        return RecordingDownload(content_type=content_type, size_bytes=size, chunks=response.iter_bytes(CHUNK_BYTES))


def audio_content_type(header: str, url: str) -> str:
    """The recording's audio type: the server's, or from the file's extension when the server is vague."""
    content_type = header.split(";", 1)[0].strip().lower()
    if content_type in GENERIC_TYPES:
        path = urlsplit(url).path.lower()
        content_type = next((kind for ext, kind in AUDIO_BY_EXTENSION.items() if path.endswith(ext)), "audio/mpeg")
    if not content_type.startswith("audio/"):
        raise RecordingRefused(f"The recording URL served {content_type!r}, not audio.")
    return content_type
