"""A fake Exotel on 127.0.0.1 (pytest-httpserver), and deliveries shaped like Exotel's.

It answers what integrations.exotel asks, each behind Exotel's HTTP Basic auth (API key and token):
the account check (`/v1/Accounts/<sid>/Calls.json`), Call Details (`/Calls/<CallSid>.json`), the
connect API (`/Calls/connect.json`, form-encoded) and recording files (`/recordings/<name>`). On
demand a path fails with any status (429 with Retry-After too) or stalls longer than a short
test timeout. Every request it saw is in `requests`.

Import the fixtures a test module needs (they register as `exotel` and `exotel_connection`):

    from tests.exotel_fake import exotel_connection_fixture, exotel_fixture  # noqa: F401

`exotel` points the settings at the fake (EXOTEL_API_SCHEME http, the fake's host the only API host a
connection may name, so nothing is ever sent to Exotel's real hosts; recordings allowed from it only;
a 0.5 s read timeout); `exotel_connection` is client A's verified connection to it. Deliveries are built from
the documented fields (the samples in shared/fixtures/exotel, copied here so the tests stand alone).
"""

from __future__ import annotations

import atexit
import base64
import hashlib
import json
import logging
import re
import threading
import time
from collections import defaultdict, deque
from dataclasses import dataclass, field
from urllib.parse import parse_qsl, urlencode, urlsplit

import pytest
from django.utils import timezone
from pytest_httpserver import HTTPServer
from werkzeug import Request, Response

from integrations.exotel.services import exotel_callback_urls
from integrations.models import ExotelConnection

ACCOUNT_SID = "acmeapparel1"
API_KEY = "exotel-fake-api-key-3c2b1a"
API_TOKEN = "exotel-fake-api-token-8f7e6d5c4b"
EXOPHONE = "+918047112233"
TEST_TIMEOUT = (1.0, 0.5)  # connect, read: a stalled answer times out fast
STALL_SECONDS = 1.5
MP3 = b"ID3\x03\x00\x00\x00\x00\x00\x00" + bytes((i * 31 + 7) % 256 for i in range(48_000))
WAV = b"RIFF" + (44_000).to_bytes(4, "little") + b"WAVEfmt " + bytes(i % 199 for i in range(44_000))

# shared/fixtures/exotel/status_callback_completed.form, as fields.
STATUS_CALLBACK = {
    "CallSid": "b6cfaf0a7d2a4ba9bd8e3e5a2e41c1a1",
    "EventType": "terminal",
    "Status": "completed",
    "DateCreated": "2026-11-20 14:03:11",
    "DateUpdated": "2026-11-20 14:07:42",
    "From": "09812345678",
    "To": "08047112233",
    "PhoneNumberSid": "08047112233",
    "Direction": "inbound",
    "StartTime": "2026-11-20 14:03:11",
    "EndTime": "2026-11-20 14:07:40",
    "ConversationDuration": "261",
    "RecordingUrl": "https://recordings.exotel.example/caly-demo/b6cfaf0a7d2a4ba9bd8e3e5a2e41c1a1.mp3",
    "CustomField": "order-1042",
    "Legs[0][OnCallDuration]": "261",
    "Legs[0][Status]": "completed",
    "Legs[0][AnsweredBy]": "human",
}
# shared/fixtures/exotel/passthru_query.txt, as fields: quoted digits, the fake EndTime.
PASSTHRU = {
    "CallSid": "d1a2b3c4d5e6f7a8b9c0d1e2f3a4b5c6",
    "CallFrom": "09812345678",
    "CallTo": "08047112233",
    "CallStatus": "completed",
    "Direction": "incoming",
    "Created": "Fri, 20 Nov 2026 14:10:02",
    "DialCallDuration": "95",
    "StartTime": "2026-11-20 14:10:02",
    "EndTime": "1970-01-01 05:30:00",
    "CallType": "completed",
    "DialWhomNumber": "09900011122",
    "From": "09812345678",
    "To": "08047112233",
    "CurrentTime": "2026-11-20 14:11:45",
    "digits": '"2"',
    "RecordingUrl": "https://recordings.exotel.example/caly-demo/d1a2b3c4d5e6f7a8b9c0d1e2f3a4b5c6.mp3",
}


def status_callback(**changes) -> dict[str, str]:
    """A terminal StatusCallback; `changes` replace fields (None drops one)."""
    fields = {**STATUS_CALLBACK, **changes}
    return {key: value for key, value in fields.items() if value is not None}


def passthru(**changes) -> dict[str, str]:
    fields = {**PASSTHRU, **changes}
    return {key: value for key, value in fields.items() if value is not None}


def callback_path(connection: ExotelConnection, kind: str = "status_callback") -> str:
    """The path of the connection's callback URL ("status_callback" or "passthru"), for the test client."""
    return urlsplit(exotel_callback_urls(connection=connection)[kind]).path


def form(fields: dict) -> str:
    return urlencode(fields)


def multipart(fields: dict, boundary: str = "ExotelBoundary7MA4YWxk") -> tuple[bytes, str]:
    parts = [
        f'--{boundary}\r\nContent-Disposition: form-data; name="{key}"\r\n\r\n{value}\r\n'.encode()
        for key, value in fields.items()
    ]
    return b"".join(parts) + f"--{boundary}--\r\n".encode(), f"multipart/form-data; boundary={boundary}"


def json_body(fields: dict) -> str:
    """The JSON shape Exotel sends with StatusCallbackContentType=application/json (numbers as numbers)."""
    body = {key: value for key, value in fields.items() if not key.startswith("Legs[")}
    if "ConversationDuration" in body:
        body["ConversationDuration"] = int(body["ConversationDuration"])
    body["Legs"] = [{"OnCallDuration": body.get("ConversationDuration", 0), "Status": "completed"}]
    return json.dumps(body)


@dataclass
class Seen:
    method: str
    path: str
    query: dict[str, str]
    form: dict[str, str]
    authorization: str


@dataclass
class FakeExotel:
    server: HTTPServer
    # The one account it serves, and the API key and token that account answers to.
    account_sid: str = ACCOUNT_SID
    api_key: str = API_KEY
    api_token: str = API_TOKEN
    recordings: dict[str, tuple[bytes, str]] = field(default_factory=dict)
    calls: dict[str, dict] = field(default_factory=dict)
    next_sid: int = 1
    requests: list[Seen] = field(default_factory=list)
    _scripts: dict[str, deque] = field(default_factory=lambda: defaultdict(deque))
    _lock: threading.Lock = field(default_factory=threading.Lock)

    @property
    def host(self) -> str:
        return f"127.0.0.1:{self.server.port}"

    @property
    def origin(self) -> str:
        return f"http://{self.host}"

    def recording_url(self, name: str) -> str:
        return f"{self.origin}/recordings/{name}"

    def add_recording(self, name: str, data: bytes = MP3, content_type: str = "audio/mpeg") -> str:
        """Serve `data` at /recordings/<name>; returns its URL."""
        self.recordings[name] = (data, content_type)
        return self.recording_url(name)

    def add_large_recording(self, name: str, size_bytes: int) -> tuple[str, str]:
        """Serve `size_bytes` of generated audio, produced chunk by chunk (the fake never holds it whole);
        returns its URL and sha256."""
        self.recordings[name] = (_Generated(size_bytes), "audio/mpeg")
        digest = hashlib.sha256()
        for chunk in _Generated(size_bytes):
            digest.update(chunk)
        return self.recording_url(name), digest.hexdigest()

    def add_call(self, call_sid: str, **fields) -> dict:
        """What Call Details answers for `call_sid` (the `Call` object)."""
        call = {
            "Sid": call_sid,
            "ParentCallSid": "",
            "DateCreated": "2026-11-20 14:03:11",
            "DateUpdated": "2026-11-20 14:08:30",
            "AccountSid": ACCOUNT_SID,
            "To": "08047112233",
            "From": "09812345678",
            "PhoneNumberSid": "08047112233",
            "Status": "completed",
            "StartTime": "2026-11-20 14:03:11",
            "EndTime": "2026-11-20 14:07:40",
            "Duration": "269",
            "Price": "1.50",
            "Direction": "inbound",
            "AnsweredBy": "human",
            "RecordingUrl": None,
            "Details": {"ConversationDuration": 261, "Leg1Status": "completed", "Leg2Status": "completed"},
        }
        call.update(fields)
        self.calls[call_sid] = call
        return call

    def script(self, path: str, *steps) -> None:
        """The next answers at `path`, in order: an int status, (status, {headers}) — a 302 with a
        Location redirects —, "stall" (answers after STALL_SECONDS) or "ok"."""
        with self._lock:
            self._scripts[path].extend(steps)

    def seen(self, path_prefix: str = "") -> list[Seen]:
        return [r for r in self.requests if r.path.startswith(path_prefix)]

    # --- the server's side ---------------------------------------------------------------------

    def handle(self, request: Request) -> Response:
        self.requests.append(
            Seen(
                method=request.method,
                path=request.path,
                query=dict(request.args),
                form=dict(parse_qsl(request.get_data(as_text=True))) if request.method == "POST" else {},
                authorization=request.headers.get("Authorization", ""),
            )
        )
        with self._lock:
            step = self._scripts[request.path].popleft() if self._scripts[request.path] else "ok"
        if step == "stall":
            time.sleep(STALL_SECONDS)
            step = "ok"
        if step != "ok":
            status, headers = step if isinstance(step, tuple) else (step, {})
            return _json({"RestException": {"Status": status, "Message": f"Scripted {status}"}}, status, headers)
        expected = "Basic " + base64.b64encode(f"{self.api_key}:{self.api_token}".encode()).decode()
        if request.headers.get("Authorization") != expected:
            return _json({"RestException": {"Status": 401, "Message": "Authentication is required"}}, 401)
        return self._route(request)

    def _route(self, request: Request) -> Response:
        path = request.path
        if path.startswith("/recordings/"):
            name = path.removeprefix("/recordings/")
            if name not in self.recordings:
                return Response("Not found", status=404, content_type="text/plain")
            data, content_type = self.recordings[name]
            headers = {"Content-Length": str(len(data))}
            return Response(
                iter(data) if isinstance(data, _Generated) else data, 200, headers, content_type=content_type
            )
        prefix = f"/v1/Accounts/{self.account_sid}"
        if not path.startswith(prefix + "/"):
            return _json({"RestException": {"Status": 404, "Message": "No such account"}}, 404)
        rest = path.removeprefix(prefix)
        if rest == "/Calls.json" and request.method == "GET":
            return _json({"Metadata": {"PageSize": 1}, "Calls": list(self.calls.values())[:1]})
        if rest == "/Calls/connect.json" and request.method == "POST":
            return self._connect(request)
        if rest.startswith("/Calls/") and rest.endswith(".json") and request.method == "GET":
            call = self.calls.get(rest.removeprefix("/Calls/").removesuffix(".json"))
            if call is None:
                return _json({"RestException": {"Status": 404, "Message": "Call not found"}}, 404)
            return _json({"Call": call})
        return _json({"RestException": {"Status": 404, "Message": "Not found"}}, 404)

    def _connect(self, request: Request) -> Response:
        data = dict(parse_qsl(request.get_data(as_text=True)))
        missing = [name for name in ("From", "To", "CallerId") if not data.get(name)]
        if missing:
            message = f"Missing parameter {missing[0]}"
            return _json({"RestException": {"Status": 400, "Message": message}}, 400)
        with self._lock:
            sid = f"fakecall{self.next_sid:024d}"
            self.next_sid += 1
        call = self.add_call(
            sid,
            From=data["From"],
            To=data["To"],
            PhoneNumberSid=data["CallerId"],
            Status="in-progress",
            Direction="outbound-api",
            StartTime="2026-11-20 15:00:00",
            EndTime=None,
        )
        return _json({"Call": call})


class _Generated:
    """Deterministic bytes made on the fly, 64 KiB at a time."""

    CHUNK = 64 * 1024

    def __init__(self, size_bytes: int):
        self.size_bytes = size_bytes

    def __len__(self) -> int:
        return self.size_bytes

    def __iter__(self):
        block = bytes(range(256)) * (self.CHUNK // 256)
        for start in range(0, self.size_bytes, self.CHUNK):
            yield block[: min(self.CHUNK, self.size_bytes - start)]


def _json(body: dict, status: int = 200, headers: dict | None = None) -> Response:
    return Response(json.dumps(body), status=status, headers=headers or {}, content_type="application/json")


_server: HTTPServer | None = None


def _shared_server() -> HTTPServer:
    """One threaded server per test process: stalled answers must not hold up the others."""
    global _server
    if _server is None:
        # Its per-request lines would come from server threads, some after a test has ended (a
        # stalled answer the client gave up on) and its captured output is closed.
        logging.getLogger("werkzeug").setLevel(logging.WARNING)
        _server = HTTPServer(host="127.0.0.1", port=0, threaded=True)
        _server.start()
        atexit.register(_server.stop)
    return _server


@pytest.fixture(name="exotel")
def exotel_fixture(settings):
    """The fake Exotel, empty, with the settings pointed at it (and only it) for the test."""
    server = _shared_server()
    server.clear()
    fake = FakeExotel(server)
    server.expect_request(re.compile(".*")).respond_with_handler(fake.handle)
    settings.EXOTEL_API_SCHEME = "http"
    settings.EXOTEL_API_HOSTS = [fake.host]
    settings.EXOTEL_RECORDING_SCHEMES = ["http"]
    settings.EXOTEL_RECORDING_HOSTS = [fake.host]
    settings.INTEGRATION_HTTP_TIMEOUT = TEST_TIMEOUT
    yield fake
    server.clear()


@pytest.fixture(name="exotel_connection")
def exotel_connection_fixture(client_a, exotel):
    """Client A's Exotel connection, to the fake (api_host set directly: users may only pick Exotel's hosts)."""
    return ExotelConnection.objects.create(
        client=client_a,
        account_sid=ACCOUNT_SID,
        api_key=API_KEY,
        api_token=API_TOKEN,
        api_host=exotel.host,
        caller_ids=[EXOPHONE, "+918047119999"],
        verified_at=timezone.now(),
    )
