"""The contract every step type implements, and small helpers for validating step configs."""

import math

from workflows.templating import is_template


class StepError(Exception):
    """A step failed; the message is safe to store and show (it never contains secrets).

    ``retry_after_seconds`` is the provider's hint (Retry-After) when it gave one; the runner may honour it.
    """

    def __init__(self, message: str, *, retryable: bool = False, retry_after_seconds: float | None = None):
        super().__init__(message)
        self.message = message
        self.retryable = retryable
        self.retry_after_seconds = retry_after_seconds


class StepType:
    """A kind of step: validates its (unrendered) config at definition time and runs its rendered config."""

    name: str = ""
    default_retry: dict = {"max_attempts": 1, "backoff_seconds": 0.0}
    # A pure step has no side effect outside its output and returns at once: the runner runs it inline and writes
    # its record with the next durable point (a crash before it only means running it again).
    pure: bool = False
    # A pure step whose output is this key of its rendered config (transform: "value"): the runner renders a
    # chain of such steps, and the workflow's output after them, in one renderer round trip.
    output_key: str | None = None

    def validate_config(self, config) -> dict[str, list[str]]:
        """Problems in a config as written in the definition (template strings are accepted where values go).

        Paths are relative to the step: ``config.url``.
        """
        if not isinstance(config, dict):
            return {"config": ["must be an object"]}
        return self.config_errors(config, rendered=False)

    def config_errors(self, config: dict, *, rendered: bool) -> dict[str, list[str]]:
        """Problems in a config; with ``rendered=False`` a template string stands for any value."""
        return {}

    def check_rendered(self, config) -> None:
        """Raise a (non-retryable) StepError when a rendered config is invalid, e.g. a template gave a wrong type."""
        errors = (
            {"config": ["must be an object"]}
            if not isinstance(config, dict)
            else self.config_errors(config, rendered=True)
        )
        if errors:
            details = "; ".join(f"{path}: {', '.join(messages)}" for path, messages in errors.items())
            raise StepError(f"invalid config after rendering: {details}")

    def quota_tokens(self, config: dict) -> int:
        """LLM tokens a run of this rendered config may use, reserved from the project's daily quota by the runner
        before it runs (0: the step uses none)."""
        return 0

    def run(self, *, config: dict, timeout: float) -> dict:
        """Execute the step with an already rendered config; return JSON-serialisable output or raise StepError."""
        raise NotImplementedError


class ConfigErrors:
    """Collects config problems by path, skipping checks on values that are still templates."""

    def __init__(self, config: dict, *, rendered: bool):
        self.config = config
        self.rendered = rendered
        self.errors: dict[str, list[str]] = {}

    def add(self, path: str, message: str) -> None:
        self.errors.setdefault(path, []).append(message)

    def is_unrendered_template(self, value) -> bool:
        """A template string whose value only rendering will know: True at definition time only, never once rendered."""
        return not self.rendered and is_template(value)

    def unknown_keys(self, allowed: set[str]) -> None:
        for key in self.config:
            if key not in allowed:
                self.add(f"config.{key}", f"unknown key; allowed: {', '.join(sorted(allowed))}")

    def string(self, key: str, *, required: bool = False, choices: tuple[str, ...] | None = None) -> None:
        if key not in self.config:
            if required:
                self.add(f"config.{key}", "is required")
            return
        value = self.config[key]
        if self.is_unrendered_template(value):
            return
        if not isinstance(value, str):
            self.add(f"config.{key}", "must be a string")
        elif choices is not None and value not in choices:
            self.add(f"config.{key}", f"must be one of {', '.join(choices)}")

    def number(self, key: str, *, minimum: float, maximum: float, integer: bool = False) -> None:
        if key not in self.config:
            return
        value = self.config[key]
        if self.is_unrendered_template(value):
            return
        kinds = int if integer else int | float
        if (
            isinstance(value, bool)
            or not isinstance(value, kinds)
            or (isinstance(value, float) and not math.isfinite(value))
        ):
            self.add(f"config.{key}", "must be an integer" if integer else "must be a number")
        elif not minimum <= value <= maximum:
            self.add(f"config.{key}", f"must be between {minimum:g} and {maximum:g}")

    def string_map(self, key: str, *, value_kinds: tuple[type, ...] = (str,), kinds_label: str = "strings") -> None:
        if key not in self.config:
            return
        value = self.config[key]
        if self.is_unrendered_template(value):
            return
        if not isinstance(value, dict):
            self.add(f"config.{key}", f"must be an object of {kinds_label}")
            return
        for name, item in value.items():
            if self.is_unrendered_template(item):
                continue
            if isinstance(item, bool) or not isinstance(item, value_kinds):
                self.add(f"config.{key}.{name}", f"must be one of: {kinds_label}")
