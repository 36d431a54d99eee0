"""The calls and recordings admin: staff find rows by search and filters, and the actions do what they say."""

import io
import zoneinfo
from datetime import timedelta

import pytest
from django.contrib.auth.models import Permission
from django.utils import timezone

from accounts.models import AuditAction, AuditEvent
from recordings import services
from recordings.demo import wav_tones
from recordings.models import Call, Recording, RecordingStatus
from tests.factories import CallFactory, RecordingFactory, StaffFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def media(settings, tmp_path):
    settings.STORAGES = {
        **settings.STORAGES,
        "default": {
            "BACKEND": "django.core.files.storage.FileSystemStorage",
            "OPTIONS": {"location": str(tmp_path), "allow_overwrite": True},
        },
    }
    return tmp_path


@pytest.fixture
def calls(client_a, client_b):
    """Three calls of A (one outbound, one busy) and one of B, on distinct days."""
    now = timezone.now()
    return {
        "inbound": CallFactory(client=client_a, from_number="+919812345678", provider_call_id="exo-in-1"),
        "outbound": CallFactory(
            client=client_a,
            direction="outbound",
            from_number="+918047181234",
            to_number="+917000000001",
            started_at=now - timedelta(days=3),
        ),
        "busy": CallFactory(client=client_a, status="busy", started_at=now - timedelta(days=40)),
        "other": CallFactory(client=client_b, from_number="+919812399999", started_at=now - timedelta(days=400)),
    }


@pytest.fixture
def recordings(calls):
    return {
        "failed": RecordingFactory(call=calls["inbound"], status="failed", attempts=3, last_error="404 from Exotel"),
        "pending": RecordingFactory(call=calls["outbound"]),
        "stored": RecordingFactory(call=calls["busy"], status="stored", storage_key="recordings/x/y.wav"),
        "other": RecordingFactory(call=calls["other"], status="deleted"),
    }


@pytest.fixture
def as_staff(client, staff):
    client.force_login(staff)
    return client


def listed(response) -> set[int]:
    assert response.status_code == 200
    return {row.pk for row in response.context["cl"].result_list}


def past_seven_days() -> dict[str, str]:
    """The parameters of the date filter's "Past 7 days" link."""
    today = timezone.localtime().replace(hour=0, minute=0, second=0, microsecond=0)
    return {"started_at__gte": str(today - timedelta(days=7)), "started_at__lt": str(today + timedelta(days=1))}


def pks(*objects) -> set[int]:
    return {obj.pk for obj in objects}


def run_action(client, model, action, *objects):
    return client.post(
        f"/admin/recordings/{model}/",
        {"action": action, "_selected_action": [str(obj.pk) for obj in objects]},
        follow=True,
    )


def flash(response) -> list[str]:
    return [str(message) for message in response.context["messages"]]


def test_it_lets_staff_list_calls_and_open_them(as_staff, calls, recordings):
    assert listed(as_staff.get("/admin/recordings/call/")) == pks(*calls.values())
    for call in calls.values():
        response = as_staff.get(f"/admin/recordings/call/{call.pk}/change/")
        assert response.status_code == 200
        assert call.from_number in response.content.decode()
    assert as_staff.get("/admin/recordings/call/add/").status_code == 200


@pytest.mark.parametrize(
    ("term", "expected"),
    [
        ("+919812345678", {"inbound"}),  # a whole number
        ("+9198123", {"inbound", "other"}),  # a number's beginning, either side
        ("+917000000001", {"outbound"}),  # the number called
        ("exo-in-1", {"inbound"}),  # the provider's call id
        ("exo-in", set()),  # provider ids match whole
        ("public_id", {"busy"}),  # the call's public id, upper-case too
        ("not a number", set()),
    ],
)
def test_it_finds_calls_by_number_provider_id_or_public_id(as_staff, calls, term, expected):
    if term == "public_id":
        term = str(calls["busy"].public_id).upper()
    assert listed(as_staff.get("/admin/recordings/call/", {"q": term})) == pks(*(calls[n] for n in expected))


@pytest.mark.parametrize(
    ("name", "expected"),
    [
        ("status", {"busy"}),
        ("provider", {"inbound", "outbound", "busy", "other"}),
        ("direction", {"outbound"}),
        ("client", {"other"}),
        ("started_at", {"inbound", "outbound"}),
    ],
)
def test_it_filters_calls(as_staff, calls, client_b, name, expected):
    params = {
        "status": {"status__exact": "busy"},
        "provider": {"provider__exact": "exotel"},
        "direction": {"direction__exact": "outbound"},
        "client": {"client__id__exact": client_b.pk},
        "started_at": past_seven_days(),
    }[name]
    assert listed(as_staff.get("/admin/recordings/call/", params)) == pks(*(calls[n] for n in expected))


@pytest.mark.parametrize("model", ["call", "recording"])
def test_it_drills_down_by_day(as_staff, calls, recordings, model, settings):
    # The admin's days are those of STAFF_TIME_ZONE.
    day = timezone.localtime(calls["inbound"].started_at, zoneinfo.ZoneInfo(settings.STAFF_TIME_ZONE))
    params = {"started_at__year": day.year, "started_at__month": day.month, "started_at__day": day.day}
    response = as_staff.get(f"/admin/recordings/{model}/", params)
    expected = calls["inbound"] if model == "call" else recordings["failed"]
    assert listed(response) == {expected.pk}


def test_it_lets_staff_list_recordings_and_open_them(as_staff, recordings):
    assert listed(as_staff.get("/admin/recordings/recording/")) == pks(*recordings.values())
    for recording in recordings.values():
        assert as_staff.get(f"/admin/recordings/recording/{recording.pk}/change/").status_code == 200


@pytest.mark.parametrize(
    ("term", "expected"),
    [
        ("+919812345678", {"failed"}),
        ("+91981", {"failed", "other"}),
        ("exo-in-1", {"failed"}),
        ("recording_id", {"pending"}),
        ("call_id", {"stored"}),
    ],
)
def test_it_finds_recordings_by_their_call_or_public_id(as_staff, recordings, term, expected):
    if term == "recording_id":
        term = str(recordings["pending"].public_id)
    elif term == "call_id":
        term = str(recordings["stored"].call.public_id)
    response = as_staff.get("/admin/recordings/recording/", {"q": term})
    assert listed(response) == pks(*(recordings[n] for n in expected))


@pytest.mark.parametrize(
    ("name", "expected"),
    [
        ("status", {"failed"}),
        ("provider", {"failed", "pending", "stored", "other"}),
        ("direction", {"pending"}),
        ("client", {"other"}),
        ("started_at", {"failed", "pending"}),
    ],
)
def test_it_filters_recordings(as_staff, recordings, client_b, name, expected):
    params = {
        "status": {"status__exact": "failed"},
        "provider": {"call__provider__exact": "exotel"},
        "direction": {"call__direction__exact": "outbound"},
        "client": {"client__id__exact": client_b.pk},
        "started_at": past_seven_days(),
    }[name]
    response = as_staff.get("/admin/recordings/recording/", params)
    assert listed(response) == pks(*(recordings[n] for n in expected))


def test_it_shows_a_recordings_storage_fields_read_only(as_staff, recordings):
    response = as_staff.get(f"/admin/recordings/recording/{recordings['failed'].pk}/change/")
    editable = set(response.context["adminform"].form.fields)
    storage = {"storage_key", "size_bytes", "sha256", "content_type", "stored_at", "deleted_at"}
    storage |= {"source_url", "attempts", "last_error", "status"}
    assert not editable & storage
    assert "404 from Exotel" in response.content.decode()


def test_it_never_deletes_rows_nor_adds_recordings(as_staff, recordings):
    assert as_staff.get("/admin/recordings/recording/add/").status_code == 403
    assert as_staff.get(f"/admin/recordings/recording/{recordings['stored'].pk}/delete/").status_code == 403
    assert as_staff.get(f"/admin/recordings/call/{recordings['stored'].call_id}/delete/").status_code == 403
    assert as_staff.get("/admin/recordings/call/").context["action_form"] is None  # no "Delete selected"
    actions = as_staff.get("/admin/recordings/recording/").context["action_form"].fields["action"].choices
    assert [name for name, _ in actions if name] == ["retry_fetching", "delete_audio"]


def test_retry_fetching_requeues_failed_and_pending_recordings_only(as_staff, staff, recordings):
    stamp = timezone.now() - timedelta(days=30)
    Recording.objects.update(updated_at=stamp)

    response = run_action(
        as_staff, "recording", "retry_fetching", recordings["failed"], recordings["pending"], recordings["stored"]
    )

    assert flash(response) == ["Set 2 recordings to pending. Skipped 1: only failed or pending recordings are retried."]
    failed, pending, stored = (Recording.objects.get(pk=recordings[n].pk) for n in ("failed", "pending", "stored"))
    assert (failed.status, failed.last_error, failed.attempts) == ("pending", "", 3)
    assert failed.updated_at > stamp
    assert (pending.status, pending.last_error) == ("pending", "")
    assert (stored.status, stored.storage_key, stored.updated_at) == ("stored", "recordings/x/y.wav", stamp)
    retried = AuditEvent.objects.filter(action=AuditAction.RECORDING_FETCH_RETRIED, actor=staff)
    assert sorted(retried.values_list("target_id", flat=True)) == sorted(
        [str(recordings["failed"].public_id), str(recordings["pending"].public_id)]
    )
    assert AuditEvent.objects.count() == 2


def test_delete_audio_removes_the_object_and_audits_the_staff_member(
    as_staff, staff, client_a, media, django_capture_on_commit_callbacks
):
    call = CallFactory(client=client_a)
    recording = services.recording_store(
        call=call, stream=io.BytesIO(wav_tones(seconds=1, seed=1)), content_type="audio/wav"
    )
    already = RecordingFactory(call=CallFactory(client=client_a), status="deleted")
    assert (media / recording.storage_key).exists()

    with django_capture_on_commit_callbacks(execute=True):
        response = run_action(as_staff, "recording", "delete_audio", recording, already)

    assert flash(response) == ["Deleted the audio of 1 recording. 1 was already deleted."]
    recording.refresh_from_db()
    assert recording.status == RecordingStatus.DELETED and recording.deleted_at is not None
    assert not (media / recording.storage_key).exists()
    assert Call.objects.get(pk=call.pk).has_recording is False
    event = AuditEvent.objects.get()
    assert (event.action, event.actor, event.client, event.target_id) == (
        AuditAction.RECORDING_DELETED,
        staff,
        client_a,
        str(recording.public_id),
    )
    assert event.metadata == {"reason": "deleted_by_staff"}


def test_delete_audio_needs_the_delete_permission(client, recordings):
    clerk = StaffFactory(email="clerk@caly.example")
    clerk.user_permissions.set(Permission.objects.filter(codename__in=["view_recording", "change_recording"]))
    client.force_login(clerk)
    actions = client.get("/admin/recordings/recording/").context["action_form"].fields["action"].choices
    assert [name for name, _ in actions if name] == ["retry_fetching"]


@pytest.mark.parametrize("model", ["call", "recording"])
def test_it_keeps_everyone_but_staff_out(client, alice, recordings, model):
    pk = recordings["failed"].pk if model == "recording" else recordings["failed"].call_id
    for url in (f"/admin/recordings/{model}/", f"/admin/recordings/{model}/{pk}/change/"):
        client.logout()
        assert client.get(url)["Location"].startswith("/admin/login/")
        client.force_login(alice)  # a client's owner, not staff
        assert client.get(url)["Location"].startswith("/admin/login/")


def test_it_ignores_actions_posted_by_non_staff(client, alice, recordings):
    client.force_login(alice)
    response = client.post(
        "/admin/recordings/recording/",
        {"action": "delete_audio", "_selected_action": [str(recordings["stored"].pk)]},
    )
    assert response.status_code == 302 and response["Location"].startswith("/admin/login/")
    assert Recording.objects.get(pk=recordings["stored"].pk).status == "stored"
    assert not AuditEvent.objects.exists()
