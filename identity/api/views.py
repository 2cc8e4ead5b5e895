from drf_spectacular.utils import extend_schema, extend_schema_view
from rest_framework import status, viewsets
from rest_framework.response import Response

from common.api import PaginatedListMixin
from common.permissions import SESSION
from common.throttling import UserThrottle
from identity import selectors, services
from identity.api import serializers
from identity.models import ApiToken, OAuthClient
from projects.api.mixins import ProjectScopedMixin


@extend_schema_view(
    list=extend_schema(tags=["auth"], summary="My API tokens"),
    create=extend_schema(
        tags=["auth"],
        summary="Create an API token (shown once)",
        request=serializers.ApiTokenInputSerializer,
        responses={201: serializers.ApiTokenCreatedSerializer},
    ),
    destroy=extend_schema(tags=["auth"], summary="Revoke an API token"),
)
class ApiTokenViewSet(PaginatedListMixin, viewsets.GenericViewSet):
    """The caller's personal API tokens. Managed from a signed-in session only: a token cannot mint tokens."""

    serializer_class = serializers.ApiTokenOutputSerializer
    queryset = ApiToken.objects.none()
    throttle_classes = [UserThrottle]
    token_access = SESSION
    ordering_fields = ["created_at", "expires_at", "last_used_at", "name"]
    ordering = ["-created_at"]
    filterset_fields = ["scope"]
    http_method_names = ["get", "post", "delete", "head", "options"]
    resource = "apitoken"

    def list(self, request):
        return self.list_response(selectors.api_token_list(user=request.user))

    def create(self, request):
        data = serializers.ApiTokenInputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        token, raw = services.api_token_create(
            user=request.user,
            name=data.validated_data["name"],
            scope=data.validated_data["scope"],
            project_id=data.validated_data["project"],
            expires_in_days=data.validated_data.get("expires_in_days"),
        )
        body = serializers.ApiTokenCreatedSerializer(token, context={"raw": raw}).data
        return Response(body, status=status.HTTP_201_CREATED, headers={"Cache-Control": "no-store"})

    def destroy(self, request, pk=None):
        token = selectors.api_token_get(user=request.user, token_id=pk)
        services.api_token_revoke(token=token, actor=request.user)
        return Response(status=status.HTTP_204_NO_CONTENT)


@extend_schema_view(
    list=extend_schema(tags=["projects"], summary="The project's OAuth2 clients"),
    create=extend_schema(
        tags=["projects"],
        summary="Create an OAuth2 client (secret shown once)",
        request=serializers.OAuthClientInputSerializer,
        responses={201: serializers.OAuthClientCreatedSerializer},
    ),
    destroy=extend_schema(tags=["projects"], summary="Delete an OAuth2 client (its tokens stop at once)"),
)
class OAuthClientViewSet(ProjectScopedMixin, PaginatedListMixin, viewsets.GenericViewSet):
    """OAuth2 clients (client credentials) of one project; seen and managed by its admins and owners."""

    serializer_class = serializers.OAuthClientOutputSerializer
    queryset = OAuthClient.objects.none()
    throttle_classes = [UserThrottle]
    token_access = SESSION
    error_statuses = {"list": {403}}  # below admin
    ordering_fields = ["created_at", "name"]
    ordering = ["-created_at"]
    filterset_fields = ["scope"]
    http_method_names = ["get", "post", "delete", "head", "options"]
    resource = "oauthclient"

    def list(self, request, project_pk=None):
        project = self._project()
        services.oauth_clients_may_view(role=project.role)
        return self.list_response(selectors.oauth_client_list(project=project))

    def create(self, request, project_pk=None):
        project = self._project()
        data = serializers.OAuthClientInputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        client, secret = services.oauth_client_create(
            project=project, role=project.role, actor=request.user, **data.validated_data
        )
        context = {"secret": secret, "request": request}
        body = serializers.OAuthClientCreatedSerializer(client, context=context).data
        return Response(body, status=status.HTTP_201_CREATED, headers={"Cache-Control": "no-store"})

    def destroy(self, request, project_pk=None, pk=None):
        project = self._project()
        client = selectors.oauth_client_get(project=project, client_id=pk)
        services.oauth_client_delete(client=client, role=project.role, actor=request.user)
        return Response(status=status.HTTP_204_NO_CONTENT)
