"""Access API: who am I, API tokens (DPO/administrators). Unmasking (POST /api/v1/access/unmask/)
loads the subject through profiles, so its view is `profiles.api.views.UnmaskView`."""

from __future__ import annotations

from django.contrib.auth import get_user_model
from drf_spectacular.utils import OpenApiTypes, extend_schema
from rest_framework import status
from rest_framework.permissions import IsAuthenticated
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from access import services
from access.api import serializers
from access.api.base import SessionOnlyAPIView
from access.models import ApiToken
from access.scoping import Principal, allowed_regions
from access.selectors import api_tokens_visible
from core.errors import ForbiddenError, NotFoundError


class MeView(APIView):
    permission_classes = [IsAuthenticated]

    @extend_schema(responses={200: OpenApiTypes.OBJECT})
    def get(self, request: Request) -> Response:
        regions = allowed_regions(request)
        token = Principal.of(request).token
        return Response(
            {
                "username": request.user.get_username(),
                "roles": sorted(request.user.groups.values_list("name", flat=True)),
                "regions": "all" if regions is None else sorted(regions),
                "token_scopes": token.scopes if token else None,
                "can_unmask": request.user.has_perm("access.add_unmaskgrant"),
            }
        )


class TokenListCreateView(SessionOnlyAPIView):
    @extend_schema(responses=serializers.ApiTokenSerializer(many=True))
    def get(self, request: Request) -> Response:
        if not request.user.has_perm("access.view_apitoken"):
            raise ForbiddenError("Your role cannot see API tokens.")
        tokens = api_tokens_visible(user=request.user, regions=allowed_regions(request))
        return Response(serializers.ApiTokenSerializer(tokens[:500], many=True).data)

    @extend_schema(
        request=serializers.ApiTokenCreateSerializer, responses={201: OpenApiTypes.OBJECT}
    )
    def post(self, request: Request) -> Response:
        if not request.user.has_perm("access.add_apitoken"):
            raise ForbiddenError("Your role cannot create API tokens.")
        data = serializers.ApiTokenCreateSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        values = dict(data.validated_data)
        user = get_user_model().objects.filter(pk=values.pop("user")).first()
        if user is None:
            raise NotFoundError("User not found.")
        token, raw = services.api_token_create(user=user, actor=self.actor, **values)
        return Response(
            {**serializers.ApiTokenSerializer(token).data, "token": raw},
            status=status.HTTP_201_CREATED,
        )


class TokenRevokeView(SessionOnlyAPIView):
    @extend_schema(request=None, responses=serializers.ApiTokenSerializer)
    def post(self, request: Request, token_id: int) -> Response:
        if not request.user.has_perm("access.change_apitoken"):
            raise ForbiddenError("Your role cannot revoke API tokens.")
        token = ApiToken.objects.filter(pk=token_id).first()
        if token is None:
            raise NotFoundError("Token not found.")
        token = services.api_token_revoke(token=token, actor=self.actor)
        return Response(serializers.ApiTokenSerializer(token).data)
