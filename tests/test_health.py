"""Health endpoints: each dependency made to fail for real, and the answer that follows."""

import json

import pytest
from django.db import OperationalError, connection
from django.test import override_settings

from caly.foundation import health

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def _recheck_migrations(monkeypatch):
    monkeypatch.setattr(health, "_migrations_applied", False)


def body(response):
    return json.loads(response.content)


def test_it_answers_live_without_any_io(client, django_assert_num_queries):
    with django_assert_num_queries(0):
        response = client.get("/health/live")
    assert response.status_code == 200 and body(response) == {"status": "ok"}
    assert "no-cache" in response["Cache-Control"]


def test_it_is_ready_when_everything_works(client):
    response = client.get("/health/ready")
    assert response.status_code == 200 and body(response) == {"status": "ok"}


def test_it_summarises_every_component(client):
    response = client.get("/health/")
    assert body(response) == {
        "status": "ok",
        "components": {"database": "ok", "cache": "ok", "storage": "ok", "migrations": "ok"},
    }


def _refuse_queries(execute, sql, params, many, context):
    raise OperationalError("connection refused (test)")


def test_it_is_not_ready_when_the_database_fails(client):
    with connection.execute_wrapper(_refuse_queries):
        response = client.get("/health/ready")
    assert response.status_code == 503 and body(response)["failing"] == ["database", "migrations"]


@override_settings(
    CACHES={
        "default": {
            "BACKEND": "django_redis.cache.RedisCache",
            "LOCATION": "redis://127.0.0.1:1/0",  # nothing listens on port 1
            "OPTIONS": {"SOCKET_CONNECT_TIMEOUT": 0.5, "SOCKET_TIMEOUT": 0.5},
        }
    }
)
def test_it_is_not_ready_when_the_cache_is_unreachable(client):
    response = client.get("/health/ready")
    assert response.status_code == 503 and body(response)["failing"] == ["cache"]


def test_it_is_not_ready_when_storage_is_not_writable(client, tmp_path, settings):
    blocker = tmp_path / "not-a-folder"
    blocker.write_text("a file where the media folder should be")
    settings.STORAGES = {
        **settings.STORAGES,
        "default": {
            "BACKEND": "django.core.files.storage.FileSystemStorage",
            "OPTIONS": {"location": str(blocker / "media")},
        },
    }
    response = client.get("/health/ready")
    assert response.status_code == 503 and body(response)["failing"] == ["storage"]


def test_it_is_not_ready_with_an_unapplied_migration(client):
    from django.db.migrations.loader import MigrationLoader
    from django.db.migrations.recorder import MigrationRecorder

    app, name = next(node for node in MigrationLoader(connection).graph.leaf_nodes() if node[0] == "accounts")
    MigrationRecorder.Migration.objects.filter(app=app, name=name).delete()
    response = client.get("/health/ready")
    assert response.status_code == 503 and body(response)["failing"] == ["migrations"]


def test_it_hides_details_from_anonymous_callers(client, settings):
    settings.HEALTH_TOKEN = "monitor-token-123456"
    assert client.get("/health/detailed").status_code == 403
    assert client.get("/health/detailed", HTTP_AUTHORIZATION="Bearer wrong-token").status_code == 403


def test_it_hides_details_when_no_token_is_configured(client, settings):
    settings.HEALTH_TOKEN = ""
    assert client.get("/health/detailed", HTTP_AUTHORIZATION="Bearer ").status_code == 403


def test_it_shows_details_with_the_health_token(client, settings):
    settings.HEALTH_TOKEN = "monitor-token-123456"
    settings.APP_VERSION = "2026.11.25-abc"
    response = client.get("/health/detailed", HTTP_AUTHORIZATION="Bearer monitor-token-123456")
    report = body(response)
    assert response.status_code == 200 and report["status"] == "ok"
    assert set(report["components"]) == {"database", "cache", "storage", "migrations"}
    assert all(c["latency_ms"] >= 0 for c in report["components"].values())
    assert report["version"] == "2026.11.25-abc" and report["python"] and report["django"].startswith("5.2")
    assert report["uptime_seconds"] >= 0 and report["queue"] == {"ready": 0, "failed": 0}


def test_it_shows_details_to_staff(client, staff):
    client.force_login(staff)
    assert client.get("/health/detailed").status_code == 200


def test_it_hides_details_from_a_client_user(client, alice, settings):
    settings.HEALTH_TOKEN = ""
    client.force_login(alice)
    assert client.get("/health/detailed").status_code == 403


def test_it_reports_the_failing_component_in_details(client, settings):
    settings.HEALTH_TOKEN = "monitor-token-123456"
    with override_settings(
        CACHES={
            "default": {
                "BACKEND": "django_redis.cache.RedisCache",
                "LOCATION": "redis://127.0.0.1:1/0",
                "OPTIONS": {"SOCKET_CONNECT_TIMEOUT": 0.5, "SOCKET_TIMEOUT": 0.5},
            }
        }
    ):
        response = client.get("/health/detailed", HTTP_AUTHORIZATION="Bearer monitor-token-123456")
    report = body(response)
    assert response.status_code == 503 and report["components"]["cache"]["status"] == "failing"
    assert "error" in report["components"]["cache"]


def test_it_only_answers_reads(client):
    assert client.post("/health/ready").status_code == 405
    assert client.head("/health/live").status_code == 200
