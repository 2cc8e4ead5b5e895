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


def _ago(**kwargs):
    import datetime as dt

    from django.utils import timezone

    return timezone.now() - dt.timedelta(**kwargs)


def test_replica_lag_is_the_age_of_the_oldest_backup_after_the_newest_verified_replica(transactional_db, replica_dir):
    from ops.models import ReplicaStatus
    from tests.ops.factories import BackupRecordFactory

    BackupRecordFactory(started_at=_ago(hours=5), replica_status=ReplicaStatus.OK)
    newest_ok = BackupRecordFactory(started_at=_ago(hours=4), replica_status=ReplicaStatus.OK)
    behind = BackupRecordFactory(started_at=_ago(hours=3), replica_status=ReplicaStatus.FAILED)
    BackupRecordFactory(started_at=_ago(hours=2), replica_status=ReplicaStatus.PENDING)

    metrics = _metrics()

    lag = metrics["aiassistant_backup_replica_lag_seconds"]
    assert lag == pytest.approx((_ago(seconds=0) - behind.finished_at).total_seconds(), abs=5)
    assert metrics["aiassistant_backup_replica_missing"] == 1
    assert metrics["aiassistant_backup_replica_last_success_timestamp_seconds"] == newest_ok.finished_at.timestamp()


def test_replica_lag_is_zero_when_every_backup_is_replicated(seeded, replica_dir):
    call_command("backup")
    call_command("backup")

    metrics = _metrics()

    assert metrics["aiassistant_backup_replica_lag_seconds"] == 0
    assert metrics["aiassistant_backup_replica_missing"] == 0


def test_a_failed_replica_copy_counts_as_missing(seeded, unreachable_replica):
    call_command("backup")

    metrics = _metrics()

    assert metrics["aiassistant_backup_replica_missing"] == 1
    assert metrics["aiassistant_backup_replica_lag_seconds"] > 0
    assert "aiassistant_backup_replica_last_success_timestamp_seconds" not in metrics


def test_no_replica_series_without_a_replica(seeded):
    call_command("backup")

    assert not [name for name in _metrics() if "replica" in name]


def test_drill_metrics_export_the_rto_estimate(seeded):
    from ops.models import RestoreDrill

    call_command("backup")
    call_command("restore_drill")
    drill = RestoreDrill.objects.get()

    metrics = _metrics()

    assert metrics["aiassistant_restore_rto_estimate_seconds"] == drill.restore_seconds
    assert metrics["aiassistant_restore_drill_last_success"] == 1.0
    assert metrics["aiassistant_restore_drill_last_timestamp_seconds"] == drill.finished_at.timestamp()


def test_a_failed_drill_sets_success_to_zero_and_keeps_the_last_good_rto(transactional_db):
    from ops.models import RestoreDrill

    RestoreDrill.objects.create(started_at=_ago(days=1), finished_at=_ago(days=1), ok=True, restore_seconds=12.5)
    RestoreDrill.objects.create(started_at=_ago(minutes=5), finished_at=_ago(minutes=4), ok=False)

    metrics = _metrics()

    assert metrics["aiassistant_restore_drill_last_success"] == 0.0
    assert metrics["aiassistant_restore_rto_estimate_seconds"] == 12.5
