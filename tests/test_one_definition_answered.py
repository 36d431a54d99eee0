""" "Answered" has one meaning: the Python definition (recordings.models.CALL_ANSWERED) and the SQL of
the stats triggers (migration 0002, which cannot change) count the same calls, for every status and
every edge the definition reads (answered_at set or not) or the figures add up (duration zero or not).

On both databases the migration's own SQL condition is evaluated against the calls; on PostgreSQL the
buckets its triggers keep are compared too, after the calls are created and after they change.
"""

import importlib
import itertools
from datetime import UTC, datetime, timedelta

import pytest
from django.db import connection
from django.utils import timezone

from recordings import selectors, services
from recordings.models import CALL_ANSWERED, STATS_BUCKET_SECONDS, Call, CallStatsBucket, CallStatus
from tests.factories import ClientFactory

pytestmark = pytest.mark.django_db

stats_migration = importlib.import_module("recordings.migrations.0002_call_stats_buckets")
CASES = list(itertools.product(CallStatus.values, (False, True), (0, 95)))  # status, answered_at set, duration


def bucket_of(moment: datetime) -> datetime:
    return datetime.fromtimestamp(int(moment.timestamp()) // STATS_BUCKET_SECONDS * STATS_BUCKET_SECONDS, tz=UTC)


@pytest.fixture
def calls():
    """One call per case, each alone in its own 15-minute bucket, created through the service."""
    client = ClientFactory(slug="answered", timezone="UTC")
    bucket = bucket_of(timezone.now())
    made = []
    for n, (status, picked_up, duration) in enumerate(CASES):
        started_at = bucket - timedelta(days=1, seconds=n * STATS_BUCKET_SECONDS) + timedelta(minutes=1)
        made.append(
            services.call_create(
                client=client,
                provider_call_id=f"answered-{n}",
                direction="inbound",
                from_number=f"+91980000{n:04d}",
                to_number="+918047181234",
                status=status,
                started_at=started_at,
                answered_at=started_at + timedelta(seconds=5) if picked_up else None,
                ended_at=started_at + timedelta(seconds=5 + duration),
                duration_seconds=duration,
            )
        )
    return client, made


def by_python(client) -> dict[int, tuple[int, int]]:
    """Call id -> (answered, answered seconds) by the Python definition."""
    answered = set(Call.objects.for_client(client).filter(CALL_ANSWERED).values_list("id", flat=True))
    return {
        call_id: (int(call_id in answered), duration if call_id in answered else 0)
        for call_id, duration in Call.objects.for_client(client).values_list("id", "duration_seconds")
    }


def by_migration_sql(client) -> dict[int, tuple[int, int]]:
    """Call id -> (answered, answered seconds) by the conditions the triggers were created with."""
    answered = stats_migration.ANSWERED.format(rows="c")
    seconds = stats_migration.CALL_FIGURES["answered_seconds"].format(rows="c")
    with connection.cursor() as cursor:
        cursor.execute(
            f"SELECT c.id, CASE WHEN {answered} THEN 1 ELSE 0 END, {seconds}"  # noqa: S608 - the migration's constants
            " FROM recordings_call c WHERE c.client_id = %s",
            [client.id],
        )
        return {call_id: (flag, int(total)) for call_id, flag, total in cursor.fetchall()}


def by_buckets(client) -> dict[int, tuple[int, int]]:
    """Call id -> (answered, answered seconds) from the trigger-kept bucket the call sits alone in."""
    buckets = {
        bucket.bucket_start: (bucket.answered, bucket.answered_seconds)
        for bucket in CallStatsBucket.objects.for_client(client)
    }
    result = {}
    for call in Call.objects.for_client(client):
        result[call.id] = buckets[bucket_of(call.started_at)]
    return result


def summary_answered(client, calls) -> tuple[int, float | None]:
    days = [call.started_at.date() for call in calls]
    summary = selectors.stats_summary(client=client, first=min(days), last=max(days))
    return summary["answered"], summary["average_duration_seconds"]


def expected_summary(python: dict[int, tuple[int, int]]) -> tuple[int, float | None]:
    answered = sum(flag for flag, _ in python.values())
    seconds = sum(total for _, total in python.values())
    return answered, round(seconds / answered, 1) if answered else None


def test_it_answers_only_completed_calls_someone_picked_up(calls):
    client, made = calls
    python = by_python(client)
    answered = {(call.status, call.answered_at is not None) for call in made if python[call.id][0]}
    assert answered == {(CallStatus.COMPLETED, True)}


def test_the_migrations_sql_condition_agrees_with_the_python_definition(calls):
    client, made = calls
    assert len(made) == len(CASES) == 2 * 2 * len(CallStatus.values)
    assert by_migration_sql(client) == by_python(client)
    assert summary_answered(client, made) == expected_summary(by_python(client))


def change_every_case(made):
    """Each call moves to the next status; half of them gain or lose answered_at; some via update()."""
    statuses = CallStatus.values
    for n, call in enumerate(made):
        call.status = statuses[(statuses.index(call.status) + 1) % len(statuses)]
        if n % 2:
            call.answered_at = None if call.answered_at else call.started_at + timedelta(seconds=3)
        call.save()
    Call.objects.filter(id__in=[call.id for call in made[::3]]).update(status=CallStatus.COMPLETED)


@pytest.mark.postgres
def test_the_triggers_buckets_agree_with_the_python_definition(calls):
    client, made = calls
    assert by_buckets(client) == by_python(client)
    assert summary_answered(client, made) == expected_summary(by_python(client))

    change_every_case(made)
    assert by_buckets(client) == by_python(client) == by_migration_sql(client)
    assert summary_answered(client, made) == expected_summary(by_python(client))


def test_changed_calls_still_agree_with_the_migrations_sql_condition(calls):
    client, made = calls
    change_every_case(made)
    assert by_migration_sql(client) == by_python(client)
    assert summary_answered(client, made) == expected_summary(by_python(client))
