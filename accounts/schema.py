"""OpenAPI: our JWT authentication is documented like simplejwt's (bearer, JWT)."""

from drf_spectacular.contrib.rest_framework_simplejwt import SimpleJWTScheme


class CalyJWTScheme(SimpleJWTScheme):
    target_class = "accounts.authentication.JWTAuthentication"
    name = "jwtAuth"
