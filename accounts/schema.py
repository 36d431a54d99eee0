"""OpenAPI: our JWT authentication is documented like simplejwt's (bearer, JWT), and API keys beside it."""

from drf_spectacular.contrib.rest_framework_simplejwt import SimpleJWTScheme
from drf_spectacular.extensions import OpenApiAuthenticationExtension


class CalyJWTScheme(SimpleJWTScheme):
    target_class = "accounts.authentication.JWTAuthentication"
    name = "jwtAuth"


class CalyApiKeyScheme(OpenApiAuthenticationExtension):
    target_class = "accounts.authentication.ApiKeyAuthentication"
    name = "apiKeyAuth"

    def get_security_definition(self, auto_schema):
        return {
            "type": "http",
            "scheme": "bearer",
            "bearerFormat": "caly_live_<prefix>_<secret>",
            "description": (
                "An API key, made on the Developers page or with POST /api/v1/api-keys: "
                "`Authorization: Bearer caly_live_<prefix>_<secret>`. It acts as its creator within its scope."
            ),
        }
