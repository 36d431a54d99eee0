"""Reads of the accounts app, always for one client."""

from __future__ import annotations

from datetime import datetime

from django.db.models import Case, IntegerField, QuerySet, Value, When

from accounts.models import AuditEvent, Client, Invitation, User


def member_list(*, client: Client) -> QuerySet[User]:
    """The client's users, active first, then by name."""
    return User.objects.for_client(client).order_by("-is_active", "first_name", "last_name", "email", "id")


def invitation_list(*, client: Client) -> QuerySet[Invitation]:
    """The client's invitations, newest first (pending ones first among them)."""
    return (
        Invitation.objects.for_client(client)
        .select_related("invited_by")
        .annotate(
            is_open=Case(
                When(accepted_at__isnull=True, revoked_at__isnull=True, then=Value(0)),
                default=Value(1),
                output_field=IntegerField(),
            )
        )
        .order_by("is_open", "-created_at", "-id")
    )


def audit_event_list(
    *,
    client: Client,
    action: str | None = None,
    actor: User | None = None,
    created_after: datetime | None = None,
    created_before: datetime | None = None,
) -> QuerySet[AuditEvent]:
    """The client's audit events, filtered; ordering is the paginator's (newest first)."""
    events = AuditEvent.objects.for_client(client).select_related("actor")
    if action:
        events = events.filter(action=action)
    if actor is not None:
        events = events.filter(actor=actor)
    if created_after:
        events = events.filter(created_at__gte=created_after)
    if created_before:
        events = events.filter(created_at__lt=created_before)
    return events
