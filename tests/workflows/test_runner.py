"""The runner, in-process (the real-worker path is in tasks/test_journey.py and tasks/test_crash_recovery.py)."""

import threading
import time
from datetime import timedelta
from unittest import mock

import pytest
from django.db import connection, transaction
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from audit.models import ModelHistory
from tests.factories import WorkflowFactory
from tests.support import wait_for
from workflows import claims, runner
from workflows.models import Execution, ExecutionStatus, StepRun, StepStatus, WorkflowVersion
from workflows.records import StepRecords
from workflows.steps import REGISTRY
from workflows.steps.base import StepError, StepType
from workflows.templating import isolation

pytestmark = pytest.mark.django_db


class ScriptedStep(StepType):
    """A step type for tests: each call pops the next scripted result (an exception is raised)."""

    name = "scripted"
    default_retry = {"max_attempts": 1, "backoff_seconds": 0.0}

    def __init__(self, script=None, *, hold: threading.Event | None = None, ignore_timeout: float = 0):
        self.script = list(script or [])
        self.calls: list[dict] = []
        self.hold = hold
        self.ignore_timeout = ignore_timeout
        self.entered = threading.Event()

    def run(self, *, config, timeout):
        self.calls.append({"config": config, "timeout": timeout, "at": time.monotonic()})
        self.entered.set()
        if self.hold is not None:
            self.hold.wait(timeout=self.ignore_timeout or timeout)
        result = self.script.pop(0) if self.script else {"ok": True}
        if isinstance(result, Exception):
            raise result
        return result


@pytest.fixture
def scripted(monkeypatch):
    def register(script=None, **kwargs) -> ScriptedStep:
        step = ScriptedStep(script, **kwargs)
        monkeypatch.setitem(REGISTRY, "scripted", step)
        return step

    return register


def make_execution(definition, input=None, **fields) -> Execution:
    workflow = WorkflowFactory(definition=definition)
    version = WorkflowVersion.objects.get(workflow=workflow, version=1)
    return Execution.objects.create(workflow=workflow, workflow_version=version, input=input or {}, **fields)


def steps(*specs, output=None) -> dict:
    definition = {"steps": [dict(spec) for spec in specs]}
    if output is not None:
        definition["output"] = output
    return definition


def run(execution: Execution) -> Execution:
    runner.execution_run(execution_id=execution.pk)
    execution.refresh_from_db()
    return execution


def step_runs(execution) -> dict[str, StepRun]:
    return {run.step_id: run for run in StepRun.objects.filter(execution=execution)}


def test_transform_chain_completes_with_rendered_output_and_step_records():
    execution = make_execution(
        steps(
            {"id": "a", "type": "transform", "config": {"value": {"n": "{{ input.n }}"}}},
            {"id": "b", "type": "transform", "depends_on": ["a"], "config": {"value": "{{ steps.a.output.n * 2 }}"}},
            output={"doubled": "{{ steps.b.output }}", "project": "{{ project.slug }}"},
        ),
        input={"n": 21},
    )
    execution = run(execution)
    assert execution.status == ExecutionStatus.COMPLETED
    assert execution.output == {"doubled": 42, "project": execution.workflow.project.slug}
    assert execution.started_at <= execution.finished_at
    records = step_runs(execution)
    assert {k: (r.status, r.attempts, r.output) for k, r in records.items()} == {
        "a": (StepStatus.COMPLETED, 1, {"n": 21}),
        "b": (StepStatus.COMPLETED, 1, 42),
    }


def test_pure_steps_run_inline_and_are_written_with_the_final_status_in_one_transaction():
    execution = make_execution(
        steps(
            {"id": "a", "type": "transform", "config": {"value": 1}},
            {"id": "b", "type": "transform", "depends_on": ["a"], "config": {"value": "{{ steps.a.output + 1 }}"}},
            {"id": "c", "type": "transform", "depends_on": ["b"], "config": {"value": "{{ steps.b.output + 1 }}"}},
        )
    )
    with CaptureQueriesContext(connection) as queries:
        execution = run(execution)
    assert execution.output == {"a": 1, "b": 2, "c": 3}
    statements = [query["sql"] for query in queries.captured_queries]
    # The claim and the final status: two commits (savepoints in a test); no read of step records on a first
    # claim, one INSERT of all three.
    assert sum(sql == "COMMIT" or sql.startswith("RELEASE SAVEPOINT") for sql in statements) == 2
    assert not any(sql.startswith("SELECT") and "workflows_steprun" in sql for sql in statements)
    assert sum(sql.startswith('INSERT INTO "workflows_steprun"') for sql in statements) == 1
    assert {k: (r.status, r.attempts) for k, r in step_runs(execution).items()} == dict.fromkeys(
        "abc", (StepStatus.COMPLETED, 1)
    )
    assert not any(thread.name.startswith("step") for thread in threading.enumerate())


def test_pure_results_are_durable_before_a_side_effecting_step_starts(scripted):
    scripted()
    execution = make_execution(
        steps(
            {"id": "a", "type": "transform", "config": {"value": 1}},
            {"id": "b", "type": "scripted", "depends_on": ["a"], "config": {}},
        )
    )
    seen = {}
    original = StepRecords.start

    def start(records, step):
        seen[step["id"]] = list(StepRun.objects.filter(execution=execution).values_list("step_id", "status"))
        return original(records, step)

    with mock.patch.object(StepRecords, "start", start):
        execution = run(execution)
    assert execution.status == ExecutionStatus.COMPLETED
    assert seen == {"b": [("a", StepStatus.COMPLETED)]}


@pytest.fixture
def renderer_requests(monkeypatch) -> list[str]:
    """The operations sent to the (real) renderer processes."""
    sent: list[str] = []
    original = isolation.RendererPool.request

    def request(pool, payload, **kwargs):
        sent.append(payload["op"])
        return original(pool, payload, **kwargs)

    monkeypatch.setattr(isolation.RendererPool, "request", request)
    return sent


def chained(*values, output=None) -> dict:
    """Transform steps a, b, c... each depending on the one before, with these config values."""
    ids = "abcdefgh"
    return steps(
        *(
            {
                "id": ids[i],
                "type": "transform",
                "config": {"value": value},
                **({"depends_on": [ids[i - 1]]} if i else {}),
            }
            for i, value in enumerate(values)
        ),
        output=output,
    )


def test_a_chain_of_pure_steps_and_the_output_are_rendered_in_one_renderer_round_trip(renderer_requests):
    execution = run(
        make_execution(
            chained(
                "{{ input.name }}",
                "{{ steps.a.output | upper }}",
                "{{ steps.b.output | length }}",
                output={"shout": "{{ steps.b.output }}", "count": "{{ steps.c.output }}"},
            ),
            input={"name": "ada"},
        )
    )
    assert (execution.status, execution.output) == (ExecutionStatus.COMPLETED, {"shout": "ADA", "count": 3})
    assert {k: r.output for k, r in step_runs(execution).items()} == {"a": "ada", "b": "ADA", "c": 3}
    assert renderer_requests == ["chain"]  # four renders before, four round trips


def test_a_render_error_in_a_chain_is_reported_by_the_steps_own_render(renderer_requests):
    execution = run(
        make_execution(chained("{{ input.n }}", "{{ steps.a.output / 0 }}", "{{ steps.b.output }}"), {"n": 1})
    )
    assert execution.status == ExecutionStatus.FAILED
    records = step_runs(execution)
    assert records["a"].output == 1
    assert records["b"].status == StepStatus.FAILED
    assert records["b"].error.startswith("steps.b.config.value: ZeroDivisionError")
    assert records["c"].status == StepStatus.SKIPPED
    assert renderer_requests == ["chain", "render"]


def test_renders_that_assumed_the_output_of_a_step_that_failed_are_done_again(renderer_requests, settings):
    settings.WORKFLOW_STEP_OUTPUT_MAX_BYTES = 100
    definition = steps(
        {"id": "big", "type": "transform", "config": {"value": "{{ 'x' * 200 }}"}},  # over the cap: fails
        {"id": "small", "type": "transform", "config": {"value": "{{ input.n }}"}},
        {"id": "after", "type": "transform", "depends_on": ["big", "small"], "config": {"value": "{{ 1 }}"}},
    )
    execution = run(make_execution(definition, {"n": 5}))
    records = step_runs(execution)
    assert "over the limit of 100 bytes" in records["big"].error
    assert (records["small"].status, records["small"].output) == (StepStatus.COMPLETED, 5)
    assert records["after"].status == StepStatus.SKIPPED
    assert renderer_requests == ["chain", "render"]  # "small" again, on its own


def test_a_step_with_secrets_ends_a_chain(renderer_requests, monkeypatch):
    monkeypatch.setattr(runner, "project_secrets_use", lambda **kwargs: {"TOKEN": "s3cr3t-value"})
    definition = chained(
        "{{ input.n }}", "{{ steps.a.output + 1 }}", "{{ secrets.TOKEN | length }}", "{{ steps.c.output }}"
    )
    execution = run(make_execution(definition, {"n": 1}))
    assert execution.output == {"a": 1, "b": 2, "c": 12, "d": 12}
    assert renderer_requests == ["chain", "render", "render"]  # a and b; c with its secret; d alone


def test_a_cancellation_is_seen_between_pure_levels_once_a_heartbeat_is_due(settings):
    settings.WORKFLOW_HEARTBEAT_INTERVAL = 0
    execution = make_execution(
        steps(
            {"id": "a", "type": "transform", "config": {"value": 1}},
            {"id": "b", "type": "transform", "depends_on": ["a"], "config": {"value": 2}},
        )
    )
    original = StepRecords.end_pure

    def end_pure(records, step, outcome, **kwargs):
        Execution.objects.filter(pk=execution.pk).update(cancel_requested=True)
        return original(records, step, outcome, **kwargs)

    with mock.patch.object(StepRecords, "end_pure", end_pure):
        execution = run(execution)
    assert execution.status == ExecutionStatus.CANCELLED
    assert {k: r.status for k, r in step_runs(execution).items()} == {
        "a": StepStatus.COMPLETED,
        "b": StepStatus.SKIPPED,
    }


def test_output_defaults_to_every_step_output():
    execution = run(make_execution(steps({"id": "a", "type": "transform", "config": {"value": 1}})))
    assert execution.output == {"a": 1}


def test_execution_context_is_available_to_templates():
    execution = run(make_execution(steps({"id": "a", "type": "transform", "config": {"value": "{{ execution.id }}"}})))
    assert execution.output == {"a": str(execution.id)}


def test_independent_steps_of_a_level_run_concurrently(scripted):
    hold = threading.Event()
    step = scripted(hold=hold)
    execution = make_execution(
        steps({"id": "a", "type": "scripted", "config": {}}, {"id": "b", "type": "scripted", "config": {}})
    )

    def release_when_both_started():
        wait_for(lambda: len(step.calls) == 2, timeout=10, message="both steps to start")
        hold.set()

    releaser = threading.Thread(target=release_when_both_started)
    releaser.start()
    execution = run(execution)
    releaser.join()
    assert execution.status == ExecutionStatus.COMPLETED
    assert len(step.calls) == 2


def test_failed_step_fails_execution_and_skips_later_steps(scripted):
    scripted([StepError("boom")])
    execution = run(
        make_execution(
            steps(
                {"id": "a", "type": "scripted", "config": {}},
                {"id": "b", "type": "transform", "depends_on": ["a"], "config": {"value": 1}},
            )
        )
    )
    assert execution.status == ExecutionStatus.FAILED
    assert execution.error == "step 'a' failed: boom"
    records = step_runs(execution)
    assert (records["a"].status, records["a"].error, records["a"].attempts) == (StepStatus.FAILED, "boom", 1)
    assert (records["b"].status, records["b"].error) == (StepStatus.SKIPPED, "not run: step 'a' failed")
    assert execution.output is None


def test_retryable_error_is_retried_with_exponential_backoff(scripted):
    step = scripted([StepError("busy", retryable=True), StepError("busy", retryable=True), {"fine": 1}])
    execution = make_execution(
        steps({"id": "a", "type": "scripted", "config": {}, "retry": {"max_attempts": 3, "backoff_seconds": 0.1}})
    )
    execution = run(execution)
    assert execution.status == ExecutionStatus.COMPLETED
    assert step_runs(execution)["a"].attempts == 3
    times = [call["at"] for call in step.calls]
    first_gap, second_gap = times[1] - times[0], times[2] - times[1]
    assert 0.1 <= first_gap < 0.2
    assert 0.2 <= second_gap < 0.4


def test_provider_retry_after_hint_lengthens_the_backoff(scripted):
    step = scripted([StepError("429", retryable=True, retry_after_seconds=0.3), {"fine": 1}])
    execution = make_execution(
        steps({"id": "a", "type": "scripted", "config": {}, "retry": {"max_attempts": 2, "backoff_seconds": 0.01}})
    )
    assert run(execution).status == ExecutionStatus.COMPLETED
    assert step.calls[1]["at"] - step.calls[0]["at"] >= 0.3


def test_retries_stop_at_max_attempts_with_a_clear_error(scripted):
    scripted([StepError("HTTP 500", retryable=True)] * 5)
    execution = run(
        make_execution(
            steps({"id": "a", "type": "scripted", "config": {}, "retry": {"max_attempts": 2, "backoff_seconds": 0}})
        )
    )
    assert execution.status == ExecutionStatus.FAILED
    record = step_runs(execution)["a"]
    assert (record.attempts, record.error) == (2, "HTTP 500 (after 2 attempts)")


def test_non_retryable_error_is_not_retried(scripted):
    step = scripted([StepError("bad request", retryable=False)])
    execution = run(
        make_execution(
            steps({"id": "a", "type": "scripted", "config": {}, "retry": {"max_attempts": 5, "backoff_seconds": 0}})
        )
    )
    assert execution.status == ExecutionStatus.FAILED
    assert len(step.calls) == 1


def test_step_type_default_retry_applies_without_step_retry(scripted):
    step = scripted([StepError("flaky", retryable=True), {"ok": 1}])
    step.default_retry = {"max_attempts": 2, "backoff_seconds": 0}
    execution = run(make_execution(steps({"id": "a", "type": "scripted", "config": {}})))
    assert execution.status == ExecutionStatus.COMPLETED
    assert step_runs(execution)["a"].attempts == 2


def test_step_timeout_is_passed_to_the_step(scripted):
    step = scripted()
    run(make_execution(steps({"id": "a", "type": "scripted", "config": {}, "timeout_seconds": 7})))
    assert step.calls[0]["timeout"] == pytest.approx(7)


def test_default_step_timeout_is_the_setting(scripted, settings):
    settings.WORKFLOW_STEP_DEFAULT_TIMEOUT = 12
    step = scripted()
    run(make_execution(steps({"id": "a", "type": "scripted", "config": {}})))
    assert step.calls[0]["timeout"] == pytest.approx(12)


def test_step_config_is_rendered_before_the_step_runs(scripted):
    step = scripted()
    run(make_execution(steps({"id": "a", "type": "scripted", "config": {"q": "{{ input.q }}"}}), input={"q": [1]}))
    assert step.calls[0]["config"] == {"q": [1]}


def test_template_error_at_run_time_fails_the_step_with_its_path():
    execution = run(make_execution(steps({"id": "a", "type": "transform", "config": {"value": "{{ input.missing }}"}})))
    assert execution.status == ExecutionStatus.FAILED
    assert "steps.a.config.value" in step_runs(execution)["a"].error


def test_step_output_over_the_cap_fails_the_step(scripted, settings):
    settings.WORKFLOW_STEP_OUTPUT_MAX_BYTES = 100
    scripted([{"blob": "x" * 200}])
    execution = run(make_execution(steps({"id": "a", "type": "scripted", "config": {}})))
    assert execution.status == ExecutionStatus.FAILED
    record = step_runs(execution)["a"]
    assert "over the limit of 100 bytes" in record.error
    assert record.output is None


def test_llm_key_and_credential_headers_are_never_stored(scripted, settings):
    settings.LLM_API_KEY = "sk-test-secret-123456"
    scripted(
        [
            {"text": "the key is sk-test-secret-123456", "headers": {"Authorization": "Bearer x", "X-Ok": "1"}},
            StepError("provider said sk-test-secret-123456"),
        ]
    )
    execution = run(
        make_execution(
            steps(
                {"id": "a", "type": "scripted", "config": {}},
                {"id": "b", "type": "scripted", "depends_on": ["a"], "config": {}},
                output={"a": "{{ steps.a.output }}"},
            )
        )
    )
    records = step_runs(execution)
    assert records["a"].output == {
        "text": "the key is [redacted]",
        "headers": {"Authorization": "[redacted]", "X-Ok": "1"},
    }
    assert records["b"].error == "provider said [redacted]"
    assert "sk-test-secret" not in execution.error
    stored = str(list(StepRun.objects.values_list("output", "error"))) + str(execution.output) + execution.error
    assert "sk-test-secret-123456" not in stored


def test_resume_skips_completed_steps_and_reuses_their_output(scripted):
    step = scripted([{"second": True}])
    execution = make_execution(
        steps(
            {"id": "a", "type": "scripted", "config": {}},
            {"id": "b", "type": "scripted", "depends_on": ["a"], "config": {"from_a": "{{ steps.a.output.first }}"}},
        ),
        status=ExecutionStatus.RUNNING,
        started_at=timezone.now(),
        heartbeat_at=timezone.now() - timedelta(hours=1),
        runner_id="dead-worker",
    )
    StepRun.objects.create(
        execution=execution, step_id="a", type="scripted", status=StepStatus.COMPLETED, attempts=1, output={"first": 7}
    )
    StepRun.objects.create(execution=execution, step_id="b", type="scripted", status=StepStatus.RUNNING, attempts=1)
    execution = run(execution)
    assert execution.status == ExecutionStatus.COMPLETED
    assert [(call["config"], call["timeout"]) for call in step.calls] == [({"from_a": 7}, pytest.approx(30))]
    records = step_runs(execution)
    assert (records["a"].attempts, records["b"].attempts) == (1, 2)


def test_a_live_runner_makes_a_duplicate_delivery_back_off():
    execution = make_execution(
        steps({"id": "a", "type": "transform", "config": {"value": 1}}),
        status=ExecutionStatus.RUNNING,
        started_at=timezone.now(),
        heartbeat_at=timezone.now(),
        runner_id="live-worker",
    )
    with pytest.raises(claims.ExecutionBusy):
        runner.execution_run(execution_id=execution.pk)
    execution.refresh_from_db()
    assert (execution.status, execution.runner_id) == (ExecutionStatus.RUNNING, "live-worker")
    assert not StepRun.objects.filter(execution=execution).exists()


@pytest.mark.parametrize("status", [ExecutionStatus.COMPLETED, ExecutionStatus.FAILED, ExecutionStatus.CANCELLED])
def test_a_finished_execution_is_left_alone(status, scripted):
    step = scripted()
    execution = make_execution(steps({"id": "a", "type": "scripted", "config": {}}), status=status)
    assert run(execution).status == status
    assert step.calls == []


def test_cancel_requested_before_the_run_cancels_without_running_steps(scripted):
    step = scripted()
    execution = make_execution(
        steps({"id": "a", "type": "scripted", "config": {}}),
        status=ExecutionStatus.RUNNING,
        cancel_requested=True,
        started_at=timezone.now(),
    )
    assert run(execution).status == ExecutionStatus.CANCELLED
    assert step.calls == []


def test_execution_time_limit_fails_the_execution(scripted, settings):
    settings.WORKFLOW_EXECUTION_TIME_LIMIT = 1
    settings.WORKFLOW_HEARTBEAT_INTERVAL = 0.2
    scripted(hold=threading.Event(), ignore_timeout=3)  # a step that overruns the time it was given
    execution = make_execution(
        steps(
            {"id": "slow", "type": "scripted", "config": {}},
            {"id": "after", "type": "transform", "depends_on": ["slow"], "config": {"value": 1}},
        )
    )
    started = time.monotonic()
    execution = run(execution)
    assert time.monotonic() - started < 5
    assert execution.status == ExecutionStatus.FAILED
    assert "time limit" in execution.error
    records = step_runs(execution)
    assert records["slow"].status == StepStatus.FAILED
    assert records["after"].status == StepStatus.SKIPPED


@pytest.mark.parametrize(("step_type", "hook"), [("scripted", "start"), ("transform", "end_pure")])
def test_lost_lease_stops_the_runner_without_writing_a_final_status(scripted, step_type, hook):
    scripted()
    execution = make_execution(steps({"id": "a", "type": step_type, "config": {"value": 1}}))

    def steal(*args, **kwargs):
        Execution.objects.filter(pk=execution.pk).update(runner_id="someone-else")
        return original(*args, **kwargs)

    original = getattr(StepRecords, hook)
    with mock.patch.object(StepRecords, hook, steal):
        runner.execution_run(execution_id=execution.pk)
    execution.refresh_from_db()
    assert (execution.status, execution.runner_id) == (ExecutionStatus.RUNNING, "someone-else")
    if step_type == "transform":  # its record waited for the final status, which was refused
        assert not StepRun.objects.filter(execution=execution).exists()


def test_metrics_are_recorded_for_steps_and_the_execution():
    execution = make_execution(steps({"id": "a", "type": "transform", "config": {"value": 1}}))
    with (
        mock.patch("workflows.records.record_step_finished") as step_metric,
        mock.patch("workflows.runner.record_execution_finished") as execution_metric,
    ):
        run(execution)
    step_metric.assert_called_once()
    assert step_metric.call_args.kwargs["step_type"] == "transform"
    assert step_metric.call_args.kwargs["status"] == "completed"
    execution_metric.assert_called_once()
    assert execution_metric.call_args.kwargs["status"] == "completed"


@pytest.mark.django_db(transaction=True)
def test_cancel_while_a_step_runs_stops_at_the_next_boundary(scripted, settings):
    settings.WORKFLOW_HEARTBEAT_INTERVAL = 0.1
    hold = threading.Event()
    step = scripted(hold=hold)
    execution = make_execution(
        steps(
            {"id": "a", "type": "scripted", "config": {}},
            {"id": "b", "type": "transform", "depends_on": ["a"], "config": {"value": 1}},
        )
    )

    def work():
        try:
            runner.execution_run(execution_id=execution.pk)
        finally:
            connection.close()

    thread = threading.Thread(target=work)
    thread.start()
    assert step.entered.wait(timeout=10)
    Execution.objects.filter(pk=execution.pk).update(cancel_requested=True)
    time.sleep(0.3)  # the runner notices at its next heartbeat and stops retries; the running step goes on
    hold.set()
    thread.join(timeout=10)
    execution.refresh_from_db()
    assert execution.status == ExecutionStatus.CANCELLED
    records = step_runs(execution)
    assert (records["a"].status, records["b"].status) == (StepStatus.COMPLETED, StepStatus.SKIPPED)


def test_step_threads_carry_the_log_context(monkeypatch):
    from common import logging as log_context

    seen = {}

    class ContextStep(ScriptedStep):
        def run(self, *, config, timeout):
            seen.update(log_context.get_context())
            return {"ok": True}

    monkeypatch.setitem(REGISTRY, "scripted", ContextStep())
    execution = make_execution(steps({"id": "a", "type": "scripted", "config": {}}))
    with log_context.bound(request_id="req-123"):
        run(execution)
    assert seen.get("request_id") == "req-123"


# -- executions that could stay running forever (issue 12) ------------------------------------------------------


def test_recursive_macro_fails_the_step_and_the_execution():
    macro = "{% macro m(n) %}{{ m(n) }}{% endmacro %}{{ m(1) }}"
    execution = run(make_execution(steps({"id": "a", "type": "transform", "config": {"value": macro}})))
    assert execution.status == ExecutionStatus.FAILED
    assert execution.error.startswith("step 'a' failed: steps.a.config.value: template recursed too deeply")
    assert step_runs(execution)["a"].status == StepStatus.FAILED


def test_unexpected_exception_while_preparing_fails_the_step_with_one_line_logged_once(monkeypatch, caplog):
    def render_that_recurses(*args, **kwargs):  # stands in for any bug below the runner while it prepares a step
        raise RecursionError("maximum recursion depth exceeded")

    monkeypatch.setattr(runner, "render", render_that_recurses)
    execution = run(make_execution(steps({"id": "a", "type": "transform", "config": {"value": "{{ 1 }}"}})))
    assert execution.status == ExecutionStatus.FAILED
    record = step_runs(execution)["a"]
    assert (record.status, record.error) == (
        StepStatus.FAILED,
        "unexpected error while preparing the step (RecursionError)",
    )
    assert "Traceback" not in execution.error
    errors = [entry for entry in caplog.records if entry.levelname == "ERROR"]
    assert len(errors) == 1
    assert "RecursionError: maximum recursion depth exceeded" in errors[0].exc_text  # the traceback (redacted)


def test_unexpected_exception_while_rendering_the_output_fails_the_execution(monkeypatch, caplog):
    calls = []

    def render_that_fails_the_second_time(value, context, **kwargs):  # the step renders, the output does not
        calls.append(value)
        if len(calls) > 1:
            raise RecursionError("maximum recursion depth exceeded")
        return value

    monkeypatch.setattr(runner, "render", render_that_fails_the_second_time)
    execution = run(make_execution(steps({"id": "a", "type": "transform", "config": {"value": 1}}, output="{{ 1 }}")))
    assert (execution.status, execution.error) == (
        ExecutionStatus.FAILED,
        "output: unexpected error while rendering the output (RecursionError)",
    )
    [error] = [entry for entry in caplog.records if entry.levelname == "ERROR"]
    assert "RecursionError" in error.exc_text


def stale_execution(definition, **fields) -> Execution:
    return make_execution(
        definition,
        status=ExecutionStatus.RUNNING,
        started_at=timezone.now(),
        heartbeat_at=timezone.now() - timedelta(hours=1),
        runner_id="dead-worker",
        **fields,
    )


def test_execution_claimed_the_maximum_times_without_progress_is_failed(scripted, settings):
    settings.WORKFLOW_MAX_CLAIMS = 5
    step = scripted()
    execution = stale_execution(steps({"id": "a", "type": "scripted", "config": {}}), claims=5)
    StepRun.objects.create(execution=execution, step_id="a", type="scripted", status=StepStatus.RUNNING, attempts=5)
    execution = run(execution)
    assert execution.status == ExecutionStatus.FAILED
    assert execution.error == (
        "The execution was claimed 5 times without a step finishing (its runner stopped each time); "
        "it was failed instead of being run again (WORKFLOW_MAX_CLAIMS=5)."
    )
    assert step.calls == []
    record = step_runs(execution)["a"]
    assert (record.status, record.error) == (StepStatus.FAILED, "not finished: the execution was claimed 5 times")


def test_each_claim_without_progress_is_counted(scripted):
    scripted([StepError("boom")])
    execution = stale_execution(steps({"id": "a", "type": "scripted", "config": {}}), claims=2)
    execution = run(execution)
    assert execution.claims == 3


def test_a_step_finished_since_the_last_claim_resets_the_count(scripted, settings):
    settings.WORKFLOW_MAX_CLAIMS = 5
    scripted()
    execution = stale_execution(
        steps({"id": "a", "type": "scripted", "config": {}}, {"id": "b", "type": "scripted", "config": {}}),
        claims=5,
        claims_progress=0,
    )
    StepRun.objects.create(execution=execution, step_id="a", type="scripted", status=StepStatus.COMPLETED, attempts=1)
    execution = run(execution)
    assert execution.status == ExecutionStatus.COMPLETED
    assert (execution.claims, execution.claims_progress) == (1, 1)


def test_first_claim_counts_without_reading_the_steps():
    execution = make_execution(steps({"id": "a", "type": "transform", "config": {"value": 1}}))
    with CaptureQueriesContext(connection) as queries:
        run(execution)
    assert execution.claims == 1
    claim = [query["sql"] for query in queries.captured_queries if "workflows_steprun" in query["sql"]]
    assert not any("COUNT(" in sql for sql in claim)


def test_a_first_claim_is_one_statement_with_the_same_history_as_any_claim():
    execution = make_execution(steps({"id": "a", "type": "transform", "config": {"value": "{{ project.slug }}"}}))
    with CaptureQueriesContext(connection) as queries:
        claims.claim(execution.pk, "runner-1")
    statements = [query["sql"] for query in queries.captured_queries if not query["sql"].startswith("SAVEPOINT")]
    assert statements[0].lstrip().startswith("UPDATE workflows_execution AS e")
    assert not any("FOR UPDATE" in sql for sql in statements)
    assert len([sql for sql in statements if not sql.startswith("RELEASE")]) == 2  # the claim and its history
    execution.refresh_from_db()
    assert (execution.status, execution.runner_id, execution.claims) == (ExecutionStatus.RUNNING, "runner-1", 1)
    assert execution.started_at == execution.heartbeat_at
    entry = ModelHistory.objects.filter(object_pk=str(execution.pk)).latest("timestamp")
    assert entry.changes == {"status": [ExecutionStatus.PENDING, ExecutionStatus.RUNNING]}
    assert entry.object_repr == str(execution)
    assert entry.additional_data == {"project_id": str(execution.workflow.project_id)}


@pytest.mark.parametrize(
    "fields",
    [
        {"status": ExecutionStatus.RUNNING, "heartbeat_at": timezone.now(), "runner_id": "other"},  # live: busy
        {"cancel_requested": True},
        {"claims": 1},
    ],
    ids=["running", "cancel-requested", "claimed-before"],
)
def test_anything_but_a_first_claim_takes_the_locked_read(fields):
    execution = make_execution(steps({"id": "a", "type": "transform", "config": {"value": 1}}), **fields)
    assert claims._first_claim(execution.pk, "runner-1") is None
    execution.refresh_from_db()
    assert execution.runner_id == fields.get("runner_id", "")


@pytest.mark.django_db(transaction=True)
def test_two_deliveries_claiming_at_once_give_one_holder():
    execution = make_execution(steps({"id": "a", "type": "transform", "config": {"value": 1}}))
    holding, release, outcome = threading.Event(), threading.Event(), {}

    def first_delivery():
        with transaction.atomic():
            outcome["first"] = claims._first_claim(execution.pk, "runner-1")
            holding.set()
            release.wait(10)  # the row stays locked, uncommitted
        connection.close()

    def second_delivery():
        try:
            outcome["second"] = claims.claim(execution.pk, "runner-2")
        except claims.ExecutionBusy as exc:
            outcome["second"] = exc
        finally:
            connection.close()

    first = threading.Thread(target=first_delivery)
    first.start()
    assert holding.wait(10)
    second = threading.Thread(target=second_delivery)
    second.start()
    second.join(0.5)
    assert second.is_alive()  # waiting for the first one's row lock
    release.set()
    first.join(10)
    second.join(10)
    assert outcome["first"] is not None
    assert isinstance(outcome["second"], claims.ExecutionBusy)
    execution.refresh_from_db()
    assert (execution.runner_id, execution.claims) == ("runner-1", 1)


def test_a_pinned_definition_is_read_once_per_process():
    execution = make_execution(steps({"id": "a", "type": "transform", "config": {"value": 1}}))
    runner._pinned_definition.cache_clear()
    with CaptureQueriesContext(connection) as queries:
        first = runner._pinned_definition(execution.workflow_version_id)
        again = runner._pinned_definition(execution.workflow_version_id)
    assert first is again
    assert first == execution.workflow_version.definition
    assert len(queries.captured_queries) == 1


def test_unexpected_exception_in_the_runner_fails_the_execution(monkeypatch, caplog):
    def step_levels_with_a_bug(definition):  # stands in for a bug in the runner itself
        raise ValueError("the definition has a dependency cycle")

    monkeypatch.setattr(runner, "step_levels", step_levels_with_a_bug)
    execution = run(make_execution(steps({"id": "a", "type": "transform", "config": {"value": 1}})))
    assert (execution.status, execution.error) == (
        ExecutionStatus.FAILED,
        "The execution failed: unexpected error while running it (ValueError).",
    )
    [error] = [entry for entry in caplog.records if entry.levelname == "ERROR"]
    assert "ValueError" in error.exc_text
