"""Security headers on pages and API answers (production's HTTPS-only headers: test_production.py)."""

import pytest

pytestmark = pytest.mark.django_db


def csp(response) -> dict[str, list[str]]:
    policy = {}
    for part in response["Content-Security-Policy"].split(";"):
        name, *values = part.split()
        policy[name] = values
    return policy


def test_it_sends_a_strict_csp_on_pages(client):
    policy = csp(client.get("/"))
    assert policy["script-src"] == ["'self'"]
    assert policy["object-src"] == ["'none'"] and policy["frame-ancestors"] == ["'none'"]
    assert policy["base-uri"] == ["'none'"]
    assert not any("unsafe" in value for values in policy.values() for value in values)


def test_it_sends_the_strictest_csp_on_json(client):
    assert csp(client.get("/health/live")) == {"default-src": ["'none'"], "frame-ancestors": ["'none'"]}


def test_it_allows_docs_styles_but_never_inline_scripts(client):
    policy = csp(client.get("/api/docs/"))
    assert "'unsafe-inline'" in policy["style-src"] and policy["script-src"] == ["'self'"]


@pytest.mark.parametrize("url", ["/", "/health/live", "/api/v1/no-such-thing", "/no-such-page"])
def test_it_sends_the_other_security_headers_everywhere(client, url):
    response = client.get(url)
    assert response["X-Frame-Options"] == "DENY"
    assert response["X-Content-Type-Options"] == "nosniff"
    assert response["Referrer-Policy"] == "strict-origin-when-cross-origin"
    assert response["Cross-Origin-Opener-Policy"] == "same-origin"
    policy = response["Permissions-Policy"]
    for feature in ("camera", "microphone", "geolocation", "payment", "usb"):
        assert f"{feature}=()" in policy


def test_it_keeps_pages_free_of_inline_scripts(client):
    import re

    html = client.get("/").content.decode() + client.get("/nope").content.decode()
    assert not re.search(r"<script(?![^>]*\bsrc=)[^>]*>", html)
    assert " on" + "click=" not in html and "javascript:" not in html


def test_it_lets_the_player_follow_presigned_urls_to_the_s3_endpoint(monkeypatch):
    import importlib

    import caly.settings.base as base

    monkeypatch.setenv("STORAGE_BACKEND", "s3")
    monkeypatch.setenv("S3_ENDPOINT_URL", "https://s3.ap-southeast-1.wasabisys.com")
    for name in ("S3_REGION_NAME", "S3_BUCKET_NAME", "S3_ACCESS_KEY_ID", "S3_SECRET_ACCESS_KEY"):
        monkeypatch.setenv(name, "x")
    try:
        media = importlib.reload(base).CONTENT_SECURITY_POLICY["DIRECTIVES"]["media-src"]
        assert media == ["'self'", "blob:", "https://s3.ap-southeast-1.wasabisys.com"]
    finally:
        monkeypatch.undo()
        importlib.reload(base)
