from django.conf import settings
from django.core.mail import send_mail
from django.template.loader import render_to_string
from django_tasks import task

from accounts import jwt


@task()
def send_templated_email(*, to: str, template: str, context: dict) -> None:
    """Render templates/emails/<template>.txt (first line: subject) and send it."""
    # Names and other user text come flattened to one line, so they can neither add a header-like
    # subject line nor lay out paragraphs of their own in mail sent to third parties.
    flat = {name: " ".join(str(value).split()) for name, value in context.items()}
    subject, _, body = render_to_string(f"emails/{template}.txt", flat).strip().partition("\n")
    send_mail(subject.strip(), body.strip() + "\n", settings.DEFAULT_FROM_EMAIL, [to])


@task()
def purge_refresh_families() -> int:
    """Delete sign-ins that ended more than a day ago (what `manage.py purge_refresh_families` does);
    queued daily by `manage.py run_scheduler`. Returns how many were deleted."""
    return jwt.families_purge_expired()
