"""Recording bytes in the configured storage (local files or S3/Wasabi), streamed, never whole in memory.

Keys: recordings/<client uuid>/<yyyy>/<mm>/<call uuid>.<ext>. The same call always maps to the same
key, so storing it again replaces one object instead of adding another.
"""

from __future__ import annotations

import functools
import mimetypes
from collections.abc import Iterable
from typing import IO

from django.conf import settings
from django.core.files.storage import default_storage, storages

from caly.foundation import storage
from caly.foundation.storage import HashingReader, StreamTooLarge, is_local

CHUNK_BYTES = storage.CHUNK_BYTES  # downloads read recordings in the chunks they were stored in
EXTENSIONS = {"audio/mpeg": "mp3", "audio/mp3": "mp3", "audio/wav": "wav", "audio/x-wav": "wav", "audio/wave": "wav"}


class RecordingTooLarge(StreamTooLarge):
    pass


def recording_key(*, client_public_id, call_public_id, started_at, content_type: str) -> str:
    extension = EXTENSIONS.get(content_type) or (mimetypes.guess_extension(content_type) or ".bin").lstrip(".")
    return f"recordings/{client_public_id}/{started_at:%Y}/{started_at:%m}/{call_public_id}.{extension}"


def store_stream(
    *, key: str, stream: IO[bytes] | Iterable[bytes], content_type: str, max_bytes: int | None = None
) -> HashingReader:
    """Write `stream` under `key` (replacing any object there); returns the reader with size and sha256.

    At most `max_bytes` (default: RECORDING_MAX_BYTES) are stored; beyond that RecordingTooLarge is raised.
    """
    limit = settings.RECORDING_MAX_BYTES if max_bytes is None else max_bytes
    try:
        return storage.store_stream(key=key, stream=stream, content_type=content_type, max_bytes=limit)
    except StreamTooLarge:
        raise RecordingTooLarge(f"the recording is larger than {limit} bytes") from None


def delete_object(key: str) -> None:
    if key:
        default_storage.delete(key)


def presigned_url(key: str, *, filename: str, attachment: bool) -> str:
    """A short-lived GET URL for the object, signed with the process's one S3 client (no request to S3)."""
    disposition = f'{"attachment" if attachment else "inline"}; filename="{filename}"'
    s3 = storages["default"]
    return _signing_client(s3).generate_presigned_url(
        "get_object",
        Params={"Bucket": s3.bucket_name, "Key": key, "ResponseContentDisposition": disposition},
        ExpiresIn=settings.PRESIGNED_URL_EXPIRY_SECONDS,
    )


@functools.lru_cache(maxsize=4)
def _signing_client(s3):
    """One boto3 client per storage and process. django-storages keeps a boto3 resource per thread, and
    making one loads botocore's service models: about 100 ms of CPU holding the GIL, so the first download
    on each gunicorn thread (after every worker restart) stalled the worker's other requests too. Clients,
    unlike resources, are thread-safe, and signing needs nothing else."""
    return s3.connection.meta.client


def prepare() -> None:
    """Make the process's signing client now (a web worker calls this before taking requests)."""
    if not is_local():
        _signing_client(storages["default"])


def open_object(key: str):
    return default_storage.open(key, "rb")


def object_size(key: str) -> int:
    return default_storage.size(key)
