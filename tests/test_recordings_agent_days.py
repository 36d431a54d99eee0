"""The dashboard's per-(client, local day, agent) rollup (PostgreSQL triggers, migration 0010) always equals a
scan of the calls.

Whatever writes the calls (bulk inserts, updates of status, agent, duration, resolved, satisfaction or start
time, deletes, a member deleted, the client's time zone changed), the rollup's rows are exactly the GROUP BY
of the calls, for every range, and the dashboard's summary reads the rollup, not the calls.
"""

import random
from datetime import timedelta

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from accounts.roles import Role
from recordings import demo, selectors
from recordings.models import Call, CallAgentDay, CallStatus
from tests.factories import ClientFactory, UserFactory

pytestmark = [pytest.mark.postgres, pytest.mark.django_db]
RANGES = (1, 7, 30, 91)
STATS_NAMES = (
    "calls",
    "answered",
    "answered_rate",
    "average_duration_seconds",
    "resolved_rate",
    "average_satisfaction",
    "recordings_stored",
    "recordings_failed",
)


def both(client, days: int):
    """(from the rollup, from the calls) for the last `days` local days of `client`."""
    today = selectors.client_today(client)
    first = today - timedelta(days=days - 1)
    return (
        selectors._agent_days_from_rollup(client, first, today),
        selectors._agent_days_from_rows(client, first, today),
    )


def assert_rollup_matches(client):
    today = selectors.client_today(client)
    for days in RANGES:
        rollup, rows = both(client, days)
        assert rollup == rows, days
        first = today - timedelta(days=days - 1)  # the dashboard's per-day and per-agent sums too
        assert selectors._sums_from_rollup(client, first, today) == selectors._sums_from_rows(client, first, today)
    # The whole table, not only recent days: no row of zero calls, nothing left behind.
    everything = selectors._agent_days_from_rows(
        client, selectors.client_today(client) - timedelta(days=400), selectors.client_today(client) + timedelta(days=2)
    )
    table = {
        (row.day, row.agent_id): tuple(getattr(row, name) for name in selectors.AGENT_DAY_FIGURES)
        for row in CallAgentDay.objects.for_client(client)
    }
    assert table == everything


@pytest.fixture
def seeded():
    client = ClientFactory(slug="agent-days", timezone="Asia/Kolkata")
    agents = [UserFactory(client=client, role=Role.AGENT, email=f"agent{n}@agent-days.example") for n in range(4)]
    rng = random.Random(7)
    calls = list(demo.demo_calls(client=client, count=3000))
    for call in calls:  # most calls taken by a member, some by nobody Caly knows
        call.agent = rng.choice([*agents, None])
    Call.objects.bulk_create(calls, batch_size=1000)
    other = ClientFactory(slug="agent-days-other", timezone="America/New_York")
    demo.calls_seed(client=other, count=400)
    return client, agents, other


def test_bulk_inserts_are_counted(seeded):
    client, agents, other = seeded
    rollup, rows = both(client, 91)
    assert rollup == rows
    assert sum(figures[0] for figures in rollup.values()) == 3000
    assert {agent for _, agent in rollup} == {agent.id for agent in agents} | {None}
    assert_rollup_matches(other)


def test_every_kind_of_change_keeps_the_rollup_equal_to_the_calls(seeded):
    client, agents, other = seeded
    calls = Call.objects.for_client(client)
    rng = random.Random(11)
    ids = list(calls.values_list("id", flat=True))

    calls.filter(id__in=rng.sample(ids, 200)).update(is_resolved=True)
    calls.filter(id__in=rng.sample(ids, 150)).update(customer_satisfaction=4)
    calls.filter(id__in=rng.sample(ids, 50)).update(customer_satisfaction=None)
    calls.filter(id__in=rng.sample(ids, 100)).update(status=CallStatus.NO_ANSWER, answered_at=None)
    calls.filter(id__in=rng.sample(ids, 100)).update(status=CallStatus.COMPLETED)
    calls.filter(id__in=rng.sample(ids, 60)).update(direction="outbound")
    calls.filter(id__in=rng.sample(ids, 100)).update(duration_seconds=42)
    calls.filter(id__in=rng.sample(ids, 300)).update(agent=agents[0])  # given to another agent
    calls.filter(id__in=rng.sample(ids, 100)).update(agent=None)
    for call in calls.filter(id__in=rng.sample(ids, 20)):  # one at a time, through save(), to another day
        call.started_at -= timedelta(days=3, minutes=7)
        call.agent = agents[1]
        call.save()
    calls.filter(id__in=rng.sample(ids, 100)).delete()

    assert_rollup_matches(client)
    assert_rollup_matches(other)


def test_a_deleted_member_leaves_their_calls_to_nobody(seeded):
    client, agents, _ = seeded
    theirs = Call.objects.for_client(client).filter(agent=agents[2]).count()
    nobody = Call.objects.for_client(client).filter(agent=None).count()
    gone = agents[2].id

    agents[2].delete()

    assert_rollup_matches(client)
    assert not CallAgentDay.objects.filter(agent_id=gone).exists()
    assert CallAgentDay.objects.for_client(client).filter(agent=None).values_list("calls", flat=True)
    assert sum(CallAgentDay.objects.for_client(client).filter(agent=None).values_list("calls", flat=True)) == (
        theirs + nobody
    )


def test_a_new_time_zone_rebuilds_the_clients_days(seeded):
    client, _, other = seeded
    before_other = both(other, 91)[0]
    for name in ("Asia/Kathmandu", "America/St_Johns", "Pacific/Chatham", "UTC"):
        client.timezone = name
        client.save()
        assert_rollup_matches(client)
    assert both(other, 91)[0] == before_other


def test_an_update_that_changes_no_figure_writes_nothing(seeded):
    client, _, _ = seeded
    before = list(CallAgentDay.objects.for_client(client).order_by("id").values())
    Call.objects.for_client(client).update(notes="seen")
    assert list(CallAgentDay.objects.for_client(client).order_by("id").values()) == before


def test_the_dashboard_reads_the_rollup_not_the_calls(seeded):
    client, agents, _ = seeded
    today = selectors.client_today(client)
    with CaptureQueriesContext(connection) as queries:
        summary = selectors.dashboard_summary(client=client, first=today - timedelta(days=89), last=today)
    assert sum(row["calls"] for row in summary["agents"]) == summary["calls"] == 3000
    assert len(summary["calls_per_day"]) == 90 and len(summary["agents"]) == len(agents) + 1
    assert not any('"recordings_call"' in query["sql"] for query in queries), [q["sql"] for q in queries]
    assert len(queries) == 4  # per day and per agent from the rollup, the members, one sum of the buckets
    # The same totals as the stats summary, which reads the 15-minute buckets.
    stats = selectors.stats_summary(client=client, first=today - timedelta(days=89), last=today)
    for name in STATS_NAMES:
        assert summary[name] == stats[name], name
    assert [day["calls"] for day in summary["calls_per_day"]] == [day["calls"] for day in stats["calls_per_day"]]
