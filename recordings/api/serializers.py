import re
import uuid
from datetime import date, timedelta

from django.core.validators import MaxValueValidator, MinValueValidator
from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from caly.foundation.api.serializers import RequestModelSerializer, RequestSerializer
from recordings import call_context, selectors, tags
from recordings.api.tags import TagBriefSerializer
from recordings.models import (
    TAG_NAME_MAX_LENGTH,
    Call,
    CallExport,
    CallExportStatus,
    CallStatus,
    Direction,
    MissedCall,
    Recording,
    RecordingStatus,
)
from recordings.selectors import CALL_LIST_SHOWN_FIELDS, CALL_ORDERINGS, STATS_RANGES
from recordings.services import CALL_EDITABLE_FIELDS

NUMBER_PREFIX = re.compile(r"^\+?[0-9]{1,15}$")
MAX_RANGE_DAYS = 366
# Days Caly can hold calls for; beyond them date arithmetic would overflow.
DAY_BOUNDS = [MinValueValidator(date(1970, 1, 8)), MaxValueValidator(date(2999, 12, 31))]


class RecordingSerializer(serializers.ModelSerializer):
    id = serializers.UUIDField(source="public_id", read_only=True)
    call_id = serializers.UUIDField(source="call.public_id", read_only=True)
    download_url = serializers.SerializerMethodField()

    class Meta:
        model = Recording
        fields = [
            "id",
            "call_id",
            "status",
            "started_at",
            "content_type",
            "size_bytes",
            "duration_seconds",
            "sha256",
            "channels",
            "attempts",
            "stored_at",
            "deleted_at",
            "download_url",
        ]
        read_only_fields = fields

    def get_download_url(self, recording) -> str | None:
        if recording.status != RecordingStatus.STORED:
            return None
        return f"/api/v1/recordings/{recording.public_id}/download"


class CustomerBriefSerializer(serializers.Serializer):
    """Who the call was with, as the list shows it."""

    id = serializers.UUIDField(help_text="The customer's id in Caly (GET /api/v1/customers/{id}).")
    name = serializers.CharField()


class CustomerSerializer(CustomerBriefSerializer):
    """The customer on a call, from the client's store (Shopify)."""

    email = serializers.CharField()
    phone = serializers.CharField(help_text="E.164.")
    tags = serializers.ListField(child=serializers.CharField())
    orders_count = serializers.IntegerField()
    total_spent = serializers.DecimalField(max_digits=14, decimal_places=2, allow_null=True)
    currency = serializers.CharField(help_text="ISO 4217, such as INR.")


class OrderSerializer(serializers.Serializer):
    id = serializers.UUIDField()
    name = serializers.CharField(help_text="The order's name in the store, such as #1042.")
    processed_at = serializers.DateTimeField(allow_null=True)
    financial_status = serializers.CharField(help_text="Shopify's, such as paid or pending.")
    fulfillment_status = serializers.CharField(help_text="Shopify's, such as fulfilled; empty: unfulfilled.")
    cancelled_at = serializers.DateTimeField(allow_null=True)
    total = serializers.DecimalField(max_digits=14, decimal_places=2, allow_null=True)
    currency = serializers.CharField()
    item_count = serializers.IntegerField()
    admin_url = serializers.URLField(allow_null=True, help_text="The order in the store's Shopify admin.")


CUSTOMER_MATCHES = [
    ("phone", "By the customer's number"),
    ("order", "By an order reference on the call (CustomField, notes)"),
    ("ambiguous", "Several customers share the number: none is chosen"),
    ("none", "No customer has the number"),
]


class CallSerializer(serializers.ModelSerializer):
    """The list shape; `call_row()` in views builds the same dict from `.values()` rows, faster."""

    id = serializers.UUIDField(source="public_id", read_only=True)
    customer = serializers.SerializerMethodField()

    class Meta:
        model = Call
        fields = ["id", *CALL_LIST_SHOWN_FIELDS, *call_context.LIST_ROW_FIELDS]
        read_only_fields = fields

    @extend_schema_field(CustomerBriefSerializer(allow_null=True))
    def get_customer(self, call) -> dict | None:
        return call_context.call_rows(client=call.client, call_ids=[call.pk]).get(call.pk, {}).get("customer")


class AgentSerializer(serializers.Serializer):
    """Who took or placed a call: a member of the team, and the number that rang."""

    id = serializers.UUIDField(
        allow_null=True, help_text="The member (GET /api/v1/team/members/{id}); null: nobody matched."
    )
    name = serializers.CharField(help_text="The member's name; empty when nobody matched.")
    number = serializers.CharField(help_text="The agent side's number, E.164; empty when unknown.")


class CallDetailSerializer(CallSerializer):
    agent = serializers.SerializerMethodField()
    recordings = serializers.SerializerMethodField()
    tags = serializers.SerializerMethodField()
    orders = serializers.SerializerMethodField()
    customer_match = serializers.SerializerMethodField()

    class Meta(CallSerializer.Meta):
        fields = [
            *CallSerializer.Meta.fields,
            "agent",
            "customer_match",
            "orders",
            "transcript",
            "metadata",
            "created_at",
            "updated_at",
            "recordings",
            "tags",
        ]
        read_only_fields = fields

    @extend_schema_field(TagBriefSerializer(many=True))
    def get_tags(self, call) -> list[dict]:
        return TagBriefSerializer(tags.call_tag_list(call=call), many=True).data

    @extend_schema_field(AgentSerializer(allow_null=True))
    def get_agent(self, call) -> dict | None:
        return selectors.call_agent(call)

    def _call_extra(self, call) -> dict:
        """What settings.CALL_CONTEXT adds to the call, read once for the three fields."""
        cached = getattr(self, "_call_context", None)
        if cached is None or cached[0] != call.pk:
            cached = (call.pk, call_context.call_detail(call))
            self._call_context = cached
        return cached[1]

    @extend_schema_field(CustomerSerializer(allow_null=True))
    def get_customer(self, call) -> dict | None:
        return self._call_extra(call).get("customer")

    @extend_schema_field(OrderSerializer(many=True))
    def get_orders(self, call) -> list[dict]:
        return self._call_extra(call).get("orders", [])

    @extend_schema_field(serializers.ChoiceField(choices=CUSTOMER_MATCHES))
    def get_customer_match(self, call) -> str:
        return self._call_extra(call).get("customer_match", "none")

    def get_recordings(self, call) -> list[dict]:
        live = [
            r for r in call.recordings.all() if r.status != RecordingStatus.DELETED and r.client_id == call.client_id
        ]
        return RecordingSerializer(live, many=True).data


E164_PATTERN = r"^\+[1-9][0-9]{6,14}$"


class CallPlaceSerializer(RequestSerializer):
    """An outbound call: Exotel rings `from` (the agent) first, then connects `to` (the customer)."""

    # `from` is a keyword, so get_fields adds the field.
    to = serializers.RegexField(E164_PATTERN, help_text="The customer's number, E.164 (+919876543210).")
    caller_id = serializers.RegexField(
        E164_PATTERN,
        required=False,
        help_text="The ExoPhone the customer sees; one of the Exotel connection's caller ids (default: the first).",
    )
    record = serializers.BooleanField(required=False, default=True)
    custom_field = serializers.CharField(
        required=False, default="", allow_blank=True, max_length=128, help_text="Echoed back by Exotel (order id…)."
    )

    def get_fields(self):
        return {
            **super().get_fields(),
            "from": serializers.RegexField(E164_PATTERN, help_text="The agent's phone, E.164: Exotel rings it first."),
        }

    def validate(self, data):
        if data["to"] == data["from"]:
            raise serializers.ValidationError({"to": ["Must differ from the agent's number."]})
        return data


class CallUpdateSerializer(RequestModelSerializer):
    class Meta:
        model = Call
        fields = list(CALL_EDITABLE_FIELDS)
        extra_kwargs = {"customer_satisfaction": {"min_value": 1, "max_value": 5}}


class DateRangeFilterSerializer(serializers.Serializer):
    """Each field's `label` is how messages and pages name it to a person ("Started from", not started_from)."""

    started_from = serializers.DateField(
        required=False, validators=DAY_BOUNDS, label="Started from", help_text="First local day (client's time zone)."
    )
    started_to = serializers.DateField(
        required=False, validators=DAY_BOUNDS, label="Started to", help_text="Last local day, inclusive."
    )

    def validate(self, data):
        first, last = data.get("started_from"), data.get("started_to")
        if first and last and first > last:
            raise serializers.ValidationError({"started_to": ["Must not be before the “Started from” day."]})
        return data


def _number_prefix(value: str) -> str:
    if not NUMBER_PREFIX.match(value):
        raise serializers.ValidationError("Digits with an optional leading +, at most 15.")
    return value


class TagFilterField(serializers.CharField):
    """`tag=refund` or `tag=<id>,<id>` (or the parameter repeated): calls with any of these tags, each named by
    its id or its name in any case. A value that is none of your tags matches no call."""

    def to_internal_value(self, data) -> list[str]:
        text = super().to_internal_value(data)
        if "\x00" in text:  # PostgreSQL text cannot hold it: no tag has it in its name
            raise serializers.ValidationError("Null characters are not allowed.")
        values = [value.strip() for value in text.split(",")]
        if not all(values):
            raise serializers.ValidationError("Tag ids or names separated by commas, none empty.")
        if len(values) > tags.TAG_FILTER_MAX:
            raise serializers.ValidationError(f"At most {tags.TAG_FILTER_MAX} tags at a time.")
        if any(len(value) > TAG_NAME_MAX_LENGTH for value in values):
            raise serializers.ValidationError(f"A tag's name has at most {TAG_NAME_MAX_LENGTH} characters.")
        return values


def _agent(value: str) -> str:
    if value in (selectors.AGENT_ME, selectors.AGENT_NONE):
        return value
    try:
        return str(uuid.UUID(value))
    except ValueError:
        raise serializers.ValidationError("A member's id, me, or none.") from None


class CallFilterSerializer(DateRangeFilterSerializer):
    agent = serializers.CharField(
        required=False,
        max_length=36,
        validators=[_agent],
        help_text="Calls of this member (their id), `me` (your calls) or `none` (nobody matched).",
    )
    status = serializers.ChoiceField(choices=CallStatus.choices, required=False, label="Status")
    direction = serializers.ChoiceField(choices=Direction.choices, required=False, label="Direction")
    outcome = serializers.ChoiceField(
        choices=[("answered", "Answered"), ("missed", "Missed")],
        required=False,
        help_text="answered: completed after someone picked up; missed: inbound and no-answer, busy, failed or "
        "canceled (the dashboard's figures).",
    )
    number = serializers.RegexField(
        r"^\+[1-9][0-9]{6,14}$",
        required=False,
        label="Number",
        help_text="Exact E.164 number.",
        error_messages={"invalid": "Enter a phone number in E.164 form, such as +919876543210."},
    )
    number_prefix = serializers.CharField(
        required=False, max_length=16, validators=[_number_prefix], label="Number or prefix"
    )
    resolved = serializers.BooleanField(required=False, label="Resolved")
    has_recording = serializers.BooleanField(required=False, label="Recording")
    min_duration = serializers.IntegerField(
        required=False, min_value=0, max_value=10**7, label="Shortest duration (seconds)"
    )
    max_duration = serializers.IntegerField(
        required=False, min_value=0, max_value=10**7, label="Longest duration (seconds)"
    )
    q = serializers.CharField(
        required=False,
        min_length=3,
        max_length=100,
        label="Search",
        help_text="Number prefix, words in the notes, a customer's name or e-mail, or an order's name (3+ characters).",
    )
    customer = serializers.UUIDField(
        required=False, label="Customer", help_text="Calls linked to this customer (its id)."
    )
    order = serializers.CharField(
        required=False,
        max_length=64,
        label="Order",
        help_text="Calls about this order: its name (#1042, CP-1042) or number.",
    )
    tag = TagFilterField(
        required=False,
        max_length=2000,
        help_text="Calls with any of these tags: ids or names, separated by commas (tag=refund,delivery).",
    )
    ordering = serializers.ChoiceField(
        choices=list(CALL_ORDERINGS),
        required=False,
        label="Sort",
        error_messages={"invalid_choice": f"Sort by one of: {', '.join(CALL_ORDERINGS)}."},
        help_text=f"One of {', '.join(CALL_ORDERINGS)} (default -started_at: newest first); "
        "a leading - sorts high to low. Ties are broken by the call, so pages never repeat or skip a call.",
    )

    def validate(self, data):
        data = super().validate(data)
        shortest, longest = data.get("min_duration"), data.get("max_duration")
        if shortest is not None and longest is not None and shortest > longest:
            raise serializers.ValidationError({"max_duration": ["Must not be below the shortest duration."]})
        return data


class RecordingFilterSerializer(DateRangeFilterSerializer):
    status = serializers.ChoiceField(choices=RecordingStatus.choices, required=False)
    direction = serializers.ChoiceField(choices=Direction.choices, required=False)
    number = serializers.RegexField(r"^\+[1-9][0-9]{6,14}$", required=False)


class StatsFilterSerializer(serializers.Serializer):
    range = serializers.ChoiceField(
        choices=list(STATS_RANGES),
        required=False,
        help_text="The dashboard's ranges: today, or the last 7, 30 or 90 local days up to today (client's time "
        "zone). Not together with started_from or started_to.",
    )
    started_from = serializers.DateField(required=False, validators=DAY_BOUNDS)
    started_to = serializers.DateField(required=False, validators=DAY_BOUNDS)

    def validate(self, data):
        if data.get("range") and (data.get("started_from") or data.get("started_to")):
            raise serializers.ValidationError({"range": ["Give a range or started_from and started_to, not both."]})
        first, last = data.get("started_from"), data.get("started_to")
        if first and last and first > last:
            raise serializers.ValidationError({"started_to": ["Must not be before started_from."]})
        if first and last and (last - first) > timedelta(days=MAX_RANGE_DAYS):
            raise serializers.ValidationError({"started_to": [f"At most {MAX_RANGE_DAYS} days at a time."]})
        return data


class DayCountSerializer(serializers.Serializer):
    date = serializers.DateField()
    calls = serializers.IntegerField()
    answered = serializers.IntegerField(help_text="Completed after someone picked up.")
    missed = serializers.IntegerField(help_text="Inbound and no-answer, busy, failed or canceled.")


class StatsAgentSerializer(serializers.Serializer):
    id = serializers.UUIDField()
    name = serializers.CharField()
    email = serializers.EmailField()


class AgentFiguresSerializer(serializers.Serializer):
    agent = StatsAgentSerializer(allow_null=True, help_text="The member; null for the calls no member took.")
    calls = serializers.IntegerField()
    answered = serializers.IntegerField()
    missed = serializers.IntegerField()
    average_handle_seconds = serializers.FloatField(
        allow_null=True, help_text="Average duration of the answered calls, in seconds."
    )
    resolved_rate = serializers.FloatField(allow_null=True, help_text="Resolved calls over all calls, 0 to 1.")
    average_satisfaction = serializers.FloatField(allow_null=True, help_text="Over the rated calls, 1 to 5.")


class StatsSummarySerializer(serializers.Serializer):
    # `from` is a keyword, so get_fields adds the field.
    to = serializers.DateField()
    timezone = serializers.CharField()
    calls = serializers.IntegerField()
    answered = serializers.IntegerField()
    answered_rate = serializers.FloatField(allow_null=True)
    average_duration_seconds = serializers.FloatField(allow_null=True)
    resolved_rate = serializers.FloatField(allow_null=True)
    average_satisfaction = serializers.FloatField(allow_null=True)
    recordings_stored = serializers.IntegerField()
    recordings_failed = serializers.IntegerField()
    missed = serializers.IntegerField(help_text="Inbound calls nobody picked up: no-answer, busy, failed, canceled.")
    calls_per_day = DayCountSerializer(many=True)
    agents = AgentFiguresSerializer(
        many=True,
        help_text="One row per member who took calls in the range and per active member with the agent role, "
        "busiest first; a last row with agent null for the calls no member took.",
    )

    def get_fields(self):
        return {**super().get_fields(), "from": serializers.DateField()}


class MissedCallSerializer(serializers.ModelSerializer):
    """A number to ring back: its latest missed call and how many times it tried since it was last answered."""

    call_id = serializers.UUIDField(source="call.public_id", read_only=True, help_text="The latest missed call.")
    status = serializers.CharField(source="call.status", read_only=True)

    class Meta:
        model = MissedCall
        fields = ["number", "call_id", "status", "last_missed_at", "first_missed_at", "attempts"]
        read_only_fields = fields


class CallExportSerializer(serializers.ModelSerializer):
    """A calls export written by the worker. `download_url` is set once it is written, until `expires_at`."""

    id = serializers.UUIDField(source="public_id", read_only=True)
    status_url = serializers.SerializerMethodField()
    download_url = serializers.SerializerMethodField()
    filters = serializers.DictField(help_text="The list's filters it was made with.")

    class Meta:
        model = CallExport
        fields = [
            "id",
            "status",
            "rows_expected",
            "rows_written",
            "size_bytes",
            "error",
            "filters",
            "created_at",
            "finished_at",
            "expires_at",
            "status_url",
            "download_url",
        ]
        read_only_fields = fields

    def get_status_url(self, export) -> str:
        return f"/api/v1/calls/exports/{export.public_id}"

    def get_download_url(self, export) -> str | None:
        if export.status != CallExportStatus.DONE:
            return None
        return f"/api/v1/calls/exports/{export.public_id}/download"
