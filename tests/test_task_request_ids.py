"""Request ids follow the work into the task worker: a task's log lines carry the id of the request or
webhook that queued it (caly/foundation/tasks.py), a task it queues in turn carries it on, and a task the
scheduler queued has a fresh id of its own, the one on the scheduler's "Queued" line.

The end-to-end test runs a real `manage.py run_worker` on PostgreSQL and reads its log.
"""

import logging
import re
import uuid
from datetime import timedelta
from pathlib import Path

import pytest
from django.conf import settings as django_settings
from django.utils import timezone
from django_tasks import task
from django_tasks_db.models import DBTaskResult

from caly.foundation import context
from caly.foundation.ops import scheduler
from caly.foundation.tasks import queued_request_id, retry_later
from tests import instances
from tests.exotel_fake import (
    callback_path,
    exotel_connection_fixture,  # noqa: F401
    exotel_fixture,  # noqa: F401
    form,
    status_callback,
)
from tests.serving import clean_env

logger = logging.getLogger("tests.task_request_ids")
WEBHOOK_REQUEST_ID = "exotel-delivery-0001"
PAGE_REQUEST_ID = "page-request-0002"


@task()
def shout(word: str, again: bool = False) -> str:
    """Logs a line, and (`again`) queues itself once more, as a task retrying would."""
    logger.info("shout: %s", word)
    if again:
        retry_later(shout, f"{word} again", delay_seconds=0)
    return word


@pytest.fixture
def database_queue(settings):
    settings.TASKS = {"default": {"BACKEND": "django_tasks_db.DatabaseBackend", "QUEUES": ["default"]}}


def request_id_of(row: DBTaskResult) -> str | None:
    return queued_request_id(row.task_result)


def in_request(request_id: str):
    return context.RequestContext(request_id=request_id, method="POST", path="/somewhere/")


@pytest.mark.django_db
def test_it_writes_the_webhooks_request_id_into_the_task_it_queues(client, exotel_connection, database_queue):
    response = client.post(
        callback_path(exotel_connection),
        form(status_callback(RecordingUrl=None)),
        content_type="application/x-www-form-urlencoded",
        HTTP_X_REQUEST_ID=WEBHOOK_REQUEST_ID,
    )

    assert response.status_code == 200
    row = DBTaskResult.objects.get()
    assert row.task_path == "integrations.tasks.process_webhook_event"
    assert request_id_of(row) == WEBHOOK_REQUEST_ID
    assert row.task_result.args == [row.args_kwargs["args"][0]] and row.task_result.kwargs == {}


@pytest.mark.django_db
def test_a_task_queued_outside_any_request_carries_no_id(database_queue):
    shout.enqueue("quiet")

    assert request_id_of(DBTaskResult.objects.get()) is None


@pytest.mark.django_db
def test_it_leaves_the_id_of_a_row_already_queued_alone_when_it_is_saved_again(database_queue):
    token = context.activate(in_request(PAGE_REQUEST_ID))
    try:
        shout.enqueue("first")
    finally:
        context.deactivate(token)
    row = DBTaskResult.objects.get()
    token = context.activate(in_request("another-request-0003"))
    try:
        row.claim("worker-1")
    finally:
        context.deactivate(token)

    row.refresh_from_db()
    assert request_id_of(row) == PAGE_REQUEST_ID


@pytest.mark.django_db
def test_a_task_run_at_once_keeps_the_id_of_whoever_queued_it(caplog, django_capture_on_commit_callbacks):
    token = context.activate(in_request(PAGE_REQUEST_ID))
    try:
        with (
            caplog.at_level(logging.INFO, logger="tests.task_request_ids"),
            django_capture_on_commit_callbacks(execute=True),
        ):
            shout.enqueue("now", again=True)
        assert context.current_request_id() == PAGE_REQUEST_ID  # the request's context is back after the task
    finally:
        context.deactivate(token)

    lines = [record for record in caplog.records if record.name == "tests.task_request_ids"]
    assert [(r.getMessage(), r.request_id) for r in lines] == [
        ("shout: now", PAGE_REQUEST_ID),
        ("shout: now again", PAGE_REQUEST_ID),
    ]


def test_a_task_run_at_once_outside_any_request_gets_a_fresh_id_for_its_run(caplog):
    with caplog.at_level(logging.INFO, logger="tests.task_request_ids"):
        shout.enqueue("alone")

    (line,) = [record for record in caplog.records if record.name == "tests.task_request_ids"]
    assert uuid.UUID(line.request_id)
    assert context.current() is None  # nothing left behind


@pytest.mark.django_db
def test_each_scheduled_run_queues_its_task_with_a_fresh_id_of_its_own(database_queue, caplog):
    job = scheduler.Job(
        "shout-often", "tests.test_task_request_ids.shout_scheduled", scheduler.Every(timedelta(minutes=5))
    )
    now = timezone.now()
    scheduler.jobs_sync([job], now=now - timedelta(minutes=10))

    with caplog.at_level(logging.INFO, logger="caly.ops.scheduler"):
        assert scheduler.run_due([job], now=now) == ["shout-often"]

    row = DBTaskResult.objects.get()
    queued_line = next(r for r in caplog.records if r.getMessage().startswith("Queued shout-often"))
    assert uuid.UUID(request_id_of(row)) and queued_line.request_id == request_id_of(row)
    assert context.current() is None


@task()
def shout_scheduled() -> str:
    logger.info("shout: on schedule")
    return "done"


# --- a real worker ---------------------------------------------------------------------------------


def worker_env(tmp_path: Path) -> dict[str, str]:
    database = django_settings.DATABASES["default"]
    return clean_env(
        tmp_path,
        DJANGO_SETTINGS_MODULE="tests.instances_settings",
        DATABASE_URL=f"postgres://{database['USER']}@{database['HOST'] or '127.0.0.1'}:{database['PORT'] or 5432}"
        f"/{database['NAME']}",
        SECRET_KEY=django_settings.SECRET_KEY,
        FIELD_ENCRYPTION_KEYS=",".join(django_settings.FIELD_ENCRYPTION_KEYS),
        MEDIA_ROOT=str(tmp_path / "media"),
        TASKS_BACKEND="database",
        LOG_LEVEL="INFO",
    )


def lines_with(output: str, text: str) -> list[str]:
    return [line for line in output.splitlines() if text in line]


@pytest.mark.postgres
@pytest.mark.slow
@pytest.mark.django_db(transaction=True)
def test_a_real_workers_log_lines_carry_the_id_of_what_queued_each_task(
    tmp_path, client, exotel_connection, database_queue
):
    # A webhook delivery (a completed call without its recording: the worker queues a later look-up).
    response = client.post(
        callback_path(exotel_connection),
        form(status_callback(RecordingUrl=None)),
        content_type="application/x-www-form-urlencoded",
        HTTP_X_REQUEST_ID=WEBHOOK_REQUEST_ID,
    )
    assert response.status_code == 200
    # A task queued by a request, which queues itself once more; one queued by a command (no request).
    token = context.activate(in_request(PAGE_REQUEST_ID))
    try:
        shout.enqueue("from a page", again=True)
    finally:
        context.deactivate(token)
    shout.enqueue("from a command")

    output = instances.manage(
        worker_env(tmp_path), "run_worker", "--batch", "--interval", "0", "--no-startup-delay", "--heartbeat", "5"
    )

    assert DBTaskResult.objects.filter(status="SUCCESSFUL").count() == 4, output
    page_lines = lines_with(output, "shout: from a page")
    assert len(page_lines) == 2 and all(line.endswith(f"[{PAGE_REQUEST_ID}]") for line in page_lines), output
    (command_line,) = lines_with(output, "shout: from a command")
    fresh = re.search(r"\[([0-9a-f-]{36})\]$", command_line)
    assert fresh and fresh[1] not in (PAGE_REQUEST_ID, WEBHOOK_REQUEST_ID), output
    webhook_lines = lines_with(output, "path=integrations.tasks.process_webhook_event state=SUCCESSFUL")
    assert webhook_lines and webhook_lines[0].endswith(f"[{WEBHOOK_REQUEST_ID}]"), output
    # What the webhook's task queued for later carries the delivery's id on.
    look_up = DBTaskResult.objects.get(task_path="integrations.exotel.tasks.reconcile_call")
    assert request_id_of(look_up) == WEBHOOK_REQUEST_ID
    # Lines the worker writes between tasks belong to no request.
    assert not any(line.endswith("]") for line in lines_with(output, "No more tasks to run")), output
