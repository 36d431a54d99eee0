"""DRF's exception handler, replaced: every failure becomes the error envelope with a stable code."""

from __future__ import annotations

import logging
import math

from django.core.exceptions import PermissionDenied as DjangoPermissionDenied
from django.core.exceptions import RequestDataTooBig, SuspiciousOperation, TooManyFieldsSent
from django.db import InterfaceError, OperationalError
from django.http import Http404
from django_ratelimit.exceptions import Ratelimited
from rest_framework import exceptions as drf
from rest_framework.response import Response
from rest_framework.views import set_rollback
from rest_framework_simplejwt.exceptions import InvalidToken

from caly.foundation.api.errors import error_payload, headers_for, status_for
from caly.foundation.errors import DomainError, ErrorCode

logger = logging.getLogger("caly.api")

_DRF_CODES: list[tuple[type[Exception], ErrorCode, str]] = [
    (drf.ValidationError, ErrorCode.VALIDATION_ERROR, "The request is invalid."),
    (drf.ParseError, ErrorCode.MALFORMED_REQUEST, "The request body could not be parsed."),
    (drf.NotAuthenticated, ErrorCode.AUTHENTICATION_REQUIRED, "Authentication credentials were not provided."),
    (drf.AuthenticationFailed, ErrorCode.TOKEN_INVALID, "The credentials are not valid."),
    (drf.PermissionDenied, ErrorCode.PERMISSION_DENIED, "You do not have permission to do this."),
    (drf.NotFound, ErrorCode.NOT_FOUND, "Not found."),
    (drf.MethodNotAllowed, ErrorCode.METHOD_NOT_ALLOWED, "Method not allowed."),
    (drf.NotAcceptable, ErrorCode.NOT_ACCEPTABLE, "The requested response format is not available."),
    (drf.UnsupportedMediaType, ErrorCode.UNSUPPORTED_MEDIA_TYPE, "Unsupported media type."),
    (drf.Throttled, ErrorCode.RATE_LIMITED, "Too many requests."),
]


def exception_handler(exc: Exception, context: dict) -> Response:
    """Map any exception raised in an API view to (status, envelope error); log the unexpected."""
    exc = _translate_django(exc)
    headers: dict[str, str] = {}
    if isinstance(exc, DomainError):
        status, payload = status_for(exc), error_payload(exc.code, exc.message, exc.details)
        headers.update(headers_for(exc))
    elif isinstance(exc, drf.APIException):
        status, payload = exc.status_code, _drf_payload(exc)
        if getattr(exc, "auth_header", None):
            headers["WWW-Authenticate"] = exc.auth_header
        if getattr(exc, "wait", None):
            headers["Retry-After"] = str(math.ceil(exc.wait))
    else:
        request = context.get("request")
        logger.error(
            "Unhandled exception in %s %s",
            getattr(request, "method", "?"),
            getattr(request, "path", "?"),
            exc_info=(type(exc), exc, exc.__traceback__),
        )
        status = 500
        payload = error_payload(ErrorCode.INTERNAL_ERROR, "Internal server error. Quote the request id to support.")
    set_rollback()
    return Response({"error": payload}, status=status, headers=headers)


def _translate_django(exc: Exception) -> Exception:
    if isinstance(exc, (OperationalError, InterfaceError)):
        # The database is unreachable (or a connection broke): a 503 tells callers, webhook senders
        # included, to retry; nothing was acknowledged. Connections recover on the next request.
        logger.warning("Database unavailable: %s", exc)
        return DomainError(
            ErrorCode.SERVICE_UNAVAILABLE,
            "The service is briefly unavailable; try again shortly.",
            retry_after=5,
        )
    if isinstance(exc, Ratelimited):
        return DomainError(ErrorCode.RATE_LIMITED, "Too many requests.", retry_after=60)
    if isinstance(exc, Http404):
        return drf.NotFound()
    if isinstance(exc, DjangoPermissionDenied):
        return drf.PermissionDenied()
    if isinstance(exc, RequestDataTooBig):
        return DomainError(ErrorCode.PAYLOAD_TOO_LARGE, "The request body is too large.")
    if isinstance(exc, TooManyFieldsSent):
        return DomainError(ErrorCode.PAYLOAD_TOO_LARGE, "The request has too many fields.")
    if isinstance(exc, SuspiciousOperation):
        return DomainError(ErrorCode.MALFORMED_REQUEST, "The request was rejected as malformed.")
    if isinstance(exc, UnicodeDecodeError):
        return DomainError(ErrorCode.MALFORMED_REQUEST, "The request is not valid UTF-8.")
    return exc


def _drf_payload(exc: drf.APIException) -> dict:
    match = next(((code, message) for exc_type, code, message in _DRF_CODES if isinstance(exc, exc_type)), None)
    if match is None:
        fallback = ErrorCode.INTERNAL_ERROR if exc.status_code >= 500 else ErrorCode.VALIDATION_ERROR
        return error_payload(fallback, str(exc.detail))
    code, message = match
    if isinstance(exc, InvalidToken) and _mentions_expiry(exc.detail):
        return error_payload(ErrorCode.TOKEN_EXPIRED, "The token has expired.")
    if isinstance(exc, drf.AuthenticationFailed) and exc.get_codes() == "token_expired":
        return error_payload(ErrorCode.TOKEN_EXPIRED, str(exc.detail))
    if isinstance(exc, drf.ValidationError):
        details = exc.detail if isinstance(exc.detail, dict) else {"non_field_errors": exc.detail}
        return error_payload(code, message, details)
    detail = exc.detail
    text = str(detail) if isinstance(detail, str) else message
    return error_payload(code, text)


def _mentions_expiry(detail) -> bool:
    """simplejwt lists why each token class refused the token; expiry reads "Token is expired"."""
    messages = detail.get("messages", []) if isinstance(detail, dict) else []
    return any("is expired" in str(m.get("message", "")) for m in messages if isinstance(m, dict))
