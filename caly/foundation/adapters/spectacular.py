"""drf-spectacular (0.30): changing each response of an operation as AutoSchema builds it.

AutoSchema has no public hook for an operation's responses. The envelope (caly/foundation/api/schema.py)
has to see each one as it is built, because a response's schema may still be a serializer's, and
AutoSchema builds them in two private methods, overridden here and nowhere else:

- `_get_response_for_code(serializer, status_code, media_types, direction)`: one status's response;
- `_get_response_bodies(direction)`: every status's response of the operation.

tests/test_library_adapters.py checks that AutoSchema still has both, with these parameters, and
that a generated schema passes through the hooks.
"""

from __future__ import annotations

from drf_spectacular.openapi import AutoSchema


class ResponseHooksAutoSchema(AutoSchema):
    """AutoSchema with public hooks on the responses it builds; subclasses override the hooks."""

    def response_for_code(self, response: dict, status_code: str) -> dict:
        """One status's response, as AutoSchema built it; returns the response to publish."""
        return response

    def response_bodies(self, responses: dict) -> dict:
        """Every status's response of the operation, by status; returns the responses to publish."""
        return responses

    def _get_response_for_code(self, serializer, status_code, media_types=None, direction="response"):
        response = super()._get_response_for_code(serializer, status_code, media_types, direction)
        return self.response_for_code(response, status_code)

    def _get_response_bodies(self, direction="response"):
        return self.response_bodies(super()._get_response_bodies(direction))
