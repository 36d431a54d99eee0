"""The task queue is wired: a task enqueued in a transaction is run by `manage.py db_worker`."""

import pytest
from django.core.management import call_command
from django.db import transaction
from django_tasks import task
from django_tasks_db.models import DBTaskResult

from accounts.models import Client


@pytest.fixture(autouse=True)
def _database_queue(settings):
    settings.TASKS = {"default": {"BACKEND": "django_tasks_db.DatabaseBackend", "QUEUES": ["default"]}}


@task()
def rename_client(client_id: int, name: str) -> str:
    Client.objects.filter(pk=client_id).update(name=name)
    return name


@pytest.mark.django_db(transaction=True)
def test_it_runs_an_enqueued_task_in_the_db_worker(client_a, settings):
    with transaction.atomic():
        result = rename_client.enqueue(client_a.pk, "Renamed by the worker")
    assert DBTaskResult.objects.filter(status="READY").count() == 1

    call_command("db_worker", "--batch", "--no-startup-delay", verbosity=0)

    result.refresh()
    assert result.status.name == "SUCCESSFUL" and result.return_value == "Renamed by the worker"
    client_a.refresh_from_db()
    assert client_a.name == "Renamed by the worker"


@pytest.mark.django_db(transaction=True)
def test_it_enqueues_nothing_when_the_transaction_rolls_back(client_a):
    with pytest.raises(RuntimeError), transaction.atomic():
        rename_client.enqueue(client_a.pk, "never")
        raise RuntimeError("roll back")
    assert DBTaskResult.objects.count() == 0
