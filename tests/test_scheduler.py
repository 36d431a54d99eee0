"""`manage.py run_scheduler`: periodic jobs queued on time, once each, however many schedulers run.

Jobs here queue `record_run`, a task of this module; with the database queue its task rows are what
a scheduler queued, and `db_worker` runs them like any other task.
"""

import os
import signal
import sqlite3
import subprocess
import threading
import time as clock
import zoneinfo
from datetime import UTC, datetime, time, timedelta
from io import StringIO

import pytest
from django.core.management import CommandError, call_command
from django.db import connection
from django_tasks import task
from django_tasks_db.models import DBTaskResult

from caly.foundation.models import ScheduledJob
from caly.foundation.ops import scheduler
from caly.foundation.ops.scheduler import Daily, Every, Job
from tests.serving import PYTHON, ROOT, clean_env

NIGHTLY = Job("nightly", "tests.test_scheduler.record_run", Daily(time(2, 0)))
T0 = datetime(2026, 3, 10, 1, 0, tzinfo=UTC)  # an hour before NIGHTLY's first run


@task()
def record_run() -> str:
    return "ran"


@pytest.fixture
def database_queue(settings):
    settings.TASKS = {"default": {"BACKEND": "django_tasks_db.DatabaseBackend", "QUEUES": ["default"]}}


def queued() -> int:
    return DBTaskResult.objects.filter(task_path="tests.test_scheduler.record_run").count()


def test_daily_runs_at_the_next_occurrence_strictly_after():
    schedule = Daily(time(2, 0))
    assert schedule.next_after(datetime(2026, 3, 10, 1, 59, tzinfo=UTC)) == datetime(2026, 3, 10, 2, 0, tzinfo=UTC)
    assert schedule.next_after(datetime(2026, 3, 10, 2, 0, tzinfo=UTC)) == datetime(2026, 3, 11, 2, 0, tzinfo=UTC)
    # 07:45 in India is 02:15 UTC: past today's run
    india = datetime(2026, 3, 10, 7, 45, tzinfo=zoneinfo.ZoneInfo("Asia/Kolkata"))
    assert schedule.next_after(india) == datetime(2026, 3, 11, 2, 0, tzinfo=UTC)


def test_every_runs_on_slots_all_schedulers_agree_on():
    schedule = Every(timedelta(minutes=15))
    assert schedule.next_after(datetime(2026, 3, 10, 1, 7, 30, tzinfo=UTC)) == datetime(2026, 3, 10, 1, 15, tzinfo=UTC)
    assert schedule.next_after(datetime(2026, 3, 10, 1, 15, tzinfo=UTC)) == datetime(2026, 3, 10, 1, 30, tzinfo=UTC)


@pytest.mark.django_db
def test_a_job_is_queued_when_due_and_not_again_for_the_same_run(database_queue):
    assert scheduler.run_due([NIGHTLY], now=T0) == []  # first sight: due at 02:00
    assert ScheduledJob.objects.get(name="nightly").next_run_at == datetime(2026, 3, 10, 2, 0, tzinfo=UTC)

    assert scheduler.run_due([NIGHTLY], now=T0 + timedelta(minutes=59)) == []
    assert scheduler.run_due([NIGHTLY], now=T0 + timedelta(hours=1)) == ["nightly"]
    assert scheduler.run_due([NIGHTLY], now=T0 + timedelta(hours=1)) == []
    assert scheduler.run_due([NIGHTLY], now=T0 + timedelta(hours=5)) == []

    assert queued() == 1
    row = ScheduledJob.objects.get(name="nightly")
    assert row.last_run_at == T0 + timedelta(hours=1)
    assert row.next_run_at == datetime(2026, 3, 11, 2, 0, tzinfo=UTC)


@pytest.mark.django_db
def test_a_scheduler_that_was_down_queues_a_missed_job_once(database_queue):
    scheduler.run_due([NIGHTLY], now=T0)

    back = T0 + timedelta(days=3, hours=5)
    assert scheduler.run_due([NIGHTLY], now=back) == ["nightly"]

    assert queued() == 1
    assert ScheduledJob.objects.get(name="nightly").next_run_at == datetime(2026, 3, 14, 2, 0, tzinfo=UTC)


@pytest.mark.django_db
def test_a_changed_schedule_takes_effect(database_queue):
    scheduler.run_due([NIGHTLY], now=T0)
    later = Job("nightly", NIGHTLY.task, Daily(time(4, 30)))

    assert scheduler.run_due([later], now=T0 + timedelta(hours=1, minutes=30)) == []

    row = ScheduledJob.objects.get(name="nightly")
    assert (row.schedule, row.next_run_at) == ("daily at 04:30 UTC", datetime(2026, 3, 10, 4, 30, tzinfo=UTC))


@pytest.mark.django_db
def test_a_job_that_cannot_be_queued_does_not_hold_up_the_others(database_queue):
    broken = Job("broken", "tests.test_scheduler.no_such_task", Daily(time(2, 0)))
    scheduler.run_due([broken, NIGHTLY], now=T0)

    assert scheduler.run_due([broken, NIGHTLY], now=T0 + timedelta(hours=1)) == ["nightly"]

    # tried again in 30 s, not in a tight loop
    assert ScheduledJob.objects.get(name="broken").next_run_at == T0 + timedelta(hours=1, seconds=30)
    assert queued() == 1


def test_it_refuses_to_start_with_a_job_naming_a_missing_task(monkeypatch):
    monkeypatch.setattr(
        scheduler,
        "declared_jobs",
        lambda: (Job("typo", "recordings.tasks.purge_expired_recordingz", Every(timedelta(1))),),
    )
    with pytest.raises(CommandError, match=r"typo: .*purge_expired_recordingz"):
        call_command("run_scheduler", "--once")


def test_the_declared_jobs_exist_and_follow_the_settings(settings):
    settings.BACKUP_TIME_UTC = "22:15"
    jobs = {job.name: job for job in scheduler.declared_jobs()}

    scheduler.jobs_check(jobs.values())
    assert {job.task for job in jobs.values()} >= {
        "recordings.tasks.purge_expired_recordings",
        "integrations.tasks.prune_webhook_events",
        "accounts.tasks.purge_refresh_families",
        "accounts.tasks.purge_unverified_signups",
        "caly.foundation.ops.tasks.backup_database",
    }
    assert jobs["backup-database"].schedule == Daily(time(22, 15))
    daily = {name: job for name, job in jobs.items() if isinstance(job.schedule, Daily)}
    assert all(job.schedule.at < time(22, 15) for name, job in daily.items() if name != "backup-database")


@pytest.mark.django_db(transaction=True)
def test_queued_jobs_run_in_the_task_worker(database_queue):
    names = {"prune-webhook-events", "purge-refresh-families", "purge-unverified-signups"}
    jobs = [job for job in scheduler.declared_jobs() if job.name in names]
    scheduler.run_due(jobs)
    ScheduledJob.objects.update(next_run_at=datetime(2026, 1, 1, tzinfo=UTC))

    out = StringIO()
    call_command("run_scheduler", "--once", stdout=out)
    call_command("db_worker", "--batch", "--no-startup-delay", verbosity=0)

    assert "Queued 3 job(s): " in out.getvalue()
    results = DBTaskResult.objects.filter(task_path__in=[job.task for job in jobs])
    assert sorted(result.status for result in results) == ["SUCCESSFUL"] * 3


@pytest.mark.django_db
def test_list_shows_every_job_with_its_next_run():
    out = StringIO()
    call_command("run_scheduler", "--list", stdout=out)

    lines = out.getvalue().splitlines()
    assert [line.split()[0] for line in lines] == [job.name for job in scheduler.declared_jobs()]
    assert all(" next " in line and "last never" in line for line in lines)


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_a_claimed_job_is_skipped_by_another_scheduler_not_waited_for(database_queue, monkeypatch):
    """Scheduler A holds the claim (its transaction open); scheduler B passes over the row at once."""
    scheduler.run_due([NIGHTLY], now=T0)
    claimed, release = threading.Event(), threading.Event()
    real_enqueue = scheduler.enqueue_with_transaction

    def slow_enqueue(task):
        if threading.current_thread().name == "scheduler-a":
            claimed.set()
            assert release.wait(10)
        real_enqueue(task)

    monkeypatch.setattr(scheduler, "enqueue_with_transaction", slow_enqueue)
    results = {}

    def scheduler_a():
        try:
            results["a"] = scheduler.run_due([NIGHTLY], now=T0 + timedelta(hours=1))
        finally:
            connection.close()

    thread = threading.Thread(target=scheduler_a, name="scheduler-a")
    thread.start()
    try:
        assert claimed.wait(10)
        assert scheduler.run_due([NIGHTLY], now=T0 + timedelta(hours=1)) == []  # skipped, not blocked
    finally:
        release.set()
        thread.join(10)
    assert scheduler.run_due([NIGHTLY], now=T0 + timedelta(hours=1)) == []  # committed: no longer due
    assert results["a"] == ["nightly"]
    assert queued() == 1


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_concurrent_schedulers_queue_a_due_job_once(database_queue):
    scheduler.run_due([NIGHTLY], now=T0)
    start = threading.Barrier(4)
    results = []

    def one_scheduler():
        try:
            start.wait(10)
            results.append(scheduler.run_due([NIGHTLY], now=T0 + timedelta(hours=1)))
        finally:
            connection.close()

    threads = [threading.Thread(target=one_scheduler) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(20)

    assert sorted(results) == [[], [], [], ["nightly"]]
    assert queued() == 1


@pytest.mark.slow
def test_sigterm_stops_the_scheduler_cleanly(tmp_path):
    env = clean_env(
        tmp_path,
        DJANGO_SETTINGS_MODULE="caly.settings.test",
        DATABASE_URL=f"sqlite:///{tmp_path}/db.sqlite3",
        MEDIA_ROOT=str(tmp_path / "media"),
    )
    subprocess.run([PYTHON, "manage.py", "migrate", "--noinput", "-v", "0"], cwd=ROOT, env=env, check=True, timeout=120)
    process = subprocess.Popen(
        [PYTHON, "manage.py", "run_scheduler"],
        cwd=ROOT,
        env={**env, "PYTHONUNBUFFERED": "1"},
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    try:
        first = process.stdout.readline()
        assert first.startswith(f"Scheduler started with {len(scheduler.declared_jobs())} job(s)"), first
        deadline = clock.monotonic() + 30
        # Wait until it sleeps (the job rows exist), so the signal lands in the wait, not at start-up.
        while clock.monotonic() < deadline and not _rows(tmp_path / "db.sqlite3"):
            clock.sleep(0.1)
        os.kill(process.pid, signal.SIGTERM)
        output, _ = process.communicate(timeout=30)
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()
    assert process.returncode == 0, output
    assert output.strip().endswith("Scheduler stopped."), output


def _rows(path) -> int:
    with sqlite3.connect(path) as db:
        return db.execute("SELECT count(*) FROM caly_scheduledjob").fetchone()[0]


@pytest.mark.slow
def test_the_procfile_runs_the_scheduler_and_it_checks_the_environment_first(tmp_path):
    from tests.test_production import assert_one_clean_start_up_message, broken_env, procfile_command, run

    command = procfile_command("scheduler")
    assert command[1:] == ["manage.py", "run_scheduler"]

    result = run(command, broken_env(tmp_path, WEB_CONCURRENCY="abc"))

    assert_one_clean_start_up_message(
        result,
        {
            "SECRET_KEY",
            "ALLOWED_HOSTS",
            "DATABASE_URL",
            "WEB_CONCURRENCY",
            "REDIS_URL",
            "EMAIL_URL",
            "FIELD_ENCRYPTION_KEYS",
        },
    )
