"""Browser error reports: size-limited, rate-limited, logged with the request id, never stored."""

from __future__ import annotations

import logging

from django.conf import settings
from drf_spectacular.utils import extend_schema, inline_serializer
from rest_framework import serializers, status
from rest_framework.permissions import AllowAny
from rest_framework.response import Response
from rest_framework.views import APIView

from caly.foundation.api.serializers import RequestSerializer
from caly.foundation.errors import DomainError, ErrorCode
from caly.foundation.ratelimit import enforce_rate

logger = logging.getLogger("caly.client_errors")


class ClientErrorSerializer(RequestSerializer):
    kind = serializers.ChoiceField(choices=["error", "unhandledrejection"])
    message = serializers.CharField(max_length=2000, trim_whitespace=False)
    page_url = serializers.CharField(max_length=2000, required=False, allow_blank=True)
    source = serializers.CharField(max_length=2000, required=False, allow_blank=True)
    line = serializers.IntegerField(min_value=0, max_value=10_000_000, required=False, allow_null=True)
    column = serializers.IntegerField(min_value=0, max_value=10_000_000, required=False, allow_null=True)
    stack = serializers.CharField(max_length=8000, required=False, allow_blank=True, trim_whitespace=False)


class ClientErrorView(APIView):
    """POST /api/v1/client-errors/: the page's error reporter sends uncaught errors here."""

    authentication_classes: list = []
    permission_classes = [AllowAny]

    @extend_schema(
        operation_id="client_errors_create",
        summary="Report a browser error",
        request=ClientErrorSerializer,
        responses={202: inline_serializer("ClientErrorAccepted", {"received": serializers.BooleanField()})},
        tags=["client-errors"],
    )
    def post(self, request):
        length = request.META.get("CONTENT_LENGTH") or "0"
        if not length.isdigit() or int(length) > settings.CLIENT_ERRORS_MAX_BYTES:
            raise DomainError(
                ErrorCode.PAYLOAD_TOO_LARGE, f"Reports are limited to {settings.CLIENT_ERRORS_MAX_BYTES} bytes."
            )
        enforce_rate(request, group="client-errors", key="ip", rate=settings.CLIENT_ERRORS_RATE)
        serializer = ClientErrorSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        report = serializer.validated_data
        logger.warning(
            "Browser %s: %s",
            report["kind"],
            report["message"][:500],
            extra={
                "page_url": report.get("page_url", ""),
                "source": report.get("source", ""),
                "line": report.get("line"),
                "column": report.get("column"),
                "stack": report.get("stack", ""),
                "user_agent": request.headers.get("User-Agent", "")[:300],
            },
        )
        return Response({"received": True}, status=status.HTTP_202_ACCEPTED)
