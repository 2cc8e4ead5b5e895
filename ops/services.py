"""Backups: create, restore, verify and prune. The commands, the Celery tasks and the admin all call these.

These services are not wrapped in @transaction.atomic: they run external tools for minutes and must record a
failure even when the work fails, so each database write here commits on its own.
"""

import json
import logging
import os
import time
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from django.conf import settings
from django.db import connections, transaction
from django.db.migrations.loader import MigrationLoader
from django.utils import timezone

from ops import storage as st
from ops.engines import BackupError, engine_for, one_line
from ops.models import BackupKind, BackupRecord, BackupStatus, manifest_key_for

logger = logging.getLogger(__name__)

MANIFEST_FORMAT = 1


def backup_key(*, started_at: datetime, record_id) -> str:
    """backups/<env>/<YYYY>/<MM>/<DD>/<timestamp>-<id>.dump (documented in docs/disaster-recovery.md)."""
    stamp = started_at.strftime("%Y%m%dT%H%M%SZ")
    return f"backups/{settings.ENVIRONMENT}/{started_at:%Y/%m/%d}/{stamp}-{record_id}.dump"


def _db_settings(using: str, database: str | None = None) -> dict:
    db = dict(connections[using].settings_dict)
    if database:
        db["NAME"] = database
    return db


def _storage_error(exc: Exception) -> str:
    return f"backup storage error ({type(exc).__name__}): {one_line(str(exc))}"


# --- backup ---------------------------------------------------------------------------------------------------
def backup_create(
    *, kind: str = BackupKind.MANUAL, using: str = "default", database: str | None = None
) -> BackupRecord:
    """Dump the database into backup storage with a manifest beside it; record the outcome.

    On failure the partial objects are removed, the record says failed, and BackupError is raised; earlier
    backups are never touched (pruning is a separate operation that only counts succeeded backups).
    """
    db = _db_settings(using, database)
    started = timezone.now()
    record = BackupRecord.objects.create(kind=kind, started_at=started, status=BackupStatus.RUNNING)
    record.key = backup_key(started_at=started, record_id=record.id)
    record.database = str(db["NAME"])
    record.save(update_fields=["key", "database", "updated_at"])
    storage = st.backup_storage()
    clock = time.monotonic()
    stored_key = None
    try:
        engine = engine_for(db)
        record.engine = engine.name
        upload: dict = {}

        def sink(stream) -> None:
            try:
                upload["key"], upload["size"], upload["sha256"] = st.upload_stream(storage, record.key, stream)
            except BackupError:
                raise
            except Exception as exc:
                raise BackupError(_storage_error(exc)) from exc

        facts = engine.dump(sink)
        stored_key = upload["key"]
        finished = timezone.now()
        manifest = {
            "format_version": MANIFEST_FORMAT,
            "backup_id": str(record.id),
            "environment": settings.ENVIRONMENT,
            "app_version": settings.APP_VERSION,
            "engine": facts["engine"],
            "server_version": facts["server_version"],
            "database": record.database,
            "dump_key": stored_key,
            "size_bytes": upload["size"],
            "sha256": upload["sha256"],
            "started_at": started.isoformat(),
            "finished_at": finished.isoformat(),
            "migrations": facts["migrations"],
            "checksum_method": facts["checksum_method"],
            "tables": facts["tables"],
        }
        try:
            st.upload_bytes(storage, manifest_key_for(stored_key), json.dumps(manifest, indent=2).encode())
        except Exception as exc:
            raise BackupError(_storage_error(exc)) from exc
    except Exception as exc:
        # Remove whatever part reached storage: a failed backup leaves nothing that looks like a backup.
        dump_key = stored_key or record.key
        st.delete_quietly(storage, dump_key)
        st.delete_quietly(storage, manifest_key_for(dump_key))
        message = str(exc) if isinstance(exc, BackupError) else f"{type(exc).__name__}: {one_line(str(exc))}"
        record.status = BackupStatus.FAILED
        record.error = message
        record.finished_at = timezone.now()
        record.duration_seconds = time.monotonic() - clock
        record.save()
        # Not logged here: the record keeps the error, and the command or the Celery task reports it once.
        if isinstance(exc, BackupError):
            raise
        raise BackupError(message) from exc
    record.key = stored_key
    record.status = BackupStatus.SUCCEEDED
    record.size_bytes = upload["size"]
    record.sha256 = upload["sha256"]
    record.finished_at = finished
    record.duration_seconds = time.monotonic() - clock
    record.manifest = manifest
    record.save()
    logger.info("backup succeeded", extra={"backup_id": str(record.id), "size_bytes": record.size_bytes})
    return record


# --- locating a backup ----------------------------------------------------------------------------------------
@dataclass
class BackupRef:
    """A backup to restore or verify: its dump key, its manifest, and its record when this database has one."""

    key: str
    manifest: dict
    record: BackupRecord | None = None


def backup_resolve(*, ref: str) -> BackupRef:
    """Find a backup by record id, "latest" (newest succeeded) or object key, and read its manifest.

    Without a record (a fresh deployment restoring after a disaster), "latest" looks in storage itself.
    """
    from ops.selectors import backup_get

    storage = st.backup_storage()
    record = backup_get(ref=ref)
    if record is not None:
        if record.status != BackupStatus.SUCCEEDED:
            raise BackupError(f"backup {record.id} is {record.status}, not a usable backup")
        key = record.key
    elif ref == "latest":
        latest = backup_latest_key_in_storage()
        if latest is None:
            raise BackupError("no succeeded backup found (neither recorded nor in backup storage)")
        key = latest
    elif ref.endswith(".dump"):
        key = ref
    else:
        raise BackupError(f"no backup matches {ref!r}: give a backup id, 'latest' or an object key ending in .dump")
    try:
        manifest = json.loads(st.read_bytes(storage, manifest_key_for(key)))
    except FileNotFoundError as exc:
        raise BackupError(f"manifest {manifest_key_for(key)} not found in backup storage") from exc
    except ValueError as exc:
        raise BackupError(f"manifest {manifest_key_for(key)} is not valid JSON") from exc
    except Exception as exc:
        raise BackupError(_storage_error(exc)) from exc
    if manifest.get("format_version") != MANIFEST_FORMAT:
        raise BackupError(f"unsupported manifest format {manifest.get('format_version')!r}")
    return BackupRef(key=key, manifest=manifest, record=record)


def backup_latest_key_in_storage() -> str | None:
    """The newest dump under backups/<env>/ that has a manifest beside it."""
    storage = st.backup_storage()
    try:
        keys = st.list_keys(storage, f"backups/{settings.ENVIRONMENT}")
    except Exception as exc:
        raise BackupError(_storage_error(exc)) from exc
    manifests = {k for k in keys if k.endswith(".manifest.json")}
    # Keys sort by date folders then timestamp, so the last one is the newest.
    dumps = [k for k in keys if k.endswith(".dump") and manifest_key_for(k) in manifests]
    return dumps[-1] if dumps else None


@dataclass
class FetchedDump:
    """A dump available as a local file whose sha256 matched the manifest."""

    path: str
    temporary: bool
    seconds: float = 0.0

    def cleanup(self) -> None:
        if self.temporary and os.path.exists(self.path):
            os.unlink(self.path)


def _fetch_verified(ref: BackupRef) -> FetchedDump:
    """Download (or, for a local folder, locate) the dump and check its sha256 against the manifest."""
    storage = st.backup_storage()
    clock = time.monotonic()
    try:
        local = st.local_path(storage, ref.key)
        temporary = local is None
        if local is None:
            path = st.download_to_temp(storage, ref.key, getattr(settings, "BACKUP_TEMP_DIR", None))
        elif os.path.exists(local):
            path = local
        else:
            raise FileNotFoundError(local)
    except FileNotFoundError as exc:
        raise BackupError(f"dump {ref.key} not found in backup storage") from exc
    except Exception as exc:
        raise BackupError(_storage_error(exc)) from exc
    fetched = FetchedDump(path=path, temporary=temporary)
    digest = st.file_sha256(path)
    expected = ref.manifest.get("sha256")
    if digest != expected or (ref.record is not None and ref.record.sha256 and ref.record.sha256 != digest):
        fetched.cleanup()
        raise BackupError(
            f"checksum mismatch for {ref.key}: sha256 {digest[:12]}… but manifest says {str(expected)[:12]}…"
        )
    fetched.seconds = time.monotonic() - clock
    return fetched


def _compare_tables(manifest: dict, facts: dict) -> list[str]:
    """Differences between the manifest's tables and a database's; checksums only when both used one method."""
    problems = []
    actual = facts["tables"]
    same_method = facts.get("checksum_method") is not None and facts["checksum_method"] == manifest.get(
        "checksum_method"
    )
    for table, want in sorted(manifest["tables"].items()):
        got = actual.get(table)
        if got is None:
            problems.append(f"{table}: missing")
        elif got["rows"] != want["rows"]:
            problems.append(f"{table}: {got['rows']} rows, manifest {want['rows']}")
        elif same_method and got["checksum"] != want["checksum"]:
            problems.append(f"{table}: checksum differs")
    return problems


def _code_migrations() -> set[str]:
    loader = MigrationLoader(None, ignore_no_migrations=True)
    return {f"{app}.{name}" for app, name in loader.disk_migrations}


def migrations_unknown_to_code(manifest: dict, known: set[str] | None = None) -> list[str]:
    """Migrations recorded in the backup that this code does not have (the backup is from newer code)."""
    return sorted(set(manifest.get("migrations", [])) - (known if known is not None else _code_migrations()))


def migrations_not_in_backup(manifest: dict, known: set[str] | None = None) -> list[str]:
    """Migrations of this code that the backup predates (run `manage.py migrate` after restoring)."""
    return sorted((known if known is not None else _code_migrations()) - set(manifest.get("migrations", [])))


# --- restore --------------------------------------------------------------------------------------------------
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
                },
            )


def backup_restore(
    *, ref: str, target_database: str | None = None, safety_backup: bool = True, using: str = "default"
) -> RestoreResult:
    """Restore a backup into the app's database (or target_database on the same server).

    Order: resolve, check sha256 (refuse on mismatch), refuse a backup from newer code, safety backup, restore in
    one transaction, then compare every table with the manifest and report migrations still to apply.
    """
    backup = backup_resolve(ref=ref)
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
    clock = time.monotonic()
    phases: dict[str, float] = {}
    fetched = _fetch_verified(backup)
    phases["fetch_and_sha256"] = time.monotonic() - clock
    try:
        same_db = str(target) == str(own_db)
        safety = None
        mark = time.monotonic()
        if safety_backup and engine.database_exists(target):
            safety = backup_create(kind=BackupKind.SAFETY, using=using, database=target_database)
        elif not engine.database_exists(target):
            engine.create_database(target)
        catalogue = _catalogue_snapshot() if same_db else None
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
    if catalogue is not None:
        _catalogue_put_back(catalogue, restored=backup)
    logger.warning(
        "database restored",
        extra={
            "backup_key": backup.key,
            "database": str(target),
            "seconds": round(seconds, 3),
            "problems": len(problems),
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
    )


# --- verify ---------------------------------------------------------------------------------------------------
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


# --- prune ----------------------------------------------------------------------------------------------------
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
    for record in doomed:
        if record.key:
            try:
                storage.delete(record.key)
                storage.delete(record.manifest_key)
            except Exception as exc:
                raise BackupError(_storage_error(exc)) from exc
        record.delete()
    return doomed
