"""Processes the benchmarks start beside themselves on 127.0.0.1: a moto S3 server, children with logs.

No Django here: the benchmarks import this before (or without) setting Django up.
"""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import boto3
from botocore.config import Config

ROOT = Path(__file__).resolve().parent.parent
S3_BUCKET = "caly-bench-recordings"
S3_REGION = "ap-southeast-1"
S3_KEY, S3_SECRET = "caly-bench-access-key", "caly-bench-secret-key"  # moto accepts any

_MOTO = """
import sys
from moto.server import ThreadedMotoServer
server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
server.start()
print(server.get_host_and_port()[1], flush=True)
sys.stdin.read()
server.stop()
"""


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@contextlib.contextmanager
def moto_s3():
    """A moto S3 server in a child process (as tests/s3.py runs it) with an empty bucket: (endpoint, boto3 client)."""
    process = subprocess.Popen(
        [sys.executable, "-c", _MOTO],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,  # a log line per request
        text=True,
        start_new_session=True,
    )
    try:
        endpoint = f"http://127.0.0.1:{process.stdout.readline().strip()}"
        s3 = boto3.client(
            "s3",
            endpoint_url=endpoint,
            region_name=S3_REGION,
            aws_access_key_id=S3_KEY,
            aws_secret_access_key=S3_SECRET,
            config=Config(s3={"addressing_style": "path"}),
        )
        s3.create_bucket(Bucket=S3_BUCKET, CreateBucketConfiguration={"LocationConstraint": S3_REGION})
        yield endpoint, s3
    finally:
        process.stdin.close()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)


def s3_env(endpoint: str) -> dict[str, str]:
    """The environment variables that point Caly's storage at the moto server."""
    return {
        "STORAGE_BACKEND": "s3",
        "S3_ENDPOINT_URL": endpoint,
        "S3_REGION_NAME": S3_REGION,
        "S3_BUCKET_NAME": S3_BUCKET,
        "S3_ACCESS_KEY_ID": S3_KEY,
        "S3_SECRET_ACCESS_KEY": S3_SECRET,
        # The benchmarks take no backups; production settings otherwise refuse a shared bucket.
        "BACKUP_SHARED_STORAGE_ALLOWED": "true",
    }


@contextlib.contextmanager
def child(command: list[str], *, env: dict, log: Path):
    """A child process with its output in `log`; SIGTERM at the end (SIGKILL to its group after 30 s)."""
    with log.open("w") as out:
        process = subprocess.Popen(
            command, cwd=ROOT, env=env, stdout=out, stderr=subprocess.STDOUT, start_new_session=True
        )
    try:
        yield process
    finally:
        if process.poll() is None:
            process.send_signal(signal.SIGTERM)
            try:
                process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                os.killpg(process.pid, signal.SIGKILL)
                process.wait(timeout=10)


def memory_kib(pid: int | str = "self") -> tuple[int, int]:
    """(VmRSS, VmHWM) of a process in KiB; (0, 0) once it is gone."""
    values = {}
    with contextlib.suppress(OSError):
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            name, _, rest = line.partition(":")
            if name in ("VmRSS", "VmHWM"):
                values[name] = int(rest.split()[0])
    return values.get("VmRSS", 0), values.get("VmHWM", 0)


def vacuum_analyze(connection) -> float:
    """VACUUM ANALYZE the whole benchmark database; returns the seconds it took (about one).

    Every load run leaves dead rows behind: the callbacks' calls are deleted, their tasks finish, and each call
    updates its 15-minute stats bucket. Where autovacuum is off (as on the PostgreSQL server these figures were
    measured on) they pile up and each run is slower than the one before; this puts every run on the same footing.
    """
    started = time.perf_counter()
    with connection.cursor() as cursor:
        cursor.execute("VACUUM ANALYZE")
    return time.perf_counter() - started
