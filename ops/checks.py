"""System checks for the backup configuration (`manage.py check`, `check --deploy`)."""

import shutil

from django.conf import settings
from django.core.checks import CheckMessage, Error, Tags, Warning, register


@register()
def backup_storage_check(app_configs, **kwargs):
    """BACKUP_STORAGE must name a known backend, and S3 needs a bucket."""
    storage = settings.BACKUP_STORAGE
    if storage not in ("local", "s3"):
        return [Error(f"BACKUP_STORAGE is {storage!r}; use 'local' or 's3'.", id="ops.E001")]
    if storage == "s3" and not settings.AWS_STORAGE_BUCKET_NAME:
        return [Error("BACKUP_STORAGE is 's3' but AWS_STORAGE_BUCKET_NAME is empty.", id="ops.E002")]
    return []


@register()
def backup_replica_check(app_configs, **kwargs):
    """BACKUP_REPLICA_STORAGE is off (empty), "local" with a folder, or "s3" with a bucket."""
    replica = settings.BACKUP_REPLICA_STORAGE
    if replica not in ("", "local", "s3"):
        return [Error(f"BACKUP_REPLICA_STORAGE is {replica!r}; leave it empty or use 'local' or 's3'.", id="ops.E004")]
    if replica == "s3" and not settings.BACKUP_REPLICA_BUCKET:
        return [Error("BACKUP_REPLICA_STORAGE is 's3' but BACKUP_REPLICA_BUCKET is empty.", id="ops.E005")]
    if replica == "local" and not settings.BACKUP_REPLICA_LOCAL_DIR:
        return [Error("BACKUP_REPLICA_STORAGE is 'local' but BACKUP_REPLICA_LOCAL_DIR is empty.", id="ops.E006")]
    return []


@register(Tags.database, deploy=True)
def backup_deploy_check(app_configs, **kwargs):
    """In production backups belong off the host, and pg_dump/pg_restore must be installed."""
    found: list[CheckMessage] = []
    if settings.BACKUP_STORAGE == "local":
        found.append(
            Warning(
                "Backups are written to a local folder (BACKUP_STORAGE=local): they die with the host.",
                hint="Set BACKUP_STORAGE=s3, and BACKUP_REPLICA_* for a copy in another region "
                "(docs/disaster-recovery.md).",
                id="ops.W001",
            )
        )
    if settings.DATABASES["default"]["ENGINE"].endswith("postgresql"):
        missing = [tool for tool in ("pg_dump", "pg_restore") if shutil.which(tool) is None]
        if missing:
            found.append(Error(f"{' and '.join(missing)} not found on PATH: backups cannot run.", id="ops.E003"))
    return found
