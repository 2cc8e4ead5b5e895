"""Retention per data class (`manage.py retention_run`, daily by beat): what is removed, after how long.

Classes are registered by the app that owns the data (`register("execution_payloads", days, purge)`); the audit
trail's own classes are here, and take the controlled path through the append-only trigger:
- audit_personal: raw addresses and user agents are cleared (their keyed hashes stay in the chain);
- login_failures: failed-login events are removed; each removed sequence is listed (AuditRemoval) under this run,
  whose event seals the digest of the list, so the chain still verifies;
- audit_rows: rows older than the retention are removed up to a seal boundary, which a checkpoint replaces.
Every run is itself an audit event.
"""

import hashlib
import uuid
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import timedelta

from django.conf import settings
from django.db import transaction
from django.utils import timezone

from audit import chain, recording
from audit.models import AuditEvent, AuditRemoval, AuditSeal, Category, ModelHistory, SealKind
from audit.sealing import _allowed, _link, _store_copy

Purge = Callable[..., int]  # purge(cutoff, *, dry_run, run_id) -> rows removed (or that would be)


@dataclass(frozen=True)
class DataClass:
    name: str
    setting: str  # the RETENTION_DAYS key giving its retention in days
    purge: Purge


CLASSES: dict[str, DataClass] = {}


def register(name: str, setting: str, purge: Purge) -> None:
    """An app's data class: `purge(cutoff, *, dry_run, run_id)` removes what is older than cutoff (`run_id` is
    the id of the retention run's audit event, for purges that must account for what they remove)."""
    CLASSES[name] = DataClass(name, setting, purge)


def days_of(name: str) -> int:
    return settings.RETENTION_DAYS[CLASSES[name].setting]


def removal_digest(sequences: Iterable[int]) -> str:
    return hashlib.sha256(",".join(str(s) for s in sorted(sequences)).encode()).hexdigest()


def _clear_personal(cutoff, *, dry_run: bool, run_id) -> int:
    events = AuditEvent.objects.filter(created_at__lt=cutoff).exclude(ip=None, user_agent=None)
    history = ModelHistory.objects.filter(timestamp__lt=cutoff, remote_addr__isnull=False)
    if dry_run:
        return events.count() + history.count()
    with transaction.atomic(), _allowed("clearing"):
        return events.update(ip=None, user_agent=None) + history.update(remote_addr=None)


def clear_personal_of(actor_id) -> int:
    """Erasure: clear the raw address and user agent of every audit row where this person is the actor."""
    with transaction.atomic(), _allowed("clearing"):
        cleared = AuditEvent.objects.filter(actor_id=actor_id).exclude(ip=None, user_agent=None)
        history = ModelHistory.objects.filter(actor_id=actor_id, remote_addr__isnull=False)
        return cleared.update(ip=None, user_agent=None) + history.update(remote_addr=None)


LOGIN_FAILED = "auth.login.failed"


def _remove_login_failures(cutoff, *, dry_run: bool, run_id) -> int:
    """Sealed failed-login events past the retention go; each sequence is listed under this run."""
    expired = AuditEvent.objects.filter(action=LOGIN_FAILED, created_at__lt=cutoff, sequence__isnull=False)
    if dry_run:
        return expired.count()
    with transaction.atomic(), _allowed("retention"):
        sequences = [s for s in expired.values_list("sequence", flat=True) if s is not None]
        AuditRemoval.objects.bulk_create([AuditRemoval(sequence=s, removed_by=run_id) for s in sequences])
        AuditEvent.objects.filter(sequence__in=sequences).delete()
    return len(sequences)


def _remove_old_rows(cutoff, *, dry_run: bool, run_id) -> int:
    """Everything up to the newest seal made before the cutoff goes; a checkpoint takes that seal's place."""
    boundary = AuditSeal.objects.filter(kind=SealKind.SEAL, created_at__lt=cutoff).order_by("-last_sequence").first()
    if boundary is None:
        return 0
    up_to = boundary.last_sequence
    doomed = [table.model.objects.filter(sequence__lte=up_to) for table in chain.TABLES]
    if dry_run:
        return sum(qs.count() for qs in doomed)
    with transaction.atomic(), _allowed("retention"):
        removed = sum(qs.delete()[0] for qs in doomed)
        AuditRemoval.objects.filter(sequence__lte=up_to).delete()
        AuditSeal.objects.filter(last_sequence__lte=up_to).delete()
        checkpoint = _link(kind=SealKind.CHECKPOINT, first=1, last=up_to, hashes=b"", previous=boundary.seal_hash)
        checkpoint.save()
        _store_copy(checkpoint, [])
    return removed


register("audit_personal", "audit_personal", _clear_personal)
register("login_failures", "login_failures", _remove_login_failures)
register("audit_rows", "audit_rows", _remove_old_rows)


def run(*, dry_run: bool = False, now=None) -> dict[str, int]:
    """Apply every class's retention; returns {class: rows removed (or that would be)}. Recorded as an event
    whose id the purges' removal lists refer to, and which seals their digest."""
    now = now or timezone.now()
    run_id = uuid.uuid4()
    counts = {
        data_class.name: data_class.purge(
            now - timedelta(days=settings.RETENTION_DAYS[data_class.setting]), dry_run=dry_run, run_id=run_id
        )
        for data_class in CLASSES.values()
    }
    if not dry_run:
        removed = AuditRemoval.objects.filter(removed_by=run_id).values_list("sequence", flat=True)
        recording.record(
            Category.RETENTION,
            "retention.run",
            event_id=run_id,
            detail={"counts": counts, "removed_digest": removal_digest(removed)},
        )
    return counts
