"""System checks of the backup configuration."""

from ops.checks import backup_deploy_check, backup_storage_check


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
