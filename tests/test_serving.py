"""Real gunicorn, started as deployed (the Procfile's `python -m caly.serve`, reading gunicorn.conf.py).

The settings are tests.serving.settings: the test settings plus a `slow/` view that sleeps without
touching the database. Only 127.0.0.1 is used, on a free port.
"""

import contextlib
import http.client
import os
import signal
import subprocess
import threading
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests.serving import PYTHON, ROOT, clean_env, free_port

pytestmark = pytest.mark.slow

WORKERS = 2
THREADS = 2
GRACEFUL_TIMEOUT = 20
SLOW_SECONDS = 2


def get(port: int, path: str, headers: dict[str, str] | None = None, timeout: float = 5) -> tuple[int, dict, str]:
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=timeout)
    try:
        connection.request("GET", path, headers=headers or {})
        response = connection.getresponse()
        return response.status, dict(response.getheaders()), response.read().decode()
    finally:
        connection.close()


@dataclass
class Server:
    process: subprocess.Popen
    port: int
    inflight: Path
    log: Path

    def output(self) -> str:
        return self.log.read_text(errors="replace")


@contextlib.contextmanager
def gunicorn(tmp_path: Path) -> Iterator[Server]:
    port = free_port()
    inflight = tmp_path / "inflight"
    inflight.mkdir()
    env = clean_env(
        tmp_path,
        DJANGO_SETTINGS_MODULE="tests.serving.settings",
        DATABASE_URL=f"sqlite:///{tmp_path}/db.sqlite3",  # never the developer's database
        BIND_ADDRESS="127.0.0.1",
        PORT=str(port),
        WEB_CONCURRENCY=str(WORKERS),
        GUNICORN_THREADS=str(THREADS),
        GUNICORN_GRACEFUL_TIMEOUT=str(GRACEFUL_TIMEOUT),
        CALY_TEST_INFLIGHT_DIR=str(inflight),
    )
    log = tmp_path / "gunicorn.log"
    with log.open("w") as out:
        # Its own process group, so a fallback kill reaches the workers too.
        process = subprocess.Popen(
            [PYTHON, "-m", "caly.serve"],
            cwd=ROOT,
            env=env,
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    server = Server(process, port, inflight, log)
    try:
        wait_until_live(server)
        yield server
    finally:
        stop(process)


def stop(process: subprocess.Popen) -> None:
    """SIGTERM (workers exit with the master), then SIGKILL to the whole group if it hangs."""
    if process.poll() is None:
        process.terminate()
        try:
            process.wait(timeout=GRACEFUL_TIMEOUT + 5)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait(timeout=10)


def wait_until_live(server: Server, timeout: float = 30) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if server.process.poll() is not None:
            pytest.fail(f"gunicorn exited with {server.process.returncode}:\n{server.output()}")
        with contextlib.suppress(OSError):
            if get(server.port, "/health/live", timeout=2)[0] == 200:
                return
        time.sleep(0.1)
    pytest.fail(f"gunicorn did not answer /health/live within {timeout}s:\n{server.output()}")


def wait_for(condition, timeout: float) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return True
        time.sleep(0.05)
    return False


def test_it_finishes_in_flight_requests_and_exits_cleanly_on_sigterm(tmp_path):
    in_flight = WORKERS * THREADS
    results: dict[int, tuple[int, str] | BaseException] = {}

    def request(port: int, n: int) -> None:
        try:
            status, _, body = get(port, f"/slow/?seconds={SLOW_SECONDS}&id={n}", timeout=30)
            results[n] = (status, body)
        except BaseException as exc:  # recorded and asserted on below
            results[n] = exc

    with gunicorn(tmp_path) as server:
        clients = [threading.Thread(target=request, args=(server.port, n), daemon=True) for n in range(in_flight)]
        for client in clients:
            client.start()
        # Signal while all of them are outstanding. gunicorn does not balance connections between
        # workers, so one worker may hold a third request queued for a free thread: wait until one
        # worker's threads are busy, give the rest a moment to be accepted, and check none finished.
        started = wait_for(lambda: len(list(server.inflight.iterdir())) >= THREADS, timeout=15)
        assert started, server.output()
        time.sleep(0.5)
        assert results == {}, "every request should still be in flight when SIGTERM is sent"

        server.process.send_signal(signal.SIGTERM)
        for client in clients:
            client.join(timeout=30)

        assert results == dict.fromkeys(range(in_flight), (200, "done")), server.output()
        assert len(list(server.inflight.iterdir())) == in_flight
        assert server.process.wait(timeout=30) == 0, server.output()


def test_it_echoes_the_request_id_through_gunicorn(tmp_path):
    request_id = f"deploy-check-{uuid.uuid4().hex}"

    with gunicorn(tmp_path) as server:
        status, headers, _ = get(server.port, "/health/live", headers={"X-Request-ID": request_id})
        _, fresh_headers, _ = get(server.port, "/health/live")

    assert status == 200
    assert headers["X-Request-ID"] == request_id
    assert uuid.UUID(fresh_headers["X-Request-ID"])  # none sent: the server makes one
