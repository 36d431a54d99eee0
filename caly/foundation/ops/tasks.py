"""Background tasks of operations (django-tasks; run by `manage.py db_worker`, queued by run_scheduler)."""

from django_tasks import task

from caly.foundation.ops import backups


@task()
def backup_database() -> dict:
    """Back up the database into storage and apply the retention rules (what `manage.py backup_db` does)."""
    manifest = backups.backup_create()
    kept, deleted = backups.backups_prune()
    return {
        "name": manifest["name"],
        "size_bytes": manifest["size_bytes"],
        "sha256": manifest["sha256"],
        "kept": len(kept),
        "deleted": [backup.name for backup in deleted],
    }
