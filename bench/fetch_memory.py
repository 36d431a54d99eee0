"""Peak memory of the Exotel recording fetch task on a 200 MB recording, into local storage and into S3.

Run by hand, never in the test suite (see bench/README.md):

    DATABASE_URL=postgres://postgres@127.0.0.1:5432/caly_bench .venv/bin/python bench/fetch_memory.py

A fake Exotel recording server (its own process, on 127.0.0.1) generates the file chunk by chunk. For each
storage a fresh process runs `integrations.exotel.tasks.fetch_recording` as the worker does: first on a
small file (imports, connections and pools are made then), then, after resetting the kernel's peak-RSS
mark (/proc/self/clear_refs), on the large one. The figure is the peak RSS (VmHWM) during the large
fetch minus the RSS before it: what one fetch adds to a worker. moto's S3 server runs in a third process.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.harness import ROOT, free_port, memory_kib, moto_s3, s3_env

MIB = 1024 * 1024
TARGET_MIB = 50.0

_FAKE_EXOTEL = r"""
import sys
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

BLOCK = b"ID3\x03\x00\x00\x00\x00\x00\x00" + bytes(i % 251 for i in range(64 * 1024 - 10))

class Recording(BaseHTTPRequestHandler):
    def do_GET(self):  # /recordings/<size in bytes>.mp3
        size = int(self.path.rsplit("/", 1)[1].split(".")[0])
        self.send_response(200)
        self.send_header("Content-Type", "audio/mpeg")
        self.send_header("Content-Length", str(size))
        self.end_headers()
        sent = 0
        while sent < size:
            chunk = BLOCK[: min(len(BLOCK), size - sent)]
            self.wfile.write(chunk)
            sent += len(chunk)

    def log_message(self, *args):
        pass

server = ThreadingHTTPServer(("127.0.0.1", int(sys.argv[1])), Recording)
print("ready", flush=True)
server.serve_forever()
"""


def measure(*, exotel: str, size: int, warmup: int) -> dict:
    """In the child: fetch a small then a large recording with the task; the large one's memory figures."""
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "caly.settings.local")
    os.environ.setdefault("LOG_LEVEL", "warning")
    import django

    django.setup()
    from django.conf import settings
    from django.core.files.storage import storages
    from django.utils import timezone

    from accounts.models import Client
    from integrations.exotel.tasks import fetch_recording
    from integrations.models import ExotelConnection
    from recordings import storage
    from recordings.models import Call, Recording

    settings.DEBUG = False  # no query log growing meanwhile
    settings.EXOTEL_RECORDING_HOSTS = [exotel]  # the fake speaks plain HTTP on 127.0.0.1
    settings.EXOTEL_RECORDING_SCHEMES = ["http"]
    settings.EXOTEL_RECORDING_ALLOW_LOOPBACK = True  # the fake Exotel is on 127.0.0.1
    client, _ = Client.objects.get_or_create(slug="bench-fetch", defaults={"name": "Bench fetch"})
    if not ExotelConnection.objects.filter(client=client).exists():
        ExotelConnection.objects.create(
            client=client,
            account_sid="benchfetch",
            api_key="bench",
            api_token="never-checked-by-the-fake",  # noqa: S106
            api_host="api.exotel.com",
        )

    def fetch(size_bytes: int) -> tuple[Recording, float]:
        call = Call.objects.create(
            client=client,
            provider_call_id=f"fetch-{time.time_ns()}",
            direction="inbound",
            from_number="+919812345678",
            to_number="+918047112233",
            status="completed",
            started_at=timezone.now(),
            duration_seconds=60,
        )
        recording = Recording.objects.create(
            client=client,
            call=call,
            started_at=call.started_at,
            source_url=f"http://{exotel}/recordings/{size_bytes}.mp3",
        )
        started = time.perf_counter()
        fetch_recording.call(recording.pk)
        return Recording.objects.get(pk=recording.pk), time.perf_counter() - started

    made = []
    try:
        small, _ = fetch(warmup)
        made.append(small)
        Path("/proc/self/clear_refs").write_text("5")  # peak RSS := current RSS
        before, _ = memory_kib()
        large, seconds = fetch(size)
        made.append(large)
        after, peak = memory_kib()
        return {
            "backend": storages["default"].__class__.__name__,
            "status": large.status,
            "last_error": large.last_error,
            "size_bytes": large.size_bytes,
            "seconds": seconds,
            "rss_before_kib": before,
            "rss_after_kib": after,
            "peak_kib": peak,
        }
    finally:
        for recording in made:
            if recording.storage_key:
                storage.delete_object(recording.storage_key)
        Recording.objects.filter(client=client).delete()
        Call.objects.filter(client=client).delete()


def run_child(*, storage_env: dict, exotel: str, size: int, warmup: int) -> dict:
    env = {**os.environ, **storage_env, "PYTHONPATH": str(ROOT)}
    result = subprocess.run(
        [sys.executable, __file__, "--child", exotel, "--size-mb", str(size // MIB), "--warmup-mb", str(warmup // MIB)],
        env=env,
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )
    if result.returncode:
        raise SystemExit(f"the measuring process failed:\n{result.stdout}\n{result.stderr}")
    return json.loads(result.stdout.strip().splitlines()[-1])


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--size-mb", type=int, default=200, help="size of the large recording (default 200)")
    parser.add_argument("--warmup-mb", type=int, default=8, help="size of the first, untimed recording")
    parser.add_argument("--child", metavar="EXOTEL_HOST", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        print(json.dumps(measure(exotel=args.child, size=args.size_mb * MIB, warmup=args.warmup_mb * MIB)))
        return 0

    port = free_port()
    fake = subprocess.Popen(
        [sys.executable, "-c", _FAKE_EXOTEL, str(port)], stdout=subprocess.PIPE, text=True, start_new_session=True
    )
    results = {}
    try:
        fake.stdout.readline()
        exotel = f"127.0.0.1:{port}"
        size, warmup = args.size_mb * MIB, args.warmup_mb * MIB
        with tempfile.TemporaryDirectory(prefix="caly-bench-fetch-") as media:
            local = {"STORAGE_BACKEND": "local", "MEDIA_ROOT": media}
            results["local files"] = run_child(storage_env=local, exotel=exotel, size=size, warmup=warmup)
        with moto_s3() as (endpoint, _):
            results["S3 (moto)"] = run_child(storage_env=s3_env(endpoint), exotel=exotel, size=size, warmup=warmup)
    finally:
        fake.terminate()
        fake.wait(timeout=10)

    print()
    print(f"fetch_recording of a {args.size_mb} MB recording (after a {args.warmup_mb} MB one), in a fresh process")
    print(f"load average {' '.join(f'{v:.2f}' for v in os.getloadavg())}")
    print(f"{'storage':<12} {'status':<7} {'seconds':>7} {'RSS before':>10} {'peak':>8} {'added':>8}  target")
    missed = 0
    for name, result in results.items():
        added = (result["peak_kib"] - result["rss_before_kib"]) / 1024
        stored = result["status"] == "stored" and result["size_bytes"] == size
        met = stored and added < TARGET_MIB
        missed += not met
        print(
            f"{name:<12} {result['status']:<7} {result['seconds']:>7.1f} {result['rss_before_kib'] / 1024:>6.0f} MiB"
            f" {result['peak_kib'] / 1024:>4.0f} MiB {added:>4.0f} MiB  < {TARGET_MIB:g} MiB"
            f" {'ok' if met else 'MISSED'}"
        )
        if not stored:
            print(f"{'':<12} not stored: {result['last_error']}")
    return 1 if missed else 0


if __name__ == "__main__":
    sys.exit(main())
