"""Exotel behaviour: callback URLs, credentials checks, calls kept in step with Exotel, outbound calls.

Calls are keyed by (client, provider exotel, CallSid). Deliveries arrive in any order and more than
once, so `exotel_call_upsert` only ever moves a call forward: a terminal status is never replaced by
an earlier one (a late "ringing" after "completed"), and only Exotel's final word (a StatusCallback
or the Call Details API) may correct a terminal status given by a Passthru.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction
from django.urls import reverse
from django.utils import timezone

from accounts.audit import audit_record
from accounts.models import AuditAction, Client, User
from accounts.selectors import member_for_number
from caly.foundation.errors import DomainError, ErrorCode
from integrations.credentials import CheckResult
from integrations.exotel import payload
from integrations.exotel.client import (
    ExotelClient,
    ExotelError,
    ExotelUnavailable,
)
from integrations.exotel.credentials import exotel_credentials_check
from integrations.models import ExotelConnection
from integrations.services import connection_check_record
from recordings.models import Call, CallStatus, Direction, Provider, Recording
from recordings.services import call_create
from recordings.signals import call_saved_on_commit

STATUS_RANK: dict[str, int] = {CallStatus.QUEUED: 0, CallStatus.RINGING: 1, CallStatus.IN_PROGRESS: 2}
TERMINAL_RANK = 3


def _rank(status: str) -> int:
    return STATUS_RANK.get(status, TERMINAL_RANK)


# --- connection --------------------------------------------------------------------------------


def exotel_callback_urls(*, connection: ExotelConnection) -> dict[str, str]:
    """The absolute URLs to paste into Exotel: {"status_callback": …, "passthru": …}. They carry the secret token."""
    site = settings.SITE_URL.rstrip("/")
    kwargs = {"public_id": connection.public_id, "token": connection.webhook_token}
    return {
        "status_callback": site + reverse("exotel-status-callback", kwargs=kwargs),
        "passthru": site + reverse("exotel-passthru", kwargs=kwargs),
    }


def exotel_connection_check(*, connection: ExotelConnection) -> CheckResult:
    """Ask Exotel whether the key, token and account SID work; the outcome is kept on the connection."""
    return connection_check_record(connection=connection, result=exotel_credentials_check(connection))


# --- calls -------------------------------------------------------------------------------------


class MissingCallFacts(ValueError):
    """A call Caly has not seen yet cannot be created from what was delivered (no numbers)."""


@dataclass(frozen=True)
class CallUpsert:
    call: Call
    created: bool
    became_terminal: bool


def exotel_call_upsert(*, client: Client, facts: payload.CallFacts, placed_by: User | None = None) -> CallUpsert:
    """Create the call or move it forward with what `facts` say; race-safe. Raises MissingCallFacts.

    The agent is the member who placed the call through Caly (`placed_by`), else the member who registered
    the agent side's number (`facts.agent_number`); with nobody matched the number alone is kept.
    """
    with transaction.atomic():
        calls = Call.objects.select_for_update().filter(
            client=client, provider=Provider.EXOTEL, provider_call_id=facts.call_sid
        )
        call = calls.first()
        if call is None:
            created = _create_call(client=client, facts=facts, placed_by=placed_by)
            if created is not None:
                return CallUpsert(call=created, created=True, became_terminal=created.status in payload.TERMINAL)
            call = calls.get()  # another delivery created it a moment ago; its transaction has committed
        was_terminal = call.status in payload.TERMINAL
        changed = _apply(call, facts)
        if changed:
            call.full_clean(validate_unique=False, validate_constraints=False)
            call.save(update_fields=[*changed, "updated_at"])
            if "started_at" in changed:
                Recording.objects.filter(call=call).update(started_at=call.started_at)
            call_saved_on_commit(call=call, created=False, fields=changed)  # a new CustomField relinks the call
        became_terminal = not was_terminal and call.status in payload.TERMINAL
        return CallUpsert(call=call, created=False, became_terminal=became_terminal)


def _create_call(*, client: Client, facts: payload.CallFacts, placed_by: User | None) -> Call | None:
    """The new call, or None when another transaction created it first."""
    missing = [name for name in ("from_number", "to_number") if not getattr(facts, name)]
    if missing:
        raise MissingCallFacts(f"Call {facts.call_sid} is new to Caly and the delivery has no {', '.join(missing)}.")
    started_at = facts.started_at or timezone.now()
    answered_at = facts.answered_at
    if answered_at is None and facts.ended_at and facts.duration_seconds and facts.status == CallStatus.COMPLETED:
        answered_at = facts.ended_at - timedelta(seconds=facts.duration_seconds)
    fields = {
        "provider": Provider.EXOTEL,
        "provider_call_id": facts.call_sid,
        "direction": facts.direction or Direction.INBOUND,
        "from_number": facts.from_number,
        "to_number": facts.to_number,
        "status": facts.status or CallStatus.QUEUED,
        "started_at": started_at,
        "answered_at": answered_at,
        "ended_at": facts.ended_at,
        "duration_seconds": facts.duration_seconds or 0,
        "metadata": facts.metadata,
        "agent": placed_by or _member_of(client, facts.agent_number),
        "agent_number": facts.agent_number or "",
    }
    try:
        with transaction.atomic():
            return call_create(client=client, **fields)
    except IntegrityError:
        return None
    except ValidationError as exc:
        # full_clean reports the unique constraint too: then the other delivery won the race.
        if Call.objects.filter(client=client, provider=Provider.EXOTEL, provider_call_id=facts.call_sid).exists():
            return None
        raise MissingCallFacts(f"Call {facts.call_sid} cannot be created: {exc.messages}") from None


def _member_of(client: Client, number: str | None) -> User | None:
    return member_for_number(client=client, number=number) if number else None


def _apply(call: Call, facts: payload.CallFacts) -> list[str]:
    """Move `call` forward with `facts`; returns the names of the fields that changed."""
    updates: dict[str, Any] = {}
    current_rank = _rank(call.status)
    if facts.status:
        new_rank = _rank(facts.status)
        if new_rank > current_rank or (
            new_rank == TERMINAL_RANK == current_rank and facts.authoritative and facts.status != call.status
        ):
            updates["status"] = facts.status
    # Exotel's final word sets the start; a Passthru may only move it earlier (applets run mid-call).
    if facts.started_at and facts.source != "placed" and (facts.authoritative or facts.started_at < call.started_at):
        updates["started_at"] = facts.started_at
    if facts.ended_at and (call.ended_at is None or facts.authoritative):
        updates["ended_at"] = facts.ended_at
    # A duration comes with the end of a call; an earlier event's 0 never erases a known one.
    if facts.duration_seconds and (facts.is_terminal or facts.authoritative or not call.duration_seconds):
        updates["duration_seconds"] = facts.duration_seconds
    answered_at = facts.answered_at
    ended_at = updates.get("ended_at") or call.ended_at
    duration = updates.get("duration_seconds", call.duration_seconds)
    status = updates.get("status", call.status)
    if answered_at is None and status == CallStatus.COMPLETED and ended_at and duration:
        answered_at = ended_at - timedelta(seconds=duration)
    if answered_at and call.answered_at is None:
        updates["answered_at"] = answered_at
    metadata = {**call.metadata, **facts.metadata}
    if metadata != call.metadata:
        updates["metadata"] = metadata
    # A call placed through Caly stays its placer's; otherwise the latest number Exotel dialled is the agent's.
    if facts.agent_number and facts.agent_number != call.agent_number and "placed_by" not in call.metadata:
        updates["agent_number"] = facts.agent_number
        updates["agent"] = _member_of(call.client, facts.agent_number)
    changed = []
    for name, value in updates.items():
        if getattr(call, name) != value:
            setattr(call, name, value)
            changed.append(name)
    return changed


# --- outbound calls ----------------------------------------------------------------------------


def exotel_call_place(
    *,
    client: Client,
    actor: User,
    to_number: str,
    from_number: str,
    caller_id: str | None = None,
    record: bool = True,
    custom_field: str = "",
) -> Call:
    """Ask Exotel to ring `from_number` (the agent) and connect it to `to_number`; returns the queued call.

    Raises DomainError: CONFLICT (Exotel not connected, no caller id), VALIDATION_ERROR (a caller id
    that is not the connection's), PROVIDER_ERROR (Exotel refused) or SERVICE_UNAVAILABLE.
    """
    connection = ExotelConnection.objects.for_client(client).connected().first()
    if connection is None:
        raise DomainError(ErrorCode.CONFLICT, "Exotel is not connected: connect it on the integrations page first.")
    caller_ids = [str(number) for number in connection.caller_ids or []]
    if caller_id is None:
        if not caller_ids:
            raise DomainError(
                ErrorCode.CONFLICT, "The Exotel connection has no caller ids: add an ExoPhone to it first."
            )
        caller_id = caller_ids[0]
    elif caller_id not in caller_ids:
        raise DomainError(
            ErrorCode.VALIDATION_ERROR,
            "The request is invalid.",
            details={"caller_id": ["Use one of the Exotel connection's caller ids."]},
        )
    form = {
        "From": from_number,
        "To": to_number,
        "CallerId": caller_id,
        "Record": "true" if record else "false",
        "StatusCallback": exotel_callback_urls(connection=connection)["status_callback"],
        "StatusCallbackEvents[0]": "terminal",
        "StatusCallbackEvents[1]": "answered",
        "StatusCallbackContentType": "application/json",
    }
    if custom_field:
        form["CustomField"] = custom_field
    try:
        with ExotelClient(connection) as exotel:
            answer = exotel.connect(form)
    except ExotelUnavailable as exc:
        raise DomainError(
            ErrorCode.SERVICE_UNAVAILABLE,
            f"Exotel could not place the call: {exc}",
            retry_after=max(1, round(exc.retry_after or 30)),
        ) from None
    except ExotelError as exc:
        raise DomainError(ErrorCode.PROVIDER_ERROR, f"Exotel did not place the call: {exc}") from None
    try:
        started_at = payload.exotel_time(payload.text(answer, "StartTime", "DateCreated"), name="StartTime")
        call_sid = payload.call_sid({"CallSid": answer.get("Sid")})
    except payload.PayloadError as exc:
        raise DomainError(ErrorCode.PROVIDER_ERROR, f"Exotel's answer was not understood: {exc}") from None
    metadata = {"caller_id": caller_id, "placed_by": str(actor.public_id)}
    if custom_field:
        metadata["custom_field"] = custom_field
    facts = payload.CallFacts(
        call_sid=call_sid,
        source="placed",
        direction=Direction.OUTBOUND,
        from_number=from_number,
        to_number=to_number,
        status=CallStatus.QUEUED,
        started_at=started_at or timezone.now(),
        metadata=metadata,
        agent_number=from_number,
    )
    with transaction.atomic():
        call = exotel_call_upsert(client=client, facts=facts, placed_by=actor).call
        audit_record(
            action=AuditAction.CALL_PLACED,
            client=client,
            actor=actor,
            target=call,
            metadata={"to": to_number, "from": from_number, "caller_id": caller_id, "record": record},
        )
    return call
