"""One attempt of one delivery: sign, send to the pinned public address, log what came back, decide what next.

The task integrations.outbound.tasks.deliver_webhook runs it and queues the next attempt it asks for.
2xx is success; anything else (3xx included: redirects are never followed), a timeout or a connection
error is a failure, retried after the next delay of OUTBOUND_WEBHOOK_RETRY_SCHEDULE_SECONDS with ±10 %
jitter (longer when a 429 or 503 says Retry-After, within MAX_RETRY_AFTER_SECONDS). A 410 disables the
endpoint at once; so does a delivery that used every attempt, or an endpoint failing for longer than
OUTBOUND_WEBHOOK_DISABLE_AFTER_DAYS. Either way its client's owners are e-mailed.
"""

from __future__ import annotations

import logging
import random
import time
from dataclasses import dataclass
from datetime import timedelta

import httpx
from django.conf import settings
from django.db import transaction
from django.utils import timezone

from accounts.audit import audit_record
from accounts.models import AuditAction, User
from accounts.roles import Role
from accounts.tasks import send_templated_email
from caly.foundation.tasks import enqueue_with_transaction
from integrations import egress
from integrations.outbound import destinations, signing
from integrations.outbound.models import (
    RESPONSE_EXCERPT_BYTES,
    DeliveryStatus,
    DisabledReason,
    OutboundAttempt,
    OutboundDelivery,
    WebhookEndpoint,
)

logger = logging.getLogger("caly.outbound")

MAX_RETRY_AFTER_SECONDS = 6 * 3600
JITTER = 0.1


@dataclass(frozen=True)
class Outcome:
    status_code: int | None = None
    excerpt: str = ""
    error: str = ""
    retry_after: float | None = None

    @property
    def succeeded(self) -> bool:
        return self.status_code is not None and 200 <= self.status_code < 300


def schedule() -> list[float]:
    return [float(seconds) for seconds in settings.OUTBOUND_WEBHOOK_RETRY_SCHEDULE_SECONDS]


def retry_delay(attempt: int, *, retry_after: float | None = None) -> float | None:
    """Seconds before attempt `attempt + 1`, jittered; None when `attempt` was the last one."""
    delays = schedule()
    if attempt >= len(delays):
        return None
    delay = delays[attempt] * random.uniform(1 - JITTER, 1 + JITTER)  # noqa: S311 - jitter, not a secret
    if retry_after is not None:
        delay = max(delay, min(retry_after, MAX_RETRY_AFTER_SECONDS))
    return delay


def secrets_in_use(endpoint: WebhookEndpoint, now) -> list[str]:
    """The current secret, and the previous one while the rotation's overlap lasts."""
    found = [endpoint.secret]
    if endpoint.previous_secret and endpoint.previous_secret_expires_at and endpoint.previous_secret_expires_at > now:
        found.append(endpoint.previous_secret)
    return found


def _excerpt(response: httpx.Response) -> str:
    read = b""
    for chunk in response.iter_bytes():
        read += chunk
        if len(read) >= RESPONSE_EXCERPT_BYTES:
            break
    return read[:RESPONSE_EXCERPT_BYTES].decode("utf-8", errors="replace")


def post(url: str, *, body: str, headers: dict[str, str]) -> Outcome:
    """POST `body` to `url`, at an address checked to be public, never following a redirect."""
    problem = destinations.url_problem(url, resolve=False)
    if problem:
        return Outcome(error=problem)
    target = httpx.URL(url)
    timeout = settings.OUTBOUND_WEBHOOK_TIMEOUT_SECONDS
    all_headers = {
        "Content-Type": "application/json",
        "User-Agent": f"Caly-Webhooks/{settings.APP_VERSION}",
        **headers,
    }
    try:
        with httpx.Client(timeout=httpx.Timeout(timeout), follow_redirects=False, trust_env=False) as http:

            def request_for(address_url, host_headers, extensions):
                return http.build_request(
                    "POST",
                    address_url,
                    content=body.encode(),
                    headers={**all_headers, **host_headers},
                    extensions={**extensions, "timeout": httpx.Timeout(timeout).as_dict()},
                )

            started = time.monotonic()
            response = egress.send_pinned(
                http, request_for, target, allow_loopback=settings.OUTBOUND_WEBHOOK_ALLOW_LOOPBACK, stream=True
            )
            try:
                excerpt = _excerpt(response) if time.monotonic() - started < timeout else ""
            finally:
                response.close()
    except egress.AddressRefused as exc:
        return Outcome(error=f"Not sent: {exc}")
    except egress.AddressUnresolved as exc:
        return Outcome(error=str(exc))
    except httpx.TimeoutException:
        return Outcome(error=f"No answer within {timeout:g} s.")
    except httpx.TransportError as exc:
        return Outcome(error=f"Could not connect ({type(exc).__name__}).")
    retry_after = egress.retry_after_seconds(response) if response.status_code in (429, 503) else None
    error = ""
    if response.is_redirect:
        error = f"Redirected to {response.headers.get('Location', '?')[:200]}: redirects are not followed."
    elif not 200 <= response.status_code < 300:
        error = f"HTTP {response.status_code}."
    return Outcome(status_code=response.status_code, excerpt=excerpt, error=error, retry_after=retry_after)


def delivery_attempt(*, delivery_id: int, attempt: int) -> float | None:
    """Make attempt number `attempt` of a delivery; returns the seconds to wait before the next one, or None.

    Idempotent: a delivery that is no longer pending, or whose attempt `attempt` was already made
    (a task run twice), is left alone.
    """
    delivery = OutboundDelivery.objects.select_related("endpoint", "event", "client").filter(pk=delivery_id).first()
    if delivery is None or delivery.status != DeliveryStatus.PENDING or delivery.attempts != attempt - 1:
        return None
    endpoint, event = delivery.endpoint, delivery.event
    if not endpoint.is_enabled and not delivery.is_manual:
        OutboundDelivery.objects.filter(pk=delivery.pk).update(
            status=DeliveryStatus.CANCELLED, next_attempt_at=None, last_error="The endpoint is disabled."
        )
        return None
    started_at = timezone.now()
    timestamp = int(time.time())
    headers = signing.headers(
        secrets_in_use=secrets_in_use(endpoint, started_at),
        msg_id=event.webhook_id,
        timestamp=timestamp,
        body=event.body,
    )
    clock = time.monotonic()
    outcome = post(endpoint.url, body=event.body, headers=headers)
    duration_ms = int((time.monotonic() - clock) * 1000)
    return _record(delivery, attempt, outcome, started_at=started_at, duration_ms=duration_ms)


def _record(
    delivery: OutboundDelivery, attempt: int, outcome: Outcome, *, started_at, duration_ms: int
) -> float | None:
    endpoint = delivery.endpoint
    now = timezone.now()
    delay = None
    with transaction.atomic():
        OutboundAttempt.objects.create(
            client_id=delivery.client_id,
            delivery=delivery,
            number=attempt,
            started_at=started_at,
            duration_ms=duration_ms,
            status_code=outcome.status_code,
            succeeded=outcome.succeeded,
            response_excerpt=outcome.excerpt,
            error=outcome.error[:500],
        )
        updates = {"attempts": attempt, "last_status_code": outcome.status_code, "last_error": outcome.error[:500]}
        if outcome.succeeded:
            updates.update(status=DeliveryStatus.SUCCEEDED, next_attempt_at=None)
            WebhookEndpoint.objects.filter(pk=endpoint.pk).update(failing_since=None, last_success_at=now)
        else:
            gone = outcome.status_code == 410
            manual_to_disabled = delivery.is_manual and not endpoint.is_enabled
            delay = None if gone or manual_to_disabled else retry_delay(attempt, retry_after=outcome.retry_after)
            if delay is None:
                updates.update(status=DeliveryStatus.FAILED, next_attempt_at=None)
            else:
                updates["next_attempt_at"] = now + timedelta(seconds=delay)
            if endpoint.is_enabled:
                failing_since = endpoint.failing_since or started_at
                if endpoint.failing_since is None:
                    WebhookEndpoint.objects.filter(pk=endpoint.pk, failing_since=None).update(failing_since=started_at)
                days = settings.OUTBOUND_WEBHOOK_DISABLE_AFTER_DAYS
                if gone:
                    _disable(endpoint, DisabledReason.GONE, "The endpoint answered 410 Gone.")
                    delay = None
                    updates.update(status=DeliveryStatus.FAILED, next_attempt_at=None)
                elif delay is None and not delivery.is_manual:
                    _disable(endpoint, DisabledReason.FAILING, f"A delivery failed {attempt} times: {outcome.error}")
                elif now - failing_since > timedelta(days=days):
                    _disable(endpoint, DisabledReason.FAILING, f"Every delivery has failed for over {days} days.")
                    delay = None
                    updates.update(status=DeliveryStatus.FAILED, next_attempt_at=None)
        OutboundDelivery.objects.filter(pk=delivery.pk, attempts=attempt - 1).update(**updates, updated_at=now)
    return delay


def _disable(endpoint: WebhookEndpoint, reason: DisabledReason, message: str) -> None:
    """Disable a failing endpoint, cancel what was waiting for it, audit it (no actor: nobody did it) and
    e-mail its client's owners (once)."""
    now = timezone.now()
    disabled = WebhookEndpoint.objects.filter(pk=endpoint.pk, is_enabled=True).update(
        is_enabled=False, disabled_reason=reason, disabled_message=message[:500], disabled_at=now, updated_at=now
    )
    if not disabled:
        return  # another attempt disabled it first, and told the owners
    OutboundDelivery.objects.filter(endpoint=endpoint, status=DeliveryStatus.PENDING, is_manual=False).update(
        status=DeliveryStatus.CANCELLED, next_attempt_at=None, last_error="The endpoint was disabled.", updated_at=now
    )
    logger.warning("Outbound webhook endpoint %s disabled: %s", endpoint.public_id, message)
    audit_record(
        action=AuditAction.WEBHOOK_ENDPOINT_DISABLED,
        client=endpoint.client,
        actor=None,
        target=endpoint,
        metadata={"url": endpoint.url, "reason": reason.value, "message": message[:500]},
    )
    owners = User.objects.filter(client_id=endpoint.client_id, role=Role.OWNER, is_active=True).order_by("pk")
    for owner in owners:
        enqueue_with_transaction(
            send_templated_email,
            to=owner.email,
            template="webhook_endpoint_disabled",
            context={
                "name": owner.get_short_name(),
                "url": endpoint.url,
                "reason": message,
                "link": f"{settings.SITE_URL}/developers/webhooks/",
            },
        )
