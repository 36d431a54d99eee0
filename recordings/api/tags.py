"""Tags API: the client's list (`/api/v1/tags`, admins and owners change it) and a call's tags
(`/api/v1/calls/{id}/tags`: read by everyone, set or changed by agents and up). Thin views over recordings.tags."""

from __future__ import annotations

from drf_spectacular.utils import OpenApiResponse, extend_schema
from rest_framework import serializers, status
from rest_framework.mixins import ListModelMixin
from rest_framework.response import Response

from accounts.api.base import TenantAPIView
from accounts.roles import Capability
from caly.foundation.api.pagination import PageNumberPagination
from caly.foundation.api.serializers import RequestSerializer
from recordings import tags
from recordings.models import TAG_NAME_MAX_LENGTH, Call, Tag, TagColour

TAGS_TAG = ["tags"]
# More ids than a client can have tags is a mistake, not a request.
IDS_MAX = tags.TAGS_PER_CLIENT_MAX


class TagSerializer(serializers.ModelSerializer):
    id = serializers.UUIDField(source="public_id", read_only=True)

    class Meta:
        model = Tag
        fields = ["id", "name", "colour", "created_at", "updated_at"]
        read_only_fields = fields


class TagBriefSerializer(serializers.ModelSerializer):
    """A tag as a call shows it."""

    id = serializers.UUIDField(source="public_id", read_only=True)

    class Meta:
        model = Tag
        fields = ["id", "name", "colour"]
        read_only_fields = fields


class TagCreateSerializer(RequestSerializer):
    name = serializers.CharField(
        max_length=TAG_NAME_MAX_LENGTH,
        help_text=f"At most {TAG_NAME_MAX_LENGTH} characters, no comma; unique in your company whatever the case.",
    )
    colour = serializers.ChoiceField(choices=TagColour.choices, required=False, default=TagColour.GREY)


class TagUpdateSerializer(RequestSerializer):
    name = serializers.CharField(max_length=TAG_NAME_MAX_LENGTH, required=False)
    colour = serializers.ChoiceField(choices=TagColour.choices, required=False)


def _ids(help_text: str) -> serializers.ListField:
    return serializers.ListField(
        child=serializers.UUIDField(), max_length=IDS_MAX, required=False, default=list, help_text=help_text
    )


class CallTagsSetSerializer(RequestSerializer):
    tags = serializers.ListField(
        child=serializers.UUIDField(), max_length=IDS_MAX, help_text="Tag ids: the call's tags become exactly these."
    )


class CallTagsChangeSerializer(RequestSerializer):
    add = _ids("Tag ids to add (one the call has already changes nothing).")
    remove = _ids("Tag ids to take off (one the call has not changes nothing).")


class CallTagsSerializer(serializers.Serializer):
    tags = TagBriefSerializer(many=True)


def _valid(serializer_class, request) -> dict:
    serializer = serializer_class(data=request.data)
    serializer.is_valid(raise_exception=True)
    return serializer.validated_data


class TagListView(ListModelMixin, TenantAPIView):
    capabilities = {"GET": Capability.READ, "POST": Capability.MANAGE_CLIENT}
    serializer_class = TagSerializer
    pagination_class = PageNumberPagination
    queryset = Tag.objects.all()

    def get_tenant_queryset(self):
        return tags.tag_list(client=self.client)

    @extend_schema(tags=TAGS_TAG, summary="Your company's tags, by name")
    def get(self, request):
        return self.list(request)

    @extend_schema(
        tags=TAGS_TAG,
        request=TagCreateSerializer,
        responses={201: TagSerializer},
        summary="Add a tag (admins and owners)",
    )
    def post(self, request):
        data = _valid(TagCreateSerializer, request)
        tag = tags.tag_create(client=self.client, actor=request.user, name=data["name"], colour=data["colour"])
        return Response(TagSerializer(tag).data, status=status.HTTP_201_CREATED)


class TagDetailView(TenantAPIView):
    capabilities = {"GET": Capability.READ, "PATCH": Capability.MANAGE_CLIENT, "DELETE": Capability.MANAGE_CLIENT}
    serializer_class = TagSerializer
    queryset = Tag.objects.all()

    @extend_schema(tags=TAGS_TAG, summary="A tag")
    def get(self, request, public_id):
        return Response(TagSerializer(self.get_object()).data)

    @extend_schema(tags=TAGS_TAG, request=TagUpdateSerializer, summary="Rename or recolour a tag (the calls keep it)")
    def patch(self, request, public_id):
        tag = self.get_object()
        data = _valid(TagUpdateSerializer, request)
        tag = tags.tag_update(tag=tag, actor=request.user, name=data.get("name"), colour=data.get("colour"))
        return Response(TagSerializer(tag).data)

    @extend_schema(
        tags=TAGS_TAG,
        responses={204: OpenApiResponse(description="Deleted, and taken off every call that had it")},
        summary="Delete a tag (it is taken off every call)",
    )
    def delete(self, request, public_id):
        tags.tag_delete(tag=self.get_object(), actor=request.user)
        return Response(status=status.HTTP_204_NO_CONTENT)


class CallTagsView(TenantAPIView):
    """A call's tags. PUT replaces the whole set; PATCH adds and removes some, so two people tagging one
    call at once do not undo each other. An id that is not one of your tags is a 400 and changes nothing."""

    capabilities = {"GET": Capability.READ, "PUT": Capability.UPDATE_CALLS, "PATCH": Capability.UPDATE_CALLS}
    serializer_class = CallTagsSerializer
    queryset = Call.objects.all()

    def _answer(self, found: list[Tag]) -> Response:
        return Response(CallTagsSerializer({"tags": found}).data)

    @extend_schema(tags=TAGS_TAG, summary="A call's tags")
    def get(self, request, public_id):
        return self._answer(tags.call_tag_list(call=self.get_object()))

    @extend_schema(tags=TAGS_TAG, request=CallTagsSetSerializer, summary="Set a call's tags (agents and up)")
    def put(self, request, public_id):
        call = self.get_object()
        data = _valid(CallTagsSetSerializer, request)
        wanted = tags.tags_resolve(client=self.client, ids=data["tags"], field="tags")
        return self._answer(tags.call_tags_set(call=call, actor=request.user, tags=wanted))

    @extend_schema(
        tags=TAGS_TAG, request=CallTagsChangeSerializer, summary="Add and remove tags of a call (agents and up)"
    )
    def patch(self, request, public_id):
        call = self.get_object()
        data = _valid(CallTagsChangeSerializer, request)
        add = tags.tags_resolve(client=self.client, ids=data["add"], field="add")
        remove = tags.tags_resolve(client=self.client, ids=data["remove"], field="remove")
        return self._answer(tags.call_tags_change(call=call, actor=request.user, add=add, remove=remove))
