"""Create the demo client and logins for a local run, and print how to sign in."""

import secrets

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError
from django.db import transaction
from django.utils import timezone

from accounts.models import Client, User
from accounts.roles import Role

DEMO_STAFF_EMAIL = "admin@caly.local"
DEMO_OWNER_EMAIL = "owner@demo-store.caly.local"


class Command(BaseCommand):
    help = "Create (or refresh) the demo client, its owner and a staff login; print the passwords."

    def add_arguments(self, parser):
        parser.add_argument(
            "--allow-production", action="store_true", help="Run even when DEBUG is off (never on a real site)."
        )

    @transaction.atomic
    def handle(self, *args, allow_production: bool = False, **options):
        if not settings.DEBUG and not allow_production:
            raise CommandError("seed_demo creates known logins; it runs only with DEBUG on (or --allow-production).")
        client, _ = Client.objects.get_or_create(slug="demo-store", defaults={"name": "Demo Store"})
        staff_password = self._upsert(DEMO_STAFF_EMAIL, client=None, role="", is_staff=True, is_superuser=True)
        owner_password = self._upsert(
            DEMO_OWNER_EMAIL, client=client, role=Role.OWNER, is_staff=False, is_superuser=False
        )
        self.stdout.write(self.style.SUCCESS("Demo data ready. Sign in at http://127.0.0.1:8000/admin/"))
        self.stdout.write(f"  staff:        {DEMO_STAFF_EMAIL}  password: {staff_password}")
        self.stdout.write(f"  client owner: {DEMO_OWNER_EMAIL}  password: {owner_password}  (client: {client.name})")

    def _upsert(self, email: str, **fields) -> str:
        password = secrets.token_urlsafe(12)
        user = User.objects.filter(email=email).first() or User(email=email)
        fields.setdefault("email_verified_at", user.email_verified_at or timezone.now())
        for name, value in fields.items():
            setattr(user, name, value)
        user.set_password(password)
        user.full_clean(exclude=["password"])
        user.save()
        return password
