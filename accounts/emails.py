"""The accounts app's e-mails: what each one says, to whom, and whether it goes at all.

Each function returns the e-mail to send (or None); the caller queues it with
`tasks.send_templated_email`, so a request never waits for the mail server.
"""

from __future__ import annotations

from dataclasses import dataclass

from django.conf import settings
from django.core.mail import send_mail
from django.template.loader import render_to_string
from django.utils.http import urlencode

from accounts import selectors, signed_tokens
from accounts.audit import audit_record
from accounts.models import AuditAction, Invitation, User
from accounts.roles import Role


@dataclass(frozen=True)
class Email:
    to: str
    template: str  # templates/emails/<template>.txt
    context: dict


def templated_email_send(*, to: str, template: str, context: dict) -> None:
    """Render templates/emails/<template>.txt (first line: subject) and send it."""
    # Names and other user text come flattened to one line, so they can neither add a header-like
    # subject line nor lay out paragraphs of their own in mail sent to third parties.
    flat = {name: " ".join(str(value).split()) for name, value in context.items()}
    subject, _, body = render_to_string(f"emails/{template}.txt", flat).strip().partition("\n")
    send_mail(subject.strip(), body.strip() + "\n", settings.DEFAULT_FROM_EMAIL, [to])


def site_link(path: str) -> str:
    """The absolute address of a page of the site, for e-mails."""
    return f"{settings.SITE_URL}{path}"


def signup_attempt_email(*, user: User) -> Email | None:
    """For the owner of an address someone tried to sign up with: how to get in (None if deactivated)."""
    if not user.is_active:
        return None
    return Email(
        to=user.email,
        template="signup_attempt",
        context={
            "name": user.get_short_name(),
            "login_link": site_link("/accounts/login/"),
            "reset_link": site_link(f"/accounts/password/reset/?{urlencode({'email': user.email})}"),
        },
    )


def verification_email(*, user: User) -> Email | None:
    """A single-use verification link for `user` (None if the address is already verified)."""
    if user.email_verified:
        return None
    token = signed_tokens.make_token(signed_tokens.VERIFY_EMAIL, user)
    return Email(
        to=user.email,
        template="verify_email",
        context={
            "name": user.get_short_name(),
            "client_name": user.client.name if user.client else "Caly",
            "link": site_link(f"/accounts/verify/{token}/"),
            "valid_hours": int(settings.EMAIL_VERIFICATION_MAX_AGE.total_seconds() // 3600),
        },
    )


def verification_resend_email(*, email: str) -> Email | None:
    """A new verification link if an unverified active account has this address; None otherwise."""
    user = User.objects.select_related("client").filter(email=email.strip().lower(), is_active=True).first()
    return verification_email(user=user) if user is not None else None


def password_reset_email(*, email: str) -> Email | None:
    """A reset link if an active account with a password has this address, audited as requested; None otherwise."""
    user = User.objects.select_related("client").filter(email=email.strip().lower(), is_active=True).first()
    if user is None or not user.has_usable_password():
        return None
    token = signed_tokens.make_token(signed_tokens.RESET_PASSWORD, user)
    audit_record(action=AuditAction.PASSWORD_RESET_REQUESTED, client=user.client, actor=user, target=user)
    return Email(
        to=user.email,
        template="password_reset",
        context={
            "name": user.get_short_name(),
            "link": site_link(f"/accounts/password/reset/{token}/"),
            "valid_minutes": int(settings.PASSWORD_RESET_MAX_AGE.total_seconds() // 60),
        },
    )


def invitation_email(*, invitation_id: int, link: str) -> Email | None:
    """For a pending invitation: its link, or, when the address has an account in another company that
    cannot give way (not a disposable sign-up), why it cannot be accepted and what to do instead.
    None when the invitation is no longer pending."""
    invitation = Invitation.objects.select_related("client", "invited_by").filter(pk=invitation_id).first()
    if invitation is None or invitation.status != "pending":
        return None
    inviter = invitation.invited_by
    from_member = inviter is not None and inviter.client_id == invitation.client_id
    context = {
        "inviter": inviter.get_full_name() if from_member else "The Caly team",
        "client_name": invitation.client.name,
        "role": Role(invitation.role).label.lower(),
    }
    existing = User.objects.filter(email=invitation.email).exclude(client_id=invitation.client_id).first()
    # An account never moves between companies: its owner gets no link to accept.
    if existing is not None and not selectors.signup_is_disposable(user=existing):
        return Email(to=invitation.email, template="invitation_account_exists", context=context)
    context.update(link=link, valid_days=settings.INVITATION_MAX_AGE.days)
    return Email(to=invitation.email, template="invitation", context=context)
