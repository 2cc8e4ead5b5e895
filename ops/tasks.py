"""Celery tasks for the beat schedule and the admin actions: thin wrappers around ops.services."""

from celery import shared_task
from django.conf import settings

from ops.models import BackupKind
from ops.services import backup_create, backup_prune, backup_verify, restore_drill

# Far above the workers' default (sized for workflow executions): a big database takes a while. The soft limit
# lets backup_create record the failure and remove the partial upload.
_LIMITS = {"soft_time_limit": 4 * 3600, "time_limit": 4 * 3600 + 120}


@shared_task(name="ops.backup", **_LIMITS)
def backup_task(kind: str = BackupKind.SCHEDULED) -> str:
    """Take one backup; running it twice just makes two backups, which is harmless."""
    return str(backup_create(kind=kind).id)


@shared_task(name="ops.verify", **_LIMITS)
def verify_task(ref: str = "latest") -> str:
    """Restore drill of one backup (default: the newest good one) into a scratch database."""
    return str(backup_verify(ref=ref).id)


@shared_task(name="ops.restore_drill", **_LIMITS)
def restore_drill_task(ref: str = "latest", source: str | None = None) -> str:
    """The daily restore drill (the RTO estimate); the replica when one is configured. Safe to run twice."""
    return str(restore_drill(ref=ref, source=source).id)


@shared_task(name="ops.prune")
def prune_task(keep_days: int | None = None, keep_last: int = 1) -> int:
    """Apply the retention (BACKUP_RETENTION_DAYS, 30 by default); the newest good backup always stays."""
    days = settings.BACKUP_RETENTION_DAYS if keep_days is None else keep_days
    return len(backup_prune(keep_days=days, keep_last=keep_last))
