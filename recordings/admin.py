"""The admin Caly staff use for calls and recordings.

Built for large tables: related rows are joined, the admin skips its second, unfiltered COUNT, and
the search box matches ids exactly and numbers by their beginning (case-sensitive, so the
(client, number) indexes serve it once a client is chosen) rather than Django's default
case-insensitive `icontains`. Rows are never deleted here: calls are the company's record, and a
recording's audio goes only through "Delete audio", which keeps storage, `Call.has_recording` and
the audit log in step.
"""

from __future__ import annotations

import uuid

from django.contrib import admin, messages
from django.db import transaction
from django.db.models import Q
from django.template.defaultfilters import pluralize

from caly.foundation.errors import DomainError
from recordings import fetch_queue, services
from recordings.models import Call, Recording, RecordingStatus

RETRYABLE = (RecordingStatus.FAILED, RecordingStatus.PENDING)
STORAGE_FIELDS = [
    "storage_key",
    "size_bytes",
    "sha256",
    "content_type",
    "stored_at",
    "deleted_at",
    "source_url",
    "attempts",
    "last_error",
]


def _uuid(term: str) -> uuid.UUID | None:
    try:
        return uuid.UUID(term.strip())
    except ValueError:
        return None


class RecordingInline(admin.TabularInline):
    """The call's recordings at a glance; each opens on its own page."""

    model = Recording
    fields = ["public_id", "status", "content_type", "size_bytes", "duration_seconds", "stored_at", "deleted_at"]
    readonly_fields = fields
    ordering = ["-created_at"]
    extra = 0
    show_change_link = True

    def has_add_permission(self, request, obj=None) -> bool:
        return False

    def has_delete_permission(self, request, obj=None) -> bool:
        return False


@admin.register(Call)
class CallAdmin(admin.ModelAdmin):
    list_display = [
        "started_at",
        "client",
        "direction",
        "from_number",
        "to_number",
        "status",
        "duration_seconds",
        "has_recording",
        "is_resolved",
    ]
    list_filter = ["status", "provider", "direction", "started_at", "client"]
    list_select_related = ["client"]
    search_fields = ["provider_call_id__exact", "from_number__startswith", "to_number__startswith"]
    search_help_text = "A number or its beginning (+9198…), a provider call id, or the call's id."
    date_hierarchy = "started_at"
    ordering = ["-started_at", "-id"]
    show_full_result_count = False
    raw_id_fields = ["client"]
    readonly_fields = ["public_id", "has_recording", "created_at", "updated_at"]

    def get_readonly_fields(self, request, obj=None):
        # A call never changes client: its recordings and audit trail belong to that client.
        return [*self.readonly_fields, "client"] if obj else self.readonly_fields

    fieldsets = [
        (None, {"fields": ["client", "public_id", "provider", "provider_call_id", "direction"]}),
        ("Numbers", {"fields": ["from_number", "to_number"]}),
        ("Progress", {"fields": ["status", "started_at", "answered_at", "ended_at", "duration_seconds"]}),
        ("Follow-up", {"fields": ["is_resolved", "customer_satisfaction", "notes", "transcript", "metadata"]}),
        ("Record", {"fields": ["has_recording", "created_at", "updated_at"]}),
    ]
    inlines = [RecordingInline]

    def has_delete_permission(self, request, obj=None) -> bool:
        return False

    def get_search_results(self, request, queryset, search_term):
        public_id = _uuid(search_term)
        if public_id is not None:
            return queryset.filter(public_id=public_id), False
        return super().get_search_results(request, queryset, search_term)


@admin.register(Recording)
class RecordingAdmin(admin.ModelAdmin):
    """Rows are made by `recording_store`; "Delete audio" removes the object and keeps the row."""

    list_display = ["started_at", "client", "call", "status", "size_bytes", "attempts", "stored_at"]
    list_filter = ["status", "call__provider", "call__direction", "started_at", "client"]
    list_select_related = ["client", "call"]
    search_fields = ["call__provider_call_id__exact", "call__from_number__startswith", "call__to_number__startswith"]
    search_help_text = "A number or its beginning, a provider call id, or the recording's or its call's id."
    date_hierarchy = "started_at"
    ordering = ["-started_at", "-id"]
    show_full_result_count = False
    raw_id_fields = ["client", "call"]
    # The status moves only through the actions and the services, with storage and has_recording.
    readonly_fields = ["client", "call", "public_id", "status", *STORAGE_FIELDS, "created_at", "updated_at"]
    fieldsets = [
        (None, {"fields": ["client", "call", "public_id", "status", "started_at", "duration_seconds", "channels"]}),
        ("Storage", {"fields": STORAGE_FIELDS}),
        ("Record", {"fields": ["created_at", "updated_at"]}),
    ]
    actions = ["retry_fetching", "delete_audio"]

    def has_add_permission(self, request) -> bool:
        return False

    def has_delete_permission(self, request, obj=None) -> bool:
        return False

    def has_delete_audio_permission(self, request) -> bool:
        return request.user.has_perm("recordings.delete_recording")

    def get_search_results(self, request, queryset, search_term):
        public_id = _uuid(search_term)
        if public_id is not None:
            return queryset.filter(Q(public_id=public_id) | Q(call__public_id=public_id)), False
        return super().get_search_results(request, queryset, search_term)

    @admin.action(description="Retry fetching", permissions=["change"])
    def retry_fetching(self, request, queryset) -> None:
        """Queue failed and pending recordings for fetching again (audited, staff as actor); others are left alone."""
        selected = queryset.count()
        retried = 0
        for recording in queryset.filter(status__in=RETRYABLE).order_by("pk"):
            try:
                fetch_queue.recording_fetch_retry(recording=recording, actor=request.user)
            except DomainError:
                continue  # its fetch finished (or it was deleted) in the meantime
            retried += 1
        message = f"Set {retried} recording{pluralize(retried)} to pending."
        if selected > retried:
            message += f" Skipped {selected - retried}: only failed or pending recordings are retried."
        self.message_user(request, message, messages.SUCCESS)

    @admin.action(description="Delete audio", permissions=["delete_audio"])
    def delete_audio(self, request, queryset) -> None:
        """Delete each selected recording's audio through `recording_delete` (audited, staff as actor)."""
        pks = list(queryset.values_list("pk", flat=True))
        with transaction.atomic():
            live = (
                Recording.objects.select_for_update(of=("self",))
                .filter(pk__in=pks)
                .exclude(status=RecordingStatus.DELETED)
                .select_related("client")
                .order_by("pk")
            )
            deleted = 0
            for recording in live:
                services.recording_delete(recording=recording, actor=request.user, reason="deleted_by_staff")
                deleted += 1
        message = f"Deleted the audio of {deleted} recording{pluralize(deleted)}."
        if len(pks) > deleted:
            already = len(pks) - deleted
            message += f" {already} {pluralize(already, 'was,were')} already deleted."
        self.message_user(request, message, messages.SUCCESS)
