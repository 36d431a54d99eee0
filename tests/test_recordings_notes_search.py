"""The calls list's `q` search can use indexes for all three of its arms on PostgreSQL (migration
recordings/0003): the numbers' prefixes and the trigram index on the notes, so a word in few notes
is found without reading the client's calls one by one."""

import pytest
from django.db import connection

from accounts.models import Client
from recordings import demo, selectors
from recordings.models import Call
from tests.factories import ClientFactory

pytestmark = [pytest.mark.postgres, pytest.mark.django_db]


def plan(queryset) -> str:
    sql, params = queryset.query.sql_with_params()
    with connection.cursor() as cursor:
        cursor.execute("ANALYZE recordings_call")
        # A few thousand rows fit in a few pages, which a sequential or ordered scan reads faster than any
        # bitmap; at a million calls the planner picks the bitmap itself (bench/README.md). Turned off
        # here, the plan shows whether each arm *can* use an index: the expression must match Django's SQL.
        cursor.execute("SET LOCAL enable_seqscan = off")
        cursor.execute("SET LOCAL enable_indexscan = off")
        cursor.execute(f"EXPLAIN {sql}", params)
        return "\n".join(row[0] for row in cursor.fetchall())


def test_each_arm_of_q_can_use_an_index():
    client: Client = ClientFactory(slug="search-store")
    demo.calls_seed(client=client, count=2000)  # realistic notes, none with this order number
    searched = str(selectors.call_list(client=client, filters={"q": "#5741"}).query)
    arms = {
        "rec_call_notes_trgm": Call.objects.filter(notes__icontains="#5741"),
        "rec_call_client_from": Call.objects.for_client(client).filter(from_number__startswith="#5741"),
        "rec_call_client_to": Call.objects.for_client(client).filter(to_number__startswith="#5741"),
    }
    for index, arm in arms.items():
        condition = str(arm.query).split("WHERE ")[-1].split(" AND ")[-1].strip("()")
        assert condition in searched  # the arm as call_list writes it
        explained = plan(arm)
        assert index in explained and "Seq Scan" not in explained, explained


def test_q_finds_a_word_anywhere_in_the_notes_in_any_case():
    client = ClientFactory(slug="search-store")
    other = ClientFactory(slug="search-other")
    for owner, notes in ((client, "Asked where order #5741 is"), (client, "Refund done"), (other, "ORDER #5741")):
        Call.objects.create(
            client=owner,
            provider="exotel",
            provider_call_id=f"c-{owner.pk}-{len(notes)}",
            from_number="+919800000001",
            to_number="+918000000001",
            notes=notes,
            started_at="2026-11-01T10:00:00Z",
        )
    found = selectors.call_list(client=client, filters={"q": "oRdEr #5741"})
    assert list(found.values_list("notes", flat=True)) == ["Asked where order #5741 is"]
