"""Reads of the accounts app, for one client unless the name says otherwise (unverified sign-ups)."""

from __future__ import annotations

from datetime import datetime

from django.db import models
from django.db.models import Case, Exists, ForeignObjectRel, IntegerField, OuterRef, QuerySet, Value, When

from accounts.models import AuditAction, AuditEvent, Client, Invitation, MemberPhone, RefreshFamily, User


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


def _registered_their_client():
    """Users who created their company by signing up (not people staff or an owner added)."""
    return Exists(
        AuditEvent.objects.filter(action=AuditAction.CLIENT_REGISTERED, actor=OuterRef("pk"), client=OuterRef("client"))
    )


def unverified_signup_list(*, joined_before: datetime) -> QuerySet[User]:
    """Every client's users who signed up before `joined_before` and never verified their address nor signed in."""
    return User.objects.filter(
        _registered_their_client(),
        email_verified_at__isnull=True,
        last_login__isnull=True,
        is_staff=False,
        client__isnull=False,
        date_joined__lt=joined_before,
    ).order_by("pk")


def _referenced(instance: models.Model, *, ignoring: set[type[models.Model]]) -> bool:
    """Whether a row of any model but `ignoring` points at `instance`, through every reverse relation
    (hidden ones too), so a table added later counts without this module knowing it."""
    for relation in type(instance)._meta.get_fields(include_hidden=True):
        if not isinstance(relation, ForeignObjectRel) or relation.concrete:
            continue
        model = relation.related_model
        if model is None or model in ignoring:
            continue
        if model._base_manager.filter(**{relation.field.name: instance}).exists():
            return True
    return False


def signup_is_disposable(*, user: User) -> bool:
    """Whether `user` is a sign-up never verified whose company holds nothing but the sign-up itself (its
    owner and its own audit events): no other user, no calls, no connections, no invitations, nothing.
    Deleting both then loses no data."""
    if user.email_verified_at is not None or user.last_login is not None or user.is_staff or user.client_id is None:
        return False
    if not User.objects.filter(_registered_their_client(), pk=user.pk).exists():
        return False
    if AuditEvent.objects.filter(actor=user).exclude(client_id=user.client_id).exists():
        return False
    user_rows: set[type[models.Model]] = {AuditEvent, RefreshFamily, User.groups.through, User.user_permissions.through}
    if _referenced(user, ignoring=user_rows):
        return False
    if User.objects.filter(client_id=user.client_id).exclude(pk=user.pk).exists():
        return False
    client = user.client
    return client is not None and not _referenced(client, ignoring={User, AuditEvent})


def member_phone_list(*, client: Client, user: User | None = None) -> QuerySet[MemberPhone]:
    """The client's registered phone numbers (of `user` only, if given), by member then as registered."""
    phones = MemberPhone.objects.for_client(client).select_related("user")
    if user is not None:
        phones = phones.filter(user=user)
    return phones.order_by("user__first_name", "user__last_name", "user__email", "user_id", "created_at", "id")


def member_for_number(*, client: Client, number: str) -> User | None:
    """The member of the client who registered `number` (E.164), or None."""
    phone = MemberPhone.objects.for_client(client).filter(number=number).select_related("user").first()
    return phone.user if phone is not None else None
