"""Stuck calls: calls Caly still has queued, ringing or in progress long after they started, because the
callbacks that would end them never came (a call placed through Caly whose StatusCallback was lost, an
inbound call whose Passthru was the last word). The scheduled sweep asks Exotel's Call Details API about
each and moves it on with the answer; a call Exotel gives no final status for is looked at again, at most
STUCK_MAX_ATTEMPTS times, and then marked failed with the reason in its metadata (`failure_reason`).

Bounded and idempotent: tenant by tenant, at most STUCK_CALLS_PER_CLIENT calls a client and
STUCK_CALLS_PER_RUN a run, least recently touched first, and a call is looked at again only once
STUCK_RECHECK_MINUTES have passed since it last changed (a look-up changes it), so a second run right
after the first asks Exotel nothing. One client's failure (its Exotel refusing, rate-limiting or
unreachable) never holds up the others. The task integrations.exotel.tasks.sweep_stuck_calls runs it.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from django.conf import settings
from django.db import transaction
from django.utils import timezone

from integrations.exotel import payload
from integrations.exotel.client import ExotelAuthError, ExotelClient, ExotelError, ExotelNotFound, ExotelUnavailable
from integrations.exotel.services import exotel_call_upsert
from integrations.models import ExotelConnection
from recordings.fetch_queue import recording_queue
from recordings.models import Call, CallStatus, Provider

logger = logging.getLogger("caly.exotel")

OPEN_STATUSES = (CallStatus.QUEUED, CallStatus.RINGING, CallStatus.IN_PROGRESS)
STUCK_MAX_ATTEMPTS = 3
STUCK_RECHECK_MINUTES = 10
STUCK_CALLS_PER_CLIENT = 50
STUCK_CALLS_PER_RUN = 500
# Exotel ends every call within its TimeLimit (at most 4 hours): one it still reports going after that is stuck
# at Exotel too. Younger calls it reports going are live, and are only looked at again later.
EXOTEL_MAX_CALL = timedelta(hours=4)
# Metadata keys the sweep writes on a call.
ATTEMPTS_KEY = "stuck_checks"
CHECKED_KEY = "stuck_checked_at"
REASON_KEY = "failure_reason"


@dataclass
class SweepSummary:
    """What one sweep did: calls looked up, moved on by Exotel's answer, still live, retried later, failed."""

    looked_up: int = 0
    updated: int = 0
    live: int = 0
    retried: int = 0
    failed: int = 0
    clients: int = 0
    client_errors: list[str] = field(default_factory=list)

    def as_dict(self) -> dict:
        return {
            "looked_up": self.looked_up,
            "updated": self.updated,
            "live": self.live,
            "retried": self.retried,
            "failed": self.failed,
            "clients": self.clients,
            "client_errors": self.client_errors,
        }


def stuck_calls(*, client, now: datetime, limit: int):
    """The client's Exotel calls open longer than EXOTEL_STUCK_CALL_MINUTES and not touched for
    STUCK_RECHECK_MINUTES, least recently touched first (on the client/status index)."""
    return (
        Call.objects.for_client(client)
        .filter(
            provider=Provider.EXOTEL,
            status__in=OPEN_STATUSES,
            started_at__lt=now - timedelta(minutes=settings.EXOTEL_STUCK_CALL_MINUTES),
            updated_at__lt=now - timedelta(minutes=STUCK_RECHECK_MINUTES),
        )
        .order_by("updated_at", "pk")[:limit]
    )


def exotel_stuck_calls_sweep(*, now: datetime | None = None) -> SweepSummary:
    """Ask Exotel about every client's stuck calls (bounded) and move each on; see the module's docstring."""
    now = now or timezone.now()
    summary = SweepSummary()
    budget = STUCK_CALLS_PER_RUN
    connections = ExotelConnection.objects.connected().select_related("client").filter(client__is_active=True)
    connections = connections.order_by("pk")
    for connection in connections.iterator():
        if budget <= 0:
            break
        calls = list(stuck_calls(client=connection.client, now=now, limit=min(STUCK_CALLS_PER_CLIENT, budget)))
        if not calls:
            continue
        budget -= len(calls)
        summary.clients += 1
        try:
            _sweep_client(connection, calls, now=now, summary=summary)
        except Exception:
            # One client's trouble must not stop the sweep of the others; its calls are looked at next run.
            logger.exception("Stuck calls of client %s could not be swept", connection.client.public_id)
            summary.client_errors.append(str(connection.client.public_id))
    if summary.looked_up:
        logger.info("Stuck calls swept: %s", summary.as_dict())
    return summary


def _sweep_client(connection: ExotelConnection, calls: list[Call], *, now: datetime, summary: SweepSummary) -> None:
    with ExotelClient(connection) as exotel:
        for call in calls:
            summary.looked_up += 1
            problem, exotel_unavailable = _look_up(exotel, call, now=now, summary=summary)
            if problem is None:
                continue
            if stuck_call_attempt_record(call=call, problem=problem, now=now):
                summary.failed += 1
            else:
                summary.retried += 1
            if exotel_unavailable:
                break  # Exotel is down or rate-limiting this account: the other calls wait for the next run


def _look_up(exotel: ExotelClient, call: Call, *, now: datetime, summary: SweepSummary) -> tuple[str | None, bool]:
    """Move `call` on with Exotel's answer. Returns why it is still stuck (None: it is not), and whether
    Exotel could not be reached."""
    try:
        facts = payload.details_facts(exotel.call_details(call.provider_call_id))
    except ExotelNotFound:
        return "Exotel has no such call on this account.", False
    except ExotelAuthError:
        return "Exotel refused the connection's API key and token.", True
    except ExotelUnavailable as exc:
        return f"Exotel could not be reached ({exc})", True
    except (ExotelError, payload.PayloadError) as exc:
        return f"Exotel's answer was not understood ({exc})", False
    if facts.call_sid != call.provider_call_id:
        return "Exotel answered about another call.", False
    updated = _apply_answer(call=call, facts=facts)
    if updated is None:
        summary.updated += 1  # a callback ended it meanwhile
        return None, False
    if facts.recording_url:
        recording_queue(call=updated, source_url=facts.recording_url)
    if updated.status not in OPEN_STATUSES:
        summary.updated += 1
        logger.info("Stuck call %s: Exotel says %s", call.public_id, updated.status)
        return None, False
    if now - updated.started_at < EXOTEL_MAX_CALL:
        summary.live += 1
        return None, False
    label = CallStatus(updated.status).label.lower()
    return f"Exotel still reports it {label} more than {EXOTEL_MAX_CALL.seconds // 3600} hours after it started.", False


@transaction.atomic
def _apply_answer(*, call: Call, facts: payload.CallFacts) -> Call | None:
    """Exotel's answer on the call, unless a callback ended it meanwhile (None then). A still-open answer
    is noted (CHECKED_KEY), so the call is looked at again only after STUCK_RECHECK_MINUTES."""
    locked = Call.objects.select_for_update().filter(pk=call.pk, status__in=OPEN_STATUSES).first()
    if locked is None:
        return None
    if facts.status in OPEN_STATUSES or facts.status is None:
        facts.metadata = {**facts.metadata, CHECKED_KEY: timezone.now().isoformat()}
    return exotel_call_upsert(client=call.client, facts=facts).call


@transaction.atomic
def stuck_call_attempt_record(*, call: Call, problem: str, now: datetime) -> bool:
    """Count one look-up that gave no final status; after the last of STUCK_MAX_ATTEMPTS the call is marked
    failed with the reason. Returns whether it was marked failed (False also when a callback ended it meanwhile)."""
    locked = Call.objects.select_for_update().filter(pk=call.pk, status__in=OPEN_STATUSES).first()
    if locked is None:
        return False
    attempts = int(locked.metadata.get(ATTEMPTS_KEY) or 0) + 1
    metadata = {ATTEMPTS_KEY: attempts, CHECKED_KEY: now.isoformat()}
    give_up = attempts >= STUCK_MAX_ATTEMPTS
    if give_up:
        metadata[REASON_KEY] = (
            f"No final status from Exotel: still {CallStatus(locked.status).label.lower()} after "
            f"{attempts} look-ups. {problem}"
        )[:500]
    facts = payload.CallFacts(
        call_sid=locked.provider_call_id,
        source="sweep",
        status=CallStatus.FAILED if give_up else None,
        metadata=metadata,
    )
    exotel_call_upsert(client=locked.client, facts=facts)
    log = logger.warning if give_up else logger.info
    log(
        "Stuck call %s: look-up %s of %s gave no final status (%s)%s",
        call.public_id,
        attempts,
        STUCK_MAX_ATTEMPTS,
        problem,
        "; marked failed" if give_up else "",
    )
    return give_up
