from django.contrib import admin, messages

from audit import recording as audit
from audit.models import Category
from common.errors import ApplicationError
from projects.permissions import OPERATOR
from workflows import services
from workflows.models import FINAL_STATUSES, Execution, StepRun, Workflow, WorkflowVersion


def _audit(action: str, execution, **extra) -> None:
    audit.record(
        Category.ADMIN,
        action,
        resource_type="execution",
        resource_id=execution.pk,
        project_id=execution.workflow.project_id,
        **extra,
    )


class WorkflowVersionInline(admin.TabularInline):
    """Versions are immutable: shown, never edited, added or deleted here."""

    model = WorkflowVersion
    extra = 0
    can_delete = False
    fields = ["version", "definition", "created_by", "created_at"]
    readonly_fields = fields
    ordering = ["-version"]

    def has_add_permission(self, request, obj=None):
        return False

    def has_change_permission(self, request, obj=None):
        return False


@admin.register(Workflow)
class WorkflowAdmin(admin.ModelAdmin):
    list_display = ("name", "project", "version", "is_active", "created_by", "created_at")
    list_filter = ("is_active", ("project", admin.RelatedOnlyFieldListFilter), "created_at")
    search_fields = ("name", "project__name", "project__slug")
    list_select_related = ("project", "created_by")
    # The definition changes only through the API's service, which validates it and versions it.
    readonly_fields = ("id", "project", "definition", "version", "created_by", "created_at", "updated_at")
    fields = ("id", "project", "name", "description", "is_active", "definition", "version", "created_by")
    inlines = [WorkflowVersionInline]

    def has_add_permission(self, request):
        return False


class StepRunInline(admin.TabularInline):
    model = StepRun
    extra = 0
    can_delete = False
    fields = ["step_id", "type", "status", "attempts", "started_at", "finished_at", "error", "output"]
    readonly_fields = fields
    ordering = ["created_at"]

    def has_add_permission(self, request, obj=None):
        return False

    def has_change_permission(self, request, obj=None):
        return False


@admin.register(Execution)
class ExecutionAdmin(admin.ModelAdmin):
    list_display = ("id", "workflow", "project", "version", "status", "triggered_by", "created_at", "finished_at")
    list_filter = ("status", ("workflow__project", admin.RelatedOnlyFieldListFilter), "created_at")
    # Exact id and workflow-name searches only: a free-text search over JSON input would scan the table.
    search_fields = ("=id", "workflow__name")
    list_select_related = ("workflow__project", "workflow_version", "triggered_by")
    date_hierarchy = "created_at"
    readonly_fields = [field.name for field in Execution._meta.fields]
    inlines = [StepRunInline]
    actions = ["cancel", "rerun"]

    @admin.display(description="Project", ordering="workflow__project__name")
    def project(self, obj):
        return obj.workflow.project

    @admin.display(description="Version", ordering="workflow_version__version")
    def version(self, obj):
        return obj.workflow_version.version

    def has_add_permission(self, request):
        return False

    # Actions change state: they need the change permission (Django offers an action with no `permissions` to
    # anyone who may view the list, so a view-only staff member could re-run executions).
    @admin.action(description="Cancel the selected executions", permissions=["change"])
    def cancel(self, request, queryset):
        cancelled = 0
        for execution in queryset.exclude(status__in=FINAL_STATUSES):
            try:
                services.execution_cancel(execution=execution, role=OPERATOR, actor=request.user)
                cancelled += 1
                _audit("admin.execution.cancel", execution)
            except ApplicationError as exc:
                self.message_user(request, f"{execution.pk}: {exc}", messages.WARNING)
        self.message_user(request, f"Cancellation requested for {cancelled} execution(s).", messages.SUCCESS)

    @admin.action(description="Re-run the selected executions (same input, current version)", permissions=["change"])
    def rerun(self, request, queryset):
        started = 0
        for execution in queryset.select_related("workflow"):
            try:
                new = services.execution_rerun(execution=execution, role=OPERATOR, actor=request.user)
                started += 1
                _audit("admin.execution.rerun", execution, detail={"new_execution": str(new.pk)})
            except ApplicationError as exc:
                self.message_user(request, f"{execution.pk}: {exc}", messages.WARNING)
        self.message_user(request, f"Started {started} new execution(s).", messages.SUCCESS)
