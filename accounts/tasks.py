from django.conf import settings
from django.core.mail import send_mail
from django.template.loader import render_to_string
from django_tasks import task


@task()
def send_templated_email(*, to: str, template: str, context: dict) -> None:
    """Render templates/emails/<template>.txt (first line: subject) and send it."""
    subject, _, body = render_to_string(f"emails/{template}.txt", context).strip().partition("\n")
    send_mail(subject.strip(), body.strip() + "\n", settings.DEFAULT_FROM_EMAIL, [to])
