"""Product metrics (prefix `aiassistant_`), recorded explicitly by services and tasks.

Labels are bounded enums only: never user, project, workflow or execution ids, model names or paths.
"""

from prometheus_client import Counter, Histogram

_DURATION_BUCKETS = (0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120, 300, 600)

WORKFLOW_EXECUTIONS = Counter(
    "aiassistant_workflow_executions_total", "Workflow executions that reached a final status.", ["status"]
)
WORKFLOW_EXECUTION_DURATION = Histogram(
    "aiassistant_workflow_execution_duration_seconds",
    "Wall time of finished workflow executions.",
    ["status"],
    buckets=_DURATION_BUCKETS,
)
WORKFLOW_STEP_DURATION = Histogram(
    "aiassistant_workflow_step_duration_seconds",
    "Wall time of finished workflow steps.",
    ["step_type", "status"],
    buckets=_DURATION_BUCKETS,
)
WORKFLOW_STEP_FAILURES = Counter(
    "aiassistant_workflow_step_failures_total", "Workflow steps that failed (after retries).", ["step_type"]
)
LLM_TOKENS = Counter("aiassistant_llm_tokens_total", "LLM tokens used by llm steps.", ["kind"])
LOGIN_ATTEMPTS = Counter("aiassistant_login_attempts_total", "Login attempts by result.", ["result"])


def record_execution_finished(*, status: str, duration_seconds: float) -> None:
    WORKFLOW_EXECUTIONS.labels(status=status).inc()
    WORKFLOW_EXECUTION_DURATION.labels(status=status).observe(duration_seconds)


def record_step_finished(*, step_type: str, status: str, duration_seconds: float) -> None:
    WORKFLOW_STEP_DURATION.labels(step_type=step_type, status=status).observe(duration_seconds)
    if status == "failed":
        WORKFLOW_STEP_FAILURES.labels(step_type=step_type).inc()


def record_llm_tokens(*, prompt_tokens: int, completion_tokens: int) -> None:
    LLM_TOKENS.labels(kind="prompt").inc(prompt_tokens)
    LLM_TOKENS.labels(kind="completion").inc(completion_tokens)


def record_login(*, result: str) -> None:
    LOGIN_ATTEMPTS.labels(result=result).inc()
