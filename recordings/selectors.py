"""Reads of calls and recordings, always for one client; dates are the client's local days."""

from __future__ import annotations

import zoneinfo
from datetime import date, datetime, time, timedelta
from typing import Any

from django.db.models import Avg, Count, Q, QuerySet
from django.db.models.functions import TruncDate

from accounts.models import Client
from recordings.models import Call, CallStatus, Recording, RecordingStatus

CALL_LIST_FIELDS = (
    "id",
    "public_id",
    "provider",
    "provider_call_id",
    "direction",
    "from_number",
    "to_number",
    "status",
    "started_at",
    "answered_at",
    "ended_at",
    "duration_seconds",
    "is_resolved",
    "customer_satisfaction",
    "has_recording",
    "notes",
)


def local_day_bounds(client: Client, first: date | None, last: date | None) -> tuple[datetime | None, datetime | None]:
    """[start of `first`, start of the day after `last`) in the client's time zone, as aware datetimes."""
    zone = zoneinfo.ZoneInfo(client.timezone)
    start = datetime.combine(first, time.min, tzinfo=zone) if first else None
    end = datetime.combine(last + timedelta(days=1), time.min, tzinfo=zone) if last else None
    return start, end


def call_list(*, client: Client, filters: dict[str, Any] | None = None) -> QuerySet[Call]:
    """The client's calls matching `filters` (see CallFilterSerializer); the paginator orders them."""
    filters = filters or {}
    calls = Call.objects.for_client(client)
    start, end = local_day_bounds(client, filters.get("started_from"), filters.get("started_to"))
    if start:
        calls = calls.filter(started_at__gte=start)
    if end:
        calls = calls.filter(started_at__lt=end)
    for name in ("status", "direction"):
        if filters.get(name):
            calls = calls.filter(**{name: filters[name]})
    if filters.get("number"):
        calls = calls.filter(Q(from_number=filters["number"]) | Q(to_number=filters["number"]))
    if filters.get("number_prefix"):
        prefix = filters["number_prefix"]
        calls = calls.filter(Q(from_number__startswith=prefix) | Q(to_number__startswith=prefix))
    if filters.get("resolved") is not None:
        calls = calls.filter(is_resolved=filters["resolved"])
    if filters.get("has_recording") is not None:
        calls = calls.filter(has_recording=filters["has_recording"])
    if filters.get("min_duration") is not None:
        calls = calls.filter(duration_seconds__gte=filters["min_duration"])
    if filters.get("max_duration") is not None:
        calls = calls.filter(duration_seconds__lte=filters["max_duration"])
    if filters.get("q"):
        q = filters["q"]
        calls = calls.filter(Q(from_number__startswith=q) | Q(to_number__startswith=q) | Q(notes__icontains=q))
    return calls


def recording_list(*, client: Client, filters: dict[str, Any] | None = None) -> QuerySet[Recording]:
    filters = filters or {}
    recordings = Recording.objects.for_client(client).select_related("call")
    start, end = local_day_bounds(client, filters.get("started_from"), filters.get("started_to"))
    if start:
        recordings = recordings.filter(started_at__gte=start)
    if end:
        recordings = recordings.filter(started_at__lt=end)
    if filters.get("status"):
        recordings = recordings.filter(status=filters["status"])
    else:
        recordings = recordings.exclude(status=RecordingStatus.DELETED)
    if filters.get("direction"):
        recordings = recordings.filter(call__direction=filters["direction"])
    if filters.get("number"):
        number = filters["number"]
        recordings = recordings.filter(Q(call__from_number=number) | Q(call__to_number=number))
    return recordings


def stats_summary(*, client: Client, first: date, last: date) -> dict[str, Any]:
    """Figures for the client's local days first..last: two aggregate queries and one per-day count."""
    start, end = local_day_bounds(client, first, last)
    calls = Call.objects.for_client(client).filter(started_at__gte=start, started_at__lt=end)
    answered = Q(status=CallStatus.COMPLETED, answered_at__isnull=False)
    figures = calls.aggregate(
        total=Count("id"),
        answered=Count("id", filter=answered),
        resolved=Count("id", filter=Q(is_resolved=True)),
        average_duration=Avg("duration_seconds", filter=answered),
        average_satisfaction=Avg("customer_satisfaction"),
    )
    recordings = (
        Recording.objects.for_client(client)
        .filter(started_at__gte=start, started_at__lt=end)
        .aggregate(
            stored=Count("id", filter=Q(status=RecordingStatus.STORED)),
            failed=Count("id", filter=Q(status=RecordingStatus.FAILED)),
        )
    )
    per_day = dict(
        calls.annotate(day=TruncDate("started_at", tzinfo=zoneinfo.ZoneInfo(client.timezone)))
        .values("day")
        .annotate(count=Count("id"))
        .values_list("day", "count")
    )
    total = figures["total"]
    days = (last - first).days + 1
    return {
        "from": first,
        "to": last,
        "timezone": client.timezone,
        "calls": total,
        "answered": figures["answered"],
        "answered_rate": round(figures["answered"] / total, 4) if total else None,
        "average_duration_seconds": round(figures["average_duration"], 1) if figures["average_duration"] else None,
        "resolved_rate": round(figures["resolved"] / total, 4) if total else None,
        "average_satisfaction": round(figures["average_satisfaction"], 2) if figures["average_satisfaction"] else None,
        "recordings_stored": recordings["stored"],
        "recordings_failed": recordings["failed"],
        "calls_per_day": [
            {"date": day, "calls": per_day.get(day, 0)} for day in (first + timedelta(days=n) for n in range(days))
        ],
    }
