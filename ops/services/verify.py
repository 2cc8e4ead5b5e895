"""Verifying a backup: a restore into a scratch database compared with its manifest, and a sha256 check of the
replica copy; the result is recorded on the backup."""

import time

from django.utils import timezone

from ops import storage as st
from ops.engines import BackupError, engine_for
from ops.models import BackupRecord, ReplicaStatus
from ops.services.replica import replica_check
from ops.services.shared import _db_settings, _restore_and_compare, audited, backup_resolve


@audited("backup.verify")
def backup_verify(*, ref: str, using: str = "default") -> BackupRecord:
    """Check both copies of a backup: restore the primary into a scratch database, compare every table with the
    manifest, drop it; then check the replica's sha256 (when the backup has a replica).

    Records verified_at, the result, and the drill's wall time (download, checksum, restore) as the measured
    restore time. Raises BackupError when either copy does not verify.
    """
    backup = backup_resolve(ref=ref)
    record = backup.record
    if record is None:
        raise BackupError(f"{ref} has no BackupRecord in this database; verify needs one to record the result")
    engine = engine_for(_db_settings(using))
    scratch = engine.scratch_name()
    clock = time.monotonic()
    seconds: float | None = None
    try:
        problems = _restore_and_compare(backup, engine, scratch)
        seconds = time.monotonic() - clock
    except BackupError as exc:
        problems = [str(exc)]
    finally:
        engine.drop_database(scratch)
    record.refresh_from_db()
    replica_checked = record.replica_status != ReplicaStatus.ABSENT and st.replica_configured()
    replica_problem = replica_check(record)
    if replica_problem:
        problems.append(replica_problem)
    record.verified_at = timezone.now()
    record.verify_ok = not problems
    ok_detail = "all tables match the manifest" + ("; the replica's sha256 matches" if replica_checked else "")
    record.verify_detail = "; ".join(problems)[:4000] if problems else ok_detail
    if seconds is not None:
        record.restore_seconds = seconds
    record.save(update_fields=["verified_at", "verify_ok", "verify_detail", "restore_seconds", "updated_at"])
    if problems:
        raise BackupError(
            f"backup {record.id} failed verification: {problems[0]}"
            + (f" (+{len(problems) - 1} more)" if len(problems) > 1 else "")
        )
    return record
