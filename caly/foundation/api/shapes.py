"""The envelope as OpenAPI schema fragments (plain dicts; no DRF imports, so paginators can use them)."""

from __future__ import annotations

import copy

from caly.foundation.errors import ErrorCode

META = {
    "type": "object",
    "required": ["request_id"],
    "properties": {"request_id": {"type": "string", "description": "Echoed X-Request-ID; quote it to support."}},
}
KEYSET_META = {
    "type": "object",
    "required": ["limit", "has_more", "next_cursor", "previous_cursor"],
    "properties": {
        "limit": {"type": "integer"},
        "has_more": {"type": "boolean"},
        "next_cursor": {"type": "string", "nullable": True},
        "previous_cursor": {"type": "string", "nullable": True},
        "total": {
            "type": "object",
            "description": "Lists that show a total (calls): how many rows match the filters, read cheaply. "
            "`exact` false: an estimate (at least `count`), shown as 'about 12,400'.",
            "required": ["count", "exact"],
            "properties": {"count": {"type": "integer"}, "exact": {"type": "boolean"}},
        },
    },
}
PAGE_NUMBER_META = {
    "type": "object",
    "required": ["page", "page_size", "total", "total_pages", "has_more"],
    "properties": {
        "page": {"type": "integer"},
        "page_size": {"type": "integer"},
        "total": {"type": "integer"},
        "total_pages": {"type": "integer"},
        "has_more": {"type": "boolean"},
    },
}
ERROR_ENVELOPE = {
    "type": "object",
    "required": ["success", "error", "meta"],
    "properties": {
        "success": {"type": "boolean", "description": "Always false here."},
        "error": {
            "type": "object",
            "required": ["code", "message"],
            "properties": {
                "code": {"type": "string", "enum": [str(code) for code in ErrorCode]},
                "message": {"type": "string"},
                "details": {"description": "Per-field problems for VALIDATION_ERROR; otherwise structured data."},
            },
        },
        "meta": META,
    },
}
# Statuses any operation may answer with; schemathesis checks every answer is documented. 503: any
# view answers it while the database (or, for some, the cache or a provider) is unreachable.
STANDARD_ERROR_STATUSES = ("400", "401", "403", "404", "405", "406", "413", "415", "429", "500", "503")


def success_envelope(data_schema: dict, meta: dict = META) -> dict:
    """A fresh dict each time: schema generation edits what it is given in place."""
    return {
        "type": "object",
        "required": ["success", "data", "meta"],
        "properties": {
            "success": {"type": "boolean", "description": "Always true here."},
            "data": data_schema,
            "meta": copy.deepcopy(meta),
        },
    }


def paginated_envelope(list_schema: dict, pagination_meta: dict) -> dict:
    meta = {
        "type": "object",
        "required": ["request_id", "pagination"],
        "properties": {**copy.deepcopy(META["properties"]), "pagination": copy.deepcopy(pagination_meta)},
    }
    return {**success_envelope(list_schema, meta), "x-envelope": True}


def query_integer(name: str, description: str, minimum: int, maximum: int | None) -> dict:
    schema = {"type": "integer", "minimum": minimum}
    if maximum is not None:
        schema["maximum"] = maximum
    return {"name": name, "in": "query", "required": False, "description": description, "schema": schema}
