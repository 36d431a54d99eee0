"""Error reporting (Sentry) and tracing (OpenTelemetry), each switched on by its environment variable.

`init()` runs once per process from CalyConfig.ready(), after gunicorn forked the worker (the
OpenTelemetry exporter's thread must start in the process that uses it). With SENTRY_DSN and
OTEL_EXPORTER_OTLP_ENDPOINT both unset nothing here imports sentry_sdk or opentelemetry, and the
tagging middleware removes itself from the chain: no cost at all.

What leaves the process is scrubbed first: no cookies, Authorization headers, request bodies or local
variables; secrets (caly.foundation.logging's redaction) and E.164 phone numbers removed from every string;
Exotel's callback token cut out of URLs. Events carry the request id and the client's public id,
so a report can be matched with the logs and the customer without any personal data.
"""

from __future__ import annotations

import logging
import re
import weakref
from typing import Any
from urllib.parse import urlsplit, urlunsplit

from django.conf import settings
from django.core.exceptions import MiddlewareNotUsed
from django_tasks import TaskResultStatus
from django_tasks.signals import task_finished, task_started

from caly.foundation import context
from caly.foundation.adapters import opentelemetry as opentelemetry_adapter
from caly.foundation.logging import REDACTED, redact_text, redact_value
from caly.foundation.middleware import authenticated_user

logger = logging.getLogger("caly.observability")

PHONE_REDACTED = "[PHONE]"
_E164 = re.compile(r"(?<![\w+])\+[1-9]\d{6,14}\b")
_SESSION_COOKIE = re.compile(r"((?:__Host-)?sessionid=)[^;\s\"',&]+", re.IGNORECASE)
# Parts of a Sentry event that are dropped outright rather than scrubbed.
_DROPPED_REQUEST_KEYS = ("cookies", "data", "env")

_initialised = False
sentry_enabled = False
tracing_enabled = False


def init() -> None:
    """Start Sentry and/or OpenTelemetry according to the settings; later calls do nothing."""
    global _initialised
    if _initialised:
        return
    _initialised = True
    if settings.SENTRY_DSN:
        _init_sentry()
    if settings.OTEL_EXPORTER_OTLP_ENDPOINT:
        _init_tracing()


def scrub_text(text: str) -> str:
    text = _SESSION_COOKIE.sub(lambda m: f"{m[1]}{REDACTED}", redact_text(text))
    return _E164.sub(PHONE_REDACTED, text)


def _scrub(value: Any, key: str = "") -> Any:
    if key and redact_value(key, None) == REDACTED:  # a secret by its name (Authorization, password…)
        return REDACTED
    if isinstance(value, dict):
        return {k: _scrub(v, str(k)) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_scrub(v, key) for v in value]
    if isinstance(value, str):
        return scrub_text(context.loggable_path(value))
    return value


def scrub_event(event: dict, hint: dict | None = None) -> dict:
    """Sentry's before_send: drop what may hold personal data, scrub secrets and phone numbers from the rest."""
    request = event.get("request")
    if isinstance(request, dict):
        for name in _DROPPED_REQUEST_KEYS:
            request.pop(name, None)
        if request.get("url"):
            request["url"] = context.loggable_path(request["url"])
    event.pop("user", None)
    tags = event.get("tags")
    if not isinstance(tags, dict):
        tags = event["tags"] = dict(tags or {})
    request_id = context.current_request_id()
    if request_id and "request_id" not in tags:
        tags["request_id"] = request_id
    return _scrub(event)


def _client_public_id(user) -> str | None:
    """The user's client public id, without a query when the client is already loaded (API views load it)."""
    client_id = getattr(user, "client_id", None)
    if client_id is None:
        return None
    relation = user._meta.get_field("client")
    if relation.is_cached(user):
        return str(user.client.public_id)
    clients = relation.related_model._default_manager
    try:
        public_id = clients.filter(pk=client_id).values_list("public_id", flat=True).first()
    except Exception:  # the report is about a failure; the database may be part of it
        return None
    return str(public_id) if public_id else None


class ErrorReportTagsMiddleware:
    """Tags the request's Sentry events with its request id and, when known at report time, the client.

    The client is read when an event is sent, not when the request starts: API users are
    authenticated inside the view. Removes itself (MiddlewareNotUsed) when Sentry is off.
    """

    def __init__(self, get_response):
        if not sentry_enabled:
            raise MiddlewareNotUsed
        self.get_response = get_response

    def __call__(self, request):
        import sentry_sdk  # only once Sentry is on: unused, it is never imported (module docstring)

        scope = sentry_sdk.get_isolation_scope()
        scope.set_tag("request_id", getattr(request, "request_id", None) or context.current_request_id())
        scope.add_event_processor(_client_tagger(weakref.ref(request)))
        return self.get_response(request)


def _client_tagger(request_ref):
    def tag_client(event, hint):
        request = request_ref()
        user = authenticated_user(request) if request is not None else None
        public_id = _client_public_id(user) if user is not None else None
        if public_id:
            event.setdefault("tags", {})["client_id"] = public_id
        return event

    return tag_client


def _init_sentry() -> None:
    global sentry_enabled
    import sentry_sdk  # here, not at the top: without SENTRY_DSN it is never imported
    from sentry_sdk.integrations.django import DjangoIntegration

    sentry_sdk.init(
        dsn=settings.SENTRY_DSN,
        environment=settings.SENTRY_ENVIRONMENT,
        release=settings.APP_VERSION,
        integrations=[DjangoIntegration()],
        send_default_pii=False,
        # Webhook bodies and call records are full of customers' phone numbers; locals can hold tokens.
        max_request_body_size="never",
        include_local_variables=False,
        traces_sample_rate=settings.SENTRY_TRACES_SAMPLE_RATE,
        before_send=scrub_event,
        before_send_transaction=scrub_event,
    )
    sentry_enabled = True
    logger.info("Sentry error reporting on (environment %s)", settings.SENTRY_ENVIRONMENT)


def _url_without_secrets(url: str) -> str:
    """A URL for a span: no user:password, no query string (tokens and signatures travel there)."""
    parts = urlsplit(str(url))
    netloc = parts.hostname or ""
    if parts.port:
        netloc = f"{netloc}:{parts.port}"
    return urlunsplit((parts.scheme, netloc, context.loggable_path(parts.path), "", ""))


_SERVER_URL_ATTRIBUTES = ("http.target", "http.url", "url.path", "url.full")


def _django_response_hook(span, request, response) -> None:
    """Django spans: the request id for matching with logs, and paths without the secrets they may carry."""
    if not span.is_recording():
        return
    request_id = getattr(request, "request_id", None)
    if request_id:
        span.set_attribute("caly.request_id", request_id)
    attributes = getattr(span, "attributes", None) or {}
    for name in _SERVER_URL_ATTRIBUTES:
        value = attributes.get(name)
        if isinstance(value, str):
            span.set_attribute(name, scrub_text(context.loggable_path(value.split("?", 1)[0])))
    if "url.query" in attributes:
        span.set_attribute("url.query", "")


def _httpx_request_hook(span, request) -> None:
    if not span.is_recording():
        return
    attributes = getattr(span, "attributes", None) or {}
    for name in ("http.url", "url.full"):
        if name in attributes:
            span.set_attribute(name, _url_without_secrets(request.url))


def _traces_start_at_requests_and_tasks(delegate):
    """A sampler that drops client spans (SQL, outbound HTTP) with no request or task around them.

    The task worker polls the queue every second; each poll would otherwise be a trace of its own.
    Everything else is left to `delegate` (OTEL_TRACES_SAMPLER, by default: always, following the parent).
    """
    from opentelemetry import trace  # only with tracing on, as everything of OpenTelemetry here
    from opentelemetry.sdk.trace.sampling import Decision, Sampler, SamplingResult

    class RequestsAndTasks(Sampler):
        def should_sample(self, parent_context, trace_id, name, kind=None, attributes=None, links=None, **kwargs):
            is_root = not trace.get_current_span(parent_context).get_span_context().is_valid
            if is_root and kind == trace.SpanKind.CLIENT:
                return SamplingResult(Decision.DROP)
            return delegate.should_sample(parent_context, trace_id, name, kind, attributes, links, **kwargs)

        def get_description(self) -> str:
            return f"RequestsAndTasks({delegate.get_description()})"

    return RequestsAndTasks()


def _trace_tasks(tracer) -> None:
    """One span per task run (django-tasks signals), so a task's SQL and HTTP calls form one trace."""
    from opentelemetry import context as otel_context  # only with tracing on
    from opentelemetry import trace
    from opentelemetry.trace import Status, StatusCode

    running = {}

    def started(sender, task_result, **kwargs):
        span = tracer.start_span(
            f"task {task_result.task.name}",
            kind=trace.SpanKind.CONSUMER,
            attributes={"caly.task": task_result.task.module_path, "caly.task_id": str(task_result.id)},
        )
        running[task_result.id] = (span, otel_context.attach(trace.set_span_in_context(span)))

    def finished(sender, task_result, **kwargs):
        span, token = running.pop(task_result.id, (None, None))
        if span is None:
            return
        if task_result.status == TaskResultStatus.FAILED:
            span.set_status(Status(StatusCode.ERROR))
        span.end()
        otel_context.detach(token)

    task_started.connect(started, weak=False, dispatch_uid="caly.foundation.observability.task_started")
    task_finished.connect(finished, weak=False, dispatch_uid="caly.foundation.observability.task_finished")


def _init_tracing() -> None:
    global tracing_enabled
    from opentelemetry import trace  # here, not at the top: without OTEL_EXPORTER_OTLP_ENDPOINT never imported
    from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter
    from opentelemetry.instrumentation.django import DjangoInstrumentor
    from opentelemetry.instrumentation.httpx import HTTPXClientInstrumentor
    from opentelemetry.instrumentation.psycopg import PsycopgInstrumentor
    from opentelemetry.sdk.resources import SERVICE_NAME, SERVICE_VERSION, Resource
    from opentelemetry.sdk.trace import TracerProvider
    from opentelemetry.sdk.trace.export import BatchSpanProcessor

    resource = Resource.create({SERVICE_NAME: settings.OTEL_SERVICE_NAME, SERVICE_VERSION: settings.APP_VERSION})
    sampler = _traces_start_at_requests_and_tasks(opentelemetry_adapter.sampler_from_environment())
    provider = TracerProvider(resource=resource, sampler=sampler)
    exporter = OTLPSpanExporter(endpoint=f"{settings.OTEL_EXPORTER_OTLP_ENDPOINT}/v1/traces")
    provider.add_span_processor(BatchSpanProcessor(exporter))
    trace.set_tracer_provider(provider)
    # Before the WSGI handler builds its middleware chain: the instrumentor adds its own middleware.
    DjangoInstrumentor().instrument(
        tracer_provider=provider, excluded_urls="health/live,metrics", response_hook=_django_response_hook
    )
    PsycopgInstrumentor().instrument(tracer_provider=provider)
    HTTPXClientInstrumentor().instrument(tracer_provider=provider, request_hook=_httpx_request_hook)
    _trace_tasks(provider.get_tracer("caly.tasks"))
    tracing_enabled = True
    logger.info("OpenTelemetry tracing on (service %s)", settings.OTEL_SERVICE_NAME)
