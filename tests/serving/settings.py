"""The test settings plus a slow view, for serving tests that run real gunicorn workers."""

from caly.settings.test import *  # noqa: F403

ROOT_URLCONF = "tests.serving.urls"
