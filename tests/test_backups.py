"""Backups: `backup_db` into storage with a manifest, retention, `restore_db` with checks, on both databases.

The round trips run on whichever database the suite runs on: PostgreSQL (pg_dump/pg_restore into a
fresh database created for the test and dropped after it) or SQLite (the online backup API into a
file). They are `transaction=True` tests, because pg_dump reads through its own connection and sees
only committed rows.
"""

import hashlib
import json
import sqlite3
import tracemalloc
import uuid
from datetime import UTC, datetime
from io import StringIO

import psycopg
import pytest
from django.core.files.base import ContentFile
from django.core.files.storage import default_storage
from django.core.management import CommandError, call_command
from django.db import connection

from caly.foundation import env
from caly.foundation.ops import backups
from caly.foundation.ops.tasks import backup_database
from recordings.models import RecordingStatus
from tests.factories import CallFactory, ClientFactory, RecordingFactory, UserFactory
from tests.s3 import backup_bucket, local_storage, s3_storage  # noqa: F401

CALLS = 40


def _run(command: str, *args: str) -> str:
    out = StringIO()
    call_command(command, *args, stdout=out)
    return out.getvalue()


def _populate() -> None:
    for slug in ("backup-a", "backup-b"):
        client = ClientFactory(slug=slug)
        UserFactory(client=client)
        calls = CallFactory.create_batch(CALLS // 2, client=client, notes="Asked about order #1042; 'quoted' text")
        for call in calls[::4]:
            RecordingFactory(call=call, status=RecordingStatus.STORED, size_bytes=1234, sha256="ab" * 32)


def _pg_settings(name: str) -> dict:
    return {**connection.settings_dict, "NAME": name}


def _pg_url(name: str) -> str:
    db = connection.settings_dict
    auth = db["USER"] + (f":{db['PASSWORD']}" if db["PASSWORD"] else "")
    return f"postgres://{auth}@{db['HOST'] or '127.0.0.1'}:{db['PORT'] or 5432}/{name}"


def _pg_admin(statement: str) -> None:
    db = connection.settings_dict
    with psycopg.connect(
        dbname="postgres",
        host=db["HOST"] or None,
        port=db["PORT"] or None,
        user=db["USER"] or None,
        password=db["PASSWORD"] or None,
        autocommit=True,
    ) as admin:
        admin.execute(statement)


@pytest.fixture
def scratch_database(tmp_path):
    """`--into` for a fresh, empty database of the suite's engine; a PostgreSQL one is dropped afterwards."""
    if connection.vendor != "postgresql":
        yield str(tmp_path / "restored.sqlite3")
        return
    name = f"caly_ops_restore_{uuid.uuid4().hex[:12]}"
    _pg_admin(f'CREATE DATABASE "{name}"')
    try:
        yield _pg_url(name)
    finally:
        _pg_admin(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def _calls_checksum(into: str | None = None) -> str:
    """A checksum of every recordings_call row in id order: the source database's, or the one at `into`."""
    if connection.vendor == "postgresql":
        db = backups.parse_target(into) if into else connection.settings_dict
        with backups._pg_connect(db) as conn:
            row = conn.execute(
                "SELECT md5(string_agg(c::text, '|' ORDER BY c.id)), count(*) FROM recordings_call c"
            ).fetchone()
        return f"{row[0]}:{row[1]}"
    conn = sqlite3.connect(backups.parse_target(into)["NAME"]) if into else connection.connection
    # As text, so that Django's type converters on its own connection change nothing.
    columns = [row[1] for row in conn.execute("PRAGMA table_info(recordings_call)")]
    as_text = ", ".join(f'CAST("{column}" AS TEXT)' for column in columns)
    rows = conn.execute(f"SELECT {as_text} FROM recordings_call ORDER BY id").fetchall()  # noqa: S608
    return hashlib.md5(repr(rows).encode()).hexdigest() + f":{len(rows)}"  # noqa: S324 - a checksum, not security


@pytest.mark.django_db(transaction=True)
def test_a_backup_restores_into_a_fresh_database_with_the_same_rows(local_storage, scratch_database):  # noqa: F811
    _populate()

    out = _run("backup_db")

    [key] = [key for key in local_storage.keys("backups/") if not key.endswith(".json")]
    assert key.startswith("backups/caly-") and key.endswith(
        ".dump" if connection.vendor == "postgresql" else ".sqlite3"
    )
    assert f"to {key}" in out and "Kept 1, deleted 0" in out
    manifest = json.loads(local_storage.read(key + ".json"))
    data = local_storage.read(key)
    assert manifest["sha256"] == hashlib.sha256(data).hexdigest() and manifest["size_bytes"] == len(data)
    assert manifest["tables"]["recordings_call"] == CALLS and manifest["tables"]["recordings_recording"] == 10
    assert manifest["tables"]["accounts_client"] == 2

    out = _run("restore_db", key.removeprefix("backups/"), "--into", scratch_database, "--verify")

    assert "sha256 checked" in out and "Verified: all" in out
    assert "recordings_call" in out and "MISMATCH" not in out
    assert _calls_checksum(scratch_database) == _calls_checksum()
    restored = backups.table_counts(backups.parse_target(scratch_database))
    assert restored == backups.table_counts(connection.settings_dict)

    # Restoring again over the restored copy replaces it (clean, if exists) and still matches.
    _run("restore_db", key, "--into", scratch_database, "--verify")
    assert backups.table_counts(backups.parse_target(scratch_database)) == restored


@pytest.mark.django_db(transaction=True)
def test_verify_compares_with_the_backup_and_shows_how_the_live_database_moved_on(local_storage, scratch_database):  # noqa: F811
    _populate()
    _run("backup_db")
    [backup] = backups.backup_list()
    CallFactory.create_batch(3, client=ClientFactory(slug="after-the-backup"))

    out = _run("restore_db", backup.name, "--into", scratch_database, "--verify")

    line = next(line for line in out.splitlines() if line.startswith("recordings_call "))
    assert line.split()[1:] == [str(CALLS), str(CALLS), str(CALLS + 3), "ok"]
    assert "changed in the live database since the backup" in out


@pytest.mark.django_db(transaction=True)
def test_a_restore_missing_rows_fails_verification(local_storage, scratch_database, monkeypatch):  # noqa: F811
    _populate()
    _run("backup_db")
    [backup] = backups.backup_list()
    real_counts = backups.table_counts

    def one_call_short(db):
        counts = real_counts(db)
        if db is not connection.settings_dict:
            counts["recordings_call"] -= 1
        return counts

    monkeypatch.setattr(backups, "table_counts", one_call_short)
    with pytest.raises(CommandError, match="1 table\\(s\\) differ from the backup: recordings_call") as raised:
        _run("restore_db", backup.name, "--into", scratch_database, "--verify")
    assert raised.value.returncode == 1


@pytest.mark.django_db(transaction=True)
def test_a_tampered_backup_is_refused_before_anything_is_restored(local_storage, scratch_database):  # noqa: F811
    _populate()
    _run("backup_db")
    [backup] = backups.backup_list()
    path = local_storage.root / backup.name
    data = bytearray(path.read_bytes())
    data[len(data) // 2] ^= 0xFF
    path.write_bytes(bytes(data))

    with pytest.raises(CommandError, match="does not match its recorded sha256"):
        _run("restore_db", backup.name, "--into", scratch_database)

    if connection.vendor == "postgresql":
        assert backups.table_counts(backups.parse_target(scratch_database)) == {}
    else:
        assert not (local_storage.root.parent / "restored.sqlite3").exists()


@pytest.mark.django_db(transaction=True)
def test_a_backup_goes_to_its_own_bucket_and_comes_back(s3_storage, backup_bucket, scratch_database):  # noqa: F811
    _populate()

    manifest = backup_database.enqueue().return_value

    key = manifest["name"]
    assert set(backup_bucket.keys()) == {key, key + ".json"}
    assert s3_storage.keys() == []  # nothing in the recordings' bucket
    assert hashlib.sha256(backup_bucket.read(key)).hexdigest() == manifest["sha256"]
    assert backup_bucket.multipart_uploads() == []
    assert key.removeprefix("backups/") in _run("backup_db", "--list")
    out = _run("restore_db", key, "--into", scratch_database, "--verify")
    assert "Verified: all" in out
    assert _calls_checksum(scratch_database) == _calls_checksum()


@pytest.mark.django_db(transaction=True)
def test_retention_deletes_only_in_the_backups_bucket(s3_storage, backup_bucket):  # noqa: F811
    """A recording whose key looks like a backup's is none of retention's business."""
    stale = "backups/caly-20200101T000000Z.dump"
    s3_storage.client.put_object(Bucket=s3_storage.bucket, Key=stale, Body=b"a recording, not a backup")
    backup_bucket.client.put_object(Bucket=backup_bucket.bucket, Key=stale, Body=b"old")
    backup_bucket.client.put_object(Bucket=backup_bucket.bucket, Key=stale + ".json", Body=b"{}")

    out = _run("backup_db")

    remaining = backup_bucket.keys()
    assert stale not in remaining and "deleted 1" in out
    assert s3_storage.keys() == [stale]


@pytest.mark.django_db(transaction=True)
def test_without_a_bucket_of_their_own_backups_share_the_recordings_storage(s3_storage):  # noqa: F811
    """What BACKUP_SHARED_STORAGE_ALLOWED accepts (and what a local run does): the recordings' bucket."""
    manifest = backup_database.enqueue().return_value
    assert set(s3_storage.keys("backups/")) == {manifest["name"], manifest["name"] + ".json"}


PRODUCTION = {
    "SECRET_KEY": "x" * 20 + "abcdefghijklmnopqrstuvwxyz0123456789",
    "ALLOWED_HOSTS": "caly.example.com",
    "SITE_URL": "https://caly.example.com",
    "DATABASE_URL": "postgres://caly:pw@db.internal:5432/caly",
    "REDIS_URL": "redis://cache.internal:6379/0",
    "EMAIL_URL": "smtp+tls://u:p@smtp.example.com:587",
    "FIELD_ENCRYPTION_KEYS": "bmV3LWtleS0zMi1ieXRlcy1vZi11cmwtc2FmZS1iNjQ=",
    "STORAGE_BACKEND": "s3",
    "S3_ENDPOINT_URL": "https://s3.ap-southeast-1.wasabisys.com",
    "S3_REGION_NAME": "ap-southeast-1",
    "S3_BUCKET_NAME": "caly-recordings",
    "S3_ACCESS_KEY_ID": "recordings-key",
    "S3_SECRET_ACCESS_KEY": "recordings-secret",
}


def _problems(variables: dict[str, str], *, production: bool = True) -> dict[str, str]:
    try:
        env.read(variables, production=production)
    except env.EnvError as error:
        return {name: problem for name, problem, _ in error.problems}
    return {}


def test_production_refuses_backups_in_the_recordings_bucket_with_the_recordings_keys():
    problems = _problems(PRODUCTION)
    assert set(problems) == {"BACKUP_S3_BUCKET_NAME"}
    assert "share the recordings' bucket and keys" in problems["BACKUP_S3_BUCKET_NAME"]
    assert "BACKUP_SHARED_STORAGE_ALLOWED" in problems["BACKUP_S3_BUCKET_NAME"]
    # The same bucket named explicitly is still the same bucket.
    assert set(_problems({**PRODUCTION, "BACKUP_S3_BUCKET_NAME": "caly-recordings"})) == {"BACKUP_S3_BUCKET_NAME"}
    assert _problems(PRODUCTION, production=False) == {}


@pytest.mark.parametrize(
    "backups",
    [
        {"BACKUP_S3_BUCKET_NAME": "caly-backups"},
        {"BACKUP_S3_BUCKET_NAME": "caly-backups", "BACKUP_S3_ACCESS_KEY_ID": "b", "BACKUP_S3_SECRET_ACCESS_KEY": "s"},
        {"BACKUP_S3_ACCESS_KEY_ID": "backups-key", "BACKUP_S3_SECRET_ACCESS_KEY": "backups-secret"},
        {"BACKUP_SHARED_STORAGE_ALLOWED": "true"},
    ],
    ids=["own-bucket", "own-bucket-and-keys", "own-keys-in-the-same-bucket", "explicitly-allowed"],
)
def test_production_starts_when_backups_are_apart_or_sharing_is_allowed(backups):
    assert _problems({**PRODUCTION, **backups}) == {}


def test_backups_take_their_own_variables_and_the_recordings_ones_for_the_rest():
    values = env.read({**PRODUCTION, "BACKUP_S3_BUCKET_NAME": "caly-backups", "BACKUP_S3_REGION_NAME": "eu-central-1"})
    assert env.backup_s3(values) == {
        "bucket_name": "caly-backups",
        "endpoint_url": "https://s3.ap-southeast-1.wasabisys.com",
        "region_name": "eu-central-1",
        "access_key": "recordings-key",
        "secret_key": "recordings-secret",
    }
    assert env.backup_s3(env.read({})) is None  # local runs: MEDIA_ROOT, beside the recordings


def test_a_backup_bucket_beside_local_recordings_needs_its_endpoint_and_keys():
    problems = _problems({"BACKUP_S3_BUCKET_NAME": "caly-backups"}, production=False)
    assert set(problems) == {
        "BACKUP_S3_ENDPOINT_URL",
        "BACKUP_S3_REGION_NAME",
        "BACKUP_S3_ACCESS_KEY_ID",
        "BACKUP_S3_SECRET_ACCESS_KEY",
    }
    half = _problems({**PRODUCTION, "BACKUP_S3_ACCESS_KEY_ID": "backups-key"})
    assert "BACKUP_S3_SECRET_ACCESS_KEY" in half


def test_the_settings_give_backups_a_storage_of_their_own(monkeypatch):
    import importlib

    import caly.settings.base as base

    for name, value in {**PRODUCTION, "BACKUP_S3_BUCKET_NAME": "caly-backups"}.items():
        monkeypatch.setenv(name, value)
    monkeypatch.setenv("BACKUP_S3_ACCESS_KEY_ID", "backups-key")
    monkeypatch.setenv("BACKUP_S3_SECRET_ACCESS_KEY", "backups-secret")
    try:
        storages = importlib.reload(base).STORAGES
    finally:
        monkeypatch.undo()
        importlib.reload(base)
    recordings, backups = storages["default"]["OPTIONS"], storages["backups"]["OPTIONS"]
    assert (recordings["bucket_name"], recordings["access_key"]) == ("caly-recordings", "recordings-key")
    assert (backups["bucket_name"], backups["access_key"], backups["secret_key"]) == (
        "caly-backups",
        "backups-key",
        "backups-secret",
    )


@pytest.mark.postgres
@pytest.mark.django_db
def test_it_refuses_to_restore_over_the_live_database_without_force(local_storage):  # noqa: F811
    live = connection.settings_dict["NAME"]
    _store_fake_backup("caly-20260301T020000Z.dump", engine="postgresql")

    for url in (_pg_url(live), f"postgres://{connection.settings_dict['USER']}@localhost/{live}"):
        with pytest.raises(CommandError, match="Refusing to restore over the live database"):
            _run("restore_db", "caly-20260301T020000Z.dump", "--into", url)

    # --force lets it through to the next check (here: the fake backup's checksum)
    with pytest.raises(CommandError, match="does not match its recorded sha256"):
        _run("restore_db", "caly-20260301T020000Z.dump", "--into", _pg_url(live), "--force")


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_a_failing_pg_dump_leaves_no_backup_behind(local_storage, monkeypatch):  # noqa: F811
    monkeypatch.setattr(backups, "pg_tool", lambda name: "/bin/false")

    with pytest.raises(CommandError, match="false failed with exit status 1"):
        _run("backup_db")

    assert local_storage.keys("backups/") == []


def test_bad_names_and_targets_are_clear_errors(local_storage):  # noqa: F811
    with pytest.raises(CommandError, match="is not a backup name"):
        _run("restore_db", "../../etc/passwd", "--into", "/tmp/x.sqlite3")
    with pytest.raises(CommandError, match=r"There is no backup backups/caly-20260101T000000Z\.dump"):
        _run("restore_db", "caly-20260101T000000Z.dump", "--into", "/tmp/x.sqlite3")
    with pytest.raises(CommandError, match="must be a postgres:// or sqlite:// URL"):
        _run("restore_db", "caly-20260101T000000Z.dump", "--into", "mysql://x/y")
    _store_fake_backup("caly-20260101T000000Z.sqlite3", engine="sqlite")
    with pytest.raises(CommandError, match="is a sqlite backup; --into must be a sqlite database"):
        _run("restore_db", "caly-20260101T000000Z.sqlite3", "--into", "postgres://u@127.0.0.1/elsewhere")
    default_storage.save("backups/caly-20260102T000000Z.dump", ContentFile(b"unfinished"))
    with pytest.raises(CommandError, match="has no manifest: the backup did not finish"):
        _run("restore_db", "caly-20260102T000000Z.dump", "--into", "postgres://u@127.0.0.1/elsewhere")


def _store_fake_backup(name: str, *, engine: str = "postgresql", complete: bool = True) -> None:
    key = f"backups/{name}"
    default_storage.save(key, ContentFile(b"not really a dump"))
    if complete:
        manifest = {"name": key, "engine": engine, "sha256": "0" * 64, "size_bytes": 17, "tables": {}}
        default_storage.save(key + ".json", ContentFile(json.dumps(manifest).encode()))


def _stamp(text: str) -> str:
    return datetime.fromisoformat(text).replace(tzinfo=UTC).strftime("caly-%Y%m%dT%H%M%SZ.dump")


def test_retention_keeps_the_newest_backup_of_each_recent_day_and_month(local_storage):  # noqa: F811
    now = datetime(2026, 3, 15, 12, 0, tzinfo=UTC)
    kept = {
        "2026-03-15 08:00": "newest of today",
        "2026-03-14 02:00": "newest of yesterday",
        "2026-03-13 23:59": "newest of the day before",
        "2026-02-28 02:00": "newest of February",
        "2026-03-16 02:00": "dated in the future: a clock to look at, not to delete",
    }
    deleted = {
        "2026-03-15 02:00": "an older one of today",
        "2026-03-13 02:00": "an older one of the day before",
        "2026-03-12 02:00": "beyond the 3 days; March's newest is today's",
        "2026-02-10 02:00": "an older one of February",
        "2026-01-31 02:00": "beyond the 2 months",
    }
    for moment in [*kept, *deleted]:
        _store_fake_backup(_stamp(moment))
    _store_fake_backup(_stamp("2026-03-15 11:00"), complete=False)  # being written: kept
    _store_fake_backup(_stamp("2026-03-10 02:00"), complete=False)  # cut off days ago: debris
    default_storage.save("backups/README.txt", ContentFile(b"not ours"))

    kept_now, deleted_now = backups.backups_prune(keep_daily=3, keep_monthly=2, now=now)

    assert {b.name for b in kept_now} == {f"backups/{_stamp(m)}" for m in [*kept, "2026-03-15 11:00"]}
    assert {b.name for b in deleted_now} == {f"backups/{_stamp(m)}" for m in [*deleted, "2026-03-10 02:00"]}
    remaining = set(local_storage.keys("backups/"))
    for moment in deleted:
        assert f"backups/{_stamp(moment)}" not in remaining and f"backups/{_stamp(moment)}.json" not in remaining
    assert f"backups/{_stamp('2026-02-28 02:00')}.json" in remaining
    assert "backups/README.txt" in remaining


def test_it_lists_backups_with_size_and_date(local_storage):  # noqa: F811
    assert "No backups" in _run("backup_db", "--list")
    _store_fake_backup("caly-20260301T020000Z.dump")
    _store_fake_backup("caly-20260302T020000Z.dump", complete=False)

    lines = _run("backup_db", "--list").splitlines()

    assert lines[0].split() == [
        "backups/caly-20260302T020000Z.dump",
        "17",
        "B",
        "2026-03-02",
        "02:00:00",
        "UTC",
        "(unfinished:",
        "no",
        "manifest)",
    ]
    assert lines[1].split() == ["backups/caly-20260301T020000Z.dump", "17", "B", "2026-03-01", "02:00:00", "UTC"]
    assert lines[2] == "2 backup(s)."


MB = 1024 * 1024


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_a_large_dump_streams_through_without_being_held_in_memory(local_storage, tmp_path, monkeypatch):  # noqa: F811
    """A stand-in pg_dump writes 64 MB; this process never holds more than a few chunks of it."""
    fake = tmp_path / "pg_dump"
    fake.write_text("#!/bin/sh\nexec head -c 67108864 /dev/zero\n")
    fake.chmod(0o755)
    monkeypatch.setattr(backups, "pg_tool", lambda name: str(fake))

    tracemalloc.start()
    try:
        manifest = backups.backup_create()
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()

    assert manifest["size_bytes"] == 64 * MB
    assert manifest["sha256"] == hashlib.sha256(bytes(64 * MB)).hexdigest()
    assert peak < 16 * MB, f"peak {peak / MB:.1f} MB"
