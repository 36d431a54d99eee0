"""Test runs: the same stack as production where it matters, fast where it does not."""

import atexit
import os
import shutil
import tempfile

from .base import *  # noqa: F403

DEBUG = False
ALLOWED_HOSTS = ["testserver", "127.0.0.1", "localhost"]
# Argon2 is deliberately slow; tests that need it opt in with override_settings.
PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
EMAIL_BACKEND = "django.core.mail.backends.locmem.EmailBackend"
STORAGES = {
    **STORAGES,  # noqa: F405
    "staticfiles": {"BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"},
}
# Static files straight from the source folders; no collectstatic needed.
WHITENOISE_USE_FINDERS = True
WHITENOISE_AUTOREFRESH = True
# Tests share a developer's Redis safely: their keys carry their own prefix.
for _cache in CACHES.values():  # noqa: F405
    _cache["KEY_PREFIX"] = "caly-test"
# Tasks (e-mails) run as they are enqueued; tests of the worker itself switch to the database backend.
TASKS = {"default": {"BACKEND": "django_tasks.backends.immediate.ImmediateBackend", "QUEUES": ["default"]}}
# Files written by tests (recordings, demo audio) go to a throwaway folder, never the project's media/.
MEDIA_ROOT = Path(tempfile.mkdtemp(prefix="caly-test-media-"))  # noqa: F405
atexit.register(shutil.rmtree, MEDIA_ROOT, ignore_errors=True)
for _alias in ("default", "backups"):
    if STORAGES[_alias]["BACKEND"].endswith("FileSystemStorage"):
        STORAGES[_alias] = {**STORAGES[_alias], "OPTIONS": {"location": str(MEDIA_ROOT), "allow_overwrite": True}}
# seed_demo's secret goes beside the test files, never into the project folder.
DEMO_SECRET_PATH = MEDIA_ROOT / ".demo-secret"
# Not an environment variable: tests that talk to the fake Shopify (tests/shopify_fake.py) set it
# to the fake's http://127.0.0.1:<port> for themselves; everything else keeps the real shop URLs.
SHOPIFY_API_BASE_URL_OVERRIDE = ""
# The fake Exotel (tests/exotel_fake.py) serves recordings on 127.0.0.1; tests of the address check turn it off.
EXOTEL_RECORDING_ALLOW_LOOPBACK = True
# Outbound webhooks may go to receivers on 127.0.0.1 (over http too); tests of the address check turn it off.
OUTBOUND_WEBHOOK_ALLOW_LOOPBACK = True
# Staff tests sign in with force_login; the second factor's own tests switch it on.
STAFF_REQUIRE_2FA = False
# On SQLite the test database is a file (in RAM under /dev/shm where there is one), not SQLite's shared
# in-memory database: the live server's threads then open connections of their own instead of sharing
# the test's, and the sqlite3 module cannot deadlock between them (a browser test sat for ten minutes).
if DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":  # noqa: F405
    _RAM = "/dev/shm"  # noqa: S108 - mkdtemp makes a private folder of its own inside
    _TEST_DB_DIR = tempfile.mkdtemp(prefix="caly-test-db-", dir=_RAM if os.path.isdir(_RAM) else None)
    atexit.register(shutil.rmtree, _TEST_DB_DIR, ignore_errors=True)
    DATABASES["default"]["TEST"] = {"NAME": os.path.join(_TEST_DB_DIR, "test.sqlite3")}  # noqa: F405
