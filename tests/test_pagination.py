"""Keyset and page-number pagination: complete, stable walks; strict parameters."""

import base64
import json
from datetime import UTC, datetime, timedelta

import pytest

from accounts.models import Client
from tests.factories import ClientFactory

pytestmark = [pytest.mark.urls("tests.api_urls"), pytest.mark.django_db]


@pytest.fixture
def seven_clients():
    clients = [ClientFactory() for _ in range(7)]
    base = datetime(2026, 1, 1, tzinfo=UTC)
    # Three share one timestamp, so ties are broken by id.
    stamps = [base, base + timedelta(hours=1), base + timedelta(hours=1), base + timedelta(hours=1)]
    stamps += [base + timedelta(hours=h) for h in (2, 3, 4)]
    for client, stamp in zip(clients, stamps, strict=True):
        Client.objects.filter(pk=client.pk).update(created_at=stamp)
    return list(Client.objects.order_by("-created_at", "-id").values_list("id", flat=True))


def get(api, url, **params):
    response = api.get(url, params)
    body = json.loads(response.content)
    return response.status_code, body


def test_it_walks_every_row_once_forward_and_back_with_a_cursor(api, seven_clients):
    seen, cursor, pages = [], None, []
    while True:
        status, body = get(api, "/api/v1/test/keyset", limit=3, **({"cursor": cursor} if cursor else {}))
        assert status == 200
        pages.append(body)
        seen += [row["id"] for row in body["data"]]
        cursor = body["meta"]["pagination"]["next_cursor"]
        if not body["meta"]["pagination"]["has_more"]:
            assert cursor is None
            break
    assert seen == seven_clients
    assert [len(p["data"]) for p in pages] == [3, 3, 1]
    assert pages[0]["meta"]["pagination"]["previous_cursor"] is None

    back = pages[-1]["meta"]["pagination"]["previous_cursor"]
    status, body = get(api, "/api/v1/test/keyset", limit=3, cursor=back)
    assert [row["id"] for row in body["data"]] == seven_clients[3:6]
    assert body["meta"]["pagination"]["has_more"] is True
    status, body = get(api, "/api/v1/test/keyset", limit=3, cursor=body["meta"]["pagination"]["previous_cursor"])
    assert [row["id"] for row in body["data"]] == seven_clients[:3]
    assert body["meta"]["pagination"]["previous_cursor"] is None


def test_it_reports_keyset_meta_without_a_count(api, seven_clients):
    _, body = get(api, "/api/v1/test/keyset")
    assert body["meta"]["pagination"] == {"limit": 50, "has_more": False, "next_cursor": None, "previous_cursor": None}


def test_it_answers_an_empty_list(api, db):
    status, body = get(api, "/api/v1/test/keyset")
    assert status == 200 and body["data"] == [] and body["meta"]["pagination"]["has_more"] is False


def _cursor(payload) -> str:
    return base64.urlsafe_b64encode(json.dumps(payload).encode()).decode().rstrip("=")


@pytest.mark.parametrize(
    "cursor",
    [
        "garbage!!",
        "e30",  # {}
        _cursor({"p": ["2026-01-01T00:00:00+00:00"], "b": False}),  # one value for two fields
        _cursor({"p": ["not a date", 1], "b": False}),
        _cursor({"p": ["2026-01-01T00:00:00", 1], "b": False}),  # naive time
        _cursor({"p": ["2026-01-01T00:00:00+00:00", 10**30], "b": False}),  # overflows bigint
        _cursor({"p": ["2026-01-01T00:00:00+00:00", "1; DROP TABLE x"], "b": False}),
        _cursor({"p": ["2026-01-01T00:00:00+00:00", 1], "b": "yes"}),
        _cursor({"p": [None, 1], "b": False}),
        "%00",
    ],
)
def test_it_rejects_a_bad_cursor_with_400(api, seven_clients, cursor):
    status, body = get(api, "/api/v1/test/keyset", cursor=cursor)
    assert status == 400 and body["error"]["code"] == "VALIDATION_ERROR" and "cursor" in body["error"]["details"]


@pytest.mark.parametrize("limit", ["0", "-1", "1001", "abc", "2.5", "", "1e3"])
def test_it_rejects_a_bad_limit_with_400(api, db, limit):
    status, body = get(api, "/api/v1/test/keyset", limit=limit)
    assert status == 400 and "limit" in body["error"]["details"]


def test_it_allows_up_to_the_maximum_limit(api, seven_clients, settings):
    settings.API_MAX_PAGE_SIZE = 5
    status, body = get(api, "/api/v1/test/keyset", limit=5)
    assert status == 200 and len(body["data"]) == 5
    assert get(api, "/api/v1/test/keyset", limit=6)[0] == 400


def test_it_pages_small_collections_by_number(api, seven_clients):
    status, body = get(api, "/api/v1/test/pages", page=2, page_size=3)
    assert status == 200 and len(body["data"]) == 3
    assert body["meta"]["pagination"] == {"page": 2, "page_size": 3, "total": 7, "total_pages": 3, "has_more": True}
    _, last = get(api, "/api/v1/test/pages", page=3, page_size=3)
    assert len(last["data"]) == 1 and last["meta"]["pagination"]["has_more"] is False


def test_it_defaults_to_the_configured_page_size(api, seven_clients, settings):
    settings.API_PAGE_SIZE = 4
    _, body = get(api, "/api/v1/test/pages")
    assert body["meta"]["pagination"]["page_size"] == 4 and len(body["data"]) == 4


@pytest.mark.parametrize(
    ("params", "field"),
    [
        ({"page": "0"}, "page"),
        ({"page": "abc"}, "page"),
        ({"page": "4", "page_size": "3"}, "page"),
        ({"page_size": "1001"}, "page_size"),
        ({"page_size": "0"}, "page_size"),
        ({"page": "99999999999999999999"}, "page"),
    ],
)
def test_it_rejects_bad_page_parameters_with_400(api, seven_clients, params, field):
    status, body = get(api, "/api/v1/test/pages", **params)
    assert status == 400 and body["error"]["code"] == "VALIDATION_ERROR" and field in body["error"]["details"]


def test_it_answers_page_one_of_an_empty_collection(api, db):
    status, body = get(api, "/api/v1/test/pages")
    assert status == 200 and body["meta"]["pagination"]["total"] == 0 and body["meta"]["pagination"]["total_pages"] == 1


@pytest.mark.postgres
def test_it_seeks_with_a_row_value_comparison_on_postgres(api, seven_clients):
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    _, first = get(api, "/api/v1/test/keyset", limit=2)
    with CaptureQueriesContext(connection) as queries:
        get(api, "/api/v1/test/keyset", limit=2, cursor=first["meta"]["pagination"]["next_cursor"])
    sql = queries.captured_queries[-1]["sql"]
    assert '("accounts_client"."created_at", "accounts_client"."id") <' in sql, sql
    assert "OFFSET" not in sql.upper() and "COUNT(" not in sql.upper()


@pytest.mark.parametrize("value", ["²", "٣", "9" * 5000, "1" * 11])
def test_it_rejects_exotic_digits_and_huge_numbers_with_400(api, db, value):
    assert get(api, "/api/v1/test/keyset", limit=value)[0] == 400
    assert get(api, "/api/v1/test/pages", page=value)[0] == 400
    assert get(api, "/api/v1/test/pages", page_size=value)[0] == 400


@pytest.mark.parametrize(
    "payload",
    [
        '{"p": ["2026-01-01T00:00:00+00:00", Infinity], "b": false}',
        '{"p": ["2026-01-01T00:00:00+00:00", 1e400], "b": false}',
        '{"p": ["2026-01-01T00:00:00+00:00", NaN], "b": false}',
        '{"p": ["0001-01-01T00:00:00+05:00", 1], "b": false}',
        '{"p": ["9999-12-31T23:59:59+00:00", 1], "b": false}',
    ],
)
def test_it_rejects_cursors_with_impossible_positions(api, seven_clients, payload):
    cursor = base64.urlsafe_b64encode(payload.encode()).decode().rstrip("=")
    status, body = get(api, "/api/v1/test/keyset", cursor=cursor)
    assert status == 400 and "cursor" in body["error"]["details"]
