"""Calls and their recordings. Provider-neutral: integrations feed them, recordings store bytes."""

from __future__ import annotations

import re
import uuid

from django.conf import settings
from django.core.validators import MaxValueValidator, MinValueValidator, RegexValidator
from django.db import models
from django.db.models import F, Q, Value
from django.db.models.functions import Coalesce, Lower

from accounts.models import Client
from caly.foundation.tenancy import TenantQuerySet

E164_PATTERN = r"\+[1-9][0-9]{6,14}"  # + and 7-15 ASCII digits, the first not 0
e164 = RegexValidator(rf"^{E164_PATTERN}$", "Enter a phone number in E.164 form, such as +919876543210.")
E164 = re.compile(E164_PATTERN)
# A number masked on its calls by a privacy erasure (recordings.services.number_masked): the last four digits.
MASKED_NUMBER_PATTERN = r"\+X{3,11}[0-9]{4}"
e164_or_masked = RegexValidator(
    rf"^({E164_PATTERN}|{MASKED_NUMBER_PATTERN})$", "Enter a phone number in E.164 form, such as +919876543210."
)


class Provider(models.TextChoices):
    EXOTEL = "exotel", "Exotel"


class Direction(models.TextChoices):
    INBOUND = "inbound", "Inbound"
    OUTBOUND = "outbound", "Outbound"


class CallStatus(models.TextChoices):
    QUEUED = "queued", "Queued"
    RINGING = "ringing", "Ringing"
    IN_PROGRESS = "in-progress", "In progress"
    COMPLETED = "completed", "Completed"
    BUSY = "busy", "Busy"
    NO_ANSWER = "no-answer", "No answer"
    FAILED = "failed", "Failed"
    CANCELED = "canceled", "Canceled"


class Call(models.Model):
    # No index of its own: every composite index below leads with client (migration 0005).
    client = models.ForeignKey(Client, on_delete=models.PROTECT, related_name="+", db_index=False)
    public_id = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    provider = models.CharField(max_length=20, choices=Provider.choices, default=Provider.EXOTEL)
    provider_call_id = models.CharField(max_length=100)
    direction = models.CharField(max_length=10, choices=Direction.choices)
    from_number = models.CharField(max_length=16, validators=[e164_or_masked])
    to_number = models.CharField(max_length=16, validators=[e164_or_masked])
    status = models.CharField(max_length=12, choices=CallStatus.choices, default=CallStatus.QUEUED)
    started_at = models.DateTimeField()
    answered_at = models.DateTimeField(null=True, blank=True)
    ended_at = models.DateTimeField(null=True, blank=True)
    duration_seconds = models.PositiveIntegerField(default=0)
    is_resolved = models.BooleanField(default=False)
    customer_satisfaction = models.PositiveSmallIntegerField(
        null=True, blank=True, validators=[MinValueValidator(1), MaxValueValidator(5)]
    )
    notes = models.TextField(blank=True, max_length=5000)
    transcript = models.TextField(blank=True)
    metadata = models.JSONField(default=dict, blank=True)
    has_recording = models.BooleanField(default=False, help_text="Kept in step with its stored recording.")
    # The member of the client's team who took or placed the call (None: nobody matched), and the number
    # of the agent's side of the call as the provider reported it (kept when no member has that number).
    agent = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+", db_index=False
    )
    agent_number = models.CharField(max_length=16, blank=True, validators=[e164_or_masked])
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    objects = TenantQuerySet.as_manager()

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["client", "provider", "provider_call_id"], name="recordings_call_unique_provider_id"
            ),
            models.CheckConstraint(
                condition=Q(customer_satisfaction__isnull=True) | Q(customer_satisfaction__range=(1, 5)),
                name="recordings_call_satisfaction_1_5",
            ),
        ]
        indexes = [
            models.Index(fields=["client", "-started_at", "-id"], name="rec_call_client_started"),
            models.Index(fields=["client", "status", "-started_at", "-id"], name="rec_call_client_status"),
            models.Index(fields=["agent", "-started_at", "-id"], name="rec_call_agent_started"),
            # Calls on a number no member had registered yet: linked to the member who registers it.
            models.Index(
                fields=["client", "agent_number"],
                condition=Q(agent__isnull=True) & ~Q(agent_number=""),
                name="rec_call_unattributed",
            ),
            # Sorting by duration (either way, read backwards for high to low) seeks like sorting by time.
            models.Index(fields=["client", "duration_seconds", "id"], name="rec_call_client_duration"),
            models.Index(
                fields=["client", "from_number"], name="rec_call_client_from", opclasses=["", "varchar_pattern_ops"]
            ),
            models.Index(
                fields=["client", "to_number"], name="rec_call_client_to", opclasses=["", "varchar_pattern_ops"]
            ),
        ]

    def __str__(self) -> str:
        return f"{self.from_number} → {self.to_number} at {self.started_at:%Y-%m-%d %H:%M}"


# A call is answered when it completed after someone picked up. The stats triggers of migration 0002
# write this condition in SQL too; tests/test_one_definition_answered.py holds the two equal.
CALL_ANSWERED = Q(status=CallStatus.COMPLETED, answered_at__isnull=False)
# A call is missed when a customer called and it ended without anyone picking up: it rang out (no-answer;
# Exotel's "incomplete" flow), the agent's line was busy, it failed, or the caller hung up while it rang
# (canceled; Exotel's "client-hangup"). Queued, ringing and in-progress calls are not over yet, and a
# completed call reached someone or left a voicemail; outbound calls are ours to place again, not missed.
# The agent-day triggers of migration 0010 write this in SQL; tests/test_one_definition_missed.py holds
# the two equal.
MISSED_STATUSES = (CallStatus.NO_ANSWER, CallStatus.BUSY, CallStatus.FAILED, CallStatus.CANCELED)
CALL_MISSED = Q(direction=Direction.INBOUND, status__in=MISSED_STATUSES)
# The calls list's `outcome=` filter: the dashboard's day links open exactly the calls it counted.
CALL_OUTCOMES = {"answered": CALL_ANSWERED, "missed": CALL_MISSED}


class MissedCall(models.Model):
    """A number to ring back: its inbound calls missed since the last answered call with it (either direction).

    One row per number, kept by recordings.services.missed_calls_refresh whenever a call with the number
    is saved, so the list and its count read this small table instead of the calls.
    """

    client = models.ForeignKey(Client, on_delete=models.CASCADE, related_name="+", db_index=False)
    number = models.CharField(max_length=16, validators=[e164], help_text="The caller's number, E.164.")
    call = models.ForeignKey(Call, on_delete=models.CASCADE, related_name="+", help_text="The latest missed call.")
    last_missed_at = models.DateTimeField()
    first_missed_at = models.DateTimeField()
    attempts = models.PositiveIntegerField(help_text="Missed calls from the number since it was last answered.")
    updated_at = models.DateTimeField(auto_now=True)

    objects = TenantQuerySet.as_manager()

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["client", "number"], name="rec_missed_client_number"),
        ]
        indexes = [models.Index(fields=["client", "-last_missed_at", "-id"], name="rec_missed_client_latest")]

    def __str__(self) -> str:
        return f"{self.number}: {self.attempts} missed, latest {self.last_missed_at:%Y-%m-%d %H:%M}"


class RecordingStatus(models.TextChoices):
    PENDING = "pending", "Pending"
    FETCHING = "fetching", "Fetching"
    STORED = "stored", "Stored"
    FAILED = "failed", "Failed"
    DELETED = "deleted", "Deleted"


class Recording(models.Model):
    # No index of its own: rec_rec_client_started and rec_rec_client_status lead with it (migration 0005).
    client = models.ForeignKey(Client, on_delete=models.PROTECT, related_name="+", db_index=False)
    call = models.ForeignKey(Call, on_delete=models.PROTECT, related_name="recordings")
    public_id = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    status = models.CharField(max_length=10, choices=RecordingStatus.choices, default=RecordingStatus.PENDING)
    # Copied from the call so the list can seek on this table's own index.
    started_at = models.DateTimeField()
    storage_key = models.CharField(max_length=300, blank=True)
    content_type = models.CharField(max_length=100, blank=True)
    size_bytes = models.BigIntegerField(null=True, blank=True)
    duration_seconds = models.PositiveIntegerField(null=True, blank=True)
    sha256 = models.CharField(max_length=64, blank=True)
    channels = models.PositiveSmallIntegerField(null=True, blank=True)
    source_url = models.URLField(max_length=2000, blank=True, help_text="The provider's URL; never shown to users.")
    attempts = models.PositiveIntegerField(default=0)
    last_error = models.TextField(blank=True)
    stored_at = models.DateTimeField(null=True, blank=True)
    deleted_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    objects = TenantQuerySet.as_manager()

    class Meta:
        constraints = [
            # One live recording per call: storing the same call again reuses it.
            models.UniqueConstraint(
                fields=["call"], condition=~Q(status="deleted"), name="recordings_recording_one_live_per_call"
            ),
        ]
        indexes = [
            models.Index(fields=["client", "-started_at", "-id"], name="rec_rec_client_started"),
            models.Index(fields=["client", "status", "-started_at", "-id"], name="rec_rec_client_status"),
        ]

    def __str__(self) -> str:
        return f"{self.public_id} ({self.status})"


STATS_BUCKET_SECONDS = 900  # the migration's triggers bucket by this too


class CallStatsBucket(models.Model):
    """A client's call and recording figures for 15 minutes of `started_at`, kept by PostgreSQL triggers.

    The stats summary adds up at most 96 rows a day instead of reading every call (a million calls in
    90 days took a second; see bench/growth.py). Statement-level triggers on both tables (migration
    0002) apply each INSERT, UPDATE or DELETE as a delta, whatever wrote it: services, the admin, bulk
    seeding. Buckets are 15 minutes of UTC because every time zone's offset is a multiple of that, so
    local days add up exactly and a client's time zone can change without a rebuild. On SQLite the
    table stays empty and the summary reads the calls directly.
    """

    # No index of its own: rec_stats_bucket_client_start leads with it (migration 0005).
    client = models.ForeignKey(Client, on_delete=models.CASCADE, related_name="+", db_index=False)
    bucket_start = models.DateTimeField()
    calls = models.IntegerField(default=0)
    answered = models.IntegerField(default=0)
    resolved = models.IntegerField(default=0)
    answered_seconds = models.BigIntegerField(default=0, help_text="Duration of the answered calls, summed.")
    satisfaction_sum = models.IntegerField(default=0)
    satisfaction_count = models.IntegerField(default=0)
    recordings_stored = models.IntegerField(default=0)
    recordings_failed = models.IntegerField(default=0)

    objects = TenantQuerySet.as_manager()

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["client", "bucket_start"], name="rec_stats_bucket_client_start"),
        ]

    def __str__(self) -> str:
        return f"{self.client_id} {self.bucket_start:%Y-%m-%d %H:%M}: {self.calls} calls"


class TagColour(models.TextChoices):
    """The small fixed palette a tag may be shown in (the stylesheet has a class for each)."""

    GREY = "grey", "Grey"
    RED = "red", "Red"
    ORANGE = "orange", "Orange"
    YELLOW = "yellow", "Yellow"
    GREEN = "green", "Green"
    TEAL = "teal", "Teal"
    BLUE = "blue", "Blue"
    PURPLE = "purple", "Purple"
    PINK = "pink", "Pink"


TAG_NAME_MAX_LENGTH = 40


class Tag(models.Model):
    """A reason a client's team marks calls with (refund, delivery, exchange…); the client defines the list."""

    # No index of its own: recordings_tag_unique_name leads with it.
    client = models.ForeignKey(Client, on_delete=models.PROTECT, related_name="+", db_index=False)
    public_id = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    name = models.CharField(max_length=TAG_NAME_MAX_LENGTH)
    colour = models.CharField(max_length=10, choices=TagColour.choices, default=TagColour.GREY)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    objects = TenantQuerySet.as_manager()

    class Meta:
        constraints = [
            models.UniqueConstraint(
                models.F("client"),
                Lower("name"),
                name="recordings_tag_unique_name",
                violation_error_message="There is already a tag with this name.",
            ),
        ]

    def __str__(self) -> str:
        return self.name


class CallTag(models.Model):
    """A tag on a call, both of one client (the services check it). The filter by tag reads (tag, call) on its
    unique index. No client column: the tag and the call carry it, and the table stays narrow at millions of rows."""

    call = models.ForeignKey(Call, on_delete=models.CASCADE, related_name="call_tags", db_index=False)
    # No index of its own: rec_calltag_tag_call leads with it.
    tag = models.ForeignKey(Tag, on_delete=models.CASCADE, related_name="call_tags", db_index=False)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["tag", "call"], name="rec_calltag_tag_call")]
        indexes = [models.Index(fields=["call"], name="rec_calltag_call")]

    def __str__(self) -> str:
        return f"{self.tag_id} on {self.call_id}"


class CallAgentDay(models.Model):
    """A client's call figures for one agent (or none) and one local day of `started_at`, kept by PostgreSQL
    triggers (migration 0010) like the stats buckets.

    The dashboard's per-agent and per-day figures add up at most (agents + 1) rows a day instead of reading
    every call. Statement-level triggers on the calls apply each INSERT, UPDATE (a call given to another
    agent, answered, resolved, rated, moved to another day) or DELETE as a delta, whatever wrote it; a row
    whose calls reach zero is removed, so the table always equals a GROUP BY of the calls. Days are the
    client's local days, so changing a client's time zone rebuilds its rows (a trigger on the clients).
    `agent` has no database constraint: when a member is deleted, their calls lose the agent (SET NULL)
    and the triggers move those figures to the "no member" row. On SQLite the table stays empty and the
    selectors read the calls directly.
    """

    client = models.ForeignKey(Client, on_delete=models.CASCADE, related_name="+", db_index=False)
    day = models.DateField(help_text="The client's local day the calls started on.")
    agent = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.DO_NOTHING,
        null=True,
        blank=True,
        related_name="+",
        db_constraint=False,
        db_index=False,
    )
    calls = models.IntegerField(default=0)
    answered = models.IntegerField(default=0)
    missed = models.IntegerField(default=0)
    answered_seconds = models.BigIntegerField(default=0, help_text="Duration of the answered calls, summed.")
    resolved = models.IntegerField(default=0)
    satisfaction_sum = models.IntegerField(default=0)
    satisfaction_count = models.IntegerField(default=0)

    objects = TenantQuerySet.as_manager()

    class Meta:
        constraints = [
            # One row per (client, day, agent), "no member" included: the triggers' ON CONFLICT names this index.
            models.UniqueConstraint(F("client"), F("day"), Coalesce(F("agent"), Value(0)), name="rec_agent_day_unique"),
        ]

    def __str__(self) -> str:
        return f"{self.client_id} {self.day} agent {self.agent_id}: {self.calls} calls"


class CallExportStatus(models.TextChoices):
    QUEUED = "queued", "Queued"
    RUNNING = "running", "Writing"
    DONE = "done", "Ready"
    FAILED = "failed", "Failed"


class CallExport(models.Model):
    """A CSV of the calls matching a filter, too large to stream in one answer: a task writes it to storage
    (`exports/<client uuid>/<export uuid>.csv`) and its requester downloads it until `expires_at`."""

    client = models.ForeignKey(Client, on_delete=models.CASCADE, related_name="+", db_index=False)
    public_id = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    requested_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    # The list's query string as the requester gave it (validated again when the task runs).
    filters = models.JSONField(default=dict, blank=True)
    status = models.CharField(max_length=10, choices=CallExportStatus.choices, default=CallExportStatus.QUEUED)
    rows_expected = models.PositiveIntegerField(default=0, help_text="The rows it will hold, as estimated at start.")
    rows_written = models.PositiveIntegerField(default=0)
    storage_key = models.CharField(max_length=300, blank=True)
    size_bytes = models.BigIntegerField(null=True, blank=True)
    error = models.TextField(blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    finished_at = models.DateTimeField(null=True, blank=True)
    expires_at = models.DateTimeField()

    objects = TenantQuerySet.as_manager()

    class Meta:
        indexes = [models.Index(fields=["client", "-created_at"], name="rec_export_client_created")]

    def __str__(self) -> str:
        return f"{self.public_id} ({self.status})"
