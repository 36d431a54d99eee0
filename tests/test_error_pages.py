"""Error pages keep the site's look, show the request id and offer a way back."""

import pytest
from django.db import OperationalError, connection

pytestmark = pytest.mark.django_db


def assert_error_page(response, status):
    html = response.content.decode()
    assert response.status_code == status
    assert response["Content-Type"].startswith("text/html")
    assert 'class="site-header"' in html and "/static/css/caly.css" in html
    assert f'<p class="error-code">{status}</p>' in html
    assert f"<code data-request-id>{response['X-Request-ID']}</code>" in html
    assert 'href="/"' in html  # a way back home
    return html


def test_it_shows_a_404_page(client):
    assert_error_page(client.get("/no/such/page", HTTP_X_REQUEST_ID="page-404-check"), 404)


@pytest.mark.urls("tests.api_urls")
def test_it_shows_a_500_page_with_a_retry(client):
    client.raise_request_exception = False
    html = assert_error_page(client.get("/boom"), 500)
    assert 'href="/boom"' in html and "Try again" in html


def _database_down(execute, sql, params, many, context):
    raise OperationalError("the database is down (test)")


@pytest.mark.urls("tests.api_urls")
def test_it_renders_the_500_page_while_the_database_is_down(client, alice):
    client.force_login(alice)  # a session the page must not try to read
    client.raise_request_exception = False
    with connection.execute_wrapper(_database_down):
        response = client.get("/boom")
    assert_error_page(response, 500)


def test_it_shows_a_400_page_for_a_bad_host(client):
    response = client.get("/", HTTP_HOST="evil.example")
    assert_error_page(response, 400)


def test_it_shows_a_friendly_page_when_a_form_expires(client, alice):
    from django.test import Client

    strict = Client(enforce_csrf_checks=True)
    response = strict.post("/admin/login/", {"username": "alice@acme.example", "password": "x"})
    html = assert_error_page(response, 403)
    assert "This form has expired" in html


def test_it_answers_csrf_failures_under_api_with_the_envelope(rf):
    from caly.foundation.error_views import csrf_failure

    response = csrf_failure(rf.post("/api/v1/anything"), reason="CSRF cookie not set.")
    assert response.status_code == 403 and b'"PERMISSION_DENIED"' in response.content


@pytest.mark.urls("tests.api_urls")
def test_it_shows_a_403_page(client):
    html = assert_error_page(client.get("/forbidden"), 403)
    assert "You don't have access" in html
