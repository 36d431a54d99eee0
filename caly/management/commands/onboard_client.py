"""Onboard a new client from the command line: the client, its owner's invitation (the set-up link is
e-mailed) and, if asked, demo data; running it again for the same owner e-mail changes nothing."""

from django.core.management.base import BaseCommand, CommandError

from accounts.models import Client
from caly import onboarding
from caly.foundation.errors import DomainError, ErrorCode


def error_text(error: DomainError) -> str:
    """A refusal in the command's own words: each problem named by its option."""
    if error.code != ErrorCode.VALIDATION_ERROR or not isinstance(error.details, dict):
        return error.message
    return " ".join(
        f"--{field.replace('_', '-')}: {' '.join(map(str, messages))}" for field, messages in error.details.items()
    )


class Command(BaseCommand):
    help = (
        "Create a client and invite its owner by e-mail (the link sets their password), optionally with demo "
        "calls, recordings and products. Idempotent on the owner e-mail: a second run reports what exists."
    )

    def add_arguments(self, parser):
        parser.add_argument("--name", required=True, help="The company's name (the slug is made from it).")
        parser.add_argument("--owner-email", required=True, help="Where the owner's set-up link is sent.")
        default_zone = Client._meta.get_field("timezone").default
        parser.add_argument("--timezone", default=default_zone, help=f"IANA time zone (default {default_zone}).")
        parser.add_argument(
            "--demo-data",
            action="store_true",
            help=f"Add {onboarding.DEMO_CALLS} demo calls, some recorded, and {onboarding.DEMO_PRODUCTS} products.",
        )

    def handle(self, *args, name, owner_email, timezone, demo_data, **options):
        try:
            result = onboarding.client_onboard(
                name=name,
                owner_email=owner_email,
                timezone_name=timezone,
                demo_data=demo_data,
                actor=None,
                channel="command",
            )
        except DomainError as error:
            raise CommandError(error_text(error)) from None
        lines = onboarding.onboarding_summary(result)
        style = self.style.SUCCESS if result.created else self.style.WARNING
        self.stdout.write(style(lines[0]))
        for line in lines[1:]:
            self.stdout.write(line)
