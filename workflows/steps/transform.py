"""transform: its output is its rendered ``config.value`` (reshape data between steps)."""

from workflows.steps.base import ConfigErrors, StepType


class TransformStep(StepType):
    """Returns ``config.value`` as rendered by the runner."""

    name = "transform"
    pure = True
    output_key = "value"
    default_retry = {"max_attempts": 1, "backoff_seconds": 0.0}

    def config_errors(self, config: dict, *, rendered: bool) -> dict[str, list[str]]:
        check = ConfigErrors(config, rendered=rendered)
        check.unknown_keys({"value"})
        if "value" not in config:
            check.add("config.value", "is required")
        return check.errors

    def run(self, *, config: dict, timeout: float):
        self.check_rendered(config)
        return config["value"]


step_type = TransformStep()
