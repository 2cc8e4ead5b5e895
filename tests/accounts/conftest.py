"""Fixtures for the data subject requests: private storage folders per test."""

import pytest


def local_storage(location) -> dict:
    return {"BACKEND": "django.core.files.storage.FileSystemStorage", "OPTIONS": {"location": str(location)}}


@pytest.fixture
def gdpr_storage(settings, tmp_path):
    """Exports and backup storage (the erasure ledger, the audit seals' copies) in this test's own folders."""
    folders = {"exports": tmp_path / "exports", "backups": tmp_path / "backups"}
    settings.STORAGES = {**settings.STORAGES, **{alias: local_storage(path) for alias, path in folders.items()}}
    return folders
