from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from common.serializers import StrictBooleanField, StrictCharField
from workflows.definition_schema import openapi_schema
from workflows.models import Execution, ExecutionStatus, StepRun, StepStatus, Workflow, WorkflowVersion

DEFINITION_HELP = "The workflow's definition; its JSON Schema is also served at /api/v1/workflows/definition-schema/."


@extend_schema_field(openapi_schema())
class DefinitionField(serializers.JSONField):
    """A workflow definition, documented with its JSON Schema (workflows.definition validates it in the services)."""


class WorkflowOutputSerializer(serializers.ModelSerializer):
    project = serializers.UUIDField(source="project_id", read_only=True)
    definition = DefinitionField(read_only=True)
    created_by = serializers.UUIDField(source="created_by_id", read_only=True, allow_null=True)

    class Meta:
        model = Workflow
        fields = [
            "id",
            "project",
            "name",
            "description",
            "definition",
            "version",
            "is_active",
            "created_by",
            "created_at",
            "updated_at",
        ]
        read_only_fields = fields


class WorkflowInputSerializer(serializers.Serializer):
    name = StrictCharField(max_length=200)
    description = StrictCharField(required=False, allow_blank=True, default="")
    definition = DefinitionField(help_text=DEFINITION_HELP)
    is_active = StrictBooleanField(required=False, default=True)


class WorkflowUpdateSerializer(serializers.Serializer):
    name = StrictCharField(max_length=200, required=False)
    description = StrictCharField(required=False, allow_blank=True)
    definition = DefinitionField(required=False, help_text=DEFINITION_HELP + " A change makes a new version.")
    is_active = StrictBooleanField(required=False)


class WorkflowVersionOutputSerializer(serializers.ModelSerializer):
    created_by = serializers.UUIDField(source="created_by_id", read_only=True, allow_null=True)
    definition = DefinitionField(read_only=True)

    class Meta:
        model = WorkflowVersion
        fields = ["id", "version", "definition", "created_by", "created_at"]
        read_only_fields = fields


class ExecutionInputSerializer(serializers.Serializer):
    input = serializers.DictField(
        # Any JSON value, null included (found by schemathesis: `{"a": null}` was refused)
        child=serializers.JSONField(allow_null=True),
        required=False,
        default=dict,
        help_text="The workflow's input (an object).",
    )


class StepRunOutputSerializer(serializers.ModelSerializer):
    status = serializers.ChoiceField(choices=StepStatus.choices, read_only=True)
    duration_ms = serializers.IntegerField(read_only=True, allow_null=True)

    class Meta:
        model = StepRun
        fields = [
            "step_id",
            "type",
            "status",
            "attempts",
            "output",
            "error",
            "started_at",
            "finished_at",
            "duration_ms",
        ]
        read_only_fields = fields


class ExecutionSummarySerializer(serializers.ModelSerializer):
    """An execution without its steps (lists)."""

    workflow = serializers.UUIDField(source="workflow_id", read_only=True)
    workflow_version = serializers.IntegerField(source="workflow_version.version", read_only=True)
    status = serializers.ChoiceField(choices=ExecutionStatus.choices, read_only=True)
    triggered_by = serializers.UUIDField(source="triggered_by_id", read_only=True, allow_null=True)
    duration_ms = serializers.IntegerField(read_only=True, allow_null=True)

    class Meta:
        model = Execution
        fields = [
            "id",
            "workflow",
            "workflow_version",
            "status",
            "input",
            "output",
            "error",
            "cancel_requested",
            "created_at",
            "started_at",
            "finished_at",
            "duration_ms",
            "triggered_by",
        ]
        read_only_fields = fields


class ExecutionOutputSerializer(ExecutionSummarySerializer):
    """An execution with its step runs."""

    steps = StepRunOutputSerializer(source="step_runs", many=True, read_only=True)

    class Meta(ExecutionSummarySerializer.Meta):
        fields = [*ExecutionSummarySerializer.Meta.fields, "steps"]
        read_only_fields = fields
