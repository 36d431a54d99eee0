"""Re-encrypt every integration secret with the first of FIELD_ENCRYPTION_KEYS, once every process has it."""

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError

from integrations.crypto import DecryptionError, key_id, keyrings_seen
from integrations.services import secrets_rotate

STEPS = (
    "Rotate in four deploys: (1) FIELD_ENCRYPTION_KEYS=<old>,<new> everywhere (web, worker, scheduler); "
    "(2) FIELD_ENCRYPTION_KEYS=<new>,<old> everywhere; (3) this command; (4) FIELD_ENCRYPTION_KEYS=<new>."
)


class Command(BaseCommand):
    help = (
        "Re-encrypt every stored integration secret with the first key of FIELD_ENCRYPTION_KEYS. Refuses to "
        "run while a process seen in the last 10 minutes lacks that key, or still encrypts with another: those "
        "processes could not read what it writes. Idempotent: secrets already under the first key are left "
        "as they are. Exits with status 1 if it refuses, or if a secret cannot be decrypted with any key. " + STEPS
    )

    def handle(self, *args, **options):
        self._check_every_process_has_the_key()
        try:
            counts = secrets_rotate()
        except DecryptionError as exc:
            raise CommandError(f"{exc.message} Nothing more was changed; find the missing key first.") from None
        self.stdout.write(
            self.style.SUCCESS(
                f"Re-encrypted {counts['rotated']} secret(s) in {counts['rows']} row(s); "
                f"{counts['current']} already used the first key; {counts['empty']} not set."
            )
        )

    def _check_every_process_has_the_key(self) -> None:
        new = key_id(settings.FIELD_ENCRYPTION_KEYS[0])
        lacking, behind = [], []
        for keyring in keyrings_seen():
            ids = keyring["key_ids"]
            if new not in ids:
                lacking.append(keyring)
            elif ids[0] != new:
                behind.append(keyring)
        if lacking:
            raise CommandError(
                f"Refusing to rotate: processes seen lately cannot decrypt with key {new}, the key this command "
                f"writes with ({_listed(lacking)}). Deploy FIELD_ENCRYPTION_KEYS with that key added to every web, "
                f"worker and scheduler process first, then run this again. {STEPS}"
            )
        if behind:
            raise CommandError(
                f"Refusing to rotate: processes seen lately still encrypt with another key ({_listed(behind)}), "
                f"so they would keep writing secrets under the key you are about to drop. Deploy "
                f"FIELD_ENCRYPTION_KEYS with {new} first to every process, then run this again. {STEPS}"
            )
        self.stdout.write(f"Every process seen in the last 10 minutes encrypts with key {new}.")


def _listed(keyrings: list[dict]) -> str:
    return "; ".join(f"keys {', '.join(k['key_ids'])}, e.g. process {k['process']}" for k in keyrings)
