"""Settings for the processes tests/instances.py starts: the test settings and tests.serving's URLs.

Where the test settings fix a value, the environment decides here: the task queue (TASKS_BACKEND=database
for real workers) and local files (MEDIA_ROOT, so the test can look at what a worker stored). Exotel is
reached over plain HTTP, as the fake Exotel on 127.0.0.1 serves it.
"""

from caly.settings.test import *  # noqa: F403

ROOT_URLCONF = "tests.serving.urls"  # caly.urls plus `slow/`, a request that stays in flight a while

if ENV["TASKS_BACKEND"] == "database":  # noqa: F405
    TASKS = {"default": {"BACKEND": "django_tasks_db.DatabaseBackend", "QUEUES": ["default"]}}
# An absolute MEDIA_ROOT only: a test's own folder, never the project's media/.
if ENV["STORAGE_BACKEND"] == "local" and Path(ENV["MEDIA_ROOT"]).is_absolute():  # noqa: F405
    MEDIA_ROOT = Path(ENV["MEDIA_ROOT"])  # noqa: F405
    STORAGES["default"] = {**STORAGES["default"], "OPTIONS": {"location": str(MEDIA_ROOT), "allow_overwrite": True}}  # noqa: F405
EXOTEL_API_SCHEME = "http"
EXOTEL_RECORDING_SCHEMES = ["http"]
