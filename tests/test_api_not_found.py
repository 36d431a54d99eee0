"""Every /api/ path no route matches answers the envelope's 404, with DEBUG on as well as off."""

import pytest

pytestmark = pytest.mark.django_db

PATHS = [
    "/api/v1/no-such-thing",
    "/api/no-such-version/calls",
    "/api/v1/calls/not-a-uuid",
    "/api/v1/recordings/12345/download",
    "/api/v1/calls/",  # the routes have no trailing slash, and none is added
]


@pytest.mark.parametrize("debug", [True, False], ids=["DEBUG", "production"])
@pytest.mark.parametrize("path", PATHS)
def test_an_unknown_api_path_answers_the_envelope(api, alice, settings, path, debug):
    settings.DEBUG = debug
    api.force_authenticate(alice)

    response = api.get(path)

    assert response.status_code == 404
    assert response["Content-Type"] == "application/json"
    body = response.json()
    assert body["success"] is False and body["error"]["code"] == "NOT_FOUND"
    assert body["meta"]["request_id"] == response["X-Request-ID"]


@pytest.mark.parametrize("method", ["post", "put", "patch", "delete"])
def test_unsafe_methods_on_an_unknown_path_are_404_not_a_csrf_refusal(client, alice, settings, method):
    settings.DEBUG = True
    client.force_login(alice)  # a session, so CSRF would apply to a real route

    response = getattr(client, method)("/api/v1/no-such-thing", data="{}", content_type="application/json")

    assert response.status_code == 404 and response.json()["error"]["code"] == "NOT_FOUND"


def test_pages_keep_their_html_404(client):
    response = client.get("/no/such/page")

    assert response.status_code == 404 and response["Content-Type"].startswith("text/html")


def test_it_sends_browsers_asking_for_favicon_ico_to_the_icon(client):
    response = client.get("/favicon.ico")

    assert response.status_code == 302 and response["Location"].endswith(".svg")
    assert "max-age=86400" in response["Cache-Control"]
    assert client.get(response["Location"]).status_code == 200


@pytest.mark.parametrize("path", ["/admin/login/", "/admin/"])
def test_admin_pages_name_the_icon(client, staff, path):
    client.force_login(staff)

    assert b'<link rel="icon" href="/static/img/favicon' in client.get(path, follow=True).content


@pytest.mark.parametrize("debug", [True, False], ids=["DEBUG", "production"])
def test_no_slash_is_added_under_the_api(client, settings, debug):
    """A POST redirected to add a slash would arrive as a GET: the API answers 404 instead."""
    settings.DEBUG = debug

    response = client.post("/api/v1/client-errors", data="{}", content_type="application/json")

    assert response.status_code == 404 and response.json()["error"]["code"] == "NOT_FOUND"
    assert client.get("/accounts/login")["Location"] == "/accounts/login/"  # pages keep APPEND_SLASH
