"""Local development: no .env needed, SQLite, local files, console email."""

from .base import *  # noqa: F403

DEBUG = True
ALLOWED_HOSTS = [*ALLOWED_HOSTS, "[::1]"]  # noqa: F405
# Static files straight from the source folders; no collectstatic needed.
WHITENOISE_USE_FINDERS = True
WHITENOISE_AUTOREFRESH = True
# Outbound webhooks may go to a receiver on this machine (http://127.0.0.1:…) while developing.
OUTBOUND_WEBHOOK_ALLOW_LOOPBACK = True
