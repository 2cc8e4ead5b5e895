"""System checks of the backup configuration."""

import pytest

from ops.checks import backup_deploy_check, backup_replica_check, backup_storage_check


def test_s3_without_a_bucket_is_a_configuration_error(settings):
    settings.BACKUP_STORAGE = "s3"
    settings.AWS_STORAGE_BUCKET_NAME = ""

    assert [e.id for e in backup_storage_check(None)] == ["ops.E002"]


def test_unknown_backup_storage_is_a_configuration_error(settings):
    settings.BACKUP_STORAGE = "ftp"

    assert [e.id for e in backup_storage_check(None)] == ["ops.E001"]


def test_local_backups_warn_on_deploy(settings):
    settings.BACKUP_STORAGE = "local"

    assert "ops.W001" in [e.id for e in backup_deploy_check(None)]


def test_no_replica_is_a_valid_configuration(settings):
    settings.BACKUP_REPLICA_STORAGE = ""

    assert backup_replica_check(None) == []


@pytest.mark.parametrize(
    ("storage", "bucket", "folder", "error"),
    [("gcs", "b", "", "ops.E004"), ("s3", "", "", "ops.E005"), ("local", "", "", "ops.E006")],
)
def test_an_incomplete_replica_is_a_configuration_error(settings, storage, bucket, folder, error):
    settings.BACKUP_REPLICA_STORAGE = storage
    settings.BACKUP_REPLICA_BUCKET = bucket
    settings.BACKUP_REPLICA_LOCAL_DIR = folder

    assert [e.id for e in backup_replica_check(None)] == [error]
