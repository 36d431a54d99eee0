"""Serving recording bytes: a presigned redirect for S3, or a ranged stream for local files.

A local file is opened before the answer starts, so storage that cannot be read (a volume not
mounted) is a 503 the player can retry, not a 500 or a stream cut short.
"""

from __future__ import annotations

import logging
import re
from typing import Any

from django.http import HttpResponse, HttpResponseRedirect, StreamingHttpResponse
from django.utils import timezone

from caly.foundation.errors import DomainError, ErrorCode
from recordings import storage
from recordings.models import CallExport, Recording

logger = logging.getLogger("caly.recordings")
STORAGE_RETRY_AFTER_SECONDS = 30

_RANGE = re.compile(r"bytes=([0-9]{0,18})-([0-9]{0,18})")


def parse_range(header: str | None, size: int) -> tuple[int, int] | bool | None:
    """(first, last) byte positions of a single satisfiable range; None to send everything;
    False when the range cannot be satisfied (416). Malformed and multiple ranges are ignored (200)."""
    match = _RANGE.fullmatch((header or "").strip())
    if not match:
        return None
    first, last = match.groups()
    if not first and not last:
        return None
    if not first:  # the last N bytes
        length = int(last)
        if length == 0:
            return False
        return max(0, size - length), size - 1
    start = int(first)
    end = min(int(last), size - 1) if last else size - 1
    if start >= size or (last and int(last) < start):
        return False
    return start, end


def _stream(handle, start: int, length: int):
    with handle:
        handle.seek(start)
        remaining = length
        while remaining > 0:
            chunk = handle.read(min(storage.CHUNK_BYTES, remaining))
            if not chunk:
                break
            remaining -= len(chunk)
            yield chunk


def _open_stored(key: str, *, what: str, public_id) -> tuple[int, Any]:
    """The size and an open handle of a stored object (local storage). Raises DomainError SERVICE_UNAVAILABLE
    when storage cannot read it."""
    try:
        return storage.object_size(key), storage.open_object(key)
    except OSError as exc:
        logger.error("The %s %s cannot be read from storage: %s", what, public_id, exc)
        raise DomainError(
            ErrorCode.SERVICE_UNAVAILABLE,
            f"The {what} cannot be read from storage right now; try again shortly.",
            retry_after=STORAGE_RETRY_AFTER_SECONDS,
        ) from None


def recording_response(recording: Recording, *, range_header: str | None, attachment: bool) -> HttpResponse:
    filename = f"call-{recording.call.public_id}.{recording.storage_key.rsplit('.', 1)[-1]}"
    if not storage.is_local():
        return HttpResponseRedirect(
            storage.presigned_url(recording.storage_key, filename=filename, attachment=attachment)
        )
    size, handle = _open_stored(recording.storage_key, what="recording", public_id=recording.public_id)
    wanted = parse_range(range_header, size)
    if wanted is False:
        handle.close()
        response = HttpResponse(status=416)
        response["Content-Range"] = f"bytes */{size}"
        return response
    start, end = wanted if wanted else (0, size - 1)
    length = end - start + 1 if size else 0
    content_type = recording.content_type if recording.content_type.startswith("audio/") else ""
    response = StreamingHttpResponse(
        _stream(handle, start, length),
        status=206 if wanted else 200,
        content_type=content_type or "application/octet-stream",
    )
    response["Content-Security-Policy"] = "sandbox; default-src 'none'"
    if wanted:
        response["Content-Range"] = f"bytes {start}-{end}/{size}"
    response["Content-Length"] = str(length)
    response["Accept-Ranges"] = "bytes"
    response["Content-Disposition"] = f'{"attachment" if attachment else "inline"}; filename="{filename}"'
    response["Cache-Control"] = "private, max-age=0, must-revalidate"
    if recording.sha256:
        response["ETag"] = f'"{recording.sha256}"'
    return response


def export_response(export: CallExport) -> HttpResponse:
    """A written calls export: a presigned redirect (S3) or the file streamed (local storage)."""
    filename = f"calls-{timezone.localtime(export.created_at):%Y%m%d-%H%M%S}.csv"
    if not storage.is_local():
        return HttpResponseRedirect(storage.presigned_url(export.storage_key, filename=filename, attachment=True))
    size, handle = _open_stored(export.storage_key, what="export", public_id=export.public_id)
    response = StreamingHttpResponse(_stream(handle, 0, size), content_type="text/csv; charset=utf-8")
    response["Content-Length"] = str(size)
    response["Content-Disposition"] = f'attachment; filename="{filename}"'
    response["Cache-Control"] = "no-store"
    return response
