import copy

import pytest
from jsonschema import Draft202012Validator

from workflows.definition import DefinitionError, step_levels, validate_definition
from workflows.definition_schema import DEFINITION_SCHEMA, MAX_STEPS, MESSAGES
from workflows.steps import REGISTRY

EXAMPLE = {
    "steps": [
        {"id": "greet", "type": "transform", "config": {"value": {"message": "Hello {{ input.name }}"}}},
        {
            "id": "fetch",
            "type": "http",
            "depends_on": ["greet"],
            "config": {
                "method": "POST",
                "url": "{{ input.callback }}",
                "json": {"text": "{{ steps.greet.output.message }}"},
            },
            "retry": {"max_attempts": 3, "backoff_seconds": 1},
            "timeout_seconds": 10,
        },
        {
            "id": "ask",
            "type": "llm",
            "depends_on": ["fetch"],
            "config": {
                "model": "gpt-4o-mini",
                "messages": [{"role": "user", "content": "Summarise: {{ steps.fetch.output.json }}"}],
            },
        },
    ],
    "output": {"greeting": "{{ steps.greet.output.message }}", "answer": "{{ steps.ask.output.text }}"},
}


def transform(step_id, *, value=1, **extra):
    return {"id": step_id, "type": "transform", "config": {"value": value}, **extra}


def errors_of(definition) -> dict[str, list[str]]:
    with pytest.raises(DefinitionError) as failure:
        validate_definition(definition)
    return failure.value.errors


def test_issue_example_is_valid():
    assert validate_definition(copy.deepcopy(EXAMPLE)) is None


def test_definition_must_be_an_object():
    assert errors_of(["steps"]) == {"$": ["must be an object with a 'steps' list"]}


def test_steps_are_required():
    assert errors_of({"output": 1}) == {"steps": ["is required"]}


def test_steps_must_not_be_empty():
    assert errors_of({"steps": []}) == {"steps": ["must contain at least one step"]}


def test_more_than_fifty_steps_are_rejected():
    steps = [transform(f"s{index}") for index in range(MAX_STEPS + 1)]
    assert errors_of({"steps": steps}) == {"steps": ["at most 50 steps are allowed (got 51)"]}


def test_unknown_top_level_key_is_rejected():
    assert errors_of({"steps": [transform("a")], "name": "x"}) == {"name": ["unknown key; allowed: output, steps"]}


def test_step_must_be_an_object():
    assert errors_of({"steps": [transform("a"), "b"]}) == {"steps[1]": ["must be an object"]}


def test_unknown_step_type_is_reported_at_its_path():
    definition = {"steps": [transform("a"), {"id": "b", "type": "shell", "config": {}}]}
    assert errors_of(definition) == {"steps[1].type": ["unknown step type 'shell'; known: http, llm, transform"]}


def test_duplicate_id_is_reported_on_the_second_step():
    assert errors_of({"steps": [transform("a"), transform("a")]}) == {
        "steps[1].id": ["duplicate id 'a' (also steps[0])"]
    }


def test_missing_id_is_reported():
    assert errors_of({"steps": [{"type": "transform", "config": {"value": 1}}]}) == {"steps[0].id": ["is required"]}


def test_id_with_invalid_characters_is_rejected():
    assert list(errors_of({"steps": [transform("has space")]})) == ["steps[0].id"]


def test_missing_config_is_reported():
    assert errors_of({"steps": [{"id": "a", "type": "transform"}]}) == {"steps[0].config": ["is required"]}


def test_unknown_step_key_is_rejected():
    assert list(errors_of({"steps": [transform("a", when="always")]})) == ["steps[0].when"]


def test_unknown_dependency_is_reported_at_its_path():
    definition = {"steps": [transform("a"), transform("b", depends_on=["a", "ghost"])]}
    assert errors_of(definition) == {"steps[1].depends_on[1]": ["unknown step 'ghost'"]}


def test_self_dependency_is_rejected():
    assert errors_of({"steps": [transform("a", depends_on=["a"])]}) == {
        "steps[0].depends_on[0]": ["a step cannot depend on itself"]
    }


def test_dependency_cycle_names_its_steps():
    definition = {
        "steps": [
            transform("a", depends_on=["c"]),
            transform("b", depends_on=["a"]),
            transform("c", depends_on=["b"]),
            transform("d"),
        ]
    }
    assert errors_of(definition) == {"steps[0].depends_on": ["dependency cycle: a -> c -> b -> a"]}


def test_bad_config_is_reported_under_the_step():
    definition = {"steps": [{"id": "call", "type": "http", "config": {"url": "ftp://example.com"}}]}
    assert errors_of(definition) == {"steps[0].config.url": ["must be an http or https URL"]}


def test_template_syntax_error_in_config_is_reported_at_its_path():
    definition = {"steps": [transform("a", value={"list": ["ok", "{{ input.name }"]})]}
    assert errors_of(definition) == {
        "steps[0].config.value.list[1]": ["template syntax error: unexpected '}' (line 1)"]
    }


def test_template_syntax_error_in_output_is_reported_at_its_path():
    definition = {"steps": [transform("a")], "output": {"answer": "{% if %}"}}
    assert list(errors_of(definition)) == ["output.answer"]


def test_retry_attempts_above_ten_are_rejected():
    definition = {"steps": [transform("a", retry={"max_attempts": 11, "backoff_seconds": 1})]}
    assert errors_of(definition) == {"steps[0].retry.max_attempts": ["must be between 1 and 10"]}


def test_retry_needs_both_settings():
    definition = {"steps": [transform("a", retry={"max_attempts": 2})]}
    assert errors_of(definition) == {"steps[0].retry.backoff_seconds": ["is required"]}


def test_timeout_outside_range_is_rejected():
    definition = {"steps": [transform("a", timeout_seconds=301)]}
    assert errors_of(definition) == {"steps[0].timeout_seconds": ["must be between 1 and 300"]}


def test_boolean_timeout_is_rejected():
    definition = {"steps": [transform("a", timeout_seconds=True)]}
    assert errors_of(definition) == {"steps[0].timeout_seconds": ["must be a number"]}


def test_reference_to_a_step_that_is_not_a_dependency_is_rejected():
    definition = {"steps": [transform("a"), transform("b", value="{{ steps.a.output }}")]}
    assert list(errors_of(definition)) == ["steps[1].config.value"]


def test_reference_to_a_transitive_dependency_is_accepted():
    definition = {
        "steps": [
            transform("a"),
            transform("b", depends_on=["a"]),
            transform("c", depends_on=["b"], value="{{ steps['a'].output }}"),
        ]
    }
    assert validate_definition(definition) is None


def test_output_reference_to_an_unknown_step_is_rejected():
    definition = {"steps": [transform("a")], "output": "{{ steps.b.output }}"}
    assert errors_of(definition) == {"output": ["steps.b refers to an unknown step"]}


def test_unknown_template_variable_is_rejected():
    definition = {"steps": [transform("a", value="{{ env.key }}")]}
    assert errors_of(definition) == {
        "steps[0].config.value": ["unknown variable 'env'; available: input, steps, execution, project, secrets"]
    }


def test_every_problem_is_reported_at_once():
    definition = {"steps": [transform("a", depends_on=["ghost"]), {"id": "b", "type": "shell", "config": {}}]}
    assert set(errors_of(definition)) == {"steps[0].depends_on[0]", "steps[1].type"}


def test_step_levels_group_steps_by_dependency_depth():
    definition = {
        "steps": [
            transform("d", depends_on=["b", "c"]),
            transform("c", depends_on=["a"]),
            transform("b", depends_on=["a"]),
            transform("a"),
        ]
    }
    levels = step_levels(definition)
    assert [[step["id"] for step in level] for level in levels] == [["a"], ["c", "b"], ["d"]]


def test_step_levels_of_the_issue_example_are_sequential():
    assert [[step["id"] for step in level] for level in step_levels(EXAMPLE)] == [["greet"], ["fetch"], ["ask"]]


def depending(**depends_on) -> dict:
    """Transform steps named and ordered as the keywords, each depending on the listed steps."""
    return {"steps": [transform(step_id, depends_on=dependencies) for step_id, dependencies in depends_on.items()]}


def test_each_separate_dependency_cycle_is_reported():
    assert errors_of(depending(a=["b"], b=["a"], c=["d"], d=["c"])) == {
        "steps[0].depends_on": ["dependency cycle: a -> b -> a"],
        "steps[2].depends_on": ["dependency cycle: c -> d -> c"],
    }


def test_dependency_cycle_is_named_from_the_step_defined_first():
    assert errors_of(depending(start=["b"], a=["b"], b=["a"])) == {
        "steps[1].depends_on": ["dependency cycle: a -> b -> a"]
    }


def test_step_levels_refuse_a_cycle():
    with pytest.raises(ValueError, match="dependency cycle"):
        step_levels(depending(a=["b"], b=["a"]))


def test_schema_is_a_valid_draft_2020_12_schema():
    Draft202012Validator.check_schema(DEFINITION_SCHEMA)


def _subschemas(schema):
    yield schema
    for child in [*schema.get("properties", {}).values(), *([schema["items"]] if "items" in schema else [])]:
        yield from _subschemas(child)


def test_every_constraint_of_the_schema_has_its_message():
    constraints = {"type", "enum", "pattern", "minimum", "maximum", "minItems", "maxItems"}
    missing = [
        (sorted(schema), keyword)
        for schema in _subschemas(DEFINITION_SCHEMA)
        for keyword in constraints & set(schema)
        if keyword not in schema[MESSAGES]
    ]
    assert missing == []


def test_schema_knows_every_registered_step_type():
    assert DEFINITION_SCHEMA["properties"]["steps"]["items"]["properties"]["type"]["enum"] == sorted(REGISTRY)


def test_errors_are_reported_step_by_step_then_dependencies_then_templates():
    definition = {
        "name": 1,
        "steps": [
            {
                "id": "a",
                "type": "http",
                "config": {"url": "ftp://x"},
                "retry": {"max_attempts": 0, "backoff_seconds": 1},
                "depends_on": ["ghost"],
            },
            {"when": 1, "id": "b", "type": "shell", "config": {}, "timeout_seconds": 0},
            transform("a", value="{{ steps.b.output }}", depends_on=[5]),
        ],
    }
    assert list(errors_of(definition)) == [
        "name",
        "steps[0].config.url",
        "steps[0].retry.max_attempts",
        "steps[1].when",
        "steps[1].type",
        "steps[1].timeout_seconds",
        "steps[2].id",
        "steps[0].depends_on[0]",
        "steps[2].depends_on[0]",
        "steps[2].config.value",
    ]


def test_oversized_definition_reports_the_list_and_not_its_steps():
    definition = {"name": 1, "steps": [{"id": "has space"}] * (MAX_STEPS + 1)}
    assert errors_of(definition) == {
        "name": ["unknown key; allowed: output, steps"],
        "steps": ["at most 50 steps are allowed (got 51)"],
    }


@pytest.mark.parametrize(
    ("retry", "errors"),
    [
        ("twice", {"steps[0].retry": ["must be an object with max_attempts and backoff_seconds"]}),
        ({}, {"steps[0].retry.max_attempts": ["is required"], "steps[0].retry.backoff_seconds": ["is required"]}),
        ({"max_attempts": 2.0, "backoff_seconds": 1}, {"steps[0].retry.max_attempts": ["must be an integer"]}),
        (
            {"max_attempts": 2, "backoff_seconds": float("nan")},
            {"steps[0].retry.backoff_seconds": ["must be a number"]},
        ),
        (
            {"max_attempts": 2, "backoff_seconds": 1, "jitter": 1},
            {"steps[0].retry.jitter": ["unknown key; allowed: backoff_seconds, max_attempts"]},
        ),
    ],
)
def test_retry_problems_are_reported_at_their_paths(retry, errors):
    assert errors_of({"steps": [transform("a", retry=retry)]}) == errors


def test_huge_integer_timeout_is_out_of_range():
    definition = {"steps": [transform("a", timeout_seconds=10**400)]}
    assert errors_of(definition) == {"steps[0].timeout_seconds": ["must be between 1 and 300"]}


def test_dependencies_that_are_not_a_list_of_strings_are_rejected():
    assert errors_of({"steps": [transform("a", depends_on="b"), transform("b", depends_on=[1])]}) == {
        "steps[0].depends_on": ["must be a list of step ids"],
        "steps[1].depends_on[0]": ["must be a step id (string)"],
    }


def test_config_that_is_not_an_object_is_rejected_whatever_the_step_type():
    assert errors_of({"steps": [transform("a"), {"id": "b", "type": "shell", "config": []}]}) == {
        "steps[1].type": ["unknown step type 'shell'; known: http, llm, transform"],
        "steps[1].config": ["must be an object"],
    }
