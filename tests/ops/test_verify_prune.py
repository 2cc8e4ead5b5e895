"""backup_verify (restore drill into a scratch database) and backup_prune (retention)."""

import datetime as dt
import json

import pytest
from django.core.management import CommandError, call_command
from django.db import connection
from django.utils import timezone

from ops.models import BackupRecord, BackupStatus
from tests.ops.factories import BackupRecordFactory

pytestmark = pytest.mark.django_db(transaction=True)


def _scratch_databases() -> list[str]:
    with connection.cursor() as cur:
        cur.execute(
            "SELECT datname FROM pg_database WHERE datname LIKE %s",
            [f"{connection.settings_dict['NAME'][:40]}_verify_%"],
        )
        return [row[0] for row in cur.fetchall()]


def test_verify_restores_into_scratch_database_and_records_the_drill(seeded):
    call_command("backup")

    call_command("backup_verify", "latest")

    record = BackupRecord.objects.get()
    assert record.verify_ok is True
    assert record.verified_at is not None
    assert record.restore_seconds > 0
    assert _scratch_databases() == []


def test_verify_detects_a_manifest_mismatch(seeded, backup_dir):
    call_command("backup")
    record = BackupRecord.objects.get()
    manifest_path = backup_dir / record.manifest_key
    manifest = json.loads(manifest_path.read_text())
    manifest["tables"]["projects_project"]["rows"] += 1
    manifest_path.write_text(json.dumps(manifest))

    with pytest.raises(CommandError, match="projects_project"):
        call_command("backup_verify", str(record.id))

    record.refresh_from_db()
    assert record.verify_ok is False
    assert "projects_project" in record.verify_detail
    assert _scratch_databases() == []


def test_verify_detects_a_changed_row_by_checksum(seeded, backup_dir):
    call_command("backup")
    record = BackupRecord.objects.get()
    manifest_path = backup_dir / record.manifest_key
    manifest = json.loads(manifest_path.read_text())
    manifest["tables"]["accounts_user"]["checksum"] = "12345"
    manifest_path.write_text(json.dumps(manifest))

    with pytest.raises(CommandError, match="accounts_user: checksum differs"):
        call_command("backup_verify", "latest")


def _with_objects(backup_dir, record):
    for key in (record.key, record.manifest_key):
        path = backup_dir / key
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(b"x")
    return record


def _days_ago(days: int):
    return timezone.now() - dt.timedelta(days=days)


def test_prune_deletes_backups_past_retention_with_their_objects(transactional_db, backup_dir):
    old = _with_objects(backup_dir, BackupRecordFactory(started_at=_days_ago(40)))
    old_failed = BackupRecordFactory(started_at=_days_ago(35), status=BackupStatus.FAILED, key="")
    recent = _with_objects(backup_dir, BackupRecordFactory(started_at=_days_ago(2)))

    call_command("backup_prune", "--keep-days", "30")

    assert list(BackupRecord.objects.values_list("id", flat=True)) == [recent.id]
    assert not (backup_dir / old.key).exists() and not (backup_dir / old.manifest_key).exists()
    assert (backup_dir / recent.key).exists()
    assert not BackupRecord.objects.filter(id=old_failed.id).exists()


def test_prune_never_deletes_the_newest_good_backup(transactional_db, backup_dir):
    oldest = _with_objects(backup_dir, BackupRecordFactory(started_at=_days_ago(60)))
    newest_good = _with_objects(backup_dir, BackupRecordFactory(started_at=_days_ago(45)))
    BackupRecordFactory(started_at=_days_ago(1), status=BackupStatus.FAILED, key="")

    call_command("backup_prune", "--keep-days", "30", "--keep-last", "0")

    assert set(BackupRecord.objects.values_list("id", flat=True)) >= {newest_good.id}
    assert not BackupRecord.objects.filter(id=oldest.id).exists()
    assert (backup_dir / newest_good.key).exists()


def test_prune_keep_last_keeps_that_many_good_backups(transactional_db, backup_dir):
    records = [_with_objects(backup_dir, BackupRecordFactory(started_at=_days_ago(50 - i))) for i in range(4)]

    call_command("backup_prune", "--keep-days", "30", "--keep-last", "2")

    assert set(BackupRecord.objects.values_list("id", flat=True)) == {records[2].id, records[3].id}


def test_failed_backup_does_not_prune_or_replace_a_good_one(seeded, backup_dir, settings, unreachable_s3):
    good = BackupRecordFactory(started_at=_days_ago(1))

    with pytest.raises(CommandError):
        call_command("backup")

    assert BackupRecord.objects.filter(status=BackupStatus.SUCCEEDED).get() == good


def test_prune_fails_and_removes_a_backup_abandoned_while_running(transactional_db, backup_dir):
    abandoned = _with_objects(backup_dir, BackupRecordFactory(started_at=_days_ago(40), status=BackupStatus.RUNNING))
    _with_objects(backup_dir, BackupRecordFactory(started_at=_days_ago(1)))

    call_command("backup_prune", "--keep-days", "30")

    assert not BackupRecord.objects.filter(id=abandoned.id).exists()
    assert not (backup_dir / abandoned.key).exists()
