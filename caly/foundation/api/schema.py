"""OpenAPI: the envelope made visible, so generated clients see the real shape of every answer."""

from __future__ import annotations

import copy

from drf_spectacular.plumbing import ResolvedComponent

from caly.foundation.adapters.spectacular import ResponseHooksAutoSchema
from caly.foundation.api.errors import ERRORS
from caly.foundation.api.shapes import ERROR_ENVELOPE, STANDARD_ERROR_STATUSES, success_envelope

# Statuses the error codes answer with (a 416 for a recording's byte range is bare, as players expect).
ENVELOPE_STATUSES = {str(status) for status, _ in ERRORS.values()}


class EnvelopeAutoSchema(ResponseHooksAutoSchema):
    """Wraps each JSON response schema in the envelope and documents the standard errors."""

    def _error_ref(self) -> dict:
        component = ResolvedComponent(
            name="ErrorEnvelope",
            type=ResolvedComponent.SCHEMA,
            # A copy: postprocessing hooks rewrite component schemas in place (enums become $refs).
            schema=copy.deepcopy(ERROR_ENVELOPE),
            object="ErrorEnvelope",
        )
        self.registry.register_on_missing(component)
        return component.ref

    def response_for_code(self, response: dict, status_code: str) -> dict:
        for media_type, content in response.get("content", {}).items():
            if media_type != "application/json" or "schema" not in content:
                continue
            schema = content["schema"]
            if _is_enveloped(schema, self.registry):
                continue
            content["schema"] = success_envelope(schema) if status_code < "400" else self._error_ref()
        return response

    def response_bodies(self, responses: dict) -> dict:
        error_ref = self._error_ref()
        for status, response in responses.items():
            # An error declared by its description alone (409 CONFLICT…) still answers with the envelope.
            if str(status) in ENVELOPE_STATUSES and "content" not in response:
                response["content"] = {"application/json": {"schema": error_ref}}
        for status in STANDARD_ERROR_STATUSES:
            if status not in responses:
                description = "; ".join(
                    f"{code}: {text}" for code, (code_status, text) in ERRORS.items() if str(code_status) == status
                )
                responses[status] = {
                    "description": description,
                    "content": {"application/json": {"schema": error_ref}},
                }
        return responses


def _is_enveloped(schema: dict, registry) -> bool:
    if schema.get("x-envelope"):
        return True
    ref = schema.get("$ref", "")
    if ref.startswith("#/components/schemas/"):
        name = ref.rsplit("/", 1)[-1]
        if name == "ErrorEnvelope":
            return True
        try:
            component = registry[(name, ResolvedComponent.SCHEMA)]
        except KeyError:
            return False
        return bool((component.schema or {}).get("x-envelope"))
    return False


def strip_envelope_markers(result, generator, request, public):
    """Postprocessing hook: drop the internal `x-envelope` marker from the published schema."""
    for component in result.get("components", {}).get("schemas", {}).values():
        component.pop("x-envelope", None)
    for path in result.get("paths", {}).values():
        for operation in path.values():
            for response in operation.get("responses", {}).values() if isinstance(operation, dict) else ():
                for content in response.get("content", {}).values():
                    content.get("schema", {}).pop("x-envelope", None)
    return result
