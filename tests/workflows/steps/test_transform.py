import pytest

from workflows.steps import REGISTRY, get_step_type
from workflows.steps.base import StepError

transform = get_step_type("transform")


def test_registry_holds_the_three_step_types():
    assert sorted(REGISTRY) == ["http", "llm", "transform"]


def test_unknown_step_type_raises_key_error():
    with pytest.raises(KeyError):
        get_step_type("shell")


def test_run_returns_the_rendered_value():
    assert transform.run(config={"value": {"message": "Hello Ann", "n": [1, 2]}}, timeout=1) == {
        "message": "Hello Ann",
        "n": [1, 2],
    }


def test_value_may_be_any_json_value():
    assert transform.run(config={"value": None}, timeout=1) is None


def test_missing_value_is_a_config_error():
    assert transform.validate_config({}) == {"config.value": ["is required"]}


def test_unknown_config_key_is_a_config_error():
    assert transform.validate_config({"value": 1, "extra": 2}) == {"config.extra": ["unknown key; allowed: value"]}


def test_config_must_be_an_object():
    assert transform.validate_config(["value"]) == {"config": ["must be an object"]}


def test_rendered_config_without_value_fails_the_step():
    with pytest.raises(StepError, match="config.value: is required"):
        transform.run(config={}, timeout=1)


def test_transform_is_not_retried_by_default():
    assert transform.default_retry == {"max_attempts": 1, "backoff_seconds": 0.0}
