"""The stats summary's 15-minute buckets (PostgreSQL triggers) always equal the figures read from the rows.

Whatever writes the calls and recordings (bulk inserts, updates of any figure, a call moved to another
day, deletes), the buckets and a direct count agree for every range and time zone, and the summary
never reads the calls table.
"""

import random
import zoneinfo
from datetime import timedelta

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from recordings import demo, selectors
from recordings.models import Call, CallStatsBucket, CallStatus, Recording, RecordingStatus
from tests.factories import ClientFactory

pytestmark = [pytest.mark.postgres, pytest.mark.django_db]


def both(client, days: int):
    """(from the buckets, from the rows) for the last `days` local days of `client`."""
    zone = zoneinfo.ZoneInfo(client.timezone)
    today = timezone.localtime(timezone=zone).date()
    start, end = selectors.local_day_bounds(client, today - timedelta(days=days - 1), today)
    return (
        selectors._figures_from_buckets(client, start, end, zone),
        selectors._figures_from_rows(client, start, end, zone),
    )


def assert_buckets_match(client):
    for days in (1, 7, 30, 91):
        buckets, rows = both(client, days)
        assert buckets == rows, days


@pytest.fixture
def seeded():
    client = ClientFactory(slug="stats-store")
    demo.calls_seed(client=client, count=2000)
    calls = list(Call.objects.for_client(client).filter(status=CallStatus.COMPLETED).order_by("id")[:300])
    statuses = [RecordingStatus.STORED, RecordingStatus.FAILED, RecordingStatus.PENDING]
    Recording.objects.bulk_create(
        Recording(client=client, call=call, started_at=call.started_at, status=statuses[n % 3])
        for n, call in enumerate(calls)
    )
    other = ClientFactory(slug="stats-other")
    demo.calls_seed(client=other, count=500)
    return client, other


def test_bulk_inserts_are_counted(seeded):
    client, other = seeded
    buckets, rows = both(client, 91)
    assert buckets == rows and buckets[0]["calls"] == 2000 and buckets[0]["recordings_stored"] == 100
    assert both(other, 91)[0][0]["calls"] == 500


def test_every_kind_of_change_keeps_the_buckets_equal_to_the_rows(seeded):
    client, other = seeded
    calls = Call.objects.for_client(client)
    rng = random.Random(5)
    ids = list(calls.values_list("id", flat=True))
    with_recordings = set(Recording.objects.values_list("call_id", flat=True))

    calls.filter(id__in=rng.sample(ids, 200)).update(is_resolved=True)
    calls.filter(id__in=rng.sample(ids, 150)).update(customer_satisfaction=2)
    calls.filter(id__in=rng.sample(ids, 50)).update(customer_satisfaction=None)
    calls.filter(id__in=rng.sample(ids, 100)).update(status=CallStatus.BUSY, answered_at=None)
    calls.filter(id__in=rng.sample(ids, 100)).update(duration_seconds=42)
    for call in calls.filter(id__in=rng.sample(ids, 20)):  # one at a time, through save(), to another day
        call.started_at -= timedelta(days=3, minutes=7)
        call.save()
    calls.filter(id__in=[i for i in rng.sample(ids, 100) if i not in with_recordings]).delete()
    recordings = Recording.objects.for_client(client)
    recordings.filter(status=RecordingStatus.PENDING).update(status=RecordingStatus.STORED)
    recordings.filter(id__in=list(recordings.values_list("id", flat=True)[:40])).update(status=RecordingStatus.DELETED)
    recordings.filter(status=RecordingStatus.FAILED)[:1].get().delete()

    assert_buckets_match(client)
    assert_buckets_match(other)


def test_local_days_add_up_in_every_time_zone(seeded):
    client, _ = seeded
    for name in ("Asia/Kolkata", "Asia/Kathmandu", "America/St_Johns", "Pacific/Chatham", "UTC"):
        client.timezone = name  # buckets are UTC quarters of an hour: no rebuild when the zone changes
        assert_buckets_match(client)


def test_the_summary_reads_the_buckets_not_the_calls(seeded):
    client, _ = seeded
    today = timezone.localtime(timezone=zoneinfo.ZoneInfo(client.timezone)).date()
    with CaptureQueriesContext(connection) as queries:
        summary = selectors.stats_summary(client=client, first=today - timedelta(days=89), last=today)
    assert summary["calls"] == 2000 and len(summary["calls_per_day"]) == 90
    assert len(queries) == 1 and "recordings_callstatsbucket" in queries[0]["sql"]
    assert 'recordings_call"' not in queries[0]["sql"] and "recordings_recording" not in queries[0]["sql"]


def test_buckets_hold_only_what_is_not_zero(seeded):
    client, _ = seeded
    Call.objects.for_client(client).update(notes="seen")  # no figure changes: nothing written
    assert not CallStatsBucket.objects.filter(calls=0, recordings_stored=0, recordings_failed=0).exists()
    assert_buckets_match(client)
