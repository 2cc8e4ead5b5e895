"""The durable records of an execution's steps (StepRun): what a run resumes from after a redelivery.

A step with side effects (http, llm) is recorded by the runner thread as soon as it starts and as soon as it ends,
each write its own statement, so that a delivery that takes over skips the completed steps and reuses their
outputs. A pure step (transform) is recorded once, when it ends, in memory: `flush` writes those records with the
next durable point (the start of the next level with side effects, or the execution's final status), in one
statement. Outputs and errors are redacted here, once.
"""

from django.utils import timezone

from common import redaction
from common.metrics import record_step_finished
from workflows.attempts import StepOutcome
from workflows.models import Execution, StepRun, StepStatus


class StepRecords:
    """The StepRun rows of one execution, read once and kept in step with every write."""

    def __init__(self, execution: Execution, *, first_claim: bool = False):
        """`first_claim`: no delivery ran this execution before, so it has no step records to read."""
        self.execution = execution
        self.by_step: dict[str, StepRun] = (
            {} if first_claim else {run.step_id: run for run in StepRun.objects.filter(execution=execution)}
        )
        self.unwritten: list[StepRun] = []  # pure steps' records, written by flush()

    def outputs(self) -> dict[str, dict]:
        """`steps.<id>.output` of the template context, for the steps already completed."""
        return {
            step_id: {"output": run.output}
            for step_id, run in self.by_step.items()
            if run.status == StepStatus.COMPLETED
        }

    def needs_run(self, step: dict) -> bool:
        run = self.by_step.get(step["id"])
        return run is None or run.status != StepStatus.COMPLETED

    def error(self, step_id: str) -> str:
        return self.by_step[step_id].error

    def start(self, step: dict) -> int:
        """Record a step as running (one more attempt); returns the attempts made by earlier deliveries."""
        previous = self.by_step.get(step["id"])
        base = previous.attempts if previous else 0
        fields = {
            "type": step["type"],
            "status": StepStatus.RUNNING,
            "attempts": base + 1,
            "output": None,
            "error": "",
            "started_at": timezone.now(),
            "finished_at": None,
        }
        if previous is None:
            # Unique (execution, step_id): should a stale runner race us here, one of the two fails loudly.
            run = StepRun.objects.create(execution=self.execution, step_id=step["id"], **fields)
        else:
            run = previous
            for name, value in fields.items():
                setattr(run, name, value)
            run.save(update_fields=[*fields, "updated_at"])
        self.by_step[step["id"]] = run
        return base

    def end(self, step: dict, base: int, outcome: StepOutcome) -> StepRun:
        """Record how a step ended (output redacted); returns the stored row."""
        run = self._ended(self.by_step[step["id"]], step, base, outcome)
        run.save(update_fields=["status", "attempts", "output", "error", "finished_at", "updated_at"])
        return run

    def end_pure(self, step: dict, outcome: StepOutcome, *, started_at) -> StepRun:
        """Record how a pure step ended, in memory until flush(); returns the record."""
        previous = self.by_step.get(step["id"])  # a failed or interrupted run of an earlier delivery
        run = previous or StepRun(execution=self.execution, step_id=step["id"], type=step["type"])
        run.started_at = started_at
        self.by_step[step["id"]] = self._ended(run, step, previous.attempts if previous else 0, outcome)
        self.unwritten.append(run)
        return run

    def flush(self) -> None:
        """Write the pure steps' records kept since the last flush (call it inside the durable point's transaction)."""
        new = [run for run in self.unwritten if run._state.adding]
        again = [run for run in self.unwritten if not run._state.adding]
        if new:
            StepRun.objects.bulk_create(new)
        for run in again:
            run.save()
        self.unwritten = []

    @staticmethod
    def _ended(run: StepRun, step: dict, base: int, outcome: StepOutcome) -> StepRun:
        run.status = outcome.status
        run.attempts = base + max(outcome.attempts, 1)
        redactor = redaction.for_storage()
        run.output = redactor.value(outcome.output) if outcome.status == StepStatus.COMPLETED else None
        run.error = redactor.text(outcome.error)
        run.finished_at = finished_at = timezone.now()
        record_step_finished(
            step_type=step["type"],
            status=outcome.status,
            duration_seconds=(finished_at - (run.started_at or finished_at)).total_seconds(),
        )
        return run

    def skipped(self, steps: list[dict], reason: str) -> None:
        """Record the steps that will not run (a failure, cancellation or the time limit came first)."""
        now = timezone.now()
        for step in steps:
            run = self.by_step.get(step["id"])
            if run is not None and run.status in (StepStatus.COMPLETED, StepStatus.FAILED):
                continue
            StepRun.objects.update_or_create(
                execution=self.execution,
                step_id=step["id"],
                defaults={"type": step["type"], "status": StepStatus.SKIPPED, "error": reason, "finished_at": now},
            )
