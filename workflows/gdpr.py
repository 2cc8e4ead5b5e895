"""The workflows app's part of a person's export (registered with accounts.gdpr from ready()): the workflows and
versions they created, and the executions they triggered with inputs, outputs and step outputs.

Nothing of its own to erase: workflows and executions belong to their project (the projects part deletes the
projects the person was alone in), their creator is a pseudonymous user id, and the email a person may have
typed into an input is replaced by the erasure's generic pass.
"""

from accounts.models import User
from workflows.models import Execution, Workflow, WorkflowVersion


def _iso(moment) -> str | None:
    return moment.isoformat() if moment is not None else None


def workflows_export(user: User) -> list[dict]:
    workflows = Workflow.objects.filter(created_by=user).order_by("created_at")
    return [
        {
            "id": str(w.pk),
            "project_id": str(w.project_id),
            "name": w.name,
            "description": w.description,
            "definition": w.definition,
            "version": w.version,
            "is_active": w.is_active,
            "created_at": _iso(w.created_at),
        }
        for w in workflows
    ]


def workflow_versions_export(user: User) -> list[dict]:
    versions = WorkflowVersion.objects.filter(created_by=user).order_by("created_at")
    return [
        {
            "id": str(v.pk),
            "workflow_id": str(v.workflow_id),
            "version": v.version,
            "definition": v.definition,
            "created_at": _iso(v.created_at),
        }
        for v in versions
    ]


def executions_export(user: User) -> list[dict]:
    executions = Execution.objects.filter(triggered_by=user).prefetch_related("step_runs").order_by("created_at")
    return [
        {
            "id": str(e.pk),
            "workflow_id": str(e.workflow_id),
            "workflow_version_id": str(e.workflow_version_id),
            "status": e.status,
            "input": e.input,
            "output": e.output,
            "error": e.error,
            "created_at": _iso(e.created_at),
            "started_at": _iso(e.started_at),
            "finished_at": _iso(e.finished_at),
            "steps": [
                {
                    "step_id": s.step_id,
                    "type": s.type,
                    "status": s.status,
                    "attempts": s.attempts,
                    "output": s.output,
                    "error": s.error,
                    "started_at": _iso(s.started_at),
                    "finished_at": _iso(s.finished_at),
                }
                for s in e.step_runs.all()
            ],
        }
        for e in executions.iterator(chunk_size=200)
    ]
