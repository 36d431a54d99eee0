"""Back up the database into the configured storage and apply the retention rules; or list the backups."""

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError

from caly.foundation.ops import backups


def _size(count: int | None) -> str:
    if count is None:
        return "?"
    value = float(count)
    for unit in ("B", "kB", "MB", "GB"):
        if value < 1024 or unit == "GB":
            return f"{value:.0f} {unit}" if unit == "B" else f"{value:.1f} {unit}"
        value /= 1024
    return f"{value:.1f} TB"


class Command(BaseCommand):
    help = (
        "Back up the database into storage under backups/ (PostgreSQL: pg_dump --format=custom, streamed; "
        "SQLite: the online backup API) with a manifest holding its sha256 and every table's row count, then "
        "keep the newest backup of each of the last BACKUP_KEEP_DAILY days and BACKUP_KEEP_MONTHLY months and "
        "delete the rest. --list shows the backups instead. Schedule it daily (run_scheduler does), e.g. "
        "`0 2 * * * python manage.py backup_db`."
    )

    def add_arguments(self, parser):
        parser.add_argument("--list", action="store_true", help="List the backups with size and date; back up nothing.")

    def handle(self, *args, **options):
        if options["list"]:
            self._list()
            return
        try:
            manifest = backups.backup_create()
        except backups.BackupError as exc:
            raise CommandError(str(exc)) from None
        self.stdout.write(
            self.style.SUCCESS(
                f"Backed up {manifest['database']} to {manifest['name']} ({_size(manifest['size_bytes'])}, "
                f"{sum(manifest['tables'].values()):,} rows in {len(manifest['tables'])} tables) "
                f"in {manifest['seconds']} s."
            )
        )
        self.stdout.write(f"  sha256 {manifest['sha256']}")
        kept, deleted = backups.backups_prune()
        self.stdout.write(
            f"Retention: the newest of each of the last {settings.BACKUP_KEEP_DAILY} day(s) and "
            f"{settings.BACKUP_KEEP_MONTHLY} month(s). Kept {len(kept)}, deleted {len(deleted)}."
        )
        for backup in deleted:
            self.stdout.write(f"  deleted {backup.name}")

    def _list(self) -> None:
        found = backups.backup_list()
        if not found:
            self.stdout.write("No backups in storage under backups/.")
            return
        width = max(len(backup.name) for backup in found)
        for backup in found:
            state = "" if backup.complete else "  (unfinished: no manifest)"
            self.stdout.write(
                f"{backup.name.ljust(width)}  {_size(backup.size_bytes):>9}  {backup.created_at:%Y-%m-%d %H:%M:%S} UTC"
                f"{state}"
            )
        self.stdout.write(f"{len(found)} backup(s).")
