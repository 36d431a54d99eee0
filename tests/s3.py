"""Storage fixtures: real S3 over HTTP (a moto server on 127.0.0.1) and local files under tmp_path.

Import the fixtures a test module needs:

    from tests.s3 import local_storage, s3_storage  # noqa: F401

`s3_storage` switches `settings.STORAGES["default"]` to django-storages' S3Storage with the options
caly/settings/base.py gives it for Wasabi, pointed at a moto `ThreadedMotoServer` on 127.0.0.1 and a
port the OS picks. boto3 talks real HTTP to it; nothing in boto is patched. The server runs in a child
Python process, started on first use and stopped when the test process exits, so what it holds (a
whole object in memory when a multipart upload completes) never counts in a test's `tracemalloc`
figures of the code under test. Every test gets a freshly reset server with one empty bucket. Both
fixtures need only pytest's own fixtures, so importing one name is enough.

Moto accepts tampered signatures, so these tests cannot catch signing or expiry bugs
(shared/reference/external-apis.md, section 3).
"""

from __future__ import annotations

import atexit
import subprocess
import sys
import urllib.request
from dataclasses import dataclass
from email.message import Message
from pathlib import Path
from typing import Any

import boto3
import pytest
from botocore.config import Config
from django.conf import settings
from django.test import override_settings

S3_REGION = "ap-southeast-1"
S3_BUCKET = "caly-recordings-test"
S3_ACCESS_KEY = "caly-test-access-key"
S3_SECRET_KEY = "caly-test-secret-key"  # moto accepts any key
BACKUP_BUCKET = "caly-backups-test"
BACKUP_ACCESS_KEY = "caly-test-backup-access-key"
BACKUP_SECRET_KEY = "caly-test-backup-secret-key"

# Runs in the child: start the server on a free port, print the port, serve until stdin closes.
_SERVER = """
import sys
from moto.server import ThreadedMotoServer
server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
server.start()
print(server.get_host_and_port()[1], flush=True)
sys.stdin.read()
server.stop()
"""

# Loopback only, whatever HTTP(S)_PROXY the environment sets.
_opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))


def http_get(url: str, headers: dict[str, str] | None = None, timeout: float = 30) -> tuple[int, Message, bytes]:
    """GET a URL (a presigned one, say) without proxies: status, headers (case-insensitive), body."""
    with _opener.open(urllib.request.Request(url, headers=headers or {}), timeout=timeout) as response:
        return response.status, response.headers, response.read()


@dataclass
class S3:
    """The test bucket, with a plain boto3 client for looking inside it."""

    endpoint_url: str
    bucket: str
    client: Any

    def keys(self, prefix: str = "") -> list[str]:
        pages = self.client.get_paginator("list_objects_v2").paginate(Bucket=self.bucket, Prefix=prefix)
        return [item["Key"] for page in pages for item in page.get("Contents", [])]

    def read(self, key: str) -> bytes:
        return self.client.get_object(Bucket=self.bucket, Key=key)["Body"].read()

    def multipart_uploads(self) -> list[dict]:
        return self.client.list_multipart_uploads(Bucket=self.bucket).get("Uploads", [])


@dataclass
class Local:
    """The MEDIA_ROOT folder of the test."""

    root: Path

    def keys(self, prefix: str = "") -> list[str]:
        found = (path.relative_to(self.root).as_posix() for path in self.root.rglob("*") if path.is_file())
        return sorted(key for key in found if key.startswith(prefix))

    def read(self, key: str) -> bytes:
        return (self.root / key).read_bytes()

    def multipart_uploads(self) -> list[dict]:
        return []


def s3_options(endpoint_url: str) -> dict[str, Any]:
    """The OPTIONS caly/settings/base.py gives S3Storage when STORAGE_BACKEND=s3, for the test server."""
    return {
        "client_config": settings.S3_CLIENT_CONFIG,
        "endpoint_url": endpoint_url,
        "region_name": S3_REGION,
        "bucket_name": S3_BUCKET,
        "access_key": S3_ACCESS_KEY,
        "secret_key": S3_SECRET_KEY,
        "addressing_style": "path",
        "signature_version": "s3v4",
        "default_acl": None,
        "querystring_auth": True,
        "querystring_expire": settings.PRESIGNED_URL_EXPIRY_SECONDS,
        "file_overwrite": True,
    }


class _MotoServer:
    """One moto server per test process, started on first use and stopped at exit."""

    def __init__(self):
        self._process: subprocess.Popen | None = None
        self.endpoint_url = ""
        atexit.register(self.stop)

    def start(self) -> str:
        if self._process is None or self._process.poll() is not None:
            self._process = subprocess.Popen(
                [sys.executable, "-c", _SERVER],
                stdin=subprocess.PIPE,
                stdout=subprocess.PIPE,
                stderr=subprocess.DEVNULL,
                text=True,
            )
            port = self._process.stdout.readline().strip()
            if not port.isdigit():
                self.stop()
                raise RuntimeError("the moto server did not start (is moto[server] installed?)")
            self.endpoint_url = f"http://127.0.0.1:{port}"
        return self.endpoint_url

    def stop(self) -> None:
        process, self._process = self._process, None
        if process is None:
            return
        process.stdin.close()  # the child stops its server and exits
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()

    def reset(self) -> None:
        request = urllib.request.Request(f"{self.endpoint_url}/moto-api/reset", method="POST")
        with _opener.open(request, timeout=10) as response:
            response.read()


moto_server = _MotoServer()


@pytest.fixture
def s3_storage():
    """`default_storage` is S3Storage on the moto server during the test, with one empty bucket;
    yields an `S3` view of that bucket. The previous STORAGES come back after."""
    endpoint_url = moto_server.start()
    moto_server.reset()
    client = boto3.client(
        "s3",
        endpoint_url=endpoint_url,
        region_name=S3_REGION,
        aws_access_key_id=S3_ACCESS_KEY,
        aws_secret_access_key=S3_SECRET_KEY,
        config=Config(signature_version="s3v4", s3={"addressing_style": "path"}),
    )
    client.create_bucket(Bucket=S3_BUCKET, CreateBucketConfiguration={"LocationConstraint": S3_REGION})
    s3 = {"BACKEND": "storages.backends.s3.S3Storage", "OPTIONS": s3_options(endpoint_url)}
    storages = {**settings.STORAGES, "default": s3, "backups": s3}  # backups share it, until `backup_bucket`
    # override_settings sends setting_changed, which makes default_storage re-read STORAGES (and
    # restoring it does the same on the way out).
    with override_settings(STORAGES=storages):
        yield S3(endpoint_url=endpoint_url, bucket=S3_BUCKET, client=client)
    moto_server.reset()


@pytest.fixture
def local_storage(tmp_path):
    """`default_storage` is FileSystemStorage under a fresh tmp folder, overwriting as in base.py."""
    root = tmp_path / "media"
    root.mkdir()
    local = {
        "BACKEND": "django.core.files.storage.FileSystemStorage",
        "OPTIONS": {"location": str(root), "allow_overwrite": True},
    }
    storages = {**settings.STORAGES, "default": local, "backups": local}
    with override_settings(STORAGES=storages, MEDIA_ROOT=str(root)):
        yield Local(root=root)


@pytest.fixture
def backup_bucket(s3_storage):
    """With `s3_storage`: backups go to a bucket of their own on the same moto server, under other keys
    (STORAGES["backups"] as caly/settings/base.py builds it from BACKUP_S3_*); yields an `S3` view of it."""
    client = boto3.client(
        "s3",
        endpoint_url=s3_storage.endpoint_url,
        region_name=S3_REGION,
        aws_access_key_id=BACKUP_ACCESS_KEY,
        aws_secret_access_key=BACKUP_SECRET_KEY,
        config=Config(signature_version="s3v4", s3={"addressing_style": "path"}),
    )
    client.create_bucket(Bucket=BACKUP_BUCKET, CreateBucketConfiguration={"LocationConstraint": S3_REGION})
    options = {
        **s3_options(s3_storage.endpoint_url),
        "bucket_name": BACKUP_BUCKET,
        "access_key": BACKUP_ACCESS_KEY,
        "secret_key": BACKUP_SECRET_KEY,
    }
    del options["querystring_auth"], options["querystring_expire"]  # backups are never downloaded by URL
    storages = {**settings.STORAGES, "backups": {"BACKEND": "storages.backends.s3.S3Storage", "OPTIONS": options}}
    with override_settings(STORAGES=storages):
        yield S3(endpoint_url=s3_storage.endpoint_url, bucket=BACKUP_BUCKET, client=client)
