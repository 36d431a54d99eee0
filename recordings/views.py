"""The calls pages (Django sessions): the dashboard and its async widgets, the calls list, a call.

Thin views over recordings.selectors and recordings.services with the API's rules: the list is
validated by the API's CallFilterSerializer and paged by its KeysetPagination (the same cursors),
and every call is looked up within the signed-in user's client, so another client's ids answer 404.
"""

from __future__ import annotations

import zoneinfo
from datetime import date, timedelta
from functools import wraps

from django import forms
from django.contrib import messages
from django.forms.utils import ErrorDict
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.utils import timezone
from django.utils.http import urlencode
from django.views.decorators.http import require_POST, require_safe
from rest_framework.exceptions import ValidationError as ApiValidationError
from rest_framework.request import Request

from accounts.forms import ServiceForm
from accounts.roles import Capability, can
from accounts.views import client_user_required
from caly.foundation.api.pagination import KeysetPagination
from caly.foundation.errors import DomainError
from recordings import call_context, fetch_queue, selectors, services
from recordings.api.serializers import CallFilterSerializer
from recordings.api.views import CallListView
from recordings.models import Call, CallStatus, Direction, Recording, RecordingStatus

CHART_DAYS = 30
# The chart's drawing box: one 10-unit slot per day, bars up to CHART_HEIGHT tall.
CHART_HEIGHT = 100
CHART_SLOT = 10
# Query parameters of the list that are not filters.
PAGING_PARAMS = ("cursor", "limit")
PAGING_LABELS = {"cursor": "Page link", "limit": "Rows per page"}
STATUS_LABELS = dict(CallStatus.choices)
DIRECTION_LABELS = dict(Direction.choices)


def mm_ss(seconds: float | None) -> str:
    """95 -> "1:35"; None -> "—"."""
    if seconds is None:
        return "—"
    minutes, rest = divmod(round(seconds), 60)
    return f"{minutes}:{rest:02d}"


def percent(rate: float | None) -> str:
    return "—" if rate is None else f"{round(rate * 100)}%"


def client_today(client) -> date:
    return timezone.localtime(timezone=zoneinfo.ZoneInfo(client.timezone)).date()


# --- dashboard ---------------------------------------------------------------------------------


def _figures(request, first: date, last: date, title: str) -> HttpResponse:
    summary = selectors.stats_summary(client=request.user.client, first=first, last=last)
    figures = [
        ("Calls", summary["calls"]),
        ("Answered", percent(summary["answered_rate"])),
        ("Average duration", mm_ss(summary["average_duration_seconds"])),
        ("Resolved", percent(summary["resolved_rate"])),
        ("Recordings stored", summary["recordings_stored"]),
        ("Recordings failed", summary["recordings_failed"]),
    ]
    context = {"title": title, "first": first, "last": last, "figures": figures}
    return render(request, "recordings/parts/figures.html", context)


def _today_part(request) -> HttpResponse:
    today = client_today(request.user.client)
    return _figures(request, today, today, "Today")


def _week_part(request) -> HttpResponse:
    today = client_today(request.user.client)
    return _figures(request, today - timedelta(days=today.weekday()), today, "This week")


def _chart_part(request) -> HttpResponse:
    today = client_today(request.user.client)
    first = today - timedelta(days=CHART_DAYS - 1)
    summary = selectors.stats_summary(client=request.user.client, first=first, last=today)
    days = summary["calls_per_day"]
    peak = max(day["calls"] for day in days)
    bars = []
    for index, day in enumerate(days):
        height = day["calls"] / (peak or 1) * CHART_HEIGHT
        if day["calls"]:
            height = max(height, 1.5)  # a day with one call among hundreds still shows
        bars.append(
            {
                "date": day["date"],
                "calls": day["calls"],
                "x": index * CHART_SLOT + 1,
                "y": f"{CHART_HEIGHT - height:.2f}",
                "height": f"{height:.2f}",
                "today": day["date"] == today,
            }
        )
    busiest = max(days, key=lambda day: day["calls"])
    context = {
        "bars": bars,
        "peak": peak,
        "total": summary["calls"],
        "busiest": busiest if peak else None,
        "first": first,
        "middle": days[len(days) // 2]["date"],
        "last": today,
        "width": CHART_SLOT * len(days),
        "height": CHART_HEIGHT,
    }
    return render(request, "recordings/parts/chart.html", context)


DASHBOARD_PARTS = {"today": _today_part, "week": _week_part, "chart": _chart_part}


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
    return DASHBOARD_PARTS[name](request)


# --- calls list --------------------------------------------------------------------------------


class CallFilterForm(forms.Form):
    """Shows the list's filters; the API's CallFilterSerializer validates them, so the page and
    GET /api/v1/calls accept exactly the same query strings."""

    q = forms.CharField(
        label="Search",
        required=False,
        max_length=100,
        help_text="A number, words in the notes, a customer's name or e-mail, or an order (3+ characters).",
        widget=forms.TextInput(attrs={"type": "search", "autocomplete": "off", "placeholder": "Priya, #1042…"}),
    )
    started_from = forms.DateField(label="From", required=False, widget=forms.DateInput(attrs={"type": "date"}))
    started_to = forms.DateField(label="To", required=False, widget=forms.DateInput(attrs={"type": "date"}))
    status = forms.ChoiceField(label="Status", required=False, choices=[("", "Any"), *CallStatus.choices])
    direction = forms.ChoiceField(label="Direction", required=False, choices=[("", "Any"), *Direction.choices])
    number_prefix = forms.CharField(
        label="Number or prefix",
        required=False,
        max_length=16,
        widget=forms.TextInput(attrs={"inputmode": "tel", "autocomplete": "off", "placeholder": "+9198…"}),
    )
    resolved = forms.ChoiceField(
        label="Resolved", required=False, choices=[("", "Any"), ("true", "Resolved"), ("false", "Not resolved")]
    )
    has_recording = forms.ChoiceField(
        label="Recording", required=False, choices=[("", "Any"), ("true", "Recorded"), ("false", "Not recorded")]
    )
    order = forms.CharField(
        label="Order",
        required=False,
        max_length=64,
        widget=forms.TextInput(attrs={"autocomplete": "off", "placeholder": "#1042"}),
    )
    # Set by a customer's "their calls" link and kept by the form; the page names the customer above the list.
    customer = forms.UUIDField(required=False, widget=forms.HiddenInput)

    def full_clean(self):
        self._errors = ErrorDict()
        self.cleaned_data = {}
        serializer = CallFilterSerializer(data=self.data)
        if serializer.is_valid():
            self.cleaned_data = dict(serializer.validated_data)
            return
        for name, problems in serializer.errors.items():
            if name in self.fields and not self.fields[name].widget.is_hidden:
                self.add_error(name, list(problems))
            else:  # a parameter typed into the address (min_duration, customer…) or the whole form
                prefix = "" if name == "non_field_errors" else f"{name}: "
                self.add_error(None, [f"{prefix}{problem}" for problem in problems])


def _filters(request) -> dict[str, str]:
    """The list's query string without empty values or paging: what a shared link keeps."""
    return {key: value for key, value in request.GET.items() if value != "" and key != "cursor"}


def _list_row(values: dict) -> dict:
    """A row of the list from its `.values()`, with what settings.CALL_CONTEXT adds to it (its customer)."""
    return {
        **values,
        "url": reverse("recordings:call", args=[values["public_id"]]),
        "status_label": STATUS_LABELS.get(values["status"], values["status"]),
        "direction_label": DIRECTION_LABELS.get(values["direction"], values["direction"]),
        "duration": mm_ss(values["duration_seconds"]),
    }


@client_user_required(Capability.READ)
@require_safe
def calls(request: HttpRequest) -> HttpResponse:
    filters = _filters(request)
    if any(value == "" for value in request.GET.values()):
        # The form sends every field; keep shareable links short.
        return redirect(f"{request.path}?{urlencode(filters)}" if filters else request.path)
    form = CallFilterForm({key: value for key, value in filters.items() if key not in PAGING_PARAMS})
    context = {"form": form, "rows": None, "paging_errors": [], "limit": filters.get("limit")}
    if not form.is_valid():
        return render(request, "recordings/calls.html", context, status=400)

    paginator = KeysetPagination()
    queryset = selectors.call_list(client=request.user.client, filters=form.cleaned_data)
    try:
        # CallListView's ordering, so a cursor from this page works on GET /api/v1/calls and back.
        page = paginator.paginate_queryset(
            queryset.values(*selectors.CALL_LIST_FIELDS, **call_context.call_columns()),
            Request(request),
            view=CallListView,
        )
    except ApiValidationError as error:
        context["paging_errors"] = [
            f"{PAGING_LABELS.get(name, name)}: {problem}"
            for name, problems in error.detail.items()
            for problem in problems
        ]
        return render(request, "recordings/calls.html", context, status=400)

    meta = paginator.get_pagination_meta()

    def page_url(cursor: str | None) -> str | None:
        return f"{request.path}?{urlencode({**filters, 'cursor': cursor})}" if cursor else None

    rows = [_list_row(values) for values in page]
    context.update(
        rows=rows,
        customer_filter=_customer_named(form.cleaned_data.get("customer"), rows),
        all_customers_url=_url_without(request.path, filters, "customer"),
        older_url=page_url(meta["next_cursor"]),
        newer_url=page_url(meta["previous_cursor"]),
        filtered=any(key not in PAGING_PARAMS for key in filters),
    )
    return render(request, "recordings/calls.html", context)


def _url_without(path: str, filters: dict[str, str], name: str) -> str:
    kept = {key: value for key, value in filters.items() if key != name}
    return f"{path}?{urlencode(kept)}" if kept else path


def _customer_named(customer_id, rows: list[dict]) -> dict | None:
    """The customer the list is filtered by, named from its calls (every row is theirs)."""
    if customer_id is None:
        return None
    named = next((row["customer"] for row in rows if row.get("customer")), None)
    return {"id": customer_id, "name": named["name"] if named else ""}


# --- one call ----------------------------------------------------------------------------------


class CallUpdateForm(ServiceForm):
    is_resolved = forms.BooleanField(label="Resolved", required=False)
    customer_satisfaction = forms.TypedChoiceField(
        label="Customer satisfaction",
        required=False,
        coerce=int,
        empty_value=None,
        choices=[
            ("", "Not rated"),
            (1, "1 — very unhappy"),
            (2, "2 — unhappy"),
            (3, "3 — neutral"),
            (4, "4 — happy"),
            (5, "5 — very happy"),
        ],
    )
    notes = forms.CharField(
        label="Notes",
        required=False,
        max_length=Call._meta.get_field("notes").max_length,
        widget=forms.Textarea(attrs={"rows": 5}),
    )


def _call(request, public_id) -> Call:
    return get_object_or_404(Call.objects.for_client(request.user.client), public_id=public_id)


def _call_page(request, call: Call, form: CallUpdateForm | None) -> HttpResponse:
    role = request.user.role
    recording = (
        Recording.objects.for_client(request.user.client)
        .filter(call=call)
        .exclude(status=RecordingStatus.DELETED)
        .first()
    )
    can_update = can(role, Capability.UPDATE_CALLS)
    if can_update and form is None:
        form = CallUpdateForm(
            initial={field: getattr(call, field) for field in ("is_resolved", "customer_satisfaction", "notes")}
        )
    context = {
        "call": call,
        "status_label": STATUS_LABELS.get(call.status, call.status),
        "duration": mm_ss(call.duration_seconds),
        "recording": recording,
        "download_url": (
            reverse("recording-download", args=[recording.public_id])
            if recording and recording.status == RecordingStatus.STORED
            else None
        ),
        "can_play": can(role, Capability.PLAY_RECORDINGS),
        "can_retry": can(role, Capability.MANAGE_INTEGRATIONS),
        "form": form if can_update else None,
        "customer_card": call_context.call_card(call=call),
    }
    return render(request, "recordings/call.html", context)


@client_user_required(Capability.READ)
@require_safe
def call_detail(request: HttpRequest, public_id) -> HttpResponse:
    return _call_page(request, _call(request, public_id), None)


@client_user_required(Capability.UPDATE_CALLS)
@require_POST
def call_edit(request: HttpRequest, public_id) -> HttpResponse:
    call = _call(request, public_id)
    form = CallUpdateForm(request.POST)
    if form.is_valid():
        try:
            services.call_update(call=call, actor=request.user, **form.cleaned_data)
        except DomainError as error:
            form.add_service_error(error)
            call.refresh_from_db()  # the service may have set fields before refusing
        else:
            messages.success(request, "The call is saved.")
            return redirect("recordings:call", public_id=call.public_id)
    return _call_page(request, call, form)


@client_user_required(Capability.MANAGE_INTEGRATIONS)
@require_POST
def call_retry_recording(request: HttpRequest, public_id) -> HttpResponse:
    """Fetch a failed recording again (admins): the provider integration queues a new attempt."""
    call = _call(request, public_id)
    recording = (
        Recording.objects.for_client(request.user.client).filter(call=call, status=RecordingStatus.FAILED).first()
    )
    if recording is None:
        messages.info(request, "There is no failed recording to fetch again.")
    else:
        fetch_queue.recording_fetch_retry(recording=recording, actor=request.user)
        messages.success(request, "Caly is fetching the recording again; reload the page in a minute.")
    return redirect("recordings:call", public_id=call.public_id)
