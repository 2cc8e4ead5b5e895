"""Backup metrics for Prometheus, computed from BackupRecord rows at scrape time.

Whatever process ran the backup (a command, a Celery worker), every scrape reads the same rows, so the values
are right in any process and need no multiprocess files. They feed the backup, replica and restore-drill alerts.
"""

import logging
import time

from django.db.models import Q
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily
from prometheus_client.registry import Collector

logger = logging.getLogger(__name__)


class BackupCollector(Collector):
    """Prometheus collector of the aiassistant_backup_* metrics."""

    def collect(self):
        from ops.models import BackupRecord, BackupStatus

        try:
            last_ok = (
                BackupRecord.objects.filter(status=BackupStatus.SUCCEEDED, finished_at__isnull=False)
                .order_by("-finished_at")
                .first()
            )
            last_verified = BackupRecord.objects.filter(verified_at__isnull=False).order_by("-verified_at").first()
            failures = BackupRecord.objects.filter(Q(status=BackupStatus.FAILED)).count()
        except Exception:  # a scrape must not fail because the database is down; the health checks say that
            logger.warning("backup metrics unavailable", exc_info=True)
            return
        if last_ok is not None and last_ok.finished_at is not None:
            yield _gauge(
                "aiassistant_backup_last_success_timestamp_seconds",
                "Unix time when the newest successful backup finished.",
                last_ok.finished_at.timestamp(),
            )
            yield _gauge(
                "aiassistant_backup_last_duration_seconds",
                "Wall time of the newest successful backup.",
                last_ok.duration_seconds or 0.0,
            )
            yield _gauge(
                "aiassistant_backup_last_size_bytes", "Size of the newest successful backup.", last_ok.size_bytes or 0
            )
        if last_verified is not None and last_verified.verified_at is not None:
            yield _gauge(
                "aiassistant_backup_last_verify_timestamp_seconds",
                "Unix time of the newest restore drill (backup_verify).",
                last_verified.verified_at.timestamp(),
            )
            yield _gauge(
                "aiassistant_backup_last_verify_success",
                "1 if the newest restore drill matched the manifest, else 0.",
                1.0 if last_verified.verify_ok else 0.0,
            )
        yield from _replica_metrics()
        yield from _drill_metrics()
        counter = CounterMetricFamily(
            "aiassistant_backup_failures", "Backups that failed (records kept within the retention)."
        )
        counter.add_metric([], failures)
        yield counter


def _gauge(name: str, documentation: str, value: float) -> GaugeMetricFamily:
    return GaugeMetricFamily(name, documentation, value=value)


def _replica_metrics():
    """Replica lag and missing replicas, only when a replica is configured (no series otherwise)."""
    from ops import storage as st
    from ops.models import BackupRecord, BackupStatus, ReplicaStatus

    if not st.replica_configured():
        return
    try:
        done = BackupRecord.objects.filter(status=BackupStatus.SUCCEEDED, finished_at__isnull=False)
        newest = done.filter(replica_status=ReplicaStatus.OK).order_by("-finished_at").first()
        behind = done.exclude(replica_status=ReplicaStatus.OK)
        if newest is not None:
            behind = behind.filter(finished_at__gt=newest.finished_at)
        oldest_behind = behind.order_by("finished_at").first()
        missing = done.filter(replica_status=ReplicaStatus.FAILED).count()
    except Exception:
        logger.warning("backup replica metrics unavailable", exc_info=True)
        return
    if newest is not None and newest.finished_at is not None:
        yield _gauge(
            "aiassistant_backup_replica_last_success_timestamp_seconds",
            "Unix time when the newest backup whose replica copy was verified finished.",
            newest.finished_at.timestamp(),
        )
    lag = 0.0
    if oldest_behind is not None and oldest_behind.finished_at is not None:
        lag = max(0.0, time.time() - oldest_behind.finished_at.timestamp())
    yield _gauge(
        "aiassistant_backup_replica_lag_seconds",
        "Age of the oldest backup newer than the newest verified replica that has no verified replica (0: caught up).",
        lag,
    )
    yield _gauge(
        "aiassistant_backup_replica_missing",
        "Succeeded backups whose replica copy failed or did not match (replica_status=failed).",
        missing,
    )


def _drill_metrics():
    """The newest restore drill's outcome, and the restore time of the newest successful one (the RTO estimate)."""
    from ops.models import RestoreDrill

    try:
        last = RestoreDrill.objects.filter(finished_at__isnull=False).order_by("-finished_at").first()
        last_ok = RestoreDrill.objects.filter(ok=True, restore_seconds__isnull=False).order_by("-finished_at").first()
    except Exception:
        logger.warning("restore drill metrics unavailable", exc_info=True)
        return
    if last is not None and last.finished_at is not None:
        yield _gauge(
            "aiassistant_restore_drill_last_timestamp_seconds",
            "Unix time when the newest restore drill finished.",
            last.finished_at.timestamp(),
        )
        yield _gauge(
            "aiassistant_restore_drill_last_success",
            "1 if the newest restore drill restored and matched the manifest, else 0.",
            1.0 if last.ok else 0.0,
        )
    if last_ok is not None and last_ok.restore_seconds is not None:
        yield _gauge(
            "aiassistant_restore_rto_estimate_seconds",
            "Measured restore time of the newest successful restore drill (find, download, sha256, restore, check).",
            last_ok.restore_seconds,
        )
