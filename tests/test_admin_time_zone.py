"""The admin shows times in STAFF_TIME_ZONE, day first, on a 24-hour clock: not UTC in US format."""

from datetime import UTC, datetime

import pytest

from caly.foundation import env
from tests.factories import CallFactory

pytestmark = pytest.mark.django_db

MIDDAY_UTC = datetime(2026, 12, 1, 12, 0, tzinfo=UTC)


def test_it_shows_admin_times_in_the_staff_time_zone(client, staff, client_a, settings):
    settings.STAFF_TIME_ZONE = "Asia/Kolkata"
    CallFactory(client=client_a, started_at=MIDDAY_UTC)
    client.force_login(staff)

    page = client.get("/admin/recordings/call/").content.decode()

    assert "1 Dec 2026, 17:30" in page
    assert "Dec. 1, 2026" not in page and "noon" not in page


def test_the_zone_is_a_setting(client, staff, client_a, settings):
    settings.STAFF_TIME_ZONE = "UTC"
    CallFactory(client=client_a, started_at=MIDDAY_UTC)
    client.force_login(staff)

    assert "1 Dec 2026, 12:00" in client.get("/admin/recordings/call/").content.decode()


def test_client_pages_keep_the_clients_own_zone(client, alice, client_a, settings):
    settings.STAFF_TIME_ZONE = "America/New_York"
    client_a.timezone = "Asia/Kolkata"
    client_a.save()
    CallFactory(client=client_a, started_at=MIDDAY_UTC)
    client.force_login(alice)

    assert "1 Dec 2026, 17:30" in client.get("/calls/").content.decode()


def test_an_unknown_zone_is_refused_at_start_up():
    with pytest.raises(env.EnvError) as error:
        env.read({"STAFF_TIME_ZONE": "Mars/Olympus"})
    assert "STAFF_TIME_ZONE" in str(error.value)
