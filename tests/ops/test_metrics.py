"""The Prometheus collector computed from BackupRecord rows."""

import pytest
from django.core.management import CommandError, call_command

from ops.metrics import BackupCollector
from ops.models import BackupRecord

pytestmark = pytest.mark.django_db(transaction=True)


def _metrics() -> dict:
    return {s.name: s.value for family in BackupCollector().collect() for s in family.samples}


def test_metrics_after_a_successful_backup_and_verify(seeded):
    call_command("backup")
    call_command("backup_verify", "latest")
    record = BackupRecord.objects.get()

    metrics = _metrics()

    assert metrics["aiassistant_backup_last_success_timestamp_seconds"] == record.finished_at.timestamp()
    assert metrics["aiassistant_backup_last_size_bytes"] == record.size_bytes
    assert metrics["aiassistant_backup_last_duration_seconds"] == record.duration_seconds
    assert metrics["aiassistant_backup_last_verify_success"] == 1.0
    assert metrics["aiassistant_backup_last_verify_timestamp_seconds"] == record.verified_at.timestamp()
    assert metrics["aiassistant_backup_failures_total"] == 0


def test_metrics_after_a_failed_backup(transactional_db, unreachable_s3):
    with pytest.raises(CommandError):
        call_command("backup")

    metrics = _metrics()

    assert metrics["aiassistant_backup_failures_total"] == 1
    assert "aiassistant_backup_last_success_timestamp_seconds" not in metrics


def test_metrics_endpoint_rendering_includes_the_backup_collector(seeded):
    from common.metrics_view import render_metrics

    call_command("backup")

    assert b"aiassistant_backup_last_success_timestamp_seconds" in render_metrics()
