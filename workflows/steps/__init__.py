"""The registry of step types. A new type is one module here (exposing ``step_type``), its tests, and one line below."""

from workflows.steps import http, llm, transform
from workflows.steps.base import StepError, StepType

REGISTRY: dict[str, StepType] = {
    module.step_type.name: module.step_type
    for module in (
        http,
        llm,
        transform,
    )
}


def get_step_type(name: str) -> StepType:
    """The step type registered under ``name``; KeyError when there is none."""
    return REGISTRY[name]


__all__ = ["REGISTRY", "StepError", "StepType", "get_step_type"]
