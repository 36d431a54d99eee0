"""Retention: `manage.py purge_expired_recordings` (a dry run unless --apply) and its task.

Client A keeps recordings 30 days and has one 10 and one 40 days old; client B sets no retention and
keeps a 400-day-old one. Only A's 40-day-old recording may go, on local files and on S3 alike.
"""

import io
from datetime import timedelta

import pytest
from django.core.management import CommandError, call_command
from django.db import transaction
from django.utils import timezone

from accounts.models import AuditAction, AuditEvent
from recordings import services
from recordings.models import Call, Recording, RecordingStatus
from recordings.tasks import purge_expired_recordings
from tests.s3 import local_storage, s3_storage  # noqa: F401

pytestmark = pytest.mark.django_db


@pytest.fixture(params=["local", "s3"])
def backend(request):
    return request.getfixturevalue(f"{request.param}_storage")


def store(client, n, days_old):
    call = services.call_create(
        client=client,
        provider_call_id=f"CA{n:04d}",
        direction="inbound",
        from_number="+919800000001",
        to_number="+918000000002",
        status="completed",
        started_at=timezone.now() - timedelta(days=days_old),
        duration_seconds=60,
    )
    return services.recording_store(call=call, stream=io.BytesIO(b"ID3" + bytes(n) * 100), content_type="audio/mpeg")


@pytest.fixture
def recordings(client_a, client_b):
    """Made after the storage fixture the test lists before it."""
    client_a.recording_retention_days = 30
    client_a.save(update_fields=["recording_retention_days"])
    assert client_b.recording_retention_days is None
    return {
        "recent": store(client_a, 1, days_old=10),
        "expired": store(client_a, 2, days_old=40),
        "kept_forever": store(client_b, 3, days_old=400),
    }


def run(*args, **options) -> str:
    out = io.StringIO()
    call_command("purge_expired_recordings", *args, stdout=out, stderr=io.StringIO(), **options)
    return out.getvalue()


def statuses(recordings) -> dict[str, str]:
    return {name: Recording.objects.get(pk=r.pk).status for name, r in recordings.items()}


def assert_only_the_expired_one_is_gone(backend, recordings):
    assert statuses(recordings) == {"recent": "stored", "expired": "deleted", "kept_forever": "stored"}
    expired = Recording.objects.get(pk=recordings["expired"].pk)
    assert expired.deleted_at is not None
    assert Call.objects.get(pk=expired.call_id).has_recording is False
    assert sorted(backend.keys()) == sorted([recordings["recent"].storage_key, recordings["kept_forever"].storage_key])
    event = AuditEvent.objects.get(action=AuditAction.RECORDING_DELETED)
    assert event.target_id == str(expired.public_id) and event.client_id == expired.client_id
    assert event.actor is None and event.metadata == {"reason": "retention"}


def test_by_default_it_only_reports_what_it_would_delete(backend, recordings, django_capture_on_commit_callbacks):
    keys_before = sorted(backend.keys())

    with django_capture_on_commit_callbacks(execute=True) as callbacks:
        output = run()

    assert "Dry run: 1 recording(s) past retention would be deleted; nothing was deleted." in output
    assert "acme-apparel: 1 recording(s) older than 30 day(s)" in output
    assert "bolt-books" not in output
    assert callbacks == []
    assert statuses(recordings) == {"recent": "stored", "expired": "stored", "kept_forever": "stored"}
    assert sorted(backend.keys()) == keys_before and len(keys_before) == 3
    assert not AuditEvent.objects.filter(action=AuditAction.RECORDING_DELETED).exists()


def test_a_verbose_dry_run_lists_each_recording(backend, recordings):
    output = run(verbosity=2)

    assert str(recordings["expired"].public_id) in output and recordings["expired"].storage_key in output
    assert str(recordings["recent"].public_id) not in output
    assert str(recordings["kept_forever"].public_id) not in output


def test_apply_deletes_only_recordings_past_their_clients_retention(
    backend, recordings, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        output = run("--apply")

    assert "Deleted 1 of 1 recording(s) past retention; 0 failed." in output
    assert_only_the_expired_one_is_gone(backend, recordings)

    with django_capture_on_commit_callbacks(execute=True):
        assert "Deleted 0 of 0" in run("--apply")  # nothing left to do; nothing audited twice
    assert AuditEvent.objects.filter(action=AuditAction.RECORDING_DELETED).count() == 1


def test_without_any_retention_there_is_nothing_to_do(local_storage, client_a):  # noqa: F811
    old = store(client_a, 1, days_old=3000)

    assert "Dry run: 0 recording(s)" in run()
    assert "Deleted 0 of 0" in run("--apply")
    assert Recording.objects.get(pk=old.pk).status == RecordingStatus.STORED


def test_apply_fails_loudly_when_a_recording_cannot_be_deleted(local_storage, recordings, monkeypatch):  # noqa: F811
    def broken(**kwargs):
        raise RuntimeError("database went away")

    monkeypatch.setattr(services, "recording_delete", broken)

    with pytest.raises(CommandError, match="1 recording"):
        run("--apply")
    assert statuses(recordings)["expired"] == "stored"


def test_the_task_purges_for_real(backend, recordings, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):
        result = purge_expired_recordings.enqueue()  # the test settings run tasks as they are enqueued

    assert result.status.name == "SUCCESSFUL"
    assert result.return_value == {"expired": 1, "deleted": 1, "failed": 0}
    assert_only_the_expired_one_is_gone(backend, recordings)


@pytest.mark.django_db(transaction=True)
def test_the_db_worker_runs_the_enqueued_task(local_storage, recordings, settings):  # noqa: F811
    """As deployed: a scheduler enqueues the task into the database queue and `db_worker` runs it."""
    settings.TASKS = {"default": {"BACKEND": "django_tasks_db.DatabaseBackend", "QUEUES": ["default"]}}
    with transaction.atomic():
        result = purge_expired_recordings.enqueue()

    call_command("db_worker", "--batch", "--no-startup-delay", verbosity=0)

    result.refresh()
    assert result.status.name == "SUCCESSFUL" and result.return_value["deleted"] == 1
    assert_only_the_expired_one_is_gone(local_storage, recordings)
