"""backup_verify: the restore drill into a scratch database."""

import json

import pytest
from django.core.management import CommandError, call_command
from django.db import connection

from ops.models import BackupRecord

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
