"""Re-encrypt every integration secret with the first of FIELD_ENCRYPTION_KEYS."""

from django.core.management.base import BaseCommand, CommandError

from integrations.crypto import DecryptionError
from integrations.services import secrets_rotate


class Command(BaseCommand):
    help = (
        "Re-encrypt every stored integration secret with the first key of FIELD_ENCRYPTION_KEYS. "
        "Idempotent: secrets already under the first key are left as they are. To rotate: put a new key "
        "first in FIELD_ENCRYPTION_KEYS (keep the old ones after it), deploy, run this command, then remove "
        "the old keys. Exits with status 1 if a secret cannot be decrypted with any key."
    )

    def handle(self, *args, **options):
        try:
            counts = secrets_rotate()
        except DecryptionError as exc:
            raise CommandError(str(exc)) from None
        self.stdout.write(
            self.style.SUCCESS(
                f"Re-encrypted {counts['rotated']} secret(s) in {counts['rows']} row(s); "
                f"{counts['current']} already used the first key; {counts['empty']} not set."
            )
        )
