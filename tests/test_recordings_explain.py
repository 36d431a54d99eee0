"""The call and recording lists stay on their indexes: PostgreSQL's plan for each API list query.

One client holds 60,000 calls (another 15,000 belong to a second client), a quarter of them with a
recording, and the tables are ANALYZEd, so the planner chooses as it would in production. Each
case sends the API request and EXPLAINs the very SQL the view ran: no `Seq Scan` on the calls or
recordings table anywhere in the plan, and an index of ours (`rec_*`) in use.
"""

import json
import random
from datetime import timedelta

import pytest
from django.db import connection, transaction
from django.test.utils import CaptureQueriesContext
from django.utils import timezone
from rest_framework.test import APIClient

from accounts.roles import Role
from caly.foundation.api.pagination import KeysetPagination
from recordings import demo
from recordings.models import Call, Recording, RecordingStatus
from tests.factories import ClientFactory, UserFactory

pytestmark = [pytest.mark.postgres, pytest.mark.django_db]

CALLS = 60_000
OTHER_CALLS = 15_000
TABLES = {"recordings_call", "recordings_recording"}


@pytest.fixture(scope="module")
def dataset(django_db_setup, django_db_blocker):
    """Built once for the module inside a transaction that is rolled back at its end."""
    with django_db_blocker.unblock(), transaction.atomic():
        client = ClientFactory(slug="explain-store")
        demo.calls_seed(client=client, count=CALLS)
        demo.calls_seed(client=ClientFactory(slug="explain-other"), count=OTHER_CALLS)
        _recordings_for_a_quarter(client)
        with connection.cursor() as cursor:
            cursor.execute("ANALYZE recordings_call")
            cursor.execute("ANALYZE recordings_recording")
        user = UserFactory(client=client, role=Role.VIEWER)
        yield {"client": client, "user": user, "sample": _sample(client)}
        transaction.set_rollback(True)


def _recordings_for_a_quarter(client):
    rng = random.Random(7)
    statuses = [RecordingStatus.STORED] * 17 + [
        RecordingStatus.FAILED,
        RecordingStatus.DELETED,
        RecordingStatus.PENDING,
    ]
    rows = [
        Recording(
            client=client,
            call_id=call_id,
            started_at=started_at,
            status=rng.choice(statuses),
            storage_key=f"recordings/{client.public_id}/{call_id}.wav",
            content_type="audio/wav",
            size_bytes=rng.randint(50_000, 5_000_000),
        )
        for call_id, started_at in Call.objects.for_client(client)
        .filter(status="completed")
        .values_list("id", "started_at")
        if rng.random() < 0.34
    ]
    Recording.objects.bulk_create(rows, batch_size=demo.BATCH_SIZE)


def _sample(client) -> dict:
    """Real values to filter by: a customer's number, a local week, cursors in the middle and near the end."""
    calls = Call.objects.for_client(client).order_by("-started_at", "-id")
    number = calls.filter(direction="inbound").values_list("from_number", flat=True)[1000]
    middle = calls.values("started_at", "id")[CALLS // 2]
    deep = calls.values("started_at", "id")[CALLS - 100]
    recordings = Recording.objects.for_client(client).order_by("-started_at", "-id").values("started_at", "id")
    longest = calls.order_by("-duration_seconds", "-id").values("duration_seconds", "id")
    shortest = calls.order_by("duration_seconds", "id").values("duration_seconds", "id")
    week_end = timezone.localtime(calls.values_list("started_at", flat=True)[CALLS // 3]).date()
    return {
        "number": number,
        "prefix": number[:7],
        "from": week_end - timedelta(days=6),
        "to": week_end,
        "middle": _cursor(middle),
        "deep": _cursor(deep),
        "recording_deep": _cursor(recordings[recordings.count() - 100]),
        "longest_deep": _cursor(longest[CALLS - 100], ("-duration_seconds", "-id")),
        "shortest_middle": _cursor(shortest[CALLS // 2], ("duration_seconds", "id")),
        "oldest_deep": _cursor(
            calls.order_by("started_at", "id").values("started_at", "id")[CALLS - 100], ("started_at", "id")
        ),
    }


def _cursor(row, ordering=("-started_at", "-id")) -> str:
    """A next-page cursor exactly as KeysetPagination writes one for `ordering`."""
    paginator = KeysetPagination()
    paginator.ordering = ordering
    paginator.fields = [name.lstrip("-") for name in ordering]
    return paginator.encode_cursor(row, backwards=False)


def _list_sql(dataset, path: str, params: dict) -> str:
    """The SQL of the list query the API ran for this request."""
    api = APIClient()
    api.force_authenticate(dataset["user"])
    table = '"recordings_recording"' if "recordings" in path else '"recordings_call"'
    with CaptureQueriesContext(connection) as queries:
        response = api.get(path, params)
    assert response.status_code == 200, response.content
    assert json.loads(response.content)["data"], "the case should return rows"
    # Not the total's count (SELECT COUNT(*) FROM (… LIMIT n)) nor the planner's estimate (EXPLAIN …).
    [sql] = [
        q["sql"]
        for q in queries.captured_queries
        if f"FROM {table}" in q["sql"] and "LIMIT" in q["sql"] and not q["sql"].startswith(("SELECT COUNT", "EXPLAIN"))
    ]
    return sql


def _plan_nodes(node: dict):
    yield node
    for child in node.get("Plans", []):
        yield from _plan_nodes(child)


def _explain(sql: str) -> list[dict]:
    with connection.cursor() as cursor:
        cursor.execute(f"EXPLAIN (FORMAT JSON) {sql}")
        (plan,) = cursor.fetchone()
    plan = json.loads(plan) if isinstance(plan, str) else plan
    return list(_plan_nodes(plan[0]["Plan"]))


def _summary(nodes) -> str:
    return "; ".join(
        f"{n['Node Type']}{' on ' + n['Relation Name'] if 'Relation Name' in n else ''}"
        f"{' using ' + n['Index Name'] if 'Index Name' in n else ''}"
        for n in nodes
    )


CASES = {
    "calls": ("/api/v1/calls", {}),
    "calls, cursor in the middle": ("/api/v1/calls", {"cursor": "middle"}),
    "calls, cursor near the end": ("/api/v1/calls", {"cursor": "deep"}),
    "calls by status": ("/api/v1/calls", {"status": "busy"}),
    "calls by common status, cursor": ("/api/v1/calls", {"status": "completed", "cursor": "middle"}),
    "calls in a date range": ("/api/v1/calls", {"started_from": "from", "started_to": "to"}),
    "calls of a number": ("/api/v1/calls", {"number": "number"}),
    "calls by number prefix": ("/api/v1/calls", {"number_prefix": "prefix"}),
    "calls, longest first": ("/api/v1/calls", {"ordering": "-duration_seconds"}),
    "calls, longest first, cursor near the end": (
        "/api/v1/calls",
        {"ordering": "-duration_seconds", "cursor": "longest_deep"},
    ),
    "calls, shortest first, cursor in the middle": (
        "/api/v1/calls",
        {"ordering": "duration_seconds", "cursor": "shortest_middle"},
    ),
    "calls, oldest first, cursor near the end": ("/api/v1/calls", {"ordering": "started_at", "cursor": "oldest_deep"}),
    "recordings": ("/api/v1/recordings", {}),
    "recordings, cursor near the end": ("/api/v1/recordings", {"cursor": "recording_deep"}),
    "recordings by status": ("/api/v1/recordings", {"status": "failed"}),
}


@pytest.mark.parametrize("case", list(CASES))
def test_the_list_query_uses_our_indexes(dataset, case):
    path, params = CASES[case]
    sample = dataset["sample"]
    params = {name: sample.get(value, value) for name, value in params.items()}

    nodes = _explain(_list_sql(dataset, path, {"limit": 50, **params}))

    seq_scans = [n for n in nodes if n["Node Type"] == "Seq Scan" and n.get("Relation Name") in TABLES]
    assert not seq_scans, f"{case}: {_summary(nodes)}"
    assert any(n.get("Index Name", "").startswith("rec_") for n in nodes), f"{case}: {_summary(nodes)}"


DURATION_CASES = [name for name in CASES if "longest" in name or "shortest" in name]


@pytest.mark.parametrize("case", DURATION_CASES)
def test_sorting_by_duration_seeks_on_its_index_without_sorting(dataset, case):
    path, params = CASES[case]
    params = {name: dataset["sample"].get(value, value) for name, value in params.items()}

    nodes = _explain(_list_sql(dataset, path, {"limit": 50, **params}))

    assert any(n.get("Index Name") == "rec_call_client_duration" for n in nodes), _summary(nodes)
    assert not [n for n in nodes if n["Node Type"] in ("Sort", "Incremental Sort")], _summary(nodes)


def test_the_total_of_an_unfiltered_list_reads_the_per_day_rollup_not_the_calls(dataset):
    api = APIClient()
    api.force_authenticate(dataset["user"])
    with CaptureQueriesContext(connection) as queries:
        body = json.loads(api.get("/api/v1/calls", {"limit": 50}).content)

    assert body["meta"]["pagination"]["total"] == {"count": CALLS, "exact": True}
    counts = [q["sql"] for q in queries.captured_queries if "COUNT(" in q["sql"].upper() or "SUM(" in q["sql"].upper()]
    assert counts and all('"recordings_callagentday"' in sql for sql in counts), counts


def test_the_total_of_a_large_filtered_list_is_the_planners_estimate(dataset):
    api = APIClient()
    api.force_authenticate(dataset["user"])
    with CaptureQueriesContext(connection) as queries:
        body = json.loads(api.get("/api/v1/calls", {"limit": 50, "status": "completed"}).content)

    total = body["meta"]["pagination"]["total"]
    assert total["exact"] is False and total["count"] > 10_000
    assert not [q for q in queries.captured_queries if q["sql"].startswith("SELECT COUNT")]
