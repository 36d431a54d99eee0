"""Restore a backup from storage into a database, checking its sha256 first; optionally verify row counts."""

import time

from django.core.management.base import BaseCommand, CommandError

from caly.foundation.ops import backups


class Command(BaseCommand):
    help = (
        "Restore a backup (a name from backup_db --list) into an existing database: "
        "--into postgres://user@host:5432/caly_restore (pg_restore --no-owner --clean --if-exists, in one "
        "transaction) or an SQLite file path / sqlite:// URL. The backup's sha256 is checked before anything is "
        "restored. Refuses the live database unless --force. --verify then compares every table's row count with "
        "the counts taken when the backup was made, shows the live counts beside them, and exits 1 on a mismatch."
    )

    def add_arguments(self, parser):
        parser.add_argument("name", help="The backup, e.g. caly-20260101T020000Z.dump (see backup_db --list).")
        parser.add_argument("--into", required=True, metavar="DATABASE_URL", help="The database to restore into.")
        parser.add_argument(
            "--force", action="store_true", help="Allow restoring over the live database (DATABASE_URL)."
        )
        parser.add_argument("--verify", action="store_true", help="Compare row counts of every table afterwards.")

    def handle(self, *args, name: str, into: str, force: bool, verify: bool, **options):
        started = time.monotonic()
        try:
            manifest = backups.backup_restore(name=name, into=into, force=force)
        except backups.BackupError as exc:
            raise CommandError(str(exc)) from None
        target = backups.parse_target(into)["NAME"]
        self.stdout.write(
            self.style.SUCCESS(
                f"Restored {manifest['name']} (sha256 checked) into {target} in {time.monotonic() - started:.1f} s."
            )
        )
        if not verify:
            return
        try:
            rows = backups.restore_verify(manifest=manifest, into=into)
        except backups.BackupError as exc:
            raise CommandError(str(exc)) from None
        self._table(rows)
        mismatched = [row["table"] for row in rows if not row["ok"]]
        if mismatched:
            raise CommandError(
                f"{len(mismatched)} table(s) differ from the backup: {', '.join(mismatched)}.", returncode=1
            )
        changed = sum(row["live"] != row["at_backup"] for row in rows)
        note = f"; {changed} table(s) changed in the live database since the backup" if changed else ""
        self.stdout.write(self.style.SUCCESS(f"Verified: all {len(rows)} tables hold the rows of the backup{note}."))

    def _table(self, rows: list[dict]) -> None:
        headers = ("table", "at backup", "restored", "live now", "")
        cells = [
            (
                row["table"],
                _count(row["at_backup"]),
                _count(row["restored"]),
                _count(row["live"]),
                "ok" if row["ok"] else "MISMATCH",
            )
            for row in rows
        ]
        widths = [max(len(headers[n]), *(len(cell[n]) for cell in cells)) for n in range(len(headers))]
        self.stdout.write("  ".join(header.ljust(widths[n]) for n, header in enumerate(headers)).rstrip())
        for cell in cells:
            self.stdout.write(
                "  ".join(
                    value.rjust(widths[n]) if n in (1, 2, 3) else value.ljust(widths[n]) for n, value in enumerate(cell)
                ).rstrip()
            )


def _count(value: int | None) -> str:
    return "missing" if value is None else f"{value:,}"
