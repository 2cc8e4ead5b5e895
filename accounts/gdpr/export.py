"""The export of a person's data (GDPR Art. 15 access, Art. 20 portability): one JSON document.

The document holds the person's profile, the parts the other apps register (memberships, projects, workflows,
versions, executions with their inputs and outputs), the audit events where the person is the actor, and the
data map (purpose, recipients and retention of each class). It holds no one else's personal data: other people
appear as their user id only, which is a pseudonym outside this service.

The API queues the build (`data_export_request`, then the task `accounts.build_export` calls
`data_export_build`); `manage.py gdpr_export` calls `document_for` directly. Both are audited as `gdpr.export`,
never with the email.
"""

import json
import logging
from datetime import timedelta
from typing import Any

from celery import current_app
from django.conf import settings
from django.core.files.base import ContentFile
from django.core.files.storage import Storage, storages
from django.db import transaction
from django.db.models import Q
from django.utils import timezone

from accounts.gdpr import data_map, registry
from accounts.models import DataExport, ExportStatus, User
from audit import recording as audit
from audit.models import AuditEvent, Category
from common.errors import Conflict, Gone

logger = logging.getLogger("aiassistant.accounts")

FORMAT_VERSION = 1
BUILD_TASK = "accounts.build_export"
EXPORT_ACTION = "gdpr.export"


def export_storage() -> Storage:
    """Where export documents are kept (STORAGES["exports"]: a private folder, or the backup bucket's exports/)."""
    return storages["exports"]


def _iso(moment) -> str | None:
    return moment.isoformat() if moment is not None else None


def _profile(user: User) -> dict:
    return {
        "id": str(user.pk),
        "email": user.email,
        "full_name": user.full_name,
        "date_joined": _iso(user.date_joined),
        "last_login": _iso(user.last_login),
        "is_active": user.is_active,
        "is_staff": user.is_staff,
    }


def _audit_events(user: User) -> list[dict]:
    """The events where the person is the actor, oldest first (their own address and user agent included)."""
    events = AuditEvent.objects.filter(actor_id=user.pk).order_by("created_at", "id")
    return [
        {
            "id": str(event.pk),
            "created_at": _iso(event.created_at),
            "category": event.category,
            "action": event.action,
            "resource_type": event.resource_type,
            "resource_id": event.resource_id,
            "project_id": str(event.project_id) if event.project_id else None,
            "status_code": event.status_code,
            "ip": event.ip,
            "user_agent": event.user_agent,
            "changes": event.changes,
            "detail": event.detail,
        }
        for event in events.iterator(chunk_size=500)
    ]


def document_for(user: User) -> dict[str, Any]:
    """The whole export document of one person."""
    document: dict[str, Any] = {
        "format_version": FORMAT_VERSION,
        "generated_at": _iso(timezone.now()),
        "subject": {"id": str(user.pk)},
        "about": (
            "Your personal data held by aiassistant-api. Other people appear by their user id only. "
            "`data_classes` says, for each kind of data, why it is kept, who receives it and for how long."
        ),
        "data_classes": data_map.as_json(),
        "profile": _profile(user),
    }
    for part in registry.parts():
        if part.export is not None:
            document[part.name] = part.export(user)
    document["audit_events"] = _audit_events(user)
    return document


def render(document: dict) -> bytes:
    return json.dumps(document, ensure_ascii=False, indent=2, default=str).encode()


@transaction.atomic
def data_export_request(*, user: User) -> DataExport:
    """Record an export request and queue its build once committed; audited as `gdpr.export`."""
    export = DataExport(user=user)
    export.full_clean()
    export.save()
    audit.record(
        Category.GDPR,
        EXPORT_ACTION,
        resource_type="dataexport",
        resource_id=export.pk,
        detail={"via": "api", "subject": str(user.pk)},
    )
    transaction.on_commit(lambda: _enqueue(export.pk))
    return export


def _enqueue(export_id) -> None:
    # By name (the task module imports this one). The queue is the one every worker consumes by default
    # (CELERY_TASK_DEFAULT_QUEUE is WORKFLOW_EXECUTION_QUEUE), read when the task is sent, not at import.
    current_app.send_task(BUILD_TASK, args=[str(export_id)], queue=settings.WORKFLOW_EXECUTION_QUEUE)


def data_export_build(*, export_id) -> DataExport | None:
    """Build the document of a pending export and store it; safe to run twice (a finished export is left alone)."""
    with transaction.atomic():
        export = DataExport.objects.select_for_update().select_related("user").filter(pk=export_id).first()
        if export is None or export.status in (ExportStatus.READY, ExportStatus.FAILED):
            return export
        export.status, export.started_at = ExportStatus.RUNNING, timezone.now()
        export.save(update_fields=["status", "started_at", "updated_at"])
    try:
        data = render(document_for(export.user))
        key = export_storage().save(f"{export.user_id}/{export.pk}.json", ContentFile(data))
    except Exception as exc:
        logger.exception("export %s failed", export.pk)
        export.status, export.finished_at = ExportStatus.FAILED, timezone.now()
        export.error = f"The export could not be built ({type(exc).__name__})."
        export.save(update_fields=["status", "finished_at", "error", "updated_at"])
        return export
    now = timezone.now()
    export.status, export.file_key, export.size_bytes = ExportStatus.READY, key, len(data)
    export.finished_at, export.expires_at = now, now + timedelta(days=settings.RETENTION_DAYS["exports"])
    export.save(update_fields=["status", "file_key", "size_bytes", "finished_at", "expires_at", "updated_at"])
    return export


DOWNLOAD_ACTION = "gdpr.export.downloaded"


def data_export_open(*, export: DataExport):
    """The stored document of a ready export, opened for reading (the caller closes it); a download is audited.

    410 once its download period is over; 409 while it is being built or when it failed."""
    status = export.current_status
    if status == ExportStatus.EXPIRED:
        raise Gone("This export has expired; request a new one.", code="export_expired")
    if status != ExportStatus.READY:
        message = "This export failed; request a new one." if status == ExportStatus.FAILED else "Not ready yet."
        raise Conflict(message, code=f"export_{status}")
    handle = export_storage().open(export.file_key, "rb")
    audit.record(Category.GDPR, DOWNLOAD_ACTION, resource_type="dataexport", resource_id=export.pk)
    return handle


def data_export_command(*, user: User) -> bytes:
    """The document for a request that arrived by mail (`manage.py gdpr_export`), audited as `gdpr.export`."""
    data = render(document_for(user))
    audit.record(
        Category.GDPR,
        EXPORT_ACTION,
        resource_type="user",
        resource_id=user.pk,
        detail={"via": "command", "subject": str(user.pk), "size_bytes": len(data)},
    )
    return data


def _delete_file(export: DataExport) -> bool:
    """Remove an export's document; False when storage refused (the record stays, to be tried again)."""
    if not export.file_key:
        return True
    try:
        export_storage().delete(export.file_key)
    except FileNotFoundError:
        pass
    except Exception:
        logger.exception("export %s: its document could not be deleted", export.pk)
        return False
    return True


def data_exports_delete(*, user: User) -> int:
    """Erasure: every export of the person goes, documents first (they hold the person's email)."""
    exports = list(DataExport.objects.filter(user=user))
    for export in exports:
        if not _delete_file(export):
            raise RuntimeError(f"export {export.pk}: its document could not be deleted from storage")
    DataExport.objects.filter(pk__in=[e.pk for e in exports]).delete()
    return len(exports)


def data_exports_purge(cutoff, *, dry_run: bool, run_id=None) -> int:
    """Retention (audit.retention class "exports"): exports finished before cutoff, and requests never finished
    that are as old, go with their documents. Returns how many records were (or would be) removed."""
    expired = DataExport.objects.filter(Q(finished_at__lt=cutoff) | Q(finished_at__isnull=True, created_at__lt=cutoff))
    if dry_run:
        return expired.count()
    removed = [export.pk for export in expired if _delete_file(export)]
    DataExport.objects.filter(pk__in=removed).delete()
    return len(removed)
