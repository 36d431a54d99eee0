"""Which URLs an endpoint may have: https to a public address (http to loopback only where the settings
allow it, local and test runs); the address is checked again, and pinned, at every delivery
(integrations/egress.py)."""

from __future__ import annotations

import ipaddress
from urllib.parse import urlsplit

import httpx
from django.conf import settings

from integrations import egress
from integrations.outbound.models import MAX_URL_LENGTH

# Names that only ever mean this machine or the local network.
LOCAL_SUFFIXES = (".localhost", ".local", ".localdomain", ".internal", ".intranet", ".lan", ".home.arpa")


def _literal_address(host: str) -> str | None:
    try:
        return str(ipaddress.ip_address(host.strip("[]")))
    except ValueError:
        return None


def url_problem(url: str, *, resolve: bool = True) -> str | None:
    """Why Caly will not send webhooks to `url`, or None. With `resolve`, a name that resolves to an
    address that is not public is refused too (a name that does not resolve yet is left to delivery)."""
    allow_loopback = settings.OUTBOUND_WEBHOOK_ALLOW_LOOPBACK
    if len(url) > MAX_URL_LENGTH:
        return f"At most {MAX_URL_LENGTH} characters."
    if any(ord(char) <= 32 or ord(char) == 127 for char in url):
        return "A URL has no spaces or control characters."
    try:
        parts = urlsplit(url)
        host = (parts.hostname or "").lower()
        parts.port  # noqa: B018 - raises ValueError for a port out of range
        parsed = httpx.URL(url)
    except (ValueError, httpx.InvalidURL):
        return "Enter a valid URL, such as https://example.com/webhooks/caly."
    if parts.scheme not in ("https", "http") or not host:
        return "Enter an https:// URL, such as https://example.com/webhooks/caly."
    if parts.username is not None or parts.password is not None:
        return "A webhook URL must not carry a user name or password."
    if parts.fragment:
        return "A webhook URL has no #fragment."
    address = _literal_address(host)
    loopback = (address is not None and ipaddress.ip_address(address).is_loopback) or host == "localhost"
    if parts.scheme == "http" and not (allow_loopback and loopback):
        return "Webhooks are sent over https only."
    if address is not None:
        problem = egress.address_problem(address, allow_loopback=allow_loopback)
        return f"Webhooks are sent to public addresses only: {problem}" if problem else None
    if host == "localhost" or host.endswith(LOCAL_SUFFIXES) or "." not in host:
        if host == "localhost" and allow_loopback:
            return None
        return f"Webhooks are sent to public addresses only, not to {host}."
    if resolve:
        try:
            egress.resolve_public(parsed, allow_loopback=allow_loopback)
        except egress.AddressRefused as exc:
            return f"Webhooks are sent to public addresses only: {exc}"
        except egress.AddressUnresolved:
            return None  # a name set up after the endpoint: each delivery checks it again
    return None
