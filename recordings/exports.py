"""Starting an export of calls: small ones stream in the answer, large ones are written by the worker.

The API's export and the calls page's Export button both come here, so they audit the same way and
agree on which exports are large (more than CALL_EXPORT_STREAM_MAX_ROWS calls match).
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import timedelta
from typing import Any

from django.conf import settings
from django.db import transaction
from django.utils import timezone

from accounts.models import Client, User
from caly.foundation.tasks import enqueue_with_transaction
from recordings import csv_export, selectors, services, tasks
from recordings.models import CallExport


def call_export_start(*, client: Client, actor: User, filters: Mapping[str, Any]) -> CallExport | None:
    """Audit an export of the calls matching `filters` (validated) and, when more than
    CALL_EXPORT_STREAM_MAX_ROWS match, queue the worker's export and return it; None: stream it now."""
    threshold = settings.CALL_EXPORT_STREAM_MAX_ROWS
    matching = selectors.call_list(client=client, filters=dict(filters), viewer=actor).order_by().values("id")
    count = matching[: threshold + 1].count()
    large = count > threshold
    with transaction.atomic():
        audited = {**filters, "written_by_worker": True} if large else filters
        services.calls_export_record(client=client, actor=actor, filters=audited)
        if not large:
            return None
        estimate = selectors.call_count(client=client, filters=filters, viewer=actor)
        export = CallExport(
            client=client,
            requested_by=actor,
            filters=csv_export.filters_to_json(filters),
            rows_expected=min(estimate.count, settings.CALL_EXPORT_MAX_ROWS),
            # Until it is written: a queued export nobody's worker ever runs is purged after this too.
            expires_at=timezone.now() + timedelta(hours=settings.CALL_EXPORT_KEEP_HOURS),
        )
        export.full_clean()
        export.save()
        enqueue_with_transaction(tasks.export_calls, export.pk)
    return export
