""" "Missed" has one meaning: the Python definition (recordings.models.CALL_MISSED) and the SQL of the agent-day
triggers (migration 0010, which cannot change) count the same calls, for every status in both directions.

On both databases the migration's own SQL condition is evaluated against the calls; on PostgreSQL the rows
its triggers keep are compared too, after the calls are created and after they change; the dashboard's
figures (rollup or scan) say the same.
"""

import importlib
import itertools
from datetime import timedelta

import pytest
from django.db import connection
from django.utils import timezone

from recordings import selectors, services
from recordings.models import CALL_MISSED, Call, CallAgentDay, CallStatus, Direction
from tests.factories import ClientFactory, UserFactory

pytestmark = pytest.mark.django_db

agent_days_migration = importlib.import_module("recordings.migrations.0010_call_agent_days")
CASES = list(itertools.product(CallStatus.values, Direction.values))


@pytest.fixture
def calls():
    """One call per case, each on its own local day and with its own agent, created through the service."""
    client = ClientFactory(slug="missed", timezone="UTC")
    today = timezone.now().replace(hour=12, minute=0, second=0, microsecond=0)
    made = []
    for n, (status, direction) in enumerate(CASES):
        started_at = today - timedelta(days=n + 1)
        call = services.call_create(
            client=client,
            provider_call_id=f"missed-{n}",
            direction=direction,
            from_number=f"+91980000{n:04d}",
            to_number="+918047181234",
            status=status,
            started_at=started_at,
            answered_at=started_at + timedelta(seconds=5) if status == CallStatus.COMPLETED else None,
            ended_at=started_at + timedelta(seconds=60),
            duration_seconds=55 if status == CallStatus.COMPLETED else 0,
        )
        made.append(call)
    return client, made


def by_python(client) -> dict[int, int]:
    missed = set(Call.objects.for_client(client).filter(CALL_MISSED).values_list("id", flat=True))
    return {call_id: int(call_id in missed) for call_id in Call.objects.for_client(client).values_list("id", flat=True)}


def by_migration_sql(client) -> dict[int, int]:
    missed = agent_days_migration.MISSED.format(rows="c")
    with connection.cursor() as cursor:
        cursor.execute(
            f"SELECT c.id, CASE WHEN {missed} THEN 1 ELSE 0 END"  # noqa: S608 - the migration's constants
            " FROM recordings_call c WHERE c.client_id = %s",
            [client.id],
        )
        return dict(cursor.fetchall())


def by_rollup(client) -> dict[int, int]:
    """Call id -> missed, from the trigger-kept row the call sits alone in (its own day)."""
    days = {row.day: row.missed for row in CallAgentDay.objects.for_client(client)}
    return {call.id: days[call.started_at.date()] for call in Call.objects.for_client(client)}


def dashboard_missed(client, made) -> int:
    days = [call.started_at.date() for call in made]
    return selectors.dashboard_summary(client=client, first=min(days), last=max(days))["missed"]


def test_it_counts_only_inbound_calls_that_ended_without_anyone_picking_up(calls):
    client, made = calls
    python = by_python(client)
    missed = {(call.status, call.direction) for call in made if python[call.id]}
    assert missed == {
        (status, Direction.INBOUND)
        for status in (CallStatus.NO_ANSWER, CallStatus.BUSY, CallStatus.FAILED, CallStatus.CANCELED)
    }
    assert dashboard_missed(client, made) == 4


def test_the_migrations_sql_condition_agrees_with_the_python_definition(calls):
    client, _ = calls
    assert by_migration_sql(client) == by_python(client)


def change_every_case(made):
    """Each call moves to the next status and the other direction, some through update()."""
    statuses = CallStatus.values
    for call in made:
        call.status = statuses[(statuses.index(call.status) + 1) % len(statuses)]
        call.direction = Direction.OUTBOUND if call.direction == Direction.INBOUND else Direction.INBOUND
        call.save()
    Call.objects.filter(id__in=[call.id for call in made[::3]]).update(status=CallStatus.BUSY)


def test_changed_calls_still_agree_with_the_migrations_sql_condition(calls):
    client, made = calls
    change_every_case(made)
    assert by_migration_sql(client) == by_python(client)
    assert dashboard_missed(client, made) == sum(by_python(client).values())


@pytest.mark.postgres
def test_the_triggers_rows_agree_with_the_python_definition(calls):
    client, made = calls
    assert by_rollup(client) == by_python(client)

    change_every_case(made)
    agent = UserFactory(client=client)
    Call.objects.filter(id__in=[call.id for call in made[::2]]).update(agent=agent)

    assert by_rollup_per_call(client) == by_python(client) == by_migration_sql(client)


def by_rollup_per_call(client) -> dict[int, int]:
    """As by_rollup, with calls spread over agents: each (day, agent) row holds at most one call."""
    rows = {(row.day, row.agent_id): row.missed for row in CallAgentDay.objects.for_client(client)}
    return {call.id: rows[(call.started_at.date(), call.agent_id)] for call in Call.objects.for_client(client)}
