"""Exporting calls: the page's Export button and GET /api/v1/calls/export, small ones streamed, large ones
written by a task to storage with a progress page, a status, and an expiring, tenant-checked download."""

import csv
import io
import json
from datetime import UTC, datetime, timedelta

import pytest
import time_machine
from django.core.files.storage import default_storage
from django.test import Client as BrowserClient
from rest_framework.test import APIClient

from accounts import jwt
from accounts.models import AuditAction, AuditEvent
from accounts.roles import Role
from recordings import csv_export, services
from recordings.models import CallExport, CallExportStatus
from recordings.tasks import purge_expired_exports
from tests.factories import UserFactory
from tests.s3 import local_storage  # noqa: F401

pytestmark = pytest.mark.django_db

START = datetime(2025, 3, 1, 6, 30, tzinfo=UTC)


@pytest.fixture(autouse=True)
def _local_files(local_storage):  # noqa: F811
    """Exports on local files under tmp_path."""


@pytest.fixture
def ten_calls(client_a, client_b):
    made = [
        services.call_create(
            client=client_a,
            provider_call_id=f"export-{n}",
            direction="inbound" if n % 2 else "outbound",
            from_number=f"+9198{n:08d}",
            to_number="+918000000002",
            status="completed",
            started_at=START + timedelta(hours=n),
            duration_seconds=10 * n,
            notes="=cmd|' /C calc'!A0" if n == 3 else "",
        )
        for n in range(10)
    ]
    services.call_create(
        client=client_b,
        provider_call_id="export-b",
        direction="inbound",
        from_number="+919811111111",
        to_number="+918000000002",
        status="completed",
        started_at=START,
    )
    return made


def browser(user) -> BrowserClient:
    page = BrowserClient()
    page.force_login(user)
    return page


def api_for(user):
    api = APIClient()
    api.credentials(HTTP_AUTHORIZATION=f"Bearer {jwt.family_start(user=user).access}")
    return api


def csv_rows(response) -> list[list[str]]:
    body = b"".join(response.streaming_content) if response.streaming else response.content
    return list(csv.reader(io.StringIO(body.decode())))


def exported(client) -> list[AuditEvent]:
    return list(AuditEvent.objects.filter(client=client, action=AuditAction.CALLS_EXPORTED))


def test_the_button_streams_a_small_export_in_the_lists_order(alice, ten_calls):
    response = browser(alice).post("/calls/export/", {"direction": "inbound", "ordering": "-duration_seconds"})

    assert response.status_code == 200 and response["Content-Type"].startswith("text/csv")
    assert response["Content-Disposition"].startswith('attachment; filename="calls-')
    rows = csv_rows(response)
    assert rows[0] == csv_export.CSV_HEADER
    assert [row[0] for row in rows[1:]] == [str(ten_calls[n].public_id) for n in (9, 7, 5, 3, 1)]
    assert rows[4][-1].startswith("'=")  # the formula in the notes is defused
    [event] = exported(alice.client)
    assert event.metadata == {"direction": "inbound", "ordering": "-duration_seconds"}
    assert not CallExport.objects.exists()


def test_a_large_export_is_written_by_a_task_with_progress_and_a_download(
    alice, ten_calls, settings, django_capture_on_commit_callbacks
):
    settings.CALL_EXPORT_STREAM_MAX_ROWS = 3
    page = browser(alice)

    with django_capture_on_commit_callbacks(execute=True):
        response = page.post("/calls/export/", {"ordering": "duration_seconds"})

    export = CallExport.objects.get()
    assert response.status_code == 302 and response["Location"] == f"/calls/exports/{export.public_id}/"
    assert export.status == CallExportStatus.DONE and export.rows_written == 10 and export.rows_expected == 10
    assert export.storage_key == f"exports/{alice.client.public_id}/{export.public_id}.csv"
    assert default_storage.exists(export.storage_key)
    [event] = exported(alice.client)
    assert event.metadata == {"ordering": "duration_seconds", "written_by_worker": "True"}

    progress = page.get(response["Location"]).content.decode()
    assert "Ready" in progress and 'value="100"' in progress
    assert f'href="/api/v1/calls/exports/{export.public_id}/download"' in progress
    assert f'data-export-status-url="/api/v1/calls/exports/{export.public_id}"' in progress
    assert "<script>" not in progress and "export-progress.js" in progress

    status = json.loads(page.get(f"/api/v1/calls/exports/{export.public_id}").content)["data"]
    assert status["status"] == "done" and status["rows_written"] == 10
    assert status["download_url"] == f"/api/v1/calls/exports/{export.public_id}/download"

    download = page.get(status["download_url"])
    assert download.status_code == 200 and download["Content-Type"].startswith("text/csv")
    rows = csv_rows(download)
    assert [row[0] for row in rows[1:]] == [str(call.public_id) for call in ten_calls]  # shortest first


def test_the_progress_page_shows_a_queued_export_and_polls(alice, ten_calls, settings):
    settings.CALL_EXPORT_STREAM_MAX_ROWS = 3
    page = browser(alice)

    response = page.post("/calls/export/", {"status": "completed"})  # the task runs only after commit

    export = CallExport.objects.get()
    progress = page.get(response["Location"]).content.decode()
    assert export.status == CallExportStatus.QUEUED
    assert 'data-export-state="queued"' in progress and "0 of about 10 calls written" in progress
    assert "data-export-download hidden" in progress
    assert page.get(f"/api/v1/calls/exports/{export.public_id}/download").status_code == 409

    assert csv_export.call_export_run(export_id=export.pk) == CallExportStatus.DONE
    assert csv_export.call_export_run(export_id=export.pk) == CallExportStatus.DONE  # twice: left alone
    assert page.get(f"/api/v1/calls/exports/{export.public_id}/download").status_code == 200


def test_the_api_answers_a_large_export_with_202_and_its_status(alice, ten_calls, settings):
    settings.CALL_EXPORT_STREAM_MAX_ROWS = 3
    api = api_for(alice)

    response = api.get("/api/v1/calls/export", {"direction": "outbound"})

    assert response.status_code == 202
    data = json.loads(response.content)["data"]
    export = CallExport.objects.get()
    assert data["id"] == str(export.public_id) and data["status"] == "queued"
    assert data["status_url"] == f"/api/v1/calls/exports/{export.public_id}" and data["download_url"] is None
    assert data["filters"] == {"direction": "outbound"} and data["rows_expected"] == 5

    csv_export.call_export_run(export_id=export.pk)
    status = json.loads(api.get(data["status_url"]).content)["data"]
    rows = csv_rows(api.get(status["download_url"]))
    assert len(rows) == 1 + 5 and {row[2] for row in rows[1:]} == {"outbound"}


def test_a_small_api_export_still_streams(alice, ten_calls):
    response = api_for(alice).get("/api/v1/calls/export", {"ordering": "started_at"})

    assert response.status_code == 200
    assert [row[0] for row in csv_rows(response)[1:]] == [str(call.public_id) for call in ten_calls]


def test_only_roles_that_may_export_see_or_use_it(client_a, alice, bob, ten_calls, settings):
    settings.CALL_EXPORT_STREAM_MAX_ROWS = 3
    viewer = UserFactory(client=client_a, role=Role.VIEWER)
    browser(alice).post("/calls/export/", {})
    export = CallExport.objects.get()

    for user in (bob, viewer):  # an agent and a viewer
        page = browser(user)
        assert page.post("/calls/export/", {}).status_code == 403
        assert page.get(f"/calls/exports/{export.public_id}/").status_code == 403
        assert page.get(f"/api/v1/calls/exports/{export.public_id}").status_code == 403
        assert page.get(f"/api/v1/calls/exports/{export.public_id}/download").status_code == 403
    assert CallExport.objects.count() == 1 and len(exported(client_a)) == 1


def test_another_clients_export_is_not_found(alice, charlie, ten_calls, settings):
    settings.CALL_EXPORT_STREAM_MAX_ROWS = 3
    browser(alice).post("/calls/export/", {})
    export = CallExport.objects.get()
    csv_export.call_export_run(export_id=export.pk)
    page = browser(charlie)

    assert page.get(f"/calls/exports/{export.public_id}/").status_code == 404
    for path in (f"/api/v1/calls/exports/{export.public_id}", f"/api/v1/calls/exports/{export.public_id}/download"):
        response = page.get(path)
        assert response.status_code == 404 and json.loads(response.content)["error"]["code"] == "NOT_FOUND"


def test_an_export_expires_and_its_file_is_purged(alice, ten_calls, settings):
    settings.CALL_EXPORT_STREAM_MAX_ROWS = 3
    settings.CALL_EXPORT_KEEP_HOURS = 2
    page = browser(alice)
    page.post("/calls/export/", {})
    export = CallExport.objects.get()
    csv_export.call_export_run(export_id=export.pk)
    export.refresh_from_db()

    with time_machine.travel(export.finished_at + timedelta(hours=2, minutes=1)):
        response = page.get(f"/api/v1/calls/exports/{export.public_id}/download")
        assert response.status_code == 404
        assert json.loads(response.content)["error"]["message"] == "This export has expired; export the calls again."
        assert "This export has expired." in page.get(f"/calls/exports/{export.public_id}/").content.decode()
        assert purge_expired_exports.call() == 1

    assert not CallExport.objects.exists() and not default_storage.exists(export.storage_key)


def test_a_bad_filter_exports_nothing(alice, ten_calls):
    response = browser(alice).post("/calls/export/", {"status": "lost", "ordering": "-started_at"})

    assert response.status_code == 302 and response["Location"] == "/calls/?status=lost&ordering=-started_at"
    assert not exported(alice.client) and not CallExport.objects.exists()
    follow = browser(alice).get(response["Location"])
    assert follow.status_code == 400


def test_exports_are_rate_limited_on_the_page_too(alice, ten_calls, settings):
    settings.RATE_LIMITS = {**settings.RATE_LIMITS, "export_user": "1/h"}
    page = browser(alice)

    assert page.post("/calls/export/", {}).status_code == 200
    refused = page.post("/calls/export/", {}, follow=True)

    assert refused.redirect_chain[0][0] == "/calls/"
    assert "Too many" in refused.content.decode() or "try again" in refused.content.decode().lower()
    assert len(exported(alice.client)) == 1


def test_a_failed_write_says_so(alice, ten_calls, settings, monkeypatch):
    settings.CALL_EXPORT_STREAM_MAX_ROWS = 3
    page = browser(alice)
    page.post("/calls/export/", {})
    export = CallExport.objects.get()

    def broken(**kwargs):
        raise OSError("disk full")

    monkeypatch.setattr(csv_export.storage, "store_stream", broken)
    assert csv_export.call_export_run(export_id=export.pk) == CallExportStatus.FAILED

    status = json.loads(page.get(f"/api/v1/calls/exports/{export.public_id}").content)["data"]
    assert status["status"] == "failed" and "could not be written" in status["error"]
    assert status["download_url"] is None
