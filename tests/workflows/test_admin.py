"""Workflow admin: step runs inline, filters, and the cancel and re-run actions."""

from unittest import mock

import pytest
from django.test import Client
from django.urls import reverse

from projects.models import Role
from tests.factories import UserFactory, WorkflowFactory
from workflows import runner, services
from workflows.models import Execution, ExecutionStatus

pytestmark = pytest.mark.django_db

CHANGELIST = "admin:workflows_execution_changelist"


@pytest.fixture
def staff_client():
    client = Client()
    client.force_login(UserFactory(is_staff=True, is_superuser=True))
    return client


@pytest.fixture
def queued():
    with mock.patch("workflows.tasks.run_execution.apply_async") as apply_async:
        yield apply_async


def test_execution_page_shows_step_runs_inline(staff_client, queued):
    execution, _ = services.execution_start(
        role=Role.EDITOR, workflow=WorkflowFactory(), input={"name": "Ada"}, actor=None
    )
    runner.execution_run(execution_id=execution.pk)
    response = staff_client.get(reverse("admin:workflows_execution_change", args=[execution.pk]))
    assert response.status_code == 200
    assert "Hello Ada" in response.content.decode()


def test_workflow_page_shows_versions_inline(staff_client):
    workflow = WorkflowFactory(name="Inline check")
    response = staff_client.get(reverse("admin:workflows_workflow_change", args=[workflow.pk]))
    assert response.status_code == 200
    assert 'id="versions-group"' in response.content.decode()


def test_changelist_filters_by_status_and_project(staff_client, queued):
    workflow = WorkflowFactory()
    execution, _ = services.execution_start(role=Role.EDITOR, workflow=workflow, input={}, actor=None)
    response = staff_client.get(
        reverse(CHANGELIST), {"status__exact": "pending", "workflow__project__id__exact": str(workflow.project_id)}
    )
    assert response.status_code == 200
    assert str(execution.pk) in response.content.decode()


def test_cancel_action_cancels_pending_executions(staff_client, queued):
    execution, _ = services.execution_start(role=Role.EDITOR, workflow=WorkflowFactory(), input={}, actor=None)
    response = staff_client.post(reverse(CHANGELIST), {"action": "cancel", "_selected_action": [str(execution.pk)]})
    assert response.status_code == 302
    execution.refresh_from_db()
    assert execution.status == ExecutionStatus.CANCELLED


def test_rerun_action_starts_a_new_execution_with_the_same_input(staff_client, queued):
    original, _ = services.execution_start(
        role=Role.EDITOR, workflow=WorkflowFactory(), input={"name": "Ada"}, actor=None
    )
    response = staff_client.post(reverse(CHANGELIST), {"action": "rerun", "_selected_action": [str(original.pk)]})
    assert response.status_code == 302
    rerun = Execution.objects.exclude(pk=original.pk).get()
    assert (rerun.input, rerun.status) == ({"name": "Ada"}, ExecutionStatus.PENDING)


@pytest.fixture
def view_only_client():
    """A staff member who may only view executions (Django's view permission)."""
    from django.contrib.auth.models import Permission

    viewer = UserFactory(is_staff=True)
    viewer.user_permissions.add(Permission.objects.get(codename="view_execution"))
    client = Client()
    client.force_login(viewer)
    return client


@pytest.mark.parametrize("action", ["cancel", "rerun"])
def test_a_view_only_staff_member_cannot_run_an_execution_action(view_only_client, queued, action):
    """Security review, weakness 6: the actions checked only "view", and a view-only staff member re-ran
    executions."""
    execution, _ = services.execution_start(role=Role.EDITOR, workflow=WorkflowFactory(), input={}, actor=None)

    page = view_only_client.get(reverse(CHANGELIST))
    response = view_only_client.post(reverse(CHANGELIST), {"action": action, "_selected_action": [str(execution.pk)]})

    assert page.status_code == 200
    assert f'value="{action}"' not in page.content.decode()
    assert response.status_code in (200, 302)  # Django answers "no action selected"
    execution.refresh_from_db()
    assert execution.status == ExecutionStatus.PENDING
    assert Execution.objects.count() == 1
