"""The replica storage: every backup copied to a second storage, checked by sha256, verified, pruned, restored from."""

import datetime as dt
import hashlib
import json

import pytest
from django.core.management import CommandError, call_command
from django.db import connection
from django.utils import timezone

from accounts.models import User
from audit.models import AuditEvent
from ops.models import BackupRecord, BackupStatus, ReplicaStatus
from projects.models import Project
from tests.factories import ProjectFactory
from tests.ops.conftest import table_facts
from tests.ops.factories import BackupRecordFactory
from workflows.models import Execution

pytestmark = pytest.mark.django_db(transaction=True)

# Carried across a restore on purpose (see test_backup.py's round trip): the catalogue and the audit trail.
CARRIED = ("ops_backuprecord", "ops_restoredrill", "audit_auditevent", "audit_modelhistory")


def _without_carried(facts: dict) -> dict:
    return {table: f for table, f in facts.items() if table not in CARRIED}


def test_backup_is_copied_to_the_replica_and_checked(seeded, backup_dir, replica_dir):
    call_command("backup")

    record = BackupRecord.objects.get()
    copy = replica_dir / record.key
    assert record.replica_status == ReplicaStatus.OK
    assert record.replica_verified_at is not None
    assert hashlib.sha256(copy.read_bytes()).hexdigest() == record.sha256
    assert (replica_dir / record.manifest_key).read_bytes() == (backup_dir / record.manifest_key).read_bytes()


def test_without_a_replica_the_backup_says_absent(seeded):
    call_command("backup")

    assert BackupRecord.objects.get().replica_status == ReplicaStatus.ABSENT


def test_a_replica_failure_is_recorded_without_failing_the_backup(seeded, backup_dir, unreachable_replica):
    call_command("backup")

    record = BackupRecord.objects.get()
    assert record.status == BackupStatus.SUCCEEDED
    assert (backup_dir / record.key).exists()
    assert record.replica_status == ReplicaStatus.FAILED
    assert "replica storage error" in record.replica_error
    event = AuditEvent.objects.get(action="backup.replicate")
    assert event.detail["outcome"] == "failed"


def test_backup_verify_detects_a_replica_sha_mismatch(seeded, replica_dir):
    call_command("backup")
    record = BackupRecord.objects.get()
    copy = replica_dir / record.key
    data = bytearray(copy.read_bytes())
    data[len(data) // 2] ^= 0xFF
    copy.write_bytes(bytes(data))

    with pytest.raises(CommandError, match="replica sha256"):
        call_command("backup_verify", str(record.id))

    record.refresh_from_db()
    assert record.verify_ok is False
    assert record.replica_status == ReplicaStatus.FAILED
    assert "replica sha256" in record.verify_detail


def test_backup_verify_detects_a_missing_replica(seeded, replica_dir):
    call_command("backup")
    record = BackupRecord.objects.get()
    (replica_dir / record.key).unlink()

    with pytest.raises(CommandError, match="not found in replica storage"):
        call_command("backup_verify", "latest")

    record.refresh_from_db()
    assert record.replica_status == ReplicaStatus.FAILED


def test_backup_verify_checks_a_good_replica(seeded, replica_dir):
    call_command("backup")
    before = BackupRecord.objects.get().replica_verified_at

    call_command("backup_verify", "latest")

    record = BackupRecord.objects.get()
    assert record.verify_ok is True
    assert "replica's sha256 matches" in record.verify_detail
    assert record.replica_verified_at > before


def test_restore_from_replica_without_a_replica_is_one_clear_error(seeded):
    call_command("backup")

    with pytest.raises(CommandError, match=r"^restore failed: no backup replica is configured \(set BACKUP_REPLICA"):
        call_command("restore", "latest", "--from", "replica", "--yes")


def test_prune_removes_both_copies(transactional_db, backup_dir, replica_dir):
    old = BackupRecordFactory(started_at=timezone.now() - dt.timedelta(days=40), replica_status=ReplicaStatus.OK)
    BackupRecordFactory()  # the newest good backup, always kept
    for folder in (backup_dir, replica_dir):
        for key in (old.key, old.manifest_key):
            (folder / key).parent.mkdir(parents=True, exist_ok=True)
            (folder / key).write_bytes(b"x")

    call_command("backup_prune", "--keep-days", "30")

    assert not BackupRecord.objects.filter(id=old.id).exists()
    assert [p for p in replica_dir.rglob("*") if p.is_file()] == []
    assert [p for p in backup_dir.rglob("*") if p.is_file()] == []


def test_prune_keeps_the_record_when_the_replica_is_unreachable(transactional_db, backup_dir, unreachable_replica):
    old = BackupRecordFactory(started_at=timezone.now() - dt.timedelta(days=40), replica_status=ReplicaStatus.OK)
    BackupRecordFactory()

    with pytest.raises(CommandError, match="^prune failed: replica backup storage error"):
        call_command("backup_prune", "--keep-days", "30")

    assert BackupRecord.objects.filter(id=old.id).exists()


def test_failover_restores_every_table_from_the_replica_when_the_primary_region_is_gone(seeded, two_regions):
    primary, _replica, replica_client = two_regions
    call_command("backup")
    record = BackupRecord.objects.get()
    assert record.replica_status == ReplicaStatus.OK
    body = replica_client.get_object(Bucket="backups-region-b", Key=record.key)["Body"].read()
    assert hashlib.sha256(body).hexdigest() == record.sha256
    before = table_facts()
    User.objects.filter(id__in=[u.id for u in seeded["users"][:2]]).delete()
    Project.objects.update(name="changed")
    ProjectFactory.create_batch(2)
    Execution.objects.update(output={"changed": True})
    primary.stop()  # region A is lost, with its bucket

    with pytest.raises(CommandError, match="backup storage error"):
        call_command("restore", "latest", "--yes", "--no-safety-backup")
    call_command("restore", "latest", "--from", "replica", "--yes", "--no-safety-backup")

    assert _without_carried(table_facts()) == _without_carried(before)
    assert User.objects.count() == 5


def test_failover_on_a_fresh_database_finds_the_newest_backup_in_the_replica(seeded, two_regions):
    primary, _replica, _client = two_regions
    call_command("backup")
    before = table_facts()
    manifest_id = str(BackupRecord.objects.get().id)
    BackupRecord.objects.all().delete()  # the new region's database knows no backups
    User.objects.all().delete()
    primary.stop()

    call_command("restore", "latest", "--from", "replica", "--yes", "--no-safety-backup")

    assert _without_carried(table_facts()) == _without_carried(before)
    restored = BackupRecord.objects.get(id=manifest_id)
    assert restored.replica_status == ReplicaStatus.OK
    assert restored.restored_at is not None


def test_a_safety_backup_into_the_lost_primary_says_how_to_go_on(seeded, two_regions):
    primary, _replica, _client = two_regions
    call_command("backup")
    primary.stop()

    with pytest.raises(CommandError, match="pass --no-safety-backup when the primary storage is gone"):
        call_command("restore", "latest", "--from", "replica", "--yes")


def test_the_replica_copy_of_an_s3_backup_keeps_the_manifest(seeded, two_regions):
    _primary, _replica, replica_client = two_regions

    call_command("backup")

    record = BackupRecord.objects.get()
    manifest = json.loads(replica_client.get_object(Bucket="backups-region-b", Key=record.manifest_key)["Body"].read())
    assert manifest["sha256"] == record.sha256 and manifest["dump_key"] == record.key


def test_an_erasure_after_the_backup_is_reapplied_by_a_failover_restore(seeded, two_regions):
    from accounts.gdpr import erasure
    from tests.support import columns_containing

    primary, _replica, _client = two_regions
    person = seeded["users"][0]
    call_command("backup")
    erasure.user_erase(user=User.objects.get(pk=person.pk), via=erasure.Via.COMMAND)
    primary.stop()  # the erasure ledger of region A goes with it; the replica's copy must do

    call_command("restore", "latest", "--from", "replica", "--yes", "--no-safety-backup")

    account = User.objects.get(pk=person.pk)
    assert account.erased_at is not None
    assert columns_containing(person.email) == []


def test_backup_list_shows_the_replica_status(seeded, replica_dir, capsys):
    call_command("backup")
    record = BackupRecord.objects.get()
    capsys.readouterr()

    call_command("backup_list")

    line = [row for row in capsys.readouterr().out.splitlines() if row.startswith(str(record.id))][0]
    assert "  ok       backups/" in line


def test_failover_into_a_new_empty_database_needs_no_migrate_first(seeded, two_regions, tmp_path):
    """The new region's database has no tables at all: `restore` finds the backup in the replica and restores."""
    import os
    import subprocess
    import sys

    from ops.engines import engine_for
    from tests.common.servers import ROOT
    from tests.support import database_url

    primary, replica, _client = two_regions
    call_command("backup")
    before = _without_carried(table_facts())
    primary.stop()
    engine = engine_for(connection.settings_dict)
    fresh = f"{connection.settings_dict['NAME'][:40]}_fresh"
    engine.drop_database(fresh)
    engine.create_database(fresh)
    env = {
        **{k: v for k, v in os.environ.items() if not k.startswith("DJANGO_")},
        "DJANGO_SETTINGS_MODULE": "config.settings.test",
        "DATABASE_URL": database_url(name=fresh),
        "ENVIRONMENT": "test",
        "BACKUP_STORAGE": "s3",
        "AWS_STORAGE_BUCKET_NAME": "backups-region-a",
        "AWS_S3_ENDPOINT_URL": primary.endpoint,
        "BACKUP_REPLICA_STORAGE": "s3",
        "BACKUP_REPLICA_BUCKET": "backups-region-b",
        "BACKUP_REPLICA_REGION": "us-east-1",
        "BACKUP_REPLICA_ENDPOINT_URL": replica.endpoint,
        "BACKUP_REPLICA_ACCESS_KEY_ID": "testing",
        "BACKUP_REPLICA_SECRET_ACCESS_KEY": "testing",
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
    }
    try:
        done = subprocess.run(
            [
                sys.executable,
                str(ROOT / "manage.py"),
                "restore",
                "latest",
                "--from",
                "replica",
                "--yes",
                "--no-safety-backup",
            ],
            env=env,
            capture_output=True,
            text=True,
            timeout=120,
            check=False,
        )
        assert done.returncode == 0, done.stderr[-2000:]
        facts = engine.facts(fresh)["tables"]
    finally:
        engine.drop_database(fresh)
    assert "every table matches the manifest" in done.stdout
    assert _without_carried(facts) == before
