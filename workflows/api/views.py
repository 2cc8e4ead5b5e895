import django_filters
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, OpenApiResponse, extend_schema, extend_schema_view
from rest_framework import status, viewsets
from rest_framework.response import Response
from rest_framework.views import APIView

from common.api import PaginatedListMixin
from common.conditional import ConditionalMixin
from common.errors import Invalid
from common.filters import CreatedRangeFilterSet
from projects.selectors import project_get
from workflows import definition_schema, selectors, services
from workflows.api import serializers
from workflows.models import FINAL_STATUSES, Execution, ExecutionStatus, Workflow, WorkflowVersion

IDEMPOTENCY_KEY_MAX_LENGTH = Execution._meta.get_field("idempotency_key").max_length

IDEMPOTENCY_KEY = OpenApiParameter(
    "Idempotency-Key",
    OpenApiTypes.STR,
    OpenApiParameter.HEADER,
    required=False,
    description=(
        "Repeat-safe execution: a repeat with the same key and body answers 200 with the first execution; "
        "the same key with another body answers 422."
    ),
)


class WorkflowFilter(CreatedRangeFilterSet):
    class Meta:
        model = Workflow
        fields = ["is_active"]


class ExecutionFilter(CreatedRangeFilterSet):
    status = django_filters.ChoiceFilter(choices=ExecutionStatus.choices)

    class Meta:
        model = Execution
        fields = ["status"]


@extend_schema_view(
    list=extend_schema(tags=["workflows"], summary="List a project's workflows"),
    create=extend_schema(
        tags=["workflows"],
        summary="Define a workflow (editors)",
        request=serializers.WorkflowInputSerializer,
        responses={201: serializers.WorkflowOutputSerializer},
    ),
    retrieve=extend_schema(tags=["workflows"], summary="Get a workflow"),
    partial_update=extend_schema(
        tags=["workflows"],
        summary="Change a workflow (editors); a new definition makes a new version",
        request=serializers.WorkflowUpdateSerializer,
        responses={200: serializers.WorkflowOutputSerializer},
    ),
    destroy=extend_schema(tags=["workflows"], summary="Delete a workflow and its executions (editors)"),
)
class WorkflowViewSet(ConditionalMixin, PaginatedListMixin, viewsets.GenericViewSet):
    """Workflows: listed and created under their project, read and changed by id (with ETag and If-Match)."""

    serializer_class = serializers.WorkflowOutputSerializer
    error_statuses = {"destroy": {409}}  # executions in progress
    conditional_actions = frozenset({"retrieve", "partial_update"})
    if_match_actions = frozenset({"partial_update"})
    queryset = Workflow.objects.none()  # for schema generation; requests go through selectors
    filterset_class = WorkflowFilter
    ordering_fields = ["name", "created_at", "updated_at"]
    ordering = ["-created_at"]
    search_fields = ["name", "description"]
    http_method_names = ["get", "post", "patch", "delete", "head", "options"]

    def list(self, request, project_pk=None):
        project = project_get(user=request.user, project_id=project_pk)
        return self.list_response(selectors.workflow_list(user=request.user, project=project))

    def create(self, request, project_pk=None):
        project = project_get(user=request.user, project_id=project_pk)
        data = serializers.WorkflowInputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        workflow = services.workflow_create(
            project=project, role=project.role, actor=request.user, **data.validated_data
        )
        return Response(self.serializer_class(workflow).data, status=status.HTTP_201_CREATED)

    def retrieve(self, request, pk=None):
        return Response(self.serializer_class(selectors.workflow_get(user=request.user, workflow_id=pk)).data)

    def partial_update(self, request, pk=None):
        workflow = selectors.workflow_get(user=request.user, workflow_id=pk)
        data = serializers.WorkflowUpdateSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        workflow = services.workflow_update(
            workflow=workflow,
            role=workflow.role,
            actor=request.user,
            precondition=self.if_match(request),
            **data.validated_data,
        )
        return Response(self.serializer_class(workflow).data)

    def destroy(self, request, pk=None):
        workflow = selectors.workflow_get(user=request.user, workflow_id=pk)
        services.workflow_delete(workflow=workflow, role=workflow.role, actor=request.user)
        return Response(status=status.HTTP_204_NO_CONTENT)


class WorkflowDefinitionSchemaApi(APIView):
    @extend_schema(
        tags=["workflows"],
        summary="The JSON Schema (draft 2020-12) that a workflow definition must match",
        responses={200: OpenApiTypes.OBJECT},
    )
    def get(self, request):
        return Response(definition_schema.DEFINITION_SCHEMA)


@extend_schema_view(list=extend_schema(tags=["workflows"], summary="List a workflow's versions, newest first"))
class WorkflowVersionViewSet(PaginatedListMixin, viewsets.GenericViewSet):
    """The immutable versions of a workflow's definition."""

    serializer_class = serializers.WorkflowVersionOutputSerializer
    queryset = WorkflowVersion.objects.none()
    filter_backends: list = []

    def list(self, request, workflow_pk=None):
        workflow = selectors.workflow_get(user=request.user, workflow_id=workflow_pk)
        return self.list_response(selectors.workflow_version_list(workflow=workflow))


@extend_schema_view(
    list=extend_schema(tags=["executions"], summary="List a workflow's executions"),
    create=extend_schema(
        tags=["executions"],
        summary="Execute a workflow (editors); it runs asynchronously",
        parameters=[IDEMPOTENCY_KEY],
        request=serializers.ExecutionInputSerializer,
        responses={
            202: serializers.ExecutionOutputSerializer,
            200: OpenApiResponse(serializers.ExecutionOutputSerializer, description="Idempotent repeat."),
        },
    ),
)
class WorkflowExecutionViewSet(PaginatedListMixin, viewsets.GenericViewSet):
    """Executions of one workflow: list them, or start one (202, then poll the execution)."""

    serializer_class = serializers.ExecutionSummarySerializer
    error_statuses = {"create": {409, 422, 429}}  # an inactive workflow; an Idempotency-Key reused; a quota
    queryset = Execution.objects.none()
    filterset_class = ExecutionFilter
    ordering_fields = ["created_at", "started_at", "finished_at"]
    ordering = ["-created_at"]

    def list(self, request, workflow_pk=None):
        workflow = selectors.workflow_get(user=request.user, workflow_id=workflow_pk)
        return self.list_response(selectors.execution_list(workflow=workflow))

    def create(self, request, workflow_pk=None):
        workflow = selectors.workflow_get(user=request.user, workflow_id=workflow_pk)
        data = serializers.ExecutionInputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        key = request.headers.get("Idempotency-Key") or None
        if key is not None and len(key) > IDEMPOTENCY_KEY_MAX_LENGTH:
            raise Invalid(field_errors={"Idempotency-Key": [f"At most {IDEMPOTENCY_KEY_MAX_LENGTH} characters."]})
        execution, created = services.execution_start(
            workflow=workflow,
            role=workflow.role,
            input=data.validated_data["input"],
            actor=request.user,
            idempotency_key=key,
        )
        body = serializers.ExecutionOutputSerializer(execution).data
        return Response(body, status=status.HTTP_202_ACCEPTED if created else status.HTTP_200_OK)


class ExecutionDetailApi(ConditionalMixin, APIView):
    """One execution; once it is finished (it no longer changes but by retention), with an ETag."""

    resource = "execution"
    conditional_actions = frozenset({"get"})

    def has_validator(self, response) -> bool:
        # A pending or running execution changes under the client: no validator, so every poll reads it afresh.
        return response.data["status"] in FINAL_STATUSES

    @extend_schema(
        tags=["executions"], summary="Get an execution with its steps", responses=serializers.ExecutionOutputSerializer
    )
    def get(self, request, pk):
        execution = selectors.execution_get(user=request.user, execution_id=pk)
        return Response(serializers.ExecutionOutputSerializer(execution).data)


class ExecutionCancelApi(APIView):
    error_statuses = {"post": {409}}  # already finished

    @extend_schema(
        tags=["executions"],
        summary="Cancel an execution (editors): at once if pending, at the next step boundary if running",
        request=None,
        responses={202: serializers.ExecutionOutputSerializer},
    )
    def post(self, request, pk):
        execution = selectors.execution_get(user=request.user, execution_id=pk)
        execution = services.execution_cancel(execution=execution, role=execution.role, actor=request.user)
        return Response(serializers.ExecutionOutputSerializer(execution).data, status=status.HTTP_202_ACCEPTED)
