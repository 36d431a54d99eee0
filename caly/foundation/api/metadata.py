from rest_framework.metadata import SimpleMetadata


class RouteMetadata(SimpleMetadata):
    """OPTIONS answers with the route's name, media types and (in `Allow`) methods, never a description
    of its serializers: the OpenAPI schema documents the bodies, and building that description ran
    get_object() and get_serializer() on views that address their object without an id (a 500)."""

    def determine_actions(self, request, view) -> dict:
        return {}
