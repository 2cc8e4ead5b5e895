"""Workflow reads, always scoped to the projects the user belongs to (404 for anyone else)."""

from django.db.models import QuerySet

from common.errors import NotFound
from projects.models import Project
from projects.selectors import hidden, member_q, role_subquery
from workflows.models import Execution, Workflow, WorkflowVersion


def workflow_list(*, user, project: Project) -> QuerySet[Workflow]:
    """Workflows of a project the user belongs to (the project comes from projects.selectors.project_get)."""
    return Workflow.objects.filter(member_q(user=user, project_ref="project"), project=project).annotate(
        role=role_subquery(user=user, project_ref="project")
    )


def workflow_get(*, user, workflow_id) -> Workflow:
    """One workflow with the caller's `role`; 404 unless the user is a member of its project."""
    try:
        return (
            Workflow.objects.filter(member_q(user=user, project_ref="project"))
            .annotate(role=role_subquery(user=user, project_ref="project"))
            .select_related("project")
            .get(pk=workflow_id)
        )
    except (Workflow.DoesNotExist, ValueError) as exc:
        hidden(Workflow, workflow_id)
        raise NotFound from exc


def workflow_version_list(*, workflow: Workflow) -> QuerySet[WorkflowVersion]:
    """Versions of a workflow already fetched through workflow_get, newest first."""
    return WorkflowVersion.objects.filter(workflow=workflow).order_by("-version")


def execution_list(*, workflow: Workflow) -> QuerySet[Execution]:
    """Executions of a workflow already fetched through workflow_get, newest first."""
    return Execution.objects.filter(workflow=workflow).select_related("workflow_version").order_by("-created_at")


def execution_get(*, user, execution_id) -> Execution:
    """One execution with its step runs and the caller's `role`; 404 unless the user is a member of its project."""
    try:
        return (
            Execution.objects.filter(member_q(user=user, project_ref="workflow__project"))
            .annotate(role=role_subquery(user=user, project_ref="workflow__project"))
            .select_related("workflow", "workflow_version")
            .prefetch_related("step_runs")
            .get(pk=execution_id)
        )
    except (Execution.DoesNotExist, ValueError) as exc:
        hidden(Execution, execution_id)
        raise NotFound from exc


def workflow_version_current(*, workflow: Workflow) -> WorkflowVersion:
    """The version a new execution of `workflow` pins: the one numbered `workflow.version`."""
    return WorkflowVersion.objects.get(workflow=workflow, version=workflow.version)
