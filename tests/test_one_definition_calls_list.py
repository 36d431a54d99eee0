"""The calls list's fields are written once (recordings.selectors.CALL_LIST_SHOWN_FIELDS, then what the call
context adds: recordings.call_context.LIST_ROW_FIELDS): the API rows, their documented shape and the columns the
list query reads all follow from it."""

import json
import re

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from accounts import jwt
from recordings.call_context import LIST_ROW_FIELDS
from recordings.selectors import CALL_LIST_FIELDS, CALL_LIST_SHOWN_FIELDS
from tests.factories import CallFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def api_alice(api, alice):
    CallFactory(client=alice.client, notes="Asked about a refund", customer_satisfaction=4)
    api.credentials(HTTP_AUTHORIZATION=f"Bearer {jwt.family_start(user=alice).access}")
    return api


def test_it_lists_calls_with_the_documented_fields_in_order(api_alice, client):
    row = json.loads(api_alice.get("/api/v1/calls").content)["data"][0]
    schema = json.loads(client.get("/api/schema/", HTTP_ACCEPT="application/vnd.oai.openapi+json").content)
    documented = list(schema["components"]["schemas"]["Call"]["properties"])
    assert list(row) == documented == ["id", *CALL_LIST_SHOWN_FIELDS, *LIST_ROW_FIELDS]


def test_the_list_query_reads_only_the_columns_it_shows(api_alice):
    with CaptureQueriesContext(connection) as queries:
        assert api_alice.get("/api/v1/calls").status_code == 200
    # The other query on the table is the total's count (SELECT COUNT(*) FROM (… LIMIT 10001)).
    [select] = [
        q["sql"]
        for q in queries
        if re.search(r'FROM "recordings_call"', q["sql"]) and not q["sql"].startswith("SELECT COUNT")
    ]
    columns = re.findall(r'"recordings_call"\."(\w+)"', select.split(" FROM ", 1)[0])
    assert columns == list(CALL_LIST_FIELDS)
