"""Calls as CSV: the rows and cells of an export, streamed in an answer or written to storage by the worker.

One definition of the file for both ways: the columns, the order (the list's, as `ordering` says), the
local times and the formula-safe cells. `call_export_run` is the worker's part of a large export
(recordings/exports.py starts one); it writes `exports/<client uuid>/<export uuid>.csv` and counts its
rows as it goes, so the progress page can show them.
"""

from __future__ import annotations

import csv
import io
import itertools
import logging
import re
import zoneinfo
from collections.abc import Callable, Iterator, Mapping
from datetime import date, timedelta
from typing import Any
from uuid import UUID

from django.conf import settings
from django.core.files.storage import default_storage
from django.db import transaction
from django.utils import timezone

from accounts.models import Client, User
from caly.foundation import storage
from recordings import selectors, tags
from recordings.models import E164_PATTERN, CallExport, CallExportStatus

logger = logging.getLogger("caly.recordings")

CSV_COLUMNS = [
    "id",
    "started_at",
    "direction",
    "from_number",
    "to_number",
    "status",
    "duration_seconds",
    "is_resolved",
    "customer_satisfaction",
    "has_recording",
    "notes",
]
# The file's header: the columns read from the calls, with the call's tags before the notes (long, last).
CSV_HEADER = [*CSV_COLUMNS[:-1], "tags", CSV_COLUMNS[-1]]
_FORMULA_PREFIXES = ("=", "+", "-", "@", "\t", "\r")
# A whole cell of + and digits is a number to a spreadsheet, never a formula that can call anything.
_E164_CELL = re.compile(E164_PATTERN)
# Calls read and tagged per round trip (the Tags column: one query per batch).
EXPORT_BATCH = 2000
# The worker writes the progress every this many rows (one UPDATE each).
PROGRESS_EVERY_ROWS = 1000
# A file larger than this is refused by storage (CALL_EXPORT_MAX_ROWS keeps far below it).
MAX_FILE_BYTES = 4 * 1024**3
_DAY_FILTERS = ("started_from", "started_to")


def csv_safe(value) -> str:
    """Spreadsheets run cells that start with = + - @ tab CR as formulas: prefix them with a quote.

    A phone number in E.164 form is written as it is.
    """
    text = "" if value is None else str(value)
    if _E164_CELL.fullmatch(text):
        return text
    return "'" + text if text.startswith(_FORMULA_PREFIXES) else text


def csv_chunks(
    *,
    client: Client,
    filters: Mapping[str, Any],
    viewer: User | None = None,
    on_rows: Callable[[int], None] | None = None,
) -> Iterator[str]:
    """The header and the matching calls (at most CALL_EXPORT_MAX_ROWS, in the list's order), a chunk of text a
    row; `viewer` is whom `agent=me` means; `on_rows(n)` hears the count every PROGRESS_EVERY_ROWS rows and at
    the end. The Tags column comes before the notes (long, last), one query per EXPORT_BATCH calls."""
    rows = (
        selectors.call_list(client=client, filters=dict(filters), viewer=viewer)
        .order_by(*selectors.call_ordering(filters))
        .values_list("pk", "public_id", *CSV_COLUMNS[1:])[: settings.CALL_EXPORT_MAX_ROWS]
    )
    local = timezone.localtime
    zone = zoneinfo.ZoneInfo(client.timezone)
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    writer.writerow(CSV_HEADER)
    written = 0
    read = rows.iterator(chunk_size=EXPORT_BATCH)
    while batch := list(itertools.islice(read, EXPORT_BATCH)):
        names = tags.tag_names_by_call(call_ids=[row[0] for row in batch])
        for row in batch:
            values = list(row[1:])
            values[1] = local(values[1], zone).isoformat()
            values.insert(-1, "; ".join(names.get(row[0], ())))
            writer.writerow([csv_safe(value) for value in values])
            yield buffer.getvalue()
            buffer.seek(0)
            buffer.truncate()
            written += 1
            if on_rows and written % PROGRESS_EVERY_ROWS == 0:
                on_rows(written)
    yield buffer.getvalue()
    if on_rows:
        on_rows(written)


def filters_to_json(filters: Mapping[str, Any]) -> dict[str, Any]:
    """Validated filters as JSON (days and ids as text), for an export's row."""
    return {
        name: value.isoformat() if isinstance(value, date) else str(value) if isinstance(value, UUID) else value
        for name, value in filters.items()
        if value not in (None, "")
    }


def filters_from_json(stored: Mapping[str, Any]) -> dict[str, Any]:
    """The inverse of filters_to_json."""
    filters = dict(stored)
    for name in _DAY_FILTERS:
        if filters.get(name):
            filters[name] = date.fromisoformat(filters[name])
    if filters.get("customer"):
        filters["customer"] = UUID(filters["customer"])
    return filters


def export_key(export: CallExport) -> str:
    return f"exports/{export.client.public_id}/{export.public_id}.csv"


def call_export_run(*, export_id: int) -> str:
    """Write the export's CSV to storage, counting rows as it goes; returns its status. Safe to run twice: a
    finished export is left alone, an interrupted one is written again from the start under the same key."""
    with transaction.atomic():
        export = (
            CallExport.objects.select_for_update(of=("self",))
            .select_related("client", "requested_by")
            .filter(pk=export_id)
            .first()
        )
        if export is None or export.status in (CallExportStatus.DONE, CallExportStatus.FAILED):
            return export.status if export else "missing"
        export.status = CallExportStatus.RUNNING
        export.rows_written = 0
        export.save(update_fields=["status", "rows_written"])
    key = export_key(export)

    def progress(rows: int) -> None:
        CallExport.objects.filter(pk=export.pk).update(rows_written=rows)

    chunks = csv_chunks(
        client=export.client, filters=filters_from_json(export.filters), viewer=export.requested_by, on_rows=progress
    )
    try:
        written = storage.store_stream(
            key=key,
            stream=(chunk.encode() for chunk in chunks),
            content_type="text/csv; charset=utf-8",
            max_bytes=MAX_FILE_BYTES,
        )
    except Exception as exc:  # storage or the database failed: the page says so instead of waiting forever
        logger.exception("Calls export %s failed", export.public_id)
        CallExport.objects.filter(pk=export.pk).update(
            status=CallExportStatus.FAILED,
            error=f"The file could not be written ({type(exc).__name__}); export again.",
            finished_at=timezone.now(),
        )
        return CallExportStatus.FAILED
    CallExport.objects.filter(pk=export.pk).update(
        status=CallExportStatus.DONE,
        storage_key=key,
        size_bytes=written.size_bytes,
        finished_at=timezone.now(),
        expires_at=timezone.now() + timedelta(hours=settings.CALL_EXPORT_KEEP_HOURS),
    )
    return CallExportStatus.DONE


def call_exports_purge_expired(*, now=None) -> int:
    """Delete the files of exports past their expiry and the exports themselves; returns how many."""
    now = now or timezone.now()
    purged = 0
    for export in CallExport.objects.filter(expires_at__lt=now).iterator(chunk_size=500):
        if export.storage_key:
            default_storage.delete(export.storage_key)
        export.delete()
        purged += 1
    return purged
