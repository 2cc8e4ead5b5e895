"""restore_drill: the timed restore of the newest backup into a scratch database (the RTO estimate)."""

import json

import pytest
from django.core.management import CommandError, call_command
from django.db import connection

from audit.models import AuditEvent
from ops.models import BackupRecord, RestoreDrill

pytestmark = pytest.mark.django_db(transaction=True)


def _scratch_databases() -> list[str]:
    with connection.cursor() as cur:
        cur.execute(
            "SELECT datname FROM pg_database WHERE datname LIKE %s",
            [f"{connection.settings_dict['NAME'][:40]}_verify_%"],
        )
        return [row[0] for row in cur.fetchall()]


def test_drill_restores_the_newest_backup_into_a_scratch_database_and_records_the_time(seeded, capsys):
    call_command("backup")
    record = BackupRecord.objects.get()

    call_command("restore_drill")

    drill = RestoreDrill.objects.get()
    assert drill.ok is True
    assert drill.source == "primary"
    assert drill.backup == record and drill.backup_key == record.key
    assert drill.restore_seconds > 0
    assert drill.tables == len(record.manifest["tables"])
    assert drill.rows == sum(t["rows"] for t in record.manifest["tables"].values())
    assert _scratch_databases() == []
    assert "restore drill ok" in capsys.readouterr().out


def test_drill_is_audited_like_the_other_backup_runs(seeded):
    call_command("backup")

    call_command("restore_drill")

    event = AuditEvent.objects.get(action="backup.drill")
    assert event.detail["outcome"] == "succeeded"
    assert event.resource_id == str(BackupRecord.objects.get().id)


def test_drill_uses_the_replica_when_one_is_configured(seeded, replica_dir, backup_dir):
    call_command("backup")
    record = BackupRecord.objects.get()
    (backup_dir / record.key).unlink()  # the drill must not read the primary

    call_command("restore_drill")

    assert RestoreDrill.objects.get().source == "replica"


def test_drill_detects_a_checksum_that_differs_from_the_manifest(seeded, backup_dir):
    call_command("backup")
    record = BackupRecord.objects.get()
    manifest_path = backup_dir / record.manifest_key
    manifest = json.loads(manifest_path.read_text())
    manifest["tables"]["accounts_user"]["checksum"] = "12345"
    manifest_path.write_text(json.dumps(manifest))

    with pytest.raises(CommandError, match=r"^restore drill failed: .*accounts_user: checksum differs"):
        call_command("restore_drill")

    drill = RestoreDrill.objects.get()
    assert drill.ok is False
    assert "accounts_user: checksum differs" in drill.detail
    assert _scratch_databases() == []
    assert AuditEvent.objects.get(action="backup.drill").detail["outcome"] == "failed"


def test_drill_without_any_backup_fails_in_one_line(transactional_db):
    with pytest.raises(CommandError, match="^restore drill failed: .*no succeeded backup found"):
        call_command("restore_drill")

    assert RestoreDrill.objects.get().ok is False


def test_drill_from_the_replica_without_one_says_so(seeded):
    call_command("backup")

    with pytest.raises(CommandError, match="no backup replica is configured"):
        call_command("restore_drill", "--from", "replica")


def test_the_restore_drill_runs_daily_by_beat(settings):
    entry = settings.CELERY_BEAT_SCHEDULE["ops-restore-drill"]

    assert entry["task"] == "ops.restore_drill"
    assert entry["schedule"] == 24 * 3600


def test_the_drill_task_runs_the_drill_and_returns_its_id(seeded):
    from ops.tasks import restore_drill_task

    call_command("backup")

    drill_id = restore_drill_task.apply().get()

    assert RestoreDrill.objects.get(id=drill_id).ok is True
