"""A test-only URLconf: caly's routes plus small API views that raise each kind of error."""

from django.core.exceptions import PermissionDenied as DjangoPermissionDenied
from django.urls import include, path
from rest_framework import generics, serializers
from rest_framework.exceptions import PermissionDenied, Throttled
from rest_framework.permissions import AllowAny
from rest_framework.response import Response
from rest_framework.views import APIView

from accounts.models import Client
from caly.foundation.api.pagination import KeysetPagination, PageNumberPagination
from caly.foundation.errors import DomainError, ErrorCode


class EchoSerializer(serializers.Serializer):
    count = serializers.IntegerField(min_value=1)
    name = serializers.CharField(max_length=10)


class OpenView(APIView):
    permission_classes = [AllowAny]

    def get(self, request):
        return Response({"hello": "world"})

    def post(self, request):
        serializer = EchoSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        return Response(serializer.validated_data, status=201)


class PrivateView(APIView):
    def get(self, request):
        return Response({"email": request.user.email})


class ForbiddenView(APIView):
    permission_classes = [AllowAny]

    def get(self, request):
        raise PermissionDenied()


class ThrottledView(APIView):
    permission_classes = [AllowAny]

    def get(self, request):
        raise Throttled(wait=12)


class ConflictView(APIView):
    permission_classes = [AllowAny]

    def get(self, request):
        raise DomainError(ErrorCode.CONFLICT, "That already exists.", details={"email": "taken"})


class BoomView(APIView):
    permission_classes = [AllowAny]

    def get(self, request):
        raise RuntimeError("secret internals: password=hunter2")


def django_boom(request):
    raise RuntimeError("plain Django view failed")


def django_forbidden(request):
    raise DjangoPermissionDenied


class ClientSerializer(serializers.ModelSerializer):
    class Meta:
        model = Client
        fields = ["id", "name", "created_at"]


class KeysetClients(generics.ListAPIView):
    permission_classes = [AllowAny]
    queryset = Client.objects.all()
    serializer_class = ClientSerializer
    pagination_class = KeysetPagination
    keyset_ordering = ("-created_at", "-id")


class PagedClients(generics.ListAPIView):
    permission_classes = [AllowAny]
    queryset = Client.objects.order_by("id")
    serializer_class = ClientSerializer
    pagination_class = PageNumberPagination


urlpatterns = [
    path("api/v1/test/open", OpenView.as_view()),
    path("api/v1/test/private", PrivateView.as_view()),
    path("api/v1/test/forbidden", ForbiddenView.as_view()),
    path("api/v1/test/throttled", ThrottledView.as_view()),
    path("api/v1/test/conflict", ConflictView.as_view()),
    path("api/v1/test/boom", BoomView.as_view()),
    path("api/v1/test/django-boom", django_boom),
    path("api/v1/test/keyset", KeysetClients.as_view()),
    path("api/v1/test/pages", PagedClients.as_view()),
    path("boom", django_boom),
    path("forbidden", django_forbidden),
    path("", include("caly.urls")),
]

handler400 = "caly.foundation.error_views.bad_request"
handler403 = "caly.foundation.error_views.permission_denied"
handler404 = "caly.foundation.error_views.page_not_found"
handler500 = "caly.foundation.error_views.server_error"
