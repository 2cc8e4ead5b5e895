"""Executions that used to stay running forever (issue 12), on a real Celery worker (tests/workers.py)."""

import os
import signal
import subprocess
import time

import pytest

from projects.models import Role
from tests.factories import MembershipFactory, WorkflowFactory
from tests.support import wait_for
from workflows import services
from workflows.models import FINAL_STATUSES, Execution, ExecutionStatus, StepRun, StepStatus

pytestmark = [pytest.mark.slow, pytest.mark.django_db(transaction=True)]


def start(definition) -> Execution:
    workflow = WorkflowFactory(definition=definition)
    actor = MembershipFactory(project=workflow.project, role="editor").user
    execution, _ = services.execution_start(role=Role.EDITOR, workflow=workflow, input={}, actor=actor)
    return execution


def finished(execution, *, timeout: float = 60, message: str = "the execution to finish") -> Execution:
    return wait_for(
        lambda: Execution.objects.filter(pk=execution.pk, status__in=FINAL_STATUSES).first(),
        timeout=timeout,
        message=message,
    )


def test_recursive_macro_fails_its_step_on_the_worker_instead_of_leaving_the_execution_running(start_worker):
    worker = start_worker()
    macro = "{% macro m(n) %}{{ m(n) }}{% endmacro %}{{ m(1) }}"
    execution = start({"steps": [{"id": "a", "type": "transform", "config": {"value": macro}}]})

    done = finished(execution)

    assert done.status == ExecutionStatus.FAILED
    assert done.error.startswith("step 'a' failed: steps.a.config.value: template recursed too deeply")
    assert "Traceback" not in done.error
    assert done.claims == 1  # run once, not queued again by the sweep
    assert StepRun.objects.get(execution=execution, step_id="a").status == StepStatus.FAILED
    assert "RecursionError" not in worker.log()


def test_execution_whose_runner_dies_every_time_is_failed_after_the_claim_limit(start_worker, local_server):
    worker = start_worker(WORKFLOW_MAX_CLAIMS="3")
    execution = start({"steps": [{"id": "a", "type": "http", "config": {"url": local_server.url("/hang/a")}}]})

    for claim in range(1, 4):
        wait_for(
            lambda claim=claim: local_server.hits.get("/hang/a", 0) >= claim,
            timeout=60,
            message=f"claim {claim} to reach the step",
        )
        assert Execution.objects.get(pk=execution.pk).claims == claim
        pool = subprocess.run(["ps", "-o", "pid=", "--ppid", str(worker.proc.pid)], capture_output=True, text=True)
        for pid in pool.stdout.split():
            os.kill(int(pid), signal.SIGKILL)  # the runner dies mid-step: no progress, the task comes back

    done = finished(execution, timeout=90, message="the fourth claim to fail the execution")

    assert done.status == ExecutionStatus.FAILED
    assert done.error == (
        "The execution was claimed 3 times without a step finishing (its runner stopped each time); "
        "it was failed instead of being run again (WORKFLOW_MAX_CLAIMS=3)."
    )
    assert local_server.hits == {"/hang/a": 3}
    step = StepRun.objects.get(execution=execution, step_id="a")
    assert (step.status, step.error) == (StepStatus.FAILED, "not finished: the execution was claimed 3 times")


def test_heartbeat_keeps_beating_while_a_slow_template_renders(start_worker):
    start_worker(TEMPLATE_CPU_SECONDS="120", TEMPLATE_TIMEOUT_SECONDS="120")
    # About 6 s of CPU on an idle core (2 million iterations took 1.5 s, too short to count four beats).
    slow = "{% for i in range(8000) %}{% for j in range(1000) %}{% endfor %}{% endfor %}rendered"
    execution = start({"steps": [{"id": "a", "type": "transform", "config": {"value": slow}}]})
    wait_for(
        lambda: Execution.objects.filter(pk=execution.pk, status=ExecutionStatus.RUNNING).exists(),
        message="the execution to start",
    )

    beats, oldest_age = set(), 0.0
    while not Execution.objects.filter(pk=execution.pk, status__in=FINAL_STATUSES).exists():
        current = Execution.objects.get(pk=execution.pk)
        if current.status == ExecutionStatus.RUNNING and current.heartbeat_at is not None:
            beats.add(current.heartbeat_at)
            oldest_age = max(oldest_age, time.time() - current.heartbeat_at.timestamp())
        time.sleep(0.2)

    done = Execution.objects.get(pk=execution.pk)
    assert done.status == ExecutionStatus.COMPLETED, done.error
    assert done.output == {"a": "rendered"}
    # The worker beats every 0.5 s and calls a lease stale after 3 s: a render of several seconds without a beat
    # would have let another delivery take the execution over.
    assert len(beats) >= 4, beats
    assert oldest_age < 3
    assert done.claims == 1
