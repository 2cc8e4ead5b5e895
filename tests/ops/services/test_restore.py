"""manage.py restore: refusals leave the database untouched; a restore that fails midway changes nothing."""

import hashlib
import io
import json

import pytest
from django.core.management import CommandError, call_command
from django.db import connection

from accounts.models import User
from ops.engines import engine_for
from ops.models import BackupKind, BackupRecord
from tests.ops.conftest import table_facts

pytestmark = pytest.mark.django_db(transaction=True)


def _backup(backup_dir):
    call_command("backup")
    record = BackupRecord.objects.get()
    return record, backup_dir / record.key, backup_dir / record.manifest_key


def test_corrupted_dump_is_refused_and_database_untouched(seeded, backup_dir):
    _, dump, _ = _backup(backup_dir)
    data = bytearray(dump.read_bytes())
    data[len(data) // 2] ^= 0xFF
    dump.write_bytes(bytes(data))
    User.objects.filter(id=seeded["users"][0].id).delete()
    before = table_facts(audit=False)

    with pytest.raises(CommandError, match="checksum mismatch"):
        call_command("restore", "latest", "--yes")

    assert table_facts(audit=False) == before
    assert not BackupRecord.objects.filter(kind=BackupKind.SAFETY).exists()


def test_restore_failing_midway_leaves_the_old_data(seeded, backup_dir):
    _, dump, manifest_path = _backup(backup_dir)
    # A truncated dump whose manifest checksum matches: pg_restore drops and recreates tables, then fails on the
    # missing data; --single-transaction must roll all of it back.
    dump.write_bytes(dump.read_bytes()[: dump.stat().st_size * 3 // 4])
    manifest = json.loads(manifest_path.read_text())
    manifest["sha256"] = hashlib.sha256(dump.read_bytes()).hexdigest()
    manifest_path.write_text(json.dumps(manifest))
    BackupRecord.objects.update(sha256=manifest["sha256"])
    User.objects.filter(id=seeded["users"][0].id).delete()
    before = table_facts(audit=False)

    with pytest.raises(CommandError, match="pg_restore failed, database unchanged"):
        call_command("restore", "latest", "--yes", "--no-safety-backup")

    assert table_facts(audit=False) == before


def test_restore_takes_a_safety_backup_and_keeps_the_catalogue(seeded, backup_dir):
    record, _, _ = _backup(backup_dir)

    call_command("restore", str(record.id), "--yes")

    safety = BackupRecord.objects.get(kind=BackupKind.SAFETY)
    assert (backup_dir / safety.key).exists()
    assert BackupRecord.objects.get(id=record.id).restored_at is not None
    assert BackupRecord.objects.count() == 2


def test_restore_by_object_key_works_without_a_record(seeded, backup_dir):
    record, _, _ = _backup(backup_dir)
    key = record.key
    BackupRecord.objects.all().delete()  # a fresh deployment after a disaster knows only the bucket
    User.objects.all().delete()

    call_command("restore", key, "--yes", "--no-safety-backup")

    assert User.objects.count() == 5
    restored = BackupRecord.objects.get(id=record.id)  # from the dump, completed from the manifest
    assert restored.status == "succeeded" and restored.restored_at is not None and restored.key == key


def test_restore_latest_finds_the_newest_dump_in_storage_without_records(seeded, backup_dir):
    _backup(backup_dir)
    BackupRecord.objects.all().delete()
    User.objects.all().delete()

    call_command("restore", "latest", "--yes", "--no-safety-backup")

    assert User.objects.count() == 5


def test_restore_into_target_database_leaves_the_app_database_alone(seeded, backup_dir):
    record, _, _ = _backup(backup_dir)
    User.objects.all().delete()
    target = f"{connection.settings_dict['NAME']}_restored"
    engine = engine_for(connection.settings_dict)
    try:
        call_command("restore", str(record.id), "--yes", "--target-database", target)
        restored = engine.facts(target)["tables"]
    finally:
        engine.drop_database(target)

    assert restored["accounts_user"]["rows"] == 5
    assert User.objects.count() == 0


def test_restore_refuses_without_yes_when_stdin_is_not_a_terminal(seeded, backup_dir, monkeypatch):
    _backup(backup_dir)
    # Not a terminal (isatty() is False), even though an answer is waiting on it.
    monkeypatch.setattr("sys.stdin", io.StringIO("yes\n"))

    with pytest.raises(CommandError, match="without --yes"):
        call_command("restore", "latest")


def test_restore_refuses_a_backup_made_by_newer_code(seeded, backup_dir):
    _, _, manifest_path = _backup(backup_dir)
    manifest = json.loads(manifest_path.read_text())
    manifest["migrations"].append("accounts.9999_from_the_future")
    manifest_path.write_text(json.dumps(manifest))
    User.objects.all().delete()

    with pytest.raises(CommandError, match="migration"):
        call_command("restore", "latest", "--yes")

    assert User.objects.count() == 0


def test_restore_of_a_failed_backup_is_refused(transactional_db, unreachable_s3):
    with pytest.raises(CommandError):
        call_command("backup")
    failed = BackupRecord.objects.get()

    with pytest.raises(CommandError, match="is failed, not a usable backup"):
        call_command("restore", str(failed.id), "--yes")


def test_restore_gives_up_when_the_app_holds_locks_and_changes_nothing(seeded, backup_dir, monkeypatch):
    import psycopg

    from ops.engines import postgres

    _backup(backup_dir)
    User.objects.filter(id=seeded["users"][0].id).delete()
    before = table_facts(audit=False)
    monkeypatch.setattr(postgres, "RESTORE_LOCK_TIMEOUT_MS", 300)
    db = connection.settings_dict
    with psycopg.connect(dbname=db["NAME"], host=db["HOST"], port=db["PORT"], user=db["USER"]) as holder:
        holder.execute("SELECT count(*) FROM accounts_user")  # an open transaction holding ACCESS SHARE

        with pytest.raises(CommandError, match="lock timeout; is the application still running"):
            call_command("restore", "latest", "--yes", "--no-safety-backup")

    assert table_facts(audit=False) == before


def test_restore_of_an_older_backup_says_which_migrations_to_apply(seeded, backup_dir):
    from io import StringIO

    _, _, manifest_path = _backup(backup_dir)
    manifest = json.loads(manifest_path.read_text())
    manifest["migrations"].remove("ops.0002_default_backup_schedule")
    manifest_path.write_text(json.dumps(manifest))
    out = StringIO()

    call_command("restore", "latest", "--yes", "--no-safety-backup", stdout=out)

    assert "1 migration(s) of this code are newer than the backup: run `manage.py migrate`" in out.getvalue()


# -- erasures survive a restore (the ledger in backup storage, re-applied through ops.restore_hooks) -------------


def _erase(user) -> None:
    from accounts.gdpr import erasure

    erasure.user_erase(user=User.objects.get(pk=user.pk), via=erasure.Via.COMMAND)


def test_an_erasure_recorded_after_the_backup_is_reapplied_by_restore(seeded, backup_dir):
    from io import StringIO

    from audit.models import AuditEvent
    from tests.support import columns_containing

    person = seeded["users"][0]
    record, _, _ = _backup(backup_dir)
    _erase(person)
    out = StringIO()

    call_command("restore", str(record.id), "--yes", stdout=out)

    account = User.objects.get(pk=person.pk)
    assert account.erased_at is not None and not account.is_active
    assert columns_containing(person.email) == []
    assert "re-applied 1 erasures recorded after the backup was taken" in out.getvalue()
    assert AuditEvent.objects.filter(action="gdpr.erasure", detail__via="restore").count() == 1


def test_restore_result_says_how_many_erasures_it_reapplied(seeded, backup_dir):
    from ops.services import backup_restore

    record, _, _ = _backup(backup_dir)
    _erase(seeded["users"][0])
    _erase(seeded["users"][1])

    result = backup_restore(ref=str(record.id), safety_backup=False)

    assert result.reapplied == {"erasures": 2}


def test_an_erasure_older_than_the_backup_is_not_done_twice(seeded, backup_dir):
    from ops.services import backup_restore

    _erase(seeded["users"][0])
    record, _, _ = _backup(backup_dir)

    result = backup_restore(ref=str(record.id), safety_backup=False)

    assert result.reapplied == {"erasures": 0}


def test_a_failed_reapplication_fails_the_restore_and_restore_reapply_finishes_it(seeded, backup_dir, monkeypatch):
    from accounts.gdpr import erasure

    person = seeded["users"][0]
    record, _, _ = _backup(backup_dir)
    _erase(person)
    real = erasure.user_erase

    def broken(**kwargs):
        raise RuntimeError("storage hiccup")

    monkeypatch.setattr(erasure, "user_erase", broken)
    with pytest.raises(CommandError, match=rf"run `manage.py restore_reapply {record.key}` before using the database"):
        call_command("restore", str(record.id), "--yes", "--no-safety-backup")
    assert User.objects.get(pk=person.pk).erased_at is None

    monkeypatch.setattr(erasure, "user_erase", real)
    call_command("restore_reapply", record.key)

    assert User.objects.get(pk=person.pk).erased_at is not None


def test_restore_into_another_database_is_refused_while_erasures_wait(seeded, backup_dir):
    record, _, _ = _backup(backup_dir)
    _erase(seeded["users"][0])
    target = f"{connection.settings_dict['NAME']}_restored"

    with pytest.raises(CommandError, match="1 erasures recorded after this backup cannot be re-applied to"):
        call_command("restore", str(record.id), "--yes", "--target-database", target)

    assert not engine_for(connection.settings_dict).database_exists(target)


def test_a_backup_is_zstd_compressed_on_the_stream(seeded, backup_dir):
    from ops.engines.postgres import ZSTD_MAGIC

    record, dump, manifest_path = _backup(backup_dir)
    assert dump.read_bytes()[:4] == ZSTD_MAGIC
    assert json.loads(manifest_path.read_text())["compression"] == "zstd"
    assert record.sha256 == hashlib.sha256(dump.read_bytes()).hexdigest()  # of the stored (compressed) bytes


def test_a_dump_from_before_zstd_still_restores_and_verifies(seeded, backup_dir):
    """A backup taken by the previous release: pg_dump -Fc with its own zlib, no zstd around it."""
    import subprocess

    record, dump, manifest_path = _backup(backup_dir)
    engine = engine_for(connection.settings_dict)
    subprocess.run(["pg_dump", "--format=custom", f"--file={dump}"], env=engine._env(), check=True)
    assert dump.read_bytes()[:5] == b"PGDMP"
    manifest = json.loads(manifest_path.read_text())
    del manifest["compression"]
    manifest["tables"] = engine.facts()["tables"]  # the database as pg_dump just saw it (nothing wrote since)
    manifest["sha256"] = hashlib.sha256(dump.read_bytes()).hexdigest()
    manifest_path.write_text(json.dumps(manifest))
    BackupRecord.objects.filter(id=record.id).update(sha256=manifest["sha256"])

    call_command("backup_verify", str(record.id))
    assert BackupRecord.objects.get(id=record.id).verify_ok is True

    User.objects.filter(id=seeded["users"][0].id).delete()
    call_command("restore", str(record.id), "--yes", "--no-safety-backup")
    assert User.objects.filter(id=seeded["users"][0].id).exists()
