"""Retention: delete backups (objects in both storages and records) past the retention, always keeping the newest
good ones."""

from datetime import timedelta

from django.utils import timezone

from ops import storage as st
from ops.engines import BackupError
from ops.models import BackupRecord, BackupStatus, ReplicaStatus
from ops.services.shared import _storage_error, audited


@audited("backup.prune")
def backup_prune(*, keep_days: int, keep_last: int = 1, dry_run: bool = False) -> list[BackupRecord]:
    """Delete backups older than keep_days, except the newest keep_last succeeded ones (at least one).

    The newest succeeded backup is never deleted, whatever the arguments; failed records past the retention are
    removed too (with any partial object); running ones are left alone unless they have been running for a day.
    """
    if keep_days < 0 or keep_last < 0:
        raise BackupError("--keep-days and --keep-last must be zero or more")
    keep_last = max(keep_last, 1)
    now = timezone.now()
    cutoff = now - timedelta(days=keep_days)
    # A backup still "running" after a day lost its process (killed worker, host crash): call it failed, so
    # that its partial objects are removed with it once past the retention.
    BackupRecord.objects.filter(status=BackupStatus.RUNNING, started_at__lt=now - timedelta(days=1)).update(
        status=BackupStatus.FAILED, error="abandoned: the process running this backup stopped", updated_at=now
    )
    protected = set(
        BackupRecord.objects.filter(status=BackupStatus.SUCCEEDED)
        .order_by("-started_at")
        .values_list("id", flat=True)[:keep_last]
    )
    doomed = list(
        BackupRecord.objects.filter(started_at__lt=cutoff)
        .exclude(status=BackupStatus.RUNNING)
        .exclude(id__in=protected)
        .order_by("started_at")
    )
    if dry_run:
        return doomed
    storage = st.backup_storage()
    # Both copies go: the replica first, so that a replica region that is down keeps the record (and the primary
    # objects) for the next run instead of leaving copies past the retention that nothing tracks any more.
    replica = st.replica_storage() if st.replica_configured() else None
    for record in doomed:
        if record.key and replica is not None and record.replica_status != ReplicaStatus.ABSENT:
            try:
                replica.delete(record.key)
                replica.delete(record.manifest_key)
            except Exception as exc:
                raise BackupError(f"replica {_storage_error(exc)}") from exc
        if record.key:
            try:
                storage.delete(record.key)
                storage.delete(record.manifest_key)
            except Exception as exc:
                raise BackupError(_storage_error(exc)) from exc
        record.delete()
    return doomed
