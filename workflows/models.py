import json

from django.conf import settings
from django.db import models
from django.db.models import Q

from common.models import BaseModel


def elapsed_ms(started_at, finished_at) -> int | None:
    """Milliseconds between two timestamps, None until both are known (executions and step runs)."""
    if started_at is None or finished_at is None:
        return None
    return int((finished_at - started_at).total_seconds() * 1000)


def json_size(value) -> int:
    """Bytes of a value as compact JSON: what the input and step-output caps measure."""
    return len(json.dumps(value, separators=(",", ":"), ensure_ascii=False).encode())


class Workflow(BaseModel):
    """A project's workflow: the current definition and its version number."""

    project = models.ForeignKey("projects.Project", on_delete=models.CASCADE, related_name="workflows")
    name = models.CharField(max_length=200)
    description = models.TextField(blank=True)
    definition = models.JSONField()
    version = models.PositiveIntegerField(default=1)
    is_active = models.BooleanField(default=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )

    class Meta:
        ordering = ["-created_at"]
        indexes = [models.Index(fields=["project", "-created_at"], name="workflow_project_created")]

    def get_additional_data(self) -> dict:
        """What its audit history entries carry besides the diff: the project they belong to."""
        return {"project_id": str(self.project_id)}

    def __str__(self) -> str:
        return self.name


class WorkflowVersion(BaseModel):
    """An immutable snapshot of a workflow definition; executions pin the one they ran with."""

    workflow = models.ForeignKey(Workflow, on_delete=models.CASCADE, related_name="versions")
    version = models.PositiveIntegerField()
    definition = models.JSONField()
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )

    class Meta:
        ordering = ["-version"]
        constraints = [models.UniqueConstraint(fields=["workflow", "version"], name="unique_workflow_version")]

    def get_additional_data(self) -> dict:
        return {"project_id": str(self.workflow.project_id)}

    def __str__(self) -> str:
        return f"{self.workflow} v{self.version}"


class ExecutionStatus(models.TextChoices):
    PENDING = "pending", "Pending"
    RUNNING = "running", "Running"
    COMPLETED = "completed", "Completed"
    FAILED = "failed", "Failed"
    CANCELLED = "cancelled", "Cancelled"


FINAL_STATUSES = (ExecutionStatus.COMPLETED, ExecutionStatus.FAILED, ExecutionStatus.CANCELLED)


class Execution(BaseModel):
    """One run of a workflow at a pinned version; the runner moves it pending -> running -> a final status."""

    # No index on created_at alone (BaseModel's db_index): PostgreSQL read a workflow's page from it newest first,
    # filtering by workflow, and for a big workflow that went quiet long ago skipped every newer execution of the
    # others (0.7 s at 1M rows). Pages come from (workflow, -created_at, -id) instead (bench/scale.py).
    created_at = models.DateTimeField(auto_now_add=True)
    workflow = models.ForeignKey(Workflow, on_delete=models.CASCADE, related_name="executions")
    # Versions are deleted only with their workflow (never on their own: no API, read-only admin inline).
    workflow_version = models.ForeignKey(WorkflowVersion, on_delete=models.CASCADE, related_name="executions")
    status = models.CharField(max_length=16, choices=ExecutionStatus.choices, default=ExecutionStatus.PENDING)
    input = models.JSONField(default=dict, blank=True)
    output = models.JSONField(null=True, blank=True)
    error = models.TextField(blank=True)
    idempotency_key = models.CharField(max_length=255, null=True, blank=True)
    # sha256 of the canonical request body: the same key with another body is refused.
    request_fingerprint = models.CharField(max_length=64, blank=True)
    triggered_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    started_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)
    cancel_requested = models.BooleanField(default=False)
    # Liveness of the runner that holds the execution: a stale heartbeat lets another delivery take over.
    heartbeat_at = models.DateTimeField(null=True, blank=True)
    runner_id = models.CharField(max_length=200, blank=True)
    # Claims in a row without a step finishing, and how many steps had finished at the last claim: past
    # WORKFLOW_MAX_CLAIMS the execution is failed instead of being run again (a runner that dies every time).
    # db_default too: the release before these columns inserts rows without them (expand/contract, 0004).
    claims = models.PositiveIntegerField(default=0, db_default=0)
    claims_progress = models.PositiveIntegerField(default=0, db_default=0)

    class Meta:
        ordering = ["-created_at"]
        constraints = [
            models.UniqueConstraint(
                fields=["workflow", "idempotency_key"],
                condition=Q(idempotency_key__isnull=False),
                name="unique_execution_idempotency_key",
            )
        ]
        indexes = [
            # Both API versions page a workflow's executions newest first, then by id (v2's cursor key).
            models.Index(fields=["workflow", "-created_at", "-id"], name="execution_workflow_created_id"),
            models.Index(fields=["workflow", "status", "-created_at"], name="execution_workflow_status"),
            models.Index(fields=["status", "heartbeat_at"], name="execution_status_heartbeat"),
        ]

    def get_additional_data(self) -> dict:
        return {"project_id": str(self.workflow.project_id)}

    def __str__(self) -> str:
        return f"{self.workflow} execution {self.pk} ({self.status})"

    @property
    def duration_ms(self) -> int | None:
        return elapsed_ms(self.started_at, self.finished_at)


class StepStatus(models.TextChoices):
    RUNNING = "running", "Running"
    COMPLETED = "completed", "Completed"
    FAILED = "failed", "Failed"
    SKIPPED = "skipped", "Skipped"


class StepRun(BaseModel):
    """The durable record of one step of an execution; at most one per (execution, step_id)."""

    execution = models.ForeignKey(Execution, on_delete=models.CASCADE, related_name="step_runs")
    step_id = models.CharField(max_length=100)
    type = models.CharField(max_length=50)
    status = models.CharField(max_length=16, choices=StepStatus.choices, default=StepStatus.RUNNING)
    attempts = models.PositiveIntegerField(default=0)
    output = models.JSONField(null=True, blank=True)
    error = models.TextField(blank=True)
    started_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["created_at"]
        constraints = [models.UniqueConstraint(fields=["execution", "step_id"], name="unique_execution_step")]

    def __str__(self) -> str:
        return f"{self.step_id} ({self.status})"

    @property
    def duration_ms(self) -> int | None:
        return elapsed_ms(self.started_at, self.finished_at)
