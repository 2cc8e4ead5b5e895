"""Celery tasks: thin wrappers that take ids and call the runner or a service (safe to run twice)."""

import logging

from celery import shared_task
from celery.exceptions import SoftTimeLimitExceeded
from celery.signals import worker_ready

from workflows import claims, runner, services

logger = logging.getLogger("aiassistant.workflows")


@shared_task(bind=True, name="workflows.run_execution", acks_late=True, reject_on_worker_lost=True, max_retries=None)
def run_execution(self, execution_id: str) -> None:
    """Run or resume one execution; a duplicate delivery backs off while another runner is alive."""
    try:
        runner.execution_run(execution_id=execution_id)
    except claims.ExecutionBusy as busy:
        raise self.retry(countdown=busy.retry_in) from None
    except SoftTimeLimitExceeded:
        runner.execution_fail(execution_id=execution_id, error="The worker's time limit for the execution was reached.")


@shared_task(name="workflows.recover_stale_executions", ignore_result=True)
def recover_stale_executions() -> int:
    """Periodic (beat) sweep: queue again executions whose worker or message was lost."""
    return services.executions_recover_stale()


@worker_ready.connect
def _recover_on_worker_start(sender=None, **kwargs):
    """A starting worker queues again what a dead one left behind (the embedded default has no beat)."""
    try:
        services.executions_recover_stale()
    except Exception:  # the worker must start even when the sweep cannot run (e.g. database not migrated)
        logger.exception("recovery sweep at worker start failed")
