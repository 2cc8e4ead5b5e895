"""The second copy of every backup: copy the dump and its manifest to the replica storage (another bucket, region
or endpoint, STORAGES["backups_replica"]), check the copy's sha256 there, and record the replica's status.

A replica failure never fails the backup itself: the primary copy is good, the record says the replica failed,
the log says why, and the replica metrics and alerts (ops.metrics) make it visible.
"""

import logging
import time

from django.utils import timezone

from ops import storage as st
from ops.engines import BackupError, one_line
from ops.models import BackupRecord, BackupStatus, ReplicaStatus
from ops.services.shared import audited

logger = logging.getLogger(__name__)


def _replica_error(exc: Exception) -> str:
    if isinstance(exc, BackupError):
        return str(exc)
    return f"replica storage error ({type(exc).__name__}): {one_line(str(exc))}"


def _copy(record: BackupRecord) -> None:
    """Stream the dump from the primary to the replica (memory flat), then the manifest; check what arrived."""
    primary, replica = st.backup_storage(), st.replica_storage()
    for key in (record.key, record.manifest_key):
        st.delete_quietly(replica, key)  # a previous attempt's object: the copy keeps the primary's key
    source = st.open_stream(primary, record.key)
    try:
        stored, _size, digest = st.upload_stream(replica, record.key, source)
    finally:
        source.close()
    if stored != record.key:
        raise BackupError(f"the replica stored {record.key} as {stored}")
    if digest != record.sha256:
        raise BackupError(f"the dump read from the primary has sha256 {digest[:12]}…, the record {record.sha256[:12]}…")
    st.upload_bytes(replica, record.manifest_key, st.read_bytes(primary, record.manifest_key))
    # Read back what the replica holds: an upload that "succeeded" is not proof the object is whole.
    held, _ = st.object_sha256(replica, record.key)
    if held != record.sha256:
        raise BackupError(f"the replica's copy of {record.key} has {held[:12]}…, primary {record.sha256[:12]}…")


@audited("backup.replicate")
def backup_replicate(*, record: BackupRecord) -> BackupRecord:
    """Copy a succeeded backup to the replica storage and verify it by sha256; record ok or failed.

    Does nothing (the record stays "absent") when no replica is configured. Raises BackupError when the copy
    fails, after recording it; backup_create catches that, so the backup itself still succeeds.
    """
    if not st.replica_configured():
        return record
    if record.status != BackupStatus.SUCCEEDED:
        raise BackupError(f"backup {record.id} is {record.status}: only a succeeded backup is replicated")
    record.replica_status = ReplicaStatus.PENDING
    record.save(update_fields=["replica_status", "updated_at"])
    clock = time.monotonic()
    try:
        _copy(record)
    except Exception as exc:
        record.replica_status = ReplicaStatus.FAILED
        record.replica_error = _replica_error(exc)
        record.save(update_fields=["replica_status", "replica_error", "updated_at"])
        logger.error("backup replica copy failed", extra={"backup_id": str(record.id), "error": record.replica_error})
        raise BackupError(f"replica copy of backup {record.id} failed: {record.replica_error}") from exc
    record.replica_status = ReplicaStatus.OK
    record.replica_verified_at = timezone.now()
    record.replica_error = ""
    record.save(update_fields=["replica_status", "replica_verified_at", "replica_error", "updated_at"])
    logger.info(
        "backup replicated",
        extra={"backup_id": str(record.id), "seconds": round(time.monotonic() - clock, 3)},
    )
    return record


def replica_check(record: BackupRecord) -> str | None:
    """Check the replica copy of a backup (dump sha256 and manifest present); record the result.

    Returns the problem, or None when the copy matches (or the backup has no replica to check).
    """
    if not st.replica_configured() or record.replica_status == ReplicaStatus.ABSENT:
        return None
    try:
        replica = st.replica_storage()
        if not replica.exists(record.manifest_key):
            raise BackupError(f"manifest {record.manifest_key} not found in replica storage")
        held, _ = st.object_sha256(replica, record.key)
        if held != record.sha256:
            raise BackupError(f"replica sha256 {held[:12]}… but the backup's is {record.sha256[:12]}…")
    except FileNotFoundError:
        problem = f"replica: dump {record.key} not found in replica storage"
    except Exception as exc:
        problem = f"replica: {_replica_error(exc)}"
    else:
        record.replica_status = ReplicaStatus.OK
        record.replica_verified_at = timezone.now()
        record.replica_error = ""
        record.save(update_fields=["replica_status", "replica_verified_at", "replica_error", "updated_at"])
        return None
    record.replica_status = ReplicaStatus.FAILED
    record.replica_error = problem
    record.save(update_fields=["replica_status", "replica_error", "updated_at"])
    return problem
