"""Backup metrics for Prometheus, computed from BackupRecord rows at scrape time.

Whatever process ran the backup (a command, a Celery worker), every scrape reads the same rows, so the values
are right in any process and need no multiprocess files. They feed the backup-staleness alert.
"""

import logging

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
        counter = CounterMetricFamily(
            "aiassistant_backup_failures", "Backups that failed (records kept within the retention)."
        )
        counter.add_metric([], failures)
        yield counter


def _gauge(name: str, documentation: str, value: float) -> GaugeMetricFamily:
    return GaugeMetricFamily(name, documentation, value=value)
