"""Command-line behaviour: clear one-line errors and exit codes, and the SQLite embedded default end to end."""

import os
import sqlite3
import subprocess
import sys
from pathlib import Path

import pytest
from django.conf import settings
from django.core.management import CommandError, call_command
from django.db import connection

from ops.models import BackupRecord, BackupStatus

pytestmark = pytest.mark.django_db(transaction=True)
MANAGE = str(Path(settings.BASE_DIR) / "manage.py")


@pytest.mark.parametrize(
    ("command", "args", "message"),
    [
        ("restore", ["no-such-backup", "--yes"], "no backup matches"),
        ("restore", ["00000000-0000-0000-0000-000000000000", "--yes"], "no backup matches"),
        ("backup_verify", ["latest"], "no succeeded backup found"),
        ("backup_prune", ["--keep-days", "-1"], "zero or more"),
        ("backup_prune", [], "--keep-days"),
    ],
)
def test_bad_arguments_give_a_clear_command_error(transactional_db, command, args, message):
    with pytest.raises(CommandError, match=message):
        call_command(command, *args)


def test_unreachable_storage_fails_the_backup_and_records_it(transactional_db, unreachable_s3):
    with pytest.raises(CommandError, match="backup failed: backup storage error") as excinfo:
        call_command("backup")

    record = BackupRecord.objects.get()
    assert record.status == BackupStatus.FAILED
    assert "\n" not in str(excinfo.value)
    assert record.error


def _run(*args, env):
    return subprocess.run(
        [sys.executable, MANAGE, *args], capture_output=True, text=True, env=env, timeout=120, check=False
    )


def test_backup_process_exits_non_zero_with_one_line_on_stderr(transactional_db):
    from tests.support import free_port

    env = {
        **os.environ,
        "DATABASE_URL": "postgres://{USER}@{HOST}:{PORT}/{NAME}".format(**connection.settings_dict),
        "BACKUP_STORAGE": "s3",
        "AWS_STORAGE_BUCKET_NAME": "nowhere",
        "AWS_S3_ENDPOINT_URL": f"http://127.0.0.1:{free_port()}",
        "AWS_S3_REGION_NAME": "us-east-1",
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
    }

    result = _run("backup", env=env)

    assert result.returncode == 1
    assert result.stderr.count("\n") == 1
    assert result.stderr.startswith("CommandError: backup failed: backup storage error")


def test_sqlite_round_trip_with_the_online_backup_api(tmp_path):
    """The embedded default: a temporary SQLite database, driven through real manage.py processes."""
    db = tmp_path / "db.sqlite3"
    env = {
        **os.environ,
        "DATABASE_URL": f"sqlite:///{db}",
        "BACKUP_STORAGE": "local",
        "BACKUP_LOCAL_DIR": str(tmp_path / "backups"),
        "ENVIRONMENT": "test",
    }
    assert _run("migrate", "--no-input", "-v0", env=env).returncode == 0
    with sqlite3.connect(db) as conn:
        conn.execute("CREATE TABLE scratch_notes (id integer primary key, body text)")
        conn.executemany("INSERT INTO scratch_notes (body) VALUES (?)", [(f"note {i}",) for i in range(100)])

    backup = _run("backup", env=env)
    with sqlite3.connect(db) as conn:
        conn.execute("DELETE FROM scratch_notes WHERE id > 10")
        conn.execute("UPDATE scratch_notes SET body = 'changed'")
    restore = _run("restore", "latest", "--yes", env=env)
    verify = _run("backup_verify", "latest", env=env)

    assert backup.returncode == 0, backup.stderr
    assert restore.returncode == 0, restore.stderr
    assert "every table matches the manifest" in restore.stdout
    assert verify.returncode == 0, verify.stderr
    with sqlite3.connect(db) as conn:
        rows = conn.execute("SELECT count(*), count(DISTINCT body) FROM scratch_notes").fetchone()
    assert rows == (100, 100)


def test_backup_list_shows_each_backup_newest_first(transactional_db):
    import datetime as dt
    from io import StringIO

    from django.utils import timezone

    from tests.ops.factories import BackupRecordFactory

    old = BackupRecordFactory(started_at=timezone.now() - dt.timedelta(days=2))
    new = BackupRecordFactory(status=BackupStatus.FAILED, verify_ok=None)
    out = StringIO()

    call_command("backup_list", stdout=out)

    lines = out.getvalue().splitlines()
    assert lines[0].startswith("id")
    assert [line.split()[0] for line in lines[1:]] == [str(new.id), str(old.id)]


def test_prune_task_applies_the_retention_setting(transactional_db, settings):
    import datetime as dt

    from django.utils import timezone

    from ops.tasks import prune_task
    from tests.ops.factories import BackupRecordFactory

    settings.BACKUP_RETENTION_DAYS = 30
    BackupRecordFactory(started_at=timezone.now() - dt.timedelta(days=40), key="")
    keep = BackupRecordFactory(key="")

    assert prune_task() == 1
    assert list(BackupRecord.objects.values_list("id", flat=True)) == [keep.id]


def test_sqlite_restore_drill_uses_a_temporary_file_and_removes_it(tmp_path):
    """The drill on the embedded default: the scratch database is a temporary SQLite file, dropped afterwards."""
    import glob

    db = tmp_path / "db.sqlite3"
    env = {
        **os.environ,
        "DATABASE_URL": f"sqlite:///{db}",
        "BACKUP_STORAGE": "local",
        "BACKUP_LOCAL_DIR": str(tmp_path / "backups"),
        "BACKUP_REPLICA_STORAGE": "local",
        "BACKUP_REPLICA_LOCAL_DIR": str(tmp_path / "replica"),
        "ENVIRONMENT": "test",
        "TMPDIR": str(tmp_path / "tmp"),
    }
    (tmp_path / "tmp").mkdir()
    assert _run("migrate", "--no-input", "-v0", env=env).returncode == 0
    assert _run("backup", env=env).returncode == 0

    drill = _run("restore_drill", env=env)

    assert drill.returncode == 0, drill.stderr
    assert "restore drill ok" in drill.stdout and "from the replica" in drill.stdout
    assert glob.glob(str(tmp_path / "tmp" / "aiassistant-verify-*")) == []
    with sqlite3.connect(db) as conn:
        ok, source = conn.execute("SELECT ok, source FROM ops_restoredrill").fetchone()
    assert (ok, source) == (1, "replica")
