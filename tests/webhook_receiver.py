"""A client's webhook receiver on 127.0.0.1 (pytest-httpserver, threaded): it records every request and
answers from a script (status, headers, body, an optional stall), then 200 once the script runs out."""

from __future__ import annotations

import atexit
import logging
import re
import threading
import time
from collections import deque
from dataclasses import dataclass, field

import pytest
from pytest_httpserver import HTTPServer
from werkzeug import Request, Response


@dataclass
class Received:
    path: str
    headers: dict[str, str]
    body: bytes

    @property
    def text(self) -> str:
        return self.body.decode()


@dataclass
class Answer:
    status: int = 200
    body: str = "ok"
    headers: dict[str, str] = field(default_factory=dict)
    stall_seconds: float = 0.0


@dataclass
class Receiver:
    server: HTTPServer
    received: list[Received] = field(default_factory=list)
    script: deque = field(default_factory=deque)
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def url(self, path: str = "/hooks/caly") -> str:
        return f"http://127.0.0.1:{self.server.port}{path}"

    def answer(self, *answers: Answer) -> None:
        self.script.extend(answers)

    def handle(self, request: Request) -> Response:
        with self._lock:
            self.received.append(Received(request.path, dict(request.headers), request.get_data()))
            answer = self.script.popleft() if self.script else Answer()
        if answer.stall_seconds:
            time.sleep(answer.stall_seconds)
        return Response(answer.body, status=answer.status, headers=answer.headers)

    def on(self, path: str) -> list[Received]:
        return [request for request in self.received if request.path == path]


_server: HTTPServer | None = None


def _shared_server() -> HTTPServer:
    global _server
    if _server is None:
        logging.getLogger("werkzeug").setLevel(logging.WARNING)
        _server = HTTPServer(host="127.0.0.1", port=0, threaded=True)
        _server.start()
        atexit.register(_server.stop)
    return _server


@pytest.fixture(name="receiver")
def receiver_fixture():
    server = _shared_server()
    server.clear()
    fake = Receiver(server)
    server.expect_request(re.compile(".*")).respond_with_handler(fake.handle)
    yield fake
    server.clear()
