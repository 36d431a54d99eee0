"""Reads across every client for the staff System page. Cross-tenant on purpose: staff only."""

from __future__ import annotations

from datetime import datetime

from django.db.models import Count, Sum
from django_tasks import TaskResultStatus
from django_tasks_db.models import DBTaskResult

from integrations.models import WebhookEvent, WebhookStatus
from recordings.models import Recording, RecordingStatus


def failed_tasks(*, since: datetime, limit: int = 20) -> tuple[int, list[dict]]:
    """(how many tasks failed since `since`, the newest `limit` of them)."""
    failed = DBTaskResult.objects.filter(status=TaskResultStatus.FAILED, finished_at__gte=since)
    rows = list(
        failed.order_by("-finished_at").values("id", "task_path", "finished_at", "exception_class_path")[:limit]
    )
    return (failed.count() if len(rows) == limit else len(rows)), rows


def failed_webhook_events(*, since: datetime, limit: int = 20) -> tuple[int, list[WebhookEvent]]:
    """(how many deliveries received since `since` are failed, the newest `limit` of them)."""
    failed = WebhookEvent.objects.filter(status=WebhookStatus.FAILED, received_at__gte=since)
    rows = list(
        failed.select_related("client")
        .only(
            "pk",
            "public_id",
            "provider",
            "topic",
            "received_at",
            "attempts",
            "last_error",
            "next_attempt_at",
            "client__name",
        )
        .order_by("-received_at")[:limit]
    )
    return (failed.count() if len(rows) == limit else len(rows)), rows


def storage_by_client(*, limit: int = 50) -> list[dict]:
    """Bytes and count of stored recordings per client, largest first: one aggregate query."""
    return list(
        Recording.objects.filter(status=RecordingStatus.STORED)
        .values("client_id", "client__name", "client__public_id")
        .annotate(size_bytes=Sum("size_bytes"), recordings=Count("pk"))
        .order_by("-size_bytes", "client_id")[:limit]
    )
