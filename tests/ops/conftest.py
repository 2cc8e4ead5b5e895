"""Fixtures for backup tests: a backup folder per test, and S3 served over real HTTP by moto's standalone server.

moto's ThreadedMotoServer is a stand-in for S3 (no S3 service runs here): boto3 and django-storages talk HTTP to
it exactly as to S3, but it does not reproduce S3's durability, KMS or cross-region replication.
"""

import uuid

import boto3
import pytest
from django.db import connection

from ops.engines import engine_for
from tests.factories import MembershipFactory, ProjectFactory, UserFactory, WorkflowFactory
from tests.support import free_port
from workflows.models import Execution, ExecutionStatus, StepRun, WorkflowVersion


def local_storage_settings(location) -> dict:
    return {"BACKEND": "django.core.files.storage.FileSystemStorage", "OPTIONS": {"location": str(location)}}


def s3_storage_settings(*, endpoint: str, bucket: str) -> dict:
    return {
        "BACKEND": "ops.s3.BackupS3Storage",
        "OPTIONS": {
            "bucket_name": bucket,
            "endpoint_url": endpoint,
            "region_name": "us-east-1",
            "access_key": "testing",
            "secret_key": "testing",
            "default_acl": None,
            "file_overwrite": False,
            "addressing_style": "path",
        },
    }


@pytest.fixture(autouse=True)
def backup_dir(settings, tmp_path):
    """Every ops test writes its backups into its own folder (local storage) unless it asks for S3."""
    location = tmp_path / "backups"
    settings.STORAGES = {**settings.STORAGES, "backups": local_storage_settings(location)}
    settings.ENVIRONMENT = "test"
    return location


@pytest.fixture
def s3_backups(settings, moto_endpoint):
    """Point STORAGES["backups"] at a fresh bucket on the moto server; returns (boto3 client, bucket)."""
    bucket = f"backups-{uuid.uuid4().hex[:12]}"
    client = boto3.client(
        "s3",
        endpoint_url=moto_endpoint,
        region_name="us-east-1",
        aws_access_key_id="testing",
        aws_secret_access_key="testing",
    )
    client.create_bucket(Bucket=bucket)
    settings.STORAGES = {**settings.STORAGES, "backups": s3_storage_settings(endpoint=moto_endpoint, bucket=bucket)}
    return client, bucket


@pytest.fixture
def seeded(transactional_db):
    """Committed rows in every app (pg_dump runs in another session, so they must be committed)."""
    users = UserFactory.create_batch(5)
    projects = ProjectFactory.create_batch(3)
    executions = []
    for project in projects:
        for user in users[:3]:
            MembershipFactory(project=project, user=user)
        workflow = WorkflowFactory(project=project)
        version = WorkflowVersion.objects.get(workflow=workflow)
        execution = Execution.objects.create(
            workflow=workflow,
            workflow_version=version,
            status=ExecutionStatus.COMPLETED,
            input={"name": "Ada", "nested": {"list": [1, 2.5, None]}},
            output={"greeting": "HELLO ADA"},
            triggered_by=users[0],
        )
        StepRun.objects.create(execution=execution, step_id="greet", type="transform", output={"message": "Hello"})
        executions.append(execution)
    return {"users": users, "projects": projects, "executions": executions}


AUDIT_TABLES = ("audit_auditevent", "audit_modelhistory")


def table_facts(*, audit: bool = True) -> dict:
    """Row count and checksum of every table of the test database, as the backup manifest computes them.

    `audit=False` leaves out the audit trail, which records every operation, a refused one included.
    """
    tables = engine_for(connection.settings_dict).facts()["tables"]
    return tables if audit else {name: facts for name, facts in tables.items() if name not in AUDIT_TABLES}


@pytest.fixture
def unreachable_s3(settings):
    """Backup storage pointing at a local port where nothing listens."""
    endpoint = f"http://127.0.0.1:{free_port()}"
    settings.STORAGES = {**settings.STORAGES, "backups": s3_storage_settings(endpoint=endpoint, bucket="nowhere")}
    return endpoint


@pytest.fixture
def replica_dir(settings, tmp_path):
    """A replica storage (STORAGES["backups_replica"]) in its own local folder."""
    location = tmp_path / "replica"
    settings.STORAGES = {**settings.STORAGES, "backups_replica": local_storage_settings(location)}
    return location


@pytest.fixture
def unreachable_replica(settings):
    """A replica storage pointing at a local port where nothing listens."""
    endpoint = f"http://127.0.0.1:{free_port()}"
    settings.STORAGES = {
        **settings.STORAGES,
        "backups_replica": s3_storage_settings(endpoint=endpoint, bucket="replica-nowhere"),
    }
    return endpoint


def _bucket_on(endpoint: str, bucket: str):
    client = boto3.client(
        "s3",
        endpoint_url=endpoint,
        region_name="us-east-1",
        aws_access_key_id="testing",
        aws_secret_access_key="testing",
    )
    client.create_bucket(Bucket=bucket)
    return client


@pytest.fixture
def two_regions(settings):
    """Two moto_server processes standing in for two regions: the primary backup bucket on the first, the replica
    bucket on the second. Yields (primary server, replica server, replica boto3 client); both stopped after."""
    from tests.common.servers import MotoS3Server

    with MotoS3Server() as primary, MotoS3Server() as replica:
        _bucket_on(primary.endpoint, "backups-region-a")
        replica_client = _bucket_on(replica.endpoint, "backups-region-b")
        settings.STORAGES = {
            **settings.STORAGES,
            "backups": s3_storage_settings(endpoint=primary.endpoint, bucket="backups-region-a"),
            "backups_replica": s3_storage_settings(endpoint=replica.endpoint, bucket="backups-region-b"),
        }
        yield primary, replica, replica_client
