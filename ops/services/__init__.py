"""Backups: create, restore, verify and prune. The commands, the Celery tasks and the admin all call these.

backup.py takes a backup, replica.py copies it to the replica storage, restore.py puts one back, verify.py checks
a backup's two copies, drill.py runs the timed restore drill (the RTO estimate), prune.py applies the retention,
and shared.py holds what they share (finding a backup, fetching its dump with the checksum checked, comparing a
database with the manifest).

These services are not wrapped in @transaction.atomic: they run external tools for minutes and must record a
failure even when the work fails, so each database write here commits on its own.
"""

from ops.services.backup import backup_create, backup_key
from ops.services.drill import restore_drill
from ops.services.prune import backup_prune
from ops.services.replica import backup_replicate
from ops.services.restore import RestoreResult, backup_reapply, backup_restore
from ops.services.shared import (
    BackupRef,
    FetchedDump,
    backup_latest_key_in_storage,
    backup_resolve,
    migrations_not_in_backup,
    migrations_unknown_to_code,
)
from ops.services.verify import backup_verify

__all__ = [
    "BackupRef",
    "FetchedDump",
    "RestoreResult",
    "backup_create",
    "backup_key",
    "backup_latest_key_in_storage",
    "backup_prune",
    "backup_reapply",
    "backup_replicate",
    "backup_resolve",
    "backup_restore",
    "backup_verify",
    "migrations_not_in_backup",
    "migrations_unknown_to_code",
    "restore_drill",
]
