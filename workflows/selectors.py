"""Workflow reads, always scoped to the projects the user belongs to (404 for anyone else)."""

from django.conf import settings
from django.core.cache import cache
from django.db.models import QuerySet

from common.errors import NotFound
from projects.models import Project
from projects.selectors import hidden, member_rows
from workflows.models import Execution, Workflow, WorkflowVersion


def workflow_list(*, user, project: Project) -> QuerySet[Workflow]:
    """Workflows of a project the user belongs to (the project comes from projects.selectors.project_get)."""
    return member_rows(Workflow.objects.filter(project=project), user=user, project_ref="project")


def workflow_get(*, user, workflow_id) -> Workflow:
    """One workflow with the caller's `role`; 404 unless the user is a member of its project."""
    try:
        return member_rows(Workflow.objects.select_related("project"), user=user, project_ref="project").get(
            pk=workflow_id
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
        executions = Execution.objects.select_related("workflow", "workflow_version").prefetch_related("step_runs")
        return member_rows(executions, user=user, project_ref="workflow__project").get(pk=execution_id)
    except (Execution.DoesNotExist, ValueError) as exc:
        hidden(Execution, execution_id)
        raise NotFound from exc


VERSION_CACHE_KEY = "workflows:version:{}:{}"


def workflow_version_current(*, workflow: Workflow) -> WorkflowVersion:
    """The version a new execution of `workflow` pins: the one numbered `workflow.version`.

    Read on every execution start, so its id comes from the shared cache (WORKFLOW_VERSION_CACHE_SECONDS): a
    version is immutable and publishing makes a new number, hence a new key; nothing to invalidate on publish. The
    instance has its other fields deferred (they load if asked for); deleting a version drops its key
    (workflows.apps).
    """
    seconds = settings.WORKFLOW_VERSION_CACHE_SECONDS
    if not seconds:
        return WorkflowVersion.objects.get(workflow=workflow, version=workflow.version)
    key = VERSION_CACHE_KEY.format(workflow.pk, workflow.version)
    version_id = cache.get(key)
    if version_id is None:
        version = WorkflowVersion.objects.get(workflow=workflow, version=workflow.version)
        cache.set(key, version.pk, seconds)
        return version
    version = WorkflowVersion.from_db(
        WorkflowVersion.objects.db, ["id", "workflow_id", "version"], [version_id, workflow.pk, workflow.version]
    )
    version.workflow = workflow
    return version


def forget_version(sender, instance, **kwargs) -> None:
    """A deleted version (with its workflow) is no workflow's current version any more."""
    cache.delete(VERSION_CACHE_KEY.format(instance.workflow_id, instance.version))
