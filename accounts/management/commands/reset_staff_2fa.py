"""Remove a staff member's authenticator and recovery codes, for when nobody else can: the last
superuser who lost their phone and their recovery codes. Audited in the staff audit log."""

from django.core.management.base import BaseCommand, CommandError

from accounts import staff_auth
from accounts.models import User


class Command(BaseCommand):
    help = (
        "Reset a staff member's two-factor authentication (authenticator app and recovery codes). They set up "
        "a new authenticator at their next admin sign-in; until then anyone with their password could, so tell "
        "them at once. Recorded in the staff audit log."
    )

    def add_arguments(self, parser):
        parser.add_argument("email", help="The staff member's e-mail address.")

    def handle(self, *args, email, **options):
        user = User.objects.filter(email=email.strip().lower(), is_staff=True).first()
        if user is None:
            raise CommandError(f"No staff account has the address {email!r}.")
        had_devices = staff_auth.two_factor_reset(user=user, actor=None, channel="command")
        if had_devices:
            self.stdout.write(f"Reset {user.email}: they set up an authenticator app at their next sign-in.")
        else:
            self.stdout.write(f"{user.email} had no authenticator; they set one up at their next sign-in.")
