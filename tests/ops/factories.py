"""Factories for the ops tests (kept here: only these tests build backup records)."""

import datetime as dt

import factory
from django.utils import timezone

from ops.models import BackupKind, BackupRecord, BackupStatus


class BackupRecordFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = BackupRecord

    status = BackupStatus.SUCCEEDED
    kind = BackupKind.SCHEDULED
    engine = "postgresql"
    started_at = factory.LazyFunction(timezone.now)
    finished_at = factory.LazyAttribute(lambda o: o.started_at + dt.timedelta(seconds=3))
    duration_seconds = 3.0
    size_bytes = 1234
    sha256 = "0" * 64
    key = factory.LazyAttribute(
        lambda o: f"backups/test/{o.started_at:%Y/%m/%d}/{o.started_at:%Y%m%dT%H%M%SZ}-{id(o)}.dump"
    )
