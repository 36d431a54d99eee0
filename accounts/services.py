"""Every write of the accounts app: sign-up, sign-in, passwords, profile, client settings, team.

Functions are keyword-only, run in a transaction, validate with full_clean() and write the audit
log. They raise DomainError (rendered by the API's handler; pages show its message).
"""

from __future__ import annotations

import hashlib
import secrets
from typing import Any

from django.conf import settings
from django.contrib.auth import authenticate
from django.contrib.auth.password_validation import validate_password
from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction
from django.utils import timezone
from django.utils.text import slugify

from accounts import emails, jwt, signals, signed_tokens, tasks
from accounts.audit import audit_record
from accounts.models import (
    MAX_PHONES_PER_MEMBER,
    AuditAction,
    Client,
    Invitation,
    MemberPhone,
    User,
)
from accounts.roles import Capability, Role, can
from accounts.signups import signup_discard
from caly.foundation import context
from caly.foundation.errors import DomainError, ErrorCode
from caly.foundation.phones import e164

CLIENT_SETTINGS_FIELDS = ("name", "timezone", "country")


def _invalid(field: str, message: str) -> DomainError:
    return DomainError(ErrorCode.VALIDATION_ERROR, "The request is invalid.", details={field: [message]})


def _validation_error(exc: ValidationError) -> DomainError:
    details = exc.message_dict if hasattr(exc, "error_dict") else {"non_field_errors": exc.messages}
    return DomainError(ErrorCode.VALIDATION_ERROR, "The request is invalid.", details=details)


def _check_password(password: str, user: User, field: str = "password") -> None:
    try:
        validate_password(password, user)
    except ValidationError as exc:
        raise DomainError(
            ErrorCode.VALIDATION_ERROR, "The request is invalid.", details={field: exc.messages}
        ) from None


def client_unique_slug(name: str) -> str:
    """A slug for a new client from its name; a random suffix when the plain one is taken."""
    base = slugify(name)[:60].strip("-") or "client"
    slug = base
    while Client.objects.filter(slug=slug).exists():
        slug = f"{base}-{secrets.token_hex(3)}"
    return slug


# --- sign-up and e-mail verification -----------------------------------------------------------


@transaction.atomic
def client_register(
    *, company_name: str, email: str, password: str, first_name: str = "", last_name: str = "", timezone_name: str = ""
) -> User | None:
    """Create a client and its owner (unverified) and send the verification e-mail; returns the owner.

    An address that already has an account gets the same answer: nothing is created, the account's
    owner is e-mailed that someone tried to sign up with it, and None is returned, which callers must
    not reveal. VALIDATION_ERROR for bad input, checked before the address is looked up.
    """
    email = User.objects.normalize_email(email).lower()
    client = Client(name=company_name.strip(), slug=client_unique_slug(company_name))
    if timezone_name:
        client.timezone = timezone_name
    owner = User(email=email, first_name=first_name.strip(), last_name=last_name.strip(), role=Role.OWNER)
    _check_password(password, owner)
    try:
        client.full_clean()
        owner.full_clean(exclude=["password", "client"], validate_unique=False, validate_constraints=False)
    except ValidationError as exc:
        raise _validation_error(exc) from None
    owner.set_password(password)  # hashed for a taken address too, so both answers take as long
    existing = User.objects.filter(email=email).first()
    if existing is not None:
        _signup_attempt_notify(user=existing)
        return None
    try:
        with transaction.atomic():
            client.save()
            owner.client = client
            owner.full_clean(exclude=["password"], validate_unique=False)
            owner.save()
    except ValidationError as exc:
        raise _validation_error(exc) from None
    except IntegrityError:
        if not User.objects.filter(email=email).exists():
            raise
        return None  # a concurrent sign-up with the same address won the race
    audit_record(action=AuditAction.CLIENT_REGISTERED, client=client, actor=owner, target=client)
    email_verification_send(user=owner)
    return owner


def _signup_attempt_notify(*, user: User) -> None:
    """Tell the owner of an address that someone tried to sign up with it, and how to get in."""
    tasks.email_enqueue(emails.signup_attempt_email(user=user))


def email_verification_send(*, user: User) -> None:
    """E-mail `user` a single-use verification link (nothing if already verified)."""
    tasks.email_enqueue(emails.verification_email(user=user))


def email_verification_resend_request(*, email: str) -> None:
    """Queue a new verification link for `email`: the task sends one only if an unverified account has
    the address, so the request does the same work for every address."""
    tasks.resend_verification_email.enqueue(email=email.strip().lower())


@transaction.atomic
def email_verify(*, token: str) -> User:
    """Mark the address verified; VALIDATION_ERROR if the link is forged, expired or used."""
    user = signed_tokens.read_token(signed_tokens.VERIFY_EMAIL, token, max_age=settings.EMAIL_VERIFICATION_MAX_AGE)
    if user is None or user.email_verified:
        raise _invalid("token", "This verification link is invalid, expired or already used.")
    user.email_verified_at = timezone.now()
    user.save(update_fields=["email_verified_at"])
    audit_record(action=AuditAction.EMAIL_VERIFIED, client=user.client, actor=user, target=user)
    return user


# --- sign-in -----------------------------------------------------------------------------------


def user_authenticate(*, email: str, password: str) -> User:
    """The client user with these credentials, allowed to sign in; raises DomainError otherwise.

    Failures are audited. Rate limits are the caller's (accounts.ratelimits), since they need the request.
    """
    email = email.strip().lower()
    user = authenticate(username=email, password=password)
    if user is None:
        known = User.objects.select_related("client").filter(email=email).first()
        audit_record(
            action=AuditAction.LOGIN_FAILED,
            client=known.client if known else None,
            actor=known,
            metadata={"email": email[:254], "reason": "inactive" if known and not known.is_active else "credentials"},
        )
        raise DomainError(ErrorCode.TOKEN_INVALID, "The email address or password is wrong.")
    if user.client is None:
        raise DomainError(ErrorCode.PERMISSION_DENIED, "Staff accounts sign in to the admin.")
    if not user.client.is_active:
        raise DomainError(ErrorCode.PERMISSION_DENIED, "This company's Caly account is deactivated.")
    if not user.email_verified:
        raise DomainError(ErrorCode.EMAIL_NOT_VERIFIED, "Please verify your email address first.")
    return user


@transaction.atomic
def auth_login(*, user: User, ip: str | None, user_agent: str) -> jwt.TokenPair:
    """Start an API sign-in for an authenticated user: a new refresh family and token pair."""
    pair = jwt.family_start(user=user, ip=ip, user_agent=user_agent)
    user_record_login(user=user, channel="api")
    return pair


def user_record_login(*, user: User, channel: str) -> None:
    user.last_login = timezone.now()
    user.save(update_fields=["last_login"])
    audit_record(action=AuditAction.LOGIN_SUCCEEDED, client=user.client, actor=user, metadata={"channel": channel})


def user_record_logout(*, user: User, channel: str) -> None:
    audit_record(action=AuditAction.LOGOUT, client=user.client, actor=user, metadata={"channel": channel})


def auth_logout(*, refresh: str) -> None:
    """End the sign-in the refresh token belongs to (idempotent)."""
    family = jwt.family_revoke(family_id=jwt.refresh_family_id(refresh), reason="logout")
    if family is not None:
        audit_record(action=AuditAction.LOGOUT, client=family.user.client, actor=family.user, target=family)


# --- passwords ---------------------------------------------------------------------------------


@transaction.atomic
def password_change(*, user: User, current_password: str, new_password: str) -> User:
    """Set a new password after checking the current one; ends every sign-in of the user."""
    if not user.check_password(current_password):
        raise _invalid("current_password", "The current password is wrong.")
    _check_password(new_password, user, field="new_password")
    user.set_password(new_password)
    user.save(update_fields=["password"])
    jwt.user_revoke_all(user=user, reason="password_changed")
    audit_record(action=AuditAction.PASSWORD_CHANGED, client=user.client, actor=user, target=user)
    return user


def password_reset_request(*, email: str) -> None:
    """Queue the reset e-mail for `email`: the task decides whether an account gets one, so the request
    does the same work for known and unknown addresses (and the caller answers the same)."""
    current = context.current()
    origin = {
        "request_id": current.request_id if current else "",
        "ip": current.extra.get("ip") if current else None,
        "user_agent": current.extra.get("user_agent", "") if current else "",
    }
    tasks.send_password_reset_email.enqueue(email=email.strip().lower(), origin=origin)


def password_reset_user(*, token: str) -> User | None:
    """The user a reset link is for, or None if it is forged, expired or used."""
    user = signed_tokens.read_token(signed_tokens.RESET_PASSWORD, token, max_age=settings.PASSWORD_RESET_MAX_AGE)
    return user if user is not None and user.is_active else None


@transaction.atomic
def password_reset_confirm(*, token: str, new_password: str) -> User:
    """Set a new password from a reset link (single use); ends every sign-in of the user."""
    user = password_reset_user(token=token)
    if user is None:
        raise _invalid("token", "This reset link is invalid, expired or already used.")
    _check_password(new_password, user, field="new_password")
    user.set_password(new_password)
    if user.email_verified_at is None:
        user.email_verified_at = timezone.now()  # the link proved the address
    user.save(update_fields=["password", "email_verified_at"])
    jwt.user_revoke_all(user=user, reason="password_reset")
    audit_record(action=AuditAction.PASSWORD_RESET, client=user.client, actor=user, target=user)
    return user


# --- profile and client ------------------------------------------------------------------------


@transaction.atomic
def user_update_profile(*, user: User, **fields: Any) -> User:
    changed = _apply(user, fields, allowed=("first_name", "last_name"))
    if changed:
        audit_record(action=AuditAction.PROFILE_UPDATED, client=user.client, actor=user, target=user, metadata=changed)
    return user


@transaction.atomic
def client_update(*, client: Client, actor: User, **fields: Any) -> Client:
    """Change the company's details (validated); audited with old and new values."""
    changed = _apply(client, fields, allowed=CLIENT_SETTINGS_FIELDS)
    if changed:
        audit_record(
            action=AuditAction.CLIENT_SETTINGS_CHANGED, client=client, actor=actor, target=client, metadata=changed
        )
    return client


@transaction.atomic
def client_retention_set(*, client: Client, actor: User, days: int | None) -> Client:
    """Delete recordings older than `days` days (None keeps them); owners only, as deleting audio cannot be undone.
    Audited as a settings change with the old and new values. Raises PERMISSION_DENIED or VALIDATION_ERROR."""
    if actor.client_id != client.pk or actor.role != Role.OWNER:
        raise DomainError(ErrorCode.PERMISSION_DENIED, "Only an owner can change how long recordings are kept.")
    changed = _apply(client, {"recording_retention_days": days}, allowed=("recording_retention_days",))
    if changed:
        audit_record(
            action=AuditAction.CLIENT_SETTINGS_CHANGED, client=client, actor=actor, target=client, metadata=changed
        )
    return client


def _apply(instance, fields: dict[str, Any], *, allowed: tuple[str, ...]) -> dict[str, dict[str, str]]:
    changed = {}
    for name, value in fields.items():
        if name not in allowed:
            raise _invalid(name, "This field cannot be changed here.")
        old = getattr(instance, name)
        if old != value:
            changed[name] = {"old": str(old), "new": str(value)}
            setattr(instance, name, value)
    if changed:
        try:
            instance.full_clean(exclude=["password"] if isinstance(instance, User) else None)
        except ValidationError as exc:
            raise _validation_error(exc) from None
        instance.save()
    return changed


# --- team --------------------------------------------------------------------------------------


def _client_of(user: User) -> Client:
    """The user's client; staff accounts have none, so nothing of a client is theirs to change here."""
    if user.client is None:
        raise DomainError(ErrorCode.PERMISSION_DENIED, "This account belongs to no client.")
    return user.client


def _lock_client(client: Client) -> Client:
    """Serialize team changes of one client, so 'never the last owner' holds under concurrency."""
    return Client.objects.select_for_update().get(pk=client.pk)


def _other_active_owners(member: User) -> int:
    return (
        User.objects.filter(client_id=member.client_id, role=Role.OWNER, is_active=True).exclude(pk=member.pk).count()
    )


def _check_may_manage(actor: User, member: User, new_role: str | None = None) -> None:
    touches_owner = member.role == Role.OWNER or new_role == Role.OWNER
    if touches_owner and actor.role != Role.OWNER:
        raise DomainError(ErrorCode.PERMISSION_DENIED, "Only an owner can grant, change or remove the owner role.")


@transaction.atomic
def member_change_role(*, actor: User, member: User, role: str) -> User:
    """Give a member another role; owners only for owner changes; never leaves the client without an owner."""
    _lock_client(_client_of(member))
    if role not in Role.values:
        raise _invalid("role", f"Must be one of {', '.join(Role.values)}.")
    _check_may_manage(actor, member, role)
    if member.role == role:
        return member
    if member.role == Role.OWNER and member.is_active and not _other_active_owners(member):
        raise DomainError(
            ErrorCode.CONFLICT,
            "Make someone else an owner first: the company's last owner cannot be given another role.",
        )
    old = member.role
    member.role = role
    member.save(update_fields=["role"])
    audit_record(
        action=AuditAction.USER_ROLE_CHANGED,
        client=member.client,
        actor=actor,
        target=member,
        metadata={"old": old, "new": role},
    )
    return member


@transaction.atomic
def member_deactivate(*, actor: User, member: User) -> User:
    """Deactivate a member: they can no longer sign in and their tokens stop working at once."""
    _lock_client(_client_of(member))
    _check_may_manage(actor, member)
    if not member.is_active:
        return member
    if member.role == Role.OWNER and not _other_active_owners(member):
        raise DomainError(
            ErrorCode.CONFLICT, "Make someone else an owner first: the company's last owner cannot be deactivated."
        )
    member.is_active = False
    member.save(update_fields=["is_active"])
    jwt.user_revoke_all(user=member, reason="deactivated")
    audit_record(action=AuditAction.USER_DEACTIVATED, client=member.client, actor=actor, target=member)
    return member


@transaction.atomic
def member_activate(*, actor: User, member: User) -> User:
    _check_may_manage(actor, member)
    if member.is_active:
        return member
    member.is_active = True
    member.save(update_fields=["is_active"])
    audit_record(action=AuditAction.USER_ACTIVATED, client=member.client, actor=actor, target=member)
    return member


def _token_digest(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


@transaction.atomic
def invitation_create(*, actor: User, email: str, role: str) -> tuple[Invitation, str]:
    """Invite `email` to the actor's client; returns the invitation and its one-time token (e-mailed)."""
    if role == Role.OWNER and actor.role != Role.OWNER:
        raise DomainError(ErrorCode.PERMISSION_DENIED, "Only an owner can invite another owner.")
    return invitation_issue(client=_client_of(actor), email=email, role=role, invited_by=actor)


@transaction.atomic
def invitation_issue(*, client: Client, email: str, role: str, invited_by: User | None) -> tuple[Invitation, str]:
    """Invite `email` to `client` and e-mail the link; the caller has checked that `invited_by` may.

    `invited_by` is a member of the client (the team page) or Caly staff / None (onboarding a new
    client). CONFLICT if the address is already a member of this client or has a pending invitation
    to it; an address with an account in another client is invited like any other (see below).
    """
    email = User.objects.normalize_email(email).lower()
    if role not in Role.values:
        raise _invalid("role", f"Must be one of {', '.join(Role.values)}.")
    if User.objects.filter(email=email, client=client).exists():
        raise DomainError(ErrorCode.CONFLICT, "This person is already a member of your team.")
    open_invitations = Invitation.objects.for_client(client).filter(
        email=email, accepted_at__isnull=True, revoked_at__isnull=True
    )
    # An expired invitation may be replaced; a pending one must be revoked first.
    for stale in open_invitations.select_for_update():
        if stale.status == "pending":
            raise DomainError(ErrorCode.CONFLICT, "This address already has a pending invitation.")
        stale.revoked_at = timezone.now()
        stale.save(update_fields=["revoked_at"])
    token = secrets.token_urlsafe(32)
    invitation = Invitation(
        client=client,
        email=email,
        role=role,
        invited_by=invited_by,
        token_sha256=_token_digest(token),
        expires_at=timezone.now() + settings.INVITATION_MAX_AGE,
    )
    try:
        invitation.full_clean(exclude=["invited_by"])  # None when Caly itself invites (onboarding)
    except ValidationError as exc:
        raise _validation_error(exc) from None
    invitation.save()
    # Whether the address has an account elsewhere is the task's business: the inviter's request does
    # the same work for every address, and answers the same.
    link = emails.site_link(f"/accounts/invitations/{token}/")
    tasks.send_invitation_email.enqueue(invitation_id=invitation.pk, link=link)
    audit_record(
        action=AuditAction.USER_INVITED, client=client, actor=invited_by, target=invitation, metadata={"role": role}
    )
    return invitation, token


@transaction.atomic
def invitation_revoke(*, actor: User, invitation: Invitation) -> Invitation:
    if invitation.status != "pending":
        raise DomainError(ErrorCode.CONFLICT, f"This invitation is already {invitation.status}.")
    invitation.revoked_at = timezone.now()
    invitation.save(update_fields=["revoked_at"])
    audit_record(action=AuditAction.INVITATION_REVOKED, client=invitation.client, actor=actor, target=invitation)
    return invitation


def invitation_for_token(token: str) -> Invitation | None:
    """The pending invitation a token opens, or None."""
    invitation = (
        Invitation.objects.select_related("client", "invited_by").filter(token_sha256=_token_digest(token)).first()
    )
    return invitation if invitation is not None and invitation.status == "pending" else None


@transaction.atomic
def invitation_accept(*, token: str, password: str, first_name: str = "", last_name: str = "") -> User:
    """Create the invited user (verified, with the invited role); the invitation is then spent."""
    invitation = (
        Invitation.objects.select_for_update()
        .select_related("client")
        .filter(token_sha256=_token_digest(token))
        .first()
    )
    if invitation is None or invitation.status != "pending" or not invitation.client.is_active:
        raise _invalid("token", "This invitation is invalid, expired, revoked or already used.")
    existing = User.objects.filter(email=invitation.email).first()
    if existing is not None and existing.client_id == invitation.client_id:
        raise DomainError(ErrorCode.CONFLICT, f"You already belong to {invitation.client.name}: sign in instead.")
    # The link proves the address: a sign-up never verified (squatted, or abandoned) gives way to it.
    replaced_signup = existing is not None and signup_discard(user=existing)
    if existing is not None and not replaced_signup:
        raise DomainError(
            ErrorCode.CONFLICT,
            "Your address already belongs to a Caly account of another company. Join with another address, "
            "or have that account removed first.",
        )
    user = User(
        email=invitation.email,
        first_name=first_name.strip(),
        last_name=last_name.strip(),
        client=invitation.client,
        role=invitation.role,
        email_verified_at=timezone.now(),  # the e-mailed token proves the address
    )
    _check_password(password, user)
    user.set_password(password)
    try:
        user.full_clean(exclude=["password"])
    except ValidationError as exc:
        raise _validation_error(exc) from None
    user.save()
    invitation.accepted_at = timezone.now()
    invitation.accepted_user = user
    invitation.save(update_fields=["accepted_at", "accepted_user"])
    audit_record(
        action=AuditAction.USER_JOINED,
        client=invitation.client,
        actor=user,
        target=user,
        metadata={
            "role": invitation.role,
            "invitation": str(invitation.public_id),
            **({"replaced_unverified_signup": True} if replaced_signup else {}),
        },
    )
    return user


# --- staff (admin) -----------------------------------------------------------------------------


def client_set_active(*, client: Client, actor: User, active: bool) -> int:
    """Switch a client on or off, audited; switching off ends its users' sign-ins. Returns sign-ins ended."""
    client.is_active = active
    client.save(update_fields=["is_active", "updated_at"])
    if active:
        audit_record(action=AuditAction.CLIENT_ACTIVATED, client=client, actor=actor, target=client)
        return 0
    ended = sum(jwt.user_revoke_all(user=user, reason="client_deactivated") for user in client.users.all())
    audit_record(
        action=AuditAction.CLIENT_DEACTIVATED,
        client=client,
        actor=actor,
        target=client,
        metadata={"sign_ins_ended": ended},
    )
    return ended


@transaction.atomic
def clients_set_active(*, client_ids: list[int], actor: User, active: bool) -> tuple[int, int, int]:
    """client_set_active for the clients not already in that state: (changed, unchanged, sign-ins ended)."""
    clients = list(Client.objects.select_for_update().filter(pk__in=client_ids, is_active=not active).order_by("pk"))
    ended = sum(client_set_active(client=client, actor=actor, active=active) for client in clients)
    return len(clients), len(client_ids) - len(clients), ended


def password_set_by_staff(*, user: User, actor: User) -> None:
    """Staff set a user's password in the admin: every sign-in of the user ends; audited."""
    jwt.user_revoke_all(user=user, reason="password_set_by_staff")
    audit_record(
        action=AuditAction.PASSWORD_CHANGED, client=user.client, actor=actor, target=user, metadata={"by": "staff"}
    )


def user_changed_by_staff(*, user: User, actor: User, old_role: str, role_changed: bool, active_changed: bool) -> None:
    """After staff saved a user: audit role and activation changes; deactivation ends sign-ins."""
    if role_changed:
        audit_record(
            action=AuditAction.USER_ROLE_CHANGED,
            client=user.client,
            actor=actor,
            target=user,
            metadata={"old": old_role, "new": user.role},
        )
    if active_changed:
        if not user.is_active:
            jwt.user_revoke_all(user=user, reason="deactivated_by_staff")
        action = AuditAction.USER_ACTIVATED if user.is_active else AuditAction.USER_DEACTIVATED
        audit_record(action=action, client=user.client, actor=actor, target=user)


@transaction.atomic
def families_revoke_by_staff(*, family_ids: list, actor: User) -> int:
    """End the given sign-ins; audits each one this call ended. Returns how many."""
    revoked = 0
    for family_id in family_ids:
        family = jwt.family_revoke(family_id=family_id, reason="revoked_by_staff")
        if family is not None:
            audit_record(action=AuditAction.FAMILY_REVOKED, client=family.user.client, actor=actor, target=family)
            revoked += 1
    return revoked


# --- members' phone numbers --------------------------------------------------------------------


def _check_may_edit_phones(actor: User, member: User) -> None:
    """A member edits their own numbers; admins and owners (manage_team) anyone's of their client."""
    if actor.client_id is None or actor.client_id != member.client_id:
        raise DomainError(ErrorCode.NOT_FOUND, "No such member.")
    if actor.pk != member.pk and not can(actor.role, Capability.MANAGE_TEAM):
        raise DomainError(ErrorCode.PERMISSION_DENIED, "Only admins and owners can change another member's numbers.")


@transaction.atomic
def member_phone_add(*, actor: User, member: User, number: str, label: str = "") -> MemberPhone:
    """Register a phone number of `member` (typed in any form; read in the client's country), so calls on it
    are theirs; past calls that rang it are attributed to them too. Raises DomainError: VALIDATION_ERROR
    (not a phone number, too many numbers), CONFLICT (the number is already registered in the company)."""
    client = _client_of(member)
    _check_may_edit_phones(actor, member)
    normalized = e164(number, region=client.country)
    if normalized is None:
        raise _invalid("number", "Enter a valid phone number with its country code, such as +919876543210.")
    User.objects.select_for_update().filter(pk=member.pk).first()  # counts and adds one at a time per member
    taken = MemberPhone.objects.for_client(client).filter(number=normalized).first()
    if taken is not None:
        whose = "this member" if taken.user_id == member.pk else "another member of your company"
        raise DomainError(
            ErrorCode.CONFLICT, f"{normalized} is already registered to {whose}.", details={"number": [normalized]}
        )
    if MemberPhone.objects.filter(user=member).count() >= MAX_PHONES_PER_MEMBER:
        raise _invalid("number", f"A member can have at most {MAX_PHONES_PER_MEMBER} numbers; remove one first.")
    phone = MemberPhone(client=client, user=member, number=normalized, label=(label or "").strip())
    try:
        phone.full_clean(validate_constraints=False)
    except ValidationError as exc:
        raise _validation_error(exc) from None
    try:
        with transaction.atomic():
            phone.save()
    except IntegrityError:  # registered by a concurrent request a moment ago
        raise DomainError(
            ErrorCode.CONFLICT, f"{normalized} is already registered.", details={"number": [normalized]}
        ) from None
    audit_record(
        action=AuditAction.PHONE_ADDED, client=client, actor=actor, target=member, metadata={"number": normalized}
    )
    signals.phone_registered.send(sender=MemberPhone, phone=phone)
    return phone


@transaction.atomic
def member_phone_remove(*, actor: User, phone: MemberPhone) -> None:
    """Remove a registered number; calls already attributed through it stay with their member."""
    _check_may_edit_phones(actor, phone.user)
    number = phone.number
    phone.delete()
    audit_record(
        action=AuditAction.PHONE_REMOVED,
        client=phone.client,
        actor=actor,
        target=phone.user,
        metadata={"number": number},
    )
