"""Client onboarding: the owner's set-up wizard, what is left of it, and staff onboarding a new client.

The wizard's progress is Client.onboarding_step, the step it resumes at (company → exotel →
shopify → done). It only ever moves forward, one step at a time, so revisiting a finished step
changes nothing and a step cannot be jumped over. What is left is read from the state itself
(a connection missing, company details never confirmed), not from a list of skipped steps: a
step skipped in the wizard stays listed until the connection exists, wherever it was made.

Functions are keyword-only and raise DomainError, like accounts.services.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC
from typing import Any

from django.core.exceptions import ValidationError
from django.core.validators import validate_email
from django.db import transaction
from django.db.models import Q
from django.urls import reverse
from django.utils import timezone

from accounts import services
from accounts.audit import audit_record
from accounts.models import AuditAction, Client, Invitation, OnboardingStep, User, validate_timezone
from accounts.roles import Capability, Role, can
from caly.foundation.errors import DomainError, ErrorCode
from integrations.models import Connection
from integrations.providers import PROVIDERS, Provider
from integrations.shopify import demo as shopify_demo
from recordings import demo

# One connection step per provider (integrations.providers), named by its key.
CONNECTION_STEPS = {OnboardingStep(key): provider for key, provider in PROVIDERS.items()}
STEPS = (OnboardingStep.COMPANY, *CONNECTION_STEPS, OnboardingStep.DONE)
STEP_URL_NAMES = {step: f"onboarding:{step.value}" for step in STEPS}
# The steps a user finishes (or skips); DONE is where they lead.
WIZARD_STEPS = STEPS[:-1]
DEMO_CALLS = 300
DEMO_PRODUCTS = 40


def _invalid(details: dict[str, list[str]]) -> DomainError:
    return DomainError(ErrorCode.VALIDATION_ERROR, "The request is invalid.", details=details)


def _index(step: str) -> int:
    return STEPS.index(OnboardingStep(step))


def step_url(step: str) -> str:
    return reverse(STEP_URL_NAMES[OnboardingStep(step)])


def step_reached(*, client: Client, step: str) -> bool:
    """Whether the wizard has come this far: finished steps and the current one may be opened."""
    return _index(step) <= _index(client.onboarding_step)


def wizard_due(*, user: User) -> bool:
    """The signed-in user is one who sets the client up, and the client has not finished."""
    return (
        user.client is not None
        and can(user.role, Capability.MANAGE_CLIENT)
        and user.client.onboarding_step != OnboardingStep.DONE
    )


# --- the wizard --------------------------------------------------------------------------------


@transaction.atomic
def onboarding_advance(*, client: Client, actor: User, step: str, skipped: bool = False) -> Client:
    """Finish `step` (done or skipped): the wizard resumes at the next one; DONE stamps the end.

    Only the current step moves the wizard on: finishing a step already behind it changes
    nothing. VALIDATION_ERROR for a step the wizard has not reached, or for DONE.
    """
    if step not in WIZARD_STEPS:
        raise _invalid({"step": [f"Must be one of {', '.join(WIZARD_STEPS)}."]})
    locked = Client.objects.select_for_update().get(pk=client.pk)
    current = _index(locked.onboarding_step)
    if _index(step) > current:
        raise _invalid({"step": [f"Finish “{OnboardingStep(locked.onboarding_step).label}” first."]})
    if _index(step) == current:
        old, locked.onboarding_step = locked.onboarding_step, STEPS[current + 1]
        if locked.onboarding_step == OnboardingStep.DONE:
            locked.onboarding_completed_at = timezone.now()
        locked.save(update_fields=["onboarding_step", "onboarding_completed_at", "updated_at"])
        metadata: dict[str, Any] = {"onboarding_step": {"old": old, "new": locked.onboarding_step}}
        if skipped:
            metadata["skipped"] = step
        audit_record(
            action=AuditAction.CLIENT_SETTINGS_CHANGED, client=locked, actor=actor, target=locked, metadata=metadata
        )
    client.onboarding_step, client.onboarding_completed_at = locked.onboarding_step, locked.onboarding_completed_at
    return client


@transaction.atomic
def onboarding_company_save(*, client: Client, actor: User, **fields: Any) -> Client:
    """Step 1: save the company's details (services.client_update), then move on."""
    # A copy takes the change: if it is refused, the caller's client keeps its valid values.
    fresh = Client.objects.select_for_update().get(pk=client.pk)
    services.client_update(client=fresh, actor=actor, **fields)
    onboarding_advance(client=fresh, actor=actor, step=OnboardingStep.COMPANY)
    client.refresh_from_db()
    return client


@transaction.atomic
def onboarding_connection_save(*, client: Client, actor: User, provider: Provider, **fields: Any) -> Connection:
    """A connection step: connect the provider (its save service), then move on. Returns the connection."""
    connection = provider.save(client=client, actor=actor, **fields)
    onboarding_advance(client=client, actor=actor, step=OnboardingStep(provider.key))
    return connection


def onboarding_skip(*, client: Client, actor: User, step: str) -> Client:
    """Move past a connection step; it counts as skipped only if nothing is connected yet."""
    if step not in CONNECTION_STEPS:
        names = " and ".join(provider.label for provider in CONNECTION_STEPS.values())
        raise _invalid({"step": [f"Only the {names} steps can be skipped."]})
    return onboarding_advance(client=client, actor=actor, step=step, skipped=not connected(client=client)[step])


# --- what is left ------------------------------------------------------------------------------


@dataclass(frozen=True)
class LeftToDo:
    """One unfinished part of the set-up, as the dashboard's card and the last page list it."""

    step: str
    text: str
    action: str
    url: str


def connected(*, client: Client) -> dict[str, bool]:
    """Whether each connection step's provider is connected (its credentials accepted), by step."""
    return {step: provider.is_connected(client) for step, provider in CONNECTION_STEPS.items()}


def connections(*, client: Client) -> dict[str, Connection | None]:
    """Each connection step's saved connection (connected or not; a disconnected one counts as none), by step."""
    return {step: provider.connection_in_use(client) for step, provider in CONNECTION_STEPS.items()}


def onboarding_left(*, client: Client, user: User) -> list[LeftToDo]:
    """What `user` may still do to finish setting `client` up; empty for roles that set nothing up."""
    left = []
    if client.onboarding_step == OnboardingStep.COMPANY and can(user.role, Capability.MANAGE_CLIENT):
        left.append(
            LeftToDo(
                OnboardingStep.COMPANY, "Company details not confirmed", "review", step_url(OnboardingStep.COMPANY)
            )
        )
    if can(user.role, Capability.MANAGE_INTEGRATIONS):
        saved = connections(client=client)
        for step, is_connected in connected(client=client).items():
            if is_connected:
                continue
            # Before the wizard gets there, the integrations page connects it just as well.
            url = step_url(step) if step_reached(client=client, step=step) else reverse("integrations:index")
            label = CONNECTION_STEPS[step].label
            if saved[step] is not None:
                text = f"{label} not connected: its credentials are saved but {label} has not accepted them yet"
                left.append(LeftToDo(step, text, "check them", url))
            else:
                left.append(LeftToDo(step, f"{label} not connected", "connect", url))
    return left


# --- staff: a new client and its owner's invitation ---------------------------------------------


@dataclass(frozen=True)
class Onboarded:
    """The outcome of client_onboard: what exists for the owner e-mail, and what this run did."""

    client: Client
    invitation: Invitation
    created: bool  # False: onboarded before; this run changed nothing (or only re-sent an expired invitation)
    invitation_sent: bool
    demo_counts: dict[str, int] | None = None


def _validated(*, name: str, owner_email: str, timezone_name: str) -> tuple[str, str]:
    problems: dict[str, list[str]] = {}
    name = " ".join(name.split())
    if not name:
        problems["name"] = ["Give the company's name."]
    elif len(name) > Client._meta.get_field("name").max_length:
        problems["name"] = [f"At most {Client._meta.get_field('name').max_length} characters."]
    email = User.objects.normalize_email(owner_email.strip()).lower()
    try:
        validate_email(email)
    except ValidationError as exc:
        problems["owner_email"] = exc.messages
    try:
        validate_timezone(timezone_name)
    except ValidationError as exc:
        problems["timezone"] = exc.messages
    if problems:
        raise _invalid(problems)
    return name, email


def _onboarded_before(email: str) -> Invitation | None:
    """The newest owner invitation staff (or the command) sent to `email`; team invitations don't count."""
    return (
        Invitation.objects.select_related("client", "accepted_user")
        .filter(email=email, role=Role.OWNER)
        .filter(Q(invited_by__isnull=True) | Q(invited_by__is_staff=True))
        .order_by("-created_at", "-pk")
        .first()
    )


def _seed_demo(client: Client) -> dict[str, int]:
    calls, _ = demo.calls_seed(client=client, count=DEMO_CALLS)
    counts = {
        "calls": calls,
        "recordings": demo.recordings_seed(client=client),
        "products": shopify_demo.seed_products(client=client, count=DEMO_PRODUCTS),
    }
    shopify = shopify_demo.seed_customers(client=client)
    return {**counts, "customers": shopify["customers"], "orders": shopify["orders"]}


@transaction.atomic
def client_onboard(
    *, name: str, owner_email: str, timezone_name: str, demo_data: bool = False, actor: User | None, channel: str
) -> Onboarded:
    """Create a client and invite its owner (the e-mail carries the set-up link); idempotent on the e-mail.

    If staff onboarded this owner e-mail before, nothing changes: the result reports that client
    and its invitation (an expired one is replaced, so the owner can still get in). VALIDATION_ERROR
    for a bad name, address or time zone; CONFLICT if the address is another client's user or staff.
    One transaction: demo data (calls, recorded audio, products, Shopify customers and orders) goes in before
    the e-mail is sent, so a failure sends nothing and leaves no rows (only audio files already written stay).
    """
    name, email = _validated(name=name, owner_email=owner_email, timezone_name=timezone_name)
    before = _onboarded_before(email)
    user = User.objects.select_related("client").filter(email=email).first()
    if user is not None and (before is None or user.client_id != before.client_id):
        owner_of = f"a user of {user.client.name}" if user.client else "a Caly staff account"
        raise DomainError(ErrorCode.CONFLICT, f"{email} is already {owner_of}.")
    if before is not None:
        if before.status in ("pending", "accepted"):
            return Onboarded(client=before.client, invitation=before, created=False, invitation_sent=False)
        invitation, _ = services.invitation_issue(client=before.client, email=email, role=Role.OWNER, invited_by=actor)
        return Onboarded(client=before.client, invitation=invitation, created=False, invitation_sent=True)

    client = Client(name=name, slug=services.client_unique_slug(name), timezone=timezone_name)
    try:
        client.full_clean()
    except ValidationError as exc:
        raise _invalid(exc.message_dict) from None
    client.save()
    audit_record(
        action=AuditAction.CLIENT_REGISTERED,
        client=client,
        actor=actor,
        target=client,
        metadata={"channel": channel, "owner_email": email, "demo_data": demo_data},
    )
    demo_counts = _seed_demo(client) if demo_data else None
    invitation, _ = services.invitation_issue(client=client, email=email, role=Role.OWNER, invited_by=actor)
    return Onboarded(client=client, invitation=invitation, created=True, invitation_sent=True, demo_counts=demo_counts)


def onboarding_summary(result: Onboarded) -> list[str]:
    """What client_onboard did, in lines for the command's output and the admin's message."""
    client, invitation = result.client, result.invitation
    when = "%Y-%m-%d %H:%M UTC"
    if result.created:
        lines = [f"Created the client {client.name} (slug {client.slug}, time zone {client.timezone})."]
    else:
        lines = [f"The owner {invitation.email} was onboarded before, with {client.name} (slug {client.slug})."]
    if invitation.status == "accepted":
        accepted = invitation.accepted_at.astimezone(UTC).strftime(when)
        lines.append(f"They accepted the invitation on {accepted}. Nothing changed.")
    elif result.invitation_sent:
        sent = (
            "Set-up link e-mailed to the owner" if result.created else "Their invitation had expired: new link sent to"
        )
        lines.append(f"{sent} {invitation.email}; it expires {invitation.expires_at.astimezone(UTC).strftime(when)}.")
    else:
        expires = invitation.expires_at.astimezone(UTC).strftime(when)
        lines.append(f"Their invitation is pending until {expires}. Nothing changed.")
    if result.demo_counts is not None:
        counts = result.demo_counts
        lines.append(
            f"Demo data: {counts['calls']} calls, {counts['recordings']} recordings, {counts['products']} products."
        )
        lines.append(
            f"Shopify demo data: {counts['customers']} customers and {counts['orders']} orders, "
            "the calls linked to them."
        )
    return lines
