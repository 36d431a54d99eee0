"""Per-request values that log lines and tasks need, kept in a contextvar."""

from __future__ import annotations

import re
import uuid
from contextvars import ContextVar
from dataclasses import dataclass, field

REQUEST_ID_HEADER = "X-Request-ID"
_SAFE_REQUEST_ID = re.compile(r"[A-Za-z0-9][A-Za-z0-9._:-]{7,127}")


@dataclass
class RequestContext:
    request_id: str
    method: str = ""
    path: str = ""
    user_id: int | None = None
    client_id: int | None = None
    extra: dict = field(default_factory=dict)


_current: ContextVar[RequestContext | None] = ContextVar("caly_request", default=None)


def clean_request_id(inbound: str | None) -> str:
    """Keep a well-formed inbound id (8–128 safe characters); otherwise make a new UUID."""
    if inbound and _SAFE_REQUEST_ID.fullmatch(inbound):
        return inbound
    return str(uuid.uuid4())


# Secrets travel in these paths (e-mailed links, Exotel's callback token): logs show the route, never
# the token. Not anchored: the same paths inside other text (a request's repr) are caught too.
_SECRET_PATH = re.compile(
    r"(/accounts/(?:verify|password/reset|invitations)/(?!resend/)|/api/v1/webhooks/exotel/[^/\s]+/)[^/\s'\"]+/"
)


def loggable_path(path: str) -> str:
    return _SECRET_PATH.sub(r"\1[REDACTED]/", path)


def current() -> RequestContext | None:
    return _current.get()


def current_request_id() -> str | None:
    context = _current.get()
    return context.request_id if context else None


def activate(context: RequestContext):
    return _current.set(context)


def deactivate(token) -> None:
    _current.reset(token)
