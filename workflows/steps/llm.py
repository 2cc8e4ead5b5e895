"""llm: one OpenAI-compatible Chat Completions call (POST {LLM_API_BASE_URL}/chat/completions).

The endpoint is chosen by the operator (settings), not by workflow authors, so it does not go through the
SSRF guard (it may well be a private inference server); it must be an http(s) URL. The API key is sent only in
the Authorization header and is scrubbed from every message this module produces.
Output: ``{"text", "model", "usage": {"prompt_tokens", "completion_tokens", "total_tokens"}}``.
"""

import json
import re

import httpx
from django.conf import settings

from common import redaction
from common.metrics import record_llm_tokens
from workflows.steps.base import ConfigErrors, StepError, StepType
from workflows.steps.transport import read_capped, retry_after_seconds

ROLES = ("system", "user", "assistant")
# Quota reservation before a call: about 4 characters a token for the prompt, and the completion's max_tokens, or
# this many when the config sets none. The provider's reported usage replaces the estimate afterwards.
CHARS_PER_TOKEN = 4
COMPLETION_TOKENS_ESTIMATE = 1024
ERROR_MESSAGE_CHARS = 300
_CONTROL = re.compile(r"[\x00-\x1f\x7f]+")


def _scrub(text: str) -> str:
    """Make provider text safe to store: no API key (nor other secret), no control characters, bounded length."""
    text = _CONTROL.sub(" ", redaction.for_storage((settings.LLM_API_KEY,)).text(text)).strip()
    return text if len(text) <= ERROR_MESSAGE_CHARS else text[:ERROR_MESSAGE_CHARS] + "..."


def _provider_message(body: bytes) -> str:
    text = body.decode("utf-8", errors="replace")
    try:
        data = json.loads(text)
    except ValueError:
        return _scrub(text)
    error = data.get("error") if isinstance(data, dict) else None
    if isinstance(error, dict) and isinstance(error.get("message"), str):
        return _scrub(error["message"])
    if isinstance(error, str):
        return _scrub(error)
    if isinstance(data, dict) and isinstance(data.get("message"), str):
        return _scrub(data["message"])
    return _scrub(text)


def _usage_count(usage: dict, key: str) -> int:
    value = usage.get(key, 0)
    if isinstance(value, bool) or not isinstance(value, int) or value < 0:
        raise StepError(f"malformed response from the LLM provider: usage.{key} is not a count")
    return value


class LlmStep(StepType):
    """A chat completion; 429, 5xx and timeouts are retryable, other provider errors are not."""

    name = "llm"
    default_retry = {"max_attempts": 3, "backoff_seconds": 1.0}

    def config_errors(self, config: dict, *, rendered: bool) -> dict[str, list[str]]:
        check = ConfigErrors(config, rendered=rendered)
        check.unknown_keys({"model", "messages", "prompt", "temperature", "max_tokens"})
        check.string("model")
        if ("messages" in config) == ("prompt" in config):
            check.add("config", "give exactly one of messages or prompt")
        check.string("prompt")
        self._check_messages(check)
        check.number("temperature", minimum=0, maximum=2)
        check.number("max_tokens", minimum=1, maximum=32768, integer=True)
        return check.errors

    @staticmethod
    def _check_messages(check: ConfigErrors) -> None:
        messages = check.config.get("messages")
        if "messages" not in check.config or check.is_unrendered_template(messages):
            return
        if not isinstance(messages, list) or not messages:
            check.add("config.messages", "must be a non-empty list of {role, content} objects")
            return
        for index, message in enumerate(messages):
            path = f"config.messages[{index}]"
            if not isinstance(message, dict):
                check.add(path, "must be an object with role and content")
                continue
            for key in message:
                if key not in ("role", "content"):
                    check.add(f"{path}.{key}", "unknown key; allowed: content, role")
            role, content = message.get("role"), message.get("content")
            if not check.is_unrendered_template(role) and role not in ROLES:
                check.add(f"{path}.role", f"must be one of {', '.join(ROLES)}")
            if "content" not in message:
                check.add(f"{path}.content", "is required")
            elif not check.is_unrendered_template(content) and not isinstance(content, str):
                check.add(f"{path}.content", "must be a string")

    def quota_tokens(self, config: dict) -> int:
        if "messages" in config and isinstance(config["messages"], list):
            texts = [str(m.get("content", "")) for m in config["messages"] if isinstance(m, dict)]
        else:
            texts = [str(config.get("prompt", ""))]
        prompt = -(-sum(len(text) for text in texts) // CHARS_PER_TOKEN)
        completion = config.get("max_tokens")
        if isinstance(completion, bool) or not isinstance(completion, int):
            completion = COMPLETION_TOKENS_ESTIMATE
        return prompt + completion

    def run(self, *, config: dict, timeout: float) -> dict:
        self.check_rendered(config)
        base_url = settings.LLM_API_BASE_URL.rstrip("/")
        if not base_url.startswith(("https://", "http://")):
            raise StepError("LLM_API_BASE_URL is not an http(s) URL: the operator must configure it")
        model = str(config.get("model") or settings.LLM_DEFAULT_MODEL)
        messages = config["messages"] if "messages" in config else [{"role": "user", "content": config["prompt"]}]
        payload = {"model": model, "messages": messages}
        for key in ("temperature", "max_tokens"):
            if key in config:
                payload[key] = config[key]
        headers = {"Content-Type": "application/json", "Accept": "application/json"}
        api_key = settings.LLM_API_KEY
        if api_key:  # local OpenAI-compatible servers may need none
            headers["Authorization"] = f"Bearer {api_key}"

        response, body = self._post(f"{base_url}/chat/completions", payload, headers, timeout)
        status = response.status_code
        if status == 429 or status >= 500:
            raise StepError(
                f"LLM provider answered HTTP {status}: {_provider_message(body)}",
                retryable=True,
                retry_after_seconds=retry_after_seconds(response),
            )
        if status != 200:
            raise StepError(f"LLM provider answered HTTP {status}: {_provider_message(body)}")
        return self._output(body, model)

    @staticmethod
    def _post(url: str, payload: dict, headers: dict, timeout: float) -> tuple[httpx.Response, bytes]:
        max_bytes = settings.WORKFLOW_HTTP_MAX_RESPONSE_BYTES
        try:
            with (
                httpx.Client(timeout=httpx.Timeout(timeout), follow_redirects=False) as client,
                client.stream("POST", url, json=payload, headers=headers) as response,
            ):
                body = read_capped(
                    response, max_bytes, too_large=f"the LLM provider's response is larger than {max_bytes} bytes"
                )
        except httpx.TimeoutException:
            raise StepError(f"the LLM provider did not answer within {timeout:g}s", retryable=True) from None
        except httpx.HTTPError as exc:
            # The exception text names the URL at most; scrub anyway, and never chain it (no key in tracebacks).
            raise StepError(
                f"could not reach the LLM provider: {_scrub(str(exc)) or type(exc).__name__}", retryable=True
            ) from None
        return response, body

    @staticmethod
    def _output(body: bytes, requested_model: str) -> dict:
        try:
            data = json.loads(body)
            message = data["choices"][0]["message"]
            content = message.get("content")
        except (ValueError, KeyError, IndexError, TypeError, AttributeError):
            raise StepError("malformed response from the LLM provider: no choices[0].message") from None
        if content is None:
            content = ""
        elif isinstance(content, list):  # some compatible servers answer with content parts
            content = "".join(part.get("text", "") for part in content if isinstance(part, dict))
        elif not isinstance(content, str):
            raise StepError("malformed response from the LLM provider: message content is not text")
        usage = data.get("usage") or {}
        if not isinstance(usage, dict):
            raise StepError("malformed response from the LLM provider: usage is not an object")
        prompt_tokens = _usage_count(usage, "prompt_tokens")
        completion_tokens = _usage_count(usage, "completion_tokens")
        total_tokens = usage.get("total_tokens", prompt_tokens + completion_tokens)
        if isinstance(total_tokens, bool) or not isinstance(total_tokens, int):
            total_tokens = prompt_tokens + completion_tokens
        record_llm_tokens(prompt_tokens=prompt_tokens, completion_tokens=completion_tokens)
        model = data.get("model") if isinstance(data.get("model"), str) else requested_model
        return {
            "text": content,
            "model": model,
            "usage": {
                "prompt_tokens": prompt_tokens,
                "completion_tokens": completion_tokens,
                "total_tokens": total_tokens,
            },
        }


step_type = LlmStep()
