"""The calls pages (Django sessions): the calls list, a call (the dashboard is caly/dashboard.py).

Thin views over recordings.selectors and recordings.services with the API's rules: the list is
validated by the API's CallFilterSerializer and paged by its KeysetPagination (the same cursors),
and every call is looked up within the signed-in user's client, so another client's ids answer 404.
"""

from __future__ import annotations

from django import forms
from django.conf import settings
from django.contrib import messages
from django.forms.utils import ErrorDict
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.utils import timezone
from django.utils.http import url_has_allowed_host_and_scheme, urlencode
from django.views.decorators.http import require_POST, require_safe
from rest_framework.exceptions import ValidationError as ApiValidationError
from rest_framework.request import Request

from accounts.forms import ServiceForm
from accounts.models import User
from accounts.roles import Capability, can
from accounts.selectors import member_list, member_phone_list
from accounts.views import client_user_required
from caly.foundation.api.pagination import KeysetPagination
from caly.foundation.errors import DomainError, ErrorCode
from caly.foundation.ratelimit import enforce_rate
from recordings import call_context, csv_export, exports, fetch_queue, providers, selectors, services, tags
from recordings.api.serializers import CallExportSerializer, CallFilterSerializer
from recordings.api.views import PLACE_CALL_RATE, CallListView, MissedCallListView, csv_response
from recordings.models import (
    E164,
    Call,
    CallExport,
    CallExportStatus,
    CallStatus,
    Direction,
    Provider,
    Recording,
    RecordingStatus,
)

# Query parameters of the list that are not filters.
PAGING_PARAMS = ("cursor", "limit")
PAGING_LABELS = {"cursor": "Page link", "limit": "Rows per page"}
# The list's orders as the page names them; "" is the default (newest first), left out of links.
ORDERING_CHOICES = [
    ("", "Newest first"),
    ("started_at", "Oldest first"),
    ("-duration_seconds", "Longest first"),
    ("duration_seconds", "Shortest first"),
]
ORDERING_LABELS = {value or selectors.DEFAULT_CALL_ORDERING: label for value, label in ORDERING_CHOICES}
# The pager's links (back, on) for the orders by time; by duration they are Previous and Next.
PAGER_LABELS = {"-started_at": ("Newer", "Older"), "started_at": ("Older", "Newer")}
# The column headers that sort: (the key, the ordering a first click asks for).
SORTABLE_COLUMNS = {"started_at": "-started_at", "duration_seconds": "-duration_seconds"}
STATUS_LABELS = dict(CallStatus.choices)
DIRECTION_LABELS = dict(Direction.choices)


def mm_ss(seconds: float | None) -> str:
    """95 -> "1:35"; None -> "—"."""
    if seconds is None:
        return "—"
    minutes, rest = divmod(round(seconds), 60)
    return f"{minutes}:{rest:02d}"


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
    started_from = forms.DateField(label="Started from", required=False, widget=forms.DateInput(attrs={"type": "date"}))
    started_to = forms.DateField(label="Started to", required=False, widget=forms.DateInput(attrs={"type": "date"}))
    status = forms.ChoiceField(label="Status", required=False, choices=[("", "Any"), *CallStatus.choices])
    direction = forms.ChoiceField(label="Direction", required=False, choices=[("", "Any"), *Direction.choices])
    outcome = forms.ChoiceField(
        label="Outcome", required=False, choices=[("", "Any"), ("answered", "Answered"), ("missed", "Missed")]
    )
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
    tag = forms.ChoiceField(label="Tag", required=False, choices=[("", "Any")])
    agent = forms.ChoiceField(label="Agent", required=False, choices=[("", "Anyone")])
    ordering = forms.ChoiceField(label="Sort", required=False, choices=ORDERING_CHOICES)
    # Set by a customer's "their calls" link and kept by the form; the page names the customer above the list.
    customer = forms.UUIDField(required=False, widget=forms.HiddenInput)

    def __init__(self, *args, client=None, members=(), **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["agent"].choices = agent_choices(members)
        choices = [("", "Any"), *((str(tag.public_id), tag.name) for tag in tags.tag_list(client=client))]
        given = self.data.get("tag")
        if given and given not in dict(choices):  # several tags, or a name typed into the address
            choices.append((given, given))
        self.fields["tag"].choices = choices

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
                field = serializer.fields.get(name)
                prefix = f"{field.label}: " if field is not None and field.label else ""
                self.add_error(None, [f"{prefix}{problem}" for problem in problems])


def agent_choices(members) -> list[tuple[str, str]]:
    """The agent filter's options: anyone, me, nobody matched, then each member by name."""
    return [
        ("", "Anyone"),
        (selectors.AGENT_ME, "Me"),
        (selectors.AGENT_NONE, "Nobody matched"),
        *((str(member.public_id), member.get_full_name()) for member in members),
    ]


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
    form = CallFilterForm(
        {key: value for key, value in filters.items() if key not in PAGING_PARAMS},
        client=request.user.client,
        members=member_list(client=request.user.client),
    )
    role = request.user.role
    context = {
        "form": form,
        "rows": None,
        "paging_errors": [],
        "limit": filters.get("limit"),
        "my_calls": filters.get("agent") == selectors.AGENT_ME,
        "can_play": can(role, Capability.PLAY_RECORDINGS),
        "can_export": can(role, Capability.EXPORT_CALLS),
        "ordering_label": ORDERING_LABELS[selectors.DEFAULT_CALL_ORDERING],
    }
    if not form.is_valid():
        return render(request, "recordings/calls.html", context, status=400)

    paginator = KeysetPagination()
    client = request.user.client
    queryset = selectors.call_list(client=client, filters=form.cleaned_data, viewer=request.user)
    ordering = selectors.call_ordering(form.cleaned_data)
    try:
        # CallListView's keysets, so a cursor from this page works on GET /api/v1/calls and back.
        page = paginator.paginate_queryset(
            queryset.values(*selectors.CALL_LIST_FIELDS, **call_context.call_columns()),
            Request(request),
            view=CallListView,
            ordering=ordering,
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
    chosen = form.cleaned_data.get("ordering") or selectors.DEFAULT_CALL_ORDERING
    context.update(
        rows=rows,
        customer_filter=_customer_named(form.cleaned_data.get("customer"), rows),
        all_customers_url=_url_without(request.path, filters, "customer"),
        older_url=page_url(meta["next_cursor"]),
        newer_url=page_url(meta["previous_cursor"]),
        filtered=any(key not in PAGING_PARAMS and key != "ordering" for key in filters),
        total=total_label(selectors.call_count(client=client, filters=form.cleaned_data, viewer=request.user)),
        chips=_filter_chips(request.path, form, filters),
        sort_links=_sort_links(request.path, filters, chosen),
        ordering_label=ORDERING_LABELS[chosen],
        pager_labels=PAGER_LABELS.get(chosen, ("Previous", "Next")),
        export_fields=[(key, value) for key, value in filters.items() if key not in PAGING_PARAMS],
    )
    return render(request, "recordings/calls.html", context)


def total_label(total: selectors.CallCount) -> str:
    """12 -> "12 calls"; an estimate of 12,437 -> "about 12,400 calls"; a stopped count -> "more than 10,000 calls"."""
    if total.kind == "more_than":
        return f"more than {total.count - 1:,} calls"
    if total.exact:
        return "1 call" if total.count == 1 else f"{total.count:,} calls"
    significant = 3  # 12,437 -> 12,400
    rounded = round(total.count, min(0, significant - len(str(total.count))))
    return f"about {rounded:,} calls"


def _filter_chips(path: str, form: CallFilterForm, filters: dict[str, str]) -> list[dict]:
    """The filters in force, as a person reads them, each with the link that drops it."""
    known = CallFilterSerializer().fields
    chips = []
    for name, raw in filters.items():
        if name not in known or name in ("ordering", "customer"):
            continue  # the customer has its own line naming them; the order is the Sort control's
        field = form.fields.get(name)
        label = field.label if field is not None and not field.widget.is_hidden else known[name].label
        value = raw
        if isinstance(field, forms.ChoiceField):
            value = dict(field.choices).get(raw, raw)
        elif isinstance(field, forms.DateField):
            value = f"{form.cleaned_data[name]:%-d %b %Y}"
        chips.append({"label": label or name, "value": value, "clear_url": _url_without(path, filters, name)})
    return chips


def _sort_links(path: str, filters: dict[str, str], chosen: str) -> dict[str, dict]:
    """Per sortable column: the link that sorts by it (high to low first, then flipping) and its aria-sort."""
    links = {}
    kept = {key: value for key, value in filters.items() if key != "ordering"}
    for column, first in SORTABLE_COLUMNS.items():
        if chosen.lstrip("-") == column:
            target = column if chosen.startswith("-") else f"-{column}"
            state = "descending" if chosen.startswith("-") else "ascending"
        else:
            target, state = first, "none"
        query = kept if target == selectors.DEFAULT_CALL_ORDERING else {**kept, "ordering": target}
        links[column] = {"url": f"{path}?{urlencode(query)}" if query else path, "sort": state}
    return links


@client_user_required(Capability.EXPORT_CALLS)
@require_POST
def calls_export(request: HttpRequest) -> HttpResponse:
    """The Export button: the calls of the list's filters as CSV now, or, when many, by the worker with a
    progress page (the same rules and audit as GET /api/v1/calls/export)."""
    query = {key: value for key, value in request.POST.items() if key != "csrfmiddlewaretoken" and value != ""}
    back = f"{reverse('recordings:calls')}?{urlencode(query)}" if query else reverse("recordings:calls")
    form = CallFilterForm(query)
    if not form.is_valid():
        messages.error(request, "Correct the filters before exporting.")
        return redirect(back)
    client = request.user.client
    try:
        enforce_rate(request, group="calls-export", key="user", rate=settings.RATE_LIMITS["export_user"])
        export = exports.call_export_start(client=client, actor=request.user, filters=form.cleaned_data)
    except DomainError as error:
        messages.error(request, error.message)
        return redirect(back)
    if export is None:
        return csv_response(csv_export.csv_chunks(client=client, filters=form.cleaned_data, viewer=request.user))
    return redirect("recordings:call-export", public_id=export.public_id)


@client_user_required(Capability.EXPORT_CALLS)
@require_safe
def call_export(request: HttpRequest, public_id) -> HttpResponse:
    """A large export's progress; static/js/export-progress.js polls its status and shows the link when written."""
    export = get_object_or_404(CallExport.objects.for_client(request.user.client), public_id=public_id)
    serialized = CallExportSerializer(export).data
    expired = export.expires_at <= timezone.now()
    percent_done = (
        100
        if export.status == CallExportStatus.DONE
        else min(99, round(100 * export.rows_written / export.rows_expected))
        if export.rows_expected
        else 0
    )
    context = {
        "export": export,
        "status_label": export.get_status_display(),
        "status_url": serialized["status_url"],
        "download_url": serialized["download_url"] if not expired else None,
        "expired": expired,
        "percent": percent_done,
        "list_url": f"{reverse('recordings:calls')}?{urlencode(export.filters)}" if export.filters else None,
    }
    return render(request, "recordings/call_export.html", context)


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


def _call_page(
    request, call: Call, form: CallUpdateForm | None, *, tag_errors: list[str] | None = None
) -> HttpResponse:
    role = request.user.role
    recording = (
        Recording.objects.for_client(request.user.client)
        .filter(call=call)
        .exclude(status=RecordingStatus.DELETED)
        .first()
    )
    can_update = can(role, Capability.UPDATE_CALLS)
    call_tags = tags.call_tag_list(call=call)
    tagged = {tag.pk for tag in call_tags}
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
        "tags": call_tags,
        "other_tags": [tag for tag in tags.tag_list(client=call.client) if tag.pk not in tagged] if can_update else [],
        "tag_errors": tag_errors,
        "can_manage_tags": can(role, Capability.MANAGE_CLIENT),
        "agent": selectors.call_agent(call),
        "call_back_number": _dialable(services.customer_number(call)),
        "click_to_call": click_to_call(request),
    }
    return render(request, "recordings/call.html", context, status=400 if tag_errors else 200)


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


@client_user_required(Capability.UPDATE_CALLS)
@require_POST
def call_tags_edit(request: HttpRequest, public_id) -> HttpResponse:
    """Add (`add`) or take off (`remove`) one tag, by its id, from the call's page."""
    call = _call(request, public_id)
    add, remove = request.POST.get("add", ""), request.POST.get("remove", "")
    try:
        if not add and not remove:
            raise DomainError(ErrorCode.VALIDATION_ERROR, "Choose a tag to add.")
        found = tags.tags_resolve(client=call.client, ids=[add or remove], field="tag")
        if add:
            tags.call_tags_change(call=call, actor=request.user, add=found)
        else:
            tags.call_tags_change(call=call, actor=request.user, remove=found)
    except DomainError as error:
        problems = error.details.get("tag") if isinstance(error.details, dict) else None
        return _call_page(request, call, None, tag_errors=problems or [error.message])
    messages.success(request, f"Tag “{found[0].name}” {'added' if add else 'removed'}.")
    return redirect(reverse("recordings:call", args=[call.public_id]) + "#tags")


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


# --- click-to-call -----------------------------------------------------------------------------


def _dialable(number: str) -> str | None:
    """The number if Caly may dial it (E.164; a masked number is not)."""
    return number if E164.fullmatch(number or "") else None


def click_to_call(request) -> dict | None:
    """What a click-to-call button needs on a page: the member's numbers to ring first and where to come back
    to on a refusal; None for a role that cannot place calls (the button is not shown)."""
    user = request.user
    if not can(user.role, Capability.PLACE_CALLS):
        return None
    return {"phones": list(member_phone_list(client=user.client, user=user)), "back": request.get_full_path()}


class CallPlaceForm(forms.Form):
    to = forms.RegexField(rf"^{E164.pattern}$", max_length=16, error_messages={"invalid": "Not a phone number."})
    from_number = forms.CharField(max_length=16)
    back = forms.CharField(required=False, max_length=2000)


def _back(request, path: str) -> str:
    """A path on this site to return to (the page the button was on), else the missed calls."""
    local = path.startswith("/") and not path.startswith("//")
    if local and url_has_allowed_host_and_scheme(path, allowed_hosts={request.get_host()}, require_https=False):
        return path
    return reverse("recordings:missed")


@client_user_required(Capability.PLACE_CALLS)
@require_POST
def call_place(request: HttpRequest) -> HttpResponse:
    """Click-to-call: Exotel rings one of the member's own numbers, then the customer; the new call's page opens."""
    form = CallPlaceForm(request.POST)
    back = _back(request, request.POST.get("back", ""))
    if not form.is_valid():
        messages.error(request, "Caly could not place this call: the number to call is not a phone number.")
        return redirect(back)
    user: User = request.user
    mine = [phone.number for phone in member_phone_list(client=user.client, user=user)]
    if not mine:
        messages.error(request, "Register your phone number first: Exotel rings it, then the customer.")
        return redirect("phones:index")
    if form.cleaned_data["from_number"] not in mine:
        messages.error(request, "Choose one of your registered numbers for Exotel to ring first.")
        return redirect(back)
    try:
        enforce_rate(request, group="calls-place", key="user", rate=PLACE_CALL_RATE)
        call = providers.call_placer(Provider.EXOTEL)(
            client=user.client,
            actor=user,
            to_number=form.cleaned_data["to"],
            from_number=form.cleaned_data["from_number"],
            caller_id=None,
            record=True,
            custom_field="",
        )
    except DomainError as error:
        messages.error(request, f"The call was not placed. {error.message}")
        return redirect(back)
    messages.success(
        request, f"Exotel is ringing your phone {call.from_number}; once you answer it calls {call.to_number}."
    )
    return redirect("recordings:call", public_id=call.public_id)


# --- missed calls to ring back -----------------------------------------------------------------


@client_user_required(Capability.READ)
@require_safe
def missed(request: HttpRequest) -> HttpResponse:
    """Numbers whose calls were missed since they were last answered, newest first, each with a call-back button."""
    client = request.user.client
    paginator = KeysetPagination()
    context: dict = {"rows": None, "paging_errors": [], "click_to_call": click_to_call(request)}
    try:
        page = paginator.paginate_queryset(
            selectors.missed_call_list(client=client), Request(request), view=MissedCallListView
        )
    except ApiValidationError as error:
        context["paging_errors"] = [
            f"{PAGING_LABELS.get(name, name)}: {problem}"
            for name, problems in error.detail.items()
            for problem in problems
        ]
        return render(request, "recordings/missed.html", context, status=400)
    meta = paginator.get_pagination_meta()
    limit = request.GET.get("limit")

    def page_url(cursor: str | None) -> str | None:
        if not cursor:
            return None
        return f"{request.path}?{urlencode({**({'limit': limit} if limit else {}), 'cursor': cursor})}"

    extra = call_context.call_rows(client=client, call_ids=[row.call_id for row in page])
    context.update(
        rows=[
            {
                "number": row.number,
                "dialable": _dialable(row.number),
                "attempts": row.attempts,
                "last_missed_at": row.last_missed_at,
                "first_missed_at": row.first_missed_at,
                "call_url": reverse("recordings:call", args=[row.call.public_id]),
                "calls_url": f"{reverse('recordings:calls')}?{urlencode({'number': row.number})}",
                "status_label": STATUS_LABELS.get(row.call.status, row.call.status),
                "agent": selectors.call_agent(row.call),
                "customer": extra.get(row.call_id, {}).get("customer"),
            }
            for row in page
        ],
        total=selectors.missed_call_count(client=client),
        older_url=page_url(meta["next_cursor"]),
        newer_url=page_url(meta["previous_cursor"]),
    )
    return render(request, "recordings/missed.html", context)
