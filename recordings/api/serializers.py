import re
from datetime import date, timedelta

from django.core.validators import MaxValueValidator, MinValueValidator
from rest_framework import serializers

from caly.foundation.api.serializers import RequestModelSerializer, RequestSerializer
from recordings.models import Call, CallStatus, Direction, Recording, RecordingStatus
from recordings.selectors import CALL_LIST_SHOWN_FIELDS
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


class CallSerializer(serializers.ModelSerializer):
    """The list shape; `call_row()` in views builds the same dict from `.values()` rows, faster."""

    id = serializers.UUIDField(source="public_id", read_only=True)

    class Meta:
        model = Call
        fields = ["id", *CALL_LIST_SHOWN_FIELDS]
        read_only_fields = fields


class CallDetailSerializer(CallSerializer):
    recordings = serializers.SerializerMethodField()

    class Meta(CallSerializer.Meta):
        fields = [*CallSerializer.Meta.fields, "transcript", "metadata", "created_at", "updated_at", "recordings"]
        read_only_fields = fields

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
    started_from = serializers.DateField(
        required=False, validators=DAY_BOUNDS, help_text="First local day (client's time zone)."
    )
    started_to = serializers.DateField(required=False, validators=DAY_BOUNDS, help_text="Last local day, inclusive.")

    def validate(self, data):
        first, last = data.get("started_from"), data.get("started_to")
        if first and last and first > last:
            raise serializers.ValidationError({"started_to": ["Must not be before started_from."]})
        return data


def _number_prefix(value: str) -> str:
    if not NUMBER_PREFIX.match(value):
        raise serializers.ValidationError("Digits with an optional leading +, at most 15.")
    return value


class CallFilterSerializer(DateRangeFilterSerializer):
    status = serializers.ChoiceField(choices=CallStatus.choices, required=False)
    direction = serializers.ChoiceField(choices=Direction.choices, required=False)
    number = serializers.RegexField(r"^\+[1-9][0-9]{6,14}$", required=False, help_text="Exact E.164 number.")
    number_prefix = serializers.CharField(required=False, max_length=16, validators=[_number_prefix])
    resolved = serializers.BooleanField(required=False)
    has_recording = serializers.BooleanField(required=False)
    min_duration = serializers.IntegerField(required=False, min_value=0, max_value=10**7)
    max_duration = serializers.IntegerField(required=False, min_value=0, max_value=10**7)
    q = serializers.CharField(
        required=False, min_length=3, max_length=100, help_text="Number prefix or words in the notes (3+ characters)."
    )


class RecordingFilterSerializer(DateRangeFilterSerializer):
    status = serializers.ChoiceField(choices=RecordingStatus.choices, required=False)
    direction = serializers.ChoiceField(choices=Direction.choices, required=False)
    number = serializers.RegexField(r"^\+[1-9][0-9]{6,14}$", required=False)


class StatsFilterSerializer(serializers.Serializer):
    started_from = serializers.DateField(required=False, validators=DAY_BOUNDS)
    started_to = serializers.DateField(required=False, validators=DAY_BOUNDS)

    def validate(self, data):
        first, last = data.get("started_from"), data.get("started_to")
        if first and last and first > last:
            raise serializers.ValidationError({"started_to": ["Must not be before started_from."]})
        if first and last and (last - first) > timedelta(days=MAX_RANGE_DAYS):
            raise serializers.ValidationError({"started_to": [f"At most {MAX_RANGE_DAYS} days at a time."]})
        return data


class DayCountSerializer(serializers.Serializer):
    date = serializers.DateField()
    calls = serializers.IntegerField()


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
    calls_per_day = DayCountSerializer(many=True)

    def get_fields(self):
        return {**super().get_fields(), "from": serializers.DateField()}
