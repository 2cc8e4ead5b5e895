"""Workflow writes: versioned definitions, and executions (start, cancel, re-run, recovery of lost ones)."""

import hashlib
import json
import logging
from collections.abc import Callable
from datetime import timedelta
from typing import Any

from celery import current_app
from django.conf import settings
from django.db import IntegrityError, transaction
from django.utils import timezone

from accounts.models import User
from common.errors import Conflict, Invalid, PreconditionFailed, Unprocessable
from common.metrics import record_execution_finished
from common.models import prefetched_none
from common.services import model_update
from projects import quotas
from projects.models import Project, Role
from projects.permissions import require_role
from projects.selectors import project_secret_names
from workflows.definition import DefinitionError, secret_references, validate_definition
from workflows.models import FINAL_STATUSES, Execution, ExecutionStatus, StepRun, Workflow, WorkflowVersion, json_size
from workflows.selectors import workflow_version_current

logger = logging.getLogger("aiassistant.workflows")


def _definition_field(path: str) -> str:
    """The API error key of a definition problem: ``definition.steps[1].type``; the whole definition is ``$``."""
    if not path or path == "$":
        return "definition"
    return f"definition{path}" if path.startswith("[") else f"definition.{path}"


def _validate(definition, project: Project) -> None:
    try:
        validate_definition(definition)
    except DefinitionError as exc:
        raise Invalid(
            field_errors={_definition_field(path): messages for path, messages in exc.errors.items()}
        ) from exc
    # Every {{ secrets.NAME }} must name a secret of the project (a later deletion fails the step instead).
    named = secret_references(definition)
    missing = sorted(set(named) - project_secret_names(project=project, names=named))
    if missing:
        errors: dict[str, list[str]] = {}
        for name in missing:
            for path in named[name]:
                errors.setdefault(_definition_field(path), []).append(
                    f"unknown project secret {name!r}: create it first (POST /api/v1/projects/{project.pk}/secrets/)"
                )
        raise Invalid(field_errors=errors)


@transaction.atomic
def workflow_create(
    *,
    project: Project,
    role: str | None,
    name: str,
    definition: dict,
    description: str = "",
    is_active: bool = True,
    actor: User,
) -> Workflow:
    """Define a workflow (editors and above); its definition becomes version 1."""
    require_role(role, Role.EDITOR, "define workflows")
    _validate(definition, project)
    workflow = Workflow(
        project=project,
        name=name,
        description=description,
        definition=definition,
        version=1,
        is_active=is_active,
        created_by=actor,
    )
    workflow.full_clean()
    workflow.save()
    WorkflowVersion.objects.create(workflow=workflow, version=1, definition=definition, created_by=actor)
    return workflow


@transaction.atomic
def workflow_update(
    *,
    workflow: Workflow,
    role: str | None,
    actor: User,
    precondition: Callable[[Workflow], bool] | None = None,
    **fields,
) -> Workflow:
    """Change a workflow (editors); a changed definition becomes a new immutable version n+1.

    `precondition` (the API's If-Match) is asked about the row as it is under the lock: False refuses the change
    with PreconditionFailed, so of two writers who read the same state only the first changes it (no lost update).
    """
    require_role(role, Role.EDITOR, "change workflows")
    # Lock the row: two concurrent definition changes must not both become version n+1.
    locked = Workflow.objects.select_for_update().get(pk=workflow.pk)
    definition = fields.get("definition")
    new_definition = definition is not None and definition != locked.definition
    if new_definition:
        _validate(definition, locked.project)  # an invalid body is a 400 whatever its If-Match says
    if precondition is not None and not precondition(locked):
        raise PreconditionFailed(
            "This workflow changed since the given ETag; read it again and reapply the change.",
        )
    changes: dict[str, Any] = {name: fields[name] for name in ("name", "description", "is_active") if name in fields}
    if new_definition:
        changes |= {"definition": definition, "version": locked.version + 1}
        WorkflowVersion.objects.create(
            workflow=locked, version=locked.version + 1, definition=definition, created_by=actor
        )
    model_update(instance=locked, fields=("name", "description", "is_active", "definition", "version"), data=changes)
    locked.role = getattr(workflow, "role", None)  # type: ignore[attr-defined]  # as workflows.selectors annotate it
    return locked


@transaction.atomic
def workflow_delete(*, workflow: Workflow, role: str | None, actor: User) -> None:
    """Delete a workflow with its versions and executions (editors); refused while an execution is in flight."""
    require_role(role, Role.EDITOR, "delete workflows")
    active = (ExecutionStatus.PENDING, ExecutionStatus.RUNNING)
    if Execution.objects.filter(workflow=workflow, status__in=active).exists():
        raise Conflict(
            "This workflow has executions in progress; cancel them or wait for them to finish first.",
            code="executions_in_progress",
        )
    workflow.delete()


def _fingerprint(payload) -> str:
    canonical = json.dumps(payload, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return hashlib.sha256(canonical.encode()).hexdigest()


RUN_EXECUTION_TASK = "workflows.run_execution"


def _enqueue(execution_id) -> None:
    # By name: workflows.tasks imports this module (tasks are the outer layer), never the other way round.
    task = current_app.tasks[RUN_EXECUTION_TASK]
    task.apply_async(args=[str(execution_id)], queue=settings.WORKFLOW_EXECUTION_QUEUE)


def _existing_for_key(*, workflow: Workflow, idempotency_key: str, fingerprint: str) -> Execution | None:
    existing = Execution.objects.filter(workflow=workflow, idempotency_key=idempotency_key).first()
    if existing is not None and existing.request_fingerprint != fingerprint:
        raise Unprocessable(
            "This Idempotency-Key was already used with a different request body.", code="idempotency_key_reused"
        )
    return existing


@transaction.atomic
def execution_start(
    *,
    workflow: Workflow,
    role: str | None,
    input: dict,
    actor: User | None,
    idempotency_key: str | None = None,
) -> tuple[Execution, bool]:
    """Create a pending execution pinned to the current version and queue it once committed (editors).

    Returns ``(execution, created)``: with an ``idempotency_key`` already used for the same input, the existing
    execution and False (nothing queued); with the same key and another input, 422.
    """
    require_role(role, Role.EDITOR, "execute workflows")
    if not isinstance(input, dict):
        raise Invalid("The input must be a JSON object.", field="input")
    if json_size(input) > settings.WORKFLOW_INPUT_MAX_BYTES:
        raise Invalid(f"The input is larger than {settings.WORKFLOW_INPUT_MAX_BYTES} bytes.", field="input")
    fingerprint = _fingerprint({"input": input})
    if idempotency_key:
        existing = _existing_for_key(workflow=workflow, idempotency_key=idempotency_key, fingerprint=fingerprint)
        if existing is not None:
            return existing, False
    if not workflow.is_active:
        raise Conflict("This workflow is inactive; activate it to run it.", code="inactive")
    version = workflow_version_current(workflow=workflow)
    execution = Execution(
        workflow=workflow,
        workflow_version=version,
        input=input,
        idempotency_key=idempotency_key or None,
        request_fingerprint=fingerprint,
        triggered_by=actor,
    )
    # The unique (workflow, idempotency_key) constraint is left to the database: a concurrent request with
    # the same key loses the race with an IntegrityError and answers with the winner's execution. The foreign
    # keys are objects in hand: no query to check that they exist.
    # The primary key is a fresh UUID: no query to check that it is unique either.
    execution.full_clean(
        exclude=["workflow", "workflow_version", "triggered_by"], validate_unique=False, validate_constraints=False
    )
    if idempotency_key:
        try:
            with transaction.atomic():  # a savepoint, so that the loser of a race can still read the winner
                # Counted in this savepoint: a start that loses the idempotency race gives its unit back.
                quotas.execution_consume(project=workflow.project)
                execution.save()
        except IntegrityError:
            existing = _existing_for_key(workflow=workflow, idempotency_key=idempotency_key, fingerprint=fingerprint)
            if existing is None:
                raise
            return existing, False
    else:
        quotas.execution_consume(project=workflow.project)  # given back with the transaction if the save fails
        execution.save()
    # A new execution has no step runs yet: its response needs no query to find none.
    prefetched_none(execution, "step_runs")
    transaction.on_commit(lambda: _enqueue(execution.pk))
    return execution, True


@transaction.atomic
def execution_cancel(*, execution: Execution, role: str | None, actor: User | None) -> Execution:
    """Cancel an execution (editors): a pending one at once, a running one at its runner's next step boundary.

    The given instance is updated in place (its prefetched steps stay as they are: cancelling adds none).
    """
    require_role(role, Role.EDITOR, "cancel executions")
    locked = Execution.objects.select_for_update().get(pk=execution.pk)
    if locked.status in FINAL_STATUSES:
        raise Conflict(f"This execution is already {locked.status}.", code="already_finished")
    now = timezone.now()
    if locked.status == ExecutionStatus.PENDING:
        locked.status = ExecutionStatus.CANCELLED
        locked.cancel_requested = True
        locked.error = "Cancelled before it started."
        locked.finished_at = now
        locked.save(update_fields=["status", "cancel_requested", "error", "finished_at", "updated_at"])
        transaction.on_commit(lambda: record_execution_finished(status=ExecutionStatus.CANCELLED, duration_seconds=0.0))
    else:
        locked.cancel_requested = True
        locked.save(update_fields=["cancel_requested", "updated_at"])
    logger.info("execution %s cancel requested (status %s)", locked.pk, locked.status)
    for name in ("status", "cancel_requested", "error", "finished_at", "updated_at"):
        setattr(execution, name, getattr(locked, name))
    return execution


def execution_rerun(*, execution: Execution, role: str | None, actor: User | None) -> Execution:
    """A new execution of the same workflow (its current version) with the same input (editors)."""
    new, _ = execution_start(workflow=execution.workflow, role=role, input=execution.input, actor=actor)
    return new


def executions_recover_stale() -> int:
    """Queue again the executions whose delivery was lost; returns how many were queued.

    A running execution whose heartbeat is older than WORKFLOW_HEARTBEAT_STALE_AFTER lost its worker (killed
    with its whole process, so nothing rejected the message); a pending one that old may have lost its
    message (the filesystem transport deletes a message when it is read). Duplicate deliveries are harmless:
    the runner takes over only a stale lease, and finished steps are never run again.
    """
    stale_before = timezone.now() - timedelta(seconds=settings.WORKFLOW_HEARTBEAT_STALE_AFTER)
    running = Execution.objects.filter(status=ExecutionStatus.RUNNING, heartbeat_at__lt=stale_before)
    pending = Execution.objects.filter(
        status=ExecutionStatus.PENDING, created_at__lt=stale_before, updated_at__lt=stale_before
    )
    ids = list(running.values_list("pk", flat=True)) + list(pending.values_list("pk", flat=True))
    if ids:
        # Touch pending ones so that each is queued again at most once per stale period (backlogs).
        Execution.objects.filter(pk__in=ids, status=ExecutionStatus.PENDING).update(updated_at=timezone.now())
    for execution_id in ids:
        logger.warning("execution %s looks abandoned; queueing it again", execution_id)
        _enqueue(execution_id)
    return len(ids)


def execution_payloads_purge(cutoff, *, dry_run: bool, run_id=None) -> int:
    """Retention of execution data (LLM prompts and answers live here): the inputs, outputs and errors of executions
    finished before cutoff, and of their steps, are emptied; the rows (status, times) stay. Returns how many
    executions were (or would be) emptied."""
    expired = Execution.objects.filter(finished_at__lt=cutoff).exclude(input={}, output=None, error="")
    if dry_run:
        return expired.count()
    with transaction.atomic():
        ids = list(expired.values_list("pk", flat=True))
        StepRun.objects.filter(execution_id__in=ids).update(output=None, error="")
        return Execution.objects.filter(pk__in=ids).update(input={}, output=None, error="")
