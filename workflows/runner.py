"""The execution runner: runs a pinned workflow version step by step, durably, on a Celery worker.

How it stays correct when deliveries are duplicated or a worker dies (see docs/ARCHITECTURE.md):
- Claim. A delivery takes the execution under a row lock: it becomes the holder (``runner_id``) and refreshes
  ``heartbeat_at`` every WORKFLOW_HEARTBEAT_INTERVAL. Another delivery finding a fresh heartbeat backs off
  (ExecutionBusy: the task retries later); a stale heartbeat means the holder died, and it takes over.
- Resume. Each step's result is written in its own statement as soon as it finishes (StepRun is unique per
  execution and step); a delivery that takes over skips completed steps and reuses their outputs.
- Steps run level by level (step_levels); the steps of a level run concurrently in threads that touch no
  database: every write happens in this thread, between waits.
- A failed step fails the execution at the end of its level: the steps of the later levels never run and
  are recorded as ``skipped``. Cancellation and the time limit are checked at every wait (a step boundary):
  running steps finish within their own timeout, steps not started are recorded as ``skipped``.
"""

import contextvars
import enum
import logging
import os
import socket
import threading
import time
import uuid
from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor, wait
from datetime import timedelta

from django.conf import settings
from django.db import transaction
from django.utils import timezone

from audit import context as audit_context
from audit.recording import record_change
from common import redaction
from common.errors import QuotaExceeded
from common.metrics import record_execution_finished
from projects import quotas
from workflows.attempts import StepOutcome, run_step_attempts
from workflows.definition import step_levels
from workflows.models import FINAL_STATUSES, Execution, ExecutionStatus, StepStatus, json_size
from workflows.records import StepRecords
from workflows.steps import get_step_type
from workflows.templating import TemplateRenderError, render

logger = logging.getLogger("aiassistant.workflows")

MAX_PARALLEL_STEPS = 8


class ExecutionBusy(Exception):
    """Another live runner holds the execution; try again after ``retry_in`` seconds."""

    def __init__(self, retry_in: float):
        super().__init__(f"execution is held by a live runner; retry in {retry_in:g}s")
        self.retry_in = retry_in


def new_runner_id() -> str:
    """A label unique to one delivery: host, process and a random part."""
    return f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:12]}"


def execution_run(*, execution_id, runner_id: str | None = None) -> None:
    """Run (or resume) an execution to a final status. Safe to call again for the same execution."""
    runner_id = runner_id or new_runner_id()
    execution = _claim(execution_id, runner_id)
    if execution is None:
        return
    # The audit actor of what the run writes is the user who triggered the execution, whoever delivered it.
    actor = audit_context.Actor.user(execution.triggered_by_id) if execution.triggered_by_id else None
    with audit_context.unit(actor=actor or audit_context.current_actor()):
        _Run(execution, runner_id).run()


def _claim(execution_id, runner_id: str) -> Execution | None:
    with transaction.atomic():
        execution = (
            Execution.objects.select_for_update(of=("self",))
            .select_related("workflow_version", "workflow__project")
            .filter(pk=execution_id)
            .first()
        )
        if execution is None or execution.status in FINAL_STATUSES:
            return None
        now = timezone.now()
        if execution.cancel_requested:
            _finish(execution, ExecutionStatus.CANCELLED, error="Cancelled.", now=now)
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
        execution.status = ExecutionStatus.RUNNING
        execution.started_at = execution.started_at or now
        execution.heartbeat_at = now
        execution.runner_id = runner_id
        execution.save(update_fields=["status", "started_at", "heartbeat_at", "runner_id", "updated_at"])
        return execution


def _finish(execution: Execution, status: str, *, error: str = "", output=None, now=None) -> None:
    now = now or timezone.now()
    redactor = redaction.for_storage()
    execution.status = status
    execution.error = redactor.value(error)
    execution.output = redactor.value(output)
    execution.finished_at = now
    execution.save(update_fields=["status", "error", "output", "finished_at", "updated_at"])
    started = execution.started_at or now
    record_execution_finished(status=status, duration_seconds=(now - started).total_seconds())


class Stop(enum.Enum):
    """Why a run stops at a step boundary before its steps are done."""

    CANCELLED = "cancelled"
    TIMEOUT = "timeout"


class _LeaseLost(Exception):
    """Another runner took the execution over (our heartbeat went stale): stop without writing."""


class _Run:
    """One delivery's run of an execution it holds."""

    def __init__(self, execution: Execution, runner_id: str):
        self.execution = execution
        self.runner_id = runner_id
        self.definition = execution.workflow_version.definition
        started_at = execution.started_at or timezone.now()  # set by _claim
        self.deadline = started_at + timedelta(seconds=settings.WORKFLOW_EXECUTION_TIME_LIMIT)
        self.stop = threading.Event()
        self.records = StepRecords(execution)
        project = execution.workflow.project
        self.context = {
            "input": execution.input,
            "steps": self.records.outputs(),
            "execution": {"id": str(execution.pk), "started_at": started_at.isoformat()},
            "project": {"id": str(project.pk), "slug": project.slug},
        }
        self.last_beat = time.monotonic()
        self.reserved: dict[str, int] = {}  # step id -> LLM tokens reserved from the project's quota

    # -- lease, cancellation, time limit -------------------------------------------------------------

    def remaining(self) -> float:
        return (self.deadline - timezone.now()).total_seconds()

    def _held(self):
        return Execution.objects.filter(pk=self.execution.pk, runner_id=self.runner_id, status=ExecutionStatus.RUNNING)

    def _beat(self) -> bool:
        """Refresh the heartbeat; return whether a cancellation was requested. Raises _LeaseLost."""
        # One UPDATE on the usual path; a second query only tells a cancellation from a lost lease.
        if not self._held().filter(cancel_requested=False).update(heartbeat_at=timezone.now()):
            if not self._held().update(heartbeat_at=timezone.now()):
                raise _LeaseLost
            self.last_beat = time.monotonic()
            return True
        self.last_beat = time.monotonic()
        return False

    def _boundary(self) -> Stop | None:
        """At a step boundary: why the execution must stop, or None to go on."""
        if self._beat():
            return Stop.CANCELLED
        if self.remaining() <= 0:
            return Stop.TIMEOUT
        return None

    # -- the run -------------------------------------------------------------------------------------

    def run(self) -> None:
        pool = ThreadPoolExecutor(max_workers=MAX_PARALLEL_STEPS, thread_name_prefix="step")
        try:
            self._run(pool)
        except _LeaseLost:
            logger.warning("execution %s: another runner took over; this one stops", self.execution.pk)
        finally:
            self.stop.set()
            pool.shutdown(wait=False, cancel_futures=True)

    def _run(self, pool: ThreadPoolExecutor) -> None:
        levels = step_levels(self.definition)
        for index, level in enumerate(levels):
            later = [step for next_level in levels[index + 1 :] for step in next_level]
            todo = [step for step in level if self.records.needs_run(step)]
            if not todo:
                continue
            # One commit for the boundary (heartbeat, cancellation; the claim has just checked before the first
            # level) and the start records of the level's steps.
            with transaction.atomic():
                verdict = self._boundary() if index else None
                bases = {} if verdict else {step["id"]: self.records.start(step) for step in todo}
            if verdict:
                return self._stop(verdict, todo + later)
            failed, verdict = self._run_level(pool, todo, bases)
            if verdict:
                return self._stop(verdict, later)
            if failed:
                reason = f"not run: step '{failed[0]}' failed"
                self.records.skipped(later, reason)
                errors = "; ".join(f"step '{sid}' failed: {self.records.error(sid)}" for sid in failed)
                return self._end(ExecutionStatus.FAILED, error=errors)
        return self._complete()

    def _run_level(
        self, pool: ThreadPoolExecutor, steps: list[dict], bases: dict[str, int]
    ) -> tuple[list[str], Stop | None]:
        """Run one level's (started) steps concurrently; return (failed step ids, why to stop or None)."""
        failed: list[str] = []
        running: dict[Future, tuple[dict, int]] = {}
        for step in steps:
            base = bases[step["id"]]
            prepared = self._prepare(step)
            if isinstance(prepared, StepOutcome):
                self._end_step(step, base, prepared)
                failed.append(step["id"])
                continue
            step_type, config = prepared
            tokens = step_type.quota_tokens(config)
            if tokens:
                try:
                    quotas.llm_tokens_reserve(project=self.execution.workflow.project, tokens=tokens)
                except QuotaExceeded as exc:
                    self._end_step(step, base, StepOutcome(StepStatus.FAILED, error=exc.message, attempts=0))
                    failed.append(step["id"])
                    continue
                self.reserved[step["id"]] = tokens
            # Each step thread carries the task's log context (request_id, execution_id).
            future = pool.submit(
                contextvars.copy_context().run,
                run_step_attempts,
                step_type=step_type,
                config=config,
                retry=step.get("retry") or step_type.default_retry,
                timeout=float(step.get("timeout_seconds") or settings.WORKFLOW_STEP_DEFAULT_TIMEOUT),
                remaining=self.remaining,
                stop=self.stop,
            )
            running[future] = (step, base)
        verdict = None
        while running:
            timeout = max(0.05, min(settings.WORKFLOW_HEARTBEAT_INTERVAL, self.remaining() + 0.05))
            done, _ = wait(running, timeout=timeout, return_when=FIRST_COMPLETED)
            for future in done:
                step, base = running.pop(future)
                outcome = future.result()
                self._settle_tokens(step, outcome)
                self._end_step(step, base, outcome)
                if outcome.status == StepStatus.FAILED:
                    failed.append(step["id"])
            if running and time.monotonic() - self.last_beat >= settings.WORKFLOW_HEARTBEAT_INTERVAL:
                verdict = self._boundary() or verdict  # keeps beating while cancelled steps wind down
            if verdict is Stop.CANCELLED:
                self.stop.set()  # no more retries; running attempts finish within their timeout
            elif verdict is Stop.TIMEOUT or (running and self.remaining() <= 0):
                verdict = Stop.TIMEOUT
                self.stop.set()
                for future, (step, base) in running.items():
                    self._end_step(step, base, StepOutcome(StepStatus.FAILED, error="execution time limit reached"))
                    future.cancel()
                break
        return failed, verdict

    def _settle_tokens(self, step: dict, outcome: StepOutcome) -> None:
        """The reservation of an llm step becomes the tokens the provider reported (none when it failed)."""
        reserved = self.reserved.pop(step["id"], 0)
        if not reserved:
            return
        usage = outcome.output.get("usage") if isinstance(outcome.output, dict) else None
        used = usage.get("total_tokens", 0) if isinstance(usage, dict) else 0
        quotas.llm_tokens_settle(project_id=self.execution.workflow.project_id, reserved=reserved, used=int(used))

    def _end_step(self, step: dict, base: int, outcome: StepOutcome) -> None:
        run = self.records.end(step, base, outcome)
        if outcome.status == StepStatus.COMPLETED:
            self.context["steps"][step["id"]] = {"output": run.output}

    def _prepare(self, step: dict):
        """The step type and rendered config, or a failed StepOutcome when either is impossible."""
        try:
            step_type = get_step_type(step["type"])
        except KeyError:
            return StepOutcome(StepStatus.FAILED, error=f"unknown step type '{step['type']}'", attempts=1)
        try:
            config = render(step.get("config", {}), self.context, path=f"steps.{step['id']}.config")
        except TemplateRenderError as exc:
            return StepOutcome(StepStatus.FAILED, error=str(exc), attempts=1)
        return step_type, config

    def _stop(self, verdict: Stop, not_run: list[dict]) -> None:
        if verdict is Stop.CANCELLED:
            self.records.skipped(not_run, "not run: the execution was cancelled")
            return self._end(ExecutionStatus.CANCELLED, error="Cancelled.")
        limit = settings.WORKFLOW_EXECUTION_TIME_LIMIT
        self.records.skipped(not_run, "not run: the execution time limit was reached")
        return self._end(ExecutionStatus.FAILED, error=f"The execution time limit ({limit}s) was reached.")

    def _complete(self) -> None:
        steps = self.context["steps"]
        try:
            if "output" in self.definition:
                output = render(self.definition["output"], self.context, path="output")
            else:
                output = {step_id: value["output"] for step_id, value in steps.items()}
        except TemplateRenderError as exc:
            return self._end(ExecutionStatus.FAILED, error=f"output: {exc}")
        size, limit = json_size(output), settings.WORKFLOW_STEP_OUTPUT_MAX_BYTES
        if size > limit:
            return self._end(ExecutionStatus.FAILED, error=f"output: {size} bytes, over the limit of {limit} bytes")
        return self._end(ExecutionStatus.COMPLETED, output=output)

    def _end(self, status: str, *, error: str = "", output=None) -> None:
        """The final status, written only while this runner still holds the execution."""
        now = timezone.now()
        redactor = redaction.for_storage()
        error, output = redactor.text(error), redactor.value(output)
        fields = {"status": status, "error": error, "output": output, "finished_at": now, "updated_at": now}
        with transaction.atomic():
            if not self._held().update(**fields):
                raise _LeaseLost
            # An UPDATE of the held row, which django-auditlog's signals do not see: its history, explicitly.
            record_change(self.execution, {"status": [ExecutionStatus.RUNNING, status]})
        started = self.execution.started_at or now
        record_execution_finished(status=status, duration_seconds=(now - started).total_seconds())
        logger.info("execution %s %s", self.execution.pk, status)


def execution_fail(*, execution_id, error: str) -> None:
    """Mark an unfinished execution failed (the worker's time limit backstop)."""
    with transaction.atomic():
        execution = Execution.objects.select_for_update().filter(pk=execution_id).first()
        if execution is not None and execution.status not in FINAL_STATUSES:
            _finish(execution, ExecutionStatus.FAILED, error=error)
