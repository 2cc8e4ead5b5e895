"""backup_prune: retention, never the newest good backup."""

import datetime as dt

import pytest
from django.core.management import CommandError, call_command
from django.utils import timezone

from ops.models import BackupRecord, BackupStatus
from tests.ops.factories import BackupRecordFactory

pytestmark = pytest.mark.django_db(transaction=True)


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
