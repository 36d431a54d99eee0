from django_tasks import task

from accounts import emails, jwt, signups
from caly.foundation.context import RequestContext, activate, deactivate


@task()
def send_templated_email(*, to: str, template: str, context: dict) -> None:
    """Render templates/emails/<template>.txt (first line: subject) and send it."""
    emails.templated_email_send(to=to, template=template, context=context)


def email_enqueue(mail: emails.Email | None) -> bool:
    """Queue `mail` for sending (nothing for None); whether there was one."""
    if mail is None:
        return False
    send_templated_email.enqueue(to=mail.to, template=mail.template, context=mail.context)
    return True


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
        return email_enqueue(emails.password_reset_email(email=email))
    finally:
        deactivate(token)


@task()
def send_invitation_email(*, invitation_id: int, link: str) -> None:
    """E-mail an invitation: its link, or why an address with an account elsewhere cannot accept it."""
    email_enqueue(emails.invitation_email(invitation_id=invitation_id, link=link))


@task()
def resend_verification_email(*, email: str) -> None:
    """Send a new verification link if an unverified account has `email` (queued for every address asked about)."""
    email_enqueue(emails.verification_resend_email(email=email))


@task()
def purge_refresh_families() -> int:
    """Delete sign-ins that ended more than a day ago (what `manage.py purge_refresh_families` does);
    queued daily by `manage.py run_scheduler`. Returns how many were deleted."""
    return jwt.families_purge_expired()


@task()
def purge_unverified_signups() -> dict[str, int]:
    """Delete sign-ups never verified in time, with the empty companies they created
    (signups.signups_purge_unverified); queued daily by `manage.py run_scheduler`. Returns the counts."""
    return signups.signups_purge_unverified()
