"""The one HTTP client for Shopify's GraphQL Admin API: authentication, retries and cost-based throttling.

Shopify limits GraphQL by calculated query cost, not by request count: every answer carries
`extensions.cost.throttleStatus` (how many points the app has left in its bucket and how fast it
refills). The client remembers it and waits, before a request, until the bucket holds the points
the request will ask for; a `THROTTLED` answer is waited out and retried. 429, 5xx and network
errors are retried with exponential backoff. Every wait is bounded and goes through the
module-level `sleep` and `monotonic`, which tests replace with a fake clock.

The URL is built from the connection's validated `*.myshopify.com` domain and API version only;
settings.SHOPIFY_API_BASE_URL_OVERRIDE (tests only, not an environment variable) replaces the origin.
"""

from __future__ import annotations

import logging
import math
import time
from dataclasses import dataclass
from typing import Any

import httpx
from django.conf import settings
from django.core.exceptions import ValidationError

from integrations.models import ShopifyConnection, api_version_validator, shop_domain_validator

logger = logging.getLogger("caly.shopify")

sleep = time.sleep
monotonic = time.monotonic

HTTP_ATTEMPTS = 4  # one try and three retries on 429, 5xx and network errors
HTTP_RETRY_BASE_SECONDS = 1.0
HTTP_RETRY_MAX_SECONDS = 30.0
THROTTLE_RETRIES = 5
THROTTLE_MIN_WAIT_SECONDS = 0.5
THROTTLE_MAX_WAIT_SECONDS = 60.0


class ShopifyError(Exception):
    """Shopify could not answer the request; the message is safe to show to the client's admins."""


class ShopifyAuthError(ShopifyError):
    pass


class ShopifyNotFound(ShopifyError):
    pass


class ShopifyUnavailable(ShopifyError):
    pass


@dataclass(frozen=True)
class ThrottleStatus:
    maximum_available: float
    currently_available: float
    restore_rate: float
    observed_at: float  # monotonic() when Shopify reported it

    def available_at(self, now: float) -> float:
        """The bucket refills continuously: what it holds `now`, from what it held when reported."""
        refilled = self.currently_available + max(now - self.observed_at, 0.0) * self.restore_rate
        return min(refilled, self.maximum_available)

    def wait_for(self, cost: float, now: float) -> float:
        """Seconds until the bucket holds `cost` points (0 when it already does)."""
        if self.restore_rate <= 0:
            return 0.0
        missing = min(cost, self.maximum_available) - self.available_at(now)
        return max(missing / self.restore_rate, 0.0)


def api_url(connection: ShopifyConnection) -> str:
    """The GraphQL endpoint; refuses a domain or version the model would not accept."""
    try:
        shop_domain_validator(connection.shop_domain)
        api_version_validator(connection.api_version)
    except ValidationError:
        raise ShopifyError("The Shopify connection's shop domain or API version is not valid.") from None
    origin = settings.SHOPIFY_API_BASE_URL_OVERRIDE.rstrip("/") or f"https://{connection.shop_domain}"
    return f"{origin}/admin/api/{connection.api_version}/graphql.json"


class ShopifyClient:
    """GraphQL calls for one connection. Use as a context manager (it holds a connection pool)."""

    def __init__(self, connection: ShopifyConnection, *, http_attempts: int = HTTP_ATTEMPTS, wait: bool = True):
        self.url = api_url(connection)
        self.shop_domain = connection.shop_domain
        self.http_attempts = http_attempts
        self.wait = wait  # False: fail at once instead of waiting (interactive checks)
        self.throttle: ThrottleStatus | None = None
        self.last_cost: dict[str, Any] = {}
        connect, read = settings.INTEGRATION_HTTP_TIMEOUT
        self._http = httpx.Client(
            timeout=httpx.Timeout(read, connect=connect),
            follow_redirects=False,
            headers={
                "X-Shopify-Access-Token": connection.access_token,
                "Content-Type": "application/json",
                "Accept": "application/json",
            },
        )

    def __enter__(self) -> ShopifyClient:
        return self

    def __exit__(self, *exc_info) -> None:
        self.close()

    def close(self) -> None:
        self._http.close()

    def query(self, query: str, variables: dict[str, Any] | None = None, *, cost: float | None = None) -> dict:
        """Run a query and return its `data`; `cost` (the query's requested cost) lets it wait for the bucket first.

        Raises ShopifyAuthError (401/403), ShopifyNotFound (404), ShopifyUnavailable (network, 5xx,
        429 or throttling that outlasted the retries) and ShopifyError (GraphQL errors).
        """
        throttled = 0
        while True:
            # After a THROTTLED answer the wait was just taken: a second one here would double it.
            if cost is not None and self.throttle is not None and not throttled:
                self._pause(self.throttle.wait_for(cost, monotonic()), reason="to let the cost bucket refill")
            payload = self._post({"query": query, "variables": variables or {}})
            self._remember_cost(payload)
            errors = payload.get("errors") or []
            if not _is_throttled(errors):
                break
            throttled += 1
            if throttled > THROTTLE_RETRIES or not self.wait:
                raise ShopifyUnavailable("Shopify kept throttling the requests; try again later.")
            requested = self.last_cost.get("requestedQueryCost") or cost or 0
            delay = self.throttle.wait_for(requested, monotonic()) if self.throttle else 0.0
            self._pause(max(delay, THROTTLE_MIN_WAIT_SECONDS), reason="after a THROTTLED answer")
        if errors:
            raise ShopifyError(f"Shopify refused the query: {_error_summary(errors)}")
        data = payload.get("data")
        if not isinstance(data, dict):
            raise ShopifyError("Shopify answered without data.")
        return data

    def _post(self, body: dict) -> dict:
        for attempt in range(1, self.http_attempts + 1):
            retry_after = None
            try:
                response = self._http.post(self.url, json=body)
            except httpx.TransportError as exc:
                logger.warning("Shopify request failed: %s: %s", type(exc).__name__, exc)
                problem = "the connection failed"
            else:
                status = response.status_code
                if status in (401, 403):
                    raise ShopifyAuthError("Shopify refused the access token.")
                if status == 404:
                    raise ShopifyNotFound(f"Shopify has no shop at {self.shop_domain}, or no such API version.")
                if status in (402, 423):  # Shopify's answers for a frozen (unpaid) or locked shop
                    raise ShopifyError(f"Shopify says the shop {self.shop_domain} is frozen or locked (HTTP {status}).")
                if status == 200:
                    return _json(response)
                if status != 429 and status < 500:
                    raise ShopifyError(f"Shopify answered HTTP {status}.")
                problem = f"it answered HTTP {status}"
                retry_after = _retry_after(response)
            if attempt == self.http_attempts or not self.wait:
                raise ShopifyUnavailable(f"Could not reach Shopify: {problem}.")
            delay = min(HTTP_RETRY_BASE_SECONDS * 2 ** (attempt - 1), HTTP_RETRY_MAX_SECONDS)
            if retry_after is not None:
                delay = max(delay, min(retry_after, HTTP_RETRY_MAX_SECONDS))
            self._pause(delay, reason=f"after attempt {attempt}: {problem}")
        raise AssertionError("unreachable")  # pragma: no cover

    def _remember_cost(self, payload: dict) -> None:
        cost = (payload.get("extensions") or {}).get("cost")
        if not isinstance(cost, dict):
            return
        self.last_cost = cost
        status = cost.get("throttleStatus")
        try:
            self.throttle = ThrottleStatus(
                maximum_available=float(status["maximumAvailable"]),
                currently_available=float(status["currentlyAvailable"]),
                restore_rate=float(status["restoreRate"]),
                observed_at=monotonic(),
            )
        except (TypeError, KeyError, ValueError):
            return
        if not all(math.isfinite(v) for v in (self.throttle.currently_available, self.throttle.restore_rate)):
            self.throttle = None

    def _pause(self, seconds: float, *, reason: str) -> None:
        seconds = min(seconds, THROTTLE_MAX_WAIT_SECONDS)
        if seconds <= 0:
            return
        logger.info("Shopify %s: waiting %.2f s %s", self.shop_domain, seconds, reason)
        sleep(seconds)


def _json(response: httpx.Response) -> dict:
    try:
        payload = response.json()
    except ValueError:
        raise ShopifyError("Shopify answered with something that is not JSON.") from None
    if not isinstance(payload, dict):
        raise ShopifyError("Shopify answered with something that is not a GraphQL response.")
    return payload


def _is_throttled(errors: list) -> bool:
    return any(isinstance(e, dict) and (e.get("extensions") or {}).get("code") == "THROTTLED" for e in errors)


def _error_summary(errors: list) -> str:
    messages = [str(e.get("message", ""))[:200] if isinstance(e, dict) else str(e)[:200] for e in errors[:3]]
    return "; ".join(m for m in messages if m) or "unknown error"


def _retry_after(response: httpx.Response) -> float | None:
    try:
        value = float(response.headers.get("Retry-After", ""))
    except ValueError:
        return None
    return value if math.isfinite(value) and value >= 0 else None
