"""A task worker killed with SIGKILL mid-task: its task is picked up again by another worker and has its effect
once. django-tasks-db alone leaves such a task RUNNING for ever; `manage.py run_worker` adds heartbeats
and recovery (caly/foundation/ops/workers.py).

The end-to-end test kills a real worker process while it streams a recording from a fake Exotel, starts
another, and counts: one recording row, one stored object with the right sha256, two downloads.
"""

import hashlib
import signal
import threading
import time
from datetime import timedelta
from pathlib import Path

import pytest
from django.conf import settings as django_settings
from django.utils import timezone
from django_tasks import task
from django_tasks_db.models import DBTaskResult

from caly.foundation.models import WorkerHeartbeat
from caly.foundation.ops import workers
from recordings.fetch_queue import recording_queue
from recordings.models import Recording, RecordingStatus
from tests import instances
from tests.exotel_fake import (
    _Generated,
    exotel_connection_fixture,  # noqa: F401
    exotel_fixture,  # noqa: F401
)
from tests.factories import CallFactory
from tests.serving import clean_env

STALE = timedelta(seconds=60)


@pytest.fixture
def database_queue(settings):
    settings.TASKS = {"default": {"BACKEND": "django_tasks_db.DatabaseBackend", "QUEUES": ["default"]}}


@task()
def noop() -> None:
    """Stands for any task; these tests only move its row through the queue."""


def running_task(*worker_ids: str) -> DBTaskResult:
    """A task claimed by each of `worker_ids` in turn, the last one still running it."""
    result = noop.enqueue()
    row = DBTaskResult.objects.get(pk=result.id)
    for worker_id in worker_ids:
        row.claim(worker_id)
    return row


def seen(worker_id: str, ago: timedelta) -> None:
    workers.heartbeat_beat(worker_id=worker_id, started_at=timezone.now() - ago, now=timezone.now() - ago)


# --- recovery ------------------------------------------------------------------------------------


@pytest.mark.django_db
def test_a_dead_workers_task_is_queued_again_and_a_live_workers_is_left_running(database_queue):
    seen("dead", ago=timedelta(minutes=5))
    seen("alive", ago=timedelta(seconds=5))
    orphan, busy = running_task("dead"), running_task("alive")

    assert workers.tasks_recover(stale_after=STALE) == [str(orphan.id)]

    orphan.refresh_from_db()
    busy.refresh_from_db()
    assert orphan.status == "READY" and busy.status == "RUNNING"
    assert DBTaskResult.objects.ready().get() == orphan  # due at once
    assert list(WorkerHeartbeat.objects.values_list("worker_id", flat=True)) == ["alive"]  # the dead one forgotten


@pytest.mark.django_db
def test_tasks_of_workers_without_a_heartbeat_are_never_touched(database_queue):
    plain = running_task("a-plain-db_worker")
    seen("dead", ago=timedelta(minutes=5))

    assert workers.tasks_recover(stale_after=STALE) == []
    plain.refresh_from_db()
    assert plain.status == "RUNNING"


@pytest.mark.django_db
def test_a_task_whose_workers_keep_dying_fails_with_the_reason(database_queue):
    for worker_id in ("first", "second", "third"):
        seen(worker_id, ago=timedelta(minutes=5))
    twice = running_task("first", "second")
    thrice = running_task("first", "second", "third")

    workers.tasks_recover(stale_after=STALE)

    twice.refresh_from_db()
    thrice.refresh_from_db()
    assert thrice.status == "FAILED" and thrice.exception_class_path == "caly.foundation.ops.workers.WorkerLost"
    assert "3 workers died" in thrice.traceback
    assert twice.status == "READY"


@pytest.mark.django_db
def test_a_worker_recovers_nothing_until_its_own_heartbeats_have_held_for_stale_after(database_queue):
    """After a database outage every row is stale, though the workers live: wait until they have beaten again."""
    seen("dead", ago=timedelta(minutes=5))
    orphan = running_task("dead")
    beat = workers.Heartbeat("recoverer", interval=0.05, stale_after=0.3)
    beat.register()

    beat.beat()
    orphan.refresh_from_db()
    assert orphan.status == "RUNNING"  # this worker has been up for less than stale_after

    time.sleep(0.35)
    beat.beat()
    orphan.refresh_from_db()
    assert orphan.status == "READY"


# --- a worker process killed mid-download ---------------------------------------------------------

RECORDING_BYTES = 4 * 1024 * 1024
HEARTBEAT, STALE_AFTER = 0.5, 3.0
BOUND_SECONDS = 60


class StalledRecording(_Generated):
    """Audio served in chunks that stops half-way the first time, until the test lets it go on."""

    def __init__(self, size_bytes: int):
        super().__init__(size_bytes)
        self.halfway = threading.Event()
        self.go_on = threading.Event()

    def __iter__(self):
        for n, chunk in enumerate(super().__iter__()):
            if n * self.CHUNK >= self.size_bytes // 2 and not self.go_on.is_set():
                self.halfway.set()
                self.go_on.wait(timeout=BOUND_SECONDS)
            yield chunk


def worker_env(tmp_path: Path, exotel) -> dict[str, str]:
    database = django_settings.DATABASES["default"]
    return clean_env(
        tmp_path,
        DJANGO_SETTINGS_MODULE="tests.instances_settings",
        DATABASE_URL=f"postgres://{database['USER']}@{database['HOST'] or '127.0.0.1'}:{database['PORT'] or 5432}"
        f"/{database['NAME']}",
        SECRET_KEY=django_settings.SECRET_KEY,
        FIELD_ENCRYPTION_KEYS=",".join(django_settings.FIELD_ENCRYPTION_KEYS),
        EXOTEL_RECORDING_HOSTS=exotel.host,
        MEDIA_ROOT=str(tmp_path / "media"),
        TASKS_BACKEND="database",
    )


def wait_for(condition, what: str) -> None:
    deadline = time.monotonic() + BOUND_SECONDS
    while not condition():
        assert time.monotonic() < deadline, f"gave up waiting for {what}"
        time.sleep(0.1)


@pytest.mark.postgres
@pytest.mark.slow
@pytest.mark.django_db(transaction=True)
def test_a_worker_killed_mid_download_has_its_fetch_finished_once_by_another(
    tmp_path, exotel, exotel_connection, database_queue
):
    audio = StalledRecording(RECORDING_BYTES)
    exotel.recordings["long-call.mp3"] = (audio, "audio/mpeg")
    sha256 = hashlib.sha256(b"".join(_Generated(RECORDING_BYTES))).hexdigest()
    call = CallFactory(client=exotel_connection.client)
    recording_queue(call=call, source_url=exotel.recording_url("long-call.mp3"))
    env = worker_env(tmp_path, exotel)
    options = ("--interval", "0.2", "--heartbeat", str(HEARTBEAT), "--stale-after", str(STALE_AFTER))

    first = instances.spawn([instances.PYTHON, "manage.py", "run_worker", *options], env, tmp_path / "first.log")
    try:
        assert audio.halfway.wait(timeout=BOUND_SECONDS), first.output()
        wait_for(lambda: Recording.objects.get().status == RecordingStatus.FETCHING, "the worker to store bytes")
        first.process.send_signal(signal.SIGKILL)
        first.process.wait(timeout=10)
    finally:
        audio.go_on.set()
    fetch = DBTaskResult.objects.get()
    assert fetch.status == "RUNNING" and len(fetch.worker_ids) == 1  # left behind by the dead worker
    assert Recording.objects.get().status == RecordingStatus.FETCHING

    with instances.task_worker(env, tmp_path / "second.log", *options) as second:
        wait_for(lambda: Recording.objects.get().status == RecordingStatus.STORED, "the fetch to finish")
        wait_for(lambda: DBTaskResult.objects.get().status == "SUCCESSFUL", "the task to be marked done")

    fetch.refresh_from_db()
    assert len(fetch.worker_ids) == 2 and fetch.worker_ids[0] != fetch.worker_ids[1]
    recording = Recording.objects.get()
    assert recording.sha256 == sha256 and recording.size_bytes == RECORDING_BYTES and recording.attempts == 2
    stored = [path for path in (tmp_path / "media").rglob("*") if path.is_file()]
    assert [path.relative_to(tmp_path / "media").as_posix() for path in stored] == [recording.storage_key]
    assert hashlib.sha256(stored[0].read_bytes()).hexdigest() == sha256
    assert len(exotel.seen("/recordings/")) == 2  # downloaded twice, stored once
    assert "queued again: worker" in second.output()
    assert WorkerHeartbeat.objects.count() == 0  # the dead worker forgotten, the live one gone cleanly
