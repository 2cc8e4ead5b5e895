"""The execution runner: runs a pinned workflow version step by step, durably, on a Celery worker.

How it stays correct when deliveries are duplicated or a worker dies (see docs/ARCHITECTURE.md):
- Claim (workflows.claims). A delivery takes the execution: it becomes the holder (``runner_id``) and refreshes
  ``heartbeat_at`` every WORKFLOW_HEARTBEAT_INTERVAL. Another delivery finding a fresh heartbeat backs off
  (ExecutionBusy: the task retries later); a stale heartbeat means the holder died, and it takes over.
- Resume. Each side-effecting step's (http, llm) result is written in its own statement as soon as it finishes
  (StepRun is unique per execution and step); a delivery that takes over skips completed steps and reuses their
  outputs. Pure steps (transform) have no side effects: a level of pure steps runs inline in this thread, and
  their records are written with the next durable point (the start of the next side-effecting level, or the
  final status), in one transaction; a crash before it only means running them again.
- Steps run level by level (step_levels); the steps of a side-effecting level run concurrently in threads that
  touch no database: every write happens in this thread, between waits.
- A failed step fails the execution at the end of its level: the steps of the later levels never run and
  are recorded as ``skipped``. Cancellation and the time limit are checked at every wait (a step boundary):
  running steps finish within their own timeout, steps not started are recorded as ``skipped``.
"""

import contextvars
import enum
import functools
import logging
import os
import socket
import threading
import time
import uuid
from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor, wait
from datetime import timedelta

from celery.exceptions import SoftTimeLimitExceeded
from django.conf import settings
from django.db import DatabaseError, transaction
from django.utils import timezone

from audit import context as audit_context
from audit.recording import record_change
from common import redaction
from common.encryption import EncryptionError
from common.errors import QuotaExceeded
from common.metrics import record_execution_finished
from projects import quotas
from projects.services import MissingSecrets, project_secrets_use
from workflows.attempts import StepOutcome, run_step_attempts
from workflows.claims import claim, finish
from workflows.definition import step_levels, step_secret_names
from workflows.models import (
    FINAL_STATUSES,
    Execution,
    ExecutionStatus,
    StepStatus,
    WorkflowVersion,
    json_size,
)
from workflows.records import StepRecords
from workflows.steps import get_step_type
from workflows.templating import TemplateRenderError, is_template, render, render_chain
from workflows.templating.analysis import SECRETS

logger = logging.getLogger("aiassistant.workflows")

MAX_PARALLEL_STEPS = 8
_NOT_RENDERED = object()


def _unexpected(during: str, exc: BaseException) -> str:
    """The stored one-line error of an unexpected exception: its type only (a message may hold data, no traceback)."""
    return f"unexpected error while {during} ({type(exc).__name__})"


def new_runner_id() -> str:
    """A label unique to one delivery: host, process and a random part."""
    return f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:12]}"


def execution_run(*, execution_id, runner_id: str | None = None) -> None:
    """Run (or resume) an execution to a final status. Safe to call again for the same execution."""
    runner_id = runner_id or new_runner_id()
    claimed = claim(execution_id, runner_id)
    if claimed is None:
        return
    execution, first_claim = claimed
    # The audit actor of what the run writes is the user who triggered the execution, whoever delivered it.
    actor = audit_context.Actor.user(execution.triggered_by_id) if execution.triggered_by_id else None
    # The project secrets decrypted for this run are redacted from everything it stores and logs (common.redaction).
    with audit_context.unit(actor=actor or audit_context.current_actor()), redaction.scope():
        _Run(execution, runner_id, first_claim=first_claim).run()


class Stop(enum.Enum):
    """Why a run stops at a step boundary before its steps are done."""

    CANCELLED = "cancelled"
    TIMEOUT = "timeout"


class _LeaseLost(Exception):
    """Another runner took the execution over (our heartbeat went stale): stop without writing."""


# Raised while a step is prepared, but not a problem of the step: they stop the run (the lease is lost, the
# database failed, Celery's soft time limit), handled where the run is.
_NOT_THE_STEPS_FAULT = (_LeaseLost, DatabaseError, SoftTimeLimitExceeded)


class _Run:
    """One delivery's run of an execution it holds."""

    def __init__(self, execution: Execution, runner_id: str, *, first_claim: bool = False):
        self.execution = execution
        self.runner_id = runner_id
        self.definition = _pinned_definition(execution.workflow_version_id)
        started_at = execution.started_at or timezone.now()  # set by the claim
        self.deadline = started_at + timedelta(seconds=settings.WORKFLOW_EXECUTION_TIME_LIMIT)
        self.stop = threading.Event()
        self.records = StepRecords(execution, first_claim=first_claim)
        self.pool: ThreadPoolExecutor | None = None  # started by the first side-effecting level
        project = execution.workflow.project
        self.context = {
            "input": execution.input,
            "steps": self.records.outputs(),
            "execution": {"id": str(execution.pk), "started_at": started_at.isoformat()},
            "project": {"id": str(project.pk), "slug": project.slug},
        }
        self.last_beat = time.monotonic()
        self.reserved: dict[str, int] = {}  # step id -> LLM tokens reserved from the project's quota
        # Renders of a chain of pure steps done ahead in one round trip (_prerender): path -> rendered value,
        # step id -> the output the chain bound for the steps after it, and the steps a chain was sent for.
        self.prerendered: dict[str, object] = {}
        self.assumed: dict[str, object] = {}
        self.chained: set[str] = set()

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
        try:
            self._run()
        except _LeaseLost:
            logger.warning("execution %s: another runner took over; this one stops", self.execution.pk)
        except (DatabaseError, SoftTimeLimitExceeded):
            # The database is unreachable or refused a write: nothing can be recorded now. The task fails, the
            # sweep queues the execution again, and WORKFLOW_MAX_CLAIMS bounds how often that happens. (Celery's
            # soft time limit is the task's to handle: it fails the execution.)
            raise
        except Exception as exc:
            # A bug in the runner must end the execution, not leave it running for the sweep to queue forever.
            logger.error("execution %s: the runner failed", self.execution.pk, exc_info=True)
            self.stop.set()
            self._end(ExecutionStatus.FAILED, error=f"The execution failed: {_unexpected('running it', exc)}.")
        finally:
            self.stop.set()
            if self.pool is not None:
                self.pool.shutdown(wait=False, cancel_futures=True)

    def _run(self) -> None:
        levels = step_levels(self.definition)
        for index, level in enumerate(levels):
            later = [step for next_level in levels[index + 1 :] for step in next_level]
            todo = [step for step in level if self.records.needs_run(step)]
            if not todo:
                continue
            if all(_pure(step) for step in todo):
                # Inline, nothing written yet. The boundary is checked once per heartbeat interval: pure steps
                # return at once, so a cancellation waits at most that long (or until the final status).
                due = index and time.monotonic() - self.last_beat >= settings.WORKFLOW_HEARTBEAT_INTERVAL
                verdict = (self._boundary() if due else None) or (Stop.TIMEOUT if self.remaining() <= 0 else None)
                if verdict:
                    return self._stop(verdict, todo + later)
                if todo[0]["id"] not in self.chained:
                    self._prerender(levels, index)
                failed = self._run_pure(todo)
            else:
                # One commit for the boundary (heartbeat, cancellation; the claim has just checked before the first
                # level), the records of the pure steps run since the last one, and the start records of the
                # level's steps.
                with transaction.atomic():
                    verdict = self._boundary() if index else None
                    self.records.flush()
                    bases = {} if verdict else {step["id"]: self.records.start(step) for step in todo}
                if verdict:
                    return self._stop(verdict, todo + later)
                failed, verdict = self._run_level(todo, bases)
            if verdict:
                return self._stop(verdict, later)
            if failed:
                reason = f"not run: step '{failed[0]}' failed"
                self.records.skipped(later, reason)
                errors = "; ".join(f"step '{sid}' failed: {self.records.error(sid)}" for sid in failed)
                return self._end(ExecutionStatus.FAILED, error=errors)
        return self._complete()

    def _run_pure(self, steps: list[dict]) -> list[str]:
        """Run a level of pure steps in this thread; return the failed step ids (records kept for the next flush)."""
        failed: list[str] = []
        for step in steps:
            started_at = timezone.now()
            prepared = self._prepare(step)
            if isinstance(prepared, StepOutcome):
                outcome = prepared
            else:
                step_type, config, retry, timeout = prepared
                outcome = run_step_attempts(
                    step_type=step_type,
                    config=config,
                    retry=retry,
                    timeout=timeout,
                    remaining=self.remaining,
                    stop=self.stop,
                )
            run = self.records.end_pure(step, outcome, started_at=started_at)
            if outcome.status == StepStatus.COMPLETED:
                self.context["steps"][step["id"]] = {"output": run.output}
            else:
                failed.append(step["id"])
            output = run.output if outcome.status == StepStatus.COMPLETED else _NOT_RENDERED
            if step["id"] in self.assumed and self.assumed.pop(step["id"]) != output:
                # The chain's later renders saw another output of this step: they are rendered again, one by one.
                self.prerendered, self.assumed = {}, {}
        return failed

    def _prerender(self, levels: list[list[dict]], index: int) -> None:
        """Render the configs of the pure steps from this level on, and the workflow's output when they are the
        last steps, in one renderer round trip instead of one each. Only a cache: a render that is missing
        (the chain stopped at an error, the renderer failed) or that assumed another output of an earlier step
        than it got (_run_pure) is done again on its own, under its own limits, where its error is reported.
        A step with secrets is never in a chain (they are decrypted for that step only)."""
        self.prerendered, self.assumed = {}, {}
        items: list[dict] = []
        for level in levels[index:]:
            todo = [step for step in level if self.records.needs_run(step)]
            if not all(_chainable(step) for step in todo):
                break
            items += [
                {
                    "value": step.get("config", {}),
                    "path": _config_path(step),
                    "bind": step["id"],
                    "key": get_step_type(step["type"]).output_key,
                }
                for step in todo
            ]
        else:
            if "output" in self.definition:
                items.append({"value": self.definition["output"], "path": "output"})
        self.chained.update(item["bind"] for item in items if "bind" in item)  # one chain per step, at most
        try:
            rendered = render_chain(items, self.context, on_wait=self._beat_while_rendering)
        except _NOT_THE_STEPS_FAULT:
            raise
        except Exception:
            rendered = []  # the renders on their own meet the same fault and report it
        for item, value in zip(items, rendered, strict=False):
            self.prerendered[item["path"]] = value
            if "bind" in item:
                self.assumed[item["bind"]] = value.get(item["key"]) if isinstance(value, dict) else None

    def _run_level(self, steps: list[dict], bases: dict[str, int]) -> tuple[list[str], Stop | None]:
        """Run one level's (started) steps concurrently; return (failed step ids, why to stop or None)."""
        if self.pool is None:
            self.pool = ThreadPoolExecutor(max_workers=MAX_PARALLEL_STEPS, thread_name_prefix="step")
        pool = self.pool
        failed: list[str] = []
        running: dict[Future, tuple[dict, int]] = {}
        for step in steps:
            base = bases[step["id"]]
            prepared = self._prepare(step)
            if isinstance(prepared, StepOutcome):
                self._end_step(step, base, prepared)
                failed.append(step["id"])
                continue
            step_type, config, retry, timeout = prepared
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
                retry=retry,
                timeout=timeout,
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

    def _beat_while_rendering(self) -> None:
        """Called while a renderer process works: keep the lease alive (a cancellation is seen at the boundary)."""
        if time.monotonic() - self.last_beat >= settings.WORKFLOW_HEARTBEAT_INTERVAL:
            self._beat()

    def _prepare(self, step: dict):
        """(step type, rendered config, retry, timeout), or a failed StepOutcome when the step cannot run.

        Any exception fails the step (and only the step) with a one-line error; an unexpected one is logged once
        with its traceback. Losing the lease while a template renders stops the run, as at any boundary.
        """
        try:
            step_type = get_step_type(step["type"])
        except KeyError:
            return StepOutcome(StepStatus.FAILED, error=f"unknown step type '{step['type']}'", attempts=1)
        try:
            context = self.context
            names = step_secret_names(step)
            if names:
                # Decrypted now, for this step only; the values never enter self.context (other steps, the output).
                secrets = project_secrets_use(
                    project=self.execution.workflow.project,
                    names=names,
                    execution_id=self.execution.pk,
                    step_id=step["id"],
                )
                redaction.learn_for_scope(secrets.values())
                context = {**self.context, SECRETS: secrets}
            path = _config_path(step)
            config = self.prerendered.pop(path, _NOT_RENDERED)
            if config is _NOT_RENDERED:
                config = render(step.get("config", {}), context, path=path, on_wait=self._beat_while_rendering)
            retry = step.get("retry") or step_type.default_retry
            timeout = float(step.get("timeout_seconds") or settings.WORKFLOW_STEP_DEFAULT_TIMEOUT)
        except MissingSecrets as exc:
            return StepOutcome(
                StepStatus.FAILED, error=f"{exc.message} (deleted after the workflow was saved?)", attempts=1
            )
        except EncryptionError as exc:
            logger.error("execution %s step %s: secrets not decrypted: %s", self.execution.pk, step["id"], exc)
            return StepOutcome(StepStatus.FAILED, error="project secrets could not be decrypted", attempts=1)
        except TemplateRenderError as exc:
            return StepOutcome(StepStatus.FAILED, error=str(exc), attempts=1)
        except _NOT_THE_STEPS_FAULT:
            raise
        except Exception as exc:
            logger.error("execution %s: step %s could not be prepared", self.execution.pk, step["id"], exc_info=True)
            return StepOutcome(StepStatus.FAILED, error=_unexpected("preparing the step", exc), attempts=1)
        if names:
            # What a template made of a secret ("Bearer ..." or any text around it) is a secret too.
            redaction.learn_for_scope(_rendered_with_secrets(step.get("config", {}), config))
        return step_type, config, retry, timeout

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
                output = self.prerendered.pop("output", _NOT_RENDERED)
                if output is _NOT_RENDERED:
                    output = render(
                        self.definition["output"], self.context, path="output", on_wait=self._beat_while_rendering
                    )
            else:
                output = {step_id: value["output"] for step_id, value in steps.items()}
        except TemplateRenderError as exc:
            return self._end(ExecutionStatus.FAILED, error=f"output: {exc}")
        except _NOT_THE_STEPS_FAULT:
            raise
        except Exception as exc:
            logger.error("execution %s: the output could not be rendered", self.execution.pk, exc_info=True)
            return self._end(ExecutionStatus.FAILED, error=f"output: {_unexpected('rendering the output', exc)}")
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
            self.records.flush()
            # An UPDATE of the held row, which django-auditlog's signals do not see: its history, explicitly.
            record_change(self.execution, {"status": [ExecutionStatus.RUNNING, status]})
        started = self.execution.started_at or now
        record_execution_finished(status=status, duration_seconds=(now - started).total_seconds())
        logger.info("execution %s %s", self.execution.pk, status)


@functools.lru_cache(maxsize=256)
def _pinned_definition(version_id) -> dict:
    """A workflow version's definition, kept by this process: versions never change once written (read only)."""
    return WorkflowVersion.objects.values_list("definition", flat=True).get(pk=version_id)


def _pure(step: dict) -> bool:
    """An unknown type (refused when the workflow is saved) is not pure: _prepare fails it."""
    try:
        return get_step_type(step["type"]).pure
    except KeyError:
        return False


def _chainable(step: dict) -> bool:
    """A pure step whose output is a key of its rendered config, without secrets: its render can be chained."""
    return _pure(step) and get_step_type(step["type"]).output_key is not None and not step_secret_names(step)


def _config_path(step: dict) -> str:
    return f"steps.{step['id']}.config"


def _rendered_with_secrets(source, rendered):
    """The rendered strings of the config's templates that name a secret (walks source and result together)."""
    stack = [(source, rendered)]
    while stack:
        original, value = stack.pop()
        if isinstance(original, str):
            if isinstance(value, str) and is_template(original) and SECRETS in original:
                yield value
        elif isinstance(original, dict) and isinstance(value, dict):
            stack.extend((item, value.get(key)) for key, item in original.items())
        elif isinstance(original, list) and isinstance(value, list):
            stack.extend(zip(original, value, strict=False))


def execution_fail(*, execution_id, error: str) -> None:
    """Mark an unfinished execution failed (the worker's time limit backstop)."""
    with transaction.atomic():
        execution = Execution.objects.select_for_update().filter(pk=execution_id).first()
        if execution is not None and execution.status not in FINAL_STATUSES:
            finish(execution, ExecutionStatus.FAILED, error=error)
