"""Database backups in their own storage (a bucket of their own, or local files), with restore and verification.

PostgreSQL: `pg_dump --format=custom` writes into a pipe that goes straight into storage, hashed on
the way, so a dump never sits whole in memory or on local disk. SQLite: the online backup API makes a
consistent copy into a temporary file while others keep writing, and that file is streamed the same way.

Each backup `backups/caly-<UTC time>.dump` (`.sqlite3` for SQLite) has a manifest next to it,
`<name>.json`: size, sha256, and the row count of every table taken in the dump's own snapshot
(pg_dump runs on the snapshot exported by the transaction that counted). A restore checks the sha256
before it touches the target; verification compares the restored counts with those, which stay
exact however much the live database has moved on since.
"""

from __future__ import annotations

import glob
import hashlib
import json
import logging
import os
import re
import shutil
import sqlite3
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import closing, contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import IO, Any

import environ
import psycopg
from django.conf import settings
from django.core.files.base import ContentFile
from django.core.files.storage import Storage, storages
from django.db import connection
from django.utils import timezone
from psycopg import sql
from psycopg.conninfo import make_conninfo

from caly.foundation.storage import is_local, store_stream

logger = logging.getLogger("caly.ops.backups")

BACKUP_DIR = "backups"
NAME_RE = re.compile(r"caly-(?P<stamp>[0-9]{8}T[0-9]{6}Z)\.(?P<ext>dump|sqlite3)")
STAMP_FORMAT = "%Y%m%dT%H%M%SZ"
MANIFEST_SUFFIX = ".json"
CHUNK_BYTES = 1024 * 1024
# A backup without its manifest is still being written, or was cut off; after this long it is debris.
INCOMPLETE_GRACE = timedelta(days=1)
LIBPQ_OPTIONS = {
    "sslmode": "PGSSLMODE",
    "sslrootcert": "PGSSLROOTCERT",
    "sslcert": "PGSSLCERT",
    "sslkey": "PGSSLKEY",
    "connect_timeout": "PGCONNECT_TIMEOUT",
}
LOCAL_HOSTS = {"", "localhost", "127.0.0.1", "::1"}


class BackupError(Exception):
    """A backup or restore could not be done; the message says why and what to do."""


class ChecksumMismatch(BackupError):
    pass


@dataclass(frozen=True)
class Backup:
    name: str  # the storage key, backups/caly-….dump
    created_at: datetime
    size_bytes: int | None
    complete: bool  # its manifest exists


def backup_storage() -> Storage:
    """Where backups live: STORAGES["backups"], their own bucket and keys when BACKUP_S3_BUCKET_NAME is set."""
    return storages["backups"]


# --- naming and listing ---------------------------------------------------------------------------


def backup_key(name: str) -> str:
    """The storage key of a backup given as `caly-….dump` or `backups/caly-….dump`; raises BackupError."""
    base = name.removeprefix(f"{BACKUP_DIR}/")
    if not NAME_RE.fullmatch(base):
        raise BackupError(f"{name!r} is not a backup name like caly-20260101T020000Z.dump (see backup_db --list).")
    return f"{BACKUP_DIR}/{base}"


def _created_at(key: str) -> datetime:
    stamp = NAME_RE.fullmatch(key.removeprefix(f"{BACKUP_DIR}/"))["stamp"]
    return datetime.strptime(stamp, STAMP_FORMAT).replace(tzinfo=UTC)


def backup_list() -> list[Backup]:
    """Every backup in storage, newest first."""
    try:
        _, files = backup_storage().listdir(BACKUP_DIR)
    except FileNotFoundError:
        return []
    names = set(files)
    backups = [
        Backup(
            name=f"{BACKUP_DIR}/{file}",
            created_at=_created_at(file),
            size_bytes=backup_storage().size(f"{BACKUP_DIR}/{file}"),
            complete=f"{file}{MANIFEST_SUFFIX}" in names,
        )
        for file in files
        if NAME_RE.fullmatch(file)
    ]
    return sorted(backups, key=lambda backup: backup.created_at, reverse=True)


def backup_manifest(name: str) -> dict[str, Any]:
    """The manifest of a backup; raises BackupError when the backup or its manifest is missing."""
    key = backup_key(name)
    if not backup_storage().exists(key):
        raise BackupError(f"There is no backup {key} in storage (see backup_db --list).")
    try:
        with backup_storage().open(key + MANIFEST_SUFFIX, "rb") as manifest:
            return json.loads(manifest.read())
    except FileNotFoundError:
        raise BackupError(f"{key} has no manifest: the backup did not finish; use another one.") from None


# --- retention -------------------------------------------------------------------------------------


def retention_keep(backups: list[Backup], *, now: datetime, keep_daily: int, keep_monthly: int) -> set[str]:
    """Names to keep: the newest complete backup of each of the last `keep_daily` days and of each of the
    last `keep_monthly` months (UTC), anything dated after `now`, and recent unfinished ones."""
    today = now.astimezone(UTC).date()
    days = {today - timedelta(days=n) for n in range(keep_daily)}
    months = set()
    year, month = today.year, today.month
    for _ in range(keep_monthly):
        months.add((year, month))
        year, month = (year, month - 1) if month > 1 else (year - 1, 12)
    keep: set[str] = set()
    days_kept: set = set()
    months_kept: set = set()
    for backup in sorted(backups, key=lambda b: b.created_at, reverse=True):
        if backup.created_at > now:
            keep.add(backup.name)
            continue
        if not backup.complete:
            if now - backup.created_at < INCOMPLETE_GRACE:
                keep.add(backup.name)
            continue
        day = backup.created_at.date()
        if day in days and day not in days_kept:
            days_kept.add(day)
            keep.add(backup.name)
        if (day.year, day.month) in months and (day.year, day.month) not in months_kept:
            months_kept.add((day.year, day.month))
            keep.add(backup.name)
    return keep


def backups_prune(
    *, keep_daily: int | None = None, keep_monthly: int | None = None, now: datetime | None = None
) -> tuple[list[Backup], list[Backup]]:
    """Delete backups (and their manifests) outside the retention rules; returns (kept, deleted)."""
    backups = backup_list()
    keep = retention_keep(
        backups,
        now=now or timezone.now(),
        keep_daily=settings.BACKUP_KEEP_DAILY if keep_daily is None else keep_daily,
        keep_monthly=settings.BACKUP_KEEP_MONTHLY if keep_monthly is None else keep_monthly,
    )
    kept = [backup for backup in backups if backup.name in keep]
    deleted = [backup for backup in backups if backup.name not in keep]
    for backup in deleted:
        backup_storage().delete(backup.name + MANIFEST_SUFFIX)
        backup_storage().delete(backup.name)
        logger.info("Deleted backup %s (retention)", backup.name)
    return kept, deleted


# --- backing up ------------------------------------------------------------------------------------


def backup_create(*, now: datetime | None = None) -> dict[str, Any]:
    """Back up the default database into storage; returns the manifest. Raises BackupError."""
    db = connection.settings_dict
    vendor = connection.vendor
    if vendor not in ("postgresql", "sqlite"):
        raise BackupError(f"Backups support PostgreSQL and SQLite, not {vendor}.")
    stamp = (now or timezone.now()).astimezone(UTC).strftime(STAMP_FORMAT)
    key = f"{BACKUP_DIR}/caly-{stamp}.{'dump' if vendor == 'postgresql' else 'sqlite3'}"
    if backup_storage().exists(key):
        raise BackupError(f"{key} already exists; wait a second and run it again.")
    started = time.monotonic()
    if vendor == "postgresql":
        reader, tables, server_version = _pg_dump_into(key, db)
        backup_format = "pg_dump custom"
    else:
        reader, tables = _sqlite_copy_into(key)
        server_version, backup_format = sqlite3.sqlite_version, "sqlite3 database"
    manifest = {
        "name": key,
        "created_at": _created_at(key).isoformat(),
        "engine": vendor,
        "format": backup_format,
        "database": str(db["NAME"]),
        "server_version": server_version,
        "size_bytes": reader.size_bytes,
        "sha256": reader.sha256,
        "seconds": round(time.monotonic() - started, 1),
        "tables": tables,
    }
    backup_storage().save(key + MANIFEST_SUFFIX, ContentFile(json.dumps(manifest, indent=2).encode()))
    logger.info("Backed up %s to %s (%s bytes)", db["NAME"], key, reader.size_bytes)
    return manifest


def pg_tool(name: str) -> str:
    """pg_dump or pg_restore: from PATH, else the newest of Debian's /usr/lib/postgresql/<version>/bin."""
    found = shutil.which(name)
    if found:
        return found
    candidates = sorted(
        glob.glob(f"/usr/lib/postgresql/*/bin/{name}"), key=lambda path: int(Path(path).parent.parent.name)
    )
    if candidates:
        return candidates[-1]
    raise BackupError(
        f"{name} was not found on PATH or in /usr/lib/postgresql/*/bin; install the PostgreSQL client "
        "of the server's major version (or newer), e.g. apt-get install postgresql-client."
    )


def _pg_env(db: dict) -> dict[str, str]:
    """libpq's environment for a database: the password never appears on a command line."""
    env = dict(os.environ)
    for variable, value in (
        ("PGHOST", db.get("HOST")),
        ("PGPORT", db.get("PORT")),
        ("PGUSER", db.get("USER")),
        ("PGPASSWORD", db.get("PASSWORD")),
    ):
        if value:
            env[variable] = str(value)
    for option, variable in LIBPQ_OPTIONS.items():
        if (db.get("OPTIONS") or {}).get(option):
            env[variable] = str(db["OPTIONS"][option])
    return env


def _pg_connect(db: dict) -> psycopg.Connection:
    params = {
        "dbname": db["NAME"],
        "host": db.get("HOST") or None,
        "port": db.get("PORT") or None,
        "user": db.get("USER") or None,
        "password": db.get("PASSWORD") or None,
        "connect_timeout": 10,
        **{option: value for option, value in (db.get("OPTIONS") or {}).items() if option in LIBPQ_OPTIONS},
    }
    try:
        return psycopg.connect(**{name: value for name, value in params.items() if value is not None})
    except psycopg.OperationalError as exc:
        raise BackupError(f"Cannot connect to database {db['NAME']!r}: {str(exc).strip()}") from None


def _pg_counts(cursor: psycopg.Cursor) -> dict[str, int]:
    cursor.execute(
        """
        SELECT n.nspname, c.relname FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
        WHERE c.relkind IN ('r', 'p') AND n.nspname NOT IN ('pg_catalog', 'information_schema')
          AND n.nspname NOT LIKE 'pg\\_toast%' AND n.nspname NOT LIKE 'pg\\_temp%'
        ORDER BY 1, 2
        """
    )
    counts = {}
    for schema, table in cursor.fetchall():
        cursor.execute(sql.SQL("SELECT count(*) FROM {}.{}").format(sql.Identifier(schema), sql.Identifier(table)))
        counts[table if schema == "public" else f"{schema}.{table}"] = cursor.fetchone()[0]
    return counts


def pg_table_counts(db: dict) -> dict[str, int]:
    """Exact row counts of every table of a PostgreSQL database (settings-style dict)."""
    with closing(_pg_connect(db)) as conn, conn.cursor() as cursor:
        return _pg_counts(cursor)


def _pg_dump_into(key: str, db: dict):
    """Count rows and dump in one snapshot, streaming the dump into storage under `key`."""
    with closing(_pg_connect(db)) as conn:
        conn.isolation_level = psycopg.IsolationLevel.REPEATABLE_READ
        conn.read_only = True
        with conn.cursor() as cursor:
            cursor.execute("SELECT pg_export_snapshot(), current_setting('server_version')")
            snapshot, server_version = cursor.fetchone()
            tables = _pg_counts(cursor)
        command = [pg_tool("pg_dump"), "--format=custom", "--no-password", f"--snapshot={snapshot}"]
        command.append(f"--dbname={make_conninfo(dbname=db['NAME'])}")
        with tempfile.TemporaryFile() as errors:
            reader = _stream_process_into(key, command, env=_pg_env(db), errors=errors)
        conn.rollback()  # the snapshot had to live until pg_dump finished
    return reader, tables, server_version


def _stream_process_into(key: str, command: list[str], *, env: dict[str, str], errors: IO[bytes]):
    process = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=errors, env=env)  # noqa: S603
    try:
        reader = store_stream(
            key=key,
            stream=process.stdout,
            content_type="application/octet-stream",
            max_bytes=sys.maxsize,
            storage=backup_storage(),
        )
    except BaseException:
        process.kill()
        process.wait()
        backup_storage().delete(key)
        raise
    finally:
        process.stdout.close()
    if process.wait() != 0:
        backup_storage().delete(key)
        errors.seek(0)
        message = errors.read()[-4000:].decode(errors="replace").strip()
        raise BackupError(f"{Path(command[0]).name} failed with exit status {process.returncode}: {message}")
    return reader


def _sqlite_counts(conn: sqlite3.Connection) -> dict[str, int]:
    tables = [
        name
        for (name,) in conn.execute(
            "SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite\\_%' ESCAPE '\\' "
            "ORDER BY name"
        )
    ]
    return {table: conn.execute(f'SELECT count(*) FROM "{table}"').fetchone()[0] for table in tables}  # noqa: S608


def _sqlite_copy_into(key: str):
    if connection.in_atomic_block:
        # The backup API waits forever for a source connection's own open write transaction.
        raise BackupError("An SQLite backup cannot run inside a transaction.")
    connection.ensure_connection()
    with tempfile.TemporaryDirectory(prefix="caly-backup-") as folder:
        copy_path = Path(folder) / "copy.sqlite3"
        with closing(sqlite3.connect(copy_path)) as copy:
            connection.connection.backup(copy)
            tables = _sqlite_counts(copy)
        with copy_path.open("rb") as stream:
            reader = store_stream(
                key=key,
                stream=stream,
                content_type="application/vnd.sqlite3",
                max_bytes=sys.maxsize,
                storage=backup_storage(),
            )
    return reader, tables


# --- restoring -------------------------------------------------------------------------------------


def parse_target(into: str) -> dict[str, Any]:
    """A settings-style database dict from a postgres:// or sqlite:// URL, or a plain SQLite file path."""
    if "://" not in into:
        return {"ENGINE": "django.db.backends.sqlite3", "NAME": str(Path(into).resolve())}
    if not into.startswith(("postgres://", "postgresql://", "sqlite://")):
        raise BackupError("--into must be a postgres:// or sqlite:// URL, or an SQLite file path.")
    try:
        config = environ.Env.db_url_config(into)
    except Exception as exc:  # django-environ raises several types for bad URLs
        raise BackupError(f"--into is not a valid database URL ({exc}).") from None
    if not config.get("NAME"):
        raise BackupError("--into must name a database, as in postgres://user@host:5432/caly_restore.")
    if config["ENGINE"].endswith("sqlite3"):
        config["NAME"] = str(Path(config["NAME"]).resolve())
    return config


def _engine(db: dict) -> str:
    return "sqlite" if db["ENGINE"].endswith("sqlite3") else "postgresql"


def is_live_database(target: dict[str, Any]) -> bool:
    """Whether `target` is the database this process runs on (same host, port and name)."""
    live = connection.settings_dict
    if _engine(target) != connection.vendor:
        return False
    if connection.vendor == "sqlite":
        name = str(live["NAME"])
        return name == target["NAME"] or (Path(name).is_absolute() and Path(name).resolve() == Path(target["NAME"]))

    def where(db: dict) -> tuple[str, int, str]:
        host = str(db.get("HOST") or "")
        host = "local" if host in LOCAL_HOSTS or host.startswith("/") else host.lower()
        return host, int(db.get("PORT") or 5432), str(db["NAME"])

    return where(target) == where(live)


@contextmanager
def _verified_local_copy(key: str, manifest: dict[str, Any]) -> Iterator[str]:
    """A local file path holding the backup, its sha256 checked against the manifest; raises ChecksumMismatch."""
    digest = hashlib.sha256()
    if is_local(backup_storage()):
        path = backup_storage().path(key)
        with open(path, "rb") as source:
            while chunk := source.read(CHUNK_BYTES):
                digest.update(chunk)
        _check_digest(key, digest.hexdigest(), manifest)
        yield path
        return
    with tempfile.TemporaryDirectory(prefix="caly-restore-") as folder:
        path = str(Path(folder) / Path(key).name)
        opened = backup_storage().open(key, "rb")
        # S3File would first buffer the whole object in memory; its boto3 object streams the body.
        source = opened.obj.get()["Body"] if hasattr(opened, "obj") else opened
        with closing(source), open(path, "wb") as target:
            while chunk := source.read(CHUNK_BYTES):
                digest.update(chunk)
                target.write(chunk)
        _check_digest(key, digest.hexdigest(), manifest)
        yield path


def _check_digest(key: str, digest: str, manifest: dict[str, Any]) -> None:
    if digest != manifest["sha256"]:
        raise ChecksumMismatch(
            f"{key} does not match its recorded sha256 (expected {manifest['sha256']}, got {digest}): the object "
            "was changed or damaged in storage. Nothing was restored; use another backup."
        )


def backup_restore(*, name: str, into: str, force: bool = False) -> dict[str, Any]:
    """Restore backup `name` into the database at `into` (which must exist); returns the manifest.

    Refuses the live database unless `force`. Raises BackupError (ChecksumMismatch for a damaged backup).
    """
    target = parse_target(into)
    manifest = backup_manifest(name)
    key = manifest["name"]
    if manifest["engine"] != _engine(target):
        raise BackupError(f"{key} is a {manifest['engine']} backup; --into must be a {manifest['engine']} database.")
    if is_live_database(target) and not force:
        raise BackupError(
            f"Refusing to restore over the live database {target['NAME']!r}: restore into a scratch database and "
            "check it first. Pass --force to overwrite the live database (everything written since the backup "
            "is lost)."
        )
    with _verified_local_copy(key, manifest) as path:
        if manifest["engine"] == "postgresql":
            _pg_restore(path, target)
        else:
            _sqlite_restore(path, target)
    logger.info("Restored %s into %s", key, target["NAME"])
    return manifest


def _pg_restore(path: str, target: dict[str, Any]) -> None:
    command = [
        pg_tool("pg_restore"),
        "--no-owner",
        "--clean",
        "--if-exists",
        "--single-transaction",  # all or nothing: a failed restore leaves the target as it was
        "--no-password",
        f"--dbname={make_conninfo(dbname=target['NAME'])}",
        path,
    ]
    result = subprocess.run(command, env=_pg_env(target), capture_output=True, text=True, check=False)  # noqa: S603
    if result.returncode != 0:
        raise BackupError(f"pg_restore failed with exit status {result.returncode}: {result.stderr.strip()[-4000:]}")


def _sqlite_restore(path: str, target: dict[str, Any]) -> None:
    target_path = Path(target["NAME"])
    if not target_path.parent.is_dir():
        raise BackupError(f"The folder of {target_path} does not exist.")
    # The backup API writes page by page under the target's own locks, so it is safe even for a file in use.
    with closing(sqlite3.connect(path)) as source, closing(sqlite3.connect(target_path)) as destination:
        source.backup(destination)


def table_counts(db: dict[str, Any]) -> dict[str, int]:
    """Exact row counts of every table of the database `db` (a settings-style dict)."""
    if _engine(db) == "postgresql":
        return pg_table_counts(db)
    if db is connection.settings_dict:
        connection.ensure_connection()
        return _sqlite_counts(connection.connection)
    with closing(sqlite3.connect(f"file:{db['NAME']}?mode=ro", uri=True)) as conn:
        return _sqlite_counts(conn)


def restore_verify(*, manifest: dict[str, Any], into: str) -> list[dict[str, Any]]:
    """Row counts per table: at backup time (the manifest), restored, and live now.

    A table is `ok` when the restored count equals the count at backup time; the live count is shown
    for comparison and differs whenever the live database changed after the backup.
    """
    restored = table_counts(parse_target(into))
    live = table_counts(connection.settings_dict)
    at_backup = manifest.get("tables") or live
    return [
        {
            "table": table,
            "at_backup": at_backup.get(table),
            "restored": restored.get(table),
            "live": live.get(table),
            "ok": restored.get(table) == at_backup.get(table),
        }
        for table in sorted(set(at_backup) | set(restored))
    ]
