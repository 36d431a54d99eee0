"""Sentry and OpenTelemetry: off (nothing imported) without their variables; on, what reaches the
collector — fake ones on 127.0.0.1 — carries the request id and the client, never secrets or phone numbers.

Each switched-on case runs in a fresh process (`python probe.py`), as gunicorn workers do: both
libraries patch Django and httpx for the life of the process, which the test process must not keep.
"""

import gzip
import json
import subprocess
import textwrap
import uuid
import zlib

import pytest
from django.db import connection
from django.test import RequestFactory
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest
from opentelemetry.proto.trace.v1.trace_pb2 import Span

from caly.foundation import observability
from tests.serving import PYTHON, ROOT, TIMEOUT, clean_env

PROBE = textwrap.dedent(
    """
    import io, json, os, sys, types, wsgiref.util

    import django

    django.setup()
    import httpx
    from django.conf import settings
    from django.core.wsgi import get_wsgi_application
    from django.urls import include, path
    from django_tasks import task

    from accounts.models import Client, User

    CLIENT_PUBLIC_ID = "6f1c2b8e-0000-4000-8000-00000000c11e"


    def boom(request):
        # What authentication leaves on the request: a user whose client is loaded.
        request.user = User(email="agent@acme.example", client=Client(pk=7, public_id=CLIENT_PUBLIC_ID))
        raise RuntimeError("Call to +919876543210 failed: password=hunter2")


    def outbound(request):
        httpx.get(request.GET["url"], timeout=5)
        return django.http.HttpResponse("sent")


    @task()
    def fetch(url):
        httpx.get(url, timeout=5)


    urls = types.ModuleType("probe_urls")
    urls.urlpatterns = [
        path("boom/", boom, name="boom"),
        path("outbound/", outbound, name="outbound"),
        path("", include("caly.urls")),
    ]
    sys.modules["probe_urls"] = urls
    settings.ROOT_URLCONF = "probe_urls"
    application = get_wsgi_application()


    def call(spec):
        environ = {"REQUEST_METHOD": "GET", "PATH_INFO": spec["path"], "QUERY_STRING": spec.get("query", "")}
        wsgiref.util.setup_testing_defaults(environ)
        environ["wsgi.input"] = io.BytesIO()
        for name, value in spec.get("headers", {}).items():
            environ["HTTP_" + name.upper().replace("-", "_")] = value
        started = []
        body = b"".join(application(environ, lambda status, headers, exc_info=None: started.append(status)))
        return {"status": int(started[0].split()[0]), "body": body.decode(errors="replace")[:200]}


    results = [call(spec) for spec in json.load(sys.stdin)]
    if os.environ.get("PROBE_OUTBOUND_URL"):
        httpx.get(os.environ["PROBE_OUTBOUND_URL"], timeout=5)  # in no request and no task
        fetch.enqueue(os.environ["PROBE_OUTBOUND_URL"])  # the immediate backend runs it here
    from caly.foundation import observability

    if observability.sentry_enabled:
        import sentry_sdk

        sentry_sdk.flush(timeout=10)
    if observability.tracing_enabled:
        from opentelemetry import trace

        trace.get_tracer_provider().force_flush(10_000)
    loaded = {
        "sentry_sdk": "sentry_sdk" in sys.modules,
        # redis-py imports the OpenTelemetry metrics SDK itself when it is installed (redis.observability),
        # so the package as a whole may be present; Caly's tracing and instrumentation must not be.
        "tracer_provider": type(__import__("opentelemetry.trace").trace.get_tracer_provider()).__name__
        not in ("ProxyTracerProvider", "NoOpTracerProvider")
        if "opentelemetry.trace" in sys.modules
        else False,
        "tracing": "opentelemetry.sdk.trace" in sys.modules,
        "instrumentation": any(m.startswith("opentelemetry.instrumentation") for m in sys.modules),
    }
    print(json.dumps({"results": results, "loaded": loaded}))
    """
)


def run_probe(tmp_path, requests: list[dict], **variables: str) -> dict:
    script = tmp_path / "probe.py"
    script.write_text(PROBE)
    variables = {
        "DJANGO_SETTINGS_MODULE": "caly.settings.test",
        "DATABASE_URL": f"sqlite:///{tmp_path}/db.sqlite3",
        "PYTHONPATH": str(ROOT),
        "LOG_LEVEL": "warning",
        **variables,
    }
    env = clean_env(tmp_path, **variables)
    done = subprocess.run(
        [PYTHON, str(script)],
        input=json.dumps(requests),
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=TIMEOUT,
    )
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout.strip().splitlines()[-1])


def decoded_body(request) -> bytes:
    body = request.get_data()
    encoding = request.headers.get("Content-Encoding", "")
    if encoding == "gzip":
        return gzip.decompress(body)
    if encoding == "deflate":
        return zlib.decompress(body)
    return body


# --- off --------------------------------------------------------------------------------------------


def test_without_their_variables_neither_library_is_even_imported(tmp_path):
    probe = run_probe(tmp_path, [{"path": "/health/live"}, {"path": "/boom/"}])

    assert [r["status"] for r in probe["results"]] == [200, 500]
    assert not any(probe["loaded"].values()), probe["loaded"]


def test_the_tagging_middleware_takes_itself_out_when_sentry_is_off():
    from django.core.exceptions import MiddlewareNotUsed

    assert not observability.sentry_enabled
    with pytest.raises(MiddlewareNotUsed):
        observability.ErrorReportTagsMiddleware(lambda request: None)


# --- Sentry -----------------------------------------------------------------------------------------


def sentry_events(httpserver) -> list[dict]:
    events = []
    for request, _ in httpserver.log:
        lines = decoded_body(request).split(b"\n")
        for header, payload in zip(lines[1::2], lines[2::2], strict=False):
            if json.loads(header).get("type") == "event":
                events.append(json.loads(payload))
    return events


def test_an_error_in_a_view_reaches_sentry_tagged_and_scrubbed(tmp_path, httpserver):
    httpserver.expect_request("/api/1/envelope/", method="POST").respond_with_json({})
    request_id = f"sentry-check-{uuid.uuid4().hex}"
    secrets = ("hunter2", "+919876543210", "api-token-abc123", "session-cookie-xyz", "query-secret-456")

    probe = run_probe(
        tmp_path,
        [
            {
                "path": "/boom/",
                "query": "token=query-secret-456&page=2",
                "headers": {
                    "X-Request-ID": request_id,
                    "Authorization": "Bearer api-token-abc123",
                    "Cookie": "sessionid=session-cookie-xyz",
                },
            }
        ],
        SENTRY_DSN=f"http://publickey@127.0.0.1:{httpserver.port}/1",
        SENTRY_ENVIRONMENT="ci",
    )

    assert probe["results"][0]["status"] == 500
    # (redis-py imports the OpenTelemetry API by itself when it is installed; nothing traces.)
    assert probe["loaded"]["sentry_sdk"] and not probe["loaded"]["tracing"] and not probe["loaded"]["instrumentation"]
    events = sentry_events(httpserver)
    error = next(e for e in events if e.get("exception"))
    assert error["tags"]["request_id"] == request_id
    assert error["tags"]["client_id"] == "6f1c2b8e-0000-4000-8000-00000000c11e"
    assert error["environment"] == "ci"
    assert error["exception"]["values"][-1]["value"] == "Call to [PHONE] failed: password=[REDACTED]"
    assert "user" not in error
    assert "cookies" not in error["request"] and "data" not in error["request"]
    everything = b"".join(decoded_body(request) for request, _ in httpserver.log).decode()
    for secret in secrets:
        assert secret not in everything


def test_scrubbing_removes_secrets_phones_and_callback_tokens_wherever_they_are():
    event = {
        "message": "Dialled +14155550123 for order 1234567",
        "logentry": {"message": "Fetch %s", "params": ["https://x/y?signature=abc"], "formatted": "token=t0k"},
        "request": {
            "url": "http://testserver/api/v1/webhooks/exotel/0b9e5f7e-3c55-4a5e-9d43-111111111111/cb-token-789/status-callback",
            "query_string": "api_key=k3y&page=2",
            "headers": {"Authorization": "Basic dXNlcjpwYXNz", "X-Shopify-Hmac-Sha256": "sig", "Accept": "*/*"},
            "cookies": {"sessionid": "s"},
            "data": {"password": "p"},
            "env": {"REMOTE_ADDR": "203.0.113.5"},
        },
        "extra": {"credentials": {"sid": "x"}, "note": "customer +919812345678 asked", "raw": "sessionid=s3ss10n; a=b"},
        "breadcrumbs": {"values": [{"message": "Authorization: Bearer abc.def.ghi", "data": {"to": "+919812345678"}}]},
        "user": {"ip_address": "203.0.113.5"},
    }

    scrubbed = observability.scrub_event(event, {})
    text = json.dumps(scrubbed)

    leaks = ("+14155550123", "+919812345678", "cb-token-789", "k3y", "dXNlcjpwYXNz", "abc.def.ghi", "t0k", "s3ss10n")
    for leaked in leaks:
        assert leaked not in text
    assert scrubbed["message"] == "Dialled [PHONE] for order 1234567"  # an order number is not a phone number
    assert scrubbed["request"]["headers"]["Accept"] == "*/*"
    assert scrubbed["request"]["headers"]["Authorization"] == "[REDACTED]"
    assert scrubbed["extra"]["credentials"] == "[REDACTED]"
    assert "page=2" in scrubbed["request"]["query_string"]
    assert not {"cookies", "data", "env"} & set(scrubbed["request"]) and "user" not in scrubbed


@pytest.mark.django_db
def test_the_client_tag_is_the_signed_in_users_client_public_id(alice, client_a, django_assert_num_queries):
    request = RequestFactory().get("/")
    tag_client = observability._client_tagger(lambda: request)

    assert "client_id" not in tag_client({}, {}).get("tags", {})  # nobody signed in yet

    request.user = type(alice).objects.get(pk=alice.pk)  # client not loaded: one query finds it
    with django_assert_num_queries(1):
        assert tag_client({}, {})["tags"]["client_id"] == str(client_a.public_id)
    request.user = type(alice).objects.select_related("client").get(pk=alice.pk)
    with django_assert_num_queries(0):
        assert tag_client({"tags": {"request_id": "r"}}, {})["tags"] == {
            "request_id": "r",
            "client_id": str(client_a.public_id),
        }


# --- OpenTelemetry ----------------------------------------------------------------------------------


def exported_spans(httpserver) -> list[Span]:
    spans = []
    for request, _ in httpserver.log:
        if request.path == "/v1/traces":
            export = ExportTraceServiceRequest.FromString(decoded_body(request))
            for resource_spans in export.resource_spans:
                service = {a.key: a.value.string_value for a in resource_spans.resource.attributes}["service.name"]
                assert service == "caly-test"
                for scope_spans in resource_spans.scope_spans:
                    spans.extend(scope_spans.spans)
    return spans


def attributes(span: Span) -> dict:
    return {a.key: a.value.string_value or a.value.int_value for a in span.attributes}


def database_url_of_the_test_database() -> str:
    config = connection.settings_dict
    password = f":{config['PASSWORD']}" if config["PASSWORD"] else ""
    return f"postgres://{config['USER']}{password}@{config['HOST']}:{config['PORT'] or 5432}/{config['NAME']}"


def trace_requests(tmp_path, httpserver, **variables) -> list[Span]:
    httpserver.expect_request("/v1/traces", method="POST").respond_with_data(b"", content_type="application/x-protobuf")
    httpserver.expect_request("/outbound-target").respond_with_data("ok")
    request_id = "trace-check-0123456789"
    outbound = f"http://127.0.0.1:{httpserver.port}/outbound-target?signature=sig-secret-321"
    probe = run_probe(
        tmp_path,
        [
            {"path": "/health/ready", "query": "token=query-secret-654", "headers": {"X-Request-ID": request_id}},
            {"path": "/outbound/", "query": f"url={outbound}"},
            {"path": "/health/live"},
        ],
        OTEL_EXPORTER_OTLP_ENDPOINT=f"http://127.0.0.1:{httpserver.port}",
        OTEL_SERVICE_NAME="caly-test",
        PROBE_OUTBOUND_URL=f"http://127.0.0.1:{httpserver.port}/outbound-target?from=task",
        **variables,
    )
    assert [r["status"] for r in probe["results"]][1:] == [200, 200]
    assert probe["loaded"]["tracing"] and probe["loaded"]["instrumentation"] and not probe["loaded"]["sentry_sdk"]
    return exported_spans(httpserver)


def assert_request_and_outbound_spans(spans: list[Span]) -> None:
    server = [s for s in spans if s.kind == Span.SPAN_KIND_SERVER]
    ready = next(s for s in server if "health/ready" in s.name)
    assert attributes(ready)["caly.request_id"] == "trace-check-0123456789"
    assert "query-secret-654" not in str(ready.attributes)
    assert not [s for s in server if "health/live" in s.name]  # probes are not traced
    outbound = [s for s in spans if s.kind == Span.SPAN_KIND_CLIENT and "db.system" not in attributes(s)]
    # The view's call and the task's; the call made in neither is not traced.
    assert [s.name for s in outbound] == ["GET", "GET"]
    assert "sig-secret-321" not in str(spans)
    task = next(s for s in spans if s.kind == Span.SPAN_KIND_CONSUMER)
    assert (task.name, attributes(task)["caly.task"]) == ("task fetch", "__main__.fetch")
    parents = sorted("view" if s.parent_span_id in {v.span_id for v in server} else "task" for s in outbound)
    assert parents == ["task", "view"] and [s.parent_span_id for s in outbound].count(task.span_id) == 1
    assert not [s for s in spans if s.kind == Span.SPAN_KIND_CLIENT and not s.parent_span_id]


def test_a_request_is_traced_with_its_outbound_call(tmp_path, httpserver):
    spans = trace_requests(tmp_path, httpserver)

    assert_request_and_outbound_spans(spans)


@pytest.mark.postgres
@pytest.mark.django_db
def test_a_request_is_traced_down_to_its_sql_on_postgresql(tmp_path, httpserver):
    spans = trace_requests(tmp_path, httpserver, DATABASE_URL=database_url_of_the_test_database())

    assert_request_and_outbound_spans(spans)
    ready = next(s for s in spans if s.kind == Span.SPAN_KIND_SERVER and "health/ready" in s.name)
    sql = [s for s in spans if attributes(s).get("db.system") == "postgresql"]
    assert sql and all(s.trace_id == ready.trace_id for s in sql if s.parent_span_id == ready.span_id)
    assert any(s.parent_span_id == ready.span_id for s in sql)
