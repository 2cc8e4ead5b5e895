"""Celery tasks of the audit trail (scheduled by beat): thin wrappers around sealing, verification, retention."""

from celery import shared_task

from audit import retention, sealing, verification


@shared_task(name="audit.seal", ignore_result=True)
def seal() -> int:
    """Seal what was written since the last seal; safe to run twice (the sealer takes a lock)."""
    return len(sealing.seal_all())


@shared_task(name="audit.verify", ignore_result=True)
def verify() -> bool:
    """The daily check of the whole chain; its outcome is an audit event and a metric."""
    return verification.run().ok


@shared_task(name="audit.retention", ignore_result=True, soft_time_limit=3600, time_limit=3700)
def retention_run() -> dict:
    return retention.run()
