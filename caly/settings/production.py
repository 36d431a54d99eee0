"""Production: every required variable is checked before anything else loads."""

from caly.foundation import env

ENV = env.exit_on_error(production=True)

from .base import *  # noqa: E402, F403

DEBUG = False
LOG_FORMAT = ENV["LOG_FORMAT"] or "json"
LOGGING = build_logging_config(fmt=LOG_FORMAT, level=LOG_LEVEL)  # noqa: F405

STORAGES = {
    **STORAGES,  # noqa: F405
    "staticfiles": {"BACKEND": "whitenoise.storage.CompressedManifestStaticFilesStorage"},
}

SECURE_SSL_REDIRECT = ENV["SECURE_SSL_REDIRECT"]
# Health probes and Prometheus scrapes come from inside the network over plain HTTP.
SECURE_REDIRECT_EXEMPT = [r"^health/", r"^metrics$"]
if ENV["SECURE_PROXY_SSL_HEADER"]:
    SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
SECURE_HSTS_SECONDS = ENV["SECURE_HSTS_SECONDS"]
SECURE_HSTS_INCLUDE_SUBDOMAINS = True
SECURE_HSTS_PRELOAD = True
SESSION_COOKIE_SECURE = True
CSRF_COOKIE_SECURE = True
SESSION_COOKIE_NAME = "__Host-sessionid"
CSRF_COOKIE_NAME = "__Host-csrftoken"
# Staff sign in to the admin with a password and an authenticator code, whatever the environment says.
STAFF_REQUIRE_2FA = True
# Recordings come from public addresses only, whatever a stray override says (tests allow loopback).
EXOTEL_RECORDING_ALLOW_LOOPBACK = False
OUTBOUND_WEBHOOK_ALLOW_LOOPBACK = False
