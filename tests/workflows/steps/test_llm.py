import pytest
from prometheus_client import REGISTRY as METRICS

from tests.workflows.steps.conftest import Reply
from workflows.steps import get_step_type
from workflows.steps.base import StepError

llm_step = get_step_type("llm")
API_KEY = "sk-test-0123456789abcdefSECRET"
COMPLETION = {
    "id": "chatcmpl-1",
    "object": "chat.completion",
    "model": "gpt-4o-mini-2024-07-18",
    "choices": [{"index": 0, "message": {"role": "assistant", "content": "A short summary."}, "finish_reason": "stop"}],
    "usage": {"prompt_tokens": 12, "completion_tokens": 5, "total_tokens": 17},
}


@pytest.fixture
def provider(server, settings):
    """A local OpenAI-compatible server configured as the LLM endpoint (no allow-list: it is operator-chosen)."""
    settings.LLM_API_BASE_URL = server.url("/v1")
    settings.LLM_API_KEY = API_KEY
    settings.LLM_DEFAULT_MODEL = "gpt-4o-mini"
    settings.WORKFLOW_HTTP_ALLOWED_HOSTS = []
    return server


def echo_key_error(status):
    """A provider error that reflects the Authorization header back, to prove the key is scrubbed."""
    return lambda request: Reply(
        status=status, json={"error": {"message": f"bad request, got {request.headers.get('Authorization')}"}}
    )


def run_prompt(**extra):
    return llm_step.run(config={"prompt": "Summarise this.", **extra}, timeout=5)


# --- validation (definition time) ---


def test_prompt_config_is_valid():
    assert llm_step.validate_config({"prompt": "Hi {{ input.name }}", "temperature": 0.2, "max_tokens": 100}) == {}


def test_messages_and_prompt_together_are_rejected():
    errors = llm_step.validate_config({"prompt": "a", "messages": [{"role": "user", "content": "b"}]})
    assert errors == {"config": ["give exactly one of messages or prompt"]}


def test_config_without_messages_or_prompt_is_rejected():
    assert llm_step.validate_config({"model": "m"}) == {"config": ["give exactly one of messages or prompt"]}


def test_unknown_message_role_is_rejected():
    errors = llm_step.validate_config({"messages": [{"role": "tool", "content": "x"}]})
    assert list(errors) == ["config.messages[0].role"]


def test_temperature_above_two_is_rejected():
    assert list(llm_step.validate_config({"prompt": "a", "temperature": 2.5})) == ["config.temperature"]


def test_max_tokens_must_be_an_integer():
    assert list(llm_step.validate_config({"prompt": "a", "max_tokens": 1.5})) == ["config.max_tokens"]


# --- calls against a local OpenAI-compatible server ---


def test_success_returns_text_model_and_usage(provider):
    provider.route("/v1/chat/completions", Reply(json=COMPLETION))
    assert run_prompt() == {
        "text": "A short summary.",
        "model": "gpt-4o-mini-2024-07-18",
        "usage": {"prompt_tokens": 12, "completion_tokens": 5, "total_tokens": 17},
    }


def test_prompt_is_sent_as_one_user_message_with_the_default_model(provider):
    provider.route("/v1/chat/completions", Reply(json=COMPLETION))
    run_prompt(max_tokens=50)
    assert provider.received[0].json() == {
        "model": "gpt-4o-mini",
        "messages": [{"role": "user", "content": "Summarise this."}],
        "max_tokens": 50,
    }


def test_api_key_is_sent_as_bearer_token(provider):
    provider.route("/v1/chat/completions", Reply(json=COMPLETION))
    run_prompt()
    assert provider.received[0].headers["Authorization"] == f"Bearer {API_KEY}"


def test_success_records_token_usage_metrics(provider):
    provider.route("/v1/chat/completions", Reply(json=COMPLETION))
    before = METRICS.get_sample_value("aiassistant_llm_tokens_total", {"kind": "prompt"}) or 0
    run_prompt()
    assert METRICS.get_sample_value("aiassistant_llm_tokens_total", {"kind": "prompt"}) - before == 12


def test_rate_limit_is_retryable(provider):
    provider.route("/v1/chat/completions", Reply(status=429, json={"error": {"message": "Rate limit reached"}}))
    with pytest.raises(StepError, match="HTTP 429: Rate limit reached") as failure:
        run_prompt()
    assert failure.value.retryable is True


def test_server_error_is_retryable(provider):
    provider.route("/v1/chat/completions", Reply(status=500, json={"error": {"message": "internal"}}))
    with pytest.raises(StepError) as failure:
        run_prompt()
    assert failure.value.retryable is True


def test_bad_request_fails_with_the_provider_message(provider):
    provider.route("/v1/chat/completions", Reply(status=400, json={"error": {"message": "model not found"}}))
    with pytest.raises(StepError) as failure:
        run_prompt()
    assert (str(failure.value), failure.value.retryable) == ("LLM provider answered HTTP 400: model not found", False)


@pytest.mark.parametrize("status", [400, 401, 429, 500])
def test_api_key_is_absent_from_error_text(provider, status):
    provider.route("/v1/chat/completions", echo_key_error(status))
    with pytest.raises(StepError) as failure:
        run_prompt()
    assert API_KEY not in f"{failure.value} {failure.value!r} {failure.value.args}"


def test_long_provider_message_is_truncated(provider):
    provider.route("/v1/chat/completions", Reply(status=400, json={"error": {"message": "x" * 5000}}))
    with pytest.raises(StepError) as failure:
        run_prompt()
    assert len(str(failure.value)) < 400


def test_malformed_response_fails(provider):
    provider.route("/v1/chat/completions", Reply(json={"unexpected": True}))
    with pytest.raises(StepError, match="malformed response") as failure:
        run_prompt()
    assert failure.value.retryable is False


def test_slow_provider_times_out_as_retryable(provider):
    provider.route("/v1/chat/completions", Reply(json=COMPLETION, delay=2))
    with pytest.raises(StepError, match="did not answer within 0.5s") as failure:
        llm_step.run(config={"prompt": "a"}, timeout=0.5)
    assert failure.value.retryable is True


def test_unreachable_provider_is_retryable(provider):
    provider.close()
    with pytest.raises(StepError, match="could not reach the LLM provider") as failure:
        run_prompt()
    assert failure.value.retryable is True


def test_non_http_base_url_is_refused(settings):
    settings.LLM_API_BASE_URL = "ftp://llm.internal/v1"
    with pytest.raises(StepError, match="LLM_API_BASE_URL is not an http"):
        run_prompt()


def test_messages_and_temperature_are_sent_as_given(provider):
    provider.route("/v1/chat/completions", Reply(json=COMPLETION))
    messages = [{"role": "system", "content": "Be brief."}, {"role": "user", "content": "Hi"}]
    llm_step.run(config={"model": "local-model", "messages": messages, "temperature": 0.3}, timeout=5)
    assert provider.received[0].json() == {"model": "local-model", "messages": messages, "temperature": 0.3}
