"""The backups admin: read-only, and its actions queue the tasks."""

import pytest
from celery import current_app
from django.core.management import call_command
from django.urls import reverse

from ops.models import BackupKind, BackupRecord, BackupStatus
from tests.factories import UserFactory

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def eager_celery():
    """Run queued tasks in-process (task_always_eager) so the tests see their effect; the broker is not used."""
    current_app.conf.task_always_eager = True
    yield
    current_app.conf.task_always_eager = False


@pytest.fixture
def staff_client(client):
    admin = UserFactory(is_staff=True, is_superuser=True)
    client.force_login(admin)
    return client


def test_admin_lists_backups_read_only(staff_client, seeded):
    call_command("backup")

    response = staff_client.get(reverse("admin:ops_backuprecord_changelist"))

    assert response.status_code == 200
    assert b"Back up now" in response.content
    assert staff_client.get(reverse("admin:ops_backuprecord_add")).status_code == 403


def test_admin_back_up_now_queues_a_backup(staff_client, seeded, eager_celery):
    response = staff_client.post(reverse("admin:ops_backuprecord_backup_now"), follow=True)

    record = BackupRecord.objects.get()
    assert record.status == BackupStatus.SUCCEEDED and record.kind == BackupKind.MANUAL
    assert "Queued ops.backup" in response.content.decode()


def test_admin_verify_now_action_queues_a_drill(staff_client, seeded, eager_celery):
    call_command("backup")
    record = BackupRecord.objects.get()

    response = staff_client.post(
        reverse("admin:ops_backuprecord_changelist"),
        {"action": "verify_now", "_selected_action": [str(record.id)]},
        follow=True,
    )

    record.refresh_from_db()
    assert record.verify_ok is True
    assert "Queued ops.verify" in response.content.decode()


@pytest.fixture
def view_only_client(client):
    """A staff member who may only view the backup catalogue."""
    from django.contrib.auth.models import Permission

    viewer = UserFactory(is_staff=True)
    viewer.user_permissions.add(Permission.objects.get(codename="view_backuprecord"))
    client.force_login(viewer)
    return client


def test_a_view_only_staff_member_cannot_back_up_now(view_only_client, seeded, eager_celery):
    """Security review, weakness 6: "Back up now" and "Verify now" checked only "view"."""
    page = view_only_client.get(reverse("admin:ops_backuprecord_changelist"))
    response = view_only_client.post(reverse("admin:ops_backuprecord_backup_now"))

    assert page.status_code == 200
    assert b"Back up now" not in page.content
    assert response.status_code == 403
    assert not BackupRecord.objects.exists()


def test_a_view_only_staff_member_cannot_verify_now(view_only_client, seeded, eager_celery):
    call_command("backup")
    record = BackupRecord.objects.get()

    view_only_client.post(
        reverse("admin:ops_backuprecord_changelist"), {"action": "verify_now", "_selected_action": [str(record.id)]}
    )

    record.refresh_from_db()
    assert record.verified_at is None


def test_the_custom_permissions_allow_the_actions(client, seeded, eager_celery):
    from django.contrib.auth.models import Permission

    operator = UserFactory(is_staff=True)
    operator.user_permissions.add(
        *Permission.objects.filter(codename__in=["view_backuprecord", "backup_now", "verify_now"])
    )
    client.force_login(operator)

    client.post(reverse("admin:ops_backuprecord_backup_now"))
    record = BackupRecord.objects.get()
    client.post(
        reverse("admin:ops_backuprecord_changelist"), {"action": "verify_now", "_selected_action": [str(record.id)]}
    )

    record.refresh_from_db()
    assert record.verify_ok is True


def test_admin_lists_the_replica_status_and_the_restore_drills(staff_client, seeded, settings, tmp_path):
    from tests.ops.conftest import local_storage_settings

    settings.STORAGES = {**settings.STORAGES, "backups_replica": local_storage_settings(tmp_path / "replica")}
    call_command("backup")
    call_command("restore_drill")

    backups = staff_client.get(reverse("admin:ops_backuprecord_changelist"))
    drills = staff_client.get(reverse("admin:ops_restoredrill_changelist"))

    assert "OK (copied, sha256 verified)" in backups.content.decode()
    assert drills.status_code == 200
    assert "tables match the manifest" in drills.content.decode()
    assert staff_client.get(reverse("admin:ops_restoredrill_add")).status_code == 403
