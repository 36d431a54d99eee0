"""The staff "System" page in the admin: is Caly healthy, is work piling up, what failed today, who
stores how much. A handful of aggregate queries, so it stays fast however large the tables grow."""

from __future__ import annotations

from datetime import timedelta

from django.conf import settings
from django.contrib import admin
from django.template.response import TemplateResponse
from django.utils import timezone

from caly import selectors
from caly.foundation import health, metrics
from caly.foundation.tasks import queue_is_database

WINDOW = timedelta(hours=24)


def system(request):
    since = timezone.now() - WINDOW
    failed_tasks_count, failed_tasks = selectors.failed_tasks(since=since)
    failed_events_count, failed_events = selectors.failed_webhook_events(since=since)
    context = {
        **admin.site.each_context(request),
        "title": "System",
        "app_version": settings.APP_VERSION,
        "health": health.readiness_report(),
        "queue": metrics.task_queue_stats(),
        "queue_is_database": queue_is_database(),
        "failed_tasks_count": failed_tasks_count,
        "failed_tasks": failed_tasks,
        "failed_events_count": failed_events_count,
        "failed_events": failed_events,
        "storage": selectors.storage_by_client(),
    }
    return TemplateResponse(request, "admin/system.html", context)
