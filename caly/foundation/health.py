"""Liveness, readiness and a detailed report for monitors and load balancers.

/health/live answers without I/O. /health/ready checks every dependency a request needs and
answers 503 naming the failing one, so a load balancer stops sending traffic; it also answers 503
while the instance drains before a restart (DRAIN_FILE), while every request it is sent still works.
"""

from __future__ import annotations

import hmac
import os
import platform
import threading
import time
import uuid
import weakref
from collections.abc import Callable

import django
from botocore.config import Config as BotoConfig
from botocore.exceptions import ClientError
from django.conf import settings
from django.core.cache import caches
from django.core.files.storage import FileSystemStorage, storages
from django.db import DEFAULT_DB_ALIAS, InterfaceError, OperationalError, connections
from django.db.migrations.executor import MigrationExecutor
from django.http import JsonResponse
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_safe
from django_tasks_db.models import DBTaskResult

from caly.foundation.adapters.storages import s3_session

STARTED_AT = time.monotonic()
_migrations_applied = False


# A held connection that the database dropped (a restart) fails at once; an unreachable database
# takes connect_timeout. Only the first is retried, so a hung database still answers in one timeout.
STALE_CONNECTION_SECONDS = 1.0


def check_database() -> None:
    connection = connections[DEFAULT_DB_ALIAS]
    started = time.monotonic()
    try:
        _select_one(connection)
    except (OperationalError, InterfaceError):
        if time.monotonic() - started > STALE_CONNECTION_SECONDS:
            raise
        connection.close()  # a dead persistent or pooled connection is not an outage: try a fresh one
        _select_one(connection)


def _select_one(connection) -> None:
    with connection.cursor() as cursor:
        cursor.execute("SELECT 1")
        cursor.fetchone()


def check_cache() -> None:
    # Every alias: "default" hides Redis errors by design (a miss), "ratelimit" raises them.
    for alias in settings.CACHES:
        store = caches[alias]
        key, value = f"health:{uuid.uuid4().hex}", uuid.uuid4().hex
        store.set(key, value, timeout=10)
        if store.get(key) != value:
            raise RuntimeError(f"cache {alias!r}: the value written was not read back")
        store.delete(key)


def check_storage() -> None:
    storage = storages["default"]
    if isinstance(storage, FileSystemStorage):
        location = storage.location
        os.makedirs(location, exist_ok=True)
        if not (os.path.isdir(location) and os.access(location, os.W_OK)):
            raise RuntimeError("media folder is not writable")
        return
    # Any S3 call that reaches the bucket proves endpoint, credentials and bucket together.
    try:
        _storage_probe_client(storage).head_object(Bucket=storage.bucket_name, Key="health/.probe")
    except ClientError as exc:
        if exc.response.get("Error", {}).get("Code") not in ("404", "NoSuchKey"):
            raise


# The storage's own client retries a hung S3 for over a minute (settings.S3_CLIENT_CONFIG); the
# probe gets one attempt with short timeouts, so readiness answers while S3 hangs.
_STORAGE_PROBE_CONFIG = BotoConfig(connect_timeout=2, read_timeout=2, retries={"total_max_attempts": 1})
_storage_probe_clients: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()
_storage_probe_lock = threading.Lock()


def _storage_probe_client(storage):
    with _storage_probe_lock:
        client = _storage_probe_clients.get(storage)
        if client is None:
            client = s3_session(storage).client(  # the same credentials as the storage
                "s3",
                region_name=storage.region_name,
                use_ssl=storage.use_ssl,
                endpoint_url=storage.endpoint_url,
                verify=storage.verify,
                config=storage.client_config.merge(_STORAGE_PROBE_CONFIG),
            )
            _storage_probe_clients[storage] = client
        return client


def check_migrations() -> None:
    global _migrations_applied
    if _migrations_applied:  # once applied, they stay applied for this process's code
        return
    connection = connections[DEFAULT_DB_ALIAS]
    executor = MigrationExecutor(connection)
    pending = executor.migration_plan(executor.loader.graph.leaf_nodes())
    if pending:
        raise RuntimeError(f"{len(pending)} unapplied migration(s)")
    _migrations_applied = True


CHECKS: dict[str, Callable[[], None]] = {
    "database": check_database,
    "cache": check_cache,
    "storage": check_storage,
    "migrations": check_migrations,
}
# More sections of /health/detailed, registered by higher layers (integrations adds "secrets": stored
# secrets no configured key decrypts). Each returns a dict with a "status"; they do not change readiness.
DETAILED_REPORTS: dict[str, Callable[[], dict]] = {}
# A check that cannot pass while another fails is not run then: with the database unreachable, the
# migrations check would only wait out a second connect_timeout before failing too.
NEEDS = {"migrations": "database"}


def readiness_report() -> dict:
    components = {}
    for name, check in CHECKS.items():
        needed = NEEDS.get(name)
        if needed and components[needed]["status"] != "ok":
            components[name] = {"status": "failing", "latency_ms": 0.0, "error": f"not checked: {needed} is failing"}
            continue
        started = time.perf_counter()
        try:
            check()
        except Exception as exc:  # a health check reports every failure, whatever its type
            status, error = "failing", f"{type(exc).__name__}: {exc}"[:300]
        else:
            status, error = "ok", None
        components[name] = {"status": status, "latency_ms": round((time.perf_counter() - started) * 1000, 2)}
        if error:
            components[name]["error"] = error
    healthy = all(c["status"] == "ok" for c in components.values())
    return {"status": "ok" if healthy else "unavailable", "components": components}


@never_cache
@require_safe
def live(request):
    return JsonResponse({"status": "ok"})


def draining() -> bool:
    """The operator asked this instance to drain (settings.DRAIN_FILE exists): take no new traffic."""
    return bool(settings.DRAIN_FILE) and os.path.exists(settings.DRAIN_FILE)


@never_cache
@require_safe
def ready(request):
    if draining():
        return JsonResponse({"status": "draining", "failing": ["draining"]}, status=503)
    report = readiness_report()
    failing = [name for name, c in report["components"].items() if c["status"] != "ok"]
    body = {"status": report["status"]}
    if failing:
        body["failing"] = failing
    return JsonResponse(body, status=200 if not failing else 503)


@never_cache
@require_safe
def summary(request):
    report = readiness_report()
    body = {"status": report["status"], "components": {n: c["status"] for n, c in report["components"].items()}}
    return JsonResponse(body, status=200 if report["status"] == "ok" else 503)


def _may_see_details(request) -> bool:
    user = getattr(request, "user", None)
    if user is not None and user.is_authenticated and user.is_staff:
        return True
    token = settings.HEALTH_TOKEN
    header = request.headers.get("Authorization", "")
    return bool(token) and header.startswith("Bearer ") and hmac.compare_digest(header[7:].encode(), token.encode())


@never_cache
@require_safe
def detailed(request):
    if not _may_see_details(request):
        return JsonResponse({"status": "forbidden", "detail": "Staff login or HEALTH_TOKEN required."}, status=403)
    report = readiness_report()
    body = {
        **report,
        "version": settings.APP_VERSION,
        "python": platform.python_version(),
        "django": django.get_version(),
        "uptime_seconds": round(time.monotonic() - STARTED_AT, 1),
        "queue": _queue_depth(),
    }
    for name, section in DETAILED_REPORTS.items():
        try:
            body[name] = section()
        except Exception as exc:  # the report must still answer when a section cannot be read
            body[name] = {"status": "failing", "error": f"{type(exc).__name__}: {exc}"[:300]}
    return JsonResponse(body, status=200 if report["status"] == "ok" else 503)


def _queue_depth() -> dict:
    try:
        return {
            "ready": DBTaskResult.objects.filter(status="READY").count(),
            "failed": DBTaskResult.objects.filter(status="FAILED").count(),
        }
    except Exception as exc:  # the report must still answer when the database is down
        return {"error": type(exc).__name__}
