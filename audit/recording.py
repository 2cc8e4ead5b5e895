"""Writing audit rows: events (`record`), the request's event (`record_request`), and the stamp every model
history entry gets (actor, address, correlation with its request).

Each row is written where it happens, in the caller's transaction: a model change and its history commit or roll
back together; an event recorded outside a transaction (a failed login) commits at once.
"""

import logging

from django.conf import settings
from prometheus_client import Counter

from audit import context, keys, registry
from audit.models import AuditEvent, Category, ModelHistory
from common.logging import current_ids

logger = logging.getLogger("aiassistant.audit")

ROWS_WRITTEN = Counter("aiassistant_audit_rows_written_total", "Audit rows written.", ["table"])
WRITE_FAILURES = Counter("aiassistant_audit_write_failures_total", "Audit rows that could not be written.", ["table"])
_USER_AGENT_MAX = 1000


def _where() -> tuple[str | None, str]:
    work = context.current()
    if work is None:
        return None, ""
    return work.ip, (work.user_agent or "")[:_USER_AGENT_MAX]


def record(
    category: str,
    action: str,
    *,
    resource_type: str = "",
    resource_id: object = "",
    project_id=None,
    status_code: int | None = None,
    changes: dict | None = None,
    detail: dict | None = None,
    actor: context.Actor | None = None,
    event_id=None,
) -> AuditEvent | None:
    """Write one audit event (never raises when AUDIT_ENABLED is off: the benchmark's "off" side)."""
    if not settings.AUDIT_ENABLED:
        return None
    who = actor or context.current_actor()
    ip, user_agent = _where()
    request_id, trace_id = current_ids()
    event = AuditEvent(
        **({"id": event_id} if event_id else {}),
        category=category,
        action=action[:200],
        resource_type=resource_type,
        resource_id=str(resource_id or "")[:64],
        project_id=project_id,
        status_code=status_code,
        request_id=request_id or "",
        trace_id=trace_id or "",
        actor_kind=who.kind,
        actor_id=who.id,
        actor_label=who.label,
        ip=ip,
        ip_hash=keys.personal(ip),
        user_agent=user_agent or None,
        user_agent_hash=keys.personal(user_agent),
        changes=changes,
        detail=detail or {},
    )
    event.save()
    ROWS_WRITTEN.labels(table="event").inc()
    return event


def record_request(*, action: str, resource_type: str, resource_id, project_id, status_code: int) -> None:
    """The event of one state-changing request, with the model changes it made; a failure is logged, not raised
    (the request's own work is already committed)."""
    work = context.current()
    changes = {}
    for changed in (work.changes if work is not None else {}).values():
        changes.update(changed)
    try:
        record(
            Category.REQUEST,
            action,
            resource_type=resource_type,
            resource_id=resource_id,
            project_id=project_id,
            status_code=status_code,
            changes=changes or None,
        )
    except Exception:
        WRITE_FAILURES.labels(table="event").inc()
        logger.exception("audit event not written: %s (status %s)", action, status_code)


def record_denial(*, action: str, resource_type: str, resource_id, project_id, status_code: int, hidden) -> None:
    """A 403, or a 404 hiding an existing object from a non-member."""
    try:
        record(
            Category.PERMISSION,
            "permission.hidden" if hidden else "permission.denied",
            resource_type=resource_type,
            resource_id=resource_id,
            project_id=project_id,
            status_code=status_code,
            detail={"request": action},
        )
    except Exception:
        WRITE_FAILURES.labels(table="event").inc()
        logger.exception("audit event not written: denial of %s", action)


def note_hidden(resource_type: str) -> None:
    """A selector answers 404 for an object that exists but that the caller may not see."""
    work = context.current()
    if work is not None:
        work.hidden_from = resource_type


def stamp_history(entry: ModelHistory) -> None:
    """Fill a django-auditlog entry before it is saved: actor, address (with its keyed hash), no email."""
    who = context.current_actor()
    entry.actor_kind, entry.actor_label = who.kind, who.label
    if who.id is not None and entry.actor_id is None:
        entry.actor_id = who.id
    entry.actor_email = None  # the actor is its id; an email would have to be erased from history later
    ip, _ = _where()
    entry.remote_addr = entry.remote_addr or ip
    entry.remote_addr_hash = keys.personal(entry.remote_addr)
    label = entry.content_type.app_label + "." + entry.content_type.model
    if label in registry.PSEUDONYMOUS:
        entry.object_repr = f"{entry.content_type.model} {entry.object_pk}"
    work = context.current()
    if work is not None:
        if entry.changes:
            work.changes[f"{label} {entry.object_pk}"] = entry.changes
        project_id = (entry.additional_data or {}).get("project_id")
        work.project_id = work.project_id or project_id


def history_saved() -> None:
    ROWS_WRITTEN.labels(table="history").inc()


def record_change(instance, changes: dict) -> None:
    """A model change made with QuerySet.update() (which django-auditlog cannot see), as a history entry."""
    from auditlog import get_logentry_model

    if not settings.AUDIT_ENABLED:
        return
    entry_model = get_logentry_model()
    entry_model.objects.log_create(instance, action=entry_model.Action.UPDATE, changes=changes, force_log=True)
