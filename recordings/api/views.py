"""Calls and recordings API: keyset lists, details, updates, downloads, CSV export, stats."""

from __future__ import annotations

import csv
import functools
import io
import re
import zoneinfo
from datetime import timedelta

from django.conf import settings
from django.http import StreamingHttpResponse
from django.utils import timezone
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, OpenApiResponse, extend_schema
from rest_framework import status
from rest_framework.mixins import ListModelMixin
from rest_framework.response import Response

from accounts.api.base import TenantAPIView
from accounts.roles import Capability
from caly.foundation.api.pagination import KeysetPagination
from caly.foundation.ratelimit import enforce_rate
from recordings import call_context, downloads, providers, selectors, services
from recordings.api import serializers as s
from recordings.models import E164_PATTERN, Call, Provider, Recording, RecordingStatus

CALLS_TAG = ["calls"]
RECORDINGS_TAG = ["recordings"]
# Each placed call rings an agent's phone and costs money: a few a minute is plenty for a person.
PLACE_CALL_RATE = "30/m"


@functools.cache
def _filter_names(serializer_class) -> frozenset[str]:
    return frozenset(serializer_class().fields)


def _filters(serializer_class, request) -> dict:
    # A plain dict, not the QueryDict: DRF reads a blank value in a QueryDict as "not given", so
    # `?status=` would list every call instead of answering 400. The pages drop blank fields first.
    data = request.query_params.dict()
    if not data.keys() & _filter_names(serializer_class):
        return {}  # no filter given (a page's cursor and limit only): what validating would answer, cheaper
    serializer = serializer_class(data=data)
    serializer.is_valid(raise_exception=True)
    return serializer.validated_data


def call_row(values: dict) -> dict:
    """A call as the API shows it, from a `.values(*CALL_LIST_FIELDS, **call_context.call_columns())` row (no
    serializer overhead; `id`, the first key, takes the public id; what settings.CALL_CONTEXT adds, its customer,
    last). A copy: the paginator's cursor is made from the row as read."""
    row = values.copy()
    row["id"] = row.pop("public_id")
    for name in call_context.LIST_ROW_FIELDS:  # None without a CALL_CONTEXT module
        row.setdefault(name, None)
    return row


class CallListView(ListModelMixin, TenantAPIView):
    capabilities = {"GET": Capability.READ, "POST": Capability.PLACE_CALLS}
    serializer_class = s.CallSerializer
    pagination_class = KeysetPagination
    keyset_ordering = ("-started_at", "-id")
    queryset = Call.objects.all()

    def get_tenant_queryset(self):
        return selectors.call_list(client=self.client, filters=_filters(s.CallFilterSerializer, self.request))

    @extend_schema(tags=CALLS_TAG, parameters=[s.CallFilterSerializer], summary="Calls, newest first")
    def get(self, request):
        rows = self.get_queryset().values(*selectors.CALL_LIST_FIELDS, **call_context.call_columns())
        page = self.paginate_queryset(rows)
        return self.get_paginated_response([call_row(values) for values in page])

    @extend_schema(
        tags=CALLS_TAG,
        request=s.CallPlaceSerializer,
        responses={
            201: s.CallDetailSerializer,
            409: OpenApiResponse(description="Exotel is not connected, or the connection has no caller id"),
            502: OpenApiResponse(description="Exotel refused the call (PROVIDER_ERROR)"),
            503: OpenApiResponse(description="Exotel could not be reached; retry later"),
        },
        summary="Place an outbound call through Exotel (it rings the agent, then the customer)",
    )
    def post(self, request):
        enforce_rate(request, group="calls-place", key="user", rate=PLACE_CALL_RATE)
        serializer = s.CallPlaceSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        data = serializer.validated_data
        place_call = providers.call_placer(Provider.EXOTEL)
        call = place_call(
            client=self.client,
            actor=request.user,
            to_number=data["to"],
            from_number=data["from"],
            caller_id=data.get("caller_id"),
            record=data["record"],
            custom_field=data["custom_field"],
        )
        return Response(s.CallDetailSerializer(call).data, status=status.HTTP_201_CREATED)


class CallDetailView(TenantAPIView):
    capabilities = {"GET": Capability.READ, "PATCH": Capability.UPDATE_CALLS}
    serializer_class = s.CallDetailSerializer
    queryset = Call.objects.prefetch_related("recordings")

    @extend_schema(tags=CALLS_TAG, summary="A call with its recordings, its customer and their latest orders")
    def get(self, request, public_id):
        return Response(self.get_serializer(self.get_object()).data)

    @extend_schema(tags=CALLS_TAG, request=s.CallUpdateSerializer, summary="Mark resolved, rate, write notes")
    def patch(self, request, public_id):
        call = self.get_object()
        serializer = s.CallUpdateSerializer(call, data=request.data, partial=True)
        serializer.is_valid(raise_exception=True)
        call = services.call_update(call=call, actor=request.user, **serializer.validated_data)
        return Response(self.get_serializer(call).data)


CSV_COLUMNS = [
    "id",
    "started_at",
    "direction",
    "from_number",
    "to_number",
    "status",
    "duration_seconds",
    "is_resolved",
    "customer_satisfaction",
    "has_recording",
    "notes",
]
_FORMULA_PREFIXES = ("=", "+", "-", "@", "\t", "\r")
# A whole cell of + and digits is a number to a spreadsheet, never a formula that can call anything.
_E164_CELL = re.compile(E164_PATTERN)


def csv_safe(value) -> str:
    """Spreadsheets run cells that start with = + - @ tab CR as formulas: prefix them with a quote.

    A phone number in E.164 form is written as it is.
    """
    text = "" if value is None else str(value)
    if _E164_CELL.fullmatch(text):
        return text
    return "'" + text if text.startswith(_FORMULA_PREFIXES) else text


class CallExportView(TenantAPIView):
    capabilities = {"GET": Capability.EXPORT_CALLS}
    queryset = Call.objects.all()

    @extend_schema(
        tags=CALLS_TAG,
        parameters=[s.CallFilterSerializer],
        responses={(200, "text/csv"): OpenApiResponse(OpenApiTypes.STR, description="CSV, one call a row")},
        summary="The filtered calls as CSV (newest first, at most CALL_EXPORT_MAX_ROWS)",
    )
    def get(self, request):
        enforce_rate(request, group="calls-export", key="user", rate=settings.RATE_LIMITS["export_user"])
        services.calls_export_record(
            client=self.client, actor=request.user, filters=_filters(s.CallFilterSerializer, request)
        )
        rows = (
            self.get_queryset()
            .order_by("-started_at", "-id")
            .values_list("public_id", *CSV_COLUMNS[1:])[: settings.CALL_EXPORT_MAX_ROWS]
        )
        local = timezone.localtime
        zone = zoneinfo.ZoneInfo(self.client.timezone)

        def lines():
            buffer = io.StringIO()
            writer = csv.writer(buffer)
            writer.writerow(CSV_COLUMNS)
            for row in rows.iterator(chunk_size=2000):
                values = list(row)
                values[1] = local(values[1], zone).isoformat()
                writer.writerow([csv_safe(value) for value in values])
                yield buffer.getvalue()
                buffer.seek(0)
                buffer.truncate()
            yield buffer.getvalue()

        stamp = timezone.now().strftime("%Y%m%d-%H%M%S")
        response = StreamingHttpResponse(lines(), content_type="text/csv; charset=utf-8")
        response["Content-Disposition"] = f'attachment; filename="calls-{stamp}.csv"'
        response["Cache-Control"] = "no-store"
        return response

    def get_tenant_queryset(self):
        return selectors.call_list(client=self.client, filters=_filters(s.CallFilterSerializer, self.request))


class RecordingListView(ListModelMixin, TenantAPIView):
    capabilities = {"GET": Capability.READ}
    serializer_class = s.RecordingSerializer
    pagination_class = KeysetPagination
    keyset_ordering = ("-started_at", "-id")
    queryset = Recording.objects.all()

    def get_tenant_queryset(self):
        return selectors.recording_list(client=self.client, filters=_filters(s.RecordingFilterSerializer, self.request))

    @extend_schema(tags=RECORDINGS_TAG, parameters=[s.RecordingFilterSerializer], summary="Recordings, newest first")
    def get(self, request):
        return self.list(request)


class RecordingDetailView(TenantAPIView):
    capabilities = {"GET": Capability.READ, "DELETE": Capability.DELETE_RECORDINGS}
    serializer_class = s.RecordingSerializer
    queryset = Recording.objects.select_related("call")

    @extend_schema(tags=RECORDINGS_TAG, summary="A recording")
    def get(self, request, public_id):
        return Response(self.get_serializer(self.get_object()).data)

    @extend_schema(
        tags=RECORDINGS_TAG,
        responses={200: s.RecordingSerializer},
        summary="Delete a recording's audio (the row stays, marked deleted)",
    )
    def delete(self, request, public_id):
        recording = services.recording_delete(recording=self.get_object(), actor=request.user)
        return Response(self.get_serializer(recording).data)


class RecordingDownloadView(TenantAPIView):
    capabilities = {"GET": Capability.PLAY_RECORDINGS}
    queryset = Recording.objects.filter(status=RecordingStatus.STORED).select_related("call", "client")

    @extend_schema(
        tags=RECORDINGS_TAG,
        parameters=[OpenApiParameter("disposition", str, enum=["inline", "attachment"])],
        responses={
            (200, "audio/*"): OpenApiResponse(OpenApiTypes.BINARY, description="The audio (local storage)"),
            (206, "audio/*"): OpenApiResponse(OpenApiTypes.BINARY, description="A byte range of it"),
            302: OpenApiResponse(description="Redirect to a short-lived presigned URL (S3)"),
            416: OpenApiResponse(description="The requested range is outside the file"),
        },
        summary="Play or download a recording (supports Range)",
    )
    def get(self, request, public_id):
        recording = self.get_object()
        disposition = request.query_params.get("disposition", "inline")
        if disposition not in ("inline", "attachment"):
            raise s.serializers.ValidationError({"disposition": ["Must be inline or attachment."]})
        range_header = request.headers.get("Range")
        services.recording_download_record(recording=recording, actor=request.user, disposition=disposition)
        return downloads.recording_response(
            recording, range_header=range_header, attachment=disposition == "attachment"
        )


class StatsSummaryView(TenantAPIView):
    capabilities = {"GET": Capability.READ}
    serializer_class = s.StatsSummarySerializer

    @extend_schema(tags=CALLS_TAG, parameters=[s.StatsFilterSerializer], summary="Figures for a range of days")
    def get(self, request):
        filters = _filters(s.StatsFilterSerializer, request)
        today = timezone.localtime(timezone=zoneinfo.ZoneInfo(self.client.timezone)).date()
        last = filters.get("started_to") or today
        first = filters.get("started_from") or last - timedelta(days=6)
        if first > last:
            raise s.serializers.ValidationError({"started_from": ["Must not be after started_to."]})
        if (last - first).days > s.MAX_RANGE_DAYS:
            raise s.serializers.ValidationError({"started_from": [f"At most {s.MAX_RANGE_DAYS} days at a time."]})
        return Response(selectors.stats_summary(client=self.client, first=first, last=last))
