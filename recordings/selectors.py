"""Reads of calls and recordings, always for one client; dates are the client's local days."""

from __future__ import annotations

import json
import zoneinfo
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from operator import add
from typing import Any

from django.db import connection
from django.db.models import Count, Exists, OuterRef, Q, QuerySet, Sum
from django.db.models.functions import Coalesce, TruncDate

from accounts.models import Client, User
from accounts.roles import Role
from recordings import call_context, tags
from recordings.models import (
    CALL_ANSWERED,
    CALL_MISSED,
    CALL_OUTCOMES,
    STATS_BUCKET_SECONDS,
    Call,
    CallAgentDay,
    CallStatsBucket,
    CallTag,
    MissedCall,
    Recording,
    RecordingStatus,
)

# `agent=` takes a member's id, or one of these.
AGENT_ME = "me"
AGENT_NONE = "none"

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


def call_count(*, client: Client, filters: Mapping[str, Any] | None = None, viewer: User | None = None) -> CallCount:
    """How many of the client's calls match `filters`, at a cost that does not grow with the client's calls.

    No filter but the days, on PostgreSQL: exact, summed from the per-day rollup (CallAgentDay). Otherwise the
    planner's estimate when it is past CALL_COUNT_EXACT_MAX (PostgreSQL), else a count that stops one row
    past that: exact when under it, "more than" when not.
    """
    filters = {name: value for name, value in (filters or {}).items() if value not in (None, "")}
    postgres = connection.vendor == "postgresql"
    if postgres and filters.keys() <= _BUCKET_FILTERS:
        # The per-(local day, agent) rollup: at most (agents + 1) rows a day, kept exact by triggers.
        days = CallAgentDay.objects.for_client(client)
        if filters.get("started_from"):
            days = days.filter(day__gte=filters["started_from"])
        if filters.get("started_to"):
            days = days.filter(day__lte=filters["started_to"])
        return CallCount(days.aggregate(calls=Coalesce(Sum("calls"), 0))["calls"], "exact")
    calls = call_list(client=client, filters=filters, viewer=viewer).order_by()
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


def call_list(*, client: Client, filters: dict[str, Any] | None = None, viewer: User | None = None) -> QuerySet[Call]:
    """The client's calls matching `filters` (see CallFilterSerializer); the paginator orders them. `customer`,
    `order` and the customer arm of `q` come from settings.CALL_CONTEXT (recordings/call_context.py); `agent=me`
    means `viewer`."""
    filters = filters or {}
    calls: QuerySet[Call] = Call.objects.for_client(client)
    if filters.get("agent"):
        calls = _agent_filter(calls, client, filters["agent"], viewer)
    start, end = local_day_bounds(client, filters.get("started_from"), filters.get("started_to"))
    if start:
        calls = calls.filter(started_at__gte=start)
    if end:
        calls = calls.filter(started_at__lt=end)
    for name in ("status", "direction"):
        if filters.get(name):
            calls = calls.filter(**{name: filters[name]})
    if filters.get("outcome"):
        calls = calls.filter(CALL_OUTCOMES[filters["outcome"]])
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
    if filters.get("tag"):
        # Calls with any of the tags: a semi-join on the (tag, call) index, so a rare tag reads only its calls.
        tag_ids = tags.tag_filter_ids(client=client, values=filters["tag"])
        calls = calls.filter(Exists(CallTag.objects.filter(call_id=OuterRef("pk"), tag_id__in=tag_ids)))
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


def _agent_filter(calls: QuerySet[Call], client: Client, agent: Any, viewer: User | None) -> QuerySet[Call]:
    """Calls of one member (an id, or `me`), or of nobody (`none`); on the (client, agent, started_at) index."""
    if agent == AGENT_NONE:
        return calls.filter(agent__isnull=True)
    if agent == AGENT_ME:
        return calls.filter(agent=viewer) if viewer is not None and viewer.client_id == client.pk else calls.none()
    member = User.objects.for_client(client).filter(public_id=agent).values_list("pk", flat=True).first()
    return calls.filter(agent_id=member) if member is not None else calls.none()


def call_agent(call: Call) -> dict[str, Any] | None:
    """Who took or placed the call: the member (id, name) and the number; None when neither is known."""
    if call.agent is None and not call.agent_number:
        return None
    return {
        "id": call.agent.public_id if call.agent else None,
        "name": call.agent.get_full_name() if call.agent else "",
        "number": call.agent_number,
    }


def missed_call_list(*, client: Client) -> QuerySet[MissedCall]:
    """The client's numbers to ring back (one row each: the latest missed call, how many since the last answered
    call); the paginator orders them newest first on (client, last_missed_at, id)."""
    return MissedCall.objects.for_client(client).select_related("call", "call__agent")


def missed_call_count(*, client: Client) -> int:
    """How many numbers have missed calls not yet answered or rung back (one indexed count of a small table)."""
    return MissedCall.objects.for_client(client).count()


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


# --- the dashboard: ranges, answered and missed per day, per agent -----------------------------

# The ranges the dashboard and GET /api/v1/stats/summary?range= offer: name -> local days up to today.
STATS_RANGES = {"today": 1, "7d": 7, "30d": 30, "90d": 90}
STATS_RANGE_LABELS = {"today": "Today", "7d": "7 days", "30d": "30 days", "90d": "90 days"}
DEFAULT_STATS_RANGE = "7d"
AGENT_DAY_FIGURES = (
    "calls",
    "answered",
    "missed",
    "answered_seconds",
    "resolved",
    "satisfaction_sum",
    "satisfaction_count",
)
# (local day, agent id or None) -> the figures of AGENT_DAY_FIGURES, in order.
AgentDays = dict[tuple[date, int | None], tuple[int, ...]]


def client_today(client: Client) -> date:
    return datetime.now(tz=zoneinfo.ZoneInfo(client.timezone)).date()


def has_calls(*, client: Client) -> bool:
    """Whether any call of the client has reached Caly (the dashboard's first-call steps give way to figures)."""
    return Call.objects.for_client(client).exists()


def stats_range(*, client: Client, name: str) -> tuple[date, date]:
    """(first, last) local days of the range `name` (a key of STATS_RANGES), ending today in the client's zone."""
    last = client_today(client)
    return last - timedelta(days=STATS_RANGES[name] - 1), last


def agent_days(*, client: Client, first: date, last: date) -> AgentDays:
    """The figures per (local day, agent) for first..last: the trigger-kept rows (PostgreSQL) or the calls."""
    if connection.vendor == "postgresql":
        return _agent_days_from_rollup(client, first, last)
    return _agent_days_from_rows(client, first, last)


def _agent_days_from_rollup(client: Client, first: date, last: date) -> AgentDays:
    """One indexed read of at most (agents + 1) rows a day, whatever the number of calls."""
    rows = (
        CallAgentDay.objects.for_client(client)
        .filter(day__gte=first, day__lte=last)
        .values_list("day", "agent_id", *AGENT_DAY_FIGURES)
    )
    return {(day, agent_id): tuple(figures) for day, agent_id, *figures in rows}


def _agent_days_from_rows(client: Client, first: date, last: date) -> AgentDays:
    """The same figures counted from every call in the range (SQLite, and the tests' yardstick)."""
    start, end = local_day_bounds(client, first, last)
    answered_seconds = Coalesce(Sum("duration_seconds", filter=CALL_ANSWERED), 0)
    rows: Iterable[Mapping[str, Any]] = (  # one key per figure, named at run time
        Call.objects.for_client(client)
        .filter(started_at__gte=start, started_at__lt=end)
        .annotate(day=TruncDate("started_at", tzinfo=zoneinfo.ZoneInfo(client.timezone)))
        .values("day", "agent_id")
        .annotate(
            n_calls=Count("id"),
            n_answered=Count("id", filter=CALL_ANSWERED),
            n_missed=Count("id", filter=CALL_MISSED),
            n_answered_seconds=answered_seconds,
            n_resolved=Count("id", filter=Q(is_resolved=True)),
            n_satisfaction_sum=Coalesce(Sum("customer_satisfaction"), 0),
            n_satisfaction_count=Count("customer_satisfaction"),
        )
        .order_by()
    )
    return {(row["day"], row["agent_id"]): tuple(int(row[f"n_{name}"]) for name in AGENT_DAY_FIGURES) for row in rows}


def _rates(totals: Mapping[str, int]) -> dict[str, Any]:
    calls, answered, rated = totals["calls"], totals["answered"], totals["satisfaction_count"]
    return {
        "calls": calls,
        "answered": answered,
        "missed": totals["missed"],
        "average_handle_seconds": round(totals["answered_seconds"] / answered, 1) if answered else None,
        "resolved_rate": round(totals["resolved"] / calls, 4) if calls else None,
        "average_satisfaction": round(totals["satisfaction_sum"] / rated, 2) if rated else None,
    }


def _agent(user: User | None) -> dict[str, Any] | None:
    if user is None:
        return None
    return {"id": user.public_id, "name": user.get_full_name(), "email": user.email}


def _added(total: tuple[int, ...] | None, figures: tuple[int, ...]) -> tuple[int, ...]:
    return figures if total is None else tuple(map(add, total, figures))


DaySums = dict[date, tuple[int, ...]]
AgentSums = dict[int | None, tuple[int, ...]]


def _day_and_agent_sums(client: Client, first: date, last: date) -> tuple[DaySums, AgentSums]:
    """The figures per local day and per agent of first..last: the rollup (PostgreSQL) or the calls."""
    if connection.vendor == "postgresql":
        return _sums_from_rollup(client, first, last)
    return _sums_from_rows(client, first, last)


def _sums_from_rollup(client: Client, first: date, last: date) -> tuple[DaySums, AgentSums]:
    """Two GROUP BYs over at most (agents + 1) rows a day."""
    rows = CallAgentDay.objects.for_client(client).filter(day__gte=first, day__lte=last).order_by()
    sums = {f"sum_{name}": Sum(name) for name in AGENT_DAY_FIGURES}
    names = [f"sum_{name}" for name in AGENT_DAY_FIGURES]
    by_day = rows.values("day").annotate(**sums).values_list("day", *names)
    by_agent = rows.values("agent_id").annotate(**sums).values_list("agent_id", *names)
    return (
        {day: tuple(map(int, figures)) for day, *figures in by_day},
        {agent_id: tuple(map(int, figures)) for agent_id, *figures in by_agent},
    )


def _sums_from_rows(client: Client, first: date, last: date) -> tuple[DaySums, AgentSums]:
    """The same from every call of the range (SQLite, and the benchmark's scan)."""
    by_day: DaySums = {}
    by_agent: AgentSums = {}
    for (day, agent_id), figures in _agent_days_from_rows(client, first, last).items():
        by_day[day] = _added(by_day.get(day), figures)
        by_agent[agent_id] = _added(by_agent.get(agent_id), figures)
    return by_day, by_agent


def agent_day_summary(*, client: Client, first: date, last: date) -> dict[str, Any]:
    """Calls, answered and missed per local day of first..last, and one row per agent, from agent_days.

    Agents are the members who took calls in the range and the active members with the agent role (with
    zeros), busiest first; a last row with `agent: None` holds the calls no member took, when there are any.
    """
    by_day, by_agent = _day_and_agent_sums(client, first, last)
    members = {
        user.id: user
        for user in User.objects.for_client(client)
        .filter(
            Q(id__in=[agent_id for agent_id in by_agent if agent_id is not None]) | Q(is_active=True, role=Role.AGENT)
        )
        .only("id", "public_id", "first_name", "last_name", "email")
    }
    zero = (0,) * len(AGENT_DAY_FIGURES)
    agents = [
        {"agent": _agent(user), **_rates(dict(zip(AGENT_DAY_FIGURES, by_agent.get(user.id, zero), strict=True)))}
        for user in members.values()
    ]
    agents.sort(key=lambda row: (-row["calls"], row["agent"]["name"].lower(), row["agent"]["email"]))
    nobody = None
    for agent_id, figures in by_agent.items():
        if agent_id not in members:  # None, or a member of no client any more
            nobody = _added(nobody, figures)
    if nobody:
        agents.append({"agent": None, **_rates(dict(zip(AGENT_DAY_FIGURES, nobody, strict=True)))})
    totals = zero
    for figures in by_day.values():
        totals = _added(totals, figures)
    days = [first + timedelta(days=n) for n in range((last - first).days + 1)]
    return {
        "totals": dict(zip(AGENT_DAY_FIGURES, totals, strict=True)),
        "calls_per_day": [
            {"date": day, "calls": figures[0], "answered": figures[1], "missed": figures[2]}
            for day, figures in ((day, by_day.get(day, zero)) for day in days)
        ],
        "agents": agents,
    }


def recording_figures(*, client: Client, first: date, last: date) -> dict[str, int]:
    """Recordings stored and failed of the calls of first..last: one sum over the 15-minute buckets (PostgreSQL)."""
    start, end = local_day_bounds(client, first, last)
    if connection.vendor == "postgresql" and start and end and _on_bucket(start) and _on_bucket(end):
        sums = (
            CallStatsBucket.objects.for_client(client)
            .filter(bucket_start__gte=start, bucket_start__lt=end)
            .aggregate(stored=Coalesce(Sum("recordings_stored"), 0), failed=Coalesce(Sum("recordings_failed"), 0))
        )
    else:
        sums = (
            Recording.objects.for_client(client)
            .filter(started_at__gte=start, started_at__lt=end)
            .aggregate(
                stored=Count("id", filter=Q(status=RecordingStatus.STORED)),
                failed=Count("id", filter=Q(status=RecordingStatus.FAILED)),
            )
        )
    return {"recordings_stored": sums["stored"], "recordings_failed": sums["failed"]}


def dashboard_summary(*, client: Client, first: date, last: date) -> dict[str, Any]:
    """stats_summary's figures for first..last with answered and missed per day and one row per agent.

    Three small reads whatever the number of calls: the agent-day rollup, the members, one sum of the
    recordings' buckets (on SQLite, the calls and recordings themselves).
    """
    figures = agent_day_summary(client=client, first=first, last=last)
    totals = figures["totals"]
    rates = _rates(totals)
    return {
        "from": first,
        "to": last,
        "timezone": client.timezone,
        "calls": totals["calls"],
        "answered": totals["answered"],
        "answered_rate": round(totals["answered"] / totals["calls"], 4) if totals["calls"] else None,
        "average_duration_seconds": rates["average_handle_seconds"],
        "resolved_rate": rates["resolved_rate"],
        "average_satisfaction": rates["average_satisfaction"],
        **recording_figures(client=client, first=first, last=last),
        "missed": totals["missed"],
        "calls_per_day": figures["calls_per_day"],
        "agents": figures["agents"],
    }
