"""Recording bytes in the configured storage (local files or S3/Wasabi), streamed, never whole in memory.

Keys: recordings/<client uuid>/<yyyy>/<mm>/<call uuid>.<ext>. The same call always maps to the same
key, so storing it again replaces one object instead of adding another.
"""

from __future__ import annotations

import functools
import hashlib
import mimetypes
from collections.abc import Iterable, Iterator
from typing import IO

from django.conf import settings
from django.core.files import File
from django.core.files.storage import FileSystemStorage, default_storage, storages

CHUNK_BYTES = 256 * 1024
EXTENSIONS = {"audio/mpeg": "mp3", "audio/mp3": "mp3", "audio/wav": "wav", "audio/x-wav": "wav", "audio/wave": "wav"}


class RecordingTooLarge(Exception):
    pass


def recording_key(*, client_public_id, call_public_id, started_at, content_type: str) -> str:
    extension = EXTENSIONS.get(content_type) or (mimetypes.guess_extension(content_type) or ".bin").lstrip(".")
    return f"recordings/{client_public_id}/{started_at:%Y}/{started_at:%m}/{call_public_id}.{extension}"


class HashingReader:
    """A read()-able view of a byte stream that counts and hashes what passes and enforces a size cap."""

    closed = False

    def __init__(self, source: IO[bytes] | Iterable[bytes], *, max_bytes: int):
        self._read = source.read if hasattr(source, "read") else _IterReader(source).read
        self.max_bytes = max_bytes
        self.size_bytes = 0
        self._sha256 = hashlib.sha256()

    def read(self, size: int = -1) -> bytes:
        data = self._read(CHUNK_BYTES if size is None or size < 0 else size)
        self.size_bytes += len(data)
        if self.size_bytes > self.max_bytes:
            raise RecordingTooLarge(f"the recording is larger than {self.max_bytes} bytes")
        self._sha256.update(data)
        return data

    def seekable(self) -> bool:
        return False

    @property
    def sha256(self) -> str:
        return self._sha256.hexdigest()


class _IterReader:
    def __init__(self, chunks: Iterable[bytes]):
        self._chunks: Iterator[bytes] = iter(chunks)
        # A bytearray grows in place; `bytes += chunk` would copy the whole buffer for every chunk.
        self._buffer = bytearray()

    def read(self, size: int) -> bytes:
        while len(self._buffer) < size:
            try:
                self._buffer += next(self._chunks)
            except StopIteration:
                break
        with memoryview(self._buffer) as view:
            data = bytes(view[:size])
        del self._buffer[:size]
        return data


class _StreamFile(File):
    """Hands storage backends our reader; chunks() reads it once, front to back."""

    def __init__(self, reader: HashingReader, name: str):
        super().__init__(reader, name=name)

    def chunks(self, chunk_size=None):
        while data := self.file.read(chunk_size or CHUNK_BYTES):
            yield data

    @property
    def size(self):  # unknown until read; backends that ask get None
        return None


def store_stream(
    *, key: str, stream: IO[bytes] | Iterable[bytes], content_type: str, max_bytes: int | None = None
) -> HashingReader:
    """Write `stream` under `key` (replacing any object there); returns the reader with size and sha256.

    At most `max_bytes` (default: RECORDING_MAX_BYTES) are stored; beyond that RecordingTooLarge is raised.
    """
    reader = HashingReader(stream, max_bytes=settings.RECORDING_MAX_BYTES if max_bytes is None else max_bytes)
    upload = _StreamFile(reader, name=key)
    upload.content_type = content_type
    try:
        saved = default_storage.save(key, upload)
    except Exception:
        # FileSystemStorage writes into the final path as bytes arrive: a stream that fails (too
        # large, the provider hung up) would leave a partial file under the key. S3 stores nothing
        # until the upload completes, and boto aborts a failed multipart upload.
        if is_local():
            default_storage.delete(key)
        raise
    if saved != key:  # a storage that renamed instead of overwriting would break idempotency
        default_storage.delete(saved)
        raise RuntimeError(f"storage saved {key!r} as {saved!r}; enable overwriting")
    return reader


def delete_object(key: str) -> None:
    if key:
        default_storage.delete(key)


def is_local() -> bool:
    return isinstance(default_storage, FileSystemStorage)


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
