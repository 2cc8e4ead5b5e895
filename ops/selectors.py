"""Reads of the backup catalogue."""

import uuid

from django.db.models import QuerySet

from ops.models import BackupRecord, BackupStatus, ReplicaStatus


def backup_list(*, status: str | None = None) -> QuerySet[BackupRecord]:
    """Backups, newest first."""
    qs = BackupRecord.objects.order_by("-started_at")
    return qs.filter(status=status) if status else qs


def backup_latest_succeeded(*, replicated: bool = False) -> BackupRecord | None:
    """The newest succeeded backup; with replicated, the newest whose replica copy was verified."""
    qs = backup_list(status=BackupStatus.SUCCEEDED)
    return (qs.filter(replica_status=ReplicaStatus.OK) if replicated else qs).first()


def backup_get(*, ref: str, replicated: bool = False) -> BackupRecord | None:
    """A backup by id, "latest" (newest succeeded; with replicated, newest with a verified replica) or dump object
    key; None when nothing matches."""
    if ref == "latest":
        return backup_latest_succeeded(replicated=replicated)
    try:
        return BackupRecord.objects.filter(id=uuid.UUID(ref)).first()
    except ValueError:
        return BackupRecord.objects.filter(key=ref).first()
