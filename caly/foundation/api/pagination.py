"""The two paginators: keyset (cursor) for large time-ordered lists, page numbers for small ones.

Both validate their parameters strictly (400 VALIDATION_ERROR, never a silent coercion) and put
their state in `meta.pagination` through `response.pagination`, which the renderer reads.
"""

from __future__ import annotations

import base64
import binascii
import json
import math
import re
from datetime import UTC, date, datetime
from decimal import Decimal
from uuid import UUID

from django.conf import settings
from django.core.exceptions import ValidationError as DjangoValidationError
from rest_framework.exceptions import ValidationError
from rest_framework.pagination import BasePagination
from rest_framework.response import Response

from caly.foundation.adapters.django import rows_after, rows_before
from caly.foundation.api import shapes as api_schema


def _positive_int(request, name: str, default: int, maximum: int) -> int:
    raw = request.query_params.get(name)
    if raw is None:
        return default
    if not re.fullmatch(r"[0-9]{1,10}", raw) or not 1 <= int(raw) <= maximum:
        raise ValidationError({name: [f"Must be a whole number from 1 to {maximum}."]})
    return int(raw)


class PageNumberPagination(BasePagination):
    """`?page=N&page_size=M` with an exact total; for small collections (team, products)."""

    page_query_param = "page"
    page_size_query_param = "page_size"

    def paginate_queryset(self, queryset, request, view=None):
        max_size = settings.API_MAX_PAGE_SIZE
        self.page_size = _positive_int(request, self.page_size_query_param, settings.API_PAGE_SIZE, max_size)
        self.total = queryset.count()
        self.total_pages = max(1, math.ceil(self.total / self.page_size))
        self.page = _positive_int(request, self.page_query_param, 1, 10**9)
        if self.page > self.total_pages:
            raise ValidationError(
                {self.page_query_param: [f"Page {self.page} does not exist; there are {self.total_pages}."]}
            )
        start = (self.page - 1) * self.page_size
        return list(queryset[start : start + self.page_size])

    def get_pagination_meta(self) -> dict:
        return {
            "page": self.page,
            "page_size": self.page_size,
            "total": self.total,
            "total_pages": self.total_pages,
            "has_more": self.page < self.total_pages,
        }

    def get_paginated_response(self, data):
        response = Response(data)
        response.pagination = self.get_pagination_meta()
        return response

    def get_paginated_response_schema(self, schema):
        return api_schema.paginated_envelope(schema, api_schema.PAGE_NUMBER_META)

    def get_schema_operation_parameters(self, view):
        return [
            api_schema.query_integer(self.page_query_param, "Page number, from 1.", 1, None),
            api_schema.query_integer(
                self.page_size_query_param,
                f"Items per page (default {settings.API_PAGE_SIZE}).",
                1,
                settings.API_MAX_PAGE_SIZE,
            ),
        ]


class KeysetPagination(BasePagination):
    """`?limit=N&cursor=…` seeking on an index with a row-value comparison; no COUNT.

    The view names two fields of the same direction in `keyset_ordering`, the last one unique
    (for example `("-started_at", "-id")`); a view that lets the caller choose passes `ordering=`
    instead. Page 1 and page 20,000 cost the same. A cursor carries the ordering it was made for, so
    one used with another ordering is refused rather than read as a position it is not (a cursor
    without one, as written before orderings could be chosen, is taken for the view's default).

    A view that shows a total sets `total` (see `set_total`) before the response is made; it goes
    into `meta.pagination.total`.
    """

    limit_query_param = "limit"
    cursor_query_param = "cursor"
    default_ordering = ("-created_at", "-id")

    total: dict | None = None

    def paginate_queryset(self, queryset, request, view=None, ordering: tuple[str, ...] | None = None):
        self.limit = _positive_int(request, self.limit_query_param, settings.API_PAGE_SIZE, settings.API_MAX_PAGE_SIZE)
        self.default = tuple(getattr(view, "keyset_ordering", self.default_ordering))
        self.ordering = tuple(ordering) if ordering else self.default
        self.fields = [name.lstrip("-") for name in self.ordering]
        self.descending = self.ordering[0].startswith("-")
        cursor = self._decode(request.query_params.get(self.cursor_query_param), queryset.model)
        self.had_cursor = cursor is not None
        self.backwards = bool(cursor and cursor["backwards"])

        order = self.ordering if not self.backwards else tuple(_flip(name) for name in self.ordering)
        queryset = queryset.order_by(*order)
        if cursor is not None:
            beyond = rows_before if self.descending != self.backwards else rows_after
            queryset = queryset.filter(beyond(self.fields, cursor["position"]))
        rows = list(queryset[: self.limit + 1])
        self.more_beyond = len(rows) > self.limit
        rows = rows[: self.limit]
        if self.backwards:
            rows.reverse()
        self.rows = rows
        return rows

    def set_total(self, count: int, *, exact: bool) -> None:
        """How many rows the whole list holds: `exact`, or an estimate (a planner's, or a capped count)."""
        self.total = {"count": count, "exact": exact}

    def get_pagination_meta(self) -> dict:
        rows = self.rows
        has_more = self.more_beyond if not self.backwards else True
        has_previous = self.had_cursor if not self.backwards else self.more_beyond
        meta = {
            "limit": self.limit,
            "has_more": bool(rows) and has_more,
            "next_cursor": self.encode_cursor(rows[-1], backwards=False) if rows and has_more else None,
            "previous_cursor": self.encode_cursor(rows[0], backwards=True) if rows and has_previous else None,
        }
        if self.total is not None:
            meta["total"] = self.total
        return meta

    def get_paginated_response(self, data):
        response = Response(data)
        response.pagination = self.get_pagination_meta()
        return response

    def encode_cursor(self, row, *, backwards: bool) -> str:
        """The cursor of the page that starts after `row` (or ends before it, `backwards`)."""
        values = [_jsonable(row[name] if isinstance(row, dict) else getattr(row, name)) for name in self.fields]
        payload: dict = {"p": values, "b": backwards}
        ordering = getattr(self, "ordering", None)
        if ordering:
            payload["o"] = ",".join(ordering)
        raw = json.dumps(payload, separators=(",", ":")).encode()
        return base64.urlsafe_b64encode(raw).decode().rstrip("=")

    def _decode(self, token: str | None, model) -> dict | None:
        if token is None:
            return None
        invalid = ValidationError({self.cursor_query_param: ["Invalid cursor."]})
        try:
            raw = base64.urlsafe_b64decode(token + "=" * (-len(token) % 4))
            payload = json.loads(raw, parse_constant=_reject_constant)
            values, backwards = payload["p"], payload["b"]
            if not isinstance(values, list) or len(values) != len(self.fields) or not isinstance(backwards, bool):
                raise invalid
            made_for = payload.get("o", ",".join(self.default))
            if made_for != ",".join(self.ordering):
                raise ValidationError(
                    {
                        self.cursor_query_param: [
                            "This page link was made for another sort order; start from the first page."
                        ]
                    }
                )
            # clean() also range-checks integers, so a forged cursor cannot overflow a column.
            position = tuple(
                model._meta.get_field(name).clean(value, None) for name, value in zip(self.fields, values, strict=True)
            )
        except (
            binascii.Error,
            ValueError,
            TypeError,
            KeyError,
            UnicodeDecodeError,
            OverflowError,
            DjangoValidationError,
        ):
            raise invalid from None
        if any(value is None or (isinstance(value, datetime) and value.tzinfo is None) for value in position):
            raise invalid
        if any(isinstance(value, datetime) and not _MIN_TIME <= value <= _MAX_TIME for value in position):
            raise invalid
        return {"position": position, "backwards": backwards}

    def get_paginated_response_schema(self, schema):
        return api_schema.paginated_envelope(schema, api_schema.KEYSET_META)

    def get_schema_operation_parameters(self, view):
        return [
            api_schema.query_integer(
                self.limit_query_param,
                f"Items per page (default {settings.API_PAGE_SIZE}).",
                1,
                settings.API_MAX_PAGE_SIZE,
            ),
            {
                "name": self.cursor_query_param,
                "in": "query",
                "required": False,
                "description": "Opaque cursor from meta.pagination.next_cursor or previous_cursor.",
                "schema": {"type": "string"},
            },
        ]


_MIN_TIME = datetime(1970, 1, 1, tzinfo=UTC)
_MAX_TIME = datetime(2999, 12, 31, tzinfo=UTC)


def _reject_constant(name: str):
    raise ValueError(f"{name} is not a position")


def _flip(name: str) -> str:
    return name[1:] if name.startswith("-") else f"-{name}"


def _jsonable(value):
    if isinstance(value, (datetime, date)):
        return value.isoformat()
    if isinstance(value, (UUID, Decimal)):
        return str(value)
    return value
