"""What integrators read: the quick start (a curl request with an API key, checking a webhook's signature in
Python) and the API reference's introduction, with the error code table, both made from code.

The Developers page (caly/developers_views.py) and the OpenAPI document's description (`describe_api`, a
drf-spectacular post-processing hook, so Swagger UI and Redoc show it) use the same snippets; the tests run
the Python one against signatures made by the `standardwebhooks` package.
"""

from __future__ import annotations

from django.conf import settings

from accounts.roles import render_scope_markdown
from caly.foundation.api import errors

API_PATH = "/api/v1"

# Standard Webhooks (https://www.standardwebhooks.com): no library needed, the standard library does it.
VERIFY_WEBHOOK_PYTHON = '''\
import base64
import hashlib
import hmac
import time


def verify_caly_webhook(secret: str, headers, body: bytes, tolerance_seconds: int = 300) -> bool:
    """True when a delivery is Caly's: `secret` is the endpoint's whsec_… secret, `headers` the
    request's headers (a case-insensitive mapping, as Django and Flask give), `body` the raw bytes."""
    try:
        message_id = headers["webhook-id"]
        timestamp = headers["webhook-timestamp"]
        signatures = headers["webhook-signature"].split()
        sent_at = int(timestamp)
    except (KeyError, ValueError):
        return False
    if abs(time.time() - sent_at) > tolerance_seconds:
        return False  # too old or from the future: a replay
    key = base64.b64decode(secret.removeprefix("whsec_"))
    signed = f"{message_id}.{timestamp}.".encode() + body
    expected = base64.b64encode(hmac.new(key, signed, hashlib.sha256).digest()).decode()
    # During a secret rotation a delivery carries one signature per secret: any match will do.
    return any(
        version == "v1" and hmac.compare_digest(value, expected)
        for version, _, value in (signature.partition(",") for signature in signatures)
    )
'''


def curl_example(site_url: str | None = None) -> str:
    """A shell session listing the ten latest calls with an API key."""
    base = (site_url or settings.SITE_URL).rstrip("/")
    return (
        "export CALY_API_KEY='caly_live_…'   # the key, as shown once when it was created\n"
        f'curl -sS -H "Authorization: Bearer $CALY_API_KEY" "{base}{API_PATH}/calls?limit=10"'
    )


def api_description() -> str:
    """The OpenAPI document's introduction (Markdown): envelope, authentication, quick start, error codes."""
    return "\n\n".join(
        [
            "Calls, recordings and integrations for e-commerce companies on Exotel and Shopify.",
            "Every response is wrapped in the envelope `{success, data | error, meta}`: "
            '`{"success": true, "data": …, "meta": {"request_id": "…", "pagination": {…}}}` or '
            '`{"success": false, "error": {"code": "…", "message": "…", "details": {…}}, "meta": {…}}`. '
            "Quote `meta.request_id` (also the `X-Request-ID` header) to support.",
            "## Authentication",
            "**API keys**, for integrations: an admin or owner creates one on the Developers page (`/developers/`) "
            "or with `POST /api/v1/api-keys`, and sees it once. Send it as "
            "`Authorization: Bearer caly_live_<prefix>_<secret>`. A key acts as the member who created it, within "
            "its scope, and never more than that member's role allows at the time; it stops working when revoked, "
            "when it expires, or when its creator or the company is deactivated. Keys never manage keys, the team, "
            "integrations, webhook endpoints or the company's settings.",
            render_scope_markdown(),
            "**Access tokens (JWT)**, for people: `POST /api/v1/auth/login` gives a short-lived access token and a "
            "refresh token; send `Authorization: Bearer <access>` and exchange the refresh token at "
            "`POST /api/v1/auth/refresh`.",
            "## Quick start",
            "List the latest calls with a key:",
            f"```sh\n{curl_example()}\n```",
            "Check that a webhook delivery comes from Caly (Standard Webhooks: `webhook-id`, `webhook-timestamp` and "
            "`webhook-signature`, which is `v1,` and the base64 HMAC-SHA256 of `id.timestamp.body` keyed with the "
            "base64-decoded `whsec_` secret). Answer 2xx quickly and de-duplicate on `webhook-id`:",
            f"```python\n{VERIFY_WEBHOOK_PYTHON}```",
            "## Errors",
            "`error.code` is stable; the message is for people and may change.",
            errors.render_markdown(),
        ]
    )


def describe_api(result, generator, request, public):
    """drf-spectacular post-processing hook: the document's description is api_description()."""
    result.setdefault("info", {})["description"] = api_description()
    return result
