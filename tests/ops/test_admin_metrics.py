"""Admin actions (queue the tasks) and the Prometheus collector computed from BackupRecord rows."""

import pytest
from celery import current_app
from django.core.management import CommandError, call_command
from django.urls import reverse

from ops.metrics import BackupCollector
from ops.models import BackupKind, BackupRecord, BackupStatus
from tests.factories import UserFactory

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def eager_celery():
    """Run queued tasks in-process (task_always_eager) so the tests see their effect; the broker is not used."""
    current_app.conf.task_always_eager = True
    yield
    current_app.conf.task_always_eager = False


@pytest.fixture
def staff_client(client):
    admin = UserFactory(is_staff=True, is_superuser=True)
    client.force_login(admin)
    return client


def test_admin_lists_backups_read_only(staff_client, seeded):
    call_command("backup")

    response = staff_client.get(reverse("admin:ops_backuprecord_changelist"))

    assert response.status_code == 200
    assert b"Back up now" in response.content
    assert staff_client.get(reverse("admin:ops_backuprecord_add")).status_code == 403


def test_admin_back_up_now_queues_a_backup(staff_client, seeded, eager_celery):
    response = staff_client.post(reverse("admin:ops_backuprecord_backup_now"), follow=True)

    record = BackupRecord.objects.get()
    assert record.status == BackupStatus.SUCCEEDED and record.kind == BackupKind.MANUAL
    assert "Queued ops.backup" in response.content.decode()


def test_admin_verify_now_action_queues_a_drill(staff_client, seeded, eager_celery):
    call_command("backup")
    record = BackupRecord.objects.get()

    response = staff_client.post(
        reverse("admin:ops_backuprecord_changelist"),
        {"action": "verify_now", "_selected_action": [str(record.id)]},
        follow=True,
    )

    record.refresh_from_db()
    assert record.verify_ok is True
    assert "Queued ops.verify" in response.content.decode()


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
