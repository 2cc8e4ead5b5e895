from django.db import models

from common.models import BaseModel


class BackupStatus(models.TextChoices):
    RUNNING = "running", "Running"
    SUCCEEDED = "succeeded", "Succeeded"
    FAILED = "failed", "Failed"


class BackupKind(models.TextChoices):
    SCHEDULED = "scheduled", "Scheduled"
    MANUAL = "manual", "Manual"
    SAFETY = "safety", "Safety (before a restore)"


class ReplicaStatus(models.TextChoices):
    PENDING = "pending", "Pending (copy in progress)"
    OK = "ok", "OK (copied, sha256 verified)"
    FAILED = "failed", "Failed (copy or check failed)"
    ABSENT = "absent", "Absent (no replica configured)"


# Custom permissions of BackupRecord (codenames), for the admin's actions.
BACKUP_NOW = "backup_now"
VERIFY_NOW = "verify_now"


class BackupRecord(BaseModel):
    """One database backup: where its dump and manifest live in storage, and what became of it."""

    status = models.CharField(max_length=16, choices=BackupStatus.choices, default=BackupStatus.RUNNING, db_index=True)
    kind = models.CharField(max_length=16, choices=BackupKind.choices, default=BackupKind.MANUAL)
    engine = models.CharField(max_length=32, blank=True)
    database = models.CharField(max_length=255, blank=True, help_text="Database name (or SQLite file) backed up.")
    key = models.CharField(max_length=512, blank=True, help_text="Object key of the dump in backup storage.")
    size_bytes = models.BigIntegerField(null=True, blank=True)
    sha256 = models.CharField(max_length=64, blank=True)
    started_at = models.DateTimeField(db_index=True)
    finished_at = models.DateTimeField(null=True, blank=True)
    duration_seconds = models.FloatField(null=True, blank=True)
    manifest = models.JSONField(default=dict, blank=True)
    error = models.TextField(blank=True)
    verified_at = models.DateTimeField(null=True, blank=True)
    verify_ok = models.BooleanField(null=True, blank=True)
    verify_detail = models.TextField(blank=True)
    restore_seconds = models.FloatField(
        null=True, blank=True, help_text="Wall time of the last verification drill (download, check, restore)."
    )
    restored_at = models.DateTimeField(null=True, blank=True, help_text="When this backup was last restored.")
    # db_default on the new columns: the release before them inserts rows without them (expand/contract).
    replica_status = models.CharField(
        max_length=16,
        choices=ReplicaStatus.choices,
        default=ReplicaStatus.ABSENT,
        db_default=ReplicaStatus.ABSENT,
        help_text="The copy in the replica storage (BACKUP_REPLICA_*), same key as the primary.",
    )
    replica_verified_at = models.DateTimeField(
        null=True, blank=True, help_text="When the replica's sha256 last matched (after the copy, or by verify)."
    )
    replica_error = models.TextField(blank=True, default="", db_default="")

    class Meta:
        ordering = ["-started_at"]
        indexes = [models.Index(fields=["status", "-started_at"], name="ops_backup_status_started")]
        # The admin's "Back up now" and "Verify now" (the catalogue itself is read-only for everyone).
        permissions = [
            (BACKUP_NOW, "Can start a backup from the admin"),
            (VERIFY_NOW, "Can start a restore drill of a backup from the admin"),
        ]

    def __str__(self) -> str:
        return f"{self.started_at:%Y-%m-%d %H:%M:%S} {self.status} {self.key or self.id}"

    @property
    def manifest_key(self) -> str:
        return manifest_key_for(self.key)


def manifest_key_for(dump_key: str) -> str:
    """The manifest sits beside its dump: <name>.dump -> <name>.manifest.json."""
    return dump_key.removesuffix(".dump") + ".manifest.json"


class RestoreDrill(BaseModel):
    """One run of the restore drill: a backup restored into a scratch database and checked, timed (the RTO estimate)."""

    backup = models.ForeignKey(BackupRecord, null=True, blank=True, on_delete=models.SET_NULL, related_name="drills")
    backup_key = models.CharField(max_length=512, blank=True)
    source = models.CharField(max_length=16, default="primary", help_text="primary or replica storage.")
    started_at = models.DateTimeField(db_index=True)
    finished_at = models.DateTimeField(null=True, blank=True)
    ok = models.BooleanField(null=True, blank=True)
    detail = models.TextField(blank=True)
    restore_seconds = models.FloatField(
        null=True, blank=True, help_text="Download, sha256, restore and checks: the measured restore time (RTO)."
    )
    tables = models.IntegerField(null=True, blank=True, help_text="Tables compared with the manifest.")
    rows = models.BigIntegerField(null=True, blank=True, help_text="Rows restored, as the manifest counts them.")

    class Meta:
        ordering = ["-started_at"]

    def __str__(self) -> str:
        outcome = {True: "ok", False: "failed", None: "running"}[self.ok]
        return f"drill {self.started_at:%Y-%m-%d %H:%M:%S} {self.source} {outcome}"
