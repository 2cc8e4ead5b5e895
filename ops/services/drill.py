"""The restore drill, daily by beat: restore the newest backup into a scratch database, check it against its
manifest, and record how long it took: the measured restore time is the RTO estimate (ops.metrics).

backup_verify checks one backup's copies; the drill rehearses the recovery itself, from the replica when one is
configured (the path taken when a region is lost), and keeps a history of its timings in RestoreDrill rows.
"""

import time

from django.utils import timezone

from ops import storage as st
from ops.engines import BackupError, engine_for
from ops.models import RestoreDrill
from ops.services.shared import _db_settings, _restore_and_compare, audited, backup_resolve


def drill_default_source() -> str:
    """The replica when one is configured (rehearse the failover), else the primary."""
    return st.REPLICA if st.replica_configured() else st.PRIMARY


@audited("backup.drill")
def restore_drill(*, ref: str = "latest", source: str | None = None, using: str = "default") -> RestoreDrill:
    """Restore a backup (default: the newest) from source into a scratch database (PostgreSQL: a database created
    and dropped on the same server; SQLite: a temporary file), compare every table's row count and checksum with
    the manifest, drop it, and record the outcome and the restore time. Raises BackupError when the drill fails.
    """
    source = source or drill_default_source()
    drill = RestoreDrill.objects.create(started_at=timezone.now(), source=source)
    engine = engine_for(_db_settings(using))
    scratch = engine.scratch_name()
    clock = time.monotonic()  # from finding the backup to the last check: what a real restore would take
    seconds: float | None = None
    try:
        backup = backup_resolve(ref=ref, source=source)
        drill.backup, drill.backup_key = backup.record, backup.key
        tables = backup.manifest.get("tables", {})
        drill.tables, drill.rows = len(tables), sum(t.get("rows", 0) for t in tables.values())
        problems = _restore_and_compare(backup, engine, scratch)
        seconds = time.monotonic() - clock
    except BackupError as exc:
        problems = [str(exc)]
    finally:
        engine.drop_database(scratch)
    drill.finished_at = timezone.now()
    drill.ok = not problems
    drill.restore_seconds = seconds
    drill.detail = "; ".join(problems)[:4000] if problems else f"{drill.tables} tables match the manifest"
    drill.save()
    if problems:
        raise BackupError(
            f"from the {source}: {problems[0]}" + (f" (+{len(problems) - 1} more)" if len(problems) > 1 else "")
        )
    return drill
