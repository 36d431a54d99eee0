"""Reading what Exotel sends: bodies in any of its encodings, and the values inside them.

Exotel posts StatusCallbacks form-encoded, as multipart (its default) or as JSON
(`StatusCallbackContentType=application/json`); the Passthru applet sends a GET with the same kind
of parameters in the query string. The view and the worker both parse through `parse_body`, so
what was acknowledged is exactly what gets processed.

Quirks handled here (shared/reference/external-apis.md):
- times are IST wall-clock `YYYY-MM-DD HH:mm:ss` with no zone;
- Passthru's `EndTime` is a constant `1970-01-01 05:30:00` (the epoch in IST): no real value;
- Passthru's `digits` arrive wrapped in double quotes;
- numbers arrive as national numbers (`09876543210`), bare ten digits or E.164. National numbers
  are taken to be Indian (+91): Exotel's numbers and its customers' are, and Exotel itself writes
  international ones with their `+` country code.
"""

from __future__ import annotations

import hashlib
import io
import json
import re
import zoneinfo
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any
from urllib.parse import parse_qsl

from django.conf import settings
from django.core.exceptions import SuspiciousOperation
from django.http.multipartparser import MultiPartParser, MultiPartParserError
from django.utils.datastructures import MultiValueDict

from recordings.models import CallStatus, Direction

IST = zoneinfo.ZoneInfo("Asia/Kolkata")
EXOTEL_TIME_FORMAT = "%Y-%m-%d %H:%M:%S"
FAKE_END_TIME = "1970-01-01 05:30:00"
INDIA_COUNTRY_CODE = "91"
CALL_SID = re.compile(r"^[A-Za-z0-9_-]{1,100}$")
E164 = re.compile(r"^\+[1-9][0-9]{6,14}$")

FORM = "application/x-www-form-urlencoded"
MULTIPART = "multipart/form-data"
JSON = "application/json"
QUERY = "query"  # the Passthru GET: the "body" is the query string
CONTENT_TYPES = (FORM, MULTIPART, JSON)

STATUSES = {
    "queued": CallStatus.QUEUED,
    "ringing": CallStatus.RINGING,
    "in-progress": CallStatus.IN_PROGRESS,
    "answered": CallStatus.IN_PROGRESS,
    "completed": CallStatus.COMPLETED,
    "busy": CallStatus.BUSY,
    "no-answer": CallStatus.NO_ANSWER,
    "failed": CallStatus.FAILED,
    "canceled": CallStatus.CANCELED,
    "cancelled": CallStatus.CANCELED,
}
# Passthru's CallType: how far the caller got in the flow when the applet ran.
CALL_TYPES = {
    "call-attempt": CallStatus.IN_PROGRESS,  # still in the flow
    "completed": CallStatus.COMPLETED,
    "voicemail": CallStatus.COMPLETED,  # the caller left a message
    "client-hangup": CallStatus.CANCELED,  # the caller hung up before being connected
    "incomplete": CallStatus.NO_ANSWER,  # nobody picked up
}
DIRECTIONS = {
    "inbound": Direction.INBOUND,
    "incoming": Direction.INBOUND,
    "outbound-api": Direction.OUTBOUND,
    "outbound-dial": Direction.OUTBOUND,
    "outbound": Direction.OUTBOUND,
}
TERMINAL = frozenset(
    {CallStatus.COMPLETED, CallStatus.BUSY, CallStatus.NO_ANSWER, CallStatus.FAILED, CallStatus.CANCELED}
)
# Fields that change between retries of one delivery and so stay out of its dedupe digest.
VOLATILE_FIELDS = ("CurrentTime",)


class PayloadError(ValueError):
    """The body or a value in it cannot be read; the message says what, for a 400 or the admin."""


class UnsupportedContentType(PayloadError):
    pass


# --- bodies ------------------------------------------------------------------------------------


def media_type(content_type: str) -> str:
    return content_type.split(";", 1)[0].strip().lower()


def parse_body(body: bytes, content_type: str) -> dict[str, Any]:
    """The fields of a delivery as a dict (form values are strings, JSON values as sent); raises PayloadError."""
    kind = media_type(content_type)
    if kind in (FORM, QUERY):
        return _parse_query(body)
    if kind == JSON:
        return _parse_json(body)
    if kind == MULTIPART:
        return _parse_multipart(body, content_type)
    raise UnsupportedContentType(f"Unsupported content type {kind or '(none)'!r}; send form data, multipart or JSON.")


def _parse_query(body: bytes) -> dict[str, Any]:
    try:
        pairs = parse_qsl(
            body.decode("utf-8"),
            keep_blank_values=True,
            encoding="utf-8",
            errors="strict",
            max_num_fields=settings.DATA_UPLOAD_MAX_NUMBER_FIELDS,
        )
    except UnicodeDecodeError:
        raise PayloadError("The body is not valid UTF-8.") from None
    except ValueError:
        raise PayloadError("The body has too many fields.") from None
    return dict(pairs)


def _parse_json(body: bytes) -> dict[str, Any]:
    try:
        data = json.loads(body.decode("utf-8"))
    except UnicodeDecodeError:
        raise PayloadError("The body is not valid UTF-8.") from None
    except (ValueError, RecursionError):
        raise PayloadError("The body is not valid JSON.") from None
    if not isinstance(data, dict):
        raise PayloadError("The JSON body must be an object.")
    return data


def _parse_multipart(body: bytes, content_type: str) -> dict[str, Any]:
    meta = {"CONTENT_TYPE": content_type, "CONTENT_LENGTH": str(len(body))}
    try:
        fields, _files = MultiPartParser(meta, io.BytesIO(body), [], "utf-8").parse()
    except (MultiPartParserError, SuspiciousOperation, ValueError):
        raise PayloadError("The multipart body is broken or has too many fields.") from None
    data = _last_values(fields)
    # Django decodes parts with errors="replace": a replacement character means the sender's bytes
    # were not UTF-8 (Exotel never sends U+FFFD itself).
    if any("\ufffd" in key or "\ufffd" in value for key, value in data.items()):
        raise PayloadError("The body is not valid UTF-8.")
    return data


def _last_values(values: MultiValueDict) -> dict[str, str]:
    return {key: values[key] for key in values}


def dedupe_digest(fields: dict[str, Any]) -> str:
    """A short digest of a delivery's fields: a retry of one delivery has the same, another delivery another."""
    stable = {key: value for key, value in fields.items() if key not in VOLATILE_FIELDS}
    canonical = json.dumps(stable, sort_keys=True, separators=(",", ":"), default=str)
    return hashlib.sha256(canonical.encode()).hexdigest()[:16]


# --- values ------------------------------------------------------------------------------------


def text(fields: dict[str, Any], *names: str) -> str:
    """The first of `names` present with a non-empty scalar value, as a stripped string ("" if none)."""
    for name in names:
        value = fields.get(name)
        if value is None or isinstance(value, (dict, list)):
            continue
        value = str(value).strip()
        if value and value.lower() != "null":
            return value
    return ""


def call_sid(fields: dict[str, Any]) -> str:
    """The CallSid, checked; raises PayloadError when it is missing or not an Exotel id."""
    if not isinstance(fields.get("CallSid", ""), str):  # JSON: Exotel's ids are strings, never numbers
        raise PayloadError("CallSid is not an Exotel call id.")
    sid = text(fields, "CallSid")
    if not sid:
        raise PayloadError("CallSid is missing.")
    if not CALL_SID.match(sid):
        raise PayloadError("CallSid is not an Exotel call id.")
    return sid


def phone_e164(value: str) -> str | None:
    """An Exotel number in E.164, or None if it is not a phone number (a SIP URI, "Anonymous", empty)."""
    digits = re.sub(r"[\s().-]", "", value or "")
    if digits.startswith("+"):
        candidate = digits
    elif digits.startswith("00"):
        candidate = "+" + digits[2:]
    elif digits.startswith("0") and len(digits) == 11:
        candidate = f"+{INDIA_COUNTRY_CODE}{digits[1:]}"
    elif len(digits) == 10 and digits[0] in "6789":
        candidate = f"+{INDIA_COUNTRY_CODE}{digits}"
    elif len(digits) == 12 and digits.startswith(INDIA_COUNTRY_CODE):
        candidate = "+" + digits
    else:
        return None
    return candidate if E164.match(candidate) else None


def exotel_time(value: str, *, name: str) -> datetime | None:
    """An IST `YYYY-MM-DD HH:mm:ss` as an aware datetime; None when empty or the fake EndTime."""
    value = (value or "").strip()
    if not value or value == FAKE_END_TIME or value.startswith("0000-00-00"):
        return None
    try:
        return datetime.strptime(value, EXOTEL_TIME_FORMAT).replace(tzinfo=IST)
    except ValueError:
        raise PayloadError(f"{name} is not a time in the form YYYY-MM-DD HH:mm:ss.") from None


def seconds(value: Any, *, name: str) -> int | None:
    if value is None or (isinstance(value, str) and not value.strip()):
        return None
    try:
        number = int(float(str(value).strip()))
    except (TypeError, ValueError):
        raise PayloadError(f"{name} is not a number of seconds.") from None
    if not 0 <= number <= 10**7:
        raise PayloadError(f"{name} is out of range.")
    return number


def trimmed_digits(value: str) -> str:
    """Passthru wraps the keys the caller pressed in double quotes: '"2"' is 2."""
    return value.strip().strip('"').strip()


# --- what a delivery says about a call ----------------------------------------------------------


@dataclass
class CallFacts:
    """What one delivery (or a Call Details answer) says about a call; None means "not said"."""

    call_sid: str
    source: str  # "status-callback", "passthru", "details" or "placed"
    direction: str | None = None
    from_number: str | None = None
    to_number: str | None = None
    status: str | None = None
    started_at: datetime | None = None
    answered_at: datetime | None = None
    ended_at: datetime | None = None
    duration_seconds: int | None = None
    recording_url: str = ""
    metadata: dict[str, Any] = field(default_factory=dict)
    end_time_is_fake: bool = False
    # The agent side's number (E.164): whom the Connect applet dialled (DialWhomNumber) on an inbound call,
    # `From` (rung first) on an outbound one.
    agent_number: str | None = None

    @property
    def is_terminal(self) -> bool:
        return self.status in TERMINAL

    @property
    def authoritative(self) -> bool:
        """Exotel's final word on a call: its terminal StatusCallback or Call Details. A Passthru is a step
        in a flow, and an earlier StatusCallback (answered) may arrive after the terminal one."""
        return self.source == "details" or (self.source == "status-callback" and self.is_terminal)


def _metadata(fields: dict[str, Any]) -> dict[str, Any]:
    metadata = {}
    custom = text(fields, "CustomField")
    if custom:
        metadata["custom_field"] = custom[:128]
    digits = fields.get("digits")
    if isinstance(digits, str) and trimmed_digits(digits):
        metadata["digits"] = trimmed_digits(digits)[:64]
    dialled = phone_e164(text(fields, "DialWhomNumber"))
    if dialled:
        metadata["dial_whom_number"] = dialled
    return metadata


def _agent_number(fields: dict[str, Any], direction: str | None) -> str | None:
    """The agent's number: `From` of an outbound call (Exotel rings it first), else whom a Connect applet dialled."""
    if direction == Direction.OUTBOUND:
        return phone_e164(text(fields, "From"))
    return phone_e164(text(fields, "DialWhomNumber"))


def status_callback_facts(fields: dict[str, Any]) -> CallFacts:
    """A StatusCallback (terminal or answered event)."""
    status_word = text(fields, "Status").lower()
    event_type = text(fields, "EventType").lower()
    status = STATUSES.get(status_word)
    if status is None and event_type == "answered":
        status = CallStatus.IN_PROGRESS
    if status_word and status is None:
        raise PayloadError(f"Status {status_word[:30]!r} is not an Exotel call status.")
    updated_at = exotel_time(text(fields, "DateUpdated"), name="DateUpdated")
    facts = CallFacts(
        call_sid=call_sid(fields),
        source="status-callback",
        direction=DIRECTIONS.get(text(fields, "Direction").lower()),
        from_number=phone_e164(text(fields, "From")),
        to_number=phone_e164(text(fields, "To")),
        status=status,
        started_at=exotel_time(text(fields, "StartTime"), name="StartTime")
        or exotel_time(text(fields, "DateCreated"), name="DateCreated"),
        ended_at=exotel_time(text(fields, "EndTime"), name="EndTime"),
        duration_seconds=seconds(fields.get("ConversationDuration"), name="ConversationDuration"),
        recording_url=text(fields, "RecordingUrl"),
        metadata=_metadata(fields),
        end_time_is_fake=text(fields, "EndTime") == FAKE_END_TIME,
    )
    facts.agent_number = _agent_number(fields, facts.direction)
    if event_type == "answered":
        facts.answered_at = updated_at
    elif facts.is_terminal and facts.ended_at is None and not facts.end_time_is_fake:
        facts.ended_at = updated_at
    if facts.started_at is None:
        facts.started_at = updated_at
    return facts


def passthru_facts(fields: dict[str, Any]) -> CallFacts:
    """A Passthru applet's GET. Its `Status` (busy/free) is the agent's state, not the call's: ignored."""
    call_type = text(fields, "CallType").lower()
    status = STATUSES.get(text(fields, "CallStatus").lower()) or CALL_TYPES.get(call_type)
    end_time = text(fields, "EndTime")
    return CallFacts(
        call_sid=call_sid(fields),
        source="passthru",
        agent_number=phone_e164(text(fields, "DialWhomNumber")),
        direction=DIRECTIONS.get(text(fields, "Direction").lower()),
        from_number=phone_e164(text(fields, "CallFrom", "From")),
        to_number=phone_e164(text(fields, "CallTo", "To")),
        status=status,
        started_at=exotel_time(text(fields, "StartTime"), name="StartTime"),
        ended_at=exotel_time(end_time, name="EndTime"),
        duration_seconds=seconds(fields.get("DialCallDuration"), name="DialCallDuration"),
        recording_url=text(fields, "RecordingUrl"),
        metadata=_metadata(fields),
        end_time_is_fake=end_time == FAKE_END_TIME,
    )


def details_facts(call: dict[str, Any]) -> CallFacts:
    """The `Call` object of a Call Details answer (`?details=true` adds `Details`)."""
    details = call.get("Details") if isinstance(call.get("Details"), dict) else {}
    duration = details.get("ConversationDuration")
    if duration in (None, ""):
        duration = call.get("Duration")
    status = STATUSES.get(text(call, "Status").lower())
    direction = DIRECTIONS.get(text(call, "Direction").lower())
    return CallFacts(
        call_sid=call_sid({"CallSid": call.get("Sid")}),
        source="details",
        agent_number=phone_e164(text(call, "From")) if direction == Direction.OUTBOUND else None,
        direction=direction,
        from_number=phone_e164(text(call, "From")),
        to_number=phone_e164(text(call, "To")),
        status=status,
        started_at=exotel_time(text(call, "StartTime"), name="StartTime")
        or exotel_time(text(call, "DateCreated"), name="DateCreated"),
        ended_at=exotel_time(text(call, "EndTime"), name="EndTime"),
        duration_seconds=seconds(duration, name="Duration"),
        recording_url=text(call, "RecordingUrl"),
        end_time_is_fake=text(call, "EndTime") == FAKE_END_TIME,
    )
