"""Settings shared by every environment. Values come from caly.foundation.env only."""

import base64
import hashlib
from datetime import timedelta
from pathlib import Path

from boto3.s3.transfer import TransferConfig
from botocore.config import Config as BotoConfig

from caly.foundation import env

BASE_DIR = Path(__file__).resolve().parent.parent.parent
env.load_dotenv(BASE_DIR / ".env")
ENV = env.exit_on_error(production=False)

SECRET_KEY = ENV["SECRET_KEY"] or "insecure-local-development-key-never-use-in-production"
DEBUG = False
ALLOWED_HOSTS = ENV["ALLOWED_HOSTS"]
CSRF_TRUSTED_ORIGINS = ENV["CSRF_TRUSTED_ORIGINS"]
SITE_URL = ENV["SITE_URL"]
APP_VERSION = ENV["APP_VERSION"]

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "rest_framework",
    "rest_framework_simplejwt",
    "drf_spectacular",
    "drf_spectacular_sidecar",
    "django_tasks",
    "django_tasks_db",
    "csp",
    "django_ratelimit",
    "django_otp",
    "django_otp.plugins.otp_totp",
    "django_otp.plugins.otp_static",
    "caly.foundation",
    "accounts",
    "recordings",
    "integrations",
    "caly",
]

MIDDLEWARE = [
    "caly.foundation.middleware.RequestIdMiddleware",
    "caly.foundation.middleware.AccessLogMiddleware",
    "caly.foundation.observability.ErrorReportTagsMiddleware",
    "django.middleware.security.SecurityMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",  # no slash is added under /api/: its catch-all answers 404
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django_otp.middleware.OTPMiddleware",
    "accounts.staff_auth.StaffTwoFactorMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "caly.foundation.middleware.StaffTimeZoneMiddleware",
    "caly.foundation.middleware.ContentSecurityPolicyMiddleware",
    "caly.foundation.middleware.PermissionsPolicyMiddleware",
]

ROOT_URLCONF = "caly.urls"
WSGI_APPLICATION = "caly.wsgi.application"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [BASE_DIR / "templates"],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
                "caly.foundation.context_processors.request_id",
            ],
        },
    },
]


def _database(config: dict) -> dict:
    database = dict(config)
    if database["ENGINE"] == "django.db.backends.sqlite3":
        name = Path(database["NAME"])
        if database["NAME"] != ":memory:" and not name.is_absolute():
            database["NAME"] = str(BASE_DIR / name)
        # WAL and a busy timeout let the web process and the task worker share the file.
        database["OPTIONS"] = {
            "transaction_mode": "IMMEDIATE",
            "init_command": "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL; PRAGMA busy_timeout=5000;",
        }
        return database
    database["OPTIONS"] = {"connect_timeout": 5}
    pool_size = ENV["DATABASE_POOL_MAX_SIZE"]
    if pool_size:
        # The pool replaces persistent connections; Django requires CONN_MAX_AGE=0 with it. Tuned for
        # outages (tests/test_faults_database.py): a request waits no longer for a connection than
        # for connect_timeout, and reconnection attempts, which back off exponentially, give up
        # after 10 s, so that one due long after the database is back cannot keep the pool empty
        # (the next request starts a fresh attempt at once).
        database["OPTIONS"]["pool"] = {"min_size": 1, "max_size": pool_size, "timeout": 5, "reconnect_timeout": 10}
        database["CONN_MAX_AGE"] = 0
    else:
        database["CONN_MAX_AGE"] = ENV["DATABASE_CONN_MAX_AGE"]
    # A connection that died with a restarted server is replaced before a request uses it (with
    # the pool: checked as it is handed out).
    database["CONN_HEALTH_CHECKS"] = True
    return database


DATABASES = {"default": _database(ENV["DATABASE_URL"])}
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"


def redis_caches(url: str, *, key_prefix: str = "caly") -> dict:
    """Two views of one Redis, on purpose.

    "default" is a cache: while Redis is unreachable every read misses and every write is dropped
    (IGNORE_EXCEPTIONS), so no page fails because Redis did. "ratelimit" holds the rate-limit
    counters and raises instead: caly.foundation.ratelimit then counts in the process until Redis answers again,
    so every limit holds through an outage.
    Short socket timeouts bound what a hung Redis adds to a request.
    """
    options = {"SOCKET_CONNECT_TIMEOUT": 2, "SOCKET_TIMEOUT": 2}
    redis = {"BACKEND": "django_redis.cache.RedisCache", "LOCATION": url, "KEY_PREFIX": key_prefix}
    return {
        "default": {**redis, "OPTIONS": {**options, "IGNORE_EXCEPTIONS": True}},
        "ratelimit": {**redis, "OPTIONS": options},
    }


if ENV["REDIS_URL"]:
    CACHES = redis_caches(ENV["REDIS_URL"])
else:
    # Both aliases share one in-process store (LocMemCache keys its store by LOCATION).
    CACHES = {
        "default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"},
        "ratelimit": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"},
    }
    # Rate limits need a cache shared by all processes; without Redis only one local
    # process runs, and production refuses to start without REDIS_URL.
    SILENCED_SYSTEM_CHECKS = ["django_ratelimit.E003", "django_ratelimit.W001"]
RATELIMIT_USE_CACHE = "ratelimit"

AUTH_USER_MODEL = "accounts.User"
AUTHENTICATION_BACKENDS = ["django.contrib.auth.backends.ModelBackend"]
PASSWORD_HASHERS = [
    "accounts.hashers.Argon2PasswordHasher",  # OWASP's Argon2id parameters (accounts/hashers.py)
    "django.contrib.auth.hashers.PBKDF2PasswordHasher",
]
AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]
LOGIN_URL = "accounts:login"
LOGIN_REDIRECT_URL = "home"
# Staff sign-in (accounts/staff_auth.py): django-otp's TOTP devices and recovery codes for the admin.
STAFF_REQUIRE_2FA = ENV["STAFF_REQUIRE_2FA"]
# Sensitive admin actions need a code entered within this many minutes.
STAFF_2FA_RECHECK_MINUTES = 15
STAFF_2FA_RECOVERY_CODES = 10
OTP_TOTP_ISSUER = "Caly"

SESSION_ENGINE = "django.contrib.sessions.backends.db"
SESSION_COOKIE_HTTPONLY = True
SESSION_COOKIE_SAMESITE = "Lax"
CSRF_COOKIE_HTTPONLY = True
CSRF_COOKIE_SAMESITE = "Lax"
CSRF_FAILURE_VIEW = "caly.foundation.error_views.csrf_failure"

LANGUAGE_CODE = "en-us"
TIME_ZONE = "UTC"
STAFF_TIME_ZONE = ENV["STAFF_TIME_ZONE"]
# seed_demo's passwords come from this random, owner-only file, made on its first run (git-ignored).
DEMO_SECRET_PATH = BASE_DIR / ".demo-secret"
# Day-month-year and a 24-hour clock wherever a date is shown without an explicit format (the admin).
FORMAT_MODULE_PATH = ["caly.foundation.formats"]
USE_I18N = True
USE_TZ = True

STATIC_URL = "static/"
STATIC_ROOT = Path(ENV["STATIC_ROOT"]) if Path(ENV["STATIC_ROOT"]).is_absolute() else BASE_DIR / ENV["STATIC_ROOT"]
STATICFILES_DIRS = [BASE_DIR / "static"]
MEDIA_URL = "media/"
MEDIA_ROOT = Path(ENV["MEDIA_ROOT"]) if Path(ENV["MEDIA_ROOT"]).is_absolute() else BASE_DIR / ENV["MEDIA_ROOT"]

# boto's defaults wait 60 s to connect and 60 s for each read, five times over: a hung S3 would hold
# a request or a task for minutes. With these a call gives up within 3 × (5 + 20) s, and the
# recording fetch retries later (tests/test_faults_storage.py).
S3_CLIENT_CONFIG = BotoConfig(
    s3={"addressing_style": "path"},
    signature_version="s3v4",
    connect_timeout=5,
    read_timeout=20,
    retries={"total_max_attempts": 3, "mode": "standard"},
)
if ENV["STORAGE_BACKEND"] == "s3":
    _default_storage = {
        "BACKEND": "storages.backends.s3.S3Storage",
        "OPTIONS": {
            "client_config": S3_CLIENT_CONFIG,
            "endpoint_url": ENV["S3_ENDPOINT_URL"],
            "region_name": ENV["S3_REGION_NAME"],
            "bucket_name": ENV["S3_BUCKET_NAME"],
            "access_key": ENV["S3_ACCESS_KEY_ID"],
            "secret_key": ENV["S3_SECRET_ACCESS_KEY"],
            "addressing_style": "path",
            "signature_version": "s3v4",
            "default_acl": None,
            "querystring_auth": True,
            "querystring_expire": ENV["S3_PRESIGNED_URL_EXPIRY_SECONDS"],
            "file_overwrite": True,
        },
    }
else:
    _default_storage = {
        "BACKEND": "django.core.files.storage.FileSystemStorage",
        # Storing a recording again replaces the object under its key (idempotent stores).
        "OPTIONS": {"location": str(MEDIA_ROOT), "allow_overwrite": True},
    }
# Database backups (caly/foundation/ops/backups.py) have a storage of their own: their own bucket and keys
# when BACKUP_S3_BUCKET_NAME is set, else the recordings' (production refuses to share S3 unless allowed).
_backup_s3 = env.backup_s3(ENV)
if _backup_s3 is None:
    _backup_storage = _default_storage
else:
    _backup_storage = {
        "BACKEND": "storages.backends.s3.S3Storage",
        "OPTIONS": {
            "client_config": S3_CLIENT_CONFIG,
            **_backup_s3,
            "addressing_style": "path",
            "signature_version": "s3v4",
            "default_acl": None,
            "file_overwrite": True,
        },
    }
STORAGES = {
    "default": _default_storage,
    "backups": _backup_storage,
    "staticfiles": {"BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"},
}
# S3 uploads go in parts of 5 MiB (S3's smallest) and boto3 reads up to 10 parts ahead. Two parts in
# memory and two in flight keep an upload near 20 MB however large the recording: a 200 MB fetch adds
# about 30 MiB to the worker's peak RSS, where 8 MB parts added 43-52 MiB (bench/fetch_memory.py).
AWS_S3_TRANSFER_CONFIG = TransferConfig(max_concurrency=2, multipart_chunksize=5 * 1024 * 1024)
AWS_S3_TRANSFER_CONFIG.max_in_memory_upload_chunks = 2  # s3transfer's setting; boto3's constructor lacks it
PRESIGNED_URL_EXPIRY_SECONDS = ENV["S3_PRESIGNED_URL_EXPIRY_SECONDS"]
RECORDING_MAX_BYTES = ENV["RECORDING_MAX_MB"] * 1024 * 1024

# Integrations. Secrets are encrypted with FIELD_ENCRYPTION_KEYS; local runs derive a key from
# SECRET_KEY (production refuses to start without real keys: caly/foundation/env.py).
FIELD_ENCRYPTION_KEYS = ENV["FIELD_ENCRYPTION_KEYS"] or [
    base64.urlsafe_b64encode(hashlib.sha256(f"field-encryption:{SECRET_KEY}".encode()).digest()).decode()
]
SHOPIFY_API_VERSION = ENV["SHOPIFY_API_VERSION"]
# Replaces `https://<shop domain>` in Admin API URLs. Tests point it at a fake Shopify on 127.0.0.1;
# it is deliberately not an environment variable, so no deployment can send tokens elsewhere.
SHOPIFY_API_BASE_URL_OVERRIDE = ""
EXOTEL_API_HOSTS = ["api.exotel.com", "api.in.exotel.com"]
EXOTEL_API_SCHEME = "https"
EXOTEL_RECORDING_HOSTS = ENV["EXOTEL_RECORDING_HOSTS"]
EXOTEL_RECORDING_SCHEMES = ["https"]
# Recordings are fetched from public addresses only (integrations/exotel/client.py). The test settings
# allow loopback for the fake Exotel on 127.0.0.1; not an environment variable, so no deployment can.
EXOTEL_RECORDING_ALLOW_LOOPBACK = False
# Outbound webhooks (integrations/outbound): a receiver is cut off after the timeout; failed deliveries
# are tried again after each delay in turn (with jitter), about three days in all; an endpoint failing for
# longer than the days below is disabled. Loopback over http is for local and test settings only.
OUTBOUND_WEBHOOK_TIMEOUT_SECONDS = 15.0
OUTBOUND_WEBHOOK_RETRY_SCHEDULE_SECONDS = [0, 5, 300, 1800, 7200, 18000, 36000, 50400, 72000, 86400]
OUTBOUND_WEBHOOK_DISABLE_AFTER_DAYS = 5
OUTBOUND_WEBHOOK_ALLOW_LOOPBACK = False
OUTBOUND_WEBHOOK_MAX_ENDPOINTS = 20
# Providers plug into recordings (which knows none of them) by dotted path, per `Call.provider`;
# `manage.py check` imports each (recordings/providers.py).
RECORDING_FETCHERS = {"exotel": "integrations.exotel.recordings.exotel_recording_open"}
CALL_PLACERS = {"exotel": "integrations.exotel.services.exotel_call_place"}
# The module that adds a call's customer and orders to its detail, list rows and filters (recordings/call_context.py).
CALL_CONTEXT = "integrations.shopify.call_context"
WEBHOOK_RETENTION_DAYS = ENV["WEBHOOK_RETENTION_DAYS"]
EXOTEL_STUCK_CALL_MINUTES = ENV["EXOTEL_STUCK_CALL_MINUTES"]
CUSTOMER_RETENTION_DAYS = ENV["CUSTOMER_RETENTION_DAYS"]
RATE_LIMIT_WEBHOOK = ENV["RATE_LIMIT_WEBHOOK"]
RATE_LIMIT_WEBHOOK_UNVERIFIED = ENV["RATE_LIMIT_WEBHOOK_UNVERIFIED"]
# Outbound HTTP to providers: connect, read (per chunk) timeouts in seconds.
INTEGRATION_HTTP_TIMEOUT = (5.0, 30.0)
# Tasks that talk to providers retry this many times, waiting base × 2^attempt seconds (capped).
TASK_MAX_ATTEMPTS = 6
TASK_RETRY_BASE_SECONDS = 30
TASK_RETRY_MAX_SECONDS = 3600
# Operations (caly/foundation/ops): backups kept and when the scheduler takes one; what dbdoctor calls a large table.
BACKUP_KEEP_DAILY = ENV["BACKUP_KEEP_DAILY"]
BACKUP_KEEP_MONTHLY = ENV["BACKUP_KEEP_MONTHLY"]
BACKUP_TIME_UTC = ENV["BACKUP_TIME_UTC"]
DBDOCTOR_LARGE_TABLE_ROWS = 10_000

_email = ENV["EMAIL_URL"]
EMAIL_BACKEND = _email["EMAIL_BACKEND"]
EMAIL_HOST = _email["EMAIL_HOST"] or "localhost"
EMAIL_PORT = _email["EMAIL_PORT"] or 25
EMAIL_HOST_USER = _email["EMAIL_HOST_USER"] or ""
EMAIL_HOST_PASSWORD = _email["EMAIL_HOST_PASSWORD"] or ""
EMAIL_USE_TLS = _email.get("EMAIL_USE_TLS", False)
EMAIL_USE_SSL = _email.get("EMAIL_USE_SSL", False)
EMAIL_TIMEOUT = 10
DEFAULT_FROM_EMAIL = ENV["DEFAULT_FROM_EMAIL"]
SERVER_EMAIL = DEFAULT_FROM_EMAIL

TASKS = {
    "default": {
        "BACKEND": (
            "django_tasks_db.DatabaseBackend"
            if ENV["TASKS_BACKEND"] == "database"
            else "django_tasks.backends.immediate.ImmediateBackend"
        ),
        "QUEUES": ["default"],
    }
}

# Uploads: bodies above this are refused with 413 before they are parsed.
DATA_UPLOAD_MAX_MEMORY_SIZE = 2_621_440
DATA_UPLOAD_MAX_NUMBER_FIELDS = 1000

REST_FRAMEWORK = {
    "DEFAULT_RENDERER_CLASSES": ["caly.foundation.api.renderers.EnvelopeJSONRenderer"],
    # JSON only: form and multipart bodies read a blank optional field as absent, so a request the
    # schema calls invalid would quietly succeed. Views that must take forms (Exotel's callbacks) say so.
    "DEFAULT_PARSER_CLASSES": ["caly.foundation.api.parsers.JSONParser"],
    "DEFAULT_METADATA_CLASS": "caly.foundation.api.metadata.RouteMetadata",
    "TEST_REQUEST_DEFAULT_FORMAT": "json",
    "DEFAULT_AUTHENTICATION_CLASSES": [
        "accounts.authentication.ApiKeyAuthentication",  # `Bearer caly_…`; anything else goes on to JWT
        "accounts.authentication.JWTAuthentication",
        "rest_framework.authentication.SessionAuthentication",
    ],
    "DEFAULT_PERMISSION_CLASSES": ["rest_framework.permissions.IsAuthenticated"],
    "DEFAULT_PAGINATION_CLASS": "caly.foundation.api.pagination.PageNumberPagination",
    "DEFAULT_SCHEMA_CLASS": "caly.foundation.api.schema.EnvelopeAutoSchema",
    "EXCEPTION_HANDLER": "caly.foundation.api.exceptions.exception_handler",
    "UNAUTHENTICATED_USER": "django.contrib.auth.models.AnonymousUser",
}
API_PAGE_SIZE = ENV["API_PAGE_SIZE"]
API_MAX_PAGE_SIZE = ENV["API_MAX_PAGE_SIZE"]
CLIENT_ERRORS_RATE = ENV["CLIENT_ERRORS_RATE"]
TRUSTED_PROXY_COUNT = ENV["TRUSTED_PROXY_COUNT"]
RATELIMIT_IP_META_KEY = "caly.foundation.http.client_ip"
RATE_LIMITS = {
    "login_account": ENV["RATE_LIMIT_LOGIN_ACCOUNT"],
    "login_ip": ENV["RATE_LIMIT_LOGIN_IP"],
    "register_ip": ENV["RATE_LIMIT_REGISTER_IP"],
    "password_reset_ip": ENV["RATE_LIMIT_PASSWORD_RESET_IP"],
    "refresh_family": ENV["RATE_LIMIT_REFRESH_FAMILY"],
    "api_user": ENV["RATE_LIMIT_API_USER"],
    "api_key": ENV["RATE_LIMIT_API_KEY"],
    "export_user": ENV["RATE_LIMIT_EXPORT_USER"],
    "invite_user": ENV["RATE_LIMIT_INVITE_USER"],
}
# After Redis failed, rate limits count in each process (caly/foundation/ratelimit.py) and ask Redis again
# this much later.
RATE_LIMIT_SHARED_RETRY_SECONDS = 5
CALL_EXPORT_MAX_ROWS = ENV["CALL_EXPORT_MAX_ROWS"]
CALL_EXPORT_STREAM_MAX_ROWS = ENV["CALL_EXPORT_STREAM_MAX_ROWS"]
CALL_EXPORT_KEEP_HOURS = ENV["CALL_EXPORT_KEEP_HOURS"]

# JWT for API clients: simplejwt signs and verifies; accounts.jwt keeps the refresh families.
SIMPLE_JWT = {
    "ACCESS_TOKEN_LIFETIME": timedelta(minutes=ENV["JWT_ACCESS_TOKEN_MINUTES"]),
    "REFRESH_TOKEN_LIFETIME": timedelta(days=ENV["JWT_REFRESH_FAMILY_DAYS"]),
    "ROTATE_REFRESH_TOKENS": False,  # rotation is ours (accounts.jwt), with reuse detection
    "UPDATE_LAST_LOGIN": False,
    "ALGORITHM": "HS256",
    "ISSUER": "caly",
    "AUDIENCE": "caly-api",
    "AUTH_HEADER_TYPES": ("Bearer",),
    "USER_ID_FIELD": "id",
    "USER_ID_CLAIM": "user_id",
    "TOKEN_TYPE_CLAIM": "token_type",
    "LEEWAY": 0,
}
JWT_REFRESH_REUSE_GRACE_SECONDS = ENV["JWT_REFRESH_REUSE_GRACE_SECONDS"]
# API keys (accounts/api_keys.py) are stored as HMACs under this secret.
API_KEY_HASH_SECRET = ENV["API_KEY_HASH_SECRET"] or hashlib.sha256(f"api-key-hash:{SECRET_KEY}".encode()).hexdigest()
EMAIL_VERIFICATION_MAX_AGE = timedelta(hours=ENV["EMAIL_VERIFICATION_MAX_AGE_HOURS"])
PASSWORD_RESET_MAX_AGE = timedelta(minutes=ENV["PASSWORD_RESET_MAX_AGE_MINUTES"])
PASSWORD_RESET_TIMEOUT = int(PASSWORD_RESET_MAX_AGE.total_seconds())
INVITATION_MAX_AGE = timedelta(days=ENV["INVITATION_MAX_AGE_DAYS"])
CLIENT_ERRORS_MAX_BYTES = 16_384

SPECTACULAR_SETTINGS = {
    "TITLE": "Caly API",
    "DESCRIPTION": (
        "Calls, recordings and integrations for e-commerce companies on Exotel and Shopify. "
        "Every response is wrapped in the envelope `{success, data | error, meta}`; "
        "errors carry a stable `error.code`. The full introduction is caly/developers.py's (describe_api)."
    ),
    "VERSION": "1.0.0",
    "SERVE_INCLUDE_SCHEMA": False,
    "SERVE_PERMISSIONS": ["rest_framework.permissions.AllowAny"],
    "SERVE_AUTHENTICATION": [],
    "SCHEMA_PATH_PREFIX": r"/api/v[0-9]+",
    "COMPONENT_SPLIT_REQUEST": True,
    "SWAGGER_UI_DIST": "SIDECAR",
    "SWAGGER_UI_FAVICON_HREF": "SIDECAR",
    "REDOC_DIST": "SIDECAR",
    # Declared even before the first authenticated route exists, so clients see how to log in.
    "APPEND_COMPONENTS": {"securitySchemes": {"jwtAuth": {"type": "http", "scheme": "bearer", "bearerFormat": "JWT"}}},
    "ENUM_NAME_OVERRIDES": {
        "CallStatusEnum": "recordings.models.CallStatus",
        "RecordingStatusEnum": "recordings.models.RecordingStatus",
        "RoleEnum": "accounts.roles.Role",
        "ApiKeyStatusEnum": "accounts.models.ApiKeyStatus",
        "ApiKeyScopeEnum": "accounts.roles.ApiKeyScope",
        "ProductStatusEnum": "integrations.models.ProductStatus",
        "ConnectionStateEnum": "integrations.models.ConnectionState",
    },
    "POSTPROCESSING_HOOKS": [
        "drf_spectacular.hooks.postprocess_schema_enums",
        "caly.foundation.api.schema.strip_envelope_markers",
        "caly.developers.describe_api",  # authentication, quick start and the error code table
    ],
}

# Security headers shared by every environment; production adds HSTS, HTTPS and secure cookies.
X_FRAME_OPTIONS = "DENY"
SECURE_CONTENT_TYPE_NOSNIFF = True
SECURE_REFERRER_POLICY = "strict-origin-when-cross-origin"
SECURE_CROSS_ORIGIN_OPENER_POLICY = "same-origin"
PERMISSIONS_POLICY = (
    "accelerometer=(), autoplay=(self), camera=(), display-capture=(), geolocation=(), gyroscope=(), "
    "magnetometer=(), microphone=(), midi=(), payment=(), usb=(), interest-cohort=()"
)
CONTENT_SECURITY_POLICY = {
    "DIRECTIVES": {
        "default-src": ["'self'"],
        "script-src": ["'self'"],
        "style-src": ["'self'"],
        "img-src": ["'self'", "data:"],
        "font-src": ["'self'"],
        "connect-src": ["'self'"],
        "media-src": ["'self'", "blob:"],
        "object-src": ["'none'"],
        "base-uri": ["'none'"],
        "form-action": ["'self'"],
        "frame-ancestors": ["'none'"],
    }
}
if ENV["STORAGE_BACKEND"] == "s3":
    # The audio player follows the download redirect to a presigned URL on the S3 endpoint.
    _s3_origin = "/".join(ENV["S3_ENDPOINT_URL"].split("/")[:3])
    CONTENT_SECURITY_POLICY["DIRECTIVES"]["media-src"].append(_s3_origin)
# JSON answers load nothing: the strictest policy (Mozilla Observatory's A+ for an API).
API_CONTENT_SECURITY_POLICY = {"default-src": ["'none'"], "frame-ancestors": ["'none'"]}

SLOW_REQUEST_MS = ENV["SLOW_REQUEST_MS"]
HEALTH_TOKEN = ENV["HEALTH_TOKEN"]
DRAIN_FILE = ENV["DRAIN_FILE"]
# /metrics (caly/foundation/metrics.py), error reports and traces (caly/foundation/observability.py).
METRICS_TOKEN = ENV["METRICS_TOKEN"]
METRICS_ALLOWED_IPS = ENV["METRICS_ALLOWED_IPS"]
SENTRY_DSN = ENV["SENTRY_DSN"] or ""
SENTRY_ENVIRONMENT = ENV["SENTRY_ENVIRONMENT"]
SENTRY_TRACES_SAMPLE_RATE = ENV["SENTRY_TRACES_SAMPLE_RATE"]
OTEL_EXPORTER_OTLP_ENDPOINT = ENV["OTEL_EXPORTER_OTLP_ENDPOINT"] or ""
OTEL_SERVICE_NAME = ENV["OTEL_SERVICE_NAME"]
LOG_FORMAT = ENV["LOG_FORMAT"] or "text"
LOG_LEVEL = ENV["LOG_LEVEL"].upper()

from caly.foundation.logging import build_logging_config  # noqa: E402

LOGGING = build_logging_config(fmt=LOG_FORMAT, level=LOG_LEVEL)
