from datetime import timedelta
from unittest import mock

import pytest
from django.db import IntegrityError
from django.utils import timezone

from common.errors import ApplicationError, Invalid, PermissionDenied
from projects.models import Role
from tests.factories import ProjectFactory, UserFactory, WorkflowFactory, transform_definition
from workflows import services
from workflows.models import Execution, ExecutionStatus, WorkflowVersion

pytestmark = pytest.mark.django_db


@pytest.fixture
def queued():
    with mock.patch("workflows.tasks.run_execution.apply_async") as apply_async:
        yield apply_async


def test_same_idempotency_key_returns_existing_execution(queued, django_capture_on_commit_callbacks):
    workflow = WorkflowFactory()
    with django_capture_on_commit_callbacks(execute=True):
        first, created_first = services.execution_start(
            role=Role.EDITOR, workflow=workflow, input={"a": 1}, actor=None, idempotency_key="k"
        )
        second, created_second = services.execution_start(
            role=Role.EDITOR, workflow=workflow, input={"a": 1}, actor=None, idempotency_key="k"
        )
    assert (first.pk, created_first, created_second) == (second.pk, True, False)
    assert Execution.objects.count() == 1
    queued.assert_called_once()


def test_idempotency_fingerprint_ignores_key_order(queued):
    workflow = WorkflowFactory()
    first, _ = services.execution_start(
        role=Role.EDITOR, workflow=workflow, input={"a": 1, "b": 2}, actor=None, idempotency_key="k"
    )
    second, created = services.execution_start(
        role=Role.EDITOR, workflow=workflow, input={"b": 2, "a": 1}, actor=None, idempotency_key="k"
    )
    assert (second.pk, created) == (first.pk, False)


def test_idempotency_keys_are_scoped_to_the_workflow(queued):
    services.execution_start(role=Role.EDITOR, workflow=WorkflowFactory(), input={}, actor=None, idempotency_key="k")
    _, created = services.execution_start(
        role=Role.EDITOR, workflow=WorkflowFactory(), input={}, actor=None, idempotency_key="k"
    )
    assert created is True


def test_reused_key_with_another_input_is_refused_with_422(queued):
    workflow = WorkflowFactory()
    services.execution_start(role=Role.EDITOR, workflow=workflow, input={"a": 1}, actor=None, idempotency_key="k")
    with pytest.raises(ApplicationError) as excinfo:
        services.execution_start(role=Role.EDITOR, workflow=workflow, input={"a": 2}, actor=None, idempotency_key="k")
    assert excinfo.value.status == 422


def test_losing_a_concurrent_race_on_the_key_returns_the_winner(queued):
    workflow = WorkflowFactory()
    winner, _ = services.execution_start(role=Role.EDITOR, workflow=workflow, input={}, actor=None, idempotency_key="k")
    # Simulate the race: the lookup misses (the winner had not committed yet), the insert hits the constraint.
    with mock.patch.object(services, "_existing_for_key", side_effect=[None, winner]):
        execution, created = services.execution_start(
            role=Role.EDITOR, workflow=workflow, input={}, actor=None, idempotency_key="k"
        )
    assert (execution.pk, created) == (winner.pk, False)


def test_the_unique_constraint_guards_the_key():
    workflow = WorkflowFactory()
    version = WorkflowVersion.objects.get(workflow=workflow)
    Execution.objects.create(workflow=workflow, workflow_version=version, idempotency_key="k")
    with pytest.raises(IntegrityError):
        Execution.objects.create(workflow=workflow, workflow_version=version, idempotency_key="k")


def test_execution_is_pinned_to_the_current_version(queued):
    workflow = WorkflowFactory()
    owner = UserFactory()
    definition = transform_definition()
    definition["output"] = {"x": 1}
    services.workflow_update(workflow=workflow, role="editor", actor=owner, definition=definition)
    workflow.refresh_from_db()
    execution, _ = services.execution_start(role=Role.EDITOR, workflow=workflow, input={}, actor=owner)
    assert execution.workflow_version.version == 2
    assert execution.workflow_version.definition == definition


def test_nothing_is_queued_before_commit(queued, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        services.execution_start(role=Role.EDITOR, workflow=WorkflowFactory(), input={}, actor=None)
    assert len(callbacks) == 1
    queued.assert_not_called()


def test_workflow_create_requires_editor():
    with pytest.raises(PermissionDenied):
        services.workflow_create(
            project=ProjectFactory(), role="viewer", name="x", definition=transform_definition(), actor=UserFactory()
        )


def test_workflow_create_reports_every_definition_problem():
    definition = {"steps": [{"id": "a", "type": "nope", "config": {}}, {"id": "a", "type": "transform"}]}
    with pytest.raises(Invalid) as excinfo:
        services.workflow_create(
            project=ProjectFactory(), role="editor", name="x", definition=definition, actor=UserFactory()
        )
    assert {"definition.steps[0].type", "definition.steps[1].id"} <= set(excinfo.value.field_errors)


def test_workflow_update_versions_only_definition_changes():
    workflow = WorkflowFactory()
    actor = UserFactory()
    services.workflow_update(workflow=workflow, role="editor", actor=actor, name="renamed")
    services.workflow_update(workflow=workflow, role="editor", actor=actor, definition=transform_definition())
    assert WorkflowVersion.objects.filter(workflow=workflow).count() == 1
    changed = transform_definition()
    changed["output"] = {"x": 1}
    updated = services.workflow_update(workflow=workflow, role="editor", actor=actor, definition=changed)
    assert updated.version == 2
    assert WorkflowVersion.objects.get(workflow=workflow, version=2).created_by == actor


def test_workflow_delete_is_refused_while_an_execution_runs(queued):
    workflow = WorkflowFactory()
    execution, _ = services.execution_start(role=Role.EDITOR, workflow=workflow, input={}, actor=None)
    Execution.objects.filter(pk=execution.pk).update(status=ExecutionStatus.RUNNING)
    with pytest.raises(ApplicationError) as excinfo:
        services.workflow_delete(workflow=workflow, role="editor", actor=UserFactory())
    assert excinfo.value.status == 409


def test_workflow_delete_removes_finished_executions(queued):
    workflow = WorkflowFactory()
    execution, _ = services.execution_start(role=Role.EDITOR, workflow=workflow, input={}, actor=None)
    Execution.objects.filter(pk=execution.pk).update(status=ExecutionStatus.COMPLETED)
    services.workflow_delete(workflow=workflow, role="editor", actor=UserFactory())
    assert not Execution.objects.exists()


def test_cancel_running_execution_only_requests_it(queued):
    execution, _ = services.execution_start(role=Role.EDITOR, workflow=WorkflowFactory(), input={}, actor=None)
    Execution.objects.filter(pk=execution.pk).update(status=ExecutionStatus.RUNNING)
    cancelled = services.execution_cancel(role=Role.EDITOR, execution=execution, actor=None)
    assert (cancelled.status, cancelled.cancel_requested) == (ExecutionStatus.RUNNING, True)


def test_rerun_starts_a_new_execution_with_the_same_input(queued):
    original, _ = services.execution_start(
        role=Role.EDITOR, workflow=WorkflowFactory(), input={"name": "Ada"}, actor=None
    )
    actor = UserFactory()
    rerun = services.execution_rerun(role=Role.EDITOR, execution=original, actor=actor)
    assert rerun.pk != original.pk
    assert (rerun.input, rerun.triggered_by, rerun.status) == ({"name": "Ada"}, actor, ExecutionStatus.PENDING)


def test_recovery_queues_stale_running_and_old_pending_executions_only(queued, settings):
    settings.WORKFLOW_HEARTBEAT_STALE_AFTER = 60
    workflow = WorkflowFactory()
    version = WorkflowVersion.objects.get(workflow=workflow)
    long_ago = timezone.now() - timedelta(minutes=10)

    def make(**fields):
        return Execution.objects.create(workflow=workflow, workflow_version=version, **fields)

    stale = make(status=ExecutionStatus.RUNNING, heartbeat_at=long_ago)
    make(status=ExecutionStatus.RUNNING, heartbeat_at=timezone.now())
    lost = make(status=ExecutionStatus.PENDING)
    Execution.objects.filter(pk=lost.pk).update(created_at=long_ago, updated_at=long_ago)
    make(status=ExecutionStatus.PENDING)  # just created: its message is on its way
    make(status=ExecutionStatus.COMPLETED, heartbeat_at=long_ago)

    assert services.executions_recover_stale() == 2
    queued_ids = {call.kwargs["args"][0] for call in queued.call_args_list}
    assert queued_ids == {str(stale.pk), str(lost.pk)}
    # A pending one is queued again at most once per stale period.
    assert services.executions_recover_stale() == 1
