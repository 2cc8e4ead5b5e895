import django_filters
from drf_spectacular.utils import extend_schema, extend_schema_view
from rest_framework import status, viewsets
from rest_framework.response import Response

from common.api import PaginatedListMixin
from common.filters import CreatedRangeFilterSet
from projects import selectors, services
from projects.api import serializers
from projects.models import Membership, Project


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
class ProjectViewSet(PaginatedListMixin, viewsets.GenericViewSet):
    """Projects the caller is a member of."""

    serializer_class = serializers.ProjectOutputSerializer
    queryset = Project.objects.none()  # for schema generation; requests go through selectors
    filterset_class = ProjectFilter
    ordering_fields = ["name", "created_at", "updated_at"]
    ordering = ["name"]
    search_fields = ["name", "slug", "description"]
    http_method_names = ["get", "post", "patch", "delete", "head", "options"]

    def list(self, request):
        return self.list_response(selectors.project_list(user=request.user))

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
        responses={201: serializers.MembershipOutputSerializer},
    ),
    partial_update=extend_schema(
        tags=["projects"],
        request=serializers.MembershipUpdateSerializer,
        responses={200: serializers.MembershipOutputSerializer},
    ),
    destroy=extend_schema(tags=["projects"]),
)
class MembershipViewSet(PaginatedListMixin, viewsets.GenericViewSet):
    """Members of one project; visible to every member, managed by admins and owners."""

    serializer_class = serializers.MembershipOutputSerializer
    error_statuses = {"destroy": {409}}  # the last owner cannot leave
    queryset = Membership.objects.none()
    ordering_fields = ["created_at", "role", "user__email"]
    ordering = ["created_at"]
    search_fields = ["user__email", "user__full_name"]
    filterset_fields = ["role"]
    http_method_names = ["get", "post", "patch", "delete", "head", "options"]

    def _project(self):
        return selectors.project_get(user=self.request.user, project_id=self.kwargs["project_pk"])

    def list(self, request, project_pk=None):
        return self.list_response(selectors.membership_list(project=self._project()))

    def create(self, request, project_pk=None):
        project = self._project()
        data = serializers.MembershipInputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        membership = services.project_member_add(
            project=project,
            role=project.role,
            actor=request.user,
            email=data.validated_data["email"],
            new_role=data.validated_data["role"],
        )
        return Response(self.serializer_class(membership).data, status=status.HTTP_201_CREATED)

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
