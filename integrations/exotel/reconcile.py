"""Reconciliation through Exotel's Call Details API: what the callbacks lacked (recording, duration, end time).

The task integrations.exotel.tasks.reconcile_call runs one look-up and queues the next when this says so.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

from integrations.exotel import payload
from integrations.exotel.client import ExotelClient, ExotelError, ExotelNotFound, ExotelUnavailable
from integrations.exotel.services import exotel_call_upsert
from integrations.models import ExotelConnection
from recordings.fetch_queue import recording_queue
from recordings.models import Call, CallStatus, Provider, Recording

logger = logging.getLogger("caly.exotel")

# Exotel's Call Details settle (recording, duration, end time) 1–15 minutes after a call: look
# again every 10 minutes, three times.
RECONCILE_DELAY_SECONDS = 600
RECONCILE_MAX_ATTEMPTS = 3


@dataclass(frozen=True)
class Reconciled:
    call: Call | None
    look_again: bool = False  # in RECONCILE_DELAY_SECONDS


def exotel_call_reconcile(*, call_id: int, attempt: int = 1) -> Reconciled:
    """Fill in what the callbacks lacked from the Call Details API; says whether to look again (bounded)."""
    call = Call.objects.select_related("client").filter(pk=call_id, provider=Provider.EXOTEL).first()
    if call is None:
        return Reconciled(None)
    connection = ExotelConnection.objects.for_client(call.client).connected().first()
    if connection is None:
        return Reconciled(call)
    try:
        with ExotelClient(connection) as exotel:
            facts = payload.details_facts(exotel.call_details(call.provider_call_id))
    except (ExotelUnavailable, ExotelNotFound) as exc:
        logger.warning("Call details of %s unavailable (attempt %s): %s", call.public_id, attempt, exc)
        return Reconciled(call, look_again=_may_look_again(call, attempt))
    except (ExotelError, payload.PayloadError) as exc:
        logger.error("Call details of %s refused or not understood: %s", call.public_id, exc)
        return Reconciled(call)
    if facts.call_sid != call.provider_call_id:
        logger.error("Call details of %s answered another call", call.public_id)
        return Reconciled(call)
    call = exotel_call_upsert(client=call.client, facts=facts).call
    if facts.recording_url:
        recording_queue(call=call, source_url=facts.recording_url)
    elif call.status == CallStatus.COMPLETED and not Recording.objects.filter(call=call).exists():
        return Reconciled(call, look_again=_may_look_again(call, attempt))
    return Reconciled(call)


def _may_look_again(call: Call, attempt: int) -> bool:
    if attempt >= RECONCILE_MAX_ATTEMPTS:
        logger.info("Call %s: no recording after %s look-ups; giving up", call.public_id, attempt)
        return False
    return True
