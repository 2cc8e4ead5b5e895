"""A step's attempts: retries with exponential backoff, the step timeout and the output cap.

Runs in a worker thread of the runner and touches no database: the runner stores the StepOutcome.
"""

import logging
import threading
from dataclasses import dataclass

from django.conf import settings

from workflows.models import StepStatus, json_size
from workflows.steps.base import StepError

logger = logging.getLogger("aiassistant.workflows")


@dataclass
class StepOutcome:
    """What a step's attempts came to (computed in a worker thread, stored by the runner thread)."""

    status: str
    output: object = None
    error: str = ""
    attempts: int = 0


def _attempt(step_type, config: dict, timeout: float):
    output = step_type.run(config=config, timeout=timeout)
    try:
        size = json_size(output)
    except (TypeError, ValueError) as exc:
        raise StepError(f"output is not JSON-serialisable: {exc}") from None
    limit = settings.WORKFLOW_STEP_OUTPUT_MAX_BYTES
    if size > limit:
        raise StepError(f"output is {size} bytes, over the limit of {limit} bytes (WORKFLOW_STEP_OUTPUT_MAX_BYTES)")
    return output


def run_step_attempts(*, step_type, config: dict, retry: dict, timeout: float, remaining, stop: threading.Event):
    """Run a step with retries (exponential backoff, retryable StepErrors only). Touches no database."""
    max_attempts = max(1, int(retry.get("max_attempts", 1)))
    backoff = float(retry.get("backoff_seconds", 0))
    attempts = 0
    while True:
        attempts += 1
        budget = min(timeout, remaining())
        if budget <= 0:
            return StepOutcome(StepStatus.FAILED, error="execution time limit reached", attempts=attempts - 1)
        try:
            return StepOutcome(StepStatus.COMPLETED, output=_attempt(step_type, config, budget), attempts=attempts)
        except StepError as exc:
            error = exc.message
            if not exc.retryable or attempts >= max_attempts:
                suffix = f" (after {attempts} attempts)" if attempts > 1 else ""
                return StepOutcome(StepStatus.FAILED, error=f"{error}{suffix}", attempts=attempts)
            delay = max(backoff * 2 ** (attempts - 1), exc.retry_after_seconds or 0)
            if delay >= remaining() or stop.wait(delay):
                return StepOutcome(StepStatus.FAILED, error=f"{error} (retries stopped)", attempts=attempts)
        except Exception as exc:  # a bug in a step type must fail the step, not the worker
            logger.exception("step type %s raised an unexpected error", step_type.name)
            return StepOutcome(StepStatus.FAILED, error=f"unexpected error: {type(exc).__name__}", attempts=attempts)
