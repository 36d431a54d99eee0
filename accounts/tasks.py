from django.conf import settings
from django.core.mail import send_mail
from django.template.loader import render_to_string
from django_tasks import task

from accounts import jwt, services
from caly.foundation.context import RequestContext, activate, deactivate


@task()
def send_templated_email(*, to: str, template: str, context: dict) -> None:
    """Render templates/emails/<template>.txt (first line: subject) and send it."""
    # Names and other user text come flattened to one line, so they can neither add a header-like
    # subject line nor lay out paragraphs of their own in mail sent to third parties.
    flat = {name: " ".join(str(value).split()) for name, value in context.items()}
    subject, _, body = render_to_string(f"emails/{template}.txt", flat).strip().partition("\n")
    send_mail(subject.strip(), body.strip() + "\n", settings.DEFAULT_FROM_EMAIL, [to])


@task()
def send_password_reset_email(*, email: str, origin: dict) -> bool:
    """Send a reset link if an account has `email` (queued for every address asked about); whether one went.

    `origin` is the asking request's id, address and browser, for the audit log."""
    request = RequestContext(
        request_id=origin.get("request_id") or "",
        extra={"ip": origin.get("ip"), "user_agent": origin.get("user_agent") or ""},
    )
    token = activate(request)
    try:
        return services.password_reset_send(email=email)
    finally:
        deactivate(token)


@task()
def send_invitation_email(*, invitation_id: int, link: str) -> None:
    """E-mail an invitation: its link, or why an address with an account elsewhere cannot accept it."""
    services.invitation_email_send(invitation_id=invitation_id, link=link)


@task()
def resend_verification_email(*, email: str) -> None:
    """Send a new verification link if an unverified account has `email` (queued for every address asked about)."""
    services.email_verification_resend(email=email)


@task()
def purge_refresh_families() -> int:
    """Delete sign-ins that ended more than a day ago (what `manage.py purge_refresh_families` does);
    queued daily by `manage.py run_scheduler`. Returns how many were deleted."""
    return jwt.families_purge_expired()


@task()
def purge_unverified_signups() -> dict[str, int]:
    """Delete sign-ups never verified in time, with the empty companies they created
    (services.signups_purge_unverified); queued daily by `manage.py run_scheduler`. Returns the counts."""
    return services.signups_purge_unverified()
