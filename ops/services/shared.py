"""What the backup services share: the manifest format, finding a backup and reading its manifest, fetching its
dump with the sha256 checked, comparing a database with the manifest (tables and migrations), and the audit
event of every run.

Names with a leading underscore are for the services of this package only.
"""

import functools
import json
import os
from dataclasses import dataclass

from django.conf import settings
from django.db import connection, connections
from django.db.migrations.loader import MigrationLoader

from audit import recording as audit
from audit.models import Category
from ops import storage as st
from ops.engines import BackupError, one_line
from ops.models import BackupRecord, BackupStatus, manifest_key_for

MANIFEST_FORMAT = 1


def _db_settings(using: str, database: str | None = None) -> dict:
    db = dict(connections[using].settings_dict)
    if database:
        db["NAME"] = database
    return db


def _storage_error(exc: Exception) -> str:
    return f"backup storage error ({type(exc).__name__}): {one_line(str(exc))}"


@dataclass
class BackupRef:
    """A backup to restore or verify: its dump key, its manifest, and its record when this database has one."""

    key: str
    manifest: dict
    record: BackupRecord | None = None
    source: str = st.PRIMARY  # where the dump is read from: "primary" or "replica" storage


def _catalogue_ready() -> bool:
    """Whether this database has the backup catalogue table: a new, empty database (a disaster recovery before
    `migrate`) has none, and then every backup is looked up in storage."""
    return BackupRecord._meta.db_table in connection.introspection.table_names()


def backup_resolve(*, ref: str, source: str = st.PRIMARY) -> BackupRef:
    """Find a backup by record id, "latest" (newest succeeded) or object key, and read its manifest from the
    source's storage ("primary", or "replica" when the primary storage is gone).

    Without a record (a fresh deployment restoring after a disaster), "latest" looks in storage itself; from the
    replica, "latest" is the newest backup whose replica was verified.
    """
    from ops.selectors import backup_get

    storage = st.storage_for(source)
    label = st.storage_label(source)
    record = backup_get(ref=ref, replicated=source == st.REPLICA) if _catalogue_ready() else None
    if record is not None:
        if record.status != BackupStatus.SUCCEEDED:
            raise BackupError(f"backup {record.id} is {record.status}, not a usable backup")
        key = record.key
    elif ref == "latest":
        latest = backup_latest_key_in_storage(source=source)
        if latest is None:
            raise BackupError(f"no succeeded backup found (neither recorded nor in {label})")
        key = latest
    elif ref.endswith(".dump"):
        key = ref
    else:
        raise BackupError(f"no backup matches {ref!r}: give a backup id, 'latest' or an object key ending in .dump")
    try:
        manifest = json.loads(st.read_bytes(storage, manifest_key_for(key)))
    except FileNotFoundError as exc:
        raise BackupError(f"manifest {manifest_key_for(key)} not found in {label}") from exc
    except ValueError as exc:
        raise BackupError(f"manifest {manifest_key_for(key)} is not valid JSON") from exc
    except Exception as exc:
        raise BackupError(_storage_error(exc)) from exc
    if manifest.get("format_version") != MANIFEST_FORMAT:
        raise BackupError(f"unsupported manifest format {manifest.get('format_version')!r}")
    return BackupRef(key=key, manifest=manifest, record=record, source=source)


def backup_latest_key_in_storage(*, source: str = st.PRIMARY) -> str | None:
    """The newest dump under backups/<env>/ that has a manifest beside it."""
    storage = st.storage_for(source)
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

    def cleanup(self) -> None:
        if self.temporary and os.path.exists(self.path):
            os.unlink(self.path)


def _fetch_verified(ref: BackupRef) -> FetchedDump:
    """Download (or, for a local folder, locate) the dump and check its sha256 against the manifest."""
    storage = st.storage_for(ref.source)
    try:
        local = st.local_path(storage, ref.key)
        temporary = local is None
        if local is None:
            path = st.download_to_temp(storage, ref.key, settings.BACKUP_TEMP_DIR)
        elif os.path.exists(local):
            path = local
        else:
            raise FileNotFoundError(local)
    except FileNotFoundError as exc:
        raise BackupError(f"dump {ref.key} not found in {st.storage_label(ref.source)}") from exc
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


def _restore_and_compare(backup: BackupRef, engine, scratch: str) -> list[str]:
    """Fetch the dump (sha256 checked), restore it into the new database scratch, and compare every table with the
    manifest, checksums included; the caller drops scratch. The differences found; BackupError when it cannot."""
    fetched = _fetch_verified(backup)
    try:
        engine.create_database(scratch)
        engine.restore(fetched.path, dbname=scratch)
    finally:
        fetched.cleanup()
    return _compare_tables(backup.manifest, engine.facts(scratch))


def _code_migrations() -> set[str]:
    loader = MigrationLoader(None, ignore_no_migrations=True)
    return {f"{app}.{name}" for app, name in loader.disk_migrations}


def migrations_unknown_to_code(manifest: dict, known: set[str] | None = None) -> list[str]:
    """Migrations recorded in the backup that this code does not have (the backup is from newer code)."""
    return sorted(set(manifest.get("migrations", [])) - (known if known is not None else _code_migrations()))


def migrations_not_in_backup(manifest: dict, known: set[str] | None = None) -> list[str]:
    """Migrations of this code that the backup predates (run `manage.py migrate` after restoring)."""
    return sorted((known if known is not None else _code_migrations()) - set(manifest.get("migrations", [])))


def audited(action: str):
    """Record each run of a backup operation as an audit event: its arguments, outcome and error, if any."""

    def decorate(operation):
        @functools.wraps(operation)
        def run(*args, **kwargs):
            detail = {key: value for key, value in kwargs.items() if isinstance(value, str | int | bool | None)}
            try:
                result = operation(*args, **kwargs)
            except BackupError as exc:
                audit.record(Category.OPERATION, action, detail={**detail, "outcome": "failed", "error": exc.message})
                raise
            record: BackupRecord | None
            if isinstance(result, BackupRecord):
                record = result
            else:  # a RestoreResult (its ref's record) or a RestoreDrill (its backup)
                record = getattr(result, "backup", None) or getattr(getattr(result, "ref", None), "record", None)
            audit.record(
                Category.OPERATION,
                action,
                resource_type="backup" if record is not None else "",
                resource_id=record.pk if record is not None else "",
                detail={**detail, "outcome": "succeeded"},
            )
            return result

        return run

    return decorate
