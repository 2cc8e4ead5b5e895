import django_filters
from django.conf import settings
from drf_spectacular.utils import extend_schema, extend_schema_view
from rest_framework import status, viewsets
from rest_framework.response import Response
from rest_framework.views import APIView

from common import read_cache
from common.api import PaginatedListMixin
from common.conditional import ConditionalMixin
from common.filters import CreatedRangeFilterSet
from common.throttling import AuthThrottle, UserThrottle
from projects import cache as project_cache
from projects import selectors, services
from projects.api import serializers
from projects.api.mixins import ProjectScopedMixin
from projects.models import Invitation, Membership, Project, ProjectSecret


def _invite(request, project: Project, input_serializer):
    """Validate `{"email", "role"}` and invite that address to the project (the members and invitations POSTs)."""
    data = input_serializer(data=request.data)
    data.is_valid(raise_exception=True)
    return services.invitation_create(
        project=project,
        role=project.role,  # type: ignore[attr-defined]  # annotated by projects.selectors
        actor=request.user,
        email=data.validated_data["email"],
        new_role=data.validated_data["role"],
    )


class ProjectFilter(CreatedRangeFilterSet):
    role = django_filters.CharFilter(field_name="role", help_text="Only projects where the caller has this role.")

    class Meta:
        model = Project
        fields = ["slug"]


@extend_schema_view(
    list=extend_schema(tags=["projects"]),
    retrieve=extend_schema(tags=["projects"]),
    create=extend_schema(
        tags=["projects"],
        request=serializers.ProjectInputSerializer,
        responses={201: serializers.ProjectOutputSerializer},
    ),
    partial_update=extend_schema(
        tags=["projects"],
        request=serializers.ProjectUpdateSerializer,
        responses={200: serializers.ProjectOutputSerializer},
    ),
    destroy=extend_schema(tags=["projects"]),
)
class ProjectViewSet(ConditionalMixin, PaginatedListMixin, viewsets.GenericViewSet):
    """Projects the caller is a member of (reads with an ETag: the body holds the caller's role)."""

    serializer_class = serializers.ProjectOutputSerializer
    conditional_actions = frozenset({"list", "retrieve", "partial_update"})
    queryset = Project.objects.none()  # for schema generation; requests go through selectors
    filterset_class = ProjectFilter
    ordering_fields = ["name", "created_at", "updated_at"]
    ordering = ["name"]
    search_fields = ["name", "slug", "description"]
    http_method_names = ["get", "post", "patch", "delete", "head", "options"]

    def list(self, request):
        return read_cache.cached_list(
            request,
            namespace=project_cache.NAMESPACE,
            seconds=settings.PROJECT_LIST_CACHE_SECONDS,
            compute=lambda: self.list_response(selectors.project_list(user=request.user)),
        )

    def retrieve(self, request, pk=None):
        return Response(self.serializer_class(selectors.project_get(user=request.user, project_id=pk)).data)

    def create(self, request):
        data = serializers.ProjectInputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        project = services.project_create(actor=request.user, **data.validated_data)
        return Response(self.serializer_class(project).data, status=status.HTTP_201_CREATED)

    def partial_update(self, request, pk=None):
        project = selectors.project_get(user=request.user, project_id=pk)
        data = serializers.ProjectUpdateSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        project = services.project_update(project=project, role=project.role, actor=request.user, **data.validated_data)
        return Response(self.serializer_class(project).data)

    def destroy(self, request, pk=None):
        project = selectors.project_get(user=request.user, project_id=pk)
        services.project_delete(project=project, role=project.role, actor=request.user)
        return Response(status=status.HTTP_204_NO_CONTENT)


@extend_schema_view(
    list=extend_schema(tags=["projects"]),
    create=extend_schema(
        tags=["projects"],
        request=serializers.MembershipInputSerializer,
        responses={202: serializers.InvitationOutputSerializer},
        summary="Invite a member (by email)",
        description=(
            "Since issue 12 nobody is added directly: this creates a pending invitation, exactly as POST "
            "…/invitations/ does, and answers 202 with it. The person joins when they accept it, signed in with "
            "that verified address. 409 when the address already has a pending invitation."
        ),
    ),
    partial_update=extend_schema(
        tags=["projects"],
        request=serializers.MembershipUpdateSerializer,
        responses={200: serializers.MembershipOutputSerializer},
    ),
    destroy=extend_schema(tags=["projects"]),
)
class MembershipViewSet(ProjectScopedMixin, PaginatedListMixin, viewsets.GenericViewSet):
    """Members of one project; visible to every member, managed by admins and owners."""

    serializer_class = serializers.MembershipOutputSerializer
    error_statuses = {"destroy": {409}, "create": {409}}  # the last owner cannot leave; already invited
    queryset = Membership.objects.none()
    ordering_fields = ["created_at", "role", "user__email"]
    ordering = ["created_at"]
    search_fields = ["user__email", "user__full_name"]
    filterset_fields = ["role"]
    http_method_names = ["get", "post", "patch", "delete", "head", "options"]

    def list(self, request, project_pk=None):
        return self.list_response(selectors.membership_list(project=self._project()))

    def create(self, request, project_pk=None):
        # Adding by email is inviting (issue 12): an account with the address is no proof of owning it.
        invitation = _invite(request, self._project(), serializers.MembershipInputSerializer)
        return Response(serializers.InvitationOutputSerializer(invitation).data, status=status.HTTP_202_ACCEPTED)

    def partial_update(self, request, project_pk=None, pk=None):
        project = self._project()
        membership = selectors.membership_get(project=project, membership_id=pk)
        data = serializers.MembershipUpdateSerializer(data=request.data, partial=True)
        data.is_valid(raise_exception=True)
        # A PATCH names what changes: without `role` (the schema's PATCH body has no required field) nothing does,
        # but the caller still needs the right to change it (found by schemathesis: `{}` answered 400).
        membership = services.project_member_update(
            membership=membership,
            role=project.role,
            actor=request.user,
            new_role=data.validated_data.get("role", membership.role),
        )
        return Response(self.serializer_class(membership).data)

    def destroy(self, request, project_pk=None, pk=None):
        project = self._project()
        membership = selectors.membership_get(project=project, membership_id=pk)
        services.project_member_remove(membership=membership, role=project.role, actor=request.user)
        return Response(status=status.HTTP_204_NO_CONTENT)


@extend_schema_view(
    list=extend_schema(tags=["projects"], summary="List a project's secrets (names and metadata, never values)"),
    create=extend_schema(
        tags=["projects"],
        summary="Create a secret (editors and above)",
        request=serializers.SecretInputSerializer,
        responses={201: serializers.SecretOutputSerializer},
    ),
    update=extend_schema(
        tags=["projects"],
        summary="Replace a secret's value (editors and above)",
        request=serializers.SecretReplaceSerializer,
        responses={200: serializers.SecretOutputSerializer},
    ),
    destroy=extend_schema(tags=["projects"], summary="Delete a secret (editors and above)"),
)
class ProjectSecretViewSet(ProjectScopedMixin, PaginatedListMixin, viewsets.GenericViewSet):
    """Write-only secrets of one project, read by its workflows as ``{{ secrets.NAME }}``: every member lists the
    names; editors and above create, replace and delete. No response ever holds a value."""

    serializer_class = serializers.SecretOutputSerializer
    # 409: the name is taken; 503: Vault's transit engine cannot encrypt now.
    error_statuses = {"create": {409, 503}, "update": {503}}
    queryset = ProjectSecret.objects.none()
    lookup_field = "name"
    ordering_fields = ["name", "created_at", "updated_at", "last_used_at"]
    ordering = ["name"]
    search_fields = ["name", "description"]
    http_method_names = ["get", "post", "put", "delete", "head", "options"]

    def list(self, request, project_pk=None):
        return self.list_response(selectors.project_secret_list(project=self._project()))

    def create(self, request, project_pk=None):
        project = self._project()
        data = serializers.SecretInputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        secret = services.project_secret_create(
            project=project, role=project.role, actor=request.user, **data.validated_data
        )
        return Response(self.serializer_class(secret).data, status=status.HTTP_201_CREATED)

    def update(self, request, project_pk=None, name=None):
        project = self._project()
        secret = selectors.project_secret_get(project=project, name=name)
        data = serializers.SecretReplaceSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        secret = services.project_secret_replace(
            secret=secret, role=project.role, actor=request.user, **data.validated_data
        )
        return Response(self.serializer_class(secret).data)

    def destroy(self, request, project_pk=None, name=None):
        project = self._project()
        secret = selectors.project_secret_get(project=project, name=name)
        services.project_secret_delete(secret=secret, role=project.role, actor=request.user)
        return Response(status=status.HTTP_204_NO_CONTENT)


class InvitationFilter(CreatedRangeFilterSet):
    class Meta:
        model = Invitation
        fields = ["status", "role", "email"]


@extend_schema_view(
    list=extend_schema(tags=["projects"], summary="A project's invitations (admins and owners)"),
    create=extend_schema(
        tags=["projects"],
        request=serializers.InvitationInputSerializer,
        responses={201: serializers.InvitationOutputSerializer},
        summary="Invite someone by email",
        description=(
            "Mails a single-use link valid for INVITATION_EXPIRY_DAYS (7 by default). 409 when the address already "
            "has a pending invitation; 400 when it belongs to a member."
        ),
    ),
    destroy=extend_schema(tags=["projects"], summary="Revoke a pending invitation"),
)
class InvitationViewSet(ProjectScopedMixin, PaginatedListMixin, viewsets.GenericViewSet):
    """Invitations of one project, managed by its admins and owners."""

    serializer_class = serializers.InvitationOutputSerializer
    error_statuses = {"create": {409}, "destroy": {409}}
    queryset = Invitation.objects.none()
    filterset_class = InvitationFilter
    ordering_fields = ["created_at", "expires_at", "email"]
    ordering = ["-created_at"]
    search_fields = ["email"]
    http_method_names = ["get", "post", "delete", "head", "options"]

    def list(self, request, project_pk=None):
        project = self._project()
        return self.list_response(selectors.invitation_list(project=project, role=project.role))

    def create(self, request, project_pk=None):
        invitation = _invite(request, self._project(), serializers.InvitationInputSerializer)
        return Response(self.serializer_class(invitation).data, status=status.HTTP_201_CREATED)

    def destroy(self, request, project_pk=None, pk=None):
        project = self._project()
        invitation = selectors.invitation_get(project=project, role=project.role, invitation_id=pk)
        services.invitation_revoke(invitation=invitation, role=project.role, actor=request.user)
        return Response(status=status.HTTP_204_NO_CONTENT)


class InvitationAcceptApi(APIView):
    """Accept an invitation: the caller must be signed in with the invited, verified address."""

    # The token is a secret to guess: the sign-in limit applies too.
    throttle_classes = [UserThrottle, AuthThrottle]
    resource = "invitation"
    error_statuses = {"post": {404, 409, 410}}  # 404: no token/address match (no "{id}" in the path)

    @extend_schema(
        request=serializers.InvitationAcceptInputSerializer,
        responses={200: serializers.ProjectOutputSerializer},
        tags=["projects"],
        summary="Accept an invitation",
        description=(
            "Answers the project joined, with the caller's role. 403 `email_not_verified` for an account whose "
            "address is not verified; 404 for a token that is unknown or was issued to another address (the same "
            "answer); 410 `invitation_used`, `invitation_revoked` or `invitation_expired`; 409 for a member."
        ),
    )
    def post(self, request):
        data = serializers.InvitationAcceptInputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        membership = services.invitation_accept(token=data.validated_data["token"], user=request.user)
        project = membership.project
        project.role = membership.role  # type: ignore[attr-defined]  # as projects.selectors annotate it
        return Response(serializers.ProjectOutputSerializer(project).data)
