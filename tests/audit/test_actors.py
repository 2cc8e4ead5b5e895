"""The actor is right everywhere: the staff user in the admin, the triggering user inside the Celery task that runs
an execution, system:beat for scheduled tasks, and system:cli plus the OS user for management commands."""

import getpass

import pytest
from django.core.management import call_command
from django.test import Client
from django.urls import reverse

from audit.models import AuditEvent, Category, ModelHistory
from projects.models import Role
from tests.conftest import client_for
from tests.factories import MembershipFactory, UserFactory, WorkflowFactory
from tests.support import wait_for
from workflows.models import Execution, ExecutionStatus


@pytest.mark.django_db
def test_an_admin_action_is_recorded_with_the_staff_user_and_address():
    workflow = WorkflowFactory()
    execution = Execution.objects.create(workflow=workflow, workflow_version=workflow.versions.get())
    staff = UserFactory(is_staff=True, is_superuser=True)
    client = Client(REMOTE_ADDR="192.0.2.44")
    client.force_login(staff)
    client.post(
        reverse("admin:workflows_execution_changelist"),
        {"action": "cancel", "_selected_action": [str(execution.pk)]},
    )
    event = AuditEvent.objects.get(action="admin.execution.cancel")
    assert (event.category, event.actor_id, event.ip) == (Category.ADMIN, staff.pk, "192.0.2.44")
    assert event.project_id == workflow.project_id
    assert (
        AuditEvent.objects.get(category=Category.REQUEST, action="POST /admin/workflows/execution/").actor_id
        == staff.pk
    )


@pytest.mark.django_db
def test_a_management_command_acts_as_system_cli_with_the_os_user(settings, tmp_path):
    settings.STORAGES = {
        **settings.STORAGES,
        "backups": {"BACKEND": "django.core.files.storage.FileSystemStorage", "OPTIONS": {"location": str(tmp_path)}},
    }
    call_command("backup")
    event = AuditEvent.objects.get(action="backup.run")
    assert (event.actor_kind, event.actor_label) == ("system", f"system:cli:{getpass.getuser()}")
    assert event.detail["outcome"] == "succeeded"


@pytest.mark.slow
@pytest.mark.django_db(transaction=True)
def test_the_task_that_runs_an_execution_acts_as_the_user_who_triggered_it(start_worker):
    start_worker()
    membership = MembershipFactory(role=Role.EDITOR)
    workflow = WorkflowFactory(project=membership.project)
    response = client_for(membership.user).post(
        f"/api/v1/workflows/{workflow.pk}/executions/", {"input": {"name": "Ada"}}, format="json"
    )
    execution_id = response.json()["id"]
    wait_for(
        lambda: Execution.objects.filter(pk=execution_id, status=ExecutionStatus.COMPLETED).exists(),
        message="the execution to complete on the worker",
    )
    entries = ModelHistory.objects.filter(object_pk=execution_id).exclude(actor_id=None)
    finished = [entry for entry in entries if (entry.changes or {}).get("status", [None, None])[1] == "completed"]
    assert finished and all(entry.actor_id == membership.user.pk for entry in finished)


@pytest.mark.slow
@pytest.mark.django_db(transaction=True)
def test_a_task_sent_by_beat_acts_as_system_beat(start_worker, monkeypatch):
    """Beat's process acts as system:beat (the beat_init handler); the task it sends runs as system:beat."""
    from celery import current_app, signals

    from audit import context

    start_worker()
    monkeypatch.setattr(context, "_process_actor", None)
    signals.beat_init.send(sender=None)  # what `celery beat` sends when it starts
    current_app.send_task("audit.retention", queue=start_worker.queue)
    run = wait_for(lambda: AuditEvent.objects.filter(action="retention.run").first(), message="the retention run")
    assert (run.actor_kind, run.actor_label) == ("system", "system:beat")
