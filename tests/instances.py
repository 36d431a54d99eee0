"""Caly's processes, started for real by the fault, restart and scale-out tests: gunicorn (as the Procfile
starts it), task workers, and a Redis of the test's own.

Nothing here imports Django or pytest, so tests/loadgen.py and scripts can use it too. Every process
gets its own session (process group), so stopping it reaches its children as well.
"""

from __future__ import annotations

import contextlib
import http.client
import os
import re
import shutil
import signal
import socket
import subprocess
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

from tests.serving import PYTHON, ROOT, clean_env, free_port

START_TIMEOUT = 60


class StartError(RuntimeError):
    pass


def http_get(port: int, path: str, *, timeout: float = 5, headers: dict[str, str] | None = None):
    """(status, headers, body text) of one GET on a connection of its own."""
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=timeout)
    try:
        connection.request("GET", path, headers=headers or {})
        response = connection.getresponse()
        return response.status, dict(response.getheaders()), response.read().decode(errors="replace")
    finally:
        connection.close()


def _stop(process: subprocess.Popen, *, timeout: float) -> None:
    """SIGTERM, then SIGKILL to the whole process group if it does not exit in time."""
    if process.poll() is None:
        with contextlib.suppress(ProcessLookupError):
            process.terminate()
        try:
            process.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(process.pid, signal.SIGKILL)
            process.wait(timeout=10)


@dataclass
class Process:
    process: subprocess.Popen
    log: Path

    @property
    def pid(self) -> int:
        return self.process.pid

    def output(self) -> str:
        return self.log.read_text(errors="replace")

    def running(self) -> bool:
        return self.process.poll() is None


def spawn(command: list[str], env: dict[str, str], log: Path) -> Process:
    with log.open("a") as out:
        process = subprocess.Popen(
            command, cwd=ROOT, env=env, stdout=out, stderr=subprocess.STDOUT, start_new_session=True
        )
    return Process(process, log)


def manage(env: dict[str, str], *args: str, timeout: float = 120) -> str:
    """Run `manage.py <args>` in a subprocess with `env`; its output, or StartError with it."""
    result = subprocess.run(
        [PYTHON, "manage.py", *args], cwd=ROOT, env=env, capture_output=True, text=True, timeout=timeout, check=False
    )
    if result.returncode != 0:
        raise StartError(f"manage.py {' '.join(args)} exited with {result.returncode}:\n{result.stdout}{result.stderr}")
    return result.stdout


# --- gunicorn -------------------------------------------------------------------------------------


@dataclass
class Gunicorn(Process):
    port: int
    graceful_timeout: float = 30
    booted: list[int] = field(default_factory=list)

    def worker_pids(self) -> list[int]:
        return [int(pid) for pid in re.findall(r"Booting worker with pid: (\d+)", self.output())]

    def ready_workers(self, since_master: int | None = None) -> list[int]:
        """Workers that loaded the application (gunicorn.conf.py's post_worker_init line), of the
        master `since_master` and later ones (a USR2 upgrade logs to the same file)."""
        output = self.output()
        if since_master is not None:
            output = output[output.index(f"({since_master})") :]
        return [int(pid) for pid in re.findall(r"Worker ready \(pid: (\d+)\)", output)]

    def masters(self) -> list[int]:
        """Every master that started with this log, oldest first: the one started, then USR2's."""
        return [int(pid) for pid in re.findall(r"Listening at: \S+ \((\d+)\)", self.output())]

    def wait_until_live(self, *, workers: int = 1, timeout: float = START_TIMEOUT) -> None:
        """Until /health/live answers and `workers` workers have loaded the application."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if not self.running():
                raise StartError(f"gunicorn exited with {self.process.returncode}:\n{self.output()}")
            if len(self.ready_workers()) >= workers:
                with contextlib.suppress(OSError):
                    if http_get(self.port, "/health/live", timeout=2)[0] == 200:
                        return
            time.sleep(0.1)
        raise StartError(f"gunicorn did not answer /health/live within {timeout}s:\n{self.output()}")

    def signal(self, signum: int) -> None:
        self.process.send_signal(signum)

    def stop(self) -> None:
        _stop(self.process, timeout=self.graceful_timeout + 10)


def start_gunicorn(env: dict[str, str], log: Path, *, port: int | None = None, workers: int = 2) -> Gunicorn:
    """`python -m caly.serve` (the Procfile's web line) on 127.0.0.1; returns once it answers."""
    port = port or free_port()
    env = {"BIND_ADDRESS": "127.0.0.1", "WEB_CONCURRENCY": str(workers), **env, "PORT": str(port)}
    spawned = spawn([PYTHON, "-m", "caly.serve"], env, log)
    server = Gunicorn(spawned.process, log, port, float(env.get("GUNICORN_GRACEFUL_TIMEOUT", 30)))
    try:
        server.wait_until_live(workers=workers)
    except StartError:
        server.stop()
        raise
    return server


@contextlib.contextmanager
def gunicorn(env: dict[str, str], log: Path, **options) -> Iterator[Gunicorn]:
    server = start_gunicorn(env, log, **options)
    try:
        yield server
    finally:
        server.stop()


def stop_pid(pid: int, *, timeout: float = 40) -> None:
    """SIGTERM a process that is not our child (a master started by USR2) and wait for it to go."""
    with contextlib.suppress(ProcessLookupError):
        os.kill(pid, signal.SIGTERM)
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            return
        time.sleep(0.1)
    with contextlib.suppress(ProcessLookupError):
        os.kill(pid, signal.SIGKILL)


# --- task workers ---------------------------------------------------------------------------------


@contextlib.contextmanager
def task_worker(env: dict[str, str], log: Path, *args: str) -> Iterator[Process]:
    """`manage.py run_worker` (the Procfile's worker line), stopped with SIGTERM at the end."""
    worker = spawn([PYTHON, "manage.py", "run_worker", *args], env, log)
    try:
        yield worker
    finally:
        _stop(worker.process, timeout=30)


# --- Redis ----------------------------------------------------------------------------------------


def redis_available() -> bool:
    return shutil.which("redis-server") is not None


@contextlib.contextmanager
def redis_server(folder: Path) -> Iterator[int]:
    """A throwaway redis-server on 127.0.0.1 and a free port, nothing persisted; yields the port."""
    port = free_port()
    folder.mkdir(parents=True, exist_ok=True)
    command = [
        shutil.which("redis-server") or "redis-server",
        "--bind",
        "127.0.0.1",
        "--port",
        str(port),
        "--save",
        "",
        "--appendonly",
        "no",
        "--dir",
        str(folder),
    ]
    server = spawn(command, clean_env(folder), folder / "redis.log")
    try:
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            with contextlib.suppress(OSError), socket.create_connection(("127.0.0.1", port), 1) as sock:
                sock.sendall(b"PING\r\n")
                if sock.recv(16).startswith(b"+PONG"):
                    break
            if not server.running():
                raise StartError(f"redis-server exited:\n{server.output()}")
            time.sleep(0.05)
        else:
            raise StartError(f"redis-server did not answer on {port}:\n{server.output()}")
        yield port
    finally:
        _stop(server.process, timeout=10)
