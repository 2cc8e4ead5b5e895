"""Restoring a backup into the app's database (or another one on the same server), putting the backup
catalogue back afterwards so that it still describes backup storage, and re-applying what was recorded outside the
database since the backup was taken (ops.restore_hooks: the erasure ledger).
"""

import logging
import time
from dataclasses import dataclass, field
from datetime import datetime

from django.db import connections, transaction
from django.db.migrations.executor import MigrationExecutor
from django.utils import timezone

from ops import restore_hooks
from ops import storage as st
from ops.engines import BackupError, engine_for
from ops.models import BackupKind, BackupRecord, BackupStatus, ReplicaStatus
from ops.services.backup import backup_create
from ops.services.shared import (
    BackupRef,
    _catalogue_ready,
    _code_migrations,
    _compare_tables,
    _db_settings,
    _fetch_verified,
    audited,
    backup_resolve,
    migrations_not_in_backup,
    migrations_unknown_to_code,
)

logger = logging.getLogger(__name__)


@dataclass
class RestoreResult:
    """What a restore did, for the command's report."""

    ref: BackupRef
    database: str
    safety_backup: BackupRecord | None
    seconds: float
    phases: dict[str, float] = field(default_factory=dict)
    problems: list[str] = field(default_factory=list)
    pending_migrations: list[str] = field(default_factory=list)
    # {hook name: records re-applied}, e.g. {"erasures": 2}: erasures recorded after the backup, done again.
    reapplied: dict[str, int] = field(default_factory=dict)


def _catalogue_snapshot() -> list[dict]:
    return [dict(row) for row in BackupRecord.objects.values()]


def _catalogue_put_back(rows: list[dict], *, restored: BackupRef) -> None:
    """Make the BackupRecord table describe backup storage again after a restore replaced it.

    The dump holds the catalogue as it was when the dump was taken; the objects in storage did not travel back
    in time, so the rows saved just before the restore (including the safety backup) are written back. A fresh
    database (disaster recovery: nothing saved) keeps the dump's rows instead. Either way the restored backup's
    own row, which its dump holds as "running", is completed from the manifest and stamped restored_at.
    """
    fields = [f.name for f in BackupRecord._meta.concrete_fields if f.name != "id"]
    manifest = restored.manifest
    with transaction.atomic():
        if rows:
            BackupRecord.objects.exclude(id__in=[row["id"] for row in rows]).delete()
            BackupRecord.objects.bulk_create(
                [BackupRecord(**row) for row in rows], update_conflicts=True, unique_fields=["id"], update_fields=fields
            )
        if manifest.get("backup_id"):
            BackupRecord.objects.update_or_create(
                id=manifest["backup_id"],
                defaults={
                    "status": BackupStatus.SUCCEEDED,
                    "key": restored.key,
                    "engine": manifest.get("engine", ""),
                    "database": manifest.get("database", ""),
                    "size_bytes": manifest.get("size_bytes"),
                    "sha256": manifest.get("sha256", ""),
                    "started_at": datetime.fromisoformat(manifest["started_at"]),
                    "finished_at": datetime.fromisoformat(manifest["finished_at"]),
                    "manifest": manifest,
                    "error": "",
                    "restored_at": timezone.now(),
                    # Restored from the replica: that copy has just passed the sha256 check.
                    **(
                        {"replica_status": ReplicaStatus.OK, "replica_verified_at": timezone.now()}
                        if restored.source == st.REPLICA
                        else {}
                    ),
                },
            )


def _backup_started(manifest: dict) -> datetime:
    return datetime.fromisoformat(manifest["started_at"])


def _refuse_side_copy_with_pending(backup: BackupRef, target: str) -> None:
    """A restore into another database cannot have the hooks re-apply their records there (they work on the app
    database), so it is refused when there is anything to re-apply: it would bring an erased person back."""
    since = _backup_started(backup.manifest)
    for hook in restore_hooks.hooks():
        pending = hook.pending(since=since)
        if pending:
            raise BackupError(
                f"{pending} {hook.name} recorded after this backup cannot be re-applied to {target}: restore into "
                "the application database instead"
            )


def _unapplied_migrations(using: str) -> int:
    """Migrations of this code that the database has not applied (after a restore: those the backup predates)."""
    executor = MigrationExecutor(connections[using])
    return len(executor.migration_plan(executor.loader.graph.leaf_nodes()))


def _reapply(backup: BackupRef, *, using: str) -> dict[str, int]:
    """Run every hook on the restored database; a failure fails the restore (nothing is swallowed)."""
    since = _backup_started(backup.manifest)
    pending_migrations = _unapplied_migrations(using)
    command = f"`manage.py restore_reapply {backup.key}`"
    if pending_migrations:
        # The hooks use this code's models, which the restored schema predates until `migrate` has run.
        waiting = {hook.name: hook.pending(since=since) for hook in restore_hooks.hooks()}
        waiting = {name: count for name, count in waiting.items() if count}
        if waiting:
            names = ", ".join(f"{count} {name}" for name, count in waiting.items())
            raise BackupError(
                f"the database was restored, but {names} recorded after the backup are not re-applied yet: its "
                f"schema predates {pending_migrations} migration(s) of this code; run `manage.py migrate`, "
                f"then {command}"
            )
        return {hook.name: 0 for hook in restore_hooks.hooks()}
    done = {}
    for hook in restore_hooks.hooks():
        try:
            done[hook.name] = hook.reapply(since=since)
        except Exception as exc:
            raise BackupError(
                f"the database was restored, but re-applying the {hook.name} recorded after the backup failed "
                f"({type(exc).__name__}: {exc}); run {command} before using the database"
            ) from exc
    return done


@audited("backup.restore")
def backup_restore(
    *,
    ref: str,
    source: str = st.PRIMARY,
    target_database: str | None = None,
    safety_backup: bool = True,
    using: str = "default",
) -> RestoreResult:
    """Restore a backup into the app's database (or target_database on the same server), reading it from the
    source's storage: "primary", or "replica" when the primary storage (its region) is gone.

    Order: resolve, check sha256 (refuse on mismatch), refuse a backup from newer code (and a restore into another
    database while records wait to be re-applied), safety backup, restore in one transaction, compare every table
    with the manifest, re-apply what was recorded after the backup (erasures), report migrations still to apply.
    """
    backup = backup_resolve(ref=ref, source=source)
    own_db = connections[using].settings_dict["NAME"]
    target = target_database or own_db
    engine = engine_for(_db_settings(using))  # connects to the app database to create/inspect the target
    if backup.manifest.get("engine") != engine.name:
        raise BackupError(f"the backup is a {backup.manifest.get('engine')} dump, the target is {engine.name}")
    known = _code_migrations()
    unknown = migrations_unknown_to_code(backup.manifest, known)
    if unknown:
        raise BackupError(
            f"the backup has {len(unknown)} migration(s) this code does not know (e.g. {unknown[0]}): deploy app "
            f"version {backup.manifest.get('app_version')} to restore it"
        )
    same_db = str(target) == str(own_db)
    if not same_db:
        _refuse_side_copy_with_pending(backup, str(target))
    clock = time.monotonic()
    phases: dict[str, float] = {}
    fetched = _fetch_verified(backup)
    phases["fetch_and_sha256"] = time.monotonic() - clock
    try:
        safety = None
        mark = time.monotonic()
        if safety_backup and engine.database_exists(target):
            try:
                safety = backup_create(kind=BackupKind.SAFETY, using=using, database=target_database)
            except BackupError as exc:
                raise BackupError(
                    f"the safety backup failed ({exc}); pass --no-safety-backup when the primary storage is gone"
                ) from exc
        elif not engine.database_exists(target):
            engine.create_database(target)
        # An empty database (no tables yet) has no catalogue to keep: the dump's is restored with the rest.
        catalogue = (_catalogue_snapshot() if _catalogue_ready() else []) if same_db else None
        if same_db:
            # Our own idle connection must not hold anything while pg_restore drops and recreates tables.
            connections[using].close()
        phases["safety_backup"] = time.monotonic() - mark
        mark = time.monotonic()
        engine.restore(fetched.path, dbname=target)
        phases["restore"] = time.monotonic() - mark
        mark = time.monotonic()
        # Row counts only: a full checksum pass would add minutes to the recovery time of a big database; the
        # scheduled restore drill (backup_verify) compares checksums.
        actual = engine.facts(target, checksums=False)
        phases["row_counts"] = time.monotonic() - mark
        seconds = time.monotonic() - clock
    finally:
        fetched.cleanup()
    problems = _compare_tables(backup.manifest, actual)
    reapplied: dict[str, int] = {}
    if catalogue is not None:
        _catalogue_put_back(catalogue, restored=backup)
        mark = time.monotonic()
        reapplied = _reapply(backup, using=using)
        phases["reapply"] = time.monotonic() - mark
    logger.warning(
        "database restored",
        extra={
            "backup_key": backup.key,
            "database": str(target),
            "seconds": round(seconds, 3),
            "problems": len(problems),
            "reapplied": reapplied,
        },
    )
    return RestoreResult(
        ref=backup,
        database=str(target),
        safety_backup=safety,
        seconds=seconds,
        phases=phases,
        problems=problems,
        pending_migrations=migrations_not_in_backup(backup.manifest, known),
        reapplied=reapplied,
    )


@audited("backup.reapply")
def backup_reapply(*, ref: str, source: str = st.PRIMARY, using: str = "default") -> dict[str, int]:
    """Re-apply what was recorded after a restored backup (erasures), when the restore could not (its schema
    needed `migrate` first, or a hook failed); safe to run again. Returns {hook name: records re-applied}."""
    backup = backup_resolve(ref=ref, source=source)
    return _reapply(backup, using=using)
