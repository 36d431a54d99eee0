"""Prometheus metrics and the `/metrics` endpoint that exposes them.

Under gunicorn every worker is its own process with its own counters. With PROMETHEUS_MULTIPROC_DIR
set (gunicorn.conf.py prepares it in the master before any worker starts), prometheus-client keeps
each process's values in files there and `/metrics` adds them up, whichever worker answers the
scrape. Without it (runserver, tests) the process's default registry is exposed.

Label values come from small fixed sets (URL pattern names, never raw paths; known HTTP methods;
providers; task paths): an unbounded label would grow every worker's files with each new value.
"""

from __future__ import annotations

import hmac
import ipaddress
import logging
import os

from django.conf import settings
from django.db.models import Case, Count, F, Min, When
from django.db.models.functions import Greatest
from django.dispatch import receiver
from django.http import Http404, HttpResponse
from django.utils import timezone
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_safe
from django_tasks import TaskResultStatus
from django_tasks.signals import task_enqueued, task_finished
from django_tasks_db.models import DBTaskResult, get_date_max
from prometheus_client import (
    CONTENT_TYPE_LATEST,
    REGISTRY,
    CollectorRegistry,
    Counter,
    Histogram,
    ProcessCollector,
    disable_created_metrics,
    generate_latest,
)
from prometheus_client.core import GaugeMetricFamily

from caly.foundation.http import client_ip
from caly.foundation.prometheus_multiprocess import LockedMultiProcessCollector
from caly.foundation.tasks import queue_is_database

logger = logging.getLogger("caly.metrics")
if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
    # gunicorn's master prepares it; a task worker started first on the host must not fail to count.
    os.makedirs(os.environ["PROMETHEUS_MULTIPROC_DIR"], exist_ok=True)
# `*_created` series only say when a process first counted something; the multi-process mode has none.
disable_created_metrics()

HTTP_REQUESTS = Counter(
    "caly_http_requests",
    "HTTP requests answered, by URL pattern name, method and status.",
    ["route", "method", "status"],
)
HTTP_REQUEST_DURATION = Histogram(
    "caly_http_request_duration_seconds",
    "Time from the request reaching Django to the response leaving it, by URL pattern name and method.",
    ["route", "method"],
)
WEBHOOK_EVENTS = Counter(
    "caly_webhook_events",
    "Webhook deliveries received (received, duplicate) and processing outcomes (processed, ignored, retried, failed).",
    ["provider", "outcome"],
)
TASKS = Counter("caly_tasks", "Background tasks enqueued, succeeded and failed, by task.", ["task", "outcome"])
RECORDING_FETCH_FAILURES = Counter(
    "caly_recording_fetch_failures", "Recording downloads from a provider that failed, by provider.", ["provider"]
)
RATE_LIMIT_REJECTIONS = Counter(
    "caly_rate_limit_rejections", "Requests refused with 429 by a rate limit, by limit group.", ["group"]
)

_METHODS = frozenset({"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"})
_STATIC_PREFIX = "/" + settings.STATIC_URL.lstrip("/")


def route_label(request) -> str:
    """The URL pattern's name (or its view's dotted path): one label value per route, whatever the ids in it."""
    match = getattr(request, "resolver_match", None)
    if match is not None:
        return match.view_name or match.route
    if request.path_info.startswith(_STATIC_PREFIX):
        return "static"  # answered by whitenoise before URL resolution
    return "unmatched"


def observe_request(request, status: int, duration_seconds: float) -> None:
    route = route_label(request)
    method = request.method if request.method in _METHODS else "other"
    HTTP_REQUESTS.labels(route, method, str(status)).inc()
    HTTP_REQUEST_DURATION.labels(route, method).observe(duration_seconds)


def record_webhook(provider: str, outcome: str) -> None:
    WEBHOOK_EVENTS.labels(provider, outcome).inc()


def record_fetch_failure(provider: str) -> None:
    RECORDING_FETCH_FAILURES.labels(provider).inc()


def record_rate_limited(group: str) -> None:
    RATE_LIMIT_REJECTIONS.labels(group).inc()


@receiver(task_enqueued, dispatch_uid="caly.foundation.metrics.task_enqueued")
def _task_enqueued(sender, task_result, **kwargs) -> None:
    TASKS.labels(task_result.task.module_path, "enqueued").inc()


@receiver(task_finished, dispatch_uid="caly.foundation.metrics.task_finished")
def _task_finished(sender, task_result, **kwargs) -> None:
    outcome = "succeeded" if task_result.status == TaskResultStatus.SUCCESSFUL else "failed"
    TASKS.labels(task_result.task.module_path, outcome).inc()


def task_queue_stats() -> dict[str, float]:
    """Tasks due to run now and how long the longest-waiting one has waited (0 when not queued in the database)."""
    if not queue_is_database():
        return {"depth": 0, "oldest_seconds": 0.0}
    # A deferred task (a retry with backoff) has waited only since its run_after came.
    due_since = Case(
        When(run_after=get_date_max(), then=F("enqueued_at")),
        default=Greatest("enqueued_at", "run_after"),
    )
    row = DBTaskResult.objects.ready().aggregate(depth=Count("pk"), oldest=Min(due_since))
    oldest = (timezone.now() - row["oldest"]).total_seconds() if row["oldest"] else 0.0
    return {"depth": row["depth"], "oldest_seconds": max(oldest, 0.0)}


class TaskQueueCollector:
    """Queue depth read from the database at scrape time: the same figure whichever process answers."""

    def describe(self):
        return self._families()

    def collect(self):
        try:
            stats = task_queue_stats()
        except Exception as exc:  # the scrape still answers (the other metrics) while the database is down
            logger.warning("Task queue depth unavailable: %s", exc)
            return []
        depth, oldest = self._families()
        depth.add_metric([], stats["depth"])
        oldest.add_metric([], stats["oldest_seconds"])
        return [depth, oldest]

    @staticmethod
    def _families():
        return [
            GaugeMetricFamily("caly_task_queue_depth", "Tasks waiting in the database queue, due to run now."),
            GaugeMetricFamily(
                "caly_task_queue_oldest_seconds", "How long the longest-waiting due task has waited for a worker."
            ),
        ]


_task_queue_collector = TaskQueueCollector()
REGISTRY.register(_task_queue_collector)


def _registry() -> CollectorRegistry:
    path = os.environ.get("PROMETHEUS_MULTIPROC_DIR")
    if not path:
        return REGISTRY
    registry = CollectorRegistry()
    LockedMultiProcessCollector(registry, path=path)
    registry.register(_task_queue_collector)
    # The process_* metrics of gunicorn's master, whose start time is the instance's (workers are recycled
    # every few thousand requests): the "restarting often" alert reads it (docs/prometheus/alerts.yml).
    ProcessCollector(pid=os.getppid, registry=registry)
    return registry


def _address_allowed(request) -> bool:
    networks = settings.METRICS_ALLOWED_IPS
    if not networks:
        return False
    address = ipaddress.ip_address(client_ip(request))
    return any(address in network for network in networks)


def _refusal(request) -> HttpResponse | None:
    """None when the caller may scrape; otherwise the answer (404 when /metrics is not configured at all)."""
    token = settings.METRICS_TOKEN
    if not token and not settings.METRICS_ALLOWED_IPS:
        if settings.DEBUG:
            return None
        raise Http404("Metrics are not exposed.")
    if _address_allowed(request):
        return None
    header = request.headers.get("Authorization", "")
    if token and header.startswith("Bearer "):
        if hmac.compare_digest(header[7:].encode(), token.encode()):
            return None
        return HttpResponse("Invalid metrics token.\n", status=403, content_type="text/plain; charset=utf-8")
    if token:
        response = HttpResponse("Metrics token required.\n", status=401, content_type="text/plain; charset=utf-8")
        response["WWW-Authenticate"] = 'Bearer realm="metrics"'
        return response
    return HttpResponse("Not allowed from this address.\n", status=403, content_type="text/plain; charset=utf-8")


@never_cache
@require_safe
def metrics_view(request):
    refusal = _refusal(request)
    if refusal is not None:
        return refusal
    return HttpResponse(generate_latest(_registry()), content_type=CONTENT_TYPE_LATEST)
