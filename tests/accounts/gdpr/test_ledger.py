"""The erasure ledger with a backup replica: written to both storages, read from either."""

import uuid

import pytest
from django.utils import timezone

from accounts.gdpr import ledger
from tests.ops.conftest import local_storage_settings, s3_storage_settings
from tests.support import free_port


@pytest.fixture
def two_folders(settings, tmp_path):
    settings.STORAGES = {
        **settings.STORAGES,
        "backups": local_storage_settings(tmp_path / "primary"),
        "backups_replica": local_storage_settings(tmp_path / "replica"),
    }
    return tmp_path / "primary", tmp_path / "replica"


def test_an_entry_is_written_to_both_storages(two_folders):
    primary, replica = two_folders

    key = ledger.write(user_id=uuid.uuid4(), erased_at=timezone.now())

    assert (primary / key).read_bytes() == (replica / key).read_bytes()


def test_entries_are_read_from_the_replica_when_the_primary_is_gone(two_folders, settings):
    person = uuid.uuid4()
    ledger.write(user_id=person, erased_at=timezone.now())
    unreachable = s3_storage_settings(endpoint=f"http://127.0.0.1:{free_port()}", bucket="gone")
    settings.STORAGES = {**settings.STORAGES, "backups": unreachable}

    assert [entry.user_id for entry in ledger.entries()] == [person]


def test_entries_fail_when_both_storages_are_gone(settings):
    gone = s3_storage_settings(endpoint=f"http://127.0.0.1:{free_port()}", bucket="gone")
    settings.STORAGES = {**settings.STORAGES, "backups": gone, "backups_replica": gone}

    with pytest.raises(Exception, match="Could not connect"):
        ledger.entries()


def test_a_replica_that_cannot_be_written_does_not_fail_the_entry(settings, tmp_path):
    gone = s3_storage_settings(endpoint=f"http://127.0.0.1:{free_port()}", bucket="gone")
    settings.STORAGES = {
        **settings.STORAGES,
        "backups": local_storage_settings(tmp_path / "primary"),
        "backups_replica": gone,
    }

    key = ledger.write(user_id=uuid.uuid4(), erased_at=timezone.now())

    assert (tmp_path / "primary" / key).exists()
