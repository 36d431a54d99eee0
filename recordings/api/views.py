"""Calls and recordings API: keyset lists, details, updates, downloads, CSV export, stats."""

from __future__ import annotations

import functools
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
from caly.foundation.errors import DomainError, ErrorCode
from caly.foundation.ratelimit import enforce_rate
from recordings import call_context, csv_export, downloads, exports, providers, selectors, services
from recordings.api import serializers as s
from recordings.models import (
    Call,
    CallExport,
    CallExportStatus,
    MissedCall,
    Provider,
    Recording,
    RecordingStatus,
)

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
    if len(tag_values := request.query_params.getlist("tag")) > 1:
        data["tag"] = ",".join(tag_values)  # tag=a&tag=b is tag=a,b
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
        filters = _filters(s.CallFilterSerializer, self.request)
        return selectors.call_list(client=self.client, filters=filters, viewer=self.request.user)

    @extend_schema(
        tags=CALLS_TAG,
        parameters=[s.CallFilterSerializer],
        summary="Calls, newest first (or as `ordering` says), with an approximate total in meta.pagination.total",
    )
    def get(self, request):
        filters = _filters(s.CallFilterSerializer, request)
        page = self.paginator.paginate_queryset(
            self.get_queryset().values(*selectors.CALL_LIST_FIELDS, **call_context.call_columns()),
            request,
            view=self,
            ordering=selectors.call_ordering(filters),
        )
        total = selectors.call_count(client=self.client, filters=filters, viewer=self.request.user)
        self.paginator.set_total(total.count, exact=total.exact)
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


def csv_response(chunks) -> StreamingHttpResponse:
    """A CSV streamed as it is read, with a dated file name."""
    stamp = timezone.now().strftime("%Y%m%d-%H%M%S")
    response = StreamingHttpResponse(chunks, content_type="text/csv; charset=utf-8")
    response["Content-Disposition"] = f'attachment; filename="calls-{stamp}.csv"'
    response["Cache-Control"] = "no-store"
    return response


class CallExportView(TenantAPIView):
    capabilities = {"GET": Capability.EXPORT_CALLS}
    queryset = Call.objects.all()

    @extend_schema(
        tags=CALLS_TAG,
        parameters=[s.CallFilterSerializer],
        responses={
            (200, "text/csv"): OpenApiResponse(OpenApiTypes.STR, description="CSV, one call a row"),
            202: OpenApiResponse(
                s.CallExportSerializer,
                description="More than CALL_EXPORT_STREAM_MAX_ROWS calls match: the worker writes the file; "
                "poll `status_url` until `download_url` is set",
            ),
        },
        summary="The filtered calls as CSV in the list's order (at most CALL_EXPORT_MAX_ROWS); large ones by a task",
    )
    def get(self, request):
        enforce_rate(request, group="calls-export", key="user", rate=settings.RATE_LIMITS["export_user"])
        filters = _filters(s.CallFilterSerializer, request)
        export = exports.call_export_start(client=self.client, actor=request.user, filters=filters)
        if export is not None:
            return Response(s.CallExportSerializer(export).data, status=status.HTTP_202_ACCEPTED)
        return csv_response(csv_export.csv_chunks(client=self.client, filters=filters, viewer=request.user))


class CallExportDetailView(TenantAPIView):
    capabilities = {"GET": Capability.EXPORT_CALLS}
    serializer_class = s.CallExportSerializer
    queryset = CallExport.objects.all()

    @extend_schema(tags=CALLS_TAG, summary="A calls export written by the worker: its progress and download link")
    def get(self, request, public_id):
        return Response(self.get_serializer(self.get_object()).data)


class CallExportDownloadView(TenantAPIView):
    capabilities = {"GET": Capability.EXPORT_CALLS}
    queryset = CallExport.objects.select_related("client")

    @extend_schema(
        tags=CALLS_TAG,
        responses={
            (200, "text/csv"): OpenApiResponse(OpenApiTypes.STR, description="The CSV (local storage)"),
            302: OpenApiResponse(description="Redirect to a short-lived presigned URL (S3)"),
            409: OpenApiResponse(description="The export is not written yet, or it failed"),
            404: OpenApiResponse(description="No such export, or it has expired"),
        },
        summary="Download a calls export written by the worker (until it expires)",
    )
    def get(self, request, public_id):
        export = self.get_object()
        if export.expires_at <= timezone.now():
            raise DomainError(ErrorCode.NOT_FOUND, "This export has expired; export the calls again.")
        if export.status != CallExportStatus.DONE:
            raise DomainError(
                ErrorCode.CONFLICT, "This export is not ready to download.", details={"status": export.status}
            )
        return downloads.export_response(export)


class MissedCallListView(ListModelMixin, TenantAPIView):
    capabilities = {"GET": Capability.READ}
    serializer_class = s.MissedCallSerializer
    pagination_class = KeysetPagination
    keyset_ordering = ("-last_missed_at", "-id")
    queryset = MissedCall.objects.all()

    def get_tenant_queryset(self):
        return selectors.missed_call_list(client=self.client)

    @extend_schema(
        tags=CALLS_TAG,
        summary="Numbers to ring back: inbound calls missed since the number's last answered call, one row a number",
    )
    def get(self, request):
        # `.values()` rows in MissedCallSerializer's shape, as the calls list does: no serializer per row.
        page = self.paginate_queryset(self.get_queryset().values(*MISSED_CALL_FIELDS))
        return self.get_paginated_response([missed_call_row(values) for values in page])


MISSED_CALL_FIELDS = (
    "id",
    "number",
    "call__public_id",
    "call__status",
    "last_missed_at",
    "first_missed_at",
    "attempts",
)


def missed_call_row(values: dict) -> dict:
    return {
        "number": values["number"],
        "call_id": values["call__public_id"],
        "status": values["call__status"],
        "last_missed_at": values["last_missed_at"],
        "first_missed_at": values["first_missed_at"],
        "attempts": values["attempts"],
    }


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

    @extend_schema(
        tags=CALLS_TAG,
        parameters=[s.StatsFilterSerializer],
        summary="Figures for a range of days, per day and per agent",
        description=(
            "The dashboard's figures for the client's local days: totals, `calls_per_day` with the answered and "
            "missed calls of each day, and `agents`, one row per member (calls, answered, missed, average handle "
            "time, resolved share, average satisfaction) plus a row with `agent: null` for the calls no member "
            "took. Choose the days with `range` (today, 7d, 30d, 90d, ending today) or with `started_from` and "
            "`started_to` (at most 367 days); without either, the last 7 days. Read from rollups kept as calls "
            "change, so a 90-day range costs the same at any number of calls. An unknown range, or a range "
            "together with dates, is a 400 VALIDATION_ERROR."
        ),
    )
    def get(self, request):
        filters = _filters(s.StatsFilterSerializer, request)
        if filters.get("range"):
            first, last = selectors.stats_range(client=self.client, name=filters["range"])
            return Response(selectors.dashboard_summary(client=self.client, first=first, last=last))
        today = timezone.localtime(timezone=zoneinfo.ZoneInfo(self.client.timezone)).date()
        last = filters.get("started_to") or today
        first = filters.get("started_from") or last - timedelta(days=6)
        if first > last:
            raise s.serializers.ValidationError({"started_from": ["Must not be after started_to."]})
        if (last - first).days > s.MAX_RANGE_DAYS:
            raise s.serializers.ValidationError({"started_from": [f"At most {s.MAX_RANGE_DAYS} days at a time."]})
        return Response(selectors.dashboard_summary(client=self.client, first=first, last=last))
