"""The private names of libraries behind caly/foundation/adapters/: each test fails when a library
update renames, removes or changes one, before the code that relies on it misbehaves."""

import inspect
import time
import uuid

import pytest
from django.core.cache import caches
from django.urls import path
from django.utils.functional import SimpleLazyObject
from django_ratelimit.core import get_usage
from drf_spectacular.generators import SchemaGenerator
from drf_spectacular.openapi import AutoSchema
from opentelemetry.sdk.trace.sampling import TraceIdRatioBased
from prometheus_client import CollectorRegistry, generate_latest
from prometheus_client.multiprocess import MultiProcessCollector
from rest_framework import serializers
from rest_framework.response import Response
from rest_framework.views import APIView
from storages.backends.s3 import S3Storage

from accounts.models import Client
from caly.foundation.adapters import django as django_adapter
from caly.foundation.adapters import opentelemetry, prometheus, ratelimit, spectacular, storages
from tests.factories import ClientFactory

# --- django-ratelimit ------------------------------------------------------------------------------


def test_it_splits_rates_as_django_ratelimit_does():
    assert ratelimit.split_rate("5/15m") == (5, 900)
    assert ratelimit.split_rate("10/h") == (10, 3600)
    assert ratelimit.split_rate("3/s") == (3, 1)


def test_it_ends_a_window_within_one_period_from_now():
    now = time.time()
    end = ratelimit.window_end("127.0.0.1", 900)
    assert now - 1 <= end <= now + 900
    assert ratelimit.window_end("127.0.0.1", 900) == end  # the same value, the same window


@pytest.mark.parametrize("key", ["ip", lambda group, request: "account-digest"])
def test_it_names_the_counter_get_usage_counts_in(rf, settings, key):
    settings.RATELIMIT_USE_CACHE = "ratelimit"
    request = rf.post("/", REMOTE_ADDR="198.51.100.7")
    group, rate = f"adapter-{uuid.uuid4().hex}", "5/15m"

    for _ in range(2):
        get_usage(request, group=group, key=key, rate=rate, increment=True)

    assert caches["ratelimit"].get(ratelimit.counter_key(request, group=group, key=key, rate=rate)) == 2


# --- drf-spectacular -------------------------------------------------------------------------------


def test_autoschema_still_builds_responses_in_the_two_methods_the_hooks_replace():
    parameters = inspect.signature(AutoSchema._get_response_for_code).parameters
    assert list(parameters) == ["self", "serializer", "status_code", "media_types", "direction"]
    assert list(inspect.signature(AutoSchema._get_response_bodies).parameters) == ["self", "direction"]


class _Answer(serializers.Serializer):
    answer = serializers.IntegerField()


class _HookedSchema(spectacular.ResponseHooksAutoSchema):
    def response_for_code(self, response, status_code):
        return {**response, "description": f"hooked {status_code}"}

    def response_bodies(self, responses):
        return {**responses, "418": {"description": "added by the hook"}}


class _AnswerView(APIView):
    schema = _HookedSchema()
    serializer_class = _Answer

    def get(self, request):
        return Response({"answer": 42})


def test_the_response_hooks_see_every_response_of_an_operation():
    schema = SchemaGenerator(patterns=[path("answer", _AnswerView.as_view())]).get_schema(request=None, public=True)

    responses = schema["paths"]["/answer"]["get"]["responses"]
    assert responses["200"]["description"] == "hooked 200"
    assert responses["200"]["content"]["application/json"]["schema"] == {"$ref": "#/components/schemas/_Answer"}
    assert responses["418"] == {"description": "added by the hook"}


# --- django-storages -------------------------------------------------------------------------------


def test_a_session_carries_the_storages_credentials():
    storage = S3Storage(
        access_key="AKIAEXAMPLEADAPTER", secret_key="adapter-secret", bucket_name="caly", security_token="a-token"
    )

    credentials = storages.s3_session(storage).get_credentials().get_frozen_credentials()

    assert (credentials.access_key, credentials.secret_key, credentials.token) == (
        "AKIAEXAMPLEADAPTER",
        "adapter-secret",
        "a-token",
    )


# --- Django's tuple lookups ------------------------------------------------------------------------


@pytest.mark.django_db
def test_row_values_compare_column_by_column():
    a, b1, b2, c = (ClientFactory(name=name) for name in ("a", "b", "b", "c"))
    fields, position = ("name", "id"), ("b", b1.pk)

    after = Client.objects.filter(django_adapter.rows_after(fields, position)).order_by("name", "id")
    before = Client.objects.filter(django_adapter.rows_before(fields, position)).order_by("name", "id")

    assert list(after) == [b2, c]
    assert list(before) == [a]


# --- prometheus-client -----------------------------------------------------------------------------


def test_value_files_add_up_and_read_back_as_prometheus_client_reads_them(tmp_path):
    key = prometheus.sample_key("caly_probe", "caly_probe_total", {"kind": "x"}, "A probe.")
    file = str(tmp_path / "counter_1.db")

    prometheus.add_to_file(file, [(key, 3.0, 0.0)])
    prometheus.add_to_file(file, [(key, 2.0, 0.0)])

    assert prometheus.file_values(file) == [(key, 5.0, 0.0)]
    registry = CollectorRegistry()
    MultiProcessCollector(registry, path=str(tmp_path))
    assert 'caly_probe_total{kind="x"} 5.0' in generate_latest(registry).decode()


def test_a_lazy_object_shows_its_value_only_once_loaded():
    loads = []
    lazy = SimpleLazyObject(lambda: loads.append(1) or "loaded")
    assert django_adapter.loaded_or_none(lazy) is None and not loads
    str(lazy)
    assert django_adapter.loaded_or_none(lazy) == "loaded" and loads == [1]
    assert django_adapter.loaded_or_none("plain") == "plain"


def test_the_sampler_follows_opentelemetrys_environment(monkeypatch):
    monkeypatch.setenv("OTEL_TRACES_SAMPLER", "traceidratio")
    monkeypatch.setenv("OTEL_TRACES_SAMPLER_ARG", "0.25")
    sampler = opentelemetry.sampler_from_environment()
    assert isinstance(sampler, TraceIdRatioBased) and sampler.rate == 0.25
    monkeypatch.delenv("OTEL_TRACES_SAMPLER")
    monkeypatch.delenv("OTEL_TRACES_SAMPLER_ARG")
    assert opentelemetry.sampler_from_environment() is not None
