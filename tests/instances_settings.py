"""Settings for the processes tests/instances.py starts: the test settings, with the task queue the
environment asks for (TASKS_BACKEND=database for real workers; the test settings force the immediate one)."""

from caly.settings.test import *  # noqa: F403

if ENV["TASKS_BACKEND"] == "database":  # noqa: F405
    TASKS = {"default": {"BACKEND": "django_tasks_db.DatabaseBackend", "QUEUES": ["default"]}}
