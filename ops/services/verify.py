"""The restore drill: restore a backup into a scratch database, compare it with its manifest, record the result."""

import time

from django.utils import timezone

from ops.engines import BackupError, engine_for
from ops.models import BackupRecord
from ops.services.shared import _compare_tables, _db_settings, _fetch_verified, audited, backup_resolve


@audited("backup.verify")
def backup_verify(*, ref: str, using: str = "default") -> BackupRecord:
    """Restore drill: restore into a scratch database, compare every table with the manifest, drop it.

    Records verified_at, the result, and the drill's wall time (download, checksum, restore) as the measured
    restore time. Raises BackupError when the backup does not verify.
    """
    backup = backup_resolve(ref=ref)
    record = backup.record
    if record is None:
        raise BackupError(f"{ref} has no BackupRecord in this database; verify needs one to record the result")
    engine = engine_for(_db_settings(using))
    scratch = engine.scratch_name()
    clock = time.monotonic()
    problems: list[str] = []
    try:
        fetched = _fetch_verified(backup)
        try:
            engine.create_database(scratch)
            engine.restore(fetched.path, dbname=scratch)
        finally:
            fetched.cleanup()
        seconds = time.monotonic() - clock
        problems = _compare_tables(backup.manifest, engine.facts(scratch))
    except BackupError as exc:
        problems, seconds = [str(exc)], None
    finally:
        engine.drop_database(scratch)
    record.refresh_from_db()
    record.verified_at = timezone.now()
    record.verify_ok = not problems
    record.verify_detail = "; ".join(problems)[:4000] if problems else "all tables match the manifest"
    if seconds is not None:
        record.restore_seconds = seconds
    record.save(update_fields=["verified_at", "verify_ok", "verify_detail", "restore_seconds", "updated_at"])
    if problems:
        raise BackupError(
            f"backup {record.id} failed verification: {problems[0]}"
            + (f" (+{len(problems) - 1} more)" if len(problems) > 1 else "")
        )
    return record
