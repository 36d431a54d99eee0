"""Reads of calls and recordings, always for one client; dates are the client's local days."""

from __future__ import annotations

import json
import zoneinfo
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from typing import Any

from django.db import connection
from django.db.models import Count, Q, QuerySet, Sum
from django.db.models.functions import Coalesce, TruncDate

from accounts.models import Client
from recordings import call_context
from recordings.models import CALL_ANSWERED, STATS_BUCKET_SECONDS, Call, CallStatsBucket, Recording, RecordingStatus

# What the calls list shows besides its `id` (the public id), in order; the list serializer's fields
# are built from it, so a new field is one edit here.
CALL_LIST_SHOWN_FIELDS = (
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
# The columns the list query reads: the keyset's `id`, the public id, and what it shows.
CALL_LIST_FIELDS = ("id", "public_id", *CALL_LIST_SHOWN_FIELDS)
# The orders the calls list offers (`ordering=`), each a keyset whose last field is unique, so ties on
# the first never repeat or skip a call between pages. Each has an index: rec_call_client_started and
# rec_call_client_duration, read forwards or backwards.
CALL_ORDERINGS = {
    "-started_at": ("-started_at", "-id"),
    "started_at": ("started_at", "id"),
    "-duration_seconds": ("-duration_seconds", "-id"),
    "duration_seconds": ("duration_seconds", "id"),
}
DEFAULT_CALL_ORDERING = "-started_at"
# Up to this many matching calls the list's total is counted; beyond, it is estimated.
CALL_COUNT_EXACT_MAX = 10_000
# Filters the stats buckets can count by (each bucket is 15 minutes of started_at); `ordering` is no filter.
_BUCKET_FILTERS = frozenset({"started_from", "started_to", "ordering"})


def call_ordering(filters: Mapping[str, Any] | None) -> tuple[str, ...]:
    """The keyset the list is read in for these (validated) filters."""
    return CALL_ORDERINGS[(filters or {}).get("ordering") or DEFAULT_CALL_ORDERING]


@dataclass(frozen=True)
class CallCount:
    """How many calls a list holds. `kind`: "exact"; "estimate" (the planner's, PostgreSQL); or "more_than"
    (counting stopped at CALL_COUNT_EXACT_MAX, so `count` is that plus one)."""

    count: int
    kind: str

    @property
    def exact(self) -> bool:
        return self.kind == "exact"


def call_count(*, client: Client, filters: Mapping[str, Any] | None = None) -> CallCount:
    """How many of the client's calls match `filters`, at a cost that does not grow with the client's calls.

    No filter but the days, on PostgreSQL: exact, summed from the 15-minute stats buckets. Otherwise the
    planner's estimate when it is past CALL_COUNT_EXACT_MAX (PostgreSQL), else a count that stops one row
    past that: exact when under it, "more than" when not.
    """
    filters = {name: value for name, value in (filters or {}).items() if value not in (None, "")}
    postgres = connection.vendor == "postgresql"
    if postgres and filters.keys() <= _BUCKET_FILTERS:
        start, end = local_day_bounds(client, filters.get("started_from"), filters.get("started_to"))
        if all(bound is None or _on_bucket(bound) for bound in (start, end)):
            buckets = CallStatsBucket.objects.for_client(client)
            if start:
                buckets = buckets.filter(bucket_start__gte=start)
            if end:
                buckets = buckets.filter(bucket_start__lt=end)
            return CallCount(buckets.aggregate(calls=Coalesce(Sum("calls"), 0))["calls"], "exact")
    calls = call_list(client=client, filters=filters).order_by()
    estimate = _planner_rows(calls) if postgres else 0
    if estimate > CALL_COUNT_EXACT_MAX:
        return CallCount(estimate, "estimate")
    counted = calls.values("id")[: CALL_COUNT_EXACT_MAX + 1].count()
    return CallCount(counted, "exact" if counted <= CALL_COUNT_EXACT_MAX else "more_than")


def _planner_rows(queryset: QuerySet) -> int:
    """PostgreSQL's estimate of the rows `queryset` returns (EXPLAIN plans the query; it runs nothing)."""
    explained = queryset.explain(format="json")
    if not explained:  # a condition Django knows matches nothing (`pk__in=[]`): it sends no query at all
        return 0
    plan = json.loads(explained)
    return int(plan[0]["Plan"]["Plan Rows"])


def local_day_bounds(client: Client, first: date | None, last: date | None) -> tuple[datetime | None, datetime | None]:
    """[start of `first`, start of the day after `last`) in the client's time zone, as aware datetimes."""
    start = _local_midnight(client, first) if first else None
    end = _local_midnight(client, last + timedelta(days=1)) if last else None
    return start, end


def _local_midnight(client: Client, day: date) -> datetime:
    return datetime.combine(day, time.min, tzinfo=zoneinfo.ZoneInfo(client.timezone))


def call_list(*, client: Client, filters: dict[str, Any] | None = None) -> QuerySet[Call]:
    """The client's calls matching `filters` (see CallFilterSerializer); the paginator orders them. `customer`,
    `order` and the customer arm of `q` come from settings.CALL_CONTEXT (recordings/call_context.py)."""
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
    linked = call_context.call_filter(client=client, customer=filters.get("customer"), order=filters.get("order"))
    if linked is not None:
        calls = calls.filter(linked)
    if filters.get("q"):
        q = filters["q"]
        arms = Q(from_number__startswith=q) | Q(to_number__startswith=q) | Q(notes__icontains=q)
        # The customer's name or e-mail, or an order's name: a bounded list of call ids (call_context).
        found = call_context.call_filter(client=client, q=q)
        calls = calls.filter(arms | found if found is not None else arms)
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
    """Figures for the client's local days first..last, from the 15-minute buckets (PostgreSQL) or the calls."""
    start, end = _local_midnight(client, first), _local_midnight(client, last + timedelta(days=1))
    zone = zoneinfo.ZoneInfo(client.timezone)
    if connection.vendor == "postgresql" and _on_bucket(start) and _on_bucket(end):
        totals, per_day = _figures_from_buckets(client, start, end, zone)
    else:
        totals, per_day = _figures_from_rows(client, start, end, zone)
    total, answered = totals["calls"], totals["answered"]
    average_duration = totals["answered_seconds"] / answered if answered else None
    rated = totals["satisfaction_count"]
    average_satisfaction = totals["satisfaction_sum"] / rated if rated else None
    days = (last - first).days + 1
    return {
        "from": first,
        "to": last,
        "timezone": client.timezone,
        "calls": total,
        "answered": answered,
        "answered_rate": round(answered / total, 4) if total else None,
        "average_duration_seconds": round(average_duration, 1) if average_duration else None,
        "resolved_rate": round(totals["resolved"] / total, 4) if total else None,
        "average_satisfaction": round(average_satisfaction, 2) if average_satisfaction else None,
        "recordings_stored": totals["recordings_stored"],
        "recordings_failed": totals["recordings_failed"],
        "calls_per_day": [
            {"date": day, "calls": per_day.get(day, 0)} for day in (first + timedelta(days=n) for n in range(days))
        ],
    }


STATS_FIGURES = (
    "calls",
    "answered",
    "resolved",
    "answered_seconds",
    "satisfaction_sum",
    "satisfaction_count",
    "recordings_stored",
    "recordings_failed",
)


def _on_bucket(moment: datetime) -> bool:
    return moment.timestamp() % STATS_BUCKET_SECONDS == 0


def _figures_from_buckets(client, start, end, zone) -> tuple[dict[str, int], dict[date, int]]:
    """One indexed query over at most 96 rows a day, whatever the number of calls."""
    rows: Iterable[Mapping[str, Any]] = (  # one key per figure, named at run time
        CallStatsBucket.objects.for_client(client)
        .filter(bucket_start__gte=start, bucket_start__lt=end)
        .annotate(day=TruncDate("bucket_start", tzinfo=zone))
        .values("day")
        .annotate(**{f"day_{name}": Sum(name) for name in STATS_FIGURES})
    )
    totals = dict.fromkeys(STATS_FIGURES, 0)
    per_day = {}
    for row in rows:
        for name in STATS_FIGURES:
            totals[name] += row[f"day_{name}"]
        per_day[row["day"]] = row["day_calls"]
    return totals, per_day


def _figures_from_rows(client, start, end, zone) -> tuple[dict[str, int], dict[date, int]]:
    """The same figures read from every call and recording in the range (SQLite, or bounds off the buckets)."""
    calls = Call.objects.for_client(client).filter(started_at__gte=start, started_at__lt=end)
    totals = calls.aggregate(
        calls=Count("id"),
        answered=Count("id", filter=CALL_ANSWERED),
        resolved=Count("id", filter=Q(is_resolved=True)),
        answered_seconds=Coalesce(Sum("duration_seconds", filter=CALL_ANSWERED), 0),
        satisfaction_sum=Coalesce(Sum("customer_satisfaction"), 0),
        satisfaction_count=Count("customer_satisfaction"),
    )
    totals |= (
        Recording.objects.for_client(client)
        .filter(started_at__gte=start, started_at__lt=end)
        .aggregate(
            recordings_stored=Count("id", filter=Q(status=RecordingStatus.STORED)),
            recordings_failed=Count("id", filter=Q(status=RecordingStatus.FAILED)),
        )
    )
    per_day = dict(
        calls.annotate(day=TruncDate("started_at", tzinfo=zone))
        .values("day")
        .annotate(count=Count("id"))
        .values_list("day", "count")
    )
    return totals, per_day
