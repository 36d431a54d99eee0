from rest_framework.renderers import JSONRenderer

from caly.foundation.api.errors import code_for_status, envelope, error_payload


class EnvelopeJSONRenderer(JSONRenderer):
    """Wraps every DRF answer in the envelope; error bodies come shaped by the exception handler."""

    def render(self, data, accepted_media_type=None, renderer_context=None):
        response = (renderer_context or {}).get("response")
        if response is None or response.status_code == 204:
            return super().render(data, accepted_media_type, renderer_context)
        if response.status_code >= 400:
            error = data.get("error") if isinstance(data, dict) else None
            if not isinstance(error, dict) or "code" not in error:
                code = code_for_status(response.status_code)
                error = error_payload(code, getattr(response, "status_text", "") or str(code), data)
            body = envelope(error=error)
        else:
            body = envelope(data=data, pagination=getattr(response, "pagination", None))
        return super().render(body, accepted_media_type, renderer_context)
