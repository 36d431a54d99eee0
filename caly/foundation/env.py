"""Every environment variable Caly reads, declared once.

Settings modules read configuration only through `read()`. Production start-up calls
`read(production=True)`, which collects *every* problem and raises one `EnvError`;
`exit_on_error()` turns that into a single readable message and a non-zero exit.

`.env.example` and the README's table are generated from VARIABLES (`make docs`); tests fail
when either disagrees with this module.
"""

from __future__ import annotations

import base64
import binascii
import ipaddress
import os
import re
import sys
import zoneinfo
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

import environ

EX_CONFIG = 78  # sysexits.h: configuration error


class EnvError(Exception):
    """One or more environment variables are missing or malformed."""

    def __init__(self, problems: list[tuple[str, str, str]]):
        self.problems = problems
        super().__init__(self.render())

    def render(self) -> str:
        lines = [f"Caly cannot start: {len(self.problems)} environment variable problem(s)."]
        for name, problem, example in self.problems:
            lines.append(f"  - {name}: {problem} (example: {name}={example})")
        lines.append("Set them in the environment (see .env.example and README.md) and start again.")
        return "\n".join(lines)


def _parse_str(raw: str) -> str:
    return raw


def _parse_int(raw: str) -> int:
    try:
        return int(raw.strip())
    except ValueError:
        raise ValueError("must be a whole number") from None


def _parse_bool(raw: str) -> bool:
    value = raw.strip().lower()
    if value in {"1", "true", "yes", "on"}:
        return True
    if value in {"0", "false", "no", "off", ""}:
        return False
    raise ValueError("must be true or false")


def _parse_list(raw: str) -> list[str]:
    return [item.strip() for item in raw.split(",") if item.strip()]


def _parse_rate(raw: str) -> str:
    if not re.fullmatch(r"[1-9][0-9]*/[0-9]*[smhd]", raw.strip()):
        raise ValueError("must look like 30/m (count per s, m, h or d)")
    return raw.strip()


def _parse_fernet_keys(raw: str) -> list[str]:
    """Comma-separated Fernet keys (32 url-safe base64 bytes each); the first encrypts, all decrypt."""
    keys = _parse_list(raw)
    for position, key in enumerate(keys, start=1):
        try:
            decoded = base64.urlsafe_b64decode(key.encode())
        except (binascii.Error, ValueError):
            decoded = b""
        if len(decoded) != 32:
            raise ValueError(f"key {position} is not a Fernet key (32 url-safe base64 bytes)")
    if not keys:
        raise ValueError("must list at least one key")
    return keys


def _parse_database_url(raw: str) -> dict[str, Any]:
    if not raw.startswith(("postgres://", "postgresql://", "sqlite://")):
        raise ValueError("must be a postgres:// or sqlite:// URL")
    try:
        config = environ.Env.db_url_config(raw)
    except Exception as exc:  # django-environ raises several types for bad URLs
        raise ValueError(f"is not a valid database URL ({exc})") from None
    if config["ENGINE"].endswith("postgresql") and not config.get("NAME"):
        raise ValueError("must name a database, as in postgres://user@host:5432/caly")
    return config


def _parse_redis_url(raw: str) -> str:
    if not raw.startswith(("redis://", "rediss://", "unix://")):
        raise ValueError("must be a redis://, rediss:// or unix:// URL")
    return raw


def _parse_email_url(raw: str) -> dict[str, Any]:
    try:
        return environ.Env.email_url_config(raw)
    except Exception as exc:
        raise ValueError(f"is not a valid email URL ({exc})") from None


def _parse_http_url(raw: str) -> str:
    if not raw.startswith(("http://", "https://")):
        raise ValueError("must start with http:// or https://")
    return raw.rstrip("/")


def _parse_networks(raw: str) -> list:
    """Comma-separated IP addresses or networks (10.0.0.0/8, 2001:db8::/32)."""
    networks = []
    for item in _parse_list(raw):
        try:
            networks.append(ipaddress.ip_network(item, strict=False))
        except ValueError:
            raise ValueError(f"{item!r} is not an IP address or network") from None
    return networks


def _parse_fraction(raw: str) -> float:
    try:
        value = float(raw.strip())
    except ValueError:
        raise ValueError("must be a number from 0 to 1") from None
    if not 0 <= value <= 1:
        raise ValueError("must be from 0 to 1")
    return value


def _parse_clock(raw: str) -> str:
    """A time of day as HH:MM (24-hour clock)."""
    match = re.fullmatch(r"([01][0-9]|2[0-3]):([0-5][0-9])", raw.strip())
    if not match:
        raise ValueError("must be a time of day as HH:MM, 00:00 to 23:59")
    return raw.strip()


def _parse_time_zone(raw: str) -> str:
    try:
        zoneinfo.ZoneInfo(raw.strip())
    except (zoneinfo.ZoneInfoNotFoundError, ValueError):
        raise ValueError("must be an IANA time zone name such as Asia/Kolkata") from None
    return raw.strip()


def _choice(*choices: str) -> Callable[[str], str]:
    def parse(raw: str) -> str:
        value = raw.strip().lower()
        if value not in choices:
            raise ValueError(f"must be one of {', '.join(choices)}")
        return value

    parse.type_name = "one of " + " / ".join(choices)
    return parse


def _positive(parse: Callable[[str], int]) -> Callable[[str], int]:
    def wrapped(raw: str) -> int:
        value = parse(raw)
        if value < 1:
            raise ValueError("must be 1 or more")
        return value

    wrapped.type_name = "int ≥ 1"
    return wrapped


def _int_between(low: int, high: int) -> Callable[[str], int]:
    def parse(raw: str) -> int:
        value = _parse_int(raw)
        if not low <= value <= high:
            raise ValueError(f"must be from {low} to {high}")
        return value

    parse.type_name = f"int {low}–{high}"
    return parse


@dataclass(frozen=True)
class Var:
    name: str
    parse: Callable[[str], Any]
    default: str | None
    required_in_production: bool
    description: str
    example: str
    secret: bool = False

    @property
    def type_name(self) -> str:
        return _TYPE_NAMES.get(self.parse) or getattr(self.parse, "type_name", "string")


_TYPE_NAMES = {
    _parse_str: "string",
    _parse_int: "int",
    _parse_bool: "bool",
    _parse_list: "list",
    _parse_database_url: "database URL",
    _parse_redis_url: "Redis URL",
    _parse_email_url: "email URL",
    _parse_http_url: "URL",
    _parse_rate: "rate",
    _parse_fernet_keys: "list of Fernet keys",
    _parse_clock: "HH:MM",
    _parse_networks: "list of IP networks",
    _parse_fraction: "number 0–1",
}
# What an empty value means for types where "nothing" is a real value; others become None.
_EMPTY = {_parse_str: "", _parse_list: [], _parse_networks: []}

# (name, parser, default, required in production, description, example)
VARIABLES: tuple[Var, ...] = (
    Var(
        "DJANGO_SETTINGS_MODULE",
        _parse_str,
        "caly.settings.local",
        False,
        "Settings module: caly.settings.local, caly.settings.test or caly.settings.production.",
        "caly.settings.production",
    ),
    Var(
        "SECRET_KEY",
        _parse_str,
        None,
        True,
        "Django's signing key: 50+ random characters, unique per environment.",
        "k3y-from-python-c-import-secrets-print-secrets-token-urlsafe-50",
        secret=True,
    ),
    Var(
        "ALLOWED_HOSTS",
        _parse_list,
        "127.0.0.1,localhost",
        True,
        "Comma-separated host names this site answers to.",
        "caly.example.com",
    ),
    Var(
        "CSRF_TRUSTED_ORIGINS",
        _parse_list,
        "",
        False,
        "Comma-separated origins trusted for unsafe requests (scheme included).",
        "https://caly.example.com",
    ),
    Var(
        "SITE_URL",
        _parse_http_url,
        "http://127.0.0.1:8000",
        True,
        "Public base URL, used in emails and in callback URLs given to providers.",
        "https://caly.example.com",
    ),
    Var(
        "DATABASE_URL",
        _parse_database_url,
        "sqlite:///db.sqlite3",
        True,
        "Database: postgres://… (PostgreSQL, psycopg 3) or sqlite:///path (embedded).",
        "postgres://caly:password@127.0.0.1:5432/caly",
    ),
    Var(
        "DATABASE_POOL_MAX_SIZE",
        _parse_int,
        "0",
        False,
        "0: persistent connections with health checks. N > 0: psycopg pool of N per process "
        "(PostgreSQL only; persistent connections are then off).",
        "8",
    ),
    Var(
        "DATABASE_CONN_MAX_AGE",
        _parse_int,
        "60",
        False,
        "Seconds a persistent connection is kept when the pool is off.",
        "60",
    ),
    Var(
        "REDIS_URL",
        _parse_redis_url,
        "",
        True,
        "Redis for the shared cache and rate limits. Empty: a per-process memory cache "
        "(fine for one local process only).",
        "redis://127.0.0.1:6379/0",
    ),
    Var(
        "STORAGE_BACKEND",
        _choice("local", "s3"),
        "local",
        True,
        "Where files live: local (MEDIA_ROOT) or s3 (Wasabi or any S3-compatible store).",
        "s3",
    ),
    Var(
        "MEDIA_ROOT",
        _parse_str,
        "media",
        False,
        "Folder for local file storage, relative to the project or absolute.",
        "/var/lib/caly/media",
    ),
    Var(
        "STATIC_ROOT",
        _parse_str,
        "staticfiles",
        False,
        "Folder `collectstatic` fills and whitenoise serves from.",
        "/app/staticfiles",
    ),
    Var(
        "S3_ENDPOINT_URL",
        _parse_http_url,
        "",
        False,
        "S3 endpoint (required when STORAGE_BACKEND=s3).",
        "https://s3.ap-southeast-1.wasabisys.com",
    ),
    Var("S3_REGION_NAME", _parse_str, "", False, "S3 region (required when STORAGE_BACKEND=s3).", "ap-southeast-1"),
    Var(
        "S3_BUCKET_NAME",
        _parse_str,
        "",
        False,
        "Private bucket for recordings (required when STORAGE_BACKEND=s3); backups have their own, BACKUP_S3_BUCKET_NAME.",
        "caly-recordings",
    ),
    Var(
        "S3_ACCESS_KEY_ID",
        _parse_str,
        "",
        False,
        "S3 access key (required when STORAGE_BACKEND=s3).",
        "AKIAEXAMPLE",
        secret=True,
    ),
    Var(
        "S3_SECRET_ACCESS_KEY",
        _parse_str,
        "",
        False,
        "S3 secret key (required when STORAGE_BACKEND=s3).",
        "wJalrXUtnFEMIexample",
        secret=True,
    ),
    Var(
        "S3_PRESIGNED_URL_EXPIRY_SECONDS",
        _positive(_parse_int),
        "300",
        False,
        "Lifetime of presigned download URLs.",
        "300",
    ),
    Var(
        "RECORDING_MAX_MB",
        _int_between(1, 4096),
        "512",
        False,
        "Largest recording Caly stores; a bigger download is cut off and marked failed.",
        "512",
    ),
    Var(
        "FIELD_ENCRYPTION_KEYS",
        _parse_fernet_keys,
        "",
        True,
        "Keys that encrypt integration secrets at rest, comma-separated: the first encrypts, all decrypt. "
        "Make one with `python -c 'from cryptography.fernet import Fernet; print(Fernet.generate_key().decode())'`; "
        "to rotate, deploy the new key second, then first, run `manage.py rotate_encryption_keys`, then drop the old "
        "one (docs/operations.md, Rotating keys). "
        "Empty (local runs only): a key derived from SECRET_KEY.",
        "bmV3LWtleS0zMi1ieXRlcy1vZi11cmwtc2FmZS1iNjQ=,b2xkLWtleS0zMi1ieXRlcy1vZi11cmwtc2FmZS1iNjQ=",
        secret=True,
    ),
    Var(
        "SHOPIFY_API_VERSION",
        _parse_str,
        "2026-04",
        False,
        "Shopify Admin API version (YYYY-MM) used by new Shopify connections.",
        "2026-04",
    ),
    Var(
        "EXOTEL_RECORDING_HOSTS",
        _parse_list,
        ".exotel.com,.exotel.in,.amazonaws.com",
        False,
        "Hosts Caly fetches Exotel recordings from (https only; a leading dot allows subdomains). "
        "Recording URLs elsewhere are refused, so a forged callback cannot aim Caly's credentials at another host.",
        ".exotel.com,.amazonaws.com",
    ),
    Var(
        "EXOTEL_STUCK_CALL_MINUTES",
        _int_between(5, 1440),
        "30",
        False,
        "Minutes a call may stay queued, ringing or in progress before the sweep asks Exotel's Call Details API "
        "about it (every 5 minutes; after 3 look-ups without a final status it is marked failed, with the reason).",
        "30",
    ),
    Var(
        "WEBHOOK_RETENTION_DAYS",
        _int_between(1, 3650),
        "30",
        False,
        "Days received webhook events are kept before `prune_webhook_events` removes them.",
        "30",
    ),
    Var(
        "CUSTOMER_RETENTION_DAYS",
        _int_between(30, 3650),
        "730",
        False,
        "Days a Shopify customer with no order and no call is kept before `purge_inactive_customers` removes it "
        "(with its orders and phone numbers; the calls stay).",
        "730",
    ),
    Var("RATE_LIMIT_WEBHOOK", _parse_rate, "600/m", False, "Webhook deliveries per client and endpoint.", "600/m"),
    Var(
        "RATE_LIMIT_WEBHOOK_UNVERIFIED",
        _parse_rate,
        "30/m",
        False,
        "Shopify webhook deliveries failing verification (signature, shop, topic) per source address; "
        "genuine deliveries never count against it.",
        "30/m",
    ),
    Var(
        "BACKUP_KEEP_DAILY",
        _int_between(1, 3650),
        "30",
        False,
        "Database backups kept one per day: the newest of each of the last N days (`manage.py backup_db`).",
        "30",
    ),
    Var(
        "BACKUP_KEEP_MONTHLY",
        _int_between(0, 1200),
        "12",
        False,
        "Database backups kept one per month: the newest of each of the last N months (0: none).",
        "12",
    ),
    Var(
        "BACKUP_TIME_UTC",
        _parse_clock,
        "21:30",
        False,
        "When `manage.py run_scheduler` queues the daily database backup, in UTC (21:30 UTC is 03:00 in India).",
        "21:30",
    ),
    Var(
        "BACKUP_S3_BUCKET_NAME",
        _parse_str,
        "",
        False,
        "Private bucket for database backups, apart from the recordings so that one lifecycle rule, mistake or "
        "leaked key cannot lose both. Empty: backups go where the recordings go (S3_BUCKET_NAME with the "
        "recordings' keys, or MEDIA_ROOT), which production refuses with S3 unless BACKUP_SHARED_STORAGE_ALLOWED.",
        "caly-backups",
    ),
    Var(
        "BACKUP_S3_ACCESS_KEY_ID",
        _parse_str,
        "",
        False,
        "Access key for the backups' bucket, one that cannot touch the recordings. Empty: S3_ACCESS_KEY_ID.",
        "AKIABACKUPEXAMPLE",
        secret=True,
    ),
    Var(
        "BACKUP_S3_SECRET_ACCESS_KEY",
        _parse_str,
        "",
        False,
        "Secret key for the backups' bucket. Empty: S3_SECRET_ACCESS_KEY.",
        "wJalrXUtnFEMIbackupexample",
        secret=True,
    ),
    Var(
        "BACKUP_S3_ENDPOINT_URL",
        _parse_http_url,
        "",
        False,
        "S3 endpoint of the backups' bucket (another region or provider is fine). Empty: S3_ENDPOINT_URL.",
        "https://s3.eu-central-1.wasabisys.com",
    ),
    Var(
        "BACKUP_S3_REGION_NAME",
        _parse_str,
        "",
        False,
        "Region of the backups' bucket. Empty: S3_REGION_NAME.",
        "eu-central-1",
    ),
    Var(
        "BACKUP_SHARED_STORAGE_ALLOWED",
        _parse_bool,
        "false",
        False,
        "Production: allow backups in the recordings' bucket with the recordings' keys (start-up refuses it "
        "otherwise). Set it only while moving backups to a bucket of their own.",
        "false",
    ),
    Var(
        "STAFF_TIME_ZONE",
        _parse_time_zone,
        "Asia/Kolkata",
        False,
        "Time zone of the times in the admin (staff belong to no client; a client's pages use the client's own zone).",
        "Asia/Kolkata",
    ),
    Var(
        "EMAIL_URL",
        _parse_email_url,
        "consolemail://",
        True,
        "Outgoing mail: consolemail:// prints, smtp+tls://user:password@host:587 sends.",
        "smtp+tls://user:password@smtp.example.com:587",
        secret=True,
    ),
    Var(
        "DEFAULT_FROM_EMAIL",
        _parse_str,
        "Caly <no-reply@caly.local>",
        False,
        "Sender of outgoing mail.",
        "Caly <no-reply@caly.example.com>",
    ),
    Var(
        "TASKS_BACKEND",
        _choice("database", "immediate"),
        "database",
        False,
        "database: queue in the database, run by `manage.py db_worker`; "
        "immediate: run in the request (tests and quick demos only).",
        "database",
    ),
    Var(
        "LOG_LEVEL",
        _choice("debug", "info", "warning", "error"),
        "info",
        False,
        "Lowest level written to the log.",
        "info",
    ),
    Var(
        "LOG_FORMAT",
        _choice("text", "json"),
        "",
        False,
        "text: readable lines; json: one JSON object per line. Empty: json in production, text elsewhere.",
        "json",
    ),
    Var(
        "SLOW_REQUEST_MS",
        _positive(_parse_int),
        "500",
        False,
        "Requests slower than this are logged as warnings.",
        "500",
    ),
    Var("API_PAGE_SIZE", _positive(_parse_int), "50", False, "Default items per page of an API list.", "50"),
    Var("API_MAX_PAGE_SIZE", _positive(_parse_int), "1000", False, "Largest page an API client may ask for.", "1000"),
    Var(
        "CLIENT_ERRORS_RATE",
        _parse_rate,
        "30/m",
        False,
        "Browser error reports accepted per IP address (count/period: s, m, h, d).",
        "30/m",
    ),
    Var("JWT_ACCESS_TOKEN_MINUTES", _int_between(1, 15), "10", False, "Lifetime of an API access token.", "10"),
    Var(
        "JWT_REFRESH_FAMILY_DAYS",
        _int_between(1, 90),
        "14",
        False,
        "Absolute lifetime of a sign-in (a refresh-token family); rotation never extends it.",
        "14",
    ),
    Var(
        "JWT_REFRESH_REUSE_GRACE_SECONDS",
        _int_between(0, 30),
        "5",
        False,
        "A refresh token replayed this soon after its own rotation (two tabs refreshing at once) is "
        "refused without revoking the sign-in; later replays revoke it.",
        "5",
    ),
    Var(
        "EMAIL_VERIFICATION_MAX_AGE_HOURS",
        _int_between(1, 720),
        "48",
        False,
        "How long an email verification link works.",
        "48",
    ),
    Var("PASSWORD_RESET_MAX_AGE_MINUTES", _int_between(5, 1440), "60", False, "How long a reset link works.", "60"),
    Var("INVITATION_MAX_AGE_DAYS", _int_between(1, 30), "7", False, "How long an invitation works.", "7"),
    Var(
        "RATE_LIMIT_LOGIN_ACCOUNT",
        _parse_rate,
        "5/15m",
        False,
        "Failed logins allowed per account per window.",
        "5/15m",
    ),
    Var("RATE_LIMIT_LOGIN_IP", _parse_rate, "20/15m", False, "Failed logins allowed per IP address.", "20/15m"),
    Var("RATE_LIMIT_REGISTER_IP", _parse_rate, "10/h", False, "Sign-ups allowed per IP address.", "10/h"),
    Var(
        "RATE_LIMIT_PASSWORD_RESET_IP",
        _parse_rate,
        "10/h",
        False,
        "Password reset and verification e-mails requested per IP address.",
        "10/h",
    ),
    Var("RATE_LIMIT_REFRESH_FAMILY", _parse_rate, "30/m", False, "Token refreshes per sign-in.", "30/m"),
    Var("RATE_LIMIT_INVITE_USER", _parse_rate, "30/h", False, "Invitations sent per user.", "30/h"),
    Var("RATE_LIMIT_EXPORT_USER", _parse_rate, "10/h", False, "CSV exports per user.", "10/h"),
    Var(
        "CALL_EXPORT_MAX_ROWS",
        _int_between(1, 10_000_000),
        "100000",
        False,
        "Rows one CSV export may hold (newest first).",
        "100000",
    ),
    Var(
        "CALL_EXPORT_STREAM_MAX_ROWS",
        _int_between(1, 10_000_000),
        "5000",
        False,
        "Calls exports up to this many rows stream at once; larger ones are written by the worker, with a "
        "progress page and a download link.",
        "5000",
    ),
    Var(
        "CALL_EXPORT_KEEP_HOURS",
        _int_between(1, 24 * 90),
        "24",
        False,
        "Hours a calls export written by the worker can be downloaded; then its file is deleted.",
        "24",
    ),
    Var("RATE_LIMIT_API_USER", _parse_rate, "1200/m", False, "Authenticated API requests per user.", "1200/m"),
    Var(
        "RATE_LIMIT_API_KEY",
        _parse_rate,
        "600/m",
        False,
        "API requests per API key (a key's requests do not count against its creator's per-user limit).",
        "600/m",
    ),
    Var(
        "API_KEY_HASH_SECRET",
        _parse_str,
        "",
        False,
        "The server secret API keys are hashed with (HMAC-SHA256), 50+ random characters. Changing it invalidates "
        "every API key. Empty: one derived from SECRET_KEY (then rotating SECRET_KEY invalidates the keys too).",
        "another-random-string-from-python-c-import-secrets-token-urlsafe-50",
        secret=True,
    ),
    Var(
        "STAFF_REQUIRE_2FA",
        _parse_bool,
        "false",
        False,
        "Every staff account must enrol an authenticator app (TOTP) and enter a code after its password "
        "before any admin page. Always on in production (caly/settings/production.py); off here keeps the "
        "local demo two commands. Staff who enrolled are asked for a code either way.",
        "true",
    ),
    Var(
        "TRUSTED_PROXY_COUNT",
        _parse_int,
        "0",
        False,
        "Proxies in front of Caly that append to X-Forwarded-For; rate limits take the client "
        "address that many entries from the right. 0: use REMOTE_ADDR.",
        "1",
    ),
    Var(
        "HEALTH_TOKEN",
        _parse_str,
        "",
        False,
        "Bearer token that opens /health/detailed to monitors (staff can always see it).",
        "a-long-random-token",
        secret=True,
    ),
    Var(
        "DRAIN_FILE",
        _parse_str,
        "",
        False,
        "While this file exists, /health/ready answers 503 (draining) so load balancers stop sending new "
        "requests: create it, wait for them to notice, then SIGTERM (docs/operations.md, Restarts and draining). "
        "One path per instance.",
        "/run/caly/web-1.drain",
    ),
    Var(
        "METRICS_TOKEN",
        _parse_str,
        "",
        False,
        "Bearer token Prometheus sends to scrape /metrics. With neither this nor METRICS_ALLOWED_IPS, "
        "/metrics answers 404 (except in local development).",
        "another-long-random-token",
        secret=True,
    ),
    Var(
        "METRICS_ALLOWED_IPS",
        _parse_networks,
        "",
        False,
        "Addresses or networks that may scrape /metrics without the token (the client address, "
        "as TRUSTED_PROXY_COUNT determines it).",
        "10.0.0.0/8,127.0.0.1",
    ),
    Var(
        "PROMETHEUS_MULTIPROC_DIR",
        _parse_str,
        "",
        False,
        "Folder where gunicorn workers (and a task worker on the same host) keep their metric files, so "
        "/metrics adds them up; gunicorn clears out stopped processes' files. Empty: gunicorn makes a temporary one.",
        "/run/caly/foundation/metrics",
    ),
    Var(
        "SENTRY_DSN",
        _parse_http_url,
        "",
        False,
        "Sentry project DSN: errors are reported there (personal data scrubbed). Empty: Sentry is off.",
        "https://publickey@o0.ingest.sentry.io/0",
        secret=True,
    ),
    Var(
        "SENTRY_ENVIRONMENT",
        _parse_str,
        "production",
        False,
        "Environment name Sentry files the errors under.",
        "staging",
    ),
    Var(
        "SENTRY_TRACES_SAMPLE_RATE",
        _parse_fraction,
        "0",
        False,
        "Share of requests Sentry also traces for performance (0 to 1).",
        "0.05",
    ),
    Var(
        "OTEL_EXPORTER_OTLP_ENDPOINT",
        _parse_http_url,
        "",
        False,
        "OpenTelemetry collector (OTLP over HTTP): requests, SQL and outbound HTTP are traced there. "
        "Empty: tracing is off.",
        "http://otel-collector:4318",
    ),
    Var("OTEL_SERVICE_NAME", _parse_str, "caly", False, "Service name on the traces.", "caly-web"),
    Var(
        "APP_VERSION",
        _parse_str,
        "dev",
        False,
        "Release shown by /health/detailed (for example the git commit).",
        "2026.11.25-abc1234",
    ),
    Var(
        "SECURE_SSL_REDIRECT",
        _parse_bool,
        "true",
        False,
        "Production: redirect HTTP to HTTPS (turn off only when the proxy already does).",
        "true",
    ),
    Var(
        "SECURE_PROXY_SSL_HEADER",
        _parse_bool,
        "true",
        False,
        "Production: trust X-Forwarded-Proto from the load balancer to detect HTTPS.",
        "true",
    ),
    Var(
        "SECURE_HSTS_SECONDS",
        _parse_int,
        "31536000",
        False,
        "Production: Strict-Transport-Security max-age (one year or more).",
        "31536000",
    ),
    Var("WEB_CONCURRENCY", _positive(_parse_int), "", False, "gunicorn worker processes. Empty: 2 × CPU cores.", "4"),
    Var("GUNICORN_THREADS", _positive(_parse_int), "4", False, "Threads per gunicorn worker.", "4"),
    Var(
        "GUNICORN_TIMEOUT",
        _positive(_parse_int),
        "30",
        False,
        "Seconds a request may run before its worker is restarted.",
        "30",
    ),
    Var(
        "GUNICORN_GRACEFUL_TIMEOUT",
        _positive(_parse_int),
        "30",
        False,
        "Seconds in-flight requests get to finish after SIGTERM.",
        "30",
    ),
    Var("BIND_ADDRESS", _parse_str, "0.0.0.0", False, "Address gunicorn listens on.", "0.0.0.0"),
    Var("PORT", _positive(_parse_int), "8000", False, "Port gunicorn listens on.", "8000"),
)

BY_NAME: dict[str, Var] = {var.name: var for var in VARIABLES}

_S3_REQUIRED = ("S3_ENDPOINT_URL", "S3_REGION_NAME", "S3_BUCKET_NAME", "S3_ACCESS_KEY_ID", "S3_SECRET_ACCESS_KEY")
_DEFAULT_SECRET_PREFIX = "insecure-"  # noqa: S105 - the prefix of the local development key


def read(environ_: Mapping[str, str] | None = None, *, production: bool = False) -> dict[str, Any]:
    """Parse every declared variable; raise EnvError listing all problems at once."""
    source = os.environ if environ_ is None else environ_
    values: dict[str, Any] = {}
    problems: list[tuple[str, str, str]] = []
    for var in VARIABLES:
        raw = source.get(var.name)
        if raw is None or raw == "":
            if production and var.required_in_production:
                problems.append((var.name, "is required in production but not set", var.example))
                values[var.name] = None
                continue
            raw = var.default
        if not raw:
            values[var.name] = _EMPTY.get(var.parse)
            continue
        try:
            values[var.name] = var.parse(raw)
        except ValueError as exc:
            problems.append((var.name, f"{exc}, got {_shown(var, raw)}", var.example))
            values[var.name] = None

    if production:
        problems.extend(_production_problems(values))
    if values.get("STORAGE_BACKEND") == "s3":
        for name in _S3_REQUIRED:
            if not values.get(name):
                problems.append((name, "is required when STORAGE_BACKEND=s3", BY_NAME[name].example))
    if values.get("BACKUP_S3_BUCKET_NAME"):
        for _field, name in _BACKUP_S3_FALLBACKS:
            if not values.get(f"BACKUP_{name}") and not values.get(name):
                problem = f"is required when BACKUP_S3_BUCKET_NAME is set (or set {name})"
                problems.append((f"BACKUP_{name}", problem, BY_NAME[f"BACKUP_{name}"].example))
    if bool(values.get("BACKUP_S3_ACCESS_KEY_ID")) != bool(values.get("BACKUP_S3_SECRET_ACCESS_KEY")):
        problems.append(
            ("BACKUP_S3_SECRET_ACCESS_KEY", "is set together with BACKUP_S3_ACCESS_KEY_ID (both or neither)", "…")
        )
    if production and backups_share_recordings(values) and not values.get("BACKUP_SHARED_STORAGE_ALLOWED"):
        problems.append(
            (
                "BACKUP_S3_BUCKET_NAME",
                "backups would share the recordings' bucket and keys, so one lifecycle rule, mistake or leaked key "
                "could lose both: give backups their own bucket (or their own keys, BACKUP_S3_ACCESS_KEY_ID and "
                "BACKUP_S3_SECRET_ACCESS_KEY), or set BACKUP_SHARED_STORAGE_ALLOWED=true to accept the risk",
                BY_NAME["BACKUP_S3_BUCKET_NAME"].example,
            )
        )
    page_size, max_page_size = values.get("API_PAGE_SIZE"), values.get("API_MAX_PAGE_SIZE")
    if page_size and max_page_size and page_size > max_page_size:
        problems.append(("API_PAGE_SIZE", "must not exceed API_MAX_PAGE_SIZE", "50"))
    if problems:
        raise EnvError(problems)
    return values


# The backups' S3 settings, each falling back to the recordings' variable when empty.
_BACKUP_S3_FALLBACKS = (
    ("endpoint_url", "S3_ENDPOINT_URL"),
    ("region_name", "S3_REGION_NAME"),
    ("access_key", "S3_ACCESS_KEY_ID"),
    ("secret_key", "S3_SECRET_ACCESS_KEY"),
)


def backup_s3(values: Mapping[str, Any]) -> dict[str, str] | None:
    """Where backups go in S3 (bucket, endpoint, region and keys), or None when they go to local storage."""
    bucket = values.get("BACKUP_S3_BUCKET_NAME") or ""
    if not bucket and values.get("STORAGE_BACKEND") != "s3":
        return None
    target = {"bucket_name": bucket or values.get("S3_BUCKET_NAME") or ""}
    for field, name in _BACKUP_S3_FALLBACKS:
        target[field] = values.get(f"BACKUP_{name}") or values.get(name) or ""
    return target


def backups_share_recordings(values: Mapping[str, Any]) -> bool:
    """Whether backups would sit in the recordings' S3 bucket under the recordings' own keys."""
    target = backup_s3(values)
    if target is None or values.get("STORAGE_BACKEND") != "s3":
        return False
    return (target["endpoint_url"], target["bucket_name"], target["access_key"]) == (
        values.get("S3_ENDPOINT_URL") or "",
        values.get("S3_BUCKET_NAME") or "",
        values.get("S3_ACCESS_KEY_ID") or "",
    )


def _production_problems(values: dict[str, Any]) -> list[tuple[str, str, str]]:
    problems = []
    secret = values.get("SECRET_KEY")
    if secret and (len(secret) < 50 or len(set(secret)) < 5 or secret.startswith(_DEFAULT_SECRET_PREFIX)):
        problems.append(
            ("SECRET_KEY", "must be 50+ random characters and not a development key", BY_NAME["SECRET_KEY"].example)
        )
    hosts = values.get("ALLOWED_HOSTS")
    if hosts is not None and ("*" in hosts or not hosts):
        problems.append(("ALLOWED_HOSTS", "must list the real host names, not *", "caly.example.com"))
    hsts = values.get("SECURE_HSTS_SECONDS")
    if hsts is not None and hsts < 31536000:
        problems.append(("SECURE_HSTS_SECONDS", "must be at least 31536000 (one year)", "31536000"))
    if values.get("TASKS_BACKEND") == "immediate":
        problems.append(("TASKS_BACKEND", "immediate runs tasks inside requests; use database", "database"))
    return problems


def _shown(var: Var, raw: str) -> str:
    if var.secret:
        return "a value that is hidden because it is secret"
    return repr(raw if len(raw) <= 60 else raw[:57] + "...")


def exit_on_error(*, production: bool) -> dict[str, Any]:
    """`read()` for process start-up: print one message and exit 78 on any problem."""
    try:
        return read(production=production)
    except EnvError as exc:
        sys.stderr.write(exc.render() + "\n")
        sys.stderr.flush()
        raise SystemExit(EX_CONFIG) from None


def load_dotenv(path: os.PathLike | str) -> None:
    """Read a local `.env` file if present; real environment variables win."""
    if os.path.isfile(path):
        environ.Env.read_env(str(path), overwrite=False)


def render_example() -> str:
    lines = [
        "# Caly environment. Generated by `make docs` from caly/foundation/env.py: edit that, not this file.",
        "# Local runs need none of these. Lines marked [production] must be set in production.",
        "",
    ]
    for var in VARIABLES:
        tag = " [production]" if var.required_in_production else ""
        lines.append(f"# {var.description}{tag}")
        lines.append(f"# {var.name}={var.example}")
        lines.append(f"{var.name}={var.default or ''}" if not var.secret else f"{var.name}=")
        lines.append("")
    return "\n".join(lines)


def render_markdown() -> str:
    rows = [
        "| variable | type | default | production | what it is for |",
        "|---|---|---|---|---|",
    ]
    for var in VARIABLES:
        default = f"`{var.default}`" if var.default else "—"
        required = "required" if var.required_in_production else ""
        rows.append(f"| `{var.name}` | {var.type_name} | {default} | {required} | {var.description} |")
    return "\n".join(rows)
