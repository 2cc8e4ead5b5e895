"""A worker SIGKILLed mid-execution (whole process group): the next worker resumes from the recorded steps."""

import os
import signal
import subprocess

import pytest

from projects.models import Role
from tests.factories import MembershipFactory, WorkflowFactory
from tests.support import wait_for
from workflows import services
from workflows.models import Execution, ExecutionStatus, StepRun, StepStatus

pytestmark = [pytest.mark.slow, pytest.mark.django_db(transaction=True)]


def two_step_workflow(local_server):
    return WorkflowFactory(
        definition={
            "steps": [
                {"id": "first", "type": "http", "config": {"url": local_server.url("/hit/first")}},
                {
                    "id": "second",
                    "type": "http",
                    "depends_on": ["first"],
                    "config": {"url": local_server.url("/block/second")},
                    "timeout_seconds": 60,
                },
            ],
            "output": {"first": "{{ steps.first.output.json.count }}", "second": "{{ steps.second.output.json }}"},
        }
    )


def test_killed_worker_execution_resumes_on_a_new_worker_without_repeating_finished_steps(start_worker, local_server):
    workflow = two_step_workflow(local_server)
    actor = MembershipFactory(project=workflow.project, role="editor").user
    first_worker = start_worker()
    execution, _ = services.execution_start(role=Role.EDITOR, workflow=workflow, input={}, actor=actor)

    assert local_server.entered.wait(timeout=30), "step 2 never reached the local server"
    running = Execution.objects.get(pk=execution.pk)
    assert running.status == ExecutionStatus.RUNNING
    assert StepRun.objects.get(execution=execution, step_id="first").status == StepStatus.COMPLETED
    first_worker.kill()  # mid step 2: no ack, no reject, no cleanup
    local_server.release.set()  # the killed request's handler may finish; nobody reads it

    start_worker()
    finished = wait_for(
        lambda: Execution.objects.filter(pk=execution.pk, status__in=["completed", "failed", "cancelled"]).first(),
        timeout=60,
        message="the execution to finish on the second worker",
    )

    assert finished.status == ExecutionStatus.COMPLETED, finished.error
    steps = {run.step_id: run for run in StepRun.objects.filter(execution=execution)}
    assert steps["first"].attempts == 1
    assert steps["second"].status == StepStatus.COMPLETED
    assert steps["second"].attempts == 2  # the killed attempt counts
    assert local_server.hits == {"/hit/first": 1, "/block/second": 2}
    assert finished.output == {"first": 1, "second": {"path": "/block/second", "count": 2}}
    assert finished.runner_id != running.runner_id


def test_killed_pool_process_is_redelivered_by_its_own_worker(start_worker, local_server):
    workflow = two_step_workflow(local_server)
    actor = MembershipFactory(project=workflow.project, role="editor").user
    worker = start_worker()
    execution, _ = services.execution_start(role=Role.EDITOR, workflow=workflow, input={}, actor=actor)
    assert local_server.entered.wait(timeout=30), "step 2 never reached the local server"

    children = subprocess.run(["ps", "-o", "pid=", "--ppid", str(worker.proc.pid)], capture_output=True, text=True)
    for pid in children.stdout.split():
        os.kill(int(pid), signal.SIGKILL)  # the pool processes die; the main process lives and rejects the task
    local_server.release.set()

    finished = wait_for(
        lambda: Execution.objects.filter(pk=execution.pk, status__in=["completed", "failed", "cancelled"]).first(),
        timeout=60,
        message="the execution to finish after its pool process was killed",
    )

    assert finished.status == ExecutionStatus.COMPLETED, finished.error
    assert worker.proc.poll() is None  # the same worker carried on
    assert local_server.hits == {"/hit/first": 1, "/block/second": 2}
    assert StepRun.objects.get(execution=execution, step_id="first").attempts == 1
