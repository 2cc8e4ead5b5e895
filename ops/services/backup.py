"""Taking a backup: dump the database into backup storage with its manifest, and record the outcome."""

import contextlib
import json
import logging
import time
from datetime import datetime

from django.conf import settings
from django.utils import timezone

from ops import storage as st
from ops.engines import BackupError, engine_for, one_line
from ops.models import BackupKind, BackupRecord, BackupStatus, manifest_key_for
from ops.services.replica import backup_replicate
from ops.services.shared import MANIFEST_FORMAT, _db_settings, _storage_error, audited

logger = logging.getLogger(__name__)


def backup_key(*, started_at: datetime, record_id) -> str:
    """backups/<env>/<YYYY>/<MM>/<DD>/<timestamp>-<id>.dump (documented in docs/disaster-recovery.md)."""
    stamp = started_at.strftime("%Y%m%dT%H%M%SZ")
    return f"backups/{settings.ENVIRONMENT}/{started_at:%Y/%m/%d}/{stamp}-{record_id}.dump"


@audited("backup.run")
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
            "compression": facts.get("compression"),
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
    with contextlib.suppress(BackupError):
        # The primary copy stands either way: backup_replicate has recorded, logged and audited a failure.
        backup_replicate(record=record)
    return record
