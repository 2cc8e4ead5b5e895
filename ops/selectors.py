"""Reads of the backup catalogue."""

import uuid

from django.db.models import QuerySet

from ops.models import BackupRecord, BackupStatus


def backup_list(*, status: str | None = None) -> QuerySet[BackupRecord]:
    """Backups, newest first."""
    qs = BackupRecord.objects.order_by("-started_at")
    return qs.filter(status=status) if status else qs


def backup_latest_succeeded() -> BackupRecord | None:
    return backup_list(status=BackupStatus.SUCCEEDED).first()


def backup_get(*, ref: str) -> BackupRecord | None:
    """A backup by id, "latest" (newest succeeded) or dump object key; None when nothing matches."""
    if ref == "latest":
        return backup_latest_succeeded()
    try:
        return BackupRecord.objects.filter(id=uuid.UUID(ref)).first()
    except ValueError:
        return BackupRecord.objects.filter(key=ref).first()
