"""The dashboard: a range picker (today, 7, 30, 90 local days), the range's figures, answered and missed calls
per day, one row per agent; for a client without calls yet, the steps to its first call instead.

It knows several apps (the figures are recordings', the Exotel connection and its callback URLs are
integrations', the set-up card is onboarding's), so it sits in the composition, beside caly/urls.py. The
page is a shell; its figures, chart and agents load after it as parts (static/js/async-part.js), each one
request that reads the trigger-kept rollups (recordings.selectors.dashboard_summary), not the calls.
"""

from __future__ import annotations

from datetime import date
from functools import wraps

from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import render
from django.urls import reverse
from django.utils.http import urlencode
from django.views.decorators.http import require_safe

from accounts.models import Client, OnboardingStep, User
from accounts.roles import Capability, can
from accounts.views import client_user_required
from caly import onboarding
from caly.onboarding_views import onboarding_redirect
from integrations.providers import PROVIDERS
from recordings import selectors
from recordings.views import mm_ss

# The chart's drawing box: one 10-unit slot per day (at least MIN_CHART_SLOTS), bars up to CHART_HEIGHT tall.
CHART_HEIGHT = 100
CHART_SLOT = 10
MIN_CHART_SLOTS = 7
RANGE_PARAM = "range"
RANGE_ERROR = "Choose a range: " + ", ".join(selectors.STATS_RANGE_LABELS.values()) + "."


def percent(rate: float | None) -> str:
    return "—" if rate is None else f"{round(rate * 100)}%"


def calls_url(**filters) -> str:
    """The calls list filtered as given (dates as the list's YYYY-MM-DD)."""
    query = {name: value.isoformat() if isinstance(value, date) else value for name, value in filters.items()}
    return f"{reverse('recordings:calls')}?{urlencode(query)}"


def _range_name(request: HttpRequest) -> str | None:
    """The requested range's name, the default when none is asked for, or None for one Caly does not offer."""
    name = request.GET.get(RANGE_PARAM) or selectors.DEFAULT_STATS_RANGE
    return name if name in selectors.STATS_RANGES else None


def _ranges(current: str | None) -> list[dict]:
    return [
        {
            "name": name,
            "label": label,
            "url": f"{reverse('dashboard')}?{RANGE_PARAM}={name}",
            "current": name == current,
        }
        for name, label in selectors.STATS_RANGE_LABELS.items()
    ]


# --- the page ------------------------------------------------------------------------------------


def _first_call_steps(client: Client, user: User) -> dict:
    """What a client without calls does next: connect Exotel, paste its callback URLs, place a test call."""
    exotel = PROVIDERS["exotel"]
    connection = exotel.connection(client)
    connected = exotel.is_connected(client)
    manages = can(user.role, Capability.MANAGE_INTEGRATIONS)
    step = OnboardingStep.EXOTEL
    reached = onboarding.step_reached(client=client, step=step)
    return {
        "connected": connected,
        "manages": manages,
        "connect_url": onboarding.step_url(step) if reached else reverse("integrations:index"),
        "links": exotel.links(connection) if connected and manages else None,
        "exophones": list(connection.caller_ids) if connected else [],
    }


@client_user_required(Capability.READ)
@require_safe
def dashboard(request: HttpRequest) -> HttpResponse:
    if (wizard := onboarding_redirect(request)) is not None:
        return wizard
    client = request.user.client
    name = _range_name(request)
    context = {
        "onboarding_left": onboarding.onboarding_left(client=client, user=request.user),
        "onboarding_unfinished": onboarding.wizard_due(user=request.user),
        "ranges": _ranges(name),
        "range": name,
        "range_label": selectors.STATS_RANGE_LABELS.get(name or ""),
        "range_error": None if name else RANGE_ERROR,
        "first_call": None if selectors.has_calls(client=client) else _first_call_steps(client, request.user),
    }
    return render(request, "dashboard/dashboard.html", context, status=200 if name else 400)


# --- its parts -----------------------------------------------------------------------------------


def _figures_part(request, first: date, last: date) -> HttpResponse:
    summary = selectors.dashboard_summary(client=request.user.client, first=first, last=last)
    rated = summary["average_satisfaction"]
    figures = [
        ("Calls", summary["calls"]),
        ("Answered", percent(summary["answered_rate"])),
        ("Missed", summary["missed"]),
        ("Average handle time", mm_ss(summary["average_duration_seconds"])),
        ("Resolved", percent(summary["resolved_rate"])),
        ("Satisfaction", f"{rated:.1f} / 5" if rated else "—"),
        ("Recordings stored", summary["recordings_stored"]),
        ("Recordings failed", summary["recordings_failed"]),
        ("To ring back", selectors.missed_call_count(client=request.user.client)),
    ]
    context = {
        "first": first,
        "last": last,
        "figures": figures,
        "calls_url": calls_url(started_from=first, started_to=last),
        "missed_url": calls_url(started_from=first, started_to=last, outcome="missed"),
        "ring_back_url": reverse("recordings:missed"),
    }
    return render(request, "dashboard/parts/figures.html", context)


def _chart_part(request, first: date, last: date) -> HttpResponse:
    summary = selectors.agent_day_summary(client=request.user.client, first=first, last=last)
    totals = summary["totals"]
    days = summary["calls_per_day"]
    today = selectors.client_today(request.user.client)
    peak = max(day["calls"] for day in days)
    slots = max(len(days), MIN_CHART_SLOTS)
    bars = []
    for index, day in enumerate(days):
        scale = CHART_HEIGHT / (peak or 1)
        other = day["calls"] - day["answered"] - day["missed"]
        top = CHART_HEIGHT
        segments = []
        for kind, count, outcome in (
            ("answered", day["answered"], "answered"),
            ("missed", day["missed"], "missed"),
            ("other", other, None),
        ):
            height = count * scale
            if count:
                height = max(height, 1.5)  # a day with one call among hundreds still shows
            top -= height
            filters = {"started_from": day["date"], "started_to": day["date"]}
            if outcome:
                filters["outcome"] = outcome
            segments.append(
                {
                    "kind": kind,
                    "count": count,
                    "y": f"{top:.2f}",
                    "height": f"{height:.2f}",
                    "url": calls_url(**filters),
                }
            )
        bars.append(
            {
                **day,
                "other": other,
                "x": (slots - len(days) + index) * CHART_SLOT + 1,
                "segments": [segment for segment in segments if segment["count"]],
                "today": day["date"] == today,
                "url": calls_url(started_from=day["date"], started_to=day["date"]),
                "answered_url": calls_url(started_from=day["date"], started_to=day["date"], outcome="answered"),
                "missed_url": calls_url(started_from=day["date"], started_to=day["date"], outcome="missed"),
            }
        )
    busiest = max(days, key=lambda day: day["calls"])
    context = {
        "bars": bars,
        "peak": peak,
        "total": totals["calls"],
        "answered": totals["answered"],
        "missed": totals["missed"],
        "busiest": busiest if peak else None,
        "first": first,
        "middle": days[len(days) // 2]["date"],
        "last": last,
        "width": CHART_SLOT * slots,
        "height": CHART_HEIGHT,
    }
    return render(request, "dashboard/parts/chart.html", context)


def _agents_part(request, first: date, last: date) -> HttpResponse:
    summary = selectors.agent_day_summary(client=request.user.client, first=first, last=last)
    rows = []
    for row in summary["agents"]:
        agent = row["agent"]
        rows.append(
            {
                **row,
                "url": calls_url(
                    agent=agent["id"] if agent else selectors.AGENT_NONE, started_from=first, started_to=last
                ),
                "handle_time": mm_ss(row["average_handle_seconds"]),
                "resolved": percent(row["resolved_rate"]),
                "satisfaction": f"{row['average_satisfaction']:.1f}" if row["average_satisfaction"] else "—",
            }
        )
    return render(request, "dashboard/parts/agents.html", {"rows": rows, "first": first, "last": last})


DASHBOARD_PARTS = {"figures": _figures_part, "chart": _chart_part, "agents": _agents_part}


def _async_part(view):
    """A fragment loaded by static/js/async-part.js. A signed-out request answers 401 rather than
    the sign-in redirect, which fetch() would follow and paste the login page into the widget."""
    guarded = client_user_required(Capability.READ)(view)

    @wraps(view)
    def wrapped(request, *args, **kwargs):
        if not request.user.is_authenticated:
            return HttpResponse("Your session has ended; reload the page to sign in.", status=401)
        return guarded(request, *args, **kwargs)

    return wrapped


@_async_part
@require_safe
def dashboard_part(request: HttpRequest, name: str) -> HttpResponse:
    if name not in DASHBOARD_PARTS:
        raise Http404
    range_name = _range_name(request)
    if range_name is None:
        return HttpResponse(RANGE_ERROR, status=400, content_type="text/plain; charset=utf-8")
    first, last = selectors.stats_range(client=request.user.client, name=range_name)
    return DASHBOARD_PARTS[name](request, first, last)
