"""The HTTP side of errors: each code's status and headers, and the one function that shapes every body."""

from __future__ import annotations

from typing import Any

from caly.foundation import context
from caly.foundation.errors import DomainError, ErrorCode

# code -> (HTTP status, when it happens). The README's error table is generated from this.
ERRORS: dict[ErrorCode, tuple[int, str]] = {
    ErrorCode.VALIDATION_ERROR: (
        400,
        "A field, query parameter, page or cursor is invalid; `details` maps each field to its problems.",
    ),
    ErrorCode.MALFORMED_REQUEST: (400, "The body could not be parsed (invalid JSON, invalid UTF-8, broken multipart)."),
    ErrorCode.AUTHENTICATION_REQUIRED: (401, "No credentials were sent."),
    ErrorCode.TOKEN_INVALID: (401, "The credentials are wrong, revoked, of the wrong type, or the user is inactive."),
    ErrorCode.TOKEN_EXPIRED: (401, "The access token has expired (refresh it), or the API key has (create a new one)."),
    ErrorCode.PERMISSION_DENIED: (
        403,
        "Authenticated, but the role (or, with an API key, the key's scope) does not allow this action.",
    ),
    ErrorCode.EMAIL_NOT_VERIFIED: (
        403,
        "The email address is not verified yet; follow the link in the verification email.",
    ),
    ErrorCode.NOT_FOUND: (404, "No such route, or no such object for this client."),
    ErrorCode.METHOD_NOT_ALLOWED: (405, "The route exists but not for this method; see the `Allow` header."),
    ErrorCode.NOT_ACCEPTABLE: (406, "The `Accept` header asks for a format the API does not produce."),
    ErrorCode.CONFLICT: (409, "The request conflicts with existing data (a duplicate, a stale state)."),
    ErrorCode.PAYLOAD_TOO_LARGE: (413, "The body is larger than the endpoint accepts."),
    ErrorCode.UNSUPPORTED_MEDIA_TYPE: (415, "The `Content-Type` is not one the endpoint parses."),
    ErrorCode.RATE_LIMITED: (429, "Too many requests; retry after the seconds in `Retry-After`."),
    ErrorCode.INTERNAL_ERROR: (500, "An unexpected error; it is logged with the request id."),
    ErrorCode.PROVIDER_ERROR: (
        502,
        "A provider (Exotel, Shopify) refused the request Caly made for you; the message gives its reason.",
    ),
    ErrorCode.SERVICE_UNAVAILABLE: (
        503,
        "A dependency (database, cache, storage, provider) is unavailable; retry later.",
    ),
}

_CODE_FOR_STATUS = {status: code for code, (status, _) in reversed(ERRORS.items())}


def code_for_status(status: int) -> ErrorCode:
    return _CODE_FOR_STATUS.get(status, ErrorCode.INTERNAL_ERROR if status >= 500 else ErrorCode.VALIDATION_ERROR)


def status_for(error: DomainError) -> int:
    """The HTTP status a domain error answers with: its code's, from the table above."""
    return ERRORS[error.code][0]


def headers_for(error: DomainError) -> dict[str, str]:
    """The HTTP headers a domain error carries: Retry-After when it says when to try again."""
    return {"Retry-After": str(error.retry_after)} if error.retry_after is not None else {}


def error_payload(code: ErrorCode | str, message: str, details: Any = None) -> dict[str, Any]:
    error: dict[str, Any] = {"code": str(code), "message": message}
    if details not in (None, {}, []):
        error["details"] = details
    return error


def envelope(
    *, data: Any = None, error: dict[str, Any] | None = None, pagination: dict | None = None
) -> dict[str, Any]:
    """The one shape of every /api/ body: success with data, or failure with error; meta always."""
    meta: dict[str, Any] = {"request_id": context.current_request_id()}
    if pagination is not None:
        meta["pagination"] = pagination
    if error is not None:
        return {"success": False, "error": error, "meta": meta}
    return {"success": True, "data": data, "meta": meta}


def render_markdown() -> str:
    rows = ["| code | HTTP status | when |", "|---|---|---|"]
    rows += [f"| `{code}` | {status} | {text} |" for code, (status, text) in ERRORS.items()]
    return "\n".join(rows)
