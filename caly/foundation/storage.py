"""Streaming into the configured storage (local files or S3/Wasabi): bytes pass through, counted and
hashed on the way, and are never held whole in memory or on local disk."""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Iterator
from typing import IO

from django.core.files import File
from django.core.files.storage import FileSystemStorage, Storage, default_storage

CHUNK_BYTES = 256 * 1024


class StreamTooLarge(Exception):
    pass


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
            raise StreamTooLarge(f"the stream is larger than {self.max_bytes} bytes")
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
    *,
    key: str,
    stream: IO[bytes] | Iterable[bytes],
    content_type: str,
    max_bytes: int,
    storage: Storage | None = None,
) -> HashingReader:
    """Write `stream` under `key` (replacing any object there) in `storage` (default: the default
    storage); returns the reader with size and sha256.

    At most `max_bytes` are stored; beyond that StreamTooLarge is raised and nothing stays under `key`.
    """
    storage = default_storage if storage is None else storage
    reader = HashingReader(stream, max_bytes=max_bytes)
    upload = _StreamFile(reader, name=key)
    upload.content_type = content_type
    try:
        saved = storage.save(key, upload)
    except Exception:
        # FileSystemStorage writes into the final path as bytes arrive: a stream that fails (too
        # large, the provider hung up) would leave a partial file under the key. S3 stores nothing
        # until the upload completes, and boto aborts a failed multipart upload.
        if is_local(storage):
            storage.delete(key)
        raise
    if saved != key:  # a storage that renamed instead of overwriting would break idempotency
        storage.delete(saved)
        raise RuntimeError(f"storage saved {key!r} as {saved!r}; enable overwriting")
    return reader


def is_local(storage: Storage | None = None) -> bool:
    """Whether the storage (default: the default storage) is a folder on this machine (not S3)."""
    return isinstance(default_storage if storage is None else storage, FileSystemStorage)
