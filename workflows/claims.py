"""Claiming an execution: which delivery of its task runs it (workflows.runner), and when another must wait.

A delivery takes the execution under a row lock and becomes its holder (``runner_id``), refreshing
``heartbeat_at`` while it runs. Another delivery finding a fresh heartbeat backs off (ExecutionBusy: the task
retries later); a stale heartbeat means the holder died, and it takes over. After WORKFLOW_MAX_CLAIMS claims
without a step finishing, the execution is failed instead of being run again. The usual first claim is one
statement (`_first_claim`); every other case reads the row under the lock (docs/ARCHITECTURE.md).
"""

import copy
import logging
from datetime import timedelta

from django.conf import settings
from django.db import connection, transaction
from django.utils import timezone

from audit.recording import record_change
from common import redaction
from common.metrics import record_execution_finished
from common.services import PREVIOUS_STATE
from projects.models import Project
from workflows.models import FINAL_STATUSES, Execution, ExecutionStatus, StepRun, StepStatus, Workflow

logger = logging.getLogger("aiassistant.workflows")


class ExecutionBusy(Exception):
    """Another live runner holds the execution; try again after ``retry_in`` seconds."""

    def __init__(self, retry_in: float):
        super().__init__(f"execution is held by a live runner; retry in {retry_in:g}s")
        self.retry_in = retry_in


def claim(execution_id, runner_id: str) -> tuple[Execution, bool] | None:
    """The execution, now held by this runner, and whether no delivery claimed it before (it has no step records)."""
    execution = _first_claim(execution_id, runner_id)
    if execution is not None:
        return execution, True
    with transaction.atomic():
        execution = (
            Execution.objects.select_for_update(of=("self",))
            .select_related("workflow__project")
            .filter(pk=execution_id)
            .first()
        )
        if execution is None or execution.status in FINAL_STATUSES:
            return None
        now = timezone.now()
        if execution.cancel_requested:
            finish(execution, ExecutionStatus.CANCELLED, error="Cancelled.", now=now)
            return None
        stale_after = settings.WORKFLOW_HEARTBEAT_STALE_AFTER
        if (
            execution.status == ExecutionStatus.RUNNING
            and execution.heartbeat_at is not None
            and execution.heartbeat_at > now - timedelta(seconds=stale_after)
        ):
            raise ExecutionBusy(retry_in=stale_after)
        if execution.status == ExecutionStatus.RUNNING:
            logger.warning("execution %s: taking over from %s (stale heartbeat)", execution.pk, execution.runner_id)
        first_claim = execution.started_at is None  # set by the first claim only, never cleared
        if not _count_claim(execution):
            limit = settings.WORKFLOW_MAX_CLAIMS
            error = (
                f"The execution was claimed {limit} times without a step finishing (its runner stopped each time); "
                f"it was failed instead of being run again (WORKFLOW_MAX_CLAIMS={limit})."
            )
            logger.error("execution %s: %s", execution.pk, error)
            unfinished = f"not finished: the execution was claimed {limit} times"
            StepRun.objects.filter(execution=execution, status=StepStatus.RUNNING).update(
                status=StepStatus.FAILED, error=unfinished, finished_at=now
            )
            finish(execution, ExecutionStatus.FAILED, error=error, now=now)
            return None
        # The history of this transition diffs against the row just locked, without reading it again.
        execution.__dict__[PREVIOUS_STATE] = copy.copy(execution)
        execution.status = ExecutionStatus.RUNNING
        execution.started_at = execution.started_at or now
        execution.heartbeat_at = now
        execution.runner_id = runner_id
        fields = ["status", "started_at", "heartbeat_at", "runner_id", "claims", "claims_progress", "updated_at"]
        execution.save(update_fields=fields)
        return execution, first_claim


# Table names from the models' Meta; every value is a parameter.
_FIRST_CLAIM_SQL = f"""
    UPDATE {Execution._meta.db_table} AS e
       SET status = %(running)s, started_at = %(now)s, heartbeat_at = %(now)s, runner_id = %(runner_id)s,
           claims = 1, updated_at = %(now)s
      FROM {Workflow._meta.db_table} AS w, {Project._meta.db_table} AS p
     WHERE e.id = %(id)s AND e.status = %(pending)s AND e.started_at IS NULL AND e.claims = 0
       AND NOT e.cancel_requested AND w.id = e.workflow_id AND p.id = w.project_id
 RETURNING e.*, w.name AS claim_workflow_name, w.project_id AS claim_project_id, p.slug AS claim_project_slug
"""  # noqa: S608  # nosec B608


def _first_claim(execution_id, runner_id: str) -> Execution | None:
    """The usual claim, of an execution no delivery has claimed (pending, never started, not cancelled), in one
    statement: the row is updated where it stands and returned with its workflow's name and project (what the run
    and its history need), with its history entry in the same transaction. None when it is not such an execution:
    `claim` then reads the row under a lock and decides (busy, stale, cancelled, claimed too often, finished).

    Safe against a concurrent delivery: the second UPDATE waits for the first's row lock, then finds the row no
    longer pending (PostgreSQL re-checks the WHERE clause on the updated row) and returns nothing."""
    if settings.WORKFLOW_MAX_CLAIMS < 1 or connection.vendor != "postgresql":
        return None  # SQLite (the embedded default) cannot return the joined rows of an UPDATE ... FROM
    now = timezone.now()
    params = {
        "id": execution_id,
        "runner_id": runner_id,
        "now": now,
        "pending": ExecutionStatus.PENDING,
        "running": ExecutionStatus.RUNNING,
    }
    with transaction.atomic():
        execution = next(iter(Execution.objects.raw(_FIRST_CLAIM_SQL, params)), None)
        if execution is None:
            return None
        # The related rows as far as they were returned; any other field loads on first use (Django's deferred
        # fields), as the secrets and quotas of http and llm steps do.
        returned = execution.__dict__
        name, project_id, slug = (
            returned.pop(f"claim_{key}") for key in ("workflow_name", "project_id", "project_slug")
        )
        project = _loaded(Project, id=project_id, slug=slug)
        execution.workflow = _loaded(Workflow, id=execution.workflow_id, name=name, project_id=project_id)
        execution.workflow.project = project
        # An UPDATE, which django-auditlog's signals do not see: the history of the transition, explicitly.
        record_change(execution, {"status": [ExecutionStatus.PENDING, ExecutionStatus.RUNNING]})
    return execution


def _loaded(model, **values):
    """An instance as loaded from the database with only these fields (Model.from_db; the others are deferred)."""
    names = [field.attname for field in model._meta.concrete_fields if field.attname in values]
    return model.from_db(None, names, [values[name] for name in names])


def _count_claim(execution: Execution) -> bool:
    """Count this claim; False when the execution has already been claimed WORKFLOW_MAX_CLAIMS times in a row
    without a step finishing. The first claim costs no query: only a claim after another counts the steps."""
    finished = (
        StepRun.objects.filter(execution=execution, status__in=(StepStatus.COMPLETED, StepStatus.FAILED)).count()
        if execution.claims
        else 0
    )
    if finished > execution.claims_progress:
        execution.claims, execution.claims_progress = 0, finished  # progress since the last claim
    if execution.claims >= settings.WORKFLOW_MAX_CLAIMS:
        return False
    execution.claims += 1
    return True


def finish(execution: Execution, status: str, *, error: str = "", output=None, now=None) -> None:
    """Write a final status found outside a run (cancelled or failed at a claim, or by the time limit backstop)."""
    now = now or timezone.now()
    redactor = redaction.for_storage()
    execution.status = status
    execution.error = redactor.value(error)
    execution.output = redactor.value(output)
    execution.finished_at = now
    execution.save(update_fields=["status", "error", "output", "finished_at", "updated_at"])
    started = execution.started_at or now
    record_execution_finished(status=status, duration_seconds=(now - started).total_seconds())
