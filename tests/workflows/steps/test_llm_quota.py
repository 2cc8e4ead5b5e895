"""The LLM token quota, through the runner, against a local stand-in for an OpenAI-compatible server: a call is
reserved before it is made, refused when it would exceed the project's daily quota, and settled to the usage the
provider reports."""

import pytest

from projects import quotas
from projects.models import QuotaUsage
from tests.factories import WorkflowFactory
from workflows import runner
from workflows.models import Execution, ExecutionStatus, StepRun, WorkflowVersion

pytestmark = pytest.mark.django_db
COMPLETION = {
    "model": "gpt-4o-mini",
    "choices": [{"index": 0, "message": {"role": "assistant", "content": "Done."}, "finish_reason": "stop"}],
    "usage": {"prompt_tokens": 12, "completion_tokens": 5, "total_tokens": 17},
}


@pytest.fixture
def provider(server, settings):
    """The stand-in LLM server (tests/workflows/steps/conftest.py) as the operator's LLM endpoint."""
    settings.LLM_API_BASE_URL = server.url("/v1")
    settings.LLM_API_KEY = "sk-test-quota"
    server.route("/v1/chat/completions", lambda request: _reply())
    return server


def _reply():
    from tests.workflows.steps.conftest import Reply

    return Reply(json=COMPLETION)


def run_llm(workflow) -> Execution:
    version = WorkflowVersion.objects.get(workflow=workflow, version=workflow.version)
    execution = Execution.objects.create(workflow=workflow, workflow_version=version, input={})
    runner.execution_run(execution_id=execution.pk)
    execution.refresh_from_db()
    return execution


@pytest.fixture
def workflow():
    definition = {
        "steps": [{"id": "ask", "type": "llm", "config": {"prompt": "Say done.", "max_tokens": 40}, "retry": {}}]
    }
    return WorkflowFactory(definition=definition)


def test_a_call_within_the_quota_runs_and_counts_the_reported_usage(provider, workflow, settings):
    settings.QUOTA_LLM_TOKENS_PER_DAY = 100

    execution = run_llm(workflow)

    assert execution.status == ExecutionStatus.COMPLETED
    assert quotas.usage_today(project=workflow.project)["llm_tokens"] == 17  # the reservation became the usage


def test_a_call_that_would_exceed_the_quota_fails_the_step_without_calling_the_provider(provider, workflow, settings):
    settings.QUOTA_LLM_TOKENS_PER_DAY = 100
    QuotaUsage.objects.create(project=workflow.project, day=quotas.today(), llm_tokens=70)

    execution = run_llm(workflow)  # reserves 3 (prompt) + 40 (max_tokens): 70 + 43 > 100

    assert execution.status == ExecutionStatus.FAILED
    error = StepRun.objects.get(execution=execution, step_id="ask").error
    assert "would exceed the daily LLM token quota" in error
    assert "100 LLM tokens per day" in error and "00:00 UTC" in error
    assert provider.received == []
    assert quotas.usage_today(project=workflow.project)["llm_tokens"] == 70


def test_a_failed_call_gives_its_reservation_back(server, workflow, settings):
    from tests.workflows.steps.conftest import Reply

    settings.LLM_API_BASE_URL = server.url("/v1")
    settings.QUOTA_LLM_TOKENS_PER_DAY = 100
    server.route("/v1/chat/completions", Reply(status=400, json={"error": {"message": "bad request"}}))

    execution = run_llm(workflow)

    assert execution.status == ExecutionStatus.FAILED
    assert quotas.usage_today(project=workflow.project)["llm_tokens"] == 0


def test_an_unlimited_project_is_not_counted(provider, workflow, settings):
    settings.QUOTA_LLM_TOKENS_PER_DAY = 0

    assert run_llm(workflow).status == ExecutionStatus.COMPLETED
    assert not QuotaUsage.objects.filter(project=workflow.project).exists()
