"""The audit trail's tables. All three are append-only: a PostgreSQL trigger (migration 0002) refuses UPDATE,
DELETE and TRUNCATE except on the sealer's and retention's own paths (docs/compliance.md)."""

from auditlog.models import AbstractLogEntry, LogEntryManager
from django.db import models

from common.models import BaseModel


class Category(models.TextChoices):
    REQUEST = "request", "State-changing request"
    AUTH = "auth", "Authentication"
    PERMISSION = "permission", "Permission denied"
    ADMIN = "admin", "Admin action"
    OPERATION = "operation", "Operation (backup, restore, verify, prune)"
    GDPR = "gdpr", "Data subject request"
    RETENTION = "retention", "Retention"
    AUDIT = "audit", "Audit trail (seal, verify)"
    SECRET = "secret", "Project secret (create, replace, delete, use)"


# Personal fields: they enter the hash chain as keyed hashes, so that retention and erasure may clear the raw
# value and the chain still verifies.
EVENT_PERSONAL_FIELDS = ("ip", "user_agent")
HISTORY_PERSONAL_FIELDS = ("remote_addr",)


class AuditEvent(BaseModel):
    """Something that happened and is not a model diff: a state-changing request, a login, a denial, a backup."""

    sequence = models.BigIntegerField(null=True, blank=True, unique=True, help_text="Gap-free, given when sealed.")
    category = models.CharField(max_length=16, choices=Category.choices)
    action = models.CharField(max_length=200, help_text='"PATCH /api/v1/projects/{id}/" or "auth.login.failed".')
    resource_type = models.CharField(max_length=64, blank=True)
    resource_id = models.CharField(max_length=64, blank=True)
    project_id = models.UUIDField(null=True, blank=True)
    status_code = models.PositiveSmallIntegerField(null=True, blank=True)
    request_id = models.CharField(max_length=128, blank=True)
    trace_id = models.CharField(max_length=32, blank=True)
    actor_kind = models.CharField(max_length=16)
    actor_id = models.UUIDField(null=True, blank=True)
    actor_label = models.CharField(max_length=200, blank=True)
    ip = models.GenericIPAddressField(null=True, blank=True)
    ip_hash = models.CharField(max_length=64, blank=True)
    user_agent = models.TextField(null=True, blank=True)
    user_agent_hash = models.CharField(max_length=64, blank=True)
    changes = models.JSONField(null=True, blank=True, help_text="{field: [old, new]} of the models it changed.")
    detail = models.JSONField(default=dict, blank=True, help_text="What else the event says (never a secret).")

    class Meta:
        ordering = ["-created_at"]
        indexes = [
            models.Index(fields=["actor_id", "-created_at"], name="audit_event_actor"),
            models.Index(fields=["project_id", "-created_at"], name="audit_event_project"),
            models.Index(fields=["action", "-created_at"], name="audit_event_action"),
            models.Index(fields=["resource_id"], name="audit_event_resource"),
            models.Index(fields=["resource_type", "-created_at"], name="audit_event_resource_type"),
            models.Index(fields=["category", "-created_at"], name="audit_event_category"),
            models.Index(fields=["status_code", "-created_at"], name="audit_event_status"),
            models.Index(fields=["request_id"], name="audit_event_request"),
            models.Index(fields=["sequence"], condition=models.Q(sequence__isnull=True), name="audit_event_unsealed"),
        ]

    def __str__(self) -> str:
        return f"{self.created_at:%Y-%m-%d %H:%M:%S} {self.action} ({self.status_code or '-'})"


class HistoryManager(LogEntryManager):
    def log_create(self, instance, force_log: bool = False, **kwargs):
        """auditlog's, naming a pseudonymous model's object "<model> <pk>" without calling its str() (which may
        read related rows: a membership's user and project)."""
        from audit import registry

        if instance._meta.label_lower in registry.PSEUDONYMOUS:
            kwargs.setdefault("object_repr", f"{instance._meta.model_name} {instance.pk}")
        return super().log_create(instance, force_log=force_log, **kwargs)


class ModelHistory(AbstractLogEntry):
    """django-auditlog's log entry (AUDITLOG_LOGENTRY_MODEL), with our sequence and actor for system work."""

    sequence = models.BigIntegerField(null=True, blank=True, unique=True)
    actor_kind = models.CharField(max_length=16, blank=True)
    actor_label = models.CharField(max_length=200, blank=True)
    remote_addr_hash = models.CharField(max_length=64, blank=True)

    objects = HistoryManager()

    def save(self, *args, **kwargs):
        from audit import recording

        if self._state.adding:
            recording.stamp_history(self)
        super().save(*args, **kwargs)
        recording.history_saved()

    class Meta(AbstractLogEntry.Meta):
        verbose_name = "model history entry"
        verbose_name_plural = "model history"
        indexes = [
            models.Index(fields=["content_type", "object_pk"], name="audit_history_object"),
            models.Index(fields=["sequence"], condition=models.Q(sequence__isnull=True), name="audit_history_unsealed"),
        ]


class SealKind(models.TextChoices):
    SEAL = "seal", "Seal"
    CHECKPOINT = "checkpoint", "Retention checkpoint"


class AuditSeal(models.Model):
    """A link of the hash chain: the hashes of rows first..last, the previous link's hash, and their HMAC."""

    id = models.BigAutoField(primary_key=True)
    kind = models.CharField(max_length=16, choices=SealKind.choices, default=SealKind.SEAL)
    first_sequence = models.BigIntegerField()
    last_sequence = models.BigIntegerField(unique=True)
    row_hashes = models.BinaryField(help_text="32 bytes (sha256) per row, in sequence order.")
    rows_hash = models.CharField(max_length=64)
    previous_hash = models.CharField(max_length=64)
    seal_hash = models.CharField(max_length=64, unique=True)
    hmac = models.CharField(max_length=64)
    created_at = models.DateTimeField()

    class Meta:
        ordering = ["last_sequence"]

    def __str__(self) -> str:
        return f"{self.kind} {self.first_sequence}..{self.last_sequence}"


class AuditRemoval(models.Model):
    """A row removed by retention (login failures after 90 days): its sequence stays accounted for."""

    sequence = models.BigIntegerField(primary_key=True)
    removed_by = models.UUIDField(help_text="The retention run's AuditEvent id, which seals a digest of these.")

    def __str__(self) -> str:
        return f"{self.sequence} (removed)"
