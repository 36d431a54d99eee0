"""Exotel's callbacks: verify, store in the inbox (queued in the same transaction), acknowledge.

Exotel signs nothing, so each client's callback URLs carry the connection's public id and a random
token (compared in constant time), optionally behind HTTP Basic credentials. An unknown
connection, a wrong token and a deactivated client all look the same: a 404 with no side effect.
The work (calls, recordings) happens in the worker (processing.py); a view only parses enough to
refuse what can never be processed, so it answers within Exotel's 15 s by a wide margin.

Passthru (a GET from a flow's applet) always answers 200: in sync mode Exotel branches on 200 vs
302, and Caly never asks a flow to take the other branch.
"""

from __future__ import annotations

import base64
import binascii
import hmac
import logging

from django.conf import settings
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, OpenApiResponse, extend_schema
from rest_framework import serializers
from rest_framework.exceptions import AuthenticationFailed, NotAuthenticated
from rest_framework.parsers import FormParser, MultiPartParser
from rest_framework.response import Response

from accounts.api.base import PublicAPIView
from caly.foundation.api.parsers import JSONParser
from caly.foundation.errors import DomainError, ErrorCode
from caly.foundation.http import client_ip
from caly.foundation.ratelimit import enforce_rate
from integrations import crypto
from integrations.exotel import payload
from integrations.exotel.processing import PASSTHRU, STATUS_CALLBACK
from integrations.inbox import webhook_receive
from integrations.models import ExotelConnection, WebhookProvider

logger = logging.getLogger("caly.webhooks")

TAGS = ["webhooks"]
# DRF adds it as WWW-Authenticate to the 401s below (get_authenticate_header).
BASIC_CHALLENGE = 'Basic realm="Caly Exotel callbacks", charset="UTF-8"'
CONNECTION_FIELDS = (
    "id",
    "public_id",
    "client_id",
    "webhook_token",
    "callback_username",
    "callback_password",
    "client__public_id",
    "client__is_active",
)


class WebhookAckSerializer(serializers.Serializer):
    received = serializers.BooleanField(help_text="Always true: the delivery is stored and queued.")
    duplicate = serializers.BooleanField(help_text="The same delivery had already arrived; nothing new was stored.")


def _lenient(help_text: str = "") -> serializers.JSONField:
    """A field read leniently: Exotel sends strings, numbers, null or nothing depending on the
    encoding and the call, and refusing a delivery only makes Exotel retry it. A value that cannot
    be read is ignored; the delivery is stored as received either way."""
    return serializers.JSONField(required=False, help_text=help_text or "Usually a string; any value is accepted.")


def _query(help_text: str = "") -> serializers.CharField:
    """A Passthru parameter: text, possibly empty, read leniently like a StatusCallback's fields."""
    return serializers.CharField(required=False, allow_blank=True, help_text=help_text or None)


class StatusCallbackSerializer(serializers.Serializer):
    """What Exotel posts (form-encoded, multipart or JSON); only CallSid is required."""

    CallSid = serializers.RegexField(payload.CALL_SID.pattern, max_length=100, help_text="Exotel's call id.")
    Status = _lenient("completed, failed, busy, no-answer…")
    EventType = _lenient("terminal or answered")
    DateUpdated = _lenient("IST, YYYY-MM-DD HH:mm:ss")
    DateCreated = _lenient()
    From = _lenient()
    To = _lenient()
    Direction = _lenient("inbound, outbound-dial or outbound-api")
    StartTime = _lenient()
    EndTime = _lenient()
    ConversationDuration = _lenient("Seconds, as a number or a string.")
    RecordingUrl = _lenient()
    CustomField = _lenient()


class PassthruQuerySerializer(serializers.Serializer):
    """The Passthru applet's query parameters; which arrive depends on where the applet sits in the flow."""

    CallSid = serializers.RegexField(payload.CALL_SID.pattern, max_length=100, help_text="Exotel's call id.")
    CallFrom = _query()
    CallTo = _query()
    CallStatus = _query()
    CallType = _query("call-attempt, completed, client-hangup, incomplete or voicemail")
    Direction = _query("incoming or outbound-dial")
    StartTime = _query()
    EndTime = _query("Always 1970-01-01 05:30:00: ignored")
    DialCallDuration = _query("Seconds.")
    DialWhomNumber = _query()
    digits = _query('Keys pressed, in double quotes ("2")')
    RecordingUrl = _query()
    CustomField = _query()


PATH_PARAMETERS = [
    OpenApiParameter("public_id", OpenApiTypes.UUID, OpenApiParameter.PATH, description="The connection's id."),
    OpenApiParameter(
        "token", OpenApiTypes.STR, OpenApiParameter.PATH, description="The connection's secret callback token."
    ),
]
REJECTIONS = {
    401: OpenApiResponse(description="Basic credentials are set on the connection and were missing or wrong"),
    404: OpenApiResponse(description="Unknown connection, wrong token or deactivated client"),
}


class _ExotelWebhookView(PublicAPIView):
    topic = ""
    serializer_class = WebhookAckSerializer

    def get_authenticate_header(self, request) -> str:
        return BASIC_CHALLENGE

    def _connection(self, request, public_id, token: str) -> ExotelConnection:
        connection = (
            # A disconnected connection keeps its URL for when it is connected again, and takes nothing meanwhile.
            ExotelConnection.objects.connected()
            .select_related("client")
            .only(*CONNECTION_FIELDS)
            .filter(public_id=public_id)
            .first()
        )
        try:
            valid = (
                connection is not None
                and connection.client.is_active
                and hmac.compare_digest(token.encode(), connection.webhook_token.encode())
            )
        except crypto.DecryptionError:
            logger.error("Exotel connection %s: the webhook token cannot be decrypted", public_id)
            raise DomainError(ErrorCode.SERVICE_UNAVAILABLE, "Callbacks are briefly unavailable.") from None
        if not valid:
            raise DomainError(ErrorCode.NOT_FOUND, "No such callback URL.")
        if connection.callback_username:
            _check_basic_credentials(request, connection)
        enforce_rate(
            request,
            group=f"exotel-{self.topic}",
            key=lambda group, request: str(connection.public_id),
            rate=settings.RATE_LIMIT_WEBHOOK,
        )
        return connection

    def _receive(self, request, connection: ExotelConnection, body: bytes, content_type: str) -> Response:
        try:
            fields = payload.parse_body(body, content_type or payload.QUERY)
        except payload.UnsupportedContentType as exc:
            raise DomainError(ErrorCode.UNSUPPORTED_MEDIA_TYPE, str(exc)) from None
        except payload.PayloadError as exc:
            raise DomainError(ErrorCode.MALFORMED_REQUEST, str(exc)) from None
        try:
            call_sid = payload.call_sid(fields)
        except payload.PayloadError as exc:
            details = {"CallSid": [str(exc)]}
            raise DomainError(ErrorCode.VALIDATION_ERROR, "The request is invalid.", details=details) from None
        state = payload.text(fields, "CallType" if self.topic == PASSTHRU else "Status") or "-"
        event_type = payload.text(fields, "EventType")
        kind = "passthru" if self.topic == PASSTHRU else "status"
        _, created = webhook_receive(
            client=connection.client,
            provider=WebhookProvider.EXOTEL,
            dedupe_key=f"{call_sid}:{kind}:{state[:30]}:{event_type[:30]}:{payload.dedupe_digest(fields)}",
            topic=self.topic,
            body=body,
            headers={
                "User-Agent": request.headers.get("User-Agent", "")[:300],
                "X-Request-ID": getattr(request, "request_id", ""),
                "Remote-Addr": client_ip(request),
            },
            content_type=content_type,
        )
        return Response({"received": True, "duplicate": not created})


def _check_basic_credentials(request, connection: ExotelConnection) -> None:
    scheme, _, encoded = request.headers.get("Authorization", "").partition(" ")
    if scheme.lower() != "basic" or not encoded.strip():
        raise NotAuthenticated("These callbacks need HTTP Basic credentials.")
    try:
        username, _, password = base64.b64decode(encoded.strip(), validate=True).decode("utf-8").partition(":")
    except (binascii.Error, UnicodeDecodeError):
        username, password = "", None
    matches = hmac.compare_digest(username.encode(), connection.callback_username.encode())
    matches &= password is not None and hmac.compare_digest(password.encode(), connection.callback_password.encode())
    if not matches:
        raise AuthenticationFailed("The callback credentials are wrong.")


class ExotelStatusCallbackView(_ExotelWebhookView):
    topic = STATUS_CALLBACK
    parser_classes = [JSONParser, FormParser, MultiPartParser]  # documents the accepted types; parsed below

    @extend_schema(
        tags=TAGS,
        summary="Exotel StatusCallback (paste this client's URL into Exotel)",
        description=(
            "Exotel posts here when a call is answered or ends. The delivery is stored and queued, then "
            "processed in the background (the call is created or updated, its recording fetched). "
            "A repeated delivery answers 200 too and stores nothing new."
        ),
        parameters=PATH_PARAMETERS,
        request=dict.fromkeys(payload.CONTENT_TYPES, StatusCallbackSerializer),
        responses={200: WebhookAckSerializer, **REJECTIONS},
        auth=[],
    )
    def post(self, request, public_id, token):
        connection = self._connection(request, public_id, token)
        return self._receive(request, connection, request.body, request.META.get("CONTENT_TYPE", ""))


class ExotelPassthruView(_ExotelWebhookView):
    topic = PASSTHRU

    @extend_schema(
        tags=TAGS,
        summary="Exotel Passthru applet (paste this client's URL into the applet)",
        description=(
            "Exotel's Passthru applet calls this with the call's details in the query string. It always "
            "answers 200 when the URL is right, so a flow in sync mode always takes its 200 branch."
        ),
        parameters=[*PATH_PARAMETERS, PassthruQuerySerializer],
        responses={200: WebhookAckSerializer, **REJECTIONS},
        auth=[],
    )
    def get(self, request, public_id, token):
        connection = self._connection(request, public_id, token)
        try:
            # WSGI passes the query string's raw bytes as latin-1: this gets them back unchanged.
            query = request.META.get("QUERY_STRING", "").encode("iso-8859-1")
        except UnicodeEncodeError:
            raise DomainError(ErrorCode.MALFORMED_REQUEST, "The query string is not valid.") from None
        return self._receive(request, connection, query, "")
